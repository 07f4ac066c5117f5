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
use ft_model::BertForSequenceClassification;
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
    /// Where the checkpoint is.
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
}

const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "trainer_state.json";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::Checkpoint(format!("{}: {e}", path.display()))
}

/// `dir/step-00000042`.
pub fn checkpoint_dir(dir: &Path, step: usize) -> PathBuf {
    dir.join(format!("step-{step:08}"))
}

/// Writes a checkpoint for `state.step` under `dir`, atomically, then prunes older ones so that the
/// last `keep_last` (and the best) remain. Returns the checkpoint's directory.
pub fn save_checkpoint(
    dir: &Path,
    model: &BertForSequenceClassification,
    optim: &ModuleOptimizer,
    state: &TrainerState,
    keep_last: usize,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dest = checkpoint_dir(dir, state.step);
    let tmp = tempfile::Builder::new().prefix(".partial-").tempdir_in(dir).map_err(io(dir))?;
    model
        .clone()
        .save_file(tmp.path().join(MODEL))
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e:?}", dest.join(MODEL).display())))?;
    optim
        .save(tmp.path().join(OPTIMIZER))
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e:?}", dest.join(OPTIMIZER).display())))?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    let state_path = tmp.path().join(STATE);
    std::fs::write(&state_path, json).map_err(io(&state_path))?;
    let tmp_path = tmp.keep();
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
    }
    std::fs::rename(&tmp_path, &dest).map_err(io(&dest))?;
    prune(dir, keep_last, state.best.as_ref().map(|b| b.checkpoint.as_path()))?;
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

/// Reads a checkpoint into `model` (a skeleton of the same shape, on the training device) and
/// `optim` (built for that model).
pub fn load_checkpoint(
    path: &Path,
    model: BertForSequenceClassification,
    optim: ModuleOptimizer,
) -> Result<(BertForSequenceClassification, ModuleOptimizer, TrainerState), TrainError> {
    let state_path = path.join(STATE);
    let text = std::fs::read(&state_path).map_err(io(&state_path))?;
    let state: TrainerState =
        serde_json::from_slice(&text).map_err(|e| TrainError::Checkpoint(format!("{}: {e}", state_path.display())))?;
    let model = model
        .try_load_file(path.join(MODEL))
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e:?}", path.join(MODEL).display())))?;
    let optim = optim
        .load(path.join(OPTIMIZER))
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e:?}", path.join(OPTIMIZER).display())))?;
    Ok((model, optim, state))
}
