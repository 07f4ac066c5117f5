//! `ft bench` (hidden): the ft side of `cargo xtask bench`. Each run measures one workload and prints
//! one JSON object on stdout — per-iteration seconds after warm-up, the work done, peak resident
//! memory — which xtask sets beside PyTorch's numbers for the same workload (xtask/py/bench.py).

use anyhow::{Context, bail};
use ft_data::{BatchOptions, Examples, LabelKind, LabelSpace, Tokenizer, TokenizerSource, plan_epoch};
use ft_train::run::peak_rss_kib;
use ft_train::synthetic::{Mode, ModelShape, Workload, flops};
use serde_json::json;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `ft bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Training steps or forward passes of a synthetic model of a given shape.
    Step {
        /// tiny or minilm.
        #[arg(long, default_value = "minilm")]
        shape: String,
        /// full, frozen, lora (`--peft lora`'s defaults) or inference.
        #[arg(long, default_value = "full")]
        mode: String,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        #[arg(long, default_value_t = 128)]
        seq: usize,
        /// Untimed iterations first (allocator, caches, wgpu autotune).
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        #[arg(long, default_value_t = 5)]
        iters: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Integrated Gradients (`ft explain`'s default) of one random text on a sequence classifier of a
    /// given shape with fresh weights: `steps` points, `batch` at a time.
    Explain {
        /// tiny or minilm.
        #[arg(long, default_value = "minilm")]
        shape: String,
        /// Tokens of the text, [CLS] and [SEP] included.
        #[arg(long, default_value_t = 64)]
        seq: usize,
        #[arg(long, default_value_t = 50)]
        steps: usize,
        /// Steps run at once.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        iters: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Tokenize a file of sentences (one per line) and collate length-grouped, padded batches.
    Tokenize {
        /// Model directory or packaged asset whose tokenizer is used.
        #[arg(long, default_value = "minilm-l6")]
        model: String,
        /// Text file, one sentence per line.
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 128)]
        max_len: usize,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        iters: usize,
    },
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let result = match args.what {
        What::Step { shape, mode, batch, seq, warmup, iters, device } => {
            let shape: ModelShape = shape.parse()?;
            let mode: Mode = mode.parse()?;
            if batch == 0 || seq == 0 || iters == 0 {
                bail!("--batch, --seq and --iters must be at least 1");
            }
            let (resolved, device) = super::open_device(&device)?;
            let mut workload = Workload::new(shape, mode, batch, seq, &device)?;
            for _ in 0..warmup {
                workload.run_once()?;
            }
            let mut times = Vec::with_capacity(iters);
            for _ in 0..iters {
                let t = Instant::now();
                std::hint::black_box(workload.run_once()?);
                times.push(t.elapsed().as_secs_f64());
            }
            json!({
                "side": "ft",
                "workload": "step",
                "shape": shape.to_string(),
                "mode": mode.to_string(),
                "batch": batch,
                "seq": seq,
                "device": resolved.describe()?,
                "threads": threads(),
                "flops": flops(&shape.config(), mode, batch, seq),
                "examples_per_iter": batch,
                "times": times,
                "peak_rss_kib": peak_rss_kib(),
            })
        }
        What::Explain { shape, seq, steps, batch, warmup, iters, device } => {
            use ft_model::burn::module::Module;
            let shape: ModelShape = shape.parse()?;
            if seq < 2 || steps == 0 || batch == 0 || iters == 0 {
                bail!("--seq must be at least 2, --steps, --batch and --iters at least 1");
            }
            let (resolved, device) = super::open_device(&device)?;
            let ad = device.autodiff();
            let config = shape.config();
            let mut init = ft_model::Init::normal(42, config.initializer_range);
            let model = ft_model::BertForSequenceClassification::new(&config, &mut init, &ad).freeze();
            let (inputs, _) = ft_train::synthetic::random_batch(&config, 1, seq, 7, &ad);
            // The tutorial baseline: the first and last token kept ([CLS], [SEP]), [PAD] (0) between.
            let mut base = vec![0i64; seq];
            let ids = inputs.input_ids.clone().into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
            (base[0], base[seq - 1]) = (ids[0], ids[seq - 1]);
            let base = ft_model::burn::tensor::Tensor::<2, ft_model::burn::tensor::Int>::from_data(
                ft_model::burn::tensor::TensorData::new(base, [1, seq]),
                &ad,
            );
            let objective = ft_infer::Objective { kind: LabelKind::SingleLabel, target: 0 };
            let rule = ft_infer::Rule::GaussLegendre;
            let once = || {
                ft_infer::integrated_gradients(
                    &model,
                    &inputs.input_ids,
                    &inputs.token_type_ids,
                    &base,
                    &|logits| objective.tensor(logits),
                    rule,
                    steps,
                    batch,
                )
            };
            for _ in 0..warmup {
                once()?;
            }
            let mut times = Vec::with_capacity(iters);
            for _ in 0..iters {
                let t = Instant::now();
                std::hint::black_box(once()?);
                times.push(t.elapsed().as_secs_f64());
            }
            json!({
                "side": "ft",
                "workload": "explain",
                "shape": shape.to_string(),
                "seq": seq,
                "steps": steps,
                "batch": batch,
                "device": resolved.describe()?,
                "threads": threads(),
                "examples_per_iter": 1,
                "times": times,
                "peak_rss_kib": peak_rss_kib(),
            })
        }
        What::Tokenize { model, input, max_len, batch, warmup, iters } => {
            let dir = ft_assets::resolve_model(&model).with_context(|| format!("resolving model `{model}`"))?;
            let tokenizer = Tokenizer::from_dir(&dir)?;
            let file = std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
            let mut lines = Vec::new();
            for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
                lines.push(line.with_context(|| format!("{}:{}: not UTF-8 text", input.display(), i + 1))?);
            }
            if lines.is_empty() {
                bail!("{}: no sentences", input.display());
            }
            let labels = LabelSpace { kind: LabelKind::SingleLabel, names: vec!["x".into()] };
            let mut times = Vec::with_capacity(iters);
            let mut tokens = 0usize;
            let mut padded = 0usize;
            for i in 0..warmup + iters {
                let t = Instant::now();
                let inputs: Vec<(&str, Option<&str>)> = lines.iter().map(|l| (l.as_str(), None)).collect();
                let encodings = tokenizer.encode_batch(&inputs, max_len)?;
                let mut examples = Examples::new(tokenizer.vocab_size(), tokenizer.pad_id(), &labels);
                for enc in &encodings {
                    examples.push(enc, &[0], 0.0);
                }
                drop(encodings);
                let plan = plan_epoch(&examples.lengths(), &BatchOptions::train(batch, 42), 0);
                let (mut real, mut cells) = (0, 0);
                for indices in &plan {
                    let b = std::hint::black_box(examples.collate(indices, None));
                    cells += b.batch_size * b.seq_len;
                    real += b.attention_mask.iter().filter(|&&m| m == 1).count();
                }
                let elapsed = t.elapsed().as_secs_f64();
                if i >= warmup {
                    times.push(elapsed);
                }
                tokens = real;
                padded = cells;
            }
            json!({
                "side": "ft",
                "workload": "tokenize",
                "sentences": lines.len(),
                "max_len": max_len,
                "batch": batch,
                "tokenizer": match tokenizer.source() {
                    TokenizerSource::TokenizerJson(_) => "tokenizer.json",
                    TokenizerSource::Vocab(_) => "vocab.txt",
                },
                "threads": threads(),
                "tokens": tokens,
                "padded_cells": padded,
                "examples_per_iter": lines.len(),
                "times": times,
                "peak_rss_kib": peak_rss_kib(),
            })
        }
    };
    println!("{result}");
    Ok(())
}
