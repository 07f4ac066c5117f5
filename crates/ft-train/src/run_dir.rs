//! The output directory of a run, handled so that no user file is ever lost: a new run appears under
//! its name only with its `run.toml` in it; `--overwrite` moves the previous run aside and deletes it
//! only when the new one has finished (a failure puts it back); a directory that is not an ft run, the
//! working directory or anything holding an input is never replaced; an advisory lock keeps two
//! processes out of one run; files are written atomically with the umask's permissions.

use crate::TrainError;
use crate::atomic::{temp_builder, write_atomically};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The run's `run.toml`.
pub const RUN_TOML: &str = "run.toml";
/// The advisory lock held for the whole run (released by the OS when the process dies, so a crash
/// leaves no stale lock behind).
pub const LOCK_FILE: &str = ".ft-lock";
/// Names the previous run moved aside by `--overwrite`, until the new one finishes.
const REPLACES_FILE: &str = ".ft-replaces";

fn err(path: &Path, what: impl std::fmt::Display) -> TrainError {
    TrainError::Output(format!("{}: {what}", path.display()))
}

/// How the run uses its output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// A new run; `overwrite` allows replacing an earlier ft run in the same place.
    New {
        /// Replace an earlier ft run.
        overwrite: bool,
    },
    /// Continue the run already there.
    Resume,
}

/// An output directory in use by this process (locked until dropped).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: File,
    /// Lock on the previous run while it sits aside.
    _aside_lock: Option<File>,
    aside: Option<PathBuf>,
    /// This run made the directory (it did not exist before).
    created: bool,
    /// The directory existed, empty, before this run.
    was_empty: bool,
}

/// Whether `inner` is `outer` or lies inside it (both made absolute, symlinks resolved where they exist).
fn is_within(inner: &Path, outer: &Path) -> bool {
    let norm = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
    };
    norm(inner).starts_with(norm(outer))
}

fn is_empty_dir(path: &Path) -> Result<bool, TrainError> {
    Ok(std::fs::read_dir(path).map_err(|e| err(path, e))?.next().is_none())
}

fn lock(dir: &Path) -> Result<File, TrainError> {
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| err(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
            return Err(err(
                dir,
                format!(
                    "in use by another ft run ({who} holds {LOCK_FILE}); wait for it to finish, stop it, or choose another --output"
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(err(&path, e)),
    }
    file.set_len(0).and_then(|_| write!(file, "{}", std::process::id())).map_err(|e| err(&path, e))?;
    Ok(file)
}

/// Staging directories of processes that died before their run appeared (their lock is free).
fn remove_stale_staging(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let lock_path = e.path().join(LOCK_FILE);
        let free = match std::fs::OpenOptions::new().write(true).open(&lock_path) {
            Ok(f) => f.try_lock().is_ok(),
            // Killed before the lock file was made: only run.toml (or nothing) inside.
            Err(_) => true,
        };
        if free {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn sibling(path: &Path, tag: &str) -> Result<(PathBuf, String), TrainError> {
    let abs = std::path::absolute(path).map_err(|e| err(path, e))?;
    let parent = abs.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    Ok((parent, format!(".{name}.{tag}-")))
}

impl RunDir {
    /// Takes `out` for a run: checks it may be used (see the module doc), locks it and, for a new run,
    /// makes it appear with `run_toml` already inside. `inputs` are the run's input files and model
    /// directory, which `out` must not hold. Nothing is created or moved before every check passed.
    pub fn open(out: &Path, mode: OutputMode, run_toml: &str, inputs: &[&Path]) -> Result<RunDir, TrainError> {
        if out.as_os_str().is_empty() {
            return Err(TrainError::Output("--output is empty; name a directory".into()));
        }
        if out.exists() && !out.is_dir() {
            return Err(err(out, "exists and is not a directory; choose another --output"));
        }
        match mode {
            OutputMode::Resume => Self::open_resume(out),
            OutputMode::New { overwrite } => {
                if !out.exists() {
                    return Self::create(out, run_toml);
                }
                if is_empty_dir(out)? {
                    let lock = lock(out)?;
                    write_atomically(&out.join(RUN_TOML), run_toml.as_bytes())?;
                    return Ok(RunDir {
                        path: out.to_path_buf(),
                        _lock: lock,
                        _aside_lock: None,
                        aside: None,
                        created: false,
                        was_empty: true,
                    });
                }
                if !overwrite {
                    return Err(err(
                        out,
                        format!(
                            "already exists and is not empty; choose another --output, pass --overwrite to replace it, or --resume {} to continue that run",
                            out.display()
                        ),
                    ));
                }
                Self::check_replaceable(out, inputs)?;
                Self::replace(out, run_toml)
            }
        }
    }

    fn check_replaceable(out: &Path, inputs: &[&Path]) -> Result<(), TrainError> {
        if let Ok(cwd) = std::env::current_dir()
            && is_within(&cwd, out)
        {
            return Err(err(
                out,
                "is the working directory (or holds it); --overwrite never replaces it — choose another --output",
            ));
        }
        for input in inputs {
            if input.exists() && is_within(input, out) {
                return Err(err(
                    out,
                    format!(
                        "holds an input of this run ({}); --overwrite would delete it — choose another --output",
                        input.display()
                    ),
                ));
            }
        }
        if !out.join(RUN_TOML).is_file() {
            return Err(err(
                out,
                "is not empty and is not an ft run (no run.toml); --overwrite only replaces earlier ft runs — choose another --output, or empty it yourself",
            ));
        }
        Ok(())
    }

    /// A new directory, built as a hidden sibling and renamed into place with its run.toml.
    fn create(out: &Path, run_toml: &str) -> Result<RunDir, TrainError> {
        let (parent, prefix) = sibling(out, "ft-new")?;
        std::fs::create_dir_all(&parent).map_err(|e| err(&parent, e))?;
        remove_stale_staging(&parent, &prefix);
        let staging = temp_builder(&prefix, 0o777).tempdir_in(&parent).map_err(|e| err(&parent, e))?;
        let lock = lock(staging.path())?;
        write_atomically(&staging.path().join(RUN_TOML), run_toml.as_bytes())?;
        let staging = staging.keep();
        if let Err(e) = std::fs::rename(&staging, out) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(err(out, e));
        }
        Ok(RunDir {
            path: out.to_path_buf(),
            _lock: lock,
            _aside_lock: None,
            aside: None,
            created: true,
            was_empty: false,
        })
    }

    /// `--overwrite` of an earlier run: the old run is locked and moved aside, the new one takes its
    /// name; the old one is deleted by [`RunDir::finish`] or put back by [`RunDir::abandon`].
    fn replace(out: &Path, run_toml: &str) -> Result<RunDir, TrainError> {
        let old_lock = lock(out)?;
        let (parent, prefix) = sibling(out, "ft-old")?;
        let aside = temp_builder(&prefix, 0o777).tempdir_in(&parent).map_err(|e| err(&parent, e))?.keep();
        // `aside` is an empty placeholder that reserves the name; rename replaces it.
        std::fs::rename(out, &aside).map_err(|e| {
            let _ = std::fs::remove_dir(&aside);
            err(out, e)
        })?;
        match Self::create(out, run_toml) {
            Ok(mut dir) => {
                let note = dir.path.join(REPLACES_FILE);
                let _ = write_atomically(&note, aside.display().to_string().as_bytes());
                dir.aside = Some(aside);
                dir._aside_lock = Some(old_lock);
                dir.created = false;
                Ok(dir)
            }
            Err(e) => match std::fs::rename(&aside, out) {
                Ok(()) => Err(e),
                // Something else took the name meanwhile: the previous run stays where it is, said.
                Err(_) => Err(TrainError::Output(format!("{e}; the previous run is kept in {}", aside.display()))),
            },
        }
    }

    fn open_resume(out: &Path) -> Result<RunDir, TrainError> {
        if !out.exists() {
            return Err(err(
                out,
                "no such directory; nothing to resume — start the run with --output instead of --resume",
            ));
        }
        if !out.join(RUN_TOML).is_file() {
            return Err(err(
                out,
                "not an ft run directory (no run.toml); pass the --output of an earlier `ft train` to --resume",
            ));
        }
        let lock = lock(out)?;
        // Leftovers of a process killed while writing: never complete, never read.
        let ckpts = out.join("checkpoints");
        if let Ok(entries) = std::fs::read_dir(&ckpts) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".partial-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        for e in std::fs::read_dir(out).map_err(|e| err(out, e))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".model-staging" || name.starts_with(".ft-write-") || name.starts_with(".ft-save-") {
                let _ =
                    if e.path().is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
            }
        }
        let aside = std::fs::read_to_string(out.join(REPLACES_FILE)).ok().map(|s| PathBuf::from(s.trim()));
        Ok(RunDir { path: out.to_path_buf(), _lock: lock, _aside_lock: None, aside, created: false, was_empty: false })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where `--overwrite` moved the previous run, while this one has not finished.
    pub fn previous_run(&self) -> Option<&Path> {
        self.aside.as_deref()
    }

    /// The run finished: the previous run (if `--overwrite` moved one aside) is deleted.
    pub fn finish(self) -> Result<(), TrainError> {
        if let Some(aside) = &self.aside {
            if aside.exists() {
                std::fs::remove_dir_all(aside).map_err(|e| err(aside, e))?;
            }
            let _ = std::fs::remove_file(self.path.join(REPLACES_FILE));
        }
        Ok(())
    }

    /// The run failed: the previous run is put back in its place; a directory this run created with
    /// no checkpoint in it is removed (nothing to resume, and it would block the rerun). Returns what
    /// was done, for the user.
    pub fn abandon(self) -> Option<String> {
        if let Some(aside) = &self.aside
            && aside.exists()
        {
            let failed = self.path.with_file_name(format!(
                ".{}.ft-failed-{}",
                self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                std::process::id()
            ));
            if std::fs::rename(&self.path, &failed).is_ok() && std::fs::rename(aside, &self.path).is_ok() {
                let _ = std::fs::remove_dir_all(&failed);
                let _ = std::fs::remove_file(self.path.join(REPLACES_FILE));
                return Some(format!("the previous run is back in {}", self.path.display()));
            }
            return Some(format!("the previous run is kept in {}", aside.display()));
        }
        let has_checkpoint = crate::checkpoint::list_checkpoints(&self.path.join("checkpoints")).pop().is_some();
        if self.created && !has_checkpoint {
            let _ = std::fs::remove_dir_all(&self.path);
            return Some(format!("removed {} (no checkpoint had been written)", self.path.display()));
        }
        if self.was_empty && !has_checkpoint {
            // The directory was there, empty, before: empty it again, keep it.
            if let Ok(entries) = std::fs::read_dir(&self.path) {
                for e in entries.flatten().filter(|e| e.file_name() != LOCK_FILE) {
                    let _ = if e.path().is_dir() {
                        std::fs::remove_dir_all(e.path())
                    } else {
                        std::fs::remove_file(e.path())
                    };
                }
                let _ = std::fs::remove_file(self.path.join(LOCK_FILE));
            }
            return Some(format!("emptied {} again (no checkpoint had been written)", self.path.display()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path) {
        std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
        std::fs::write(dir.join(RUN_TOML), "old = true").unwrap();
        std::fs::write(dir.join("model.safetensors"), "old weights").unwrap();
    }

    #[test]
    fn a_new_run_appears_with_its_run_toml_and_is_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let dir = RunDir::open(&out, OutputMode::New { overwrite: false }, "x = 1", &[]).unwrap();
        assert_eq!(std::fs::read_to_string(out.join(RUN_TOML)).unwrap(), "x = 1");
        let e = RunDir::open(&out, OutputMode::Resume, "", &[]).unwrap_err().to_string();
        assert!(e.contains("in use by another ft run") && e.contains(&std::process::id().to_string()), "{e}");
        drop(dir);
        RunDir::open(&out, OutputMode::Resume, "", &[]).unwrap();
        // Only the run itself in the parent: no staging left behind.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn overwrite_keeps_the_previous_run_until_the_new_one_finishes_and_restores_it_on_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        run(&out);
        let dir = RunDir::open(&out, OutputMode::New { overwrite: true }, "new = 1", &[]).unwrap();
        let aside = dir.previous_run().unwrap().to_path_buf();
        assert_eq!(std::fs::read_to_string(aside.join("model.safetensors")).unwrap(), "old weights");
        assert!(!out.join("model.safetensors").exists());
        dir.abandon();
        assert_eq!(std::fs::read_to_string(out.join("model.safetensors")).unwrap(), "old weights");
        assert!(!aside.exists());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing left beside the run");

        let dir = RunDir::open(&out, OutputMode::New { overwrite: true }, "new = 1", &[]).unwrap();
        let aside = dir.previous_run().unwrap().to_path_buf();
        dir.finish().unwrap();
        assert!(!aside.exists());
        assert_eq!(std::fs::read_to_string(out.join(RUN_TOML)).unwrap(), "new = 1");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn overwrite_refuses_what_is_not_an_ft_run_or_holds_an_input() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join("thesis.tex"), "precious").unwrap();
        let e = RunDir::open(&user, OutputMode::New { overwrite: true }, "", &[]).unwrap_err().to_string();
        assert!(e.contains("not an ft run"), "{e}");
        assert!(user.join("thesis.tex").is_file());

        let out = tmp.path().join("out");
        run(&out);
        std::fs::write(out.join("train.tsv"), "data").unwrap();
        let input = out.join("train.tsv");
        let e = RunDir::open(&out, OutputMode::New { overwrite: true }, "", &[&input]).unwrap_err().to_string();
        assert!(e.contains("holds an input"), "{e}");
        let e = RunDir::open(&out, OutputMode::New { overwrite: true }, "", &[&out]).unwrap_err().to_string();
        assert!(e.contains("holds an input"), "{e}");
        assert!(input.is_file());
        let e = RunDir::open(&out, OutputMode::New { overwrite: false }, "", &[]).unwrap_err().to_string();
        assert!(e.contains("--overwrite") && e.contains("--resume"), "{e}");
    }

    #[test]
    fn a_failed_new_run_without_checkpoints_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let dir = RunDir::open(&out, OutputMode::New { overwrite: false }, "x = 1", &[]).unwrap();
        assert!(dir.abandon().unwrap().contains("removed"));
        assert!(!out.exists());
    }

    #[test]
    fn resume_needs_a_run_and_cleans_partial_checkpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let e = RunDir::open(&missing, OutputMode::Resume, "", &[]).unwrap_err().to_string();
        assert!(e.contains("no such directory"), "{e}");
        let out = tmp.path().join("out");
        run(&out);
        std::fs::create_dir_all(out.join("checkpoints/.partial-abc")).unwrap();
        let _dir = RunDir::open(&out, OutputMode::Resume, "", &[]).unwrap();
        assert!(!out.join("checkpoints/.partial-abc").exists());
    }

    #[cfg(unix)]
    #[test]
    fn written_files_have_the_permissions_of_a_plain_create() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let plain = tmp.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        let atomic = tmp.path().join("atomic");
        write_atomically(&atomic, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
        let out = tmp.path().join("out");
        let _dir = RunDir::open(&out, OutputMode::New { overwrite: false }, "x = 1", &[]).unwrap();
        let plain_dir = tmp.path().join("plain_dir");
        std::fs::create_dir(&plain_dir).unwrap();
        assert_eq!(mode(&out), mode(&plain_dir));
    }
}
