//! `save_pretrained`: a directory that transformers' `from_pretrained` loads — `config.json`,
//! `model.safetensors` in HF names and PyTorch layouts, and the tokenizer files — written atomically.

use crate::heads::task::{Head, Task};
use crate::{BertConfig, ModelError, ProblemType};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use std::path::Path;

/// Tokenizer files copied next to the weights when present in the source directory.
pub const TOKENIZER_FILES: &[&str] =
    &["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"];

/// The config as written next to a model of `task`: architecture, labels, problem type.
pub fn head_config(config: &BertConfig, task: Task, num_labels: usize) -> BertConfig {
    let mut out = config.clone();
    out.architectures = Some(vec![config.family().architecture(task)]);
    let names: Vec<String> = {
        let mut probe = config.clone();
        probe.num_labels = Some(num_labels);
        probe.label_names()
    };
    out.set_labels(&names);
    // transformers derives num_labels from id2label; writing both invites disagreement.
    out.num_labels = None;
    if task.reads_problem_type() {
        out.problem_type.get_or_insert(ProblemType::SingleLabelClassification);
    } else {
        out.problem_type = None;
    }
    out
}

/// [`head_config`] for sequence classification.
pub fn classification_config(config: &BertConfig, num_labels: usize) -> BertConfig {
    head_config(config, Task::SequenceClassification, num_labels)
}

/// A temporary directory in `parent` that becomes the model directory: created with mode 0777 less the
/// umask (0755 under the usual 022), as `mkdir` would, instead of tempfile's private 0700, so that
/// other users can load the saved model.
fn shareable_tempdir(parent: &Path) -> Result<tempfile::TempDir, ModelError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ft-save-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    builder.tempdir_in(parent).map_err(ModelError::io(parent))
}

/// Writes `model` and `config` to `out` (plus tokenizer files from `tokenizer_from`). The model's
/// [`Pooling`](crate::Pooling) is written as `config.json`'s `ft_pooling` (no key for the pooler):
/// transformers' `BertForSequenceClassification` has only the pooler, so a model trained with another
/// pooling gives other predictions there (callers warn; see [`crate::Pooling::transformers_compatible`]).
///
/// Everything is written into a temporary sibling directory first and renamed into place, so `out` is
/// either the old directory or the complete new one. An existing non-empty `out` is refused unless
/// `overwrite` is set.
pub fn save_pretrained<H: Head>(
    model: &H,
    config: &BertConfig,
    out: &Path,
    tokenizer_from: Option<&Path>,
    overwrite: bool,
) -> Result<(), ModelError> {
    write_dir(out, overwrite, |tmp| {
        let mut config = head_config(config, H::TASK, model.num_labels());
        // ft's pooling, read back by ft; transformers keeps the key and reads the pooler regardless.
        model.pooling().write_to(&mut config);
        // Bottleneck adapters: ft's loader rebuilds them from this key; transformers keeps the key and
        // reports the adapters' tensors as unused.
        match crate::peft::bottleneck::BottleneckSettings::of_model(model.bert()) {
            Some(settings) => {
                let value = serde_json::to_value(&settings).map_err(|e| ModelError::Output {
                    path: out.join("config.json"),
                    reason: format!("could not serialise the adapters' settings: {e}"),
                })?;
                config.extra.insert(crate::peft::bottleneck::BottleneckSettings::CONFIG_KEY.into(), value);
            }
            None => {
                config.extra.remove(crate::peft::bottleneck::BottleneckSettings::CONFIG_KEY);
            }
        }
        match crate::peft::prefix::PrefixSettings::of_model(model.bert()) {
            Some(settings) => {
                let value = serde_json::to_value(&settings).map_err(|e| ModelError::Output {
                    path: out.join("config.json"),
                    reason: format!("could not serialise the prefixes' settings: {e}"),
                })?;
                config.extra.insert(crate::peft::prefix::PrefixSettings::CONFIG_KEY.into(), value);
            }
            None => {
                config.extra.remove(crate::peft::prefix::PrefixSettings::CONFIG_KEY);
            }
        }
        let json = serde_json::to_string_pretty(&config.to_json_value()).map_err(|e| ModelError::Output {
            path: out.join("config.json"),
            reason: format!("could not serialise the config: {e}"),
        })?;
        let config_path = tmp.join("config.json");
        std::fs::write(&config_path, json + "\n").map_err(ModelError::io(&config_path))?;

        let weights = tmp.join("model.safetensors");
        let mut store = SafetensorsStore::from_file(&weights)
            .with_to_adapter(BurnToPyTorchAdapter)
            .clear_metadata()
            .metadata("format", "pt")
            .with_key_remapping(r"\.self_attention\.", ".self.")
            .with_key_remapping(r"layer_norm\.", "LayerNorm.");
        // Canonical (BERT) names → the family's own.
        for (pattern, replacement) in config.family().save_rules(H::TASK) {
            store = store.with_key_remapping(pattern.as_str(), *replacement);
        }
        model
            .save_into(&mut store)
            .map_err(|e| ModelError::Output { path: out.join("model.safetensors"), reason: e.to_string() })?;
        if config.family() == crate::Family::ModernBert {
            // transformers' ModernBERT holds one fused `Wqkv` per layer.
            let bytes = std::fs::read(&weights).map_err(ModelError::io(&weights))?;
            let fused = crate::bert::modern::fuse_qkv(&bytes)
                .map_err(|reason| ModelError::Output { path: out.join("model.safetensors"), reason })?;
            std::fs::write(&weights, fused).map_err(ModelError::io(&weights))?;
        }
        // safetensors writes through a private (0600) temporary file; give the weights the mode a plainly
        // created file gets under this umask, as config.json got, so that whoever can read the directory
        // can load the model.
        same_mode_as(&config_path, &weights)?;

        if let Some(src) = tokenizer_from {
            for name in TOKENIZER_FILES {
                let from = src.join(name);
                if from.is_file() {
                    let to = tmp.join(name);
                    std::fs::copy(&from, &to).map_err(ModelError::io(&to))?;
                }
            }
        }
        Ok(())
    })
}

/// Gives `file` the mode `reference` has. safetensors writes through a private (0600) temporary file;
/// the JSON files beside it were created plainly under the umask, and the weights must be as readable
/// as they are, so that whoever can read the directory can load the model.
pub(crate) fn same_mode_as(reference: &Path, file: &Path) -> Result<(), ModelError> {
    let plain = std::fs::metadata(reference).map_err(ModelError::io(reference))?.permissions();
    std::fs::set_permissions(file, plain).map_err(ModelError::io(file))
}

/// Builds a directory at `out` atomically: `fill` writes into a temporary sibling directory, which is
/// then renamed into place, so `out` is either the old directory or the complete new one. An existing
/// non-empty `out` is refused unless `overwrite` is set.
pub(crate) fn write_dir(
    out: &Path,
    overwrite: bool,
    fill: impl FnOnce(&Path) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    let non_empty = out.is_dir() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(true);
    if out.exists() && !out.is_dir() {
        return Err(ModelError::Output { path: out.to_path_buf(), reason: "exists and is not a directory".into() });
    }
    if non_empty && !overwrite {
        return Err(ModelError::Output {
            path: out.to_path_buf(),
            reason: "already exists and is not empty; choose another output directory or pass --overwrite".into(),
        });
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(ModelError::io(&parent))?;
    let tmp = shareable_tempdir(&parent)?;

    fill(tmp.path())?;
    // Swap into place: old → backup, new → out, drop backup.
    let tmp_path = tmp.keep();
    let backup = if out.exists() {
        let backup = parent.join(format!(".ft-old-{}", std::process::id()));
        std::fs::rename(out, &backup).map_err(ModelError::io(out))?;
        Some(backup)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&tmp_path, out) {
        if let Some(backup) = &backup {
            let _ = std::fs::rename(backup, out);
        }
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(ModelError::Io { path: out.to_path_buf(), source: e });
    }
    if let Some(backup) = backup {
        let _ = std::fs::remove_dir_all(backup);
    }
    Ok(())
}
