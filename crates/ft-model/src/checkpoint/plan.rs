//! What loading a checkpoint will do, decided from `config.json` and the safetensors header alone:
//! which tensors are applied, which are initialised fresh, and every reason to refuse — before any
//! weight is read or any model memory is allocated.
//!
//! The order matters. `num_hidden_layers` is compared with the layers the file has before the list of
//! expected tensors is built (a config saying 10⁹ layers must not make a list of 1.6·10¹⁰ names); then
//! every tensor except the head and pooler must be in the file with the shape the config implies, so
//! the model's size is bounded by the file's; and what is left to initialise fresh is bounded too.

use super::header::{SafetensorsHeader, count_non_finite, parse_header};
use super::load::{LoadOptions, LoadReport};
use super::names::{ExpectedTensor, FileKey, Part, canonical_for_task, expected_tensors, head_modules};
use crate::heads::task::{Head, Task};
use crate::{BertConfig, Family, ModelError};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The most values the loader initialises fresh (head and pooler together): 2²⁸ f32 values, 1 GiB.
/// Real heads are thousands of values; more means `num_labels` or `--labels` is wrong.
pub const MAX_FRESH_VALUES: usize = 1 << 28;

/// The decision: the report to return, and what to build.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The head's size.
    pub num_labels: usize,
    /// The classifier is initialised fresh (absent, half present, or re-initialised on request).
    pub fresh_head: bool,
    /// The pooler is initialised fresh (absent from the file).
    pub fresh_pooler: bool,
    /// The report, complete but for what applying the weights confirms.
    pub report: LoadReport,
    /// Virtual tokens of prompt tuning found in the file (`bert.embeddings.prompt.weight`, ft's own
    /// name for a prompt-tuned model it saved).
    pub virtual_tokens: Option<usize>,
    /// The checkpoint's family (`config.json`'s `model_type`), which names its tensors.
    pub family: Family,
    /// The head's task (some families name a head's tensors after it).
    pub task: crate::Task,
}

/// Validates a whole safetensors file held in memory (`bytes`) against `config` — header, names,
/// shapes, dtypes — without a device and without reading tensor data; returns the report loading it
/// would give. `path` names the file in messages (`config.json` beside it names the config).
///
/// Never panics and never allocates more than the header's size, whatever `bytes` and `config` hold.
pub fn check_safetensors_header<H: Head>(
    bytes: &[u8],
    config: &BertConfig,
    options: &LoadOptions,
    path: &Path,
) -> Result<LoadReport, ModelError> {
    let config_path = path.with_file_name("config.json");
    config.validate().map_err(|reason| ModelError::Config { path: config_path.clone(), reason })?;
    let header = parse_header(bytes, bytes.len() as u64, path)?;
    Ok(plan::<H>(&header, config, options, path, &config_path)?.report)
}

/// [`check_safetensors_header`], then the tensor data too: every weight that would be applied must be
/// finite. This is everything [`load_pretrained`](super::load::load_pretrained) checks before it
/// builds the model.
pub fn check_safetensors<H: Head>(
    bytes: &[u8],
    config: &BertConfig,
    options: &LoadOptions,
    path: &Path,
) -> Result<LoadReport, ModelError> {
    let config_path = path.with_file_name("config.json");
    config.validate().map_err(|reason| ModelError::Config { path: config_path.clone(), reason })?;
    let header = parse_header(bytes, bytes.len() as u64, path)?;
    let plan = plan::<H>(&header, config, options, path, &config_path)?;
    check_finite(bytes, &header, &plan, path)?;
    Ok(plan.report)
}

/// Compares the header with `config` (validated) and decides what to load.
pub(crate) fn plan<H: Head>(
    header: &SafetensorsHeader,
    config: &BertConfig,
    options: &LoadOptions,
    weights: &Path,
    config_path: &Path,
) -> Result<Plan, ModelError> {
    // The head's size: the user's labels, else the config's.
    let num_labels = options.labels.as_ref().map_or(config.labels_count(), |l| l.len());
    if num_labels == 0 {
        return Err(ModelError::Config {
            path: config_path.to_path_buf(),
            reason: "the head would have 0 labels; a classifier needs at least one class".into(),
        });
    }
    let file = &header.tensors;
    let mut report = LoadReport {
        weights_file: weights.to_path_buf(),
        file_tensors: file.len(),
        file_values: file.iter().fold(0usize, |n, t| n.saturating_add(t.values)),
        ..Default::default()
    };
    let family = config.family();
    let mut found = HashMap::new();
    for tensor in file {
        match canonical_for_task(family, H::TASK, &tensor.key) {
            FileKey::Ignored => report.ignored.push(tensor.key.clone()),
            FileKey::Tensor(name) => {
                found.insert(name, tensor);
            }
        }
    }
    // Report names as the file spells them: with the `bert.` prefix or without (sentence-transformers),
    // or in the family's own names.
    let prefixed = file.iter().any(|t| t.key.starts_with("bert."));
    let shown = |name: &str| match family {
        Family::Bert if !prefixed => name.trim_start_matches("bert.").to_string(),
        // ModernBERT's file holds the fused projection ft splits into query, key and value.
        Family::ModernBert => {
            let file = family.file_name(H::TASK, name);
            ["Wq", "Wk", "Wv"].iter().fold(file, |f, w| f.replace(&format!(".attn.{w}."), ".attn.Wqkv."))
        }
        _ => family.file_name(H::TASK, name),
    };

    // Layers first: a config with more layers than the file must fail before the expected list exists.
    let layers_in_file: BTreeSet<usize> =
        found.keys().filter_map(|k| k.strip_prefix("bert.encoder.layer.")?.split('.').next()?.parse().ok()).collect();
    let file_layers = layers_in_file.len();
    let first_absent = (0..=file_layers).find(|i| !layers_in_file.contains(i)).unwrap_or(file_layers);
    if first_absent < config.num_hidden_layers {
        return Err(ModelError::MissingTensors {
            path: weights.to_path_buf(),
            names: vec![shown(&format!("bert.encoder.layer.{first_absent}.attention.self.query.weight"))],
            layers: config.num_hidden_layers,
            file_layers: Some(file_layers),
            hint: format!(
                "; the file has no tensors of layer {first_absent} — is config.json from another model? num_hidden_layers must match the checkpoint"
            ),
        });
    }

    let expected = expected_tensors::<H>(config, num_labels);
    let mut missing = Vec::new();
    // A head trained for another task (config.json names another architecture) is never reused, even
    // when its tensors have the same names and shapes: only the encoder carries over.
    let saved_task = Task::of_config(config).filter(|t| *t != H::TASK);
    let (mut fresh_head, mut fresh_pooler) = (saved_task.is_some(), false);
    for tensor in &expected {
        let Some(in_file) = found.get(&tensor.name) else {
            match tensor.part {
                Part::Head => fresh_head = true,
                Part::Pooler => fresh_pooler = true,
                _ => missing.push(shown(&tensor.name)),
            }
            continue;
        };
        if !matches!(in_file.dtype, safetensors::Dtype::F32 | safetensors::Dtype::F16 | safetensors::Dtype::BF16) {
            return Err(ModelError::DType {
                path: weights.to_path_buf(),
                name: in_file.key.clone(),
                dtype: in_file.dtype.to_string(),
            });
        }
        if in_file.shape != tensor.shape {
            if tensor.part == Part::Head && (options.reinit_classifier || saved_task.is_some()) {
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
                path: weights.to_path_buf(),
                name: in_file.key.clone(),
                expected: tensor.shape.clone(),
                found: in_file.shape.clone(),
                hint,
            });
        }
    }
    if !missing.is_empty() {
        let extra_layers = layers_in_file.range(config.num_hidden_layers..).next().is_some();
        let hint = if extra_layers {
            "; the file has more layers than config.json — is config.json from another model?".to_string()
        } else {
            String::new()
        };
        return Err(ModelError::MissingTensors {
            path: weights.to_path_buf(),
            names: missing,
            layers: config.num_hidden_layers,
            file_layers: Some(file_layers),
            hint,
        });
    }
    // A head of the right size is loaded only if both of its tensors are; a half head is re-initialised.
    fresh_head |= !expected.iter().filter(|t| t.part == Part::Head).all(|t| found.contains_key(&t.name));
    fresh_pooler |= !expected.iter().filter(|t| t.part == Part::Pooler).all(|t| found.contains_key(&t.name));
    let is_fresh = |part| match part {
        Part::Head => fresh_head,
        Part::Pooler => fresh_pooler,
        _ => false,
    };

    // Everything else matched the file's shapes; what is initialised fresh must be bounded too.
    let size = |t: &ExpectedTensor| t.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    let fresh_values = expected
        .iter()
        .filter(|t| is_fresh(t.part))
        .try_fold(0usize, |n, t| size(t).and_then(|s| n.checked_add(s)))
        .filter(|&n| n <= MAX_FRESH_VALUES);
    if fresh_values.is_none() {
        let source = if options.labels.is_some() { "the labels given" } else { "num_labels / id2label in config.json" };
        return Err(ModelError::Config {
            path: config_path.to_path_buf(),
            reason: format!(
                "the model would need more than {MAX_FRESH_VALUES} freshly initialised values (a head of {num_labels} labels × hidden_size {}{}); check {source}",
                config.hidden_size,
                if fresh_pooler { ", plus the pooler" } else { "" }
            ),
        });
    }

    let expected_names: HashSet<&str> = expected.iter().map(|t| t.name.as_str()).collect();
    let mut pooler_dropped = false;
    let mut virtual_tokens = None;
    for tensor in file {
        if let FileKey::Tensor(name) = canonical_for_task(family, H::TASK, &tensor.key)
            && !expected_names.contains(name.as_str())
        {
            // A model ft saved with bottleneck adapters (config.json's `ft_adapters`): the loader builds
            // them, burn-store checks their shapes.
            if name.contains(".attention.self.prefix_")
                && config.extra.contains_key(crate::peft::prefix::PrefixSettings::CONFIG_KEY)
            {
                report.applied.push(name.clone());
                *report.loaded_values.entry(Part::Encoder).or_default() += tensor.values;
                continue;
            }
            if name.contains(".output.adapter.")
                && config.extra.contains_key(crate::peft::bottleneck::BottleneckSettings::CONFIG_KEY)
            {
                report.applied.push(name.clone());
                *report.loaded_values.entry(Part::Encoder).or_default() += tensor.values;
                continue;
            }
            if name == crate::peft::prompt::PROMPT_MODULE_TENSOR && H::TASK == crate::Task::SequenceClassification {
                match tensor.shape[..] {
                    [p, h] if h == config.hidden_size && p > 0 && p < config.max_position_embeddings => {
                        virtual_tokens = Some(p);
                        report.applied.push(name.clone());
                        *report.loaded_values.entry(Part::Embeddings).or_default() += tensor.values;
                        continue;
                    }
                    _ => {
                        return Err(ModelError::ShapeMismatch {
                            path: weights.to_path_buf(),
                            name: tensor.key.clone(),
                            expected: vec![0, config.hidden_size],
                            found: tensor.shape.clone(),
                            hint:
                                " (virtual tokens of prompt tuning: [P, hidden_size], P below max_position_embeddings)"
                                    .into(),
                        });
                    }
                }
            }
            // DeBERTa without `position_biased_input` has no absolute position table; transformers
            // ignores one in the file (`_keys_to_ignore_on_load_unexpected`), and so does ft.
            if name == "bert.embeddings.position_embeddings.weight"
                && family.positions(config) == crate::family::Positions::None
            {
                report.ignored.push(tensor.key.clone());
                continue;
            }
            // A head without a pooler (transformers' add_pooling_layer=False) leaves the checkpoint's
            // pooler unused by design, as transformers does.
            if !H::POOLER && !family.head_transform() && name.starts_with("bert.pooler.") {
                report.ignored.push(tensor.key.clone());
                pooler_dropped = true;
            } else {
                report.unexpected.push(tensor.key.clone());
            }
        }
    }
    if pooler_dropped {
        report.notes.push(format!(
            "{} reads every token and has no pooler: the checkpoint's pooler is not used",
            H::TASK.architecture()
        ));
    }
    for tensor in &expected {
        // Sizes are bounded: each is in the file (checked arithmetic there) or in the fresh sum above.
        let values = size(tensor).unwrap_or(0);
        if is_fresh(tensor.part) {
            report.fresh.push(tensor.name.clone());
            *report.fresh_values.entry(tensor.part).or_default() += values;
        } else {
            report.applied.push(tensor.name.clone());
            *report.loaded_values.entry(tensor.part).or_default() += values;
        }
    }
    let range = config.initializer_range;
    if fresh_pooler && family == Family::Bert {
        report.notes.push(
            "the checkpoint has no pooler: bert.pooler.dense was initialised fresh (N(0, initializer_range)); fine-tune before trusting pooled outputs".into(),
        );
    } else if fresh_pooler {
        // RoBERTa's, DistilBERT's and ELECTRA's sequence heads have their own dense layer, which a
        // base checkpoint never holds.
        report.notes.push(format!(
            "{} (the {} sequence head's dense layer) initialised fresh (weights N(0, {range}), bias 0): train it before use",
            family.file_name(H::TASK, "bert.pooler.dense.weight").trim_end_matches(".weight"),
            family.name()
        ));
    }
    if fresh_head {
        report.notes.push(format!(
            "{} initialised fresh for {num_labels} labels (weights N(0, {range}), bias 0, seed {}): train it before use",
            head_modules::<H>(config, num_labels).join(", "),
            options.seed
        ));
    }
    Ok(Plan { num_labels, fresh_head, fresh_pooler, report, virtual_tokens, family, task: H::TASK })
}

/// Every tensor the plan applies must hold finite values: a NaN or an infinity in a checkpoint is
/// corruption, and found here it is blamed on the file instead of, later, on the learning rate.
pub(crate) fn check_finite(
    bytes: &[u8],
    header: &SafetensorsHeader,
    plan: &Plan,
    path: &Path,
) -> Result<(), ModelError> {
    let applied: HashSet<&str> = plan.report.applied.iter().map(String::as_str).collect();
    for tensor in &header.tensors {
        let FileKey::Tensor(name) = canonical_for_task(plan.family, plan.task, &tensor.key) else { continue };
        if !applied.contains(name.as_str()) {
            continue;
        }
        let data = header.data(bytes, tensor, path)?;
        if let Some(bad) = count_non_finite(tensor.dtype, data) {
            return Err(ModelError::NonFinite {
                path: PathBuf::from(path),
                name: tensor.key.clone(),
                nan: bad.nan,
                inf: bad.inf,
                first: bad.first,
            });
        }
    }
    Ok(())
}
