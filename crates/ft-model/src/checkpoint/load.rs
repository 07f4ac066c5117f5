//! Loading a HuggingFace model directory (`config.json` + `model.safetensors`) into any [`Head`]
//! (`BertForSequenceClassification`, `BertForTokenClassification`, …), with a load report and errors
//! that name the tensor and shapes.
//!
//! The file's header is checked against what `config.json` implies before the data is read or the
//! model is allocated ([`super::plan`]), so a wrong shape or a missing tensor is reported in HF's own
//! names, and the weights are checked to be finite. burn-store then applies the tensors (transposing
//! Linear weights, mapping LayerNorm weight/bias to gamma/beta).

use super::header::{LEN_PREFIX, SafetensorsHeader, header_len, parse_header};
use super::names::{Part, head_modules};
use super::plan::{Plan, check_finite, plan};
use crate::bert::model::BertPooler;
use crate::heads::pooling::Pooling;
use crate::heads::sequence_classification::BertForSequenceClassification;
use crate::heads::task::{Head, Task};
use crate::init::Init;
use crate::{BertConfig, ModelError};
use burn::module::Module as _;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;
use std::collections::BTreeMap;
use std::io::Read;
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
    /// What the sequence head reads (`--pooling`). `None`: what the directory says
    /// ([`Pooling::detect`]: ft's `config.json` key, sentence-transformers' files, else the pooler).
    /// Other heads accept only `None` or the pooler.
    pub pooling: Option<Pooling>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { labels: None, reinit_classifier: false, seed: 42, pooling: None }
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
    /// The sequence head's pooling and why (`--pooling`, the directory's files, transformers'
    /// default); `None` for the other heads.
    pub pooling: Option<(Pooling, String)>,
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
pub struct PretrainedModel<H = BertForSequenceClassification> {
    /// The directory it came from.
    pub dir: PathBuf,
    /// The config, with the head's labels set.
    pub config: BertConfig,
    /// The model.
    pub model: H,
    /// What happened while loading.
    pub report: LoadReport,
}

/// Loads `dir` onto `device` as head `H`: the encoder from the file, the head from the file when its
/// tensors are there with the right shapes, else fresh (as transformers' `from_pretrained`).
///
/// In order: `config.json` is read and validated; the safetensors header (only its first `8 + N`
/// bytes) is compared with the config, so a wrong or absurd config fails before anything large is
/// allocated; then the data is read once, every applied weight is checked to be finite, and burn-store
/// applies the tensors to a model built with placeholder zeros.
pub fn load_pretrained<H: Head>(
    dir: &Path,
    options: &LoadOptions,
    device: &Device,
) -> Result<PretrainedModel<H>, ModelError> {
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
    let index = dir.join(SHARD_INDEX);
    if !weights.is_file() && !index.is_file() {
        return Err(ModelError::MissingFile { dir: dir.to_path_buf(), file: "model.safetensors" });
    }
    let mut config = BertConfig::from_file(&config_path)?;
    let (header, bytes, weights) = if config.family() == crate::Family::ModernBert {
        // ModernBERT fuses the query, key and value projections into one `Wqkv`: split first, so that
        // the rest is BERT's loading (the header check then runs on the split file).
        let (raw, path) = match weights.is_file() {
            true => (std::fs::read(&weights).map_err(ModelError::io(&weights))?, weights),
            false => (merge_shards(dir, &index)?, index),
        };
        let bytes = crate::bert::modern::split_fused_qkv(&raw)
            .map_err(|reason| ModelError::Safetensors { path: path.clone(), reason })?;
        let header = parse_header(&bytes, bytes.len() as u64, &path)?;
        (header, bytes, path)
    } else if weights.is_file() {
        let mut reader = WeightsReader::open(&weights)?;
        let header = reader.header()?;
        plan::<H>(&header, &config, options, &weights, &config_path)?;
        (header, reader.read_all()?, weights)
    } else {
        // A sharded checkpoint: its shards merged into one buffer, then as one file.
        let bytes = merge_shards(dir, &index)?;
        let header = parse_header(&bytes, bytes.len() as u64, &index)?;
        (header, bytes, index)
    };
    let plan = plan::<H>(&header, &config, options, &weights, &config_path)?;
    check_finite(&bytes, &header, &plan, &weights)?;
    let Plan { num_labels, fresh_head, fresh_pooler, mut report, virtual_tokens, family, .. } = plan;
    debug_assert!(fresh_head || Task::of_config(&config).is_none_or(|t| t == H::TASK));
    if let Some(saved) = Task::of_config(&config)
        && saved != H::TASK
    {
        report.notes.push(format!(
            "config.json says {}; loaded as {}: the encoder carries over, the head is fresh",
            family.architecture(saved),
            family.architecture(H::TASK)
        ));
    }

    // Build with placeholder weights and apply the file.
    let mut model = H::build(&config, num_labels, &mut Init::Zeros, device);
    if let Some(settings) = crate::peft::prefix::PrefixSettings::of_config(&config, &config_path)? {
        // A model ft saved with prefixes: build them (the file fills them).
        model = model.try_map_bert(|bert| {
            crate::peft::prefix::attach(bert, &settings, 0, device).map(|bert| bert.set_require_grad(true))
        })?;
        report.notes.push(format!(
            "prefix tuning: {} key/value positions per layer (ft reads them; transformers does not)",
            settings.num_virtual_tokens
        ));
    }
    if let Some(settings) = crate::peft::bottleneck::BottleneckSettings::of_config(&config, &config_path)? {
        // A model ft saved with bottleneck adapters: build them (zeros) for the file to fill.
        model = model.try_map_bert(|bert| {
            crate::peft::bottleneck::attach(bert, &settings, 0, device).map(|(bert, _)| bert.set_require_grad(true))
        })?;
        report.notes.push(format!(
            "bottleneck adapters ({:?}, reduction {}): ft reads them; transformers does not",
            settings.architecture, settings.reduction
        ));
    }
    if let Some(p) = virtual_tokens {
        // A prompt-tuned model ft saved: the virtual tokens are part of it.
        let h = config.hidden_size;
        model = model.map_bert(|mut bert| {
            bert.embeddings.prompt = Some(burn::nn::Embedding {
                weight: burn::module::Param::from_tensor(burn::tensor::Tensor::zeros([p, h], device)),
            });
            bert
        });
        report.notes.push(format!(
            "prompt tuning: {p} virtual tokens before every text (ft reads them; transformers does not)"
        ));
    }
    // File names → module paths: the family's names become BERT's (tensors it ignores are moved out
    // of the way first, so that RoBERTa's pretraining pooler cannot land on its head's dense layer),
    // then BERT's own renames.
    let mut store =
        SafetensorsStore::from_bytes(Some(bytes)).with_from_adapter(PyTorchToBurnAdapter).allow_partial(true);
    if family != crate::Family::Bert {
        for (i, tensor) in header.tensors.iter().enumerate() {
            if family.ignored(&tensor.key) && tensor.key.len() < 1000 {
                store =
                    store.with_key_remapping(format!("^{}$", regex::escape(&tensor.key)), format!("not_loaded_{i}"));
            }
        }
        // DeBERTa without `position_biased_input` has no position table: a file's is ignored (see
        // the plan), and must not reach a module path.
        if family.positions(&config) == crate::family::Positions::None {
            store =
                store.with_key_remapping(r"^(deberta\.)?embeddings\.position_embeddings\.", "not_loaded_positions.");
        }
        if family.qa_classifier_name(H::TASK).is_some() {
            store = store.with_key_remapping(r"^classifier\.", "qa_outputs.");
        }
        for (pattern, replacement) in family.load_rules() {
            store = store.with_key_remapping(pattern.as_str(), *replacement);
        }
    }
    store = store
        .with_key_remapping(r"^bert\.", "")
        .with_key_remapping(r"^(embeddings|encoder|pooler)\.", "bert.$1.")
        .with_key_remapping(r"LayerNorm\.gamma$", "LayerNorm.weight")
        .with_key_remapping(r"LayerNorm\.beta$", "LayerNorm.bias")
        .with_key_remapping(r"\.attention\.self\.", ".attention.self_attention.")
        .with_key_remapping(r"LayerNorm\.", "layer_norm.");
    if fresh_head {
        for module in head_modules::<H>(&config, num_labels) {
            store = store.with_key_remapping(format!(r"^{}\.", regex_escape(&module)), format!("not_loaded_{module}."));
        }
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

    // Fresh parts (announced in the report's notes by the plan).
    let range = config.initializer_range;
    if fresh_pooler {
        let dense =
            Init::normal(options.seed.wrapping_add(1), range).linear(config.hidden_size, config.hidden_size, device);
        model = model.map_bert(|mut bert| {
            bert.pooler = Some(BertPooler::new(&config, dense));
            bert
        });
    }
    if fresh_head {
        model = model.with_fresh_head(&config, num_labels, options.seed, device);
    }
    if H::TASK == Task::SequenceClassification {
        let (pooling, why) = match options.pooling {
            Some(p) => (p, "--pooling".to_string()),
            None => Pooling::detect(dir, &config)?,
        };
        model = model.with_pooling(pooling)?;
        pooling.write_to(&mut config);
        report.pooling = Some((pooling, why));
    } else if let Some(p) = options.pooling {
        model = model.with_pooling(p)?;
    }

    // The config now describes the model in memory.
    if let Some(labels) = &options.labels {
        config.set_labels(labels);
    } else if config.num_labels.is_none() && config.id2label.is_none() {
        config.set_labels(&config.label_names());
    }
    Ok(PretrainedModel { dir: dir.to_path_buf(), config, model, report })
}

/// `s` with the regex metacharacters escaped (module names are identifiers; this only keeps a `.` from
/// matching anything).
fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if !c.is_ascii_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// The index of a sharded checkpoint, as transformers writes it (`weight_map`: tensor → shard file).
pub const SHARD_INDEX: &str = "model.safetensors.index.json";

/// The shards `index` names (in `dir`) merged into the bytes of one safetensors file: every tensor of
/// every shard once, F32/F16/BF16 as stored. A shard that is missing or damaged, a tensor in two
/// shards, or a shard name that leaves the directory is an error naming it.
fn merge_shards(dir: &Path, index: &Path) -> Result<Vec<u8>, ModelError> {
    let text = std::fs::read_to_string(index).map_err(ModelError::io(index))?;
    let bad = |reason: String| ModelError::Config { path: index.to_path_buf(), reason };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ModelError::ConfigJson { path: index.to_path_buf(), source: e })?;
    let map =
        value["weight_map"].as_object().ok_or_else(|| bad("no `weight_map` object (tensor → shard file)".into()))?;
    let mut shards: Vec<&str> = Vec::new();
    for v in map.values() {
        let name = v.as_str().ok_or_else(|| bad(format!("`weight_map` holds {v}; expected file names")))?;
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(bad(format!("shard {name:?} is not a file name in this directory")));
        }
        if !shards.contains(&name) {
            shards.push(name);
        }
    }
    if shards.is_empty() {
        return Err(bad("`weight_map` is empty".into()));
    }
    let mut files = Vec::with_capacity(shards.len());
    for name in &shards {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(bad(format!("names shard {name}, which is not in {}", dir.display())));
        }
        files.push((path.clone(), std::fs::read(&path).map_err(ModelError::io(&path))?));
    }
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    for (path, bytes) in &files {
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::Safetensors { path: path.clone(), reason: e.to_string() })?;
        for (name, view) in tensors.tensors() {
            if views.iter().any(|(n, _)| *n == name) {
                return Err(ModelError::Safetensors {
                    path: path.clone(),
                    reason: format!("tensor {name} is in two shards"),
                });
            }
            views.push((name, view));
        }
    }
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| ModelError::Safetensors { path: index.to_path_buf(), reason: e.to_string() })
}

/// Reads `model.safetensors` in two steps: the header first (to compare it with the config before
/// anything large is allocated), then the rest into the same buffer, so the data is read and held once.
struct WeightsReader {
    path: PathBuf,
    file: std::fs::File,
    len: u64,
    bytes: Vec<u8>,
}

impl WeightsReader {
    fn open(path: &Path) -> Result<Self, ModelError> {
        let file = std::fs::File::open(path).map_err(ModelError::io(path))?;
        let len = file.metadata().map_err(ModelError::io(path))?.len();
        Ok(Self { path: path.to_path_buf(), file, len, bytes: Vec::new() })
    }

    /// Reads and parses the first `8 + N` bytes.
    fn header(&mut self) -> Result<SafetensorsHeader, ModelError> {
        let path = self.path.clone();
        (&mut self.file).take(LEN_PREFIX as u64).read_to_end(&mut self.bytes).map_err(ModelError::io(&path))?;
        let n = header_len(&self.bytes, self.len, &path)?;
        (&mut self.file).take(n as u64).read_to_end(&mut self.bytes).map_err(ModelError::io(&path))?;
        parse_header(&self.bytes, self.len, &path)
    }

    /// The whole file: the header already read plus the data.
    fn read_all(mut self) -> Result<Vec<u8>, ModelError> {
        let path = &self.path;
        let too_large = || ModelError::Io {
            path: path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("the file is {} bytes, more than this process can hold in memory", self.len),
            ),
        };
        let len = usize::try_from(self.len).map_err(|_| too_large())?;
        self.bytes.try_reserve_exact(len.saturating_sub(self.bytes.len())).map_err(|_| too_large())?;
        self.file.read_to_end(&mut self.bytes).map_err(ModelError::io(path))?;
        if self.bytes.len() as u64 != self.len {
            return Err(ModelError::Safetensors {
                path: path.clone(),
                reason: format!(
                    "it was {} bytes when opened and {} bytes were read; was it being written meanwhile?",
                    self.len,
                    self.bytes.len()
                ),
            });
        }
        Ok(self.bytes)
    }
}
