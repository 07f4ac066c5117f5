//! `ft convert` (alias `ft export`): load any supported checkpoint layout and write it the way
//! transformers saves a `BertFor*` model (useful for legacy `gamma`/`beta` names or adding a head);
//! with `--adapter DIR`, a LoRA adapter in PEFT's format (ft's or PEFT's own) is loaded onto the model
//! and merged into its weights, as PEFT's `merge_and_unload`, so the output is a plain model; a prompt,
//! prefix or bottleneck adapter cannot merge, and is attached (the output is ft's format).

use super::ModelArgs;
use anyhow::Context;
use ft_model::{BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, Head, Task};
use std::path::PathBuf;

/// Arguments of `ft convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The directory to write.
    output: PathBuf,
    /// Replace OUTPUT if it already holds something.
    #[arg(long)]
    overwrite: bool,
    /// An adapter directory (adapter_config.json + adapter_model.safetensors, e.g. an `ft train
    /// --peft …` run's OUTPUT/adapter) to load onto MODEL: LoRA is merged into its weights; prompt,
    /// prefix and bottleneck adapters are attached (ft's format). Its head replaces MODEL's. Labels
    /// come from the adapter's ft_config.json when ft wrote it, else from --labels or MODEL.
    #[arg(long, value_name = "DIR", alias = "merge")]
    adapter: Option<PathBuf>,
    /// Print nothing on success (used when eval / predict merge an adapter on the fly).
    #[arg(skip)]
    quiet: bool,
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    let mut task = args.model.resolve()?.1;
    if let Some(dir) = &args.adapter {
        let adapter = ft_model::AdapterInfo::read(dir)?;
        if let Some(t) = adapter.task_type.as_deref() {
            task = match t {
                "SEQ_CLS" => Task::SequenceClassification,
                "TOKEN_CLS" => Task::TokenClassification,
                "QUESTION_ANS" => Task::QuestionAnswering,
                other => anyhow::bail!(
                    "{}: task_type {other}; ft loads SEQ_CLS, TOKEN_CLS and QUESTION_ANS adapters",
                    dir.join("adapter_config.json").display()
                ),
            };
        }
        // The adapter carries the head (`modules_to_save`): MODEL's may have any size.
        args.model.reinit_head = true;
        let ft_config = dir.join(ft_model::peft::adapter::FT_CONFIG);
        if args.model.labels.is_none() && ft_config.is_file() {
            let config = ft_model::BertConfig::from_file(&ft_config)?;
            args.model.labels = Some(config.label_names());
        }
    }
    match task {
        Task::SequenceClassification => convert::<BertForSequenceClassification>(&args),
        Task::TokenClassification => convert::<BertForTokenClassification>(&args),
        Task::QuestionAnswering => convert::<BertForQuestionAnswering>(&args),
    }
}

fn convert<H: Head>(args: &Args) -> anyhow::Result<()> {
    let (mut loaded, _) = args.model.load::<H>()?;
    for note in &loaded.report.notes {
        if args.adapter.is_none() || !note.contains("head") {
            log::warn!("{note}");
        }
    }
    if let Some(dir) = &args.adapter {
        // What ft saved with the adapter (problem type, pooling, thresholds) describes the model; the
        // pooling first: prompt tuning reads the pooler and checks it.
        let ft_config = dir.join(ft_model::peft::adapter::FT_CONFIG);
        if ft_config.is_file() {
            loaded.config = ft_model::BertConfig::from_file(&ft_config)?;
            if H::TASK == Task::SequenceClassification {
                let (pooling, _) = ft_model::Pooling::detect(dir, &loaded.config)?;
                loaded.model = loaded.model.with_pooling(pooling)?;
            }
        }
        let device = loaded.model.bert().embeddings.word_embeddings.weight.device();
        let (model, peft) = ft_model::load_any_adapter(loaded.model, &loaded.config, dir, &device)
            .with_context(|| format!("loading the adapter in {}", dir.display()))?;
        loaded.model = match &peft {
            ft_model::Peft::Lora(lora) => {
                eprintln!(
                    "merged     LoRA r {} alpha {} from {} into {} layers",
                    lora.r,
                    lora.alpha,
                    dir.display(),
                    ft_model::peft::lora::adapted_layers(model.bert()).len()
                );
                model.map_bert(ft_model::peft::lora::merge)
            }
            other => {
                // Nothing to merge: the output is the base with the method's tensors, in ft's format.
                if !args.quiet {
                    log::warn!(
                        "--peft {} cannot be merged into the weights: {} holds its tensors beside the base's, which ft reads and transformers does not (it reports them unused)",
                        other.name(),
                        args.output.display()
                    );
                }
                eprintln!("attached   {} from {}", other.name(), dir.display());
                model
            }
        };
    }
    let out = &args.output;
    let non_empty = out.is_dir() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(true);
    if non_empty && args.overwrite {
        // Replace the model's files only: a run's metrics, logs and checkpoints (or the input model's
        // other files, when converting in place) stay.
        if !out.join("config.json").is_file() && !out.join("run.toml").is_file() {
            anyhow::bail!(
                "{}: is not empty and is not a model directory or an ft run (no config.json, no run.toml); --overwrite only replaces models — choose another output",
                out.display()
            );
        }
        ft_train::atomic::install_model(&loaded.model, &loaded.config, out, Some(&loaded.dir))?;
    } else {
        ft_model::save_pretrained(&loaded.model, &loaded.config, out, Some(&loaded.dir), args.overwrite)
            .with_context(|| format!("saving to {}", out.display()))?;
    }
    if !args.quiet {
        println!("wrote {}", args.output.display());
    }
    Ok(())
}

/// For `ft eval` / `ft predict --adapter`: `base` with the adapter in `adapter` merged or attached, written to
/// a temporary directory (kept alive by the returned guard), whose path is returned. With no
/// `adapter`, a `model` that is itself an adapter directory (adapter_config.json, no config.json)
/// is merged onto the base its `base_model_name_or_path` names; anything else is returned as is.
pub fn with_adapter(
    model: &str,
    adapter: Option<&std::path::Path>,
    device: &str,
) -> anyhow::Result<(String, Option<tempfile::TempDir>)> {
    let as_dir = std::path::Path::new(model);
    let (base, adapter) = match adapter {
        Some(a) => (model.to_string(), a.to_path_buf()),
        None if as_dir.join(ft_model::peft::adapter::ADAPTER_CONFIG).is_file()
            && !as_dir.join("config.json").is_file() =>
        {
            let config = ft_model::AdapterInfo::read(as_dir)?;
            let base = config.base_model.ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: names no base model (base_model_name_or_path); pass --model BASE --adapter {model}",
                    as_dir.join(ft_model::peft::adapter::ADAPTER_CONFIG).display()
                )
            })?;
            (base, as_dir.to_path_buf())
        }
        None => return Ok((model.to_string(), None)),
    };
    let tmp = tempfile::Builder::new().prefix("ft-merged-").tempdir().context("creating a temporary directory")?;
    let out = tmp.path().join("model");
    let args = Args {
        model: ModelArgs {
            model: base.clone(),
            device: device.to_string(),
            labels: None,
            reinit_head: false,
            seed: 42,
            task: None,
            pooling: None,
        },
        output: out.clone(),
        overwrite: false,
        adapter: Some(adapter),
        quiet: true,
    };
    run(args).with_context(|| format!("merging the adapter onto {base}"))?;
    Ok((out.to_string_lossy().into_owned(), Some(tmp)))
}
