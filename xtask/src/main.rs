//! Project tasks, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! The reference stack (PyTorch, transformers, ...) lives in a virtualenv pinned by
//! `xtask/requirements.txt`: `$FT_HOME/venv-<first 12 hex of its sha256>`, so changing the pins makes a
//! fresh one. It is only ever used to (re)generate fixtures and benchmarks, never by the Rust crates.

mod bench;
mod gpu_check;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  venv                      create the pinned Python reference virtualenv if missing, print its path
  fixtures [--minilm SPEC]  regenerate fixtures/ with xtask/py/generate_fixtures.py
                            (SPEC: model directory or known asset; default minilm-l6)
  fixtures --verify DIR [--task T] [--golden FILE] [--tol X] [--no-tokenizer-check]
                            load DIR (a model ft saved) with transformers and compare its logits
                            with fixtures/tiny_golden.safetensors; exit code 0 when within tolerance
  compare DATASET [options] fine-tune with ft and with PyTorch + transformers (xtask/py/reference_train.py)
                            on the same split with the same recipe (minilm-l6, lr 5e-5, batch 32, max_len 64,
                            warmup ratio 0.1, weight decay 0.01, seed 42, max grad norm 1.0) and print test
                            accuracy, macro-F1 and wall times side by side; DATASET: rt-snippets, sms-spam,
                            chnsenti (Chinese reviews) or atis-intents (multi-label: accuracy is the subset accuracy), stsb
                            (sentence-pair regression: reference xtask/py/reference_sts.py, --max-len 128,
                            the verdict on test Pearson ×100, so 1.0 point is 0.01), or the
                            token-classification datasets conll2003 and atis-slots (reference:
                            xtask/py/reference_ner.py, run_ner.py's alignment and seqeval metrics; the
                            verdict is on test entity F1; the issue's recipe uses --max-len 128), and the
                            question-answering datasets atis-qa and atis-qa-long (reference:
                            xtask/py/reference_qa.py, run_qa.py's windows and utils_qa's answers; --max-len 384,
                            --doc-stride 128 and for atis-qa-long --batch-size 16 unless given; the verdict is
                            on test SQuAD F1, in points; --max-train-examples N keeps the first N questions).
                            The reference's result is cached in $FT_HOME/reference/<key>.json (key: recipe,
                            pinned versions, script and data checksums); the report goes to
                            target/compare/<run>.md and .json. Exit code 0 when ft's test accuracy is at
                            most 1.0 point below the reference's, 1 otherwise. Options:
      --epochs N              passes over the training data (default 3)
      --freeze SPEC           none, encoder, embeddings or bottom:N (default none)
      --lr X                  peak learning rate (default 5e-5; a linear probe wants ~1e-3)
      --max-train-examples N  train both sides on the first N training rows only (quick checks)
      --max-eval-examples N   question answering: validate and test both sides on the first N
                              questions of each file only
      --max-len N             tokens per example (default 64)
      --batch-size N          examples per batch (default 32)
      --threads N             torch.set_num_threads for the reference, RAYON_NUM_THREADS for ft
      --padding MODE          reference batches: dynamic (default) or max_length
      --no-cache              rerun the reference even when its result is cached
      --group-by-length       let ft group batches by length (its default); without this flag ft draws
                              random batches like the reference (Trainer's default sampler)
      --ft-bin PATH           use this ft binary instead of `cargo build --release -p ft-cli`
      --seed N                the seed of both sides (default 42)
      --seeds N               run N seeds per side (seed, seed + 1, ...), each reported as above
                              (target/compare/<run>.s<seed>.md past the first), then mean ± sd over the
                              seeds of the test metrics and of each class's test F1
                              (target/compare/<run>.seeds<N>.md and .json); the verdict compares the
                              means, with the standard error of their difference as the seed noise
      -- ARGS...              extra arguments for `ft train` (recorded in the report, not in the key)
  bench [options]           ft against PyTorch + transformers on identical workloads (rows 1-8 of
                            benches/README.md), alternating the two, medians and ft/PyTorch ratios as a
                            markdown table; raw numbers in target/bench/bench.json. Options:
      --quick                 rows 1-4 only, smaller (a few minutes)
      --rows LIST             only these rows, e.g. 1,3 (default: all; 7 LoRA, 8 explanations)
      --rounds N              processes per side for rows 1-4, alternated (default 2)
      --threads N             cores for both sides (default: all)
      --ft-bin PATH           use this ft binary instead of `cargo build --release -p ft-cli`
      --device D              ft's device for rows 1-3 (default cpu); wgpu or wgpu:N puts PyTorch on CUDA
      --update-readme         write the table into README.md between the bench markers
  gpu-check                 on a machine with a GPU: build ft with `--features wgpu`, run the wgpu parity
                            tests there, then `bench --quick --rows 1,2,3 --device wgpu` against PyTorch
                            CUDA; the report goes to target/gpu-check/report.md
  help                      show this text

environment:
  FT_HOME     cache root (default ~/.cache/ft): virtualenv and fetched models live there
  FT_PYTHON   interpreter used to create the virtualenv (default python3)
";

const REQUIREMENTS: &str = "xtask/requirements.txt";
const GENERATOR: &str = "xtask/py/generate_fixtures.py";
const REFERENCE_SCRIPT: &str = "xtask/py/reference_train.py";
/// The token-classification reference (run_ner.py's alignment and metrics, the same loop).
const REFERENCE_NER_SCRIPT: &str = "xtask/py/reference_ner.py";
const REFERENCE_STS_SCRIPT: &str = "xtask/py/reference_sts.py";
const REFERENCE_QA_SCRIPT: &str = "xtask/py/reference_qa.py";
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
        "compare" => compare(rest),
        "bench" => bench::bench(rest),
        "gpu-check" => {
            no_more_args(rest)?;
            gpu_check::gpu_check()
        }
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
            "--task" => {
                let task = args
                    .next()
                    .context("--task needs sequence-classification, token-classification or question-answering")?;
                passthrough.push(arg.clone());
                passthrough.push(task.clone());
            }
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

// ---------------------------------------------------------------------------------------------------
// `cargo xtask compare`: ft against PyTorch + transformers on real data (issue 4, "Accuracy on real data").

/// Datasets `compare` knows (packaged by ft-data, fetched with `ft fetch`).
const COMPARE_DATASETS: &[&str] = &[
    "rt-snippets",
    "sms-spam",
    "chnsenti",
    "atis-intents",
    "stsb",
    "conll2003",
    "atis-slots",
    "atis-qa",
    "atis-qa-long",
];
/// The packaged model both sides fine-tune.
const COMPARE_MODEL: &str = "minilm-l6";
/// How many accuracy points ft may be below the reference.
const TOLERANCE_POINTS: f64 = 1.0;

/// The recipe both sides run. Only what the command line can change is not a constant.
#[derive(Debug, Clone)]
struct Recipe {
    epochs: usize,
    lr: f64,
    batch_size: usize,
    eval_batch_size: usize,
    max_len: usize,
    warmup_ratio: f64,
    weight_decay: f64,
    seed: u64,
    max_grad_norm: f64,
    freeze: String,
    padding: String,
    threads: Option<usize>,
    max_train_examples: Option<usize>,
    /// Question answering: evaluate both sides on the first N validation and test questions only.
    max_eval_examples: Option<usize>,
    /// Question answering: context tokens shared by consecutive windows (run_qa's `doc_stride`).
    doc_stride: Option<usize>,
}

impl Default for Recipe {
    fn default() -> Self {
        Self {
            epochs: 3,
            lr: 5e-5,
            batch_size: 32,
            eval_batch_size: 64,
            max_len: 64,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            seed: 42,
            max_grad_norm: 1.0,
            freeze: "none".into(),
            padding: "dynamic".into(),
            threads: None,
            max_train_examples: None,
            max_eval_examples: None,
            doc_stride: None,
        }
    }
}

impl Recipe {
    /// What the cache key and the report record.
    fn to_json(&self, dataset: &str) -> Value {
        json!({
            "model": COMPARE_MODEL,
            "dataset": dataset,
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "max_len": self.max_len,
            "warmup_ratio": self.warmup_ratio,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "max_grad_norm": self.max_grad_norm,
            "freeze": self.freeze,
            "padding": self.padding,
            "threads": self.threads,
            "max_train_examples": self.max_train_examples,
            "max_eval_examples": self.max_eval_examples,
            "doc_stride": self.doc_stride,
        })
    }

    /// Flags shared by `ft train` and the reference script (same names on both sides).
    fn common_flags(&self) -> Vec<String> {
        [
            ("--epochs", self.epochs.to_string()),
            ("--lr", self.lr.to_string()),
            ("--batch-size", self.batch_size.to_string()),
            ("--eval-batch-size", self.eval_batch_size.to_string()),
            ("--max-len", self.max_len.to_string()),
            ("--warmup-ratio", self.warmup_ratio.to_string()),
            ("--weight-decay", self.weight_decay.to_string()),
            ("--seed", self.seed.to_string()),
            ("--max-grad-norm", self.max_grad_norm.to_string()),
            ("--freeze", self.freeze.clone()),
        ]
        .into_iter()
        .chain(self.doc_stride.map(|n| ("--doc-stride", n.to_string())))
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    /// The reference script's flags (besides --model, --data and --out).
    fn reference_flags(&self) -> Vec<String> {
        let mut v = self.common_flags();
        v.extend(["--padding".to_string(), self.padding.clone()]);
        if let Some(n) = self.threads {
            v.extend(["--threads".to_string(), n.to_string()]);
        }
        if let Some(n) = self.max_train_examples {
            v.extend(["--max-train-examples".to_string(), n.to_string()]);
        }
        if let Some(n) = self.max_eval_examples {
            v.extend(["--max-eval-examples".to_string(), n.to_string()]);
        }
        v
    }

    /// Name of this run under target/compare: the dataset, plus what differs from the issue's recipe.
    fn run_name(&self, dataset: &str) -> String {
        let mut name = dataset.to_string();
        if self.epochs != Recipe::default().epochs {
            name.push_str(&format!(".e{}", self.epochs));
        }
        if self.lr != Recipe::default().lr {
            name.push_str(&format!(".lr{}", self.lr));
        }
        if self.max_len != Recipe::default().max_len {
            name.push_str(&format!(".len{}", self.max_len));
        }
        if self.batch_size != Recipe::default().batch_size {
            name.push_str(&format!(".b{}", self.batch_size));
        }
        if self.freeze != "none" {
            name.push_str(&format!(".freeze-{}", self.freeze.replace(':', "")));
        }
        if let Some(n) = self.max_train_examples {
            name.push_str(&format!(".n{n}"));
        }
        if let Some(n) = self.max_eval_examples {
            name.push_str(&format!(".v{n}"));
        }
        if self.padding != "dynamic" {
            name.push_str(&format!(".pad-{}", self.padding.replace('_', "-")));
        }
        if let Some(n) = self.threads {
            name.push_str(&format!(".t{n}"));
        }
        if self.seed != Recipe::default().seed {
            name.push_str(&format!(".s{}", self.seed));
        }
        name
    }
}

/// Parsed `compare` arguments.
#[derive(Debug, Clone)]
struct CompareArgs {
    dataset: String,
    recipe: Recipe,
    no_cache: bool,
    ft_bin: Option<PathBuf>,
    ft_extra: Vec<String>,
    /// Let ft group batches by length (its default) instead of the reference's random batches.
    group_by_length: bool,
    /// Seeds per side (`seed`, `seed + 1`, …).
    seeds: usize,
}

fn parse_compare_args(rest: &[String]) -> Result<CompareArgs> {
    let mut dataset: Option<String> = None;
    let mut recipe = Recipe::default();
    let mut no_cache = false;
    let mut ft_bin = None;
    let mut ft_extra = Vec::new();
    let mut group_by_length = false;
    let mut seeds = 1;
    let mut args = rest.iter();
    fn number(flag: &str, value: Option<&String>) -> Result<usize> {
        let value = value.with_context(|| format!("{flag} needs a number"))?;
        value.parse::<usize>().with_context(|| format!("{flag} {value}: not a non-negative integer"))
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--epochs" => recipe.epochs = number(arg, args.next())?,
            "--lr" => {
                let value = args.next().context("--lr needs a number")?;
                recipe.lr = value
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .with_context(|| format!("--lr {value}: expected a positive number"))?;
            }
            "--max-train-examples" => recipe.max_train_examples = Some(number(arg, args.next())?),
            "--max-eval-examples" => recipe.max_eval_examples = Some(number(arg, args.next())?),
            "--max-len" => recipe.max_len = number(arg, args.next())?,
            "--batch-size" => recipe.batch_size = number(arg, args.next())?,
            "--threads" => recipe.threads = Some(number(arg, args.next())?),
            "--doc-stride" => recipe.doc_stride = Some(number(arg, args.next())?),
            "--seed" => recipe.seed = number(arg, args.next())? as u64,
            "--seeds" => seeds = number(arg, args.next())?,
            "--freeze" => {
                let spec = args.next().context("--freeze needs none, encoder, embeddings or bottom:N")?;
                let ok = matches!(spec.as_str(), "none" | "encoder" | "embeddings")
                    || spec.strip_prefix("bottom:").is_some_and(|n| n.parse::<usize>().is_ok());
                if !ok {
                    bail!("--freeze {spec}: expected none, encoder, embeddings or bottom:N");
                }
                recipe.freeze = spec.clone();
            }
            "--padding" => {
                let mode = args.next().context("--padding needs dynamic or max_length")?;
                if mode != "dynamic" && mode != "max_length" {
                    bail!("--padding {mode}: expected dynamic or max_length");
                }
                recipe.padding = mode.clone();
            }
            "--no-cache" => no_cache = true,
            "--group-by-length" => group_by_length = true,
            "--ft-bin" => ft_bin = Some(absolute(Path::new(args.next().context("--ft-bin needs a path")?))?),
            "--" => ft_extra.extend(args.by_ref().cloned()),
            other if other.starts_with('-') => {
                bail!("unexpected argument `{other}` for `compare` (see `cargo xtask help`)")
            }
            other => {
                if dataset.is_some() {
                    bail!("unexpected argument `{other}`: `compare` takes one dataset");
                }
                dataset = Some(other.to_string());
            }
        }
    }
    let dataset = dataset.with_context(|| format!("`compare` needs a dataset: {}", COMPARE_DATASETS.join(" or ")))?;
    if !COMPARE_DATASETS.contains(&dataset.as_str()) {
        bail!("unknown dataset `{dataset}`; `compare` knows {}", COMPARE_DATASETS.join(", "));
    }
    if recipe.epochs == 0 {
        bail!("--epochs 0: train for at least one epoch");
    }
    if recipe.max_train_examples == Some(0) {
        bail!("--max-train-examples 0: keep at least one example");
    }
    if recipe.max_eval_examples == Some(0) {
        bail!("--max-eval-examples 0: keep at least one question");
    }
    if recipe.threads == Some(0) {
        bail!("--threads 0: use at least one thread");
    }
    if seeds == 0 {
        bail!("--seeds 0: run at least one seed");
    }
    Ok(CompareArgs { dataset, recipe, no_cache, ft_bin, ft_extra, group_by_length, seeds })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `files` concatenated in order.
fn sha256_files(files: &[PathBuf]) -> Result<String> {
    let mut hasher = Sha256::new();
    for file in files {
        let mut f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
        std::io::copy(&mut f, &mut hasher).with_context(|| format!("reading {}", file.display()))?;
    }
    Ok(hex(&hasher.finalize()))
}

/// JSON with object keys sorted at every level and no whitespace: one text per value.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The pinned lines of xtask/requirements.txt (comments and blank lines dropped).
fn pinned_versions(root: &Path) -> Result<Vec<String>> {
    let path = root.join(REQUIREMENTS);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Builds ft in release mode with cargo and returns the path of the `ft` executable.
fn build_ft(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("compare: building ft (cargo build --release -p ft-cli)");
    let t = Instant::now();
    let output = Command::new(&cargo)
        .args(["build", "--release", "-p", "ft-cli", "--message-format=json-render-diagnostics"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting `{cargo} build`"))?;
    if !output.status.success() {
        bail!("`cargo build --release -p ft-cli` failed ({})", output.status);
    }
    let mut exe = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else { continue };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "ft"
            && let Some(path) = msg["executable"].as_str()
        {
            exe = Some(PathBuf::from(path));
        }
    }
    let exe = exe.context("cargo built ft-cli but reported no `ft` executable")?;
    eprintln!("compare: ft ready in {:.1}s: {}", t.elapsed().as_secs_f64(), exe.display());
    Ok(exe)
}

/// The dataset's directory as `ft fetch DATASET` reports it (its first line of output), or the cache
/// directory `$FT_HOME/datasets/DATASET` when this ft cannot fetch datasets.
fn dataset_dir(ft: &Path, dataset: &str) -> Result<PathBuf> {
    let output = Command::new(ft).args(["fetch", dataset]).stderr(Stdio::inherit()).output();
    let fetched = match output {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).lines().next().map(|l| PathBuf::from(l.trim()))
        }
        Ok(out) => {
            eprintln!("compare: `ft fetch {dataset}` failed ({}); trying the cache directory", out.status);
            None
        }
        Err(e) => {
            eprintln!("compare: could not run `{} fetch {dataset}` ({e}); trying the cache directory", ft.display());
            None
        }
    };
    let dir = fetched.unwrap_or_else(|| ft_assets::ft_home().join("datasets").join(dataset));
    for split in split_files(&dir) {
        if !split.is_file() {
            bail!("{}: missing; run `ft fetch {dataset}` first", split.display());
        }
    }
    Ok(dir)
}

/// A packaged dataset's three files: `.tsv` for the sentence datasets, `.conll` or `.jsonl` for the
/// tagged ones (`atis-intents` is JSONL too).
fn split_files(dir: &Path) -> Vec<PathBuf> {
    let ext = ["conll", "jsonl"].into_iter().find(|e| dir.join(format!("train.{e}")).is_file()).unwrap_or("tsv");
    ["train", "validation", "test"].iter().map(|s| dir.join(format!("{s}.{ext}"))).collect()
}

/// Whether a packaged dataset is tagged sentences (CoNLL, or JSONL whose first row has `tokens`).
fn is_token_dataset(dir: &Path) -> bool {
    if dir.join("train.conll").is_file() {
        return true;
    }
    std::fs::read_to_string(dir.join("train.jsonl"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| serde_json::from_str::<Value>(l).ok()))
        .is_some_and(|v| v.get("tokens").is_some())
}

/// Writes the header and the first `n` rows of `train` to `dir/train.tsv` (rows are single lines: the
/// files are written literally, without quoting).
fn truncated_train(train: &Path, n: usize, dir: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(train).with_context(|| format!("reading {}", train.display()))?;
    let mut lines = text.lines();
    let header = lines.next().with_context(|| format!("{}: empty file", train.display()))?;
    let mut out = String::with_capacity(text.len().min(n * 256));
    out.push_str(header);
    out.push('\n');
    for line in lines.filter(|l| !l.is_empty()).take(n) {
        out.push_str(line);
        out.push('\n');
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("train.tsv");
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Writes the first `n` lines of a JSON Lines split file to `dir/<its name>` (no header).
fn truncated_jsonl(file: &Path, n: usize, dir: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(n) {
        out.push_str(line);
        out.push('\n');
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(file.file_name().context("a split file has a name")?);
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// `value[path...]` as a number.
fn number_at(value: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(value, |v, k| v.get(k)).and_then(Value::as_f64)
}

fn shell_words(program: &Path, args: &[String]) -> String {
    std::iter::once(program.display().to_string())
        .chain(args.iter().cloned())
        .map(
            |w| {
                if w.is_empty() || w.contains([' ', '\'', '"']) { format!("'{}'", w.replace('\'', "'\\''")) } else { w }
            },
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of the table.
struct Row {
    name: &'static str,
    test_accuracy: Option<f64>,
    test_macro_f1: Option<f64>,
    validation_accuracy: Option<f64>,
    train_seconds: Option<f64>,
    total_seconds: Option<f64>,
}

/// The metrics a comparison reports: (key in metrics.json, column name) for the verdict's metric,
/// the second test metric, and the validation metric.
#[derive(Debug, Clone, Copy)]
struct Columns {
    main: (&'static str, &'static str),
    second: (&'static str, &'static str),
}

const SEQUENCE_COLUMNS: Columns = Columns { main: ("accuracy", "accuracy"), second: ("macro_f1", "macro-F1") };
const TOKEN_COLUMNS: Columns = Columns { main: ("f1", "entity F1"), second: ("accuracy", "token accuracy") };
/// Sentence-pair regression (STS-B): correlations, shown ×100 as GLUE reports them, so that the 1.0
/// point tolerance is the issue's 0.01.
const STS_COLUMNS: Columns = Columns { main: ("pearson", "Pearson ×100"), second: ("spearman", "Spearman ×100") };
/// SQuAD's scores, already ×100 on both sides.
const QA_COLUMNS: Columns = Columns { main: ("f1", "F1"), second: ("exact_match", "exact match") };

/// Whether a dataset directory holds scored sentence pairs (`label<TAB>text<TAB>text_pair`, stsb).
fn is_sts_dataset(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("train.tsv"))
        .ok()
        .is_some_and(|t| t.lines().next() == Some("label\ttext\ttext_pair"))
}

/// Whether a dataset directory holds questions with contexts (SQuAD JSON Lines).
fn is_qa_dataset(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("train.jsonl"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| serde_json::from_str::<Value>(l).ok()))
        .is_some_and(|v| v.get("question").is_some() && v.get("context").is_some())
}

/// `scale`: 100 for metrics that are fractions, 1 for those already in points (SQuAD's).
fn markdown_table(rows: &[Row], columns: &Columns, scale: f64) -> String {
    let pct = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{:.2}", scale * x));
    let secs = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.1}"));
    let (main, second) = (columns.main.1, columns.second.1);
    let mut t = format!(
        "| | test {main} (%) | test {second} (%) | validation {main} (%) | train time (s) | total wall (s) |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            pct(r.test_accuracy),
            pct(r.test_macro_f1),
            pct(r.validation_accuracy),
            secs(r.train_seconds),
            secs(r.total_seconds)
        ));
    }
    t
}

/// What one comparison (one seed per side) found.
struct Outcome {
    run_name: String,
    recipe_line: String,
    columns: Columns,
    /// 100 for fractions, 1 for SQuAD's points.
    scale: f64,
    ft_metrics: Value,
    reference: Value,
    /// Single- and multi-label datasets: the label names and each one's test F1 on both sides (ft's
    /// from `ft eval --json` on the test file, the reference's from its result).
    per_class: Option<PerClass>,
    within: bool,
}

/// Each class's test F1 on both sides, in label-id order.
struct PerClass {
    labels: Vec<String>,
    ft: Vec<f64>,
    reference: Vec<f64>,
}

/// `cargo xtask compare DATASET [...]`.
fn compare(rest: &[String]) -> Result<i32> {
    let args = parse_compare_args(rest)?;
    if args.seeds > 1 {
        return compare_seeds(&args);
    }
    Ok(if compare_once(&args)?.within { 0 } else { 1 })
}

/// ft's per-class test F1: `ft eval --json` on the test file of the finished run.
fn ft_per_class(ft: &Path, run: &Path, test: &Path, root: &Path) -> Result<(Vec<String>, Vec<f64>)> {
    let out = Command::new(ft)
        .args(["eval", "--model"])
        .arg(run)
        .arg("--data")
        .arg(test)
        .arg("--json")
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("running ft eval")?;
    if !out.status.success() {
        bail!("ft eval --model {} --data {} failed ({})", run.display(), test.display(), out.status);
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("reading ft eval's JSON")?;
    let labels: Vec<String> = v["labels"]
        .as_array()
        .context("ft eval's JSON has no labels")?
        .iter()
        .map(|l| l.as_str().unwrap_or("?").to_string())
        .collect();
    let scores = v["report"]["per_class"].as_array().or_else(|| v["report"]["per_label"].as_array());
    let f1: Vec<f64> =
        scores.context("ft eval's JSON has no per-class report")?.iter().filter_map(|c| c["f1"].as_f64()).collect();
    if f1.len() != labels.len() {
        bail!("ft eval's JSON: {} labels but {} per-class scores", labels.len(), f1.len());
    }
    Ok((labels, f1))
}

/// Mean and sample standard deviation (n − 1; 0 for one value).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 { values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// `cargo xtask compare DATASET --seeds N`: one comparison per seed, then mean ± sd per side.
fn compare_seeds(args: &CompareArgs) -> Result<i32> {
    let t_all = Instant::now();
    let mut outcomes = Vec::new();
    let mut seeds = Vec::new();
    for i in 0..args.seeds {
        let mut one = args.clone();
        one.recipe.seed = args.recipe.seed + i as u64;
        seeds.push(one.recipe.seed);
        println!("\n== seed {} ({} of {})", one.recipe.seed, i + 1, args.seeds);
        outcomes.push(compare_once(&one)?);
    }
    let first = &outcomes[0];
    let (columns, scale) = (first.columns, first.scale);
    let name = format!("{}.seeds{}", first.run_name, args.seeds);
    let pick = |side: &dyn Fn(&Outcome) -> Option<f64>| -> Result<Vec<f64>> {
        outcomes.iter().map(|o| side(o).map(|x| scale * x).context("a seed's result lacks a test metric")).collect()
    };
    let ft_main = pick(&|o| number_at(&o.ft_metrics, &["test", columns.main.0]))?;
    let ref_main = pick(&|o| number_at(&o.reference, &["test", columns.main.0]))?;
    let ft_second = pick(&|o| number_at(&o.ft_metrics, &["test", columns.second.0]))?;
    let ref_second = pick(&|o| number_at(&o.reference, &["test", columns.second.0]))?;
    let fmt = |v: &[f64]| {
        let (m, sd) = mean_sd(v);
        format!("{m:.2} ± {sd:.2}")
    };
    let mut header = format!("| | test {} | test {}", columns.main.1, columns.second.1);
    let mut ft_row = format!("| ft | {} | {}", fmt(&ft_main), fmt(&ft_second));
    let mut ref_row = format!("| PyTorch | {} | {}", fmt(&ref_main), fmt(&ref_second));
    let mut per_class_json = Vec::new();
    if outcomes.iter().all(|o| o.per_class.is_some()) {
        let labels = first.per_class.as_ref().map(|p| p.labels.clone()).unwrap_or_default();
        for (k, label) in labels.iter().enumerate() {
            let side = |f: &dyn Fn(&PerClass) -> &Vec<f64>| -> Vec<f64> {
                outcomes.iter().filter_map(|o| o.per_class.as_ref()).map(|p| 100.0 * f(p)[k]).collect()
            };
            let (a, b) = (side(&|p| &p.ft), side(&|p| &p.reference));
            header.push_str(&format!(" | test F1 {label}"));
            ft_row.push_str(&format!(" | {}", fmt(&a)));
            ref_row.push_str(&format!(" | {}", fmt(&b)));
            per_class_json.push(json!({"label": label, "ft": a, "reference": b}));
        }
    }
    let cols = header.matches(" | ").count();
    let table = format!("{header} |\n|---{}|\n{ft_row} |\n{ref_row} |\n", "|---:".repeat(cols));
    let mut per_seed =
        format!("| seed | ft test {0} | PyTorch test {0} | ft − PyTorch |\n|---:|---:|---:|---:|\n", columns.main.1);
    for ((seed, a), b) in seeds.iter().zip(&ft_main).zip(&ref_main) {
        per_seed.push_str(&format!("| {seed} | {a:.2} | {b:.2} | {:+.2} |\n", a - b));
    }
    let ((ft_mean, ft_sd), (ref_mean, ref_sd)) = (mean_sd(&ft_main), mean_sd(&ref_main));
    let n = args.seeds as f64;
    let diff = ft_mean - ref_mean;
    let noise = (ft_sd * ft_sd / n + ref_sd * ref_sd / n).sqrt();
    let within = diff >= -TOLERANCE_POINTS;
    let verdict = format!(
        "mean test {}, ft − PyTorch: {diff:+.2} points over {} seeds (standard error of the difference {noise:.2}: \
         the gap is {} the seed noise); ft within {TOLERANCE_POINTS:.1} point below the reference: {}",
        columns.main.1,
        args.seeds,
        if diff.abs() <= 2.0 * noise { "within twice" } else { "beyond twice" },
        if within { "yes" } else { "NO" }
    );
    println!("\n{}\n\n{table}\n{per_seed}\n{verdict}", first.recipe_line);
    let out_dir = workspace_root()?.join("target").join("compare");
    let md = format!(
        "# ft vs PyTorch + transformers: {name}\n\n{} (seeds {})\n\nMean ± sample standard deviation over the \
         seeds (×{scale}):\n\n{table}\n{per_seed}\n{verdict}\n\nEach seed's report: {}\n",
        first.recipe_line,
        seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        outcomes.iter().map(|o| format!("target/compare/{}.md", o.run_name)).collect::<Vec<_>>().join(", "),
    );
    let report = json!({
        "run": name,
        "seeds": seeds,
        "ft": {"test_main": ft_main, "test_second": ft_second},
        "reference": {"test_main": ref_main, "test_second": ref_second},
        "metric": columns.main.0,
        "second_metric": columns.second.0,
        "per_class_f1": per_class_json,
        "difference_of_means_points": diff,
        "standard_error_points": noise,
        "tolerance_points": TOLERANCE_POINTS,
        "within_tolerance": within,
        "runs": outcomes.iter().map(|o| o.run_name.clone()).collect::<Vec<_>>(),
        "table": table,
    });
    let (md_path, json_path) = (out_dir.join(format!("{name}.md")), out_dir.join(format!("{name}.json")));
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!("wrote {} and {} ({:.1}s in all)", md_path.display(), json_path.display(), t_all.elapsed().as_secs_f64());
    Ok(if within { 0 } else { 1 })
}

/// One comparison: the reference (cached or run), ft, and the report of this seed.
fn compare_once(args: &CompareArgs) -> Result<Outcome> {
    let CompareArgs { dataset, recipe, no_cache, ft_bin, mut ft_extra, group_by_length, .. } = args.clone();
    let root = workspace_root()?;
    let mut run_name = recipe.run_name(&dataset);
    // Extra `ft train` flags change ft's run, not the reference's: keep their outputs apart.
    for arg in &ft_extra {
        let word: String =
            arg.trim_start_matches('-').chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        if !word.is_empty() {
            run_name.push('.');
            run_name.push_str(&word);
        }
    }
    // The reference draws random batches (Trainer's default sampler); so does ft here unless asked
    // to group by length, its own default (less padding, a different order of examples).
    if group_by_length {
        run_name.push_str(".grouped");
    } else {
        ft_extra.insert(0, "--no-group-by-length".to_string());
    }
    let out_dir = root.join("target").join("compare");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let t_all = Instant::now();

    // The ft binary first: it also says where the dataset is.
    let ft = match ft_bin {
        Some(path) => {
            if !path.is_file() {
                bail!("--ft-bin {}: no such file", path.display());
            }
            path
        }
        None => build_ft(&root)?,
    };
    let data_dir = dataset_dir(&ft, &dataset)?;
    let splits: Vec<PathBuf> = split_files(&data_dir);
    let token = is_token_dataset(&data_dir);
    let qa = is_qa_dataset(&data_dir);
    let sts = is_sts_dataset(&data_dir);
    let mut recipe = recipe;
    // The issue's STS-B recipe: pairs of up to 128 tokens.
    if sts && recipe.max_len == Recipe::default().max_len {
        recipe.max_len = 128;
    }
    if qa {
        // run_qa.py's windows unless asked otherwise.
        if recipe.max_len == Recipe::default().max_len {
            recipe.max_len = 384;
        }
        recipe.doc_stride.get_or_insert(128);
        // The issue's recipe for long contexts: batches of 16 windows.
        if dataset == "atis-qa-long" && recipe.batch_size == Recipe::default().batch_size {
            recipe.batch_size = 16;
        }
    }
    let recipe = recipe;
    if !token && splits[0].extension().is_some_and(|e| e != "tsv" && e != "jsonl") {
        bail!("compare {dataset}: the reference reads TSV and JSONL datasets (and tagged CoNLL / JSONL ones)");
    }
    if token && recipe.max_train_examples.is_some() {
        bail!("--max-train-examples: not for token-classification datasets");
    }
    if !qa && recipe.doc_stride.is_some() {
        bail!("--doc-stride: only for question-answering datasets");
    }
    if !qa && recipe.max_eval_examples.is_some() {
        bail!("--max-eval-examples: only for question-answering datasets");
    }
    let (columns, scale) = match (token, qa) {
        _ if sts => (STS_COLUMNS, 100.0),
        (_, true) => (QA_COLUMNS, 1.0),
        (true, false) => (TOKEN_COLUMNS, 100.0),
        (false, false) => (SEQUENCE_COLUMNS, 100.0),
    };
    let model_dir = ft_assets::resolve_model(COMPARE_MODEL)
        .with_context(|| format!("resolving the packaged model `{COMPARE_MODEL}`"))?;
    let venv = ensure_venv()?;
    let python = venv_python(&venv);

    // The reference, from the cache when this exact recipe, stack, script and data ran before.
    let data_sha256 = sha256_files(&splits)?;
    let script = root.join(if qa {
        REFERENCE_QA_SCRIPT
    } else if sts {
        REFERENCE_STS_SCRIPT
    } else if token {
        REFERENCE_NER_SCRIPT
    } else {
        REFERENCE_SCRIPT
    });
    let script_sha256 = sha256_files(std::slice::from_ref(&script))?;
    let recipe_json = recipe.to_json(&dataset);
    let versions = pinned_versions(&root)?;
    let key_material = format!(
        "recipe {}\nversions {}\nscript {}\ndata {}\n",
        canonical_json(&recipe_json),
        versions.join(" "),
        script_sha256,
        data_sha256
    );
    let key = hex(&Sha256::digest(key_material.as_bytes()));
    let cache_dir = ft_assets::ft_home().join("reference");
    let cache_file = cache_dir.join(format!("{key}.json"));
    let mut reference_args: Vec<String> = vec![
        script.display().to_string(),
        "--model".into(),
        model_dir.display().to_string(),
        "--data".into(),
        data_dir.display().to_string(),
        "--out".into(),
        cache_file.display().to_string(),
    ];
    reference_args.extend(recipe.reference_flags());
    let reference_cached = cache_file.is_file() && !no_cache;
    let reference_wall = if reference_cached {
        println!("reference: cached {}", cache_file.display());
        None
    } else {
        println!("reference: running PyTorch + transformers ({})", shell_words(&python, &reference_args));
        std::fs::create_dir_all(&cache_dir).with_context(|| format!("creating {}", cache_dir.display()))?;
        let t = Instant::now();
        let mut cmd = Command::new(&python);
        cmd.args(&reference_args).current_dir(&root);
        run_checked(&mut cmd, REFERENCE_SCRIPT)?;
        let wall = t.elapsed().as_secs_f64();
        println!("reference: done in {wall:.1}s, cached as {}", cache_file.display());
        Some(wall)
    };
    let reference = read_json(&cache_file)?;
    if reference["data_sha256"].as_str() != Some(data_sha256.as_str()) {
        bail!(
            "{}: recorded data checksum {} differs from the data's {data_sha256}; rerun with --no-cache",
            cache_file.display(),
            reference["data_sha256"]
        );
    }
    if let Some(s) = number_at(&reference, &["total_seconds"]) {
        println!(
            "reference: took {s:.1}s (training {:.1}s)",
            number_at(&reference, &["train_seconds"]).unwrap_or(f64::NAN)
        );
    }

    // ft, on the same files.
    let ft_out = out_dir.join(&run_name);
    let mut ft_args: Vec<String> = vec!["train".into(), "--model".into(), COMPARE_MODEL.into()];
    if !token && !qa {
        // transformers' BertForSequenceClassification reads the pooler; ft's auto would read the mean
        // that all-MiniLM-L6-v2's sentence-transformers files name.
        ft_args.extend(["--pooling".to_string(), "pooler".to_string()]);
    }
    match (recipe.max_train_examples, recipe.max_eval_examples) {
        (None, None) => ft_args.extend(["--dataset".to_string(), dataset.clone()]),
        (train_n, eval_n) => {
            let dir = out_dir.join(format!("{run_name}.data"));
            let train = match train_n {
                Some(n) if qa => truncated_jsonl(&splits[0], n, &dir)?,
                Some(n) => truncated_train(&splits[0], n, &dir)?,
                None => splits[0].clone(),
            };
            let (validation, test) = match eval_n {
                Some(n) => (truncated_jsonl(&splits[1], n, &dir)?, truncated_jsonl(&splits[2], n, &dir)?),
                None => (splits[1].clone(), splits[2].clone()),
            };
            for (flag, file) in [("--train", &train), ("--validation", &validation), ("--test", &test)] {
                ft_args.extend([flag.to_string(), file.display().to_string()]);
            }
        }
    }
    ft_args.extend(["--output".to_string(), ft_out.display().to_string(), "--overwrite".to_string()]);
    ft_args.extend(recipe.common_flags());
    ft_args.extend(ft_extra.iter().cloned());
    println!("ft: running {}", shell_words(&ft, &ft_args));
    let mut cmd = Command::new(&ft);
    cmd.args(&ft_args).current_dir(&root);
    if let Some(n) = recipe.threads {
        cmd.env("RAYON_NUM_THREADS", n.to_string());
    }
    let t = Instant::now();
    run_checked(&mut cmd, "ft train")?;
    let ft_wall = t.elapsed().as_secs_f64();
    let ft_metrics = read_json(&ft_out.join("metrics.json"))?;
    println!("ft: done in {ft_wall:.1}s");
    let per_class = if token || qa || sts {
        None
    } else {
        let (labels, ft_f1) = ft_per_class(&ft, &ft_out, &splits[2], &root)?;
        let reference_f1: Option<Vec<f64>> =
            reference["test"]["per_class_f1"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect());
        let reference_labels: Option<Vec<&str>> =
            reference["labels"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect());
        match (reference_f1, reference_labels) {
            (Some(r), Some(names)) if names == labels.iter().map(String::as_str).collect::<Vec<_>>() => {
                Some(PerClass { labels, ft: ft_f1, reference: r })
            }
            (Some(_), Some(names)) => bail!("the reference's labels {names:?} differ from ft's {labels:?}"),
            _ => None,
        }
    };

    // Side by side.
    let rows = [
        Row {
            name: "ft",
            test_accuracy: number_at(&ft_metrics, &["test", columns.main.0]),
            test_macro_f1: number_at(&ft_metrics, &["test", columns.second.0]),
            validation_accuracy: number_at(&ft_metrics, &["validation", columns.main.0]),
            train_seconds: number_at(&ft_metrics, &["train_seconds"]),
            total_seconds: Some(ft_wall),
        },
        Row {
            name: "PyTorch",
            test_accuracy: number_at(&reference, &["test", columns.main.0]),
            test_macro_f1: number_at(&reference, &["test", columns.second.0]),
            validation_accuracy: number_at(&reference, &["validation", columns.main.0]),
            train_seconds: number_at(&reference, &["train_seconds"]),
            total_seconds: number_at(&reference, &["total_seconds"]),
        },
    ];
    let table = markdown_table(&rows, &columns, scale);
    let (ft_acc, ref_acc) = (
        rows[0].test_accuracy.with_context(|| format!("ft's metrics.json has no test.{}", columns.main.0))?,
        rows[1].test_accuracy.with_context(|| format!("the reference's result has no test.{}", columns.main.0))?,
    );
    let diff_points = scale * (ft_acc - ref_acc);
    let within = diff_points >= -TOLERANCE_POINTS;
    let verdict = format!(
        "test {}, ft − PyTorch: {diff_points:+.2} points; ft within {TOLERANCE_POINTS:.1} point below the reference: {}",
        columns.main.1,
        if within { "yes" } else { "NO" }
    );
    let speed = match (rows[0].train_seconds, rows[1].train_seconds) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => format!("training time, ft / PyTorch: {:.2}×", a / b),
        _ => String::new(),
    };
    let threads = reference["threads"].as_u64().map_or("?".to_string(), |n| n.to_string());
    let recipe_line = format!(
        "{COMPARE_MODEL} on {dataset}{}: --freeze {}, {} epoch(s), lr {}, batch {}, max_len {}, warmup ratio {}, \
         weight decay {}, seed {}, max grad norm {}; reference padding {}, {threads} torch thread(s); ft's batches: {}",
        recipe.max_train_examples.map(|n| format!(" (first {n} training rows)")).unwrap_or_default()
            + &recipe
                .max_eval_examples
                .map(|n| format!(" (first {n} validation and test questions)"))
                .unwrap_or_default(),
        recipe.freeze,
        recipe.epochs,
        recipe.lr,
        recipe.batch_size,
        recipe.max_len,
        recipe.warmup_ratio,
        recipe.weight_decay,
        recipe.seed,
        recipe.max_grad_norm,
        recipe.padding,
        if group_by_length { "grouped by length (ft's default)" } else { "random, as the reference's" },
    );
    let per_class_line = per_class.as_ref().map_or(String::new(), |p| {
        let list: Vec<String> = p
            .labels
            .iter()
            .zip(p.ft.iter().zip(&p.reference))
            .map(|(l, (a, b))| format!("{l} {:.2} / {:.2}", 100.0 * a, 100.0 * b))
            .collect();
        format!("\ntest F1 per class ×100, ft / PyTorch: {}\n", list.join(", "))
    });
    println!("\n{recipe_line}\n\n{table}\n{verdict}{per_class_line}");
    if !speed.is_empty() {
        println!("{speed}");
    }

    let md = format!(
        "# ft vs PyTorch + transformers: {run_name}\n\n{recipe_line}\n\n{table}\n{verdict}\n{per_class_line}{}\n\n\
         - ft: `{}` (wall time measured around the process)\n\
         - reference: `{}` ({}; cache key {key})\n\
         - versions: {}\n\
         - data sha256 (train, validation, test): {data_sha256}\n",
        if speed.is_empty() { String::new() } else { format!("\n{speed}") },
        shell_words(&ft, &ft_args),
        shell_words(&python, &reference_args),
        if reference_cached { "cached result" } else { "ran now" },
        versions.join(", "),
    );
    let report = json!({
        "run": run_name,
        "dataset": dataset,
        "recipe": recipe_json,
        "cache_key": key,
        "data_sha256": data_sha256,
        "script_sha256": script_sha256,
        "versions": versions,
        "difference_points": diff_points,
        "tolerance_points": TOLERANCE_POINTS,
        "within_tolerance": within,
        "ft": {
            "command": std::iter::once(ft.display().to_string()).chain(ft_args.iter().cloned()).collect::<Vec<_>>(),
            "extra_args": ft_extra,
            "wall_seconds": ft_wall,
            "metrics": ft_metrics,
        },
        "reference": {
            "cached": reference_cached,
            "cache_file": cache_file.display().to_string(),
            "wall_seconds_now": reference_wall,
            "result": reference,
        },
        "table": table,
        "per_class_f1": per_class.as_ref().map(|p| json!({"labels": p.labels, "ft": p.ft, "reference": p.reference})),
    });
    let md_path = out_dir.join(format!("{run_name}.md"));
    let json_path = out_dir.join(format!("{run_name}.json"));
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!("wrote {} and {} ({:.1}s in all)", md_path.display(), json_path.display(), t_all.elapsed().as_secs_f64());
    Ok(Outcome { run_name, recipe_line, columns, scale, ft_metrics, reference, per_class, within })
}
