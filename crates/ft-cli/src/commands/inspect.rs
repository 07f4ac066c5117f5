//! `ft inspect`: what a checkpoint is, how big, what loaded, and where it runs.

use super::{ModelArgs, thousands};
use ft_model::{BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, Head, Part, Task};

/// Arguments of `ft inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.model.resolve()?.1 {
        Task::SequenceClassification => show::<BertForSequenceClassification>(&args),
        Task::TokenClassification => show::<BertForTokenClassification>(&args),
        Task::QuestionAnswering => show::<BertForQuestionAnswering>(&args),
    }
}

fn show<H: Head>(args: &Args) -> anyhow::Result<()> {
    let (loaded, device) = args.model.load::<H>()?;
    let c = &loaded.config;
    let r = &loaded.report;
    println!("model      {}", loaded.dir.display());
    println!("family     {} (model_type {})", c.family(), c.model_type);
    println!(
        "config     {} · {} layers · hidden {} · {} heads · intermediate {} · vocab {} · {} positions · {} · layer_norm_eps {:e}",
        c.model_type,
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.vocab_size,
        c.max_position_embeddings,
        c.hidden_act,
        c.layer_norm_eps
    );
    println!("task       {} ({})", H::TASK, c.family().architecture(H::TASK));
    if let Some((pooling, why)) = &loaded.report.pooling {
        println!("pooling    {pooling} ({why})");
    }
    let labels = c.label_names();
    println!("labels     {} ({})", labels.len(), labels.join(", "));
    println!("device     {device} (compiled in: {})", ft_model::compiled_backends().join(", "));
    println!();
    println!("{:<20} {:>12}  source", "part", "parameters");
    let mut total = 0;
    let parts: &[Part] = if H::POOLER {
        &[Part::Embeddings, Part::Encoder, Part::Pooler, Part::Head]
    } else {
        &[Part::Embeddings, Part::Encoder, Part::Head]
    };
    for &part in parts {
        let loaded_n = r.loaded_values.get(&part).copied().unwrap_or(0);
        let fresh_n = r.fresh_values.get(&part).copied().unwrap_or(0);
        total += loaded_n + fresh_n;
        let source = match (loaded_n, fresh_n) {
            (_, 0) => "checkpoint",
            (0, _) => "fresh",
            _ => "checkpoint + fresh",
        };
        println!("{:<20} {:>12}  {source}", part.name(), thousands(loaded_n + fresh_n));
    }
    println!("{:<20} {:>12}", "total", thousands(total));
    println!();
    println!(
        "loaded     {} parameters in {} tensors from {}",
        thousands(r.loaded_parameters()),
        r.applied.len(),
        r.weights_file.display()
    );
    println!("file       {} tensors holding {} values", r.file_tensors, thousands(r.file_values));
    if !r.ignored.is_empty() {
        println!("ignored    {} (buffers and pretraining heads a classifier does not use)", r.ignored.join(", "));
    }
    if !r.fresh.is_empty() {
        println!("fresh      {} ({} parameters)", r.fresh.join(", "), thousands(r.fresh_parameters()));
    }
    if !r.unexpected.is_empty() {
        println!("unexpected {} (in the file, not in the model; left alone)", r.unexpected.join(", "));
    }
    for note in &r.notes {
        println!("note       {note}");
    }
    Ok(())
}
