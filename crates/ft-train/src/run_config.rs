//! The run's settings as written to `OUTPUT/run.toml` (and read back by `--resume`, `ft predict`, the
//! report): model, device, data and training, each a TOML table.
//!
//! Data paths are stored absolute, so a run can be resumed from another working directory; what
//! changing a setting on resume means is decided here too ([`RunConfig::changes_on_resume`]).

use crate::TrainError;
use crate::trainer::TrainSettings;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the data comes from and how it is read (`[data]` in run.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A packaged dataset (`rt-snippets`, `sms-spam`) instead of files.
    pub dataset: Option<String>,
    /// Training file.
    pub train: Option<PathBuf>,
    /// Validation file.
    pub validation: Option<PathBuf>,
    /// Test file.
    pub test: Option<PathBuf>,
    /// Tokens per example, special tokens included.
    pub max_len: usize,
    /// Text column (default: `sentence`, then `text`).
    pub text_column: Option<String>,
    /// Second text column (pairs).
    pub text_pair_column: Option<String>,
    /// Label column.
    pub label_column: String,
    /// Force the label kind: single_label, multi_label, regression.
    pub label_kind: Option<String>,
    /// Separator of multi-label fields.
    pub label_separator: String,
    /// Skip bad rows instead of failing.
    pub skip_bad_rows: bool,
    /// The label set in id order, instead of the sorted labels of the training file.
    pub labels: Option<Vec<String>>,
    /// Tagged files: the token column (0-based; default the first).
    pub token_column: Option<usize>,
    /// Tagged files: the tag column (0-based; default the last).
    pub tag_column: Option<usize>,
    /// Tagged files: label every sub-token, not only a word's first (`B-X` → `I-X` on the others).
    pub label_all_tokens: bool,
    /// Validation fraction split from training when there is no validation file.
    pub validation_split: f64,
    /// Longest row (line) of a data file, in bytes.
    pub max_row_bytes: usize,
    /// Question answering: context tokens shared by consecutive windows (run_qa's `doc_stride`).
    pub doc_stride: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: None,
            train: None,
            validation: None,
            test: None,
            max_len: 128,
            text_column: None,
            text_pair_column: None,
            label_column: "label".into(),
            label_kind: None,
            label_separator: ",".into(),
            skip_bad_rows: false,
            labels: None,
            token_column: None,
            tag_column: None,
            label_all_tokens: false,
            validation_split: 0.1,
            max_row_bytes: 1 << 20,
            doc_stride: ft_data::qa::DEFAULT_DOC_STRIDE,
        }
    }
}

/// The whole run, as written to `OUTPUT/run.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Model directory or packaged asset.
    pub model: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// The task (head); `None`: from the data (tagged files → token classification).
    pub task: Option<ft_model::Task>,
    /// What the sequence head reads (`--pooling`); `None`: what the model directory says
    /// (`ft_model::Pooling::detect`).
    pub pooling: Option<ft_model::Pooling>,
    /// Replace a classifier of the wrong size.
    pub reinit_head: bool,
    /// Data.
    pub data: DataConfig,
    /// Training.
    pub training: TrainSettings,
}

/// Settings that may differ on `--resume` without changing what is computed.
const FREE_ON_RESUME: [&str; 5] =
    ["device", "training.eval_batch_size", "training.save_every", "training.keep_last", "data.max_row_bytes"];

impl RunConfig {
    /// Reads `path` (a run.toml or a `--config` file).
    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Config(format!("{}: cannot read: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            TrainError::Config(format!("{}: not a valid ft run config: {}", path.display(), e.message().trim()))
        })
    }

    /// The settings as TOML.
    pub fn to_toml(&self) -> Result<String, TrainError> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Config(format!("serialising run.toml: {e}")))
    }

    /// The data files and a local model directory made absolute (relative to the working directory),
    /// so that run.toml means the same from anywhere. Packaged names stay as they are.
    pub fn with_absolute_paths(mut self) -> Self {
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let d = &mut self.data;
        for path in [&mut d.train, &mut d.validation, &mut d.test].into_iter().flatten() {
            *path = abs(path);
        }
        if let Some(model) = &self.model
            && Path::new(model).is_dir()
        {
            self.model = Some(abs(&PathBuf::from(model)).display().to_string());
        }
        // A class-weights file, like the data, is read again on --resume from anywhere.
        let weights = &mut self.training.class_weights;
        if !matches!(weights.as_str(), "none" | "balanced" | "") {
            *weights = abs(&PathBuf::from(&*weights)).display().to_string();
        }
        self
    }

    /// Checks that the data files a resumed run needs are still where run.toml says.
    pub fn check_data_files(&self, run_toml: &Path) -> Result<(), TrainError> {
        let d = &self.data;
        for (key, path) in [("train", &d.train), ("validation", &d.validation), ("test", &d.test)] {
            if let Some(path) = path
                && !path.is_file()
            {
                return Err(TrainError::Config(format!(
                    "{}: [data] {key} = {}: no such file; the run was trained on it — put it back, or pass --{key} FILE with the same data",
                    run_toml.display(),
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// The settings that differ from `saved` (the run's run.toml) and would change what a resumed
    /// run computes, as `key: old → new` lines; empty when resuming is safe.
    pub fn changes_on_resume(&self, saved: &RunConfig) -> Vec<String> {
        let flat = |c: &RunConfig| {
            let mut out = Vec::new();
            if let Ok(toml::Value::Table(t)) = toml::Value::try_from(c) {
                flatten("", &toml::Value::Table(t), &mut out);
            }
            out
        };
        let (new, old) = (flat(self), flat(saved));
        let keys: std::collections::BTreeSet<&String> = new.iter().chain(old.iter()).map(|(k, _)| k).collect();
        let get = |v: &[(String, String)], k: &str| {
            v.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_else(|| "(unset)".into())
        };
        keys.into_iter()
            .filter(|k| !FREE_ON_RESUME.contains(&k.as_str()))
            .filter_map(|k| {
                let (a, b) = (get(&old, k), get(&new, k));
                (a != b).then(|| format!("{k}: {a} → {b}"))
            })
            .collect()
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_changes_list_what_alters_the_run_and_ignore_the_rest() {
        let saved = RunConfig::default();
        let mut new = saved.clone();
        new.training.eval_batch_size = 8;
        new.training.keep_last = 5;
        new.device = Some("wgpu".into());
        assert!(new.changes_on_resume(&saved).is_empty());
        new.training.lr = 1e-3;
        new.training.batch_size = 8;
        new.training.freeze = "encoder".into();
        let changes = new.changes_on_resume(&saved);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(changes.iter().any(|c| c.starts_with("training.batch_size: 32 → 8")), "{changes:?}");
        assert!(changes.iter().any(|c| c.starts_with("training.lr:")), "{changes:?}");
        assert!(changes.iter().any(|c| c.contains("\"none\" → \"encoder\"")), "{changes:?}");
    }

    #[test]
    fn run_toml_round_trips_and_rejects_unknown_keys() {
        let mut c = RunConfig { model: Some("m".into()), ..Default::default() };
        c.data.train = Some("/data/train.tsv".into());
        let back: RunConfig = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(toml::from_str::<RunConfig>("[training]\nlearning_rate = 1.0\n").is_err());
    }

    #[test]
    fn data_paths_become_absolute() {
        let mut c = RunConfig::default();
        c.data.train = Some("train.tsv".into());
        let c = c.with_absolute_paths();
        assert!(c.data.train.unwrap().is_absolute());
    }
}
