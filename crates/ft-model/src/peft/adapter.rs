//! Adapter-only directories in PEFT's format: `adapter_config.json` (PEFT's `LoraConfig`) and
//! `adapter_model.safetensors` with PEFT's tensor names —
//! `base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight` `[r, in]`,
//! `….lora_B.weight` `[out, r]`, and the head under its own name (`base_model.model.classifier.weight`),
//! as `modules_to_save` is saved — so that `peft.PeftModel.from_pretrained(base, dir)` loads what ft
//! trained, and ft loads what PEFT trained.
//!
//! ft also writes `ft_config.json`: the model's `config.json` as a full save would write it (labels,
//! problem type, pooling, thresholds), which PEFT does not keep and ft needs to predict.
//!
//! [`AdapterInfo`] tells the four kinds of adapter directory apart (LoRA, prompt and prefix tuning in
//! PEFT's format, bottleneck adapters in ft's) and [`load_any_adapter`] attaches any of them to a base
//! model; the checks every loader makes on the weights file are [`check_tensor_table`] and
//! [`apply_checked`].

use super::lora::{LoraSettings, adapted_layers, attach};
use crate::checkpoint::header::{SafetensorsHeader, parse_header};
use crate::checkpoint::names::head_modules;
use crate::heads::task::{Head, Task};
use crate::{BertConfig, ModelError, Peft};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// PEFT's config file.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// PEFT's weights file.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
/// ft's copy of the model config (labels, problem type, pooling, thresholds).
pub const FT_CONFIG: &str = "ft_config.json";
/// The prefix PEFT's `PeftModel` puts before the wrapped model's names.
pub const PEFT_PREFIX: &str = "base_model.model.";

/// The method of an adapter directory, by `adapter_config.json`'s `peft_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// `LORA`: low-rank branches (merged into the weights by `ft convert --adapter`).
    Lora,
    /// `PROMPT_TUNING`: virtual tokens before the text.
    Prompt,
    /// `PREFIX_TUNING`: key/value prefixes in every layer.
    Prefix,
    /// `BOTTLENECK` (ft's own format): adapters in the output blocks, with the LayerNorms.
    Bottleneck,
}

impl AdapterKind {
    /// What the method is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Lora => "LoRA",
            Self::Prompt => "prompt tuning",
            Self::Prefix => "prefix tuning",
            Self::Bottleneck => "bottleneck adapters",
        }
    }
}

/// What every adapter directory's `adapter_config.json` says, whatever its method.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterInfo {
    /// The method.
    pub kind: AdapterKind,
    /// `base_model_name_or_path`, if recorded.
    pub base_model: Option<String>,
    /// PEFT's `task_type`, if recorded.
    pub task_type: Option<String>,
}

impl AdapterInfo {
    /// Reads `dir/adapter_config.json`'s method, base model and task; a `peft_type` ft cannot load is
    /// refused by name.
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        let (path, value) = read_adapter_json(dir)?;
        let get = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
        let kind = match get("peft_type").as_deref() {
            Some("LORA") => AdapterKind::Lora,
            Some("PROMPT_TUNING") => AdapterKind::Prompt,
            Some("PREFIX_TUNING") => AdapterKind::Prefix,
            Some("BOTTLENECK") => AdapterKind::Bottleneck,
            Some(other) => {
                return Err(ModelError::Config {
                    path,
                    reason: format!(
                        "`peft_type` is {other}; ft loads LORA, PROMPT_TUNING, PREFIX_TUNING and its own BOTTLENECK adapters"
                    ),
                });
            }
            None => {
                return Err(ModelError::Config {
                    path,
                    reason: "no `peft_type`; is this a PEFT adapter directory?".into(),
                });
            }
        };
        Ok(Self { kind, base_model: get("base_model_name_or_path"), task_type: get("task_type") })
    }
}

/// `dir/adapter_config.json` parsed (its path for errors, and its JSON object).
pub(crate) fn read_adapter_json(dir: &Path) -> Result<(PathBuf, Value), ModelError> {
    let path = dir.join(ADAPTER_CONFIG);
    if !path.is_file() {
        return Err(ModelError::MissingFile { dir: dir.to_path_buf(), file: ADAPTER_CONFIG });
    }
    let text = std::fs::read_to_string(&path).map_err(ModelError::io(&path))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| ModelError::ConfigJson { path: path.clone(), source: e })?;
    if !value.is_object() {
        return Err(ModelError::Config { path, reason: "expected a JSON object".into() });
    }
    Ok((path, value))
}

/// `dir/adapter_model.safetensors`: its path, bytes and parsed header.
pub(crate) fn read_adapter_weights(dir: &Path) -> Result<(PathBuf, Vec<u8>, SafetensorsHeader), ModelError> {
    let weights = dir.join(ADAPTER_WEIGHTS);
    if !weights.is_file() {
        return Err(ModelError::MissingFile { dir: dir.to_path_buf(), file: ADAPTER_WEIGHTS });
    }
    let bytes = std::fs::read(&weights).map_err(ModelError::io(&weights))?;
    let header = parse_header(&bytes, bytes.len() as u64, &weights)?;
    Ok((weights, bytes, header))
}

/// The adapter file's tensor table against what the method and the base model imply: every tensor
/// of the file is expected (`what` names the adapter in the error), has the expected shape, and every
/// expected tensor is there.
pub fn check_tensor_table(
    weights: &Path,
    header: &SafetensorsHeader,
    expected: &[(String, Vec<usize>)],
    what: &str,
) -> Result<(), ModelError> {
    let refuse = |reason: String| ModelError::Config { path: weights.to_path_buf(), reason };
    for t in &header.tensors {
        match expected.iter().find(|(n, _)| *n == t.key) {
            None => return Err(refuse(format!("tensor {} is not part of {what}", t.key))),
            Some((name, shape)) if *shape != t.shape => {
                return Err(ModelError::ShapeMismatch {
                    path: weights.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                    found: t.shape.clone(),
                    hint: " (with adapter_config.json); was the adapter trained on another base model, or its config edited?"
                        .into(),
                });
            }
            Some(_) => {}
        }
    }
    if let Some((missing, _)) = expected.iter().find(|(n, _)| !header.tensors.iter().any(|t| &t.key == n)) {
        return Err(refuse(format!("tensor {missing} is missing ({what})")));
    }
    Ok(())
}

/// Loads `store` into `model` and checks that exactly `expected` tensors were applied, none failing.
pub fn apply_checked<H: Head>(
    model: &mut H,
    store: &mut SafetensorsStore,
    expected: usize,
    weights: &Path,
) -> Result<(), ModelError> {
    let result = model
        .load_from(store)
        .map_err(|e| ModelError::Safetensors { path: weights.to_path_buf(), reason: e.to_string() })?;
    if !result.errors.is_empty() || result.applied.len() != expected {
        let reasons: Vec<String> = result.errors.iter().take(5).map(|e| e.to_string()).collect();
        return Err(ModelError::Apply {
            path: weights.to_path_buf(),
            reason: format!("{} of {expected} tensors applied; {}", result.applied.len(), reasons.join("; ")),
        });
    }
    Ok(())
}

/// `model` (a base model) with the adapter in `dir` attached, whatever its method (see
/// [`AdapterInfo`]): LoRA branches, virtual tokens, prefixes or bottleneck adapters, and the head the
/// adapter carries. Returns the method and its settings.
pub fn load_any_adapter<H: Head>(
    model: H,
    config: &BertConfig,
    dir: &Path,
    device: &Device,
) -> Result<(H, Peft), ModelError> {
    Ok(match AdapterInfo::read(dir)?.kind {
        AdapterKind::Lora => {
            let (model, adapter) = load_adapter(model, config, dir, device)?;
            (model, Peft::Lora(adapter.lora))
        }
        AdapterKind::Prompt => {
            let (model, settings) = super::prompt::load_adapter(model, config, dir, device)?;
            (model, Peft::Prompt(settings))
        }
        AdapterKind::Prefix => {
            let (model, settings) = super::prefix::load_adapter(model, config, dir, device)?;
            (model, Peft::Prefix(settings))
        }
        AdapterKind::Bottleneck => {
            let (model, settings) = super::bottleneck::load_adapter(model, config, dir, device)?;
            (model, Peft::Adapters(settings))
        }
    })
}

/// The head of a PEFT adapter of `model`, in the family's names: what `modules_to_save` lists, the
/// module paths the saver keeps, and every head tensor (canonical and file name, shape). The head's own
/// dense layer where the family has one (RoBERTa's `classifier.dense`, DistilBERT's `pre_classifier`,
/// DeBERTa's `pooler`, ModernBERT's `head`) is part of it: it trains in full with the classifier.
pub(crate) struct AdapterHead {
    /// `modules_to_save` (`classifier`; `pre_classifier` and `classifier`; …).
    pub modules_to_save: Vec<String>,
    /// A regular expression over module paths that selects the head's parameters.
    pub keep: String,
    /// (file name, shape) of every head tensor, as the adapter file names it (without PEFT's prefix).
    pub tensors: Vec<(String, Vec<usize>)>,
}

impl AdapterHead {
    /// The head of `model` (built from `config`).
    pub fn of<H: Head>(model: &H, config: &BertConfig) -> Self {
        let family = model.bert().family;
        let mut modules = head_modules::<H>(config, model.num_labels());
        let mut tensors: Vec<(String, Vec<usize>)> = H::head_tensors(config, model.num_labels())
            .into_iter()
            .map(|t| (family.file_name(H::TASK, &t.name), t.shape))
            .collect();
        if model.bert().pooler.as_ref().is_some_and(|p| p.in_head) {
            modules.push("bert.pooler".into());
            let dense = crate::checkpoint::names::encoder_tensors(config, true)
                .into_iter()
                .filter(|t| t.name.starts_with("bert.pooler."));
            tensors.extend(dense.map(|t| (family.file_name(H::TASK, &t.name), t.shape)));
        }
        let mut modules_to_save: Vec<String> = Vec::new();
        for (file, _) in &tensors {
            let top = file.split('.').next().unwrap_or_default().to_string();
            if !modules_to_save.contains(&top) {
                modules_to_save.push(top);
            }
        }
        let keep = format!(r"^({})\.", modules.join("|").replace('.', r"\."));
        Self { modules_to_save, keep, tensors }
    }
}

/// PEFT's `task_type` for a head.
pub fn peft_task_type(task: Task) -> &'static str {
    match task {
        Task::SequenceClassification => "SEQ_CLS",
        Task::TokenClassification => "TOKEN_CLS",
        Task::QuestionAnswering => "QUESTION_ANS",
    }
}

/// What an adapter directory says: the LoRA settings, the base model it was trained on and the task.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfig {
    /// r, alpha, dropout, targets.
    pub lora: LoraSettings,
    /// `base_model_name_or_path`: what `--model` named when it was trained (a packaged name or a
    /// directory), if recorded.
    pub base_model: Option<String>,
    /// PEFT's `task_type`, if recorded.
    pub task_type: Option<String>,
    /// `modules_to_save`: the head modules saved in full.
    pub modules_to_save: Vec<String>,
}

impl AdapterConfig {
    /// Reads and checks `dir/adapter_config.json`. Anything of PEFT's that ft does not compute (DoRA,
    /// rsLoRA, LoRA biases, per-layer ranks, other PEFT types) is refused by name, not ignored.
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        let (path, value) = read_adapter_json(dir)?;
        Self::from_json(&value, &path)
    }

    /// [`AdapterConfig::read`] on parsed JSON; `path` names the file in errors.
    pub fn from_json(value: &Value, path: &Path) -> Result<Self, ModelError> {
        let bad = |reason: String| ModelError::Config { path: path.to_path_buf(), reason };
        let obj = value.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
        let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
        match get("peft_type").and_then(Value::as_str) {
            Some("LORA") => {}
            Some(other) => return Err(bad(format!("`peft_type` is {other}; ft loads LORA adapters"))),
            None => return Err(bad("no `peft_type`; is this a PEFT adapter directory?".into())),
        }
        let truthy = |k: &str| get(k).is_some_and(|v| v.as_bool().unwrap_or(true));
        for (key, what) in [
            ("use_dora", "DoRA"),
            ("use_rslora", "rank-stabilised scaling (rsLoRA)"),
            ("fan_in_fan_out", "fan_in_fan_out (Conv1D layers)"),
            ("lora_bias", "a bias on lora_B"),
        ] {
            if truthy(key) {
                return Err(bad(format!("`{key}` is set: ft does not compute {what}")));
            }
        }
        if let Some(b) = get("bias").and_then(Value::as_str).filter(|b| *b != "none") {
            return Err(bad(format!("`bias` is \"{b}\": ft trains no base biases under LoRA (\"none\")")));
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if get(key).and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
                return Err(bad(format!("`{key}` is set: ft uses one rank and alpha for every layer")));
            }
        }
        for key in ["layers_to_transform", "target_parameters", "trainable_token_indices"] {
            if get(key).is_some() {
                return Err(bad(format!("`{key}` is set: ft does not support it; remove it or retrain")));
            }
        }
        let number = |k: &str| -> Result<f64, ModelError> {
            get(k).and_then(Value::as_f64).ok_or_else(|| bad(format!("`{k}` is missing or not a number")))
        };
        let r = number("r")?;
        if r.fract() != 0.0 || r < 1.0 {
            return Err(bad(format!("`r` is {r}; expected a positive integer")));
        }
        let targets = match get("target_modules") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(format!("`target_modules` holds {v}"))))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::String(s)) => {
                return Err(bad(format!(
                    "`target_modules` is the regular expression \"{s}\"; ft reads a list of names (e.g. [\"query\", \"value\"])"
                )));
            }
            _ => return Err(bad("`target_modules` is missing".into())),
        };
        let lora = LoraSettings {
            r: r as usize,
            alpha: number("lora_alpha")?,
            dropout: get("lora_dropout").and_then(Value::as_f64).unwrap_or(0.0),
            targets,
        };
        lora.check().map_err(|e| bad(e.to_string()))?;
        let modules_to_save = match get("modules_to_save") {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            lora,
            base_model: get("base_model_name_or_path").and_then(Value::as_str).map(str::to_string),
            task_type: get("task_type").and_then(Value::as_str).map(str::to_string),
            modules_to_save,
        })
    }

    /// The JSON PEFT writes for these settings (PEFT's defaults for everything ft does not vary).
    pub fn to_json(&self) -> Value {
        let mut targets = self.lora.targets.clone();
        targets.sort();
        json!({
            "peft_type": "LORA",
            "task_type": self.task_type,
            "base_model_name_or_path": self.base_model,
            "r": self.lora.r,
            "lora_alpha": self.lora.alpha,
            "lora_dropout": self.lora.dropout,
            "target_modules": targets,
            "modules_to_save": self.modules_to_save,
            "bias": "none",
            "fan_in_fan_out": false,
            "init_lora_weights": true,
            "inference_mode": true,
            "use_rslora": false,
            "use_dora": false,
            "rank_pattern": {},
            "alpha_pattern": {},
            "revision": null,
        })
    }
}

/// Writes the adapter of `model` (its LoRA branches and its head) to `out` in PEFT's format, with
/// `config` (the model's full config, labels included) as `ft_config.json`. Atomic as
/// [`crate::save_pretrained`]: `out` is the old directory or the complete new one.
pub fn save_adapter<H: Head>(
    model: &H,
    settings: &LoraSettings,
    config: &BertConfig,
    base_model: Option<&str>,
    out: &Path,
    overwrite: bool,
) -> Result<(), ModelError> {
    let adapted = adapted_layers(model.bert());
    if adapted.is_empty() {
        return Err(ModelError::Input("the model has no LoRA branches: nothing to save as an adapter".into()));
    }
    let family = model.bert().family;
    // The head modules under the family's names (RoBERTa's `classifier` holds its dense layer and
    // `out_proj`; DistilBERT's `pre_classifier` and DeBERTa's `pooler` are modules of their own).
    let head = AdapterHead::of(model, config);
    let mut lora = settings.clone();
    if family != crate::Family::Bert {
        let mut probe = model.bert().clone();
        let mut layers = Vec::new();
        let _ = super::lora::visit_linears::<std::convert::Infallible>(&mut probe, &mut |name, _, _| {
            layers.push((name.to_string(), super::lora::adapted_name(family, name)));
            Ok(())
        });
        lora.targets = settings.targets_in_family_names(&layers);
    }
    let adapter = AdapterConfig {
        lora,
        base_model: base_model.map(str::to_string),
        task_type: Some(peft_task_type(H::TASK).into()),
        modules_to_save: head.modules_to_save.clone(),
    };
    crate::checkpoint::save::write_dir(out, overwrite, |tmp| {
        write_json(&tmp.join(ADAPTER_CONFIG), &adapter.to_json())?;
        let mut ft_config = crate::checkpoint::save::head_config(config, H::TASK, model.num_labels());
        model.pooling().write_to(&mut ft_config);
        // In the family's own keys (DistilBERT's `n_layers`, ModernBERT's `norm_eps`), as config.json.
        let ft_config = ft_config.to_json_value();
        write_json(&tmp.join(FT_CONFIG), &ft_config)?;
        let weights = tmp.join(ADAPTER_WEIGHTS);
        let keep = format!(r"(_lora\.lora_[ab]\.weight$|{})", head.keep);
        let mut store = SafetensorsStore::from_file(&weights)
            .with_to_adapter(BurnToPyTorchAdapter)
            .clear_metadata()
            .metadata("format", "pt")
            .with_regex(keep)
            .with_key_remapping(r"\.self_attention\.", ".self.")
            .with_key_remapping(r"_lora\.lora_a\.", ".lora_A.")
            .with_key_remapping(r"_lora\.lora_b\.", ".lora_B.");
        // Canonical names → the family's (`roberta.…`, `distilbert.transformer.layer.0.attention.q_lin`).
        for (pattern, replacement) in family.save_rules(H::TASK) {
            store = store.with_key_remapping(pattern.as_str(), *replacement);
        }
        let mut store = store.with_key_remapping(r"^(.*)$", format!("{PEFT_PREFIX}$1"));
        model
            .save_into(&mut store)
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?;
        crate::checkpoint::save::same_mode_as(&tmp.join(ADAPTER_CONFIG), &weights)?;
        Ok(())
    })
}

fn write_json(path: &Path, value: &Value) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ModelError::Output { path: path.to_path_buf(), reason: e.to_string() })?;
    std::fs::write(path, text + "\n").map_err(ModelError::io(path))
}

/// `model` (a base model, frozen by this call) with the adapter in `dir` attached: its branches and
/// its head loaded from `adapter_model.safetensors`. Every tensor of the file must be one ft places
/// and have the shape the settings imply; every branch and head tensor must be in the file.
pub fn load_adapter<H: Head>(
    model: H,
    config: &BertConfig,
    dir: &Path,
    device: &Device,
) -> Result<(H, AdapterConfig), ModelError> {
    let adapter = AdapterConfig::read(dir)?;
    let weights = dir.join(ADAPTER_WEIGHTS);
    if !weights.is_file() {
        return Err(ModelError::MissingFile { dir: dir.to_path_buf(), file: ADAPTER_WEIGHTS });
    }
    let bytes = std::fs::read(&weights).map_err(ModelError::io(&weights))?;
    let header = parse_header(&bytes, bytes.len() as u64, &weights)?;

    let mut adapted = Vec::new();
    let model = model.try_map_bert(|bert| {
        let (bert, names) = attach(bert, &adapter.lora, None, device)?;
        adapted = names;
        Ok::<_, ModelError>(bert)
    })?;

    // Every expected tensor with its shape, in PEFT's names.
    let mut expected: Vec<(String, Vec<usize>)> = Vec::new();
    let family = model.bert().family;
    let file_name = |canonical: &str| family.file_name(H::TASK, canonical);
    let mut probe = model.bert().clone();
    let _ = super::lora::visit_linears::<std::convert::Infallible>(&mut probe, &mut |name, linear, slot| {
        if slot.is_some() {
            let [d_in, d_out] = linear.weight.dims();
            let a = file_name(&format!("{name}.lora_A.weight"));
            let b = file_name(&format!("{name}.lora_B.weight"));
            expected.push((format!("{PEFT_PREFIX}{a}"), vec![adapter.lora.r, d_in]));
            expected.push((format!("{PEFT_PREFIX}{b}"), vec![d_out, adapter.lora.r]));
        }
        Ok(())
    });
    // ModernBERT's fused Wqkv: one branch `H → 3H` per adapted layer.
    for (l, layer) in model.bert().encoder.layer.iter().enumerate() {
        if layer.attention.self_attention.qkv_lora.is_some() {
            let [d_in, d_out] = layer.attention.self_attention.query.weight.dims();
            let name = super::lora::fused_qkv_name(l);
            let a = file_name(&format!("{name}.lora_A.weight"));
            let b = file_name(&format!("{name}.lora_B.weight"));
            expected.push((format!("{PEFT_PREFIX}{a}"), vec![adapter.lora.r, d_in]));
            expected.push((format!("{PEFT_PREFIX}{b}"), vec![3 * d_out, adapter.lora.r]));
        }
    }
    for (name, shape) in AdapterHead::of(&model, config).tensors {
        expected.push((format!("{PEFT_PREFIX}{name}"), shape));
    }
    for t in &header.tensors {
        match expected.iter().find(|(n, _)| *n == t.key) {
            None => {
                return Err(ModelError::Safetensors {
                    path: weights.clone(),
                    reason: format!(
                        "tensor {} is not part of a LoRA adapter of {} on this model (adapted layers: {})",
                        t.key,
                        H::TASK.architecture(),
                        adapted.len()
                    ),
                });
            }
            Some((name, shape)) if *shape != t.shape => {
                return Err(ModelError::Safetensors {
                    path: weights.clone(),
                    reason: format!(
                        "tensor {name} has shape {:?}, but adapter_config.json (r {}) and the base model imply {shape:?}; \
                         was the adapter trained on another base model?",
                        t.shape, adapter.lora.r
                    ),
                });
            }
            Some(_) => {}
        }
    }
    let missing: Vec<String> =
        expected.iter().filter(|(n, _)| !header.tensors.iter().any(|t| &t.key == n)).map(|(n, _)| n.clone()).collect();
    if !missing.is_empty() {
        let head_dense = family.file_name(H::TASK, "bert.pooler.dense.weight");
        let hint = match missing.iter().any(|n| n.ends_with(&head_dense)) {
            true => format!(
                "; the {} head's dense layer ({}) is not in the file: PEFT's default modules_to_save leaves it at \
                 its random initialisation, which cannot be rebuilt — train the adapter with it in modules_to_save",
                family.name(),
                head_dense.trim_end_matches(".weight")
            ),
            false => String::new(),
        };
        return Err(ModelError::MissingTensors {
            path: weights.clone(),
            names: missing,
            layers: config.num_hidden_layers,
            file_layers: None,
            hint,
        });
    }

    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .with_key_remapping(format!("^{}", PEFT_PREFIX.replace('.', r"\.")), "");
    // The family's names → canonical ones (the inverse of saving's rules).
    for (pattern, replacement) in family.load_rules() {
        store = store.with_key_remapping(pattern.as_str(), *replacement);
    }
    let mut store = store
        .with_key_remapping(r"\.attention\.self\.", ".attention.self_attention.")
        .with_key_remapping(r"\.lora_A\.", "_lora.lora_a.")
        .with_key_remapping(r"\.lora_B\.", "_lora.lora_b.");
    let mut model = model;
    let result = model
        .load_from(&mut store)
        .map_err(|e| ModelError::Safetensors { path: weights.clone(), reason: e.to_string() })?;
    if !result.errors.is_empty() || result.applied.len() != expected.len() {
        let reasons: Vec<String> = result.errors.iter().take(5).map(|e| e.to_string()).collect();
        return Err(ModelError::Apply {
            path: weights,
            reason: format!("{} of {} tensors applied; {}", result.applied.len(), expected.len(), reasons.join("; ")),
        });
    }
    Ok((model, adapter))
}

/// The directory an adapter's `base_model_name_or_path` names, relative paths resolved against the
/// adapter directory's parent first.
pub fn base_candidates(adapter_dir: &Path, base: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(parent) = adapter_dir.parent() {
        out.push(parent.join(base));
    }
    out.push(PathBuf::from(base));
    out
}
