//! The fault table of README ("Faults, and what ft does"): each test is one row or a few — a bad
//! input, a misuse or an interruption — and checks that ft says what is wrong, exits non-zero, and
//! loses no file of the user's (an earlier run, the working directory, the input model, the data).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn tiny() -> String {
    fixtures().join("tiny").to_str().unwrap().to_string()
}

fn ft_in(cwd: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).current_dir(cwd).output().expect("ft runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A small sentiment file the tiny vocabulary can read.
fn write_train(dir: &Path, rows: usize) -> PathBuf {
    let pos = ["good", "great", "fun", "love"];
    let neg = ["bad", "awful", "boring", "hate"];
    let mut text = String::from("text,label\n");
    for i in 0..rows {
        let (words, label) = if i % 2 == 0 { (pos, "positive") } else { (neg, "negative") };
        text.push_str(&format!("{} {} movie,{label}\n", words[i % 4], words[(i / 2 + i / 3) % 4]));
    }
    let path = dir.join("train.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `ft train` on the tiny model: 2 epochs of 40 rows (less the validation split) in batches of 8.
fn train_args(train: &Path, out: &Path) -> Vec<String> {
    strings(&[
        "train",
        "--model",
        &tiny(),
        "--train",
        train.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "2e-3",
        "--max-len",
        "32",
        "--reinit-head",
        "--seed",
        "3",
        "--save-every",
        "2",
    ])
}

/// `args` with `extra` applied: `--flag value` replaces the flag's value or is appended; a lone
/// `--flag` (followed by another flag or nothing) is appended.
fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    let mut i = 0;
    while i < extra.len() {
        let value = extra.get(i + 1).filter(|v| !v.starts_with("--"));
        match (args.iter().position(|a| a == extra[i]), value) {
            (Some(at), Some(v)) => args[at + 1] = v.to_string(),
            (None, Some(v)) => args.extend([extra[i].to_string(), v.to_string()]),
            (_, None) => args.push(extra[i].to_string()),
        }
        i += if value.is_some() { 2 } else { 1 };
    }
    args
}

fn assert_fails(o: &Output, expect: &str) -> String {
    let err = stderr(o);
    assert!(!o.status.success(), "should have failed: {err}");
    assert!(err.contains("error: ") && !err.contains("panicked"), "{err}");
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    err
}

/// A finished run in `dir/name`, and the bytes of its model.
fn finished_run(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let train = write_train(dir, 40);
    let out = dir.join(name);
    let o = ft_in(dir, &train_args(&train, &out));
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    (out, bytes)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn overwrite_that_fails_validation_keeps_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let (out, before) = finished_run(dir.path(), "run");
    let train = dir.path().join("train.csv");
    let o = ft_in(dir.path(), &with(train_args(&train, &out), &["--overwrite", "--freeze", "bottom:99"]));
    assert_fails(&o, "bottom:99");
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), before);
    assert_eq!(entries(dir.path()), ["run", "train.csv"], "nothing left beside the run");
}

#[test]
fn overwrite_that_fails_while_training_restores_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let (out, before) = finished_run(dir.path(), "run");
    let train = dir.path().join("train.csv");
    let args = with(train_args(&train, &out), &["--overwrite", "--lr", "1e30", "--max-grad-norm", "0"]);
    let o = ft_in(dir.path(), &args);
    let err = assert_fails(&o, "training stopped");
    assert!(err.contains("the previous run is back"), "{err}");
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), before);
    assert!(out.join("metrics.json").is_file() && out.join("run.toml").is_file());
    assert_eq!(entries(dir.path()), ["run", "train.csv"]);
}

#[test]
fn overwrite_replaces_an_earlier_run_only_when_the_new_one_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let train = dir.path().join("train.csv");
    let o = ft_in(dir.path(), &with(train_args(&train, &out), &["--overwrite", "--seed", "4"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("the previous run waits in"), "{}", stderr(&o));
    assert!(!out.join("notes.txt").exists(), "an ft run is replaced whole");
    assert_eq!(entries(dir.path()), ["run", "train.csv"]);
}

#[test]
fn overwrite_refuses_a_directory_that_is_not_an_ft_run() {
    let dir = tempfile::tempdir().unwrap();
    let train = write_train(dir.path(), 40);
    let user = dir.path().join("papers");
    std::fs::create_dir(&user).unwrap();
    std::fs::write(user.join("thesis.tex"), "years of work").unwrap();
    let o = ft_in(dir.path(), &with(train_args(&train, &user), &["--overwrite"]));
    assert_fails(&o, "not an ft run (no run.toml)");
    assert_eq!(std::fs::read_to_string(user.join("thesis.tex")).unwrap(), "years of work");
}

#[test]
fn overwrite_refuses_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = finished_run(dir.path(), "run");
    // Even an ft run is not replaced when it is where the user stands (their data is there).
    let cwd = dir.path().join("run");
    let train = write_train(&cwd, 40);
    let o = ft_in(&cwd, &with(train_args(&train, Path::new(".")), &["--overwrite"]));
    assert_fails(&o, "is the working directory");
    assert!(train.is_file() && cwd.join("model.safetensors").is_file());
}

#[test]
fn overwrite_refuses_a_directory_holding_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    // The model being fine-tuned is the output directory itself.
    let train = dir.path().join("train.csv");
    let mut args = with(train_args(&train, &out), &["--overwrite"]);
    let i = args.iter().position(|a| a == "--model").unwrap();
    args[i + 1] = out.to_str().unwrap().to_string();
    let o = ft_in(dir.path(), &args);
    assert_fails(&o, "holds an input of this run");
    assert!(out.join("model.safetensors").is_file());
    // The training file inside the output directory.
    let inner = write_train(&out, 40);
    let o = ft_in(dir.path(), &with(train_args(&inner, &out), &["--overwrite"]));
    assert_fails(&o, "holds an input of this run");
    assert!(inner.is_file());
}

#[test]
fn convert_in_place_keeps_the_runs_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let x = out.to_str().unwrap().to_string();
    let o = ft_in(dir.path(), &strings(&["convert", &x, &x, "--overwrite"]));
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["run.toml", "metrics.json", "log.jsonl", "checkpoints", "config.json", "model.safetensors"] {
        assert!(out.join(f).exists(), "{f} lost");
    }
    // A directory that is neither a model nor a run is not overwritten.
    let user = dir.path().join("user");
    std::fs::create_dir(&user).unwrap();
    std::fs::write(user.join("a.txt"), "x").unwrap();
    let o = ft_in(dir.path(), &strings(&["convert", &x, user.to_str().unwrap(), "--overwrite"]));
    assert_fails(&o, "not a model directory or an ft run");
    assert!(user.join("a.txt").is_file());
}

#[test]
fn a_locked_run_directory_refuses_a_second_run_and_a_stale_lock_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let train = dir.path().join("train.csv");
    // Another process holds the run's lock (as a running `ft train` does).
    let lock = std::fs::OpenOptions::new().write(true).open(out.join(".ft-lock")).unwrap();
    lock.lock().unwrap();
    let o = ft_in(dir.path(), &with(train_args(&train, &out), &["--overwrite"]));
    assert_fails(&o, "in use by another ft run");
    let o = ft_in(dir.path(), &strings(&["train", "--resume", out.to_str().unwrap()]));
    assert_fails(&o, "in use by another ft run");
    // The lock file of a process that died is no obstacle: the OS released its lock.
    drop(lock);
    let o = ft_in(dir.path(), &strings(&["train", "--resume", out.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_failed_new_run_leaves_nothing_that_blocks_the_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let train = write_train(dir.path(), 40);
    let out = dir.path().join("run");
    let args = with(train_args(&train, &out), &["--lr", "1e30", "--max-grad-norm", "0", "--save-every", "100"]);
    let o = ft_in(dir.path(), &args);
    let err = assert_fails(&o, "training stopped");
    assert!(err.contains("removed"), "{err}");
    assert!(!out.exists(), "debris left: {:?}", entries(&out));
    let o = ft_in(dir.path(), &train_args(&train, &out));
    assert!(o.status.success(), "{}", stderr(&o));
}

fn killed_after(dir: &Path, name: &str, step: usize) -> PathBuf {
    let train = dir.join("train.csv");
    let out = dir.join(name);
    let o = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(train_args(&train, &out))
        .env("FT_TEST_ABORT_AFTER_STEP", step.to_string())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    out
}

#[test]
fn a_moved_run_resumes_from_anywhere_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let (_, whole) = finished_run(dir.path(), "whole");
    let cut = killed_after(dir.path(), "cut", 4);
    let moved = dir.path().join("moved");
    std::fs::rename(&cut, &moved).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let o = ft_in(elsewhere.path(), &strings(&["train", "--resume", moved.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(moved.join("model.safetensors")).unwrap() == whole);
    let toml = std::fs::read_to_string(moved.join("run.toml")).unwrap();
    assert!(toml.contains(&format!("train = {:?}", dir.path().join("train.csv").to_str().unwrap())), "{toml}");
}

#[test]
fn resume_with_the_data_gone_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_train(dir.path(), 40);
    let cut = killed_after(dir.path(), "cut", 4);
    std::fs::rename(dir.path().join("train.csv"), dir.path().join("elsewhere.csv")).unwrap();
    let o = ft_in(dir.path(), &strings(&["train", "--resume", cut.to_str().unwrap()]));
    let err = assert_fails(&o, "train.csv: no such file");
    assert!(err.contains("--train FILE"), "{err}");
}

#[test]
fn resume_with_changed_settings_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    write_train(dir.path(), 40);
    let cut = killed_after(dir.path(), "cut", 4);
    let c = cut.to_str().unwrap();
    let o = ft_in(dir.path(), &strings(&["train", "--resume", c, "--batch-size", "4", "--lr", "1e-3"]));
    let err = assert_fails(&o, "training.batch_size: 8 → 4");
    assert!(err.contains("training.lr") && err.contains("--force"), "{err}");
    let o = ft_in(dir.path(), &strings(&["train", "--resume", c, "--freeze", "encoder"]));
    assert_fails(&o, "training.freeze");
    // Settings that do not change the result are fine.
    let o = ft_in(dir.path(), &strings(&["train", "--resume", c, "--keep-last", "3", "--lr", "1e-3", "--force"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: --force"), "{}", stderr(&o));
}

#[test]
fn resume_of_a_missing_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = ft_in(dir.path(), &strings(&["train", "--resume", "nope"]));
    assert_fails(&o, "nope: no such directory; nothing to resume");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let o = ft_in(dir.path(), &strings(&["train", "--resume", "empty"]));
    assert_fails(&o, "not an ft run directory");
}

#[test]
fn resume_cleans_partial_checkpoints_and_falls_back_from_a_corrupt_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, whole) = finished_run(dir.path(), "whole");
    let cut = killed_after(dir.path(), "cut", 6);
    let ckpts = cut.join("checkpoints");
    std::fs::create_dir(ckpts.join(".partial-x1y2")).unwrap();
    std::fs::write(ckpts.join(".partial-x1y2/model.bpk"), "half").unwrap();
    // The newest checkpoint is damaged (a disk error, say): the previous one is used, and said so.
    std::fs::write(ckpts.join("step-00000006/model.bpk"), "garbage").unwrap();
    let o = ft_in(dir.path(), &strings(&["train", "--resume", cut.to_str().unwrap()]));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("step-00000006 is unreadable") && err.contains("resuming from the previous one"), "{err}");
    assert!(!ckpts.join(".partial-x1y2").exists());
    assert!(std::fs::read(cut.join("model.safetensors")).unwrap() == whole);
}

#[test]
fn sigint_stops_after_a_step_with_a_checkpoint_and_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let (_, whole) = finished_run(dir.path(), "whole");
    let train = dir.path().join("train.csv");
    let out = dir.path().join("cut");
    let o = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(train_args(&train, &out))
        .env("FT_TEST_SIGINT_AT_STEP", "3")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT (Ctrl-C) after optimizer step 3"), "{err}");
    assert!(err.contains("step-00000003") && err.contains("ft train --resume"), "{err}");
    let o = ft_in(dir.path(), &strings(&["train", "--resume", out.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(out.join("model.safetensors")).unwrap() == whole);
}

/// Sends `signal` at a pseudo-random moment of a run (seeded), then finishes the run — `--resume` when
/// the directory was created, else the original command — and compares the model with `whole`.
fn interrupt_and_finish(dir: &Path, whole: &[u8], signal: &str, seed: u64, run_ms: u64) {
    let train = dir.join("train.csv");
    let out = dir.join(format!("cut-{signal}-{seed}"));
    let child = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(train_args(&train, &out))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    state ^= state >> 29;
    let wait = state % run_ms.max(1);
    std::thread::sleep(std::time::Duration::from_millis(wait));
    let _ = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    let o = child.wait_with_output().unwrap();
    let code = o.status.code();
    if signal == "INT" {
        // Finished before the signal (0), stopped with a checkpoint (130), or killed by it before the
        // handler was installed (no code).
        assert!(matches!(code, Some(0) | Some(130) | None), "{code:?}: {}", stderr(&o));
    }
    let finish = if out.join("run.toml").is_file() {
        strings(&["train", "--resume", out.to_str().unwrap()])
    } else {
        assert!(!out.exists(), "{} exists without run.toml: {:?}", out.display(), entries(&out));
        train_args(&train, &out)
    };
    let o = ft_in(dir, &finish);
    assert!(o.status.success(), "seed {seed}, {signal} after {wait} ms: {}", stderr(&o));
    assert!(
        std::fs::read(out.join("model.safetensors")).unwrap() == whole,
        "seed {seed}, {signal} after {wait} ms: resumed model differs"
    );
    let leftovers: Vec<String> = entries(dir).into_iter().filter(|n| n.starts_with('.')).collect();
    assert!(leftovers.is_empty(), "seed {seed}: left beside the run: {leftovers:?}");
}

#[test]
fn kill_9_and_sigint_at_random_moments_always_resume_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let (_, whole) = finished_run(dir.path(), "whole");
    let run_ms = t.elapsed().as_millis() as u64;
    for seed in 0..4 {
        interrupt_and_finish(dir.path(), &whole, "KILL", seed, run_ms);
        interrupt_and_finish(dir.path(), &whole, "INT", seed, run_ms);
    }
}

#[cfg(unix)]
#[test]
fn outputs_are_readable_as_the_umask_says() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "x").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in ["model.safetensors", "config.json", "metrics.json", "run.toml", "report.html"] {
        assert_eq!(mode(&out.join(f)), mode(&plain), "{f}");
    }
    let plain_dir = dir.path().join("plain_dir");
    std::fs::create_dir(&plain_dir).unwrap();
    assert_eq!(mode(&out), mode(&plain_dir));
}

#[test]
fn predict_refuses_an_empty_text_like_training_does() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let o = ft_in(dir.path(), &strings(&["predict", "--model", out.to_str().unwrap(), "good movie", "  "]));
    assert_fails(&o, "text 2 is empty");
}

#[test]
fn predict_with_stdout_closed_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {:?} predict --model {:?} 'good movie' >&-", env!("CARGO_BIN_EXE_ft"), out))
        .output()
        .unwrap();
    assert_fails(&o, "stdout is closed");
}

/// A copy of `from` whose tokenizer (vocab.txt only) has ids beyond the model's vocabulary.
fn with_oversized_vocab(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() && e.file_name() != "tokenizer.json" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    let mut vocab = std::fs::read_to_string(to.join("vocab.txt")).unwrap();
    for i in 0..50 {
        vocab.push_str(&format!("extra{i}\n"));
    }
    std::fs::write(to.join("vocab.txt"), vocab).unwrap();
}

#[test]
fn a_tokenizer_with_ids_beyond_the_vocabulary_is_refused_in_train_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let model = dir.path().join("model");
    with_oversized_vocab(&fixtures().join("tiny"), &model);
    let train = dir.path().join("train.csv");
    let mut args = train_args(&train, &dir.path().join("new"));
    let i = args.iter().position(|a| a == "--model").unwrap();
    args[i + 1] = model.to_str().unwrap().to_string();
    let o = ft_in(dir.path(), &args);
    assert_fails(&o, "the tokenizer emits ids up to");
    assert!(!dir.path().join("new").exists());
    let broken = dir.path().join("broken");
    with_oversized_vocab(&out, &broken);
    let o = ft_in(dir.path(), &strings(&["predict", "--model", broken.to_str().unwrap(), "good movie"]));
    assert_fails(&o, "vocab_size");
}

#[test]
fn predict_reads_no_further_than_the_row_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = finished_run(dir.path(), "run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(["predict", "--model", out.to_str().unwrap(), "--max-row-bytes", "100", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"good movie\n");
        let _ = stdin.write_all(&vec![b'a'; 10_000]);
    }
    let o = child.wait_with_output().unwrap();
    assert_fails(&o, "<stdin>:2");
}

#[test]
fn text_column_equal_to_label_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let train = write_train(dir.path(), 40);
    let out = dir.path().join("run");
    let o = ft_in(dir.path(), &with(train_args(&train, &out), &["--text-column", "label"]));
    assert_fails(&o, "--label-column");
    assert!(!out.exists());
}

/// README's fault table names a test on every row; each must exist (so the table cannot drift from
/// what is tested) and there must be at least 50 rows.
#[test]
fn every_row_of_the_fault_table_names_a_test_that_exists() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table = readme.split("## Faults, and what ft does").nth(1).expect("README has the fault table");
    let mut rows = 0;
    for line in
        table.lines().take_while(|l| !l.starts_with("## ")).filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
    {
        let cell = line.trim_end_matches('|').rsplit('|').next().unwrap().trim();
        // `file::test` (crate)
        let (path, krate) = cell.split_once(" (").unwrap_or_else(|| panic!("bad row: {line}"));
        let (file, test) = path.trim_matches('`').split_once("::").unwrap_or_else(|| panic!("bad row: {line}"));
        let krate = krate.trim_end_matches(')');
        let candidates = [format!("crates/{krate}/tests/{file}.rs"), format!("crates/{krate}/src/{file}.rs")];
        let found = candidates
            .iter()
            .any(|c| std::fs::read_to_string(root.join(c)).is_ok_and(|src| src.contains(&format!("fn {test}("))));
        assert!(found, "row names a test that does not exist: {cell}");
        rows += 1;
    }
    assert!(rows >= 50, "{rows} rows");
}
