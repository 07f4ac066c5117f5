//! Loading a HuggingFace model directory (`config.json` + `model.safetensors`) into
//! [`BertForSequenceClassification`], with a load report and errors that name the tensor and shapes.
//!
//! The file's header is checked against what `config.json` implies before any weight is applied, so a
//! wrong shape or a missing tensor is reported in HF's own names. burn-store then applies the tensors
//! (transposing Linear weights, mapping LayerNorm weight/bias to gamma/beta).

use super::names::{FileKey, Part, canonical, expected_tensors};
use crate::heads::sequence_classification::BertForSequenceClassification;
use crate::init::Init;
use crate::{BertConfig, ModelError};
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Choices the caller makes about the head.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The class names the head must predict (from the training data). `None`: keep the config's.
    pub labels: Option<Vec<String>>,
    /// Replace a classifier of the wrong size with a fresh one instead of failing.
    pub reinit_classifier: bool,
    /// Seed of freshly initialised parts (head, pooler).
    pub seed: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { labels: None, reinit_classifier: false, seed: 42 }
    }
}

/// What was loaded, what was initialised fresh, and what in the file was left alone.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// The weights file read.
    pub weights_file: PathBuf,
    /// Number of tensors in the file.
    pub file_tensors: usize,
    /// Number of values in all tensors of the file (buffers included).
    pub file_values: usize,
    /// Canonical names of the tensors loaded from the file.
    pub applied: Vec<String>,
    /// Canonical names of the tensors initialised fresh.
    pub fresh: Vec<String>,
    /// File keys deliberately not loaded (`embeddings.position_ids`, `cls.*`).
    pub ignored: Vec<String>,
    /// File keys that are not part of this model.
    pub unexpected: Vec<String>,
    /// Values loaded, per part.
    pub loaded_values: BTreeMap<Part, usize>,
    /// Values initialised fresh, per part.
    pub fresh_values: BTreeMap<Part, usize>,
    /// Things the user should know (fresh pooler, re-initialised head, …).
    pub notes: Vec<String>,
}

impl LoadReport {
    /// Parameters loaded from the checkpoint.
    pub fn loaded_parameters(&self) -> usize {
        self.loaded_values.values().sum()
    }

    /// Parameters initialised fresh.
    pub fn fresh_parameters(&self) -> usize {
        self.fresh_values.values().sum()
    }
}

/// A model loaded from disk with its config and report.
#[derive(Debug)]
pub struct PretrainedModel {
    /// The directory it came from.
    pub dir: PathBuf,
    /// The config, with the head's labels set.
    pub config: BertConfig,
    /// The model.
    pub model: BertForSequenceClassification,
    /// What happened while loading.
    pub report: LoadReport,
}

struct FileTensor {
    key: String,
    shape: Vec<usize>,
    dtype: String,
    values: usize,
}

/// Loads `dir` onto `device`.
pub fn load_pretrained(dir: &Path, options: &LoadOptions, device: &Device) -> Result<PretrainedModel, ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::Output {
            path: dir.to_path_buf(),
            reason: "not a directory; pass the directory that holds config.json and model.safetensors".into(),
        });
    }
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(ModelError::MissingFile { dir: dir.to_path_buf(), file: "config.json" });
    }
    let weights = dir.join("model.safetensors");
    if !weights.is_file() {
        return Err(ModelError::MissingFile { dir: dir.to_path_buf(), file: "model.safetensors" });
    }
    let mut config = BertConfig::from_file(&config_path)?;
    let bytes = std::fs::read(&weights).map_err(ModelError::io(&weights))?;
    let file = read_header(&weights, &bytes)?;

    // The head's size: the user's labels, else the config's.
    let config_labels = config.labels_count();
    let num_labels = options.labels.as_ref().map_or(config_labels, |l| l.len());
    if num_labels == 0 {
        return Err(ModelError::Config {
            path: config_path.clone(),
            reason: "the head would have 0 labels; a classifier needs at least one class".into(),
        });
    }

    let mut report = LoadReport { weights_file: weights.clone(), file_tensors: file.len(), ..Default::default() };
    report.file_values = file.iter().map(|t| t.values).sum();
    let mut found: HashMap<String, &FileTensor> = HashMap::new();
    for tensor in &file {
        match canonical(&tensor.key) {
            FileKey::Ignored => report.ignored.push(tensor.key.clone()),
            FileKey::Tensor(name) => {
                found.insert(name, tensor);
            }
        }
    }

    let expected = expected_tensors(&config, num_labels);
    let mut missing = Vec::new();
    let mut fresh_head = false;
    let mut fresh_pooler = false;
    for tensor in &expected {
        let Some(in_file) = found.get(&tensor.name) else {
            match tensor.part {
                Part::Head => fresh_head = true,
                Part::Pooler => fresh_pooler = true,
                _ => missing.push(tensor.name.clone()),
            }
            continue;
        };
        if !matches!(in_file.dtype.as_str(), "F32" | "F16" | "BF16") {
            return Err(ModelError::DType {
                path: weights.clone(),
                name: in_file.key.clone(),
                dtype: in_file.dtype.clone(),
            });
        }
        if in_file.shape != tensor.shape {
            if tensor.part == Part::Head && options.reinit_classifier {
                fresh_head = true;
                continue;
            }
            let hint = if tensor.part == Part::Head {
                format!(
                    " ({num_labels} labels); the checkpoint's head was trained for {} labels — pass --reinit-head to replace it with a fresh one",
                    in_file.shape.first().copied().unwrap_or(0)
                )
            } else {
                String::new()
            };
            return Err(ModelError::ShapeMismatch {
                path: weights.clone(),
                name: in_file.key.clone(),
                expected: tensor.shape.clone(),
                found: in_file.shape.clone(),
                hint,
            });
        }
    }
    if !missing.is_empty() {
        let extra_layers =
            found.keys().any(|k| k.starts_with(&format!("bert.encoder.layer.{}.", config.num_hidden_layers)));
        let hint = if extra_layers {
            "; the file has more layers than config.json — is config.json from another model?".to_string()
        } else {
            String::new()
        };
        return Err(ModelError::MissingTensors {
            path: weights.clone(),
            names: missing,
            layers: config.num_hidden_layers,
            hint,
        });
    }
    // A head of the right size is loaded only if both of its tensors are; a half head is re-initialised.
    let head_in_file = expected.iter().filter(|t| t.part == Part::Head).all(|t| found.contains_key(&t.name));
    fresh_head |= !head_in_file;
    let pooler_in_file = expected.iter().filter(|t| t.part == Part::Pooler).all(|t| found.contains_key(&t.name));
    fresh_pooler |= !pooler_in_file;

    let expected_names: HashMap<&str, Part> = expected.iter().map(|t| (t.name.as_str(), t.part)).collect();
    for tensor in &file {
        if let FileKey::Tensor(name) = canonical(&tensor.key)
            && !expected_names.contains_key(name.as_str())
        {
            report.unexpected.push(tensor.key.clone());
        }
    }

    // Build with placeholder weights and apply the file.
    let mut model = BertForSequenceClassification::new_for_labels(&config, num_labels, &mut Init::Zeros, device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .with_key_remapping(r"^bert\.", "")
        .with_key_remapping(r"^(embeddings|encoder|pooler)\.", "bert.$1.")
        .with_key_remapping(r"LayerNorm\.gamma$", "LayerNorm.weight")
        .with_key_remapping(r"LayerNorm\.beta$", "LayerNorm.bias")
        .with_key_remapping(r"\.attention\.self\.", ".attention.self_attention.")
        .with_key_remapping(r"LayerNorm\.", "layer_norm.");
    if fresh_head {
        store = store.with_key_remapping(r"^classifier\.", "not_loaded_classifier.");
    }
    if fresh_pooler {
        store = store.with_key_remapping(r"^bert\.pooler\.", "not_loaded_pooler.");
    }
    let result = model
        .load_from(&mut store)
        .map_err(|e| ModelError::Safetensors { path: weights.clone(), reason: e.to_string() })?;
    if !result.errors.is_empty() {
        let reasons: Vec<String> = result.errors.iter().take(5).map(|e| e.to_string()).collect();
        return Err(ModelError::Apply { path: weights.clone(), reason: reasons.join("; ") });
    }

    for tensor in &expected {
        let values: usize = tensor.shape.iter().product();
        let is_fresh = match tensor.part {
            Part::Head => fresh_head,
            Part::Pooler => fresh_pooler,
            _ => false,
        };
        if is_fresh {
            report.fresh.push(tensor.name.clone());
            *report.fresh_values.entry(tensor.part).or_default() += values;
        } else {
            report.applied.push(tensor.name.clone());
            *report.loaded_values.entry(tensor.part).or_default() += values;
        }
    }
    if result.applied.len() != report.applied.len() {
        let missing: Vec<String> =
            result.missing.iter().map(|(p, _)| p.clone()).filter(|p| !p.contains("not_loaded")).take(5).collect();
        return Err(ModelError::Apply {
            path: weights.clone(),
            reason: format!(
                "{} tensors applied but {} expected; not applied: {}",
                result.applied.len(),
                report.applied.len(),
                missing.join(", ")
            ),
        });
    }

    let range = config.initializer_range;
    if fresh_pooler {
        model.bert.pooler.dense =
            Init::normal(options.seed.wrapping_add(1), range).linear(config.hidden_size, config.hidden_size, device);
        report.notes.push(
            "the checkpoint has no pooler: bert.pooler.dense was initialised fresh (N(0, initializer_range)); fine-tune before trusting pooled outputs".into(),
        );
    }
    if fresh_head {
        model.classifier = Init::normal(options.seed, range).linear(config.hidden_size, num_labels, device);
        report.notes.push(format!(
            "classifier initialised fresh for {num_labels} labels (weights N(0, {range}), bias 0, seed {}): train it before use",
            options.seed
        ));
    }

    // The config now describes the model in memory.
    if let Some(labels) = &options.labels {
        config.set_labels(labels);
    } else if config.num_labels.is_none() && config.id2label.is_none() {
        config.set_labels(&config.label_names());
    }
    Ok(PretrainedModel { dir: dir.to_path_buf(), config, model, report })
}

fn read_header(path: &Path, bytes: &[u8]) -> Result<Vec<FileTensor>, ModelError> {
    let tensors = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| ModelError::Safetensors { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut out: Vec<FileTensor> = tensors
        .iter()
        .map(|(key, view)| FileTensor {
            key: key.to_string(),
            shape: view.shape().to_vec(),
            dtype: format!("{:?}", view.dtype()),
            values: view.shape().iter().product(),
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}
