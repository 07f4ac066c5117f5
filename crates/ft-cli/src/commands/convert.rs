//! `ft convert`: load any supported checkpoint layout and write it the way transformers saves a
//! `BertForSequenceClassification` (useful for legacy `gamma`/`beta` names or adding a head).

use super::ModelArgs;
use anyhow::Context;
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
    let (loaded, _) = args.model.load()?;
    for note in &loaded.report.notes {
        log::warn!("{note}");
    }
    ft_model::save_pretrained(&loaded.model, &loaded.config, &args.output, Some(&loaded.dir), args.overwrite)
        .with_context(|| format!("saving to {}", args.output.display()))?;
    println!("wrote {}", args.output.display());
    Ok(())
}
