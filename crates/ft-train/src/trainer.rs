//! The training loop: epochs of (length-grouped, seeded) batches through a [`Stepper`], evaluation every
//! `eval_every` steps or each epoch, checkpoints, best model, early stopping, resume — and, when the whole
//! encoder is frozen, training the head on cached features.

use crate::checkpoint::{Best, Contents, TrainerState, list_checkpoints, load_checkpoint, save_checkpoint};
use crate::class_weights::ClassWeights;
use crate::eval::{Metrics, evaluate, evaluate_head, higher_is_better};
use crate::features::{Features, encode_pooled};
use crate::optim::{AdamWSettings, adamw};
use crate::params::trainable_counts;
use crate::schedule::{Schedule, ScheduleKind};
use crate::step::{Inputs, Stepper};
use crate::{Freeze, TrainError};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ft_data::{BatchOptions, LabelKind, LabelTensor, LoadedData, plan_epoch};
use ft_infer::Thresholds;
use ft_model::PooledHead;
use ft_model::{BertForSequenceClassification, Head, Peft, Targets, Task};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Every knob of a run (the CLI's flags and `run.toml` keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    /// Passes over the training data.
    pub epochs: usize,
    /// Stop after this many optimizer steps (overrides `epochs`).
    pub max_steps: Option<usize>,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// Examples per evaluation batch.
    pub eval_batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// AdamW weight decay (not applied to biases and LayerNorm).
    pub weight_decay: f64,
    /// Warmup as a fraction of the total steps.
    pub warmup_ratio: f64,
    /// Warmup in steps (overrides `warmup_ratio`).
    pub warmup_steps: Option<usize>,
    /// Schedule after warmup.
    pub schedule: ScheduleKind,
    /// Global-norm clipping threshold; 0 disables clipping.
    pub max_grad_norm: f64,
    /// What stays fixed (`none`, `encoder`, `embeddings`, `bottom:N`).
    pub freeze: String,
    /// Seed of data order, dropout and fresh weights.
    pub seed: u64,
    /// Evaluate every N optimizer steps (default: at the end of each epoch).
    pub eval_every: Option<usize>,
    /// Also checkpoint every N optimizer steps.
    pub save_every: Option<usize>,
    /// Checkpoints kept besides the best.
    pub keep_last: usize,
    /// Metric that picks the best model (default: accuracy, or loss for regression).
    pub metric_for_best: Option<String>,
    /// Stop after this many evaluations without improvement.
    pub early_stopping_patience: Option<usize>,
    /// Put examples of similar length together (less padding).
    pub group_by_length: bool,
    /// Round padded lengths up to a multiple of this.
    pub pad_to_multiple_of: Option<usize>,
    /// With `freeze = encoder`, encode once and train the head on cached features.
    pub cache_features: bool,
    /// `none`, `balanced` or a `label weight` file: class weights in the loss (see
    /// [`crate::class_weights`]).
    pub class_weights: String,
    /// Multi-label: the probability above which a label is predicted (every evaluation, and the
    /// saved model unless tuned).
    pub threshold: f64,
    /// Multi-label: after training, tune one threshold per label on validation (F1 per label) and
    /// save them with the model.
    pub tune_thresholds: bool,
    /// `--peft lora|prompt`: train LoRA branches, or virtual tokens, on the frozen encoder, and the
    /// head (`None`: full fine-tuning, or what `freeze` leaves trainable). Last: a TOML table after
    /// the plain keys.
    pub peft: Option<Peft>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 3,
            max_steps: None,
            batch_size: 32,
            eval_batch_size: 64,
            grad_accum: 1,
            lr: 5e-5,
            weight_decay: 0.01,
            warmup_ratio: 0.0,
            warmup_steps: None,
            schedule: ScheduleKind::Linear,
            max_grad_norm: 1.0,
            freeze: "none".into(),
            seed: 42,
            eval_every: None,
            save_every: None,
            keep_last: 2,
            metric_for_best: None,
            early_stopping_patience: None,
            group_by_length: true,
            pad_to_multiple_of: None,
            cache_features: true,
            class_weights: "none".into(),
            threshold: Thresholds::DEFAULT,
            tune_thresholds: false,
            peft: None,
        }
    }
}

impl TrainSettings {
    /// Checks the settings once; the message names the flag and the fix.
    pub fn validate(&self) -> Result<Freeze, TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.batch_size == 0 {
            return bad("--batch-size 0: a batch needs at least one example".into());
        }
        if self.eval_batch_size == 0 {
            return bad("--eval-batch-size 0: a batch needs at least one example".into());
        }
        if self.grad_accum == 0 {
            return bad("--grad-accum 0: accumulate over at least 1 micro-batch".into());
        }
        if self.epochs == 0 && self.max_steps.is_none() {
            return bad("--epochs 0 with no --max-steps: nothing to train".into());
        }
        if self.max_steps == Some(0) {
            return bad("--max-steps 0: nothing to train".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("--lr {}: the learning rate must be a positive number", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!("--weight-decay {}: must be ≥ 0", self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return bad(format!("--warmup-ratio {}: must be in [0, 1)", self.warmup_ratio));
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return bad(format!("--max-grad-norm {}: must be ≥ 0 (0 disables clipping)", self.max_grad_norm));
        }
        if self.eval_every == Some(0) || self.save_every == Some(0) {
            return bad("--eval-every / --save-every 0: give a number of steps ≥ 1".into());
        }
        Thresholds::check(self.threshold, "--threshold").map_err(TrainError::Config)?;
        let freeze: Freeze = self.freeze.parse()?;
        if let Some(peft) = &self.peft {
            if let Peft::Lora(lora) = peft {
                lora.check().map_err(|e| TrainError::Config(e.to_string()))?;
            }
            if freeze != Freeze::None {
                return bad(format!(
                    "--freeze {} with --peft {}: it already freezes the whole encoder and trains only its own \
                     weights and the head; drop --freeze",
                    self.freeze,
                    peft.name()
                ));
            }
        }
        Ok(freeze)
    }

    /// The thresholds every evaluation during training decides multi-label rows with.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds::Uniform(self.threshold)
    }
}

/// One optimizer step, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepLog {
    /// Optimizer steps done (1-based, like transformers' `global_step`).
    pub step: usize,
    /// Fractional epoch.
    pub epoch: f64,
    /// Mean loss of the step's micro-batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Training throughput of this step.
    pub examples_per_sec: f64,
}

/// One evaluation, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalLog {
    /// Optimizer steps done.
    pub step: usize,
    /// Fractional epoch.
    pub epoch: f64,
    /// `validation` or `test`.
    pub split: String,
    /// The metrics.
    pub metrics: Metrics,
}

/// Hooks for progress bars and logs (the CLI's indicatif bar and `log.jsonl`).
pub trait Observer {
    /// Before the first step.
    fn on_start(&mut self, _total_steps: usize, _start_step: usize) {}
    /// After every optimizer step.
    fn on_step(&mut self, _log: &StepLog) {}
    /// After every evaluation.
    fn on_eval(&mut self, _log: &EvalLog) {}
    /// After a checkpoint was written (`step` optimizer steps done).
    fn on_checkpoint(&mut self, _step: usize, _path: &Path) {}
    /// A message for the user (progress notes: what was read, what runs where).
    fn on_message(&mut self, _message: &str) {}
    /// A message the user must see even when asking for quiet: why the run stopped, how to resume it,
    /// what was put back after a failure.
    fn on_notice(&mut self, _message: &str) {}
    /// The run finished and its model and metrics are saved; the output directory is still locked
    /// (the CLI writes `report.html` here).
    fn on_finished(&mut self, _summary: &crate::run::RunSummary) {}
    /// Checked after every optimizer step: `Some(signal)` stops the run there, with a checkpoint
    /// (the CLI's SIGINT/SIGTERM handler).
    fn stop_requested(&self) -> Option<i32> {
        None
    }
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// The result of a run.
#[derive(Debug)]
pub struct TrainOutcome<H = BertForSequenceClassification> {
    /// The model to keep (the best one), on the plain (inference) device.
    pub model: H,
    /// The best evaluation, if any.
    pub best: Option<Best>,
    /// Optimizer steps done.
    pub steps: usize,
    /// Every evaluation, in order.
    pub evals: Vec<EvalLog>,
    /// `(trainable, total)` parameters.
    pub parameters: (usize, usize),
    /// Seconds spent encoding cached features (frozen encoder), if that path ran.
    pub feature_cache_seconds: Option<f64>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// A batch's labels as the model's targets: the one place ft-data's labels meet ft-model's loss.
/// `class_weights` (`--class-weights`, in label order) weigh single-label classes, or multi-label
/// positives.
pub fn targets(labels: LabelTensor, class_weights: Option<&[f32]>, device: &Device) -> Targets {
    let weights = || {
        Tensor::<1>::from_data(
            TensorData::new(class_weights.unwrap_or(&[]).to_vec(), [class_weights.map_or(0, <[f32]>::len)]),
            device,
        )
    };
    match labels {
        LabelTensor::Classes(t) if class_weights.is_some() => {
            Targets::WeightedClasses { classes: t, weights: weights() }
        }
        LabelTensor::MultiHot(t) if class_weights.is_some() => {
            Targets::WeightedMultiHot { targets: t, pos_weight: weights() }
        }
        LabelTensor::Classes(t) => Targets::Classes(t),
        LabelTensor::MultiHot(t) => Targets::MultiHot(t),
        LabelTensor::Values(t) => {
            let [b] = t.dims();
            Targets::Values(t.reshape([b, 1]))
        }
        LabelTensor::TokenClasses(t) => Targets::TokenClasses(t),
        LabelTensor::Spans(t) => Targets::Spans(t),
    }
}

/// The metric that picks the best model when none is given: loss for regression, entity F1 for token
/// tags (what `run_ner.py` reports), SQuAD F1 for answer spans, accuracy otherwise.
pub fn default_metric(kind: LabelKind) -> &'static str {
    match kind {
        LabelKind::Regression => "loss",
        LabelKind::TokenClasses | LabelKind::Spans => "f1",
        LabelKind::SingleLabel | LabelKind::MultiLabel => "accuracy",
    }
}

/// The task whose head learns labels of `kind`.
pub fn task_for_labels(kind: LabelKind) -> Task {
    match kind {
        LabelKind::TokenClasses => Task::TokenClassification,
        LabelKind::Spans => Task::QuestionAnswering,
        LabelKind::SingleLabel | LabelKind::MultiLabel | LabelKind::Regression => Task::SequenceClassification,
    }
}

/// Whether a head can learn labels of `kind`.
fn check_task(task: Task, kind: LabelKind) -> Result<(), TrainError> {
    if task == task_for_labels(kind) {
        Ok(())
    } else {
        Err(TrainError::Config(format!(
            "{} cannot learn {} labels; pick the task that matches the data (--task)",
            task.architecture(),
            kind_name(kind)
        )))
    }
}

/// `--threshold` / `--tune-thresholds` only mean something for multi-label labels.
pub fn check_thresholds(settings: &TrainSettings, kind: LabelKind) -> Result<(), TrainError> {
    if kind != LabelKind::MultiLabel && (settings.threshold != Thresholds::DEFAULT || settings.tune_thresholds) {
        let flag = if settings.tune_thresholds { "--tune-thresholds" } else { "--threshold" };
        return Err(TrainError::Config(format!(
            "{flag} applies to multi-label classification, and these labels are {}; drop it (or give each row a \
             list of labels, or --label-kind multi_label)",
            kind_name(kind)
        )));
    }
    Ok(())
}

/// `single-label`, `per-token`, … for messages.
fn kind_name(kind: LabelKind) -> &'static str {
    match kind {
        LabelKind::TokenClasses => "per-token",
        LabelKind::Spans => "answer-span",
        LabelKind::SingleLabel => "single-label",
        LabelKind::MultiLabel => "multi-label",
        LabelKind::Regression => "regression",
    }
}

struct Plan {
    steps_per_epoch: usize,
    total_steps: usize,
}

fn plan(settings: &TrainSettings, n_train: usize) -> Plan {
    let micro_per_epoch = n_train.div_ceil(settings.batch_size);
    let steps_per_epoch = micro_per_epoch.div_ceil(settings.grad_accum).max(1);
    let total_steps = settings.max_steps.unwrap_or(steps_per_epoch * settings.epochs);
    Plan { steps_per_epoch, total_steps }
}

/// Trains `model` (loaded on the autodiff `device`) on `data`; checkpoints go under `run_dir/checkpoints`.
/// With `resume`, continues from that checkpoint (or the latest under it).
pub fn train<H: Head>(
    model: H,
    data: &LoadedData,
    settings: &TrainSettings,
    run_dir: &Path,
    resume: Option<&Path>,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome<H>, TrainError> {
    let freeze = settings.validate()?;
    if data.train.is_empty() {
        return Err(TrainError::Config("the training set is empty".into()));
    }
    check_task(H::TASK, data.labels.kind)?;
    if matches!(data.labels.kind, LabelKind::SingleLabel | LabelKind::MultiLabel | LabelKind::TokenClasses)
        && data.labels.names.len() < 2
    {
        return Err(TrainError::Config(format!(
            "the training data has a single class ({}); a classifier needs at least two",
            data.labels.names.join(", ")
        )));
    }
    check_thresholds(settings, data.labels.kind)?;
    let class_weights = ClassWeights::parse(&settings.class_weights).resolve(data)?;
    if let Some(w) = &class_weights {
        let list: Vec<String> = data.labels.names.iter().zip(w).map(|(n, w)| format!("{n} {w:.4}")).collect();
        let what = if data.labels.kind == LabelKind::MultiLabel { "pos_weight" } else { "class weights" };
        observer.on_message(&format!("loss       {what} ({}): {}", settings.class_weights, list.join(", ")));
    }
    let (model, adapted) = prepare(model, settings, device)?;
    match (&settings.peft, adapted) {
        (Some(Peft::Lora(lora)), Some(names)) => observer.on_message(&format!(
            "peft       LoRA r {} alpha {} dropout {} on {} layers ({}); the head trains in full",
            lora.r,
            lora.alpha,
            lora.dropout,
            names.len(),
            lora.targets.join(", ")
        )),
        (Some(Peft::Prefix(p)), _) => observer.on_message(&format!(
            "peft       prefix tuning: {} key/value positions in every layer; the head trains in full",
            p.num_virtual_tokens
        )),
        (Some(Peft::Adapters(a)), _) => observer.on_message(&format!(
            "peft       bottleneck adapters ({:?}, reduction {}, {:?}); the LayerNorms and the head train too",
            a.architecture, a.reduction, a.activation
        )),
        (Some(Peft::Prompt(prompt)), _) => observer.on_message(&format!(
            "peft       prompt tuning: {} virtual tokens ({:?} init) before every text; the head trains in full",
            prompt.num_virtual_tokens, prompt.init
        )),
        _ => {}
    }
    let parameters = trainable_counts(&model);
    let plan = plan(settings, data.train.len());
    let warmup =
        settings.warmup_steps.unwrap_or_else(|| Schedule::warmup_from_ratio(settings.warmup_ratio, plan.total_steps));
    let schedule =
        Schedule { base_lr: settings.lr, warmup_steps: warmup, total_steps: plan.total_steps, kind: settings.schedule };
    let adam = AdamWSettings { weight_decay: settings.weight_decay, ..Default::default() };
    let max_norm = (settings.max_grad_norm > 0.0).then_some(settings.max_grad_norm);
    let ckpt_dir = run_dir.join("checkpoints");
    let metric = settings.metric_for_best.clone().unwrap_or_else(|| default_metric(data.labels.kind).into());

    let loop_state = Loop {
        settings,
        data,
        plan,
        device,
        ckpt_dir,
        metric,
        evals: Vec::new(),
        best: None,
        stale_evals: 0,
        class_weights,
    };
    // Cached features need everything before the head frozen; where the family's head has its own
    // dense layer (RoBERTa's `classifier.dense`, …) the features are the `[CLS]` state and that layer
    // trains with the classifier on them.
    if freeze == Freeze::Encoder && settings.cache_features && model.pooled_head().is_some() {
        loop_state.run(model, schedule, adam, max_norm, resume, observer, parameters, true)
    } else {
        loop_state.run(model, schedule, adam, max_norm, resume, observer, parameters, false)
    }
}

/// The model as it trains: `--freeze` applied; under `--peft lora` the encoder frozen with fresh
/// branches on the targeted layers (A seeded from `--seed`), and the adapted layers' names; under
/// `--peft prompt` the encoder frozen with fresh virtual tokens (seeded from `--seed`).
pub fn prepare<H: Head>(
    model: H,
    settings: &TrainSettings,
    device: &Device,
) -> Result<(H, Option<Vec<String>>), TrainError> {
    let freeze = settings.validate()?;
    let model = freeze.apply(model)?;
    let config = |e: ft_model::ModelError| TrainError::Config(e.to_string());
    let seed = settings.seed;
    match &settings.peft {
        None => Ok((model, None)),
        Some(Peft::Prompt(prompt)) => {
            ft_model::peft::prompt::check_head(&model).map_err(config)?;
            let model = model.try_map_bert(|bert| ft_model::peft::prompt::attach(bert, prompt, seed, device));
            Ok((model.map_err(config)?, None))
        }
        Some(Peft::Prefix(prefix)) => {
            let model = model.try_map_bert(|bert| ft_model::peft::prefix::attach(bert, prefix, seed, device));
            Ok((model.map_err(config)?, None))
        }
        Some(Peft::Adapters(adapters)) => {
            let model = model
                .try_map_bert(|bert| ft_model::peft::bottleneck::attach(bert, adapters, seed, device).map(|(b, _)| b));
            Ok((model.map_err(config)?, None))
        }
        Some(Peft::Lora(lora)) => {
            let mut names = Vec::new();
            let model = model.try_map_bert(|bert| {
                let (bert, adapted) = ft_model::peft::lora::attach(bert, lora, Some(seed), device)?;
                names = adapted;
                Ok(bert)
            });
            Ok((model.map_err(config)?, Some(names)))
        }
    }
}

struct Loop<'a> {
    settings: &'a TrainSettings,
    data: &'a LoadedData,
    plan: Plan,
    device: &'a Device,
    ckpt_dir: PathBuf,
    metric: String,
    evals: Vec<EvalLog>,
    best: Option<Best>,
    stale_evals: usize,
    /// Resolved `--class-weights`, in label order.
    class_weights: Option<Vec<f32>>,
}

/// The checkpoints a resumed run may start from, newest first: `resume` itself when it is a
/// checkpoint, else those under `resume/checkpoints` (or `resume`). Empty when none was written yet.
/// A checkpoint of either kind ([`Contents`]) read into `model` (the run's base model, on the
/// training device) and a fresh optimizer for it. A head-only checkpoint takes the rest from
/// `model`, after checking that those parameters are the ones the run started from.
fn load_any_checkpoint<H: Head>(
    ckpt: &Path,
    model: &H,
    adam: &AdamWSettings,
) -> Result<(H, burn::optim::ModuleOptimizer, TrainerState), TrainError> {
    let optim = adamw(model, adam)?;
    match crate::checkpoint::contents(ckpt) {
        Contents::Model => load_checkpoint(ckpt, model.clone(), optim),
        Contents::PooledHead { frozen_crc32 } => {
            let head = model.pooled_head().ok_or_else(|| head_only_mismatch::<H>(ckpt))?;
            let found = crate::params::frozen_fingerprint(model, &head);
            if found != frozen_crc32 {
                return Err(TrainError::Checkpoint(format!(
                    "{}: holds only the head trained on the frozen encoder's features, and the base model's frozen parameters are not the ones the run started from (CRC-32 {found:08x}, the checkpoint expects {frozen_crc32:08x}); resume with the model the run was started with (run.toml's model), or start the run again",
                    ckpt.display()
                )));
            }
            let (head, optim, state) = load_checkpoint(ckpt, head, optim)?;
            Ok((model.clone().with_pooled_head(head), optim, state))
        }
    }
}

fn head_only_mismatch<H: Head>(ckpt: &Path) -> TrainError {
    TrainError::Checkpoint(format!(
        "{}: holds only a head trained on cached features, which {} does not have; it belongs to another run",
        ckpt.display(),
        H::TASK.architecture()
    ))
}

fn resume_candidates(resume: &Path) -> Vec<PathBuf> {
    if resume.join("trainer_state.json").is_file() {
        return vec![resume.to_path_buf()];
    }
    for dir in [resume.join("checkpoints"), resume.to_path_buf()] {
        let mut all = list_checkpoints(&dir);
        if !all.is_empty() {
            all.reverse();
            return all;
        }
    }
    Vec::new()
}

fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT (Ctrl-C)".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

impl Loop<'_> {
    fn batch_options(&self) -> BatchOptions {
        let mut o = BatchOptions::train(self.settings.batch_size, self.settings.seed);
        o.group_by_length = self.settings.group_by_length;
        o
    }

    fn epoch_of(&self, step: usize) -> f64 {
        step as f64 / self.plan.steps_per_epoch as f64
    }

    /// Records an evaluation; returns whether it is the new best.
    fn record_eval(&mut self, step: usize, metrics: Metrics, observer: &mut dyn Observer) -> Result<bool, TrainError> {
        let log = EvalLog { step, epoch: self.epoch_of(step), split: "validation".into(), metrics };
        observer.on_eval(&log);
        let value = log.metrics.get(&self.metric).copied().ok_or_else(|| {
            TrainError::Config(format!(
                "--metric-for-best {}: not a validation metric (have: {})",
                self.metric,
                log.metrics.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let better = match &self.best {
            None => true,
            Some(b) if higher_is_better(&self.metric) => value > b.value,
            Some(b) => value < b.value,
        };
        self.evals.push(log);
        if better {
            self.stale_evals = 0;
            self.best = Some(Best {
                step,
                metric: self.metric.clone(),
                value,
                checkpoint: crate::checkpoint::checkpoint_dir(Path::new("checkpoints"), step),
            });
        } else {
            self.stale_evals += 1;
        }
        Ok(better)
    }

    fn state(&self, step: usize, epoch: usize, batch_in_epoch: usize) -> TrainerState {
        TrainerState {
            step,
            epoch,
            batch_in_epoch,
            seed: self.settings.seed,
            evals_without_improvement: self.stale_evals,
            best: self.best.clone(),
            contents: Contents::Model,
        }
    }

    fn should_stop_early(&self) -> bool {
        self.settings.early_stopping_patience.is_some_and(|p| self.stale_evals >= p)
    }

    /// Both paths: resume, build the trainee, run the shared loop, keep the best model.
    #[allow(clippy::too_many_arguments)]
    fn run<H: Head>(
        mut self,
        model: H,
        schedule: Schedule,
        adam: AdamWSettings,
        max_norm: Option<f64>,
        resume: Option<&Path>,
        observer: &mut dyn Observer,
        parameters: (usize, usize),
        cache_features: bool,
    ) -> Result<TrainOutcome<H>, TrainError> {
        let mut model = model;
        let mut optim = adamw(&model, &adam)?;
        let mut start = TrainerState {
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            seed: self.settings.seed,
            evals_without_improvement: 0,
            best: None,
            contents: Contents::Model,
        };
        if let Some(resume) = resume {
            let candidates = resume_candidates(resume);
            if candidates.is_empty() {
                observer.on_message(&format!(
                    "resuming {}: no checkpoint was written before it stopped; starting again from step 0",
                    resume.display()
                ));
            }
            let mut failures: Vec<(PathBuf, TrainError)> = Vec::new();
            for ckpt in candidates {
                // A checkpoint is only readable whole; on failure the model and optimizer are rebuilt.
                match load_any_checkpoint(&ckpt, &model, &adam) {
                    Ok(loaded) => {
                        (model, optim, start) = loaded;
                        for (bad, e) in &failures {
                            observer.on_message(&format!(
                                "warning: checkpoint {} is unreadable ({e}); resuming from the previous one",
                                bad.display()
                            ));
                        }
                        failures.clear();
                        self.best = start.best.clone();
                        self.stale_evals = start.evals_without_improvement;
                        observer.on_message(&format!("resuming from {} (step {})", ckpt.display(), start.step));
                        break;
                    }
                    Err(e) => failures.push((ckpt, e)),
                }
            }
            if let Some((bad, e)) = failures.pop() {
                return Err(TrainError::Checkpoint(format!(
                    "no readable checkpoint under {} (the oldest, {}, failed: {e}); start the run again without --resume",
                    resume.display(),
                    bad.display()
                )));
            }
        }
        let plain = self.device.clone().without_autodiff();
        let (model, steps, stopped_early, feature_cache_seconds) = if cache_features {
            // Encode once, in eval mode, on the plain device; then only the head trains.
            let t0 = Instant::now();
            let frozen = model.valid();
            let bs = self.settings.eval_batch_size;
            let train_features = encode_pooled(&frozen, &self.data.train, bs, &plain)?;
            let val_features = encode_pooled(&frozen, &self.data.validation, bs, &plain)?;
            let seconds = t0.elapsed().as_secs_f64();
            observer.on_message(&format!(
                "encoder frozen: pooled features of {} + {} examples cached in {seconds:.1}s; training the head only",
                train_features.len(),
                val_features.len()
            ));
            let Some(head) = model.pooled_head() else {
                return Err(TrainError::Config(format!(
                    "{} does not read the pooled [CLS] state; cached features do not apply",
                    H::TASK.architecture()
                )));
            };
            // Checkpoints hold the head alone; the rest is the base model, fingerprinted here so that
            // a resume can tell it is still the same.
            let frozen_crc32 = crate::params::frozen_fingerprint(&model, &head);
            let stepper = self.stepper(head, optim, schedule, max_norm, start.step)?;
            let mut trainee = HeadTrainee { model, train_features, val_features, plain, frozen_crc32 };
            let (stepper, steps, stopped) = self.run_loop(stepper, &mut trainee, &start, observer)?;
            let model = trainee.model.with_pooled_head(stepper.into_parts().0);
            (model, steps, stopped, Some(seconds))
        } else {
            let stepper = self.stepper(model, optim, schedule, max_norm, start.step)?;
            let (stepper, steps, stopped) = self.run_loop(stepper, &mut FullTrainee { plain }, &start, observer)?;
            (stepper.into_parts().0, steps, stopped, None)
        };
        let model = self.best_model(model, steps)?;
        Ok(TrainOutcome {
            model: model.valid(),
            best: self.best,
            steps,
            evals: self.evals,
            parameters,
            feature_cache_seconds,
            stopped_early,
        })
    }

    fn stepper<M: Module>(
        &self,
        model: M,
        optim: burn::optim::ModuleOptimizer,
        schedule: Schedule,
        max_norm: Option<f64>,
        steps_done: usize,
    ) -> Result<Stepper<M>, TrainError> {
        Ok(Stepper::new(model, optim, schedule, max_norm, self.settings.grad_accum)?
            .with_seed(self.settings.seed)
            .resume_at(steps_done))
    }

    /// Epochs of batches → micro-steps → optimizer steps, with logging, evaluation, checkpoints and
    /// early stopping; returns the stepper, the steps done and whether early stopping ended the run.
    fn run_loop<M: Module, H: Head, T: Trainee<M, H>>(
        &mut self,
        mut stepper: Stepper<M>,
        trainee: &mut T,
        start: &TrainerState,
        observer: &mut dyn Observer,
    ) -> Result<(Stepper<M>, usize, bool), TrainError> {
        observer.on_start(self.plan.total_steps, start.step);
        let lengths = trainee.lengths(self.data);
        let mut options = self.batch_options();
        options.group_by_length &= trainee.group_by_length();
        let mut step = start.step;
        for epoch in start.epoch.. {
            if step >= self.plan.total_steps {
                break;
            }
            let batches = plan_epoch(&lengths, &options, epoch as u64);
            let skip = if epoch == start.epoch { start.batch_in_epoch } else { 0 };
            let (mut losses, mut examples, mut t0) = (Vec::new(), 0usize, Instant::now());
            for (bi, indices) in batches.iter().enumerate().skip(skip) {
                let loss = trainee
                    .micro_step(
                        &mut stepper,
                        self.data,
                        indices,
                        self.settings,
                        self.class_weights.as_deref(),
                        self.device,
                    )
                    .map_err(|e| self.with_last_good(e))?;
                losses.push(loss as f64);
                examples += indices.len();
                let last_of_epoch = bi + 1 == batches.len();
                if losses.len() < self.settings.grad_accum && !last_of_epoch {
                    continue;
                }
                let stats = stepper.optimizer_step();
                step += 1;
                observer.on_step(&StepLog {
                    step,
                    epoch: self.epoch_of(step),
                    loss: losses.iter().sum::<f64>() / losses.len() as f64,
                    lr: stats.lr,
                    grad_norm: stats.grad_norm,
                    examples_per_sec: examples as f64 / t0.elapsed().as_secs_f64().max(1e-9),
                });
                (losses, examples, t0) = (Vec::new(), 0, Instant::now());
                let eval_now = match self.settings.eval_every {
                    Some(n) => step.is_multiple_of(n) || step == self.plan.total_steps,
                    None => last_of_epoch || step == self.plan.total_steps,
                };
                if eval_now {
                    let metrics = trainee.evaluate(stepper.model(), self.data, self.settings)?;
                    self.record_eval(step, metrics, observer)?;
                }
                let stop = observer.stop_requested();
                if eval_now || stop.is_some() || self.settings.save_every.is_some_and(|n| step.is_multiple_of(n)) {
                    let state = self.state(step, epoch, bi + 1);
                    let path = trainee.save_checkpoint(
                        &self.ckpt_dir,
                        stepper.model(),
                        stepper.optimizer(),
                        state,
                        self.settings.keep_last,
                    )?;
                    observer.on_checkpoint(step, &path);
                    if let Some(signal) = stop {
                        return Err(TrainError::Interrupted {
                            signal,
                            signal_name: signal_name(signal),
                            step,
                            checkpoint: format!("checkpoint {} written", path.display()),
                        });
                    }
                }
                if eval_now && self.should_stop_early() {
                    observer
                        .on_message(&format!("early stopping: {} evaluations without improvement", self.stale_evals));
                    return Ok((stepper, step, true));
                }
                if step >= self.plan.total_steps {
                    return Ok((stepper, step, false));
                }
            }
        }
        Ok((stepper, step, false))
    }

    fn with_last_good(&self, e: TrainError) -> TrainError {
        match e {
            TrainError::NonFinite { loss, step, micro, .. } => {
                let last_good = match list_checkpoints(&self.ckpt_dir).pop() {
                    Some(p) => format!("; the last good checkpoint is {} (resume with --resume)", p.display()),
                    None => "; no checkpoint was written before it".into(),
                };
                TrainError::NonFinite { loss, step, micro, last_good }
            }
            other => other,
        }
    }

    /// The best checkpoint's parameters loaded into `model` (or `model` itself if there is none, or if
    /// the best checkpoint is of the last step, `steps`: then `model` holds exactly its parameters and
    /// reading them back from disk would only cost time).
    fn best_model<H: Head>(&self, model: H, steps: usize) -> Result<H, TrainError> {
        let Some(best) = &self.best else { return Ok(model) };
        // Found from its step under this run's checkpoints/, whatever path an older run.toml recorded
        // (the run may have been moved or renamed since).
        let dir = crate::checkpoint::checkpoint_dir(&self.ckpt_dir, best.step);
        if best.step == steps {
            return Ok(model);
        }
        if !dir.join("model.bpk").is_file() {
            return Err(TrainError::Checkpoint(format!(
                "{}: the best checkpoint (step {}) is missing; the model of the last step was not kept in its place — resume from a complete run directory",
                dir.display(),
                best.step
            )));
        }
        let file = dir.join("model.bpk");
        let read_err = |e: burn::store::RecordError| TrainError::Checkpoint(format!("{}: {e}", file.display()));
        match crate::checkpoint::contents(&dir) {
            Contents::Model => model.try_load_file(&file).map_err(read_err),
            Contents::PooledHead { .. } => {
                let head = model.pooled_head().ok_or_else(|| head_only_mismatch::<H>(&dir))?;
                Ok(model.with_pooled_head(head.try_load_file(&file).map_err(read_err)?))
            }
        }
    }
}

/// What differs between training the whole model and training a head on cached features.
trait Trainee<M: Module, H: Head> {
    /// Lengths that drive batching.
    fn lengths(&self, data: &LoadedData) -> Vec<u32>;
    /// Whether length grouping means anything here.
    fn group_by_length(&self) -> bool;
    /// One micro-batch: forward, loss, backward.
    fn micro_step(
        &self,
        stepper: &mut Stepper<M>,
        data: &LoadedData,
        indices: &[u32],
        settings: &TrainSettings,
        class_weights: Option<&[f32]>,
        device: &Device,
    ) -> Result<f32, TrainError>;
    /// Validation metrics of the module being trained.
    fn evaluate(&self, model: &M, data: &LoadedData, settings: &TrainSettings) -> Result<Metrics, TrainError>;
    /// Writes a checkpoint of what trains (see [`save_checkpoint`]).
    fn save_checkpoint(
        &mut self,
        dir: &Path,
        model: &M,
        optim: &burn::optim::ModuleOptimizer,
        state: TrainerState,
        keep_last: usize,
    ) -> Result<PathBuf, TrainError>;
}

/// Full (or partially frozen) fine-tuning: every batch runs the encoder.
struct FullTrainee {
    plain: Device,
}

impl<H: Head> Trainee<H, H> for FullTrainee {
    fn lengths(&self, data: &LoadedData) -> Vec<u32> {
        data.train.lengths()
    }

    fn group_by_length(&self) -> bool {
        true
    }

    fn micro_step(
        &self,
        stepper: &mut Stepper<H>,
        data: &LoadedData,
        indices: &[u32],
        settings: &TrainSettings,
        class_weights: Option<&[f32]>,
        device: &Device,
    ) -> Result<f32, TrainError> {
        let batch = data.train.collate(indices, settings.pad_to_multiple_of);
        let (input_ids, token_type_ids, attention_mask) = batch.to_tensors(device);
        let targets = targets(batch.labels_to_tensor(device), class_weights, device);
        stepper.micro_step(Inputs::new(input_ids, token_type_ids, attention_mask), targets)
    }

    fn evaluate(&self, model: &H, data: &LoadedData, settings: &TrainSettings) -> Result<Metrics, TrainError> {
        evaluate(
            &model.valid(),
            &data.validation,
            settings.eval_batch_size,
            &data.labels,
            &settings.thresholds(),
            &self.plain,
        )
    }

    fn save_checkpoint(
        &mut self,
        dir: &Path,
        model: &H,
        optim: &burn::optim::ModuleOptimizer,
        state: TrainerState,
        keep_last: usize,
    ) -> Result<PathBuf, TrainError> {
        save_checkpoint(dir, model, optim, &state, keep_last)
    }
}

/// The chapter's frozen-encoder recipe: the head trains on pooled features computed once.
struct HeadTrainee<H> {
    model: H,
    train_features: Features,
    val_features: Features,
    plain: Device,
    /// [`crate::params::frozen_fingerprint`] of the base model outside the head.
    frozen_crc32: u32,
}

impl<H: Head> Trainee<PooledHead, H> for HeadTrainee<H> {
    fn lengths(&self, data: &LoadedData) -> Vec<u32> {
        vec![1; data.train.len()]
    }

    fn group_by_length(&self) -> bool {
        false
    }

    fn micro_step(
        &self,
        stepper: &mut Stepper<PooledHead>,
        data: &LoadedData,
        indices: &[u32],
        _settings: &TrainSettings,
        class_weights: Option<&[f32]>,
        device: &Device,
    ) -> Result<f32, TrainError> {
        let labels = data.train.collate(indices, None).labels_to_tensor(device);
        let features = self.train_features.rows(indices, device);
        let targets = targets(labels, class_weights, device);
        // A head on pooled features has the sequence head's losses.
        stepper.micro_step_with(device, |head| {
            Ok(<BertForSequenceClassification as Head>::loss(head.forward(features), targets)?)
        })
    }

    fn evaluate(&self, head: &PooledHead, data: &LoadedData, settings: &TrainSettings) -> Result<Metrics, TrainError> {
        evaluate_head(
            &head.valid(),
            &self.val_features,
            &data.validation,
            settings.eval_batch_size,
            &data.labels,
            &settings.thresholds(),
            &self.plain,
        )
    }

    /// The head alone (what trains: kilobytes where the whole model is tens of megabytes); the frozen
    /// rest is the base model's.
    fn save_checkpoint(
        &mut self,
        dir: &Path,
        head: &PooledHead,
        optim: &burn::optim::ModuleOptimizer,
        state: TrainerState,
        keep_last: usize,
    ) -> Result<PathBuf, TrainError> {
        let state = TrainerState { contents: Contents::PooledHead { frozen_crc32: self.frozen_crc32 }, ..state };
        save_checkpoint(dir, head, optim, &state, keep_last)
    }
}
