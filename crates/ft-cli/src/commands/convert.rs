//! `ft convert`: load any supported checkpoint layout and write it the way transformers saves a
//! `BertForSequenceClassification` or `BertForTokenClassification` (useful for legacy `gamma`/`beta`
//! names or adding a head).

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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.model.resolve()?.1 {
        Task::SequenceClassification => convert::<BertForSequenceClassification>(&args),
        Task::TokenClassification => convert::<BertForTokenClassification>(&args),
        Task::QuestionAnswering => convert::<BertForQuestionAnswering>(&args),
    }
}

fn convert<H: Head>(args: &Args) -> anyhow::Result<()> {
    let (loaded, _) = args.model.load::<H>()?;
    for note in &loaded.report.notes {
        log::warn!("{note}");
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
    println!("wrote {}", args.output.display());
    Ok(())
}
