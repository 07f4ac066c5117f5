//! Checkpoints that lose nothing: model parameters, optimizer state, the schedule's position, the
//! seed and the position in the epoch's data order, written atomically (temp dir + rename), keeping
//! the last K and the best.
//!
//! Parameters and optimizer state use burn's own records (burnpack), which keep parameter ids, so the
//! optimizer state finds its parameters again on resume. The HF-format model is written separately
//! (best/final model) by `ft_model::save_pretrained`.

use crate::TrainError;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The best model so far by the chosen metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Optimizer step it was measured at.
    pub step: usize,
    /// Metric name (e.g. `accuracy`, `loss`).
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// Where the checkpoint is, relative to the run directory (`checkpoints/step-…`); the loop finds
    /// it from `step`, so a moved or renamed run still finds its best checkpoint.
    pub checkpoint: PathBuf,
}

/// Everything besides tensors needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps completed.
    pub step: usize,
    /// Epoch in progress (0-based).
    pub epoch: usize,
    /// Micro-batches of this epoch already consumed.
    pub batch_in_epoch: usize,
    /// Base seed of the run (data order and dropout are derived from it and the position).
    pub seed: u64,
    /// Evaluations without improvement (early stopping).
    pub evals_without_improvement: usize,
    /// The best model so far.
    pub best: Option<Best>,
    /// What `model.bpk` holds (absent in checkpoints written before the field existed: the whole
    /// model).
    #[serde(default)]
    pub contents: Contents,
}

/// What a checkpoint's `model.bpk` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Contents {
    /// The whole model.
    #[default]
    Model,
    /// Only the module trained on cached features (the frozen-encoder recipe: ft-model's
    /// `PooledHead`, the classifier and the family's head dense layer where it has one); everything
    /// else is the run's base model, loaded again on resume and checked against `frozen_crc32`
    /// ([`crate::params::frozen_fingerprint`] of the parameters outside the head).
    PooledHead {
        /// Fingerprint of the base model's parameters outside the head when the run started.
        frozen_crc32: u32,
    },
}

const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "trainer_state.json";
/// Length and CRC-32 of each file above, written last and checked before any of them is read: burn's
/// record readers trust their input (burn-optim 0.22.1 panics on a record tensor without a parameter
/// id), so a damaged file must be caught before it reaches them.
const CHECKSUMS: &str = "checksums.json";

/// Length and CRC-32 of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileCheck {
    len: u64,
    crc32: u32,
}

fn file_check(path: &Path) -> Result<FileCheck, TrainError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(FileCheck { len, crc32: hasher.finalize() })
}

fn write_checksums(dir: &Path) -> Result<(), TrainError> {
    let mut checks = std::collections::BTreeMap::new();
    for name in [MODEL, OPTIMIZER, STATE] {
        checks.insert(name.to_string(), file_check(&dir.join(name))?);
    }
    let path = dir.join(CHECKSUMS);
    let json = serde_json::to_vec_pretty(&checks).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    std::fs::write(&path, json).map_err(io(&path))
}

/// Checks every file of the checkpoint in `dir` against `checksums.json`.
fn verify_checksums(dir: &Path) -> Result<(), TrainError> {
    let path = dir.join(CHECKSUMS);
    let text = std::fs::read(&path).map_err(|e| {
        TrainError::Checkpoint(format!(
            "{}: {e}; without it the checkpoint cannot be verified (written by an older ft, or damaged)",
            path.display()
        ))
    })?;
    let checks: std::collections::BTreeMap<String, FileCheck> = serde_json::from_slice(&text)
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e}; the checkpoint is damaged", path.display())))?;
    for name in [MODEL, OPTIMIZER, STATE] {
        let file = dir.join(name);
        let expected = checks.get(name).ok_or_else(|| {
            TrainError::Checkpoint(format!("{}: no entry for {name}; the checkpoint is damaged", path.display()))
        })?;
        let found = file_check(&file)?;
        if &found != expected {
            return Err(TrainError::Checkpoint(format!(
                "{}: {} bytes with CRC-32 {:08x}, but {CHECKSUMS} says {} bytes with {:08x}; the checkpoint is damaged",
                file.display(),
                found.len,
                found.crc32,
                expected.len,
                expected.crc32
            )));
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::Checkpoint(format!("{}: {e}", path.display()))
}

/// `dir/step-00000042`.
pub fn checkpoint_dir(dir: &Path, step: usize) -> PathBuf {
    dir.join(format!("step-{step:08}"))
}

/// Writes a checkpoint for `state.step` under `dir`, atomically, then prunes older ones so that the
/// last `keep_last` (and the best) remain. Returns the checkpoint's directory.
pub fn save_checkpoint<M: Module>(
    dir: &Path,
    model: &M,
    optim: &ModuleOptimizer,
    state: &TrainerState,
    keep_last: usize,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dest = checkpoint_dir(dir, state.step);
    let tmp = crate::atomic::temp_builder(".partial-", 0o777).tempdir_in(dir).map_err(io(dir))?;
    model
        .clone()
        .save_file(tmp.path().join(MODEL))
        .map_err(|e| TrainError::Checkpoint(format!("{}: cannot write: {e}", dest.join(MODEL).display())))?;
    optim
        .save(tmp.path().join(OPTIMIZER))
        .map_err(|e| TrainError::Checkpoint(format!("{}: cannot write: {e}", dest.join(OPTIMIZER).display())))?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    let state_path = tmp.path().join(STATE);
    std::fs::write(&state_path, json).map_err(io(&state_path))?;
    write_checksums(tmp.path())?;
    let tmp_path = tmp.keep();
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
    }
    std::fs::rename(&tmp_path, &dest).map_err(io(&dest))?;
    let best = state.best.as_ref().map(|b| checkpoint_dir(dir, b.step));
    prune(dir, keep_last, best.as_deref())?;
    Ok(dest)
}

/// Checkpoint directories under `dir`, oldest first.
pub fn list_checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("step-")))
                .filter(|p| p.join(STATE).is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn prune(dir: &Path, keep_last: usize, best: Option<&Path>) -> Result<(), TrainError> {
    let all = list_checkpoints(dir);
    let keep_from = all.len().saturating_sub(keep_last.max(1));
    for old in &all[..keep_from] {
        if Some(old.as_path()) != best {
            std::fs::remove_dir_all(old).map_err(io(old))?;
        }
    }
    Ok(())
}

/// What the checkpoint at `path` holds, from its `trainer_state.json` (the whole model when that file
/// cannot be read: [`load_checkpoint`] then reports the damage).
pub fn contents(path: &Path) -> Contents {
    std::fs::read(path.join(STATE))
        .ok()
        .and_then(|text| serde_json::from_slice::<TrainerState>(&text).ok())
        .map(|state| state.contents)
        .unwrap_or_default()
}

/// Reads a checkpoint into `model` (a skeleton of the same shape, on the training device) and
/// `optim` (built for that model).
pub fn load_checkpoint<M: Module>(
    path: &Path,
    model: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer, TrainerState), TrainError> {
    verify_checksums(path)?;
    let state_path = path.join(STATE);
    let text = std::fs::read(&state_path).map_err(io(&state_path))?;
    let state: TrainerState =
        serde_json::from_slice(&text).map_err(|e| TrainError::Checkpoint(format!("{}: {e}", state_path.display())))?;
    let damaged = |file: &str, e: String| {
        TrainError::Checkpoint(format!("{}: {e}; the checkpoint is damaged", path.join(file).display()))
    };
    // The checksums passed, so these files are what ft wrote; a panic in burn's readers would be a
    // bug, still reported as an error rather than a crash.
    let catch = |file: &str, e: Box<dyn std::any::Any + Send>| {
        let why = e.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| e.downcast_ref::<String>().cloned());
        damaged(file, format!("burn could not read it ({})", why.unwrap_or_default()))
    };
    let model = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.try_load_file(path.join(MODEL))))
        .map_err(|e| catch(MODEL, e))?
        .map_err(|e| damaged(MODEL, e.to_string()))?;
    let optim = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| optim.load(path.join(OPTIMIZER))))
        .map_err(|e| catch(OPTIMIZER, e))?
        .map_err(|e| damaged(OPTIMIZER, e.to_string()))?;
    Ok((model, optim, state))
}
