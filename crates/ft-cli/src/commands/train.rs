//! `ft train`: the chapter's recipe end to end — load a pretrained model, add the task layer, freeze or
//! unfreeze, train with AdamW on the user's files, evaluate, and write a HuggingFace-loadable model.
//!
//! Settings come from defaults, then `--config run.toml`, then flags; the resolved settings are written
//! to `OUTPUT/run.toml`, which is also what `--resume OUTPUT` reads back. The run itself is
//! `ft_train::execute`; this file parses the flags, shows progress and prints the results.

use anyhow::{Context, bail};
use ft_train::run_config::RunConfig;
use ft_train::run_dir::RUN_TOML;
use ft_train::trainer::{EvalLog, Observer, StepLog};
use ft_train::{RunOptions, RunSummary};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// The task, i.e. the head put on the encoder: sequence-classification, token-classification or
    /// question-answering [default: from the data — tagged files (CoNLL, JSONL with "tokens") train a
    /// token classifier, SQuAD files (JSON, or JSONL with "question" and "context") a QA model].
    #[arg(long)]
    task: Option<ft_model::Task>,
    /// What the sequence head reads: auto, pooler, cls, mean or max [default: auto — mean when the
    /// model directory has sentence-transformers' mean-pooling files (all-MiniLM-L6-v2 has), the
    /// model's own choice for a model ft saved, else the pooler, as transformers].
    #[arg(long, value_parser = parse_pooling)]
    pooling: Option<PoolingArg>,
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
    /// Validation metric that picks the best model [default: accuracy; loss for regression; entity F1
    /// for token classification; SQuAD F1 for question answering].
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
    /// Class weights in the loss, for rare classes: none, balanced (scikit-learn's n / (classes ·
    /// count); multi-label: negatives / positives as BCE's pos_weight) or a file of `label weight`
    /// lines [default: none].
    #[arg(long, value_name = "none|balanced|FILE")]
    class_weights: Option<String>,
    /// Multi-label: predict a label when its sigmoid exceeds this probability (evaluations, and the
    /// saved model unless --tune-thresholds) [default: 0.5].
    #[arg(long, value_name = "P")]
    threshold: Option<f64>,
    /// Multi-label: after training, tune one threshold per label on validation (the best F1 of each
    /// label over 0.05, 0.10, …, 0.95), report the final metrics with them and save them with the
    /// model (config.json `ft_thresholds`, used by ft eval and ft predict).
    #[arg(long)]
    tune_thresholds: bool,
    /// Parameter-efficient fine-tuning: `lora` trains low-rank branches on the frozen encoder's
    /// Linear layers, `prompt` virtual tokens put before every text (sequence classification), and
    /// the head in full; the adapter alone is saved in PEFT's format under OUTPUT/adapter [default:
    /// none, every weight trains].
    #[arg(long, value_name = "none|lora|adapters|prompt|prefix")]
    peft: Option<String>,
    /// Bottleneck adapters: houlsby (after the attention and the feed-forward outputs) or pfeiffer
    /// (feed-forward only) [default: houlsby].
    #[arg(long, value_name = "houlsby|pfeiffer")]
    adapter_architecture: Option<String>,
    /// Bottleneck adapters: width = hidden size / this [default: 16].
    #[arg(long, value_name = "N")]
    adapter_reduction: Option<usize>,
    /// Bottleneck adapters: relu or swish [default: relu].
    #[arg(long, value_name = "relu|swish")]
    adapter_activation: Option<String>,
    /// Prompt tuning: virtual tokens put before every text; prefix tuning: key/value positions put
    /// before every layer's [default: 20].
    #[arg(long, value_name = "N")]
    virtual_tokens: Option<usize>,
    /// Prompt tuning: how the virtual tokens start: random (N(0, 1)) or vocab (rows of the word
    /// embeddings at random tokens) [default: random].
    #[arg(long, value_name = "random|vocab")]
    prompt_init: Option<String>,
    /// LoRA rank r [default: 8].
    #[arg(long, value_name = "R")]
    lora_r: Option<usize>,
    /// LoRA scale numerator: the branch is multiplied by alpha / r [default: 16].
    #[arg(long, value_name = "ALPHA")]
    lora_alpha: Option<f64>,
    /// Dropout on the LoRA branch's input [default: 0.1].
    #[arg(long, value_name = "P")]
    lora_dropout: Option<f64>,
    /// Linear layers that get a branch, by PEFT's rule (a layer whose name is, or ends with `.` +,
    /// one of these): query, key, value, attention.output.dense, intermediate.dense, output.dense,
    /// dense [default: query,value].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    lora_targets: Option<Vec<String>>,

    /// Tokens per example (a window, for question answering), special tokens included [default: 128;
    /// 384 with --task question-answering or an atis-qa dataset, as run_qa.py].
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
    /// Question answering: context tokens shared by consecutive windows of --max-len tokens, as
    /// run_qa.py's --doc_stride [default: 128].
    #[arg(long)]
    doc_stride: Option<usize>,
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
        if let Some(PoolingArg(pooling)) = self.pooling {
            c.pooling = pooling;
        }
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
        set!(d.doc_stride, self.doc_stride);
        // A packaged sentence-pair dataset (stsb) names its second column; run.toml keeps it for
        // `ft eval` / `ft predict` on the run.
        if d.text_pair_column.is_none()
            && let Some(pair) = d.dataset.as_deref().and_then(ft_data::find_dataset).and_then(|a| a.text_pair_column)
        {
            d.text_pair_column = Some(pair.to_string());
        }
        // run_qa.py's max_seq_length when the run is question answering from the start.
        let qa = c.task == Some(ft_model::Task::QuestionAnswering)
            || d.dataset.as_deref().is_some_and(|name| name.starts_with("atis-qa"));
        if qa && self.max_len.is_none() && self.config.is_none() && self.resume.is_none() {
            d.max_len = 384;
        }
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
        set!(t.class_weights, self.class_weights);
        set!(t.threshold, self.threshold);
        if self.tune_thresholds {
            t.tune_thresholds = true;
        }
        use ft_model::Peft;
        match self.peft.as_deref() {
            None => {}
            Some("none") => t.peft = None,
            Some("lora") if !matches!(t.peft, Some(Peft::Lora(_))) => t.peft = Some(Peft::Lora(Default::default())),
            Some("prompt") if !matches!(t.peft, Some(Peft::Prompt(_))) => {
                t.peft = Some(Peft::Prompt(Default::default()))
            }
            Some("adapters") if !matches!(t.peft, Some(Peft::Adapters(_))) => {
                t.peft = Some(Peft::Adapters(Default::default()))
            }
            Some("prefix") if !matches!(t.peft, Some(Peft::Prefix(_))) => {
                t.peft = Some(Peft::Prefix(Default::default()))
            }
            Some("lora" | "prompt" | "adapters" | "prefix") => {}
            Some(other) => {
                anyhow::bail!("--peft {other}: use lora, adapters, prompt or prefix (or none, full fine-tuning)")
            }
        }
        let lora_flags = self.lora_r.is_some()
            || self.lora_alpha.is_some()
            || self.lora_dropout.is_some()
            || self.lora_targets.is_some();
        let prompt_flags = self.prompt_init.is_some();
        let adapter_flags = self.adapter_architecture.is_some()
            || self.adapter_reduction.is_some()
            || self.adapter_activation.is_some();
        match t.peft.as_mut() {
            Some(Peft::Lora(lora)) => {
                set!(lora.r, self.lora_r);
                set!(lora.alpha, self.lora_alpha);
                set!(lora.dropout, self.lora_dropout);
                if let Some(targets) = &self.lora_targets {
                    lora.targets = targets.iter().map(|t| t.trim().to_string()).collect();
                }
            }
            Some(Peft::Prompt(prompt)) => {
                set!(prompt.num_virtual_tokens, self.virtual_tokens);
                match self.prompt_init.as_deref() {
                    None => {}
                    Some("random") => prompt.init = ft_model::PromptInit::Random,
                    Some("vocab") => prompt.init = ft_model::PromptInit::Vocab,
                    Some(other) => anyhow::bail!("--prompt-init {other}: use random or vocab"),
                }
            }
            Some(Peft::Prefix(p)) => set!(p.num_virtual_tokens, self.virtual_tokens),
            Some(Peft::Adapters(a)) => {
                use ft_model::peft::bottleneck::{Activation, Architecture};
                set!(a.reduction, self.adapter_reduction);
                match self.adapter_architecture.as_deref() {
                    None => {}
                    Some("houlsby") => a.architecture = Architecture::Houlsby,
                    Some("pfeiffer") => a.architecture = Architecture::Pfeiffer,
                    Some(other) => anyhow::bail!("--adapter-architecture {other}: use houlsby or pfeiffer"),
                }
                match self.adapter_activation.as_deref() {
                    None => {}
                    Some("relu") => a.activation = Activation::Relu,
                    Some("swish") => a.activation = Activation::Swish,
                    Some(other) => anyhow::bail!("--adapter-activation {other}: use relu or swish"),
                }
            }
            None => {}
        }
        if adapter_flags && !matches!(t.peft, Some(Peft::Adapters(_))) {
            anyhow::bail!("--adapter-architecture / --adapter-reduction / --adapter-activation need --peft adapters");
        }
        if lora_flags && !matches!(t.peft, Some(Peft::Lora(_))) {
            anyhow::bail!("--lora-r / --lora-alpha / --lora-dropout / --lora-targets need --peft lora");
        }
        if prompt_flags && !matches!(t.peft, Some(Peft::Prompt(_))) {
            anyhow::bail!("--prompt-init needs --peft prompt");
        }
        if self.virtual_tokens.is_some() && !matches!(t.peft, Some(Peft::Prompt(_) | Peft::Prefix(_))) {
            anyhow::bail!("--virtual-tokens needs --peft prompt or --peft prefix");
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

/// The progress bar and the user's messages; writes report.html when the run has finished.
struct Progress {
    bar: ProgressBar,
    quiet: bool,
    stop: Option<StopSignal>,
    /// report.html, once written (or why not).
    report: Option<anyhow::Result<PathBuf>>,
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
    }

    fn on_eval(&mut self, log: &EvalLog) {
        let shown: Vec<String> = log.metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        if !self.quiet {
            let line = format!("step {:>6} (epoch {:.2}) {}: {}", log.step, log.epoch, log.split, shown.join(", "));
            self.bar.suspend(|| eprintln!("{line}"));
        }
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

    fn on_notice(&mut self, message: &str) {
        self.bar.suspend(|| eprintln!("{message}"));
    }

    fn on_finished(&mut self, summary: &RunSummary) {
        self.bar.finish_and_clear();
        // report.html (per-class bars and confusion matrix, or per-type F1 and the entity confusion;
        // curves) is written while the run still holds its directory.
        self.report = Some(crate::report::write_for_run(summary));
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

/// What a finished `ft train` reports back (everything is also in `OUTPUT/`).
#[derive(Debug, Clone)]
pub struct Finished {
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
    let options = RunOptions { overwrite: args.overwrite, resume: args.resume.clone() };
    execute(&config, &out, &options, quiet, Some(StopSignal::install()?)).map(|_| ())
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

/// Runs `ft_train::execute` with a progress bar (none when `quiet`) and the signal handler `stop`,
/// then prints the results: what `ft train` does once its flags are resolved (`ft demo` calls it
/// with its own fixed recipe).
pub fn execute(
    config: &RunConfig,
    out: &Path,
    options: &RunOptions,
    quiet: bool,
    stop: Option<StopSignal>,
) -> anyhow::Result<Finished> {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps, ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut progress = Progress { bar, quiet, stop, report: None };
    let summary = ft_train::execute(config, out, options, &mut progress)?;
    let best = summary
        .best
        .as_ref()
        .map(|b| format!("step {} ({} {:.4})", b.step, b.metric, b.value))
        .unwrap_or("the last step".into());
    println!("trained    {} steps in {:.1}s; kept the best model: {best}", summary.steps, summary.train_seconds);
    println!("validation {}", show(&summary.validation));
    if let Some(test) = &summary.test {
        println!("test       {}", show(test));
    }
    if let Some(Err(e)) = &progress.report {
        eprintln!("warning: could not write {}: {e:#}", out.join("report.html").display());
    }
    let report = progress.report.and_then(Result::ok);
    let adapter = out.join(ft_train::run::ADAPTER_DIR);
    println!(
        "wrote      {} (HuggingFace model{}, metrics.json,{} log.jsonl, run.toml, checkpoints/)",
        out.display(),
        match std::fs::read_to_string(adapter.join("adapter_config.json")) {
            Ok(text) if text.contains("\"BOTTLENECK\"") => format!(
                " with its bottleneck adapters, which ft reads and transformers does not; the adapters, LayerNorms and head alone: {}",
                adapter.display()
            ),
            Ok(text) if text.contains("PREFIX_TUNING") => format!(
                " with its prefixes, which ft reads and transformers does not; the adapter alone, in PEFT's format: {}",
                adapter.display()
            ),
            Ok(text) if text.contains("PROMPT_TUNING") => format!(
                " with its virtual tokens, which ft reads and transformers does not; the adapter alone, in PEFT's format: {}",
                adapter.display()
            ),
            Ok(_) =>
                format!(" with the LoRA branches merged; the adapter alone, in PEFT's format: {}", adapter.display()),
            Err(_) => String::new(),
        },
        if report.is_some() { " report.html," } else { "" }
    );
    Ok(Finished { test: summary.test, report })
}

fn show(m: &ft_train::eval::Metrics) -> String {
    m.iter().map(|(k, v)| format!("{k} {v:.4}")).collect::<Vec<_>>().join(", ")
}

/// `--pooling`: `auto` (`None`: what the model directory says) or a pooling.
#[derive(Debug, Clone, Copy)]
pub struct PoolingArg(pub Option<ft_model::Pooling>);

/// Parses `--pooling`.
pub(crate) fn parse_pooling(s: &str) -> Result<PoolingArg, String> {
    if s == "auto" {
        Ok(PoolingArg(None))
    } else {
        s.parse().map(|p| PoolingArg(Some(p))).map_err(|e: String| format!("{e}, or auto"))
    }
}
