//! Project tasks, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! The reference stack (PyTorch, transformers, ...) lives in a virtualenv pinned by
//! `xtask/requirements.txt`: `$FT_HOME/venv-<first 12 hex of its sha256>`, so changing the pins makes a
//! fresh one. It is only ever used to (re)generate fixtures and benchmarks, never by the Rust crates.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  venv                      create the pinned Python reference virtualenv if missing, print its path
  fixtures [--minilm SPEC]  regenerate fixtures/ with xtask/py/generate_fixtures.py
                            (SPEC: model directory or known asset; default minilm-l6)
  fixtures --verify DIR [--golden FILE] [--tol X] [--no-tokenizer-check]
                            load DIR (a model ft saved) with transformers and compare its logits
                            with fixtures/tiny_golden.safetensors; exit code 0 when within tolerance
  help                      show this text

environment:
  FT_HOME     cache root (default ~/.cache/ft): virtualenv and fetched models live there
  FT_PYTHON   interpreter used to create the virtualenv (default python3)
";

const REQUIREMENTS: &str = "xtask/requirements.txt";
const GENERATOR: &str = "xtask/py/generate_fixtures.py";
const READY_MARKER: &str = ".ft-ready";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    }
}

/// Runs one command; returns the process exit code.
fn run(args: &[String]) -> Result<i32> {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return Ok(2);
    };
    match command.as_str() {
        "venv" => {
            no_more_args(rest)?;
            let venv = ensure_venv()?;
            println!("{}", venv.display());
            Ok(0)
        }
        "fixtures" => fixtures(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(0)
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown command `{other}`")
        }
    }
}

fn no_more_args(rest: &[String]) -> Result<()> {
    match rest.first() {
        Some(arg) => bail!("unexpected argument `{arg}` (see `cargo xtask help`)"),
        None => Ok(()),
    }
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().with_context(|| format!("{} has no parent directory", manifest_dir.display()))?;
    Ok(root.to_path_buf())
}

/// `$FT_HOME/venv-<first 12 hex chars of sha256(xtask/requirements.txt)>`.
fn venv_dir(root: &Path) -> Result<PathBuf> {
    let requirements = root.join(REQUIREMENTS);
    let bytes = std::fs::read(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    Ok(ft_assets::ft_home().join(format!("venv-{}", &hex[..12])))
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) { venv.join("Scripts").join("python.exe") } else { venv.join("bin").join("python") }
}

/// Returns the reference virtualenv, creating it (venv + pip install) when its ready marker is missing.
fn ensure_venv() -> Result<PathBuf> {
    let root = workspace_root()?;
    let venv = venv_dir(&root)?;
    if venv.join(READY_MARKER).is_file() {
        return Ok(venv);
    }
    let requirements = root.join(REQUIREMENTS);
    eprintln!(
        "creating the Python reference virtualenv {}\n\
         from {}: this downloads about 5.6 GB and takes a while",
        venv.display(),
        requirements.display()
    );
    let parent = venv.parent().context("virtualenv path has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;

    let python = std::env::var("FT_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut create = Command::new(&python);
    create.arg("-m").arg("venv").arg(&venv);
    run_checked(&mut create, &format!("`{python} -m venv` (is Python 3 with venv installed?)"))?;

    let mut install = Command::new(venv_python(&venv));
    install.args(["-m", "pip", "install", "--disable-pip-version-check", "-r"]).arg(&requirements).current_dir(&root);
    run_checked(&mut install, "pip install -r xtask/requirements.txt")?;

    let marker = venv.join(READY_MARKER);
    std::fs::write(&marker, b"").with_context(|| format!("writing {}", marker.display()))?;
    eprintln!("virtualenv ready: {}", venv.display());
    Ok(venv)
}

/// Runs `cmd` with inherited stdio and fails unless it exits 0.
fn run_checked(cmd: &mut Command, what: &str) -> Result<()> {
    let code = run_status(cmd, what)?;
    if code != 0 {
        bail!("{what} failed with exit code {code}");
    }
    Ok(())
}

/// Runs `cmd` with inherited stdio and returns its exit code (1 when killed by a signal).
fn run_status(cmd: &mut Command, what: &str) -> Result<i32> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    Ok(status.code().unwrap_or(1))
}

/// `cargo xtask fixtures [--minilm SPEC]` and `cargo xtask fixtures --verify DIR [...]`.
fn fixtures(rest: &[String]) -> Result<i32> {
    let root = workspace_root()?;
    let mut minilm = "minilm-l6".to_string();
    let mut verify: Option<PathBuf> = None;
    let mut passthrough: Vec<String> = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--verify" => {
                let dir = args.next().context("--verify needs a model directory")?;
                verify = Some(absolute(Path::new(dir))?);
            }
            "--minilm" => {
                minilm = args.next().context("--minilm needs a directory or asset name")?.clone();
            }
            "--golden" => {
                let file = args.next().context("--golden needs a file")?;
                passthrough.push(arg.clone());
                passthrough.push(absolute(Path::new(file))?.display().to_string());
            }
            "--tol" => {
                let tol = args.next().context("--tol needs a number")?;
                tol.parse::<f64>().with_context(|| format!("--tol {tol}: not a number"))?;
                passthrough.push(arg.clone());
                passthrough.push(tol.clone());
            }
            "--no-tokenizer-check" => passthrough.push(arg.clone()),
            other => bail!("unexpected argument `{other}` for `fixtures` (see `cargo xtask help`)"),
        }
    }
    if verify.is_none() && !passthrough.is_empty() {
        bail!("{} only applies with --verify DIR", passthrough[0]);
    }

    let venv = ensure_venv()?;
    let python = venv_python(&venv);
    let mut cmd = Command::new(&python);
    cmd.arg(root.join(GENERATOR)).current_dir(&root);
    match verify {
        Some(dir) => {
            cmd.arg("verify").arg(&dir).args(&passthrough);
            // The verdict is the script's exit code: 0 within tolerance, 1 otherwise.
            run_status(&mut cmd, GENERATOR)
        }
        None => {
            let model =
                ft_assets::resolve_model(&minilm).with_context(|| format!("resolving the real model `{minilm}`"))?;
            cmd.args(["generate", "--out", "fixtures", "--minilm"]).arg(&model);
            run_checked(&mut cmd, &format!("{GENERATOR} generate"))?;
            Ok(0)
        }
    }
}

/// Makes `path` absolute against the directory `cargo xtask` was started from (the generator runs
/// from the workspace root).
fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    Ok(cwd.join(path))
}
