//! A whole run as one library call — `RunConfig` → [`execute`] → a trained model in `OUTPUT/` and a
//! [`RunSummary`]: what `ft train` and `ft demo` do once their flags are resolved.
//!
//! Order: the model and data are resolved and checked first (nothing is written), then the output
//! directory is claimed ([`RunDir`]: locked, a previous run kept aside until this one finishes), the
//! loop runs with its checkpoints, and the kept model is scored on validation and test and saved as a
//! HuggingFace model with `metrics.json` and `log.jsonl`. Messages go to the [`Observer`]; nothing here
//! prints.

use crate::TrainError;
use crate::atomic::{install_model, write_atomically};
use crate::checkpoint::Best;
use crate::eval::{Metrics, token_metrics};
use crate::run_config::RunConfig;
use crate::run_dir::{OutputMode, RUN_TOML, RunDir};
use crate::trainer::{EvalLog, Observer, StepLog};
use ft_data::{Columns, DataFiles, DataOptions, LabelKind, LabelOptions, LabelSpace, TagColumns, TokenOptions};
use ft_infer::{Outputs, Thresholds};
use ft_model::burn::tensor::Device;
use ft_model::{
    BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, DeviceSpec, Head, LoadOptions,
    Task,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How [`execute`] treats the output directory.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replace an earlier ft run in the output directory (kept aside until the new one finishes).
    pub overwrite: bool,
    /// Continue the run in this directory from its latest checkpoint.
    pub resume: Option<PathBuf>,
}

/// What a finished run reports back (everything is also in `OUTPUT/`).
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The output directory.
    pub out: PathBuf,
    /// The task trained.
    pub task: Task,
    /// The model asked for (`--model`).
    pub model_spec: String,
    /// The label space of the data.
    pub labels: LabelSpace,
    /// Optimizer steps done.
    pub steps: usize,
    /// Seconds in the loop.
    pub train_seconds: f64,
    /// The evaluation that picked the kept model (`None`: the last step's model).
    pub best: Option<Best>,
    /// Final validation metrics of the kept model.
    pub validation: Metrics,
    /// Final test metrics of the kept model, when there is a test split.
    pub test: Option<Metrics>,
    /// `test` when there is a test split, else `validation`: the split of [`RunSummary::outputs`].
    pub final_split: &'static str,
    /// The kept model's outputs on `final_split` (for a report).
    pub outputs: Outputs,
    /// The validation examples and the kept model's outputs on them, in order (the report explains a
    /// few of them).
    pub validation_split: (ft_data::Examples, Outputs),
}

/// `log.jsonl` (a JSON line per step, evaluation and final score), around the caller's observer.
struct Logged<'a> {
    inner: &'a mut dyn Observer,
    log: std::fs::File,
    log_path: PathBuf,
}

impl Logged<'_> {
    fn write(&mut self, value: serde_json::Value) {
        if let Err(e) = writeln!(self.log, "{value}").and_then(|_| self.log.flush()) {
            let message = format!("warning: could not write {}: {e}", self.log_path.display());
            self.inner.on_message(&message);
        }
    }
}

impl Observer for Logged<'_> {
    fn on_start(&mut self, total_steps: usize, start_step: usize) {
        self.inner.on_start(total_steps, start_step);
    }

    fn on_step(&mut self, log: &StepLog) {
        self.inner.on_step(log);
        let mut v = serde_json::to_value(log).unwrap_or_default();
        v["kind"] = "train".into();
        self.write(v);
    }

    fn on_eval(&mut self, log: &EvalLog) {
        self.inner.on_eval(log);
        let mut v = serde_json::to_value(log).unwrap_or_default();
        v["kind"] = "eval".into();
        self.write(v);
    }

    fn on_checkpoint(&mut self, step: usize, path: &Path) {
        self.inner.on_checkpoint(step, path);
    }

    fn on_message(&mut self, message: &str) {
        self.inner.on_message(message);
    }

    fn on_notice(&mut self, message: &str) {
        self.inner.on_notice(message);
    }

    fn on_finished(&mut self, summary: &RunSummary) {
        self.inner.on_finished(summary);
    }

    fn stop_requested(&self) -> Option<i32> {
        self.inner.stop_requested()
    }
}

/// The training, validation and test files the run reads: a packaged dataset's (fetched on first
/// use) or the ones given.
fn data_files(config: &RunConfig) -> Result<DataFiles, TrainError> {
    let d = &config.data;
    match (&d.dataset, &d.train) {
        (Some(name), _) => {
            let dir = ft_data::datasets::ensure(name).map_err(|source| TrainError::Data {
                context: format!("fetching dataset {name}"),
                source: Box::new(source),
            })?;
            let asset =
                ft_data::find_dataset(name).ok_or_else(|| TrainError::Config(format!("unknown dataset {name}")))?;
            let mut files = asset.files();
            if files.train.parent() != Some(dir.as_path()) {
                files.train = dir.join(asset.split_files[0]);
            }
            Ok(files)
        }
        (None, Some(train)) => {
            Ok(DataFiles { train: train.clone(), validation: d.validation.clone(), test: d.test.clone() })
        }
        (None, None) => {
            let names: Vec<&str> = ft_data::KNOWN_DATASETS.iter().map(|a| a.name).collect();
            Err(TrainError::Config(format!(
                "no training data: pass --train FILE (CSV, TSV, JSONL or CoNLL) or --dataset NAME ({})",
                names.join(", ")
            )))
        }
    }
}

/// Trains as `config` says into `out`. Progress, messages and the final summary go to `observer`
/// (which may also ask the run to stop, with a checkpoint); `log.jsonl` is written here.
pub fn execute(
    config: &RunConfig,
    out: &Path,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    let Some(model_spec) = config.model.clone() else {
        return Err(TrainError::Config(
            "--model is required: a model directory or a packaged asset (minilm-l6)".into(),
        ));
    };
    config.training.validate()?;
    let files = data_files(config)?;
    let d = &config.data;

    // Model first (cheap checks), then data.
    let spec: DeviceSpec = config.device.as_deref().unwrap_or("cpu").parse()?;
    let resolved = spec.resolve()?;
    if spec == DeviceSpec::Auto {
        observer.on_message(&format!("device     {}", spec.describe()?));
    }
    let plain = resolved.device()?;
    let device = plain.clone().autodiff();
    let model_dir = ft_infer::model_dir::resolve(&model_spec)?;
    let model_config = ft_model::BertConfig::from_file(&model_dir.join("config.json"))
        .map_err(|source| TrainError::Load { dir: model_dir.clone(), source: Box::new(source) })?;
    let positions = model_config.max_tokens();
    let family = model_config.family();
    let refused = match &config.training.peft {
        // Prefix keys need positions only where the attention has none of its own: not DeBERTa's
        // relative or ModernBERT's rotary ones, nor DistilBERT's attention module.
        Some(peft @ ft_model::Peft::Prefix(_))
            if !matches!(
                family,
                ft_model::Family::Bert
                    | ft_model::Family::Roberta
                    | ft_model::Family::XlmRoberta
                    | ft_model::Family::Electra
            ) =>
        {
            Some(peft)
        }
        Some(peft @ ft_model::Peft::Adapters(_)) if family == ft_model::Family::ModernBert => Some(peft),
        _ => None,
    };
    if let Some(peft) = refused {
        let works = if family == ft_model::Family::ModernBert { "lora or prompt" } else { "lora, adapters or prompt" };
        return Err(TrainError::Config(format!(
            "--peft {} on a {family} model: ft builds prefix tuning for BERT, RoBERTa, XLM-R and ELECTRA \
             (whose attention has no positions of its own), and bottleneck adapters for post-LayerNorm \
             layers; use --peft {works}, fine-tune fully, or freeze part of the encoder with --freeze",
            peft.name()
        )));
    }
    if d.max_len > positions {
        return Err(TrainError::Config(format!(
            "--max-len {} is longer than the model's {positions} positions (max_position_embeddings in {}{}); use --max-len {positions} or less",
            d.max_len,
            model_dir.join("config.json").display(),
            if positions == model_config.max_position_embeddings {
                String::new()
            } else {
                format!(
                    " is {}, less the {} rows {} keeps before its first position",
                    model_config.max_position_embeddings,
                    model_config.max_position_embeddings - positions,
                    model_config.family()
                )
            }
        )));
    }
    if d.max_len < 3 {
        return Err(TrainError::Config(format!(
            "--max-len {}: an example needs room for [CLS], one token and [SEP]; use 3 or more",
            d.max_len
        )));
    }
    if let Some(ft_model::Peft::Prompt(prompt)) = &config.training.peft {
        let p = prompt.num_virtual_tokens;
        if d.max_len + p > positions {
            return Err(TrainError::Config(format!(
                "--max-len {} with --virtual-tokens {p}: the virtual tokens take positions too, and the model has {positions} (max_position_embeddings in {}); use --max-len {} or less",
                d.max_len,
                model_dir.join("config.json").display(),
                positions.saturating_sub(p)
            )));
        }
    }
    let tokenizer = ft_infer::model_dir::tokenizer(&model_dir, model_config.vocab_size)?;
    let label_kind = match &d.label_kind {
        Some(k) => Some(k.parse::<LabelKind>().map_err(|e| TrainError::Config(format!("--label-kind: {e}")))?),
        // Questions with contexts are read as such when asked for, whatever the file looks like.
        None if config.task == Some(Task::QuestionAnswering) => Some(LabelKind::Spans),
        None => None,
    };

    // A packaged dataset whose splits use labels its training split lacks (ATIS) ships its label set.
    let label_names = match (&d.labels, &d.dataset) {
        (Some(names), _) => Some(names.clone()),
        (None, Some(name)) => match ft_data::find_dataset(name) {
            Some(asset) => asset.label_names().map_err(|source| TrainError::Data {
                context: format!("reading the labels of dataset {name}"),
                source: Box::new(source),
            })?,
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
        doc_stride: d.doc_stride,
        max_len: d.max_len,
        validation_split: d.validation_split,
        seed: config.training.seed,
        max_row_bytes: d.max_row_bytes,
    };
    let t_load = Instant::now();
    let data = ft_data::dataset::load(&files, &tokenizer, &data_options)
        .map_err(|source| TrainError::Data { context: "reading the data".into(), source: Box::new(source) })?;
    for report in &data.reports {
        observer.on_message(&format!("data       {report}"));
    }
    observer.on_message(&format!(
        "data       {} train / {} validation{} examples, {} labels ({}), tokenized in {:.1}s",
        data.train.len(),
        data.validation.len(),
        data.test.as_ref().map(|t| format!(" / {} test", t.len())).unwrap_or_default(),
        data.labels.num_labels(),
        match data.labels.kind {
            LabelKind::Regression => "regression".to_string(),
            LabelKind::Spans => "answer spans: start and end".to_string(),
            _ => data.labels.names.join(", "),
        },
        t_load.elapsed().as_secs_f64()
    ));

    let detected = crate::trainer::task_for_labels(data.labels.kind);
    let task = config.task.unwrap_or(detected);
    if task != detected {
        return Err(TrainError::Config(format!(
            "--task {task}: the data is for {detected} ({}); pass --task {detected} or other data",
            match detected {
                Task::TokenClassification => "tagged sentences",
                Task::QuestionAnswering => "questions with contexts",
                Task::SequenceClassification => "a label per text",
            }
        )));
    }
    if config.task.is_none() && task == Task::TokenClassification {
        observer.on_message(&format!("task       {task} (the training file holds tagged words)"));
    }
    if config.task.is_none() && task == Task::QuestionAnswering {
        observer.on_message(&format!("task       {task} (the training file holds questions with contexts)"));
    }
    let setup = Setup {
        config,
        out,
        options,
        model_spec: &model_spec,
        model_dir: &model_dir,
        files: &files,
        device: &device,
        plain: &plain,
        resolved,
    };
    match task {
        Task::SequenceClassification => load_and_train::<BertForSequenceClassification>(&setup, &data, observer),
        Task::TokenClassification => load_and_train::<BertForTokenClassification>(&setup, &data, observer),
        Task::QuestionAnswering => load_and_train::<BertForQuestionAnswering>(&setup, &data, observer),
    }
}

/// What `execute` resolved, for the typed part of the run.
struct Setup<'a> {
    config: &'a RunConfig,
    out: &'a Path,
    options: &'a RunOptions,
    model_spec: &'a str,
    model_dir: &'a Path,
    files: &'a DataFiles,
    /// The training (autodiff) device.
    device: &'a Device,
    /// The inference device.
    plain: &'a Device,
    resolved: DeviceSpec,
}

/// Loads the model as head `H`, claims the output directory and trains.
fn load_and_train<H: Head>(
    setup: &Setup<'_>,
    data: &ft_data::LoadedData,
    observer: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    let Setup { config, out, options, model_spec, model_dir, files, .. } = *setup;
    let labels = match data.labels.kind {
        LabelKind::Regression => vec!["LABEL_0".to_string()],
        // transformers' default for a QA head's config (num_labels 2: start and end).
        LabelKind::Spans => vec!["LABEL_0".to_string(), "LABEL_1".to_string()],
        _ => data.labels.names.clone(),
    };
    let load_options = LoadOptions {
        labels: Some(labels),
        reinit_classifier: config.reinit_head,
        seed: config.training.seed,
        pooling: config.pooling,
    };
    let mut loaded = ft_model::load_pretrained::<H>(model_dir, &load_options, setup.device)
        .map_err(|source| TrainError::Load { dir: model_dir.to_path_buf(), source: Box::new(source) })?;
    if let Some((pooling, why)) = &loaded.report.pooling {
        observer.on_message(&format!("pooling    {pooling} ({why})"));
        if !pooling.transformers_compatible() {
            observer.on_message(&format!(
                "pooling    note: transformers' BertForSequenceClassification has only the pooler; the saved \
                 model records `ft_pooling = {pooling}` in config.json and predicts as trained in ft, not in \
                 transformers (train with --pooling pooler for a model transformers serves as is)"
            ));
        }
    }
    crate::trainer::check_thresholds(&config.training, data.labels.kind)?;
    loaded.config.problem_type = match data.labels.kind {
        LabelKind::SingleLabel => Some(ft_model::ProblemType::SingleLabelClassification),
        LabelKind::MultiLabel => Some(ft_model::ProblemType::MultiLabelClassification),
        LabelKind::Regression => Some(ft_model::ProblemType::Regression),
        LabelKind::TokenClasses | LabelKind::Spans => None,
    };
    for note in &loaded.report.notes {
        observer.on_message(&format!("model      {note}"));
    }

    let freeze: crate::Freeze = config.training.freeze.parse()?;
    let (prepared, _) = crate::trainer::prepare(loaded.model.clone(), &config.training, setup.device)?;
    let (trainable, total) = crate::params::trainable_counts(&prepared);
    drop(prepared);
    let method = match &config.training.peft {
        Some(ft_model::Peft::Lora(lora)) => format!("--peft lora, r {}", lora.r),
        Some(ft_model::Peft::Prompt(p)) => format!("--peft prompt, {} virtual tokens", p.num_virtual_tokens),
        Some(ft_model::Peft::Adapters(a)) => format!("--peft adapters, reduction {}", a.reduction),
        Some(ft_model::Peft::Prefix(p)) => format!("--peft prefix, {} positions", p.num_virtual_tokens),
        None => format!("--freeze {freeze}"),
    };

    // Everything is checked: only now is the output directory touched.
    let mode = match options.resume {
        Some(_) => OutputMode::Resume,
        None => OutputMode::New { overwrite: options.overwrite },
    };
    let mut inputs: Vec<&Path> = vec![model_dir, files.train.as_path()];
    inputs.extend(files.validation.as_deref());
    inputs.extend(files.test.as_deref());
    let run_dir = RunDir::open(out, mode, &config.to_toml()?, &inputs)?;
    if let Some(previous) = run_dir.previous_run() {
        observer.on_message(&format!(
            "output     replacing {}: the previous run waits in {} until this one finishes",
            out.display(),
            previous.display()
        ));
    }
    if options.resume.is_some() {
        // What the run continues with (`--force` may have changed settings).
        write_atomically(&out.join(RUN_TOML), config.to_toml()?.as_bytes())?;
    }
    let result = (|| {
        let log_path = out.join("log.jsonl");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| TrainError::Output(format!("opening {}: {e}", log_path.display())))?;
        let mut logged = Logged { inner: observer, log, log_path };
        logged.on_message(&format!(
            "train      {} {} on {}: {} of {} parameters trainable ({method})",
            H::TASK.architecture(),
            model_spec,
            setup.resolved.describe()?,
            thousands(trainable),
            thousands(total)
        ));
        let summary = train_and_save(setup, data, loaded, &mut logged)?;
        logged.on_finished(&summary);
        Ok(summary)
    })();
    match result {
        Ok(summary) => {
            run_dir.finish()?;
            Ok(summary)
        }
        Err(e) => {
            if matches!(e, TrainError::Interrupted { .. }) {
                observer.on_notice(&format!("stopped    resume with: ft train --resume {}", out.display()));
                if let Some(previous) = run_dir.previous_run() {
                    observer.on_notice(&format!(
                        "           (the run it replaces is kept in {} until this one finishes)",
                        previous.display()
                    ));
                }
            } else if let Some(what) = run_dir.abandon() {
                observer.on_notice(&format!("cleanup    {what}"));
            }
            Err(e)
        }
    }
}

/// The training itself and the outputs, once the output directory is ours.
fn train_and_save<H: Head>(
    setup: &Setup<'_>,
    data: &ft_data::LoadedData,
    loaded: ft_model::PretrainedModel<H>,
    observer: &mut Logged<'_>,
) -> Result<RunSummary, TrainError> {
    let Setup { config, out, options, model_spec, model_dir, plain, .. } = *setup;
    let t_train = Instant::now();
    let outcome = crate::train(
        loaded.model,
        data,
        &config.training,
        out,
        options.resume.as_deref(),
        setup.device,
        &mut *observer,
    )?;
    let train_seconds = t_train.elapsed().as_secs_f64();

    // Final metrics with the best model, on the plain device (the metrics of the evaluations during
    // training; the outputs are kept for the report).
    let split_outputs = |examples: &ft_data::Examples| -> Result<Outputs, TrainError> {
        Ok(ft_infer::outputs(&outcome.model, examples, config.training.eval_batch_size, plain)?)
    };
    let validation_outputs = split_outputs(&data.validation)?;
    let test_outputs = data.test.as_ref().map(split_outputs).transpose()?;
    let thresholds = final_thresholds(&config.training, data, &validation_outputs)?;
    if config.training.tune_thresholds {
        observer.on_message(&format!(
            "thresholds tuned on validation (F1 per label): {}",
            thresholds.describe(&data.labels.names)
        ));
    }
    let final_metrics = |examples: &ft_data::Examples, outputs: &Outputs| -> Result<Metrics, TrainError> {
        Ok(match outputs {
            Outputs::Rows(rows) => crate::eval::metrics(rows, data.labels.kind, &thresholds),
            Outputs::Tokens(tokens) => token_metrics(tokens, &data.labels.names)?,
            Outputs::Spans(spans) => crate::eval::span_metrics(spans, examples)?,
        })
    };
    let validation = final_metrics(&data.validation, &validation_outputs)?;
    let test = match (&data.test, &test_outputs) {
        (Some(examples), Some(outputs)) => Some(final_metrics(examples, outputs)?),
        _ => None,
    };
    for (split, outputs) in [("validation", Some(&validation_outputs)), ("test", test_outputs.as_ref())] {
        if let Some(Outputs::Rows(rows)) = outputs
            && let Some(warning) =
                crate::eval::never_predicted_warning(rows, data.labels.kind, &thresholds, &data.labels.names, split)
        {
            observer.on_message(&warning);
        }
    }
    for (split, metrics) in [("validation", Some(&validation)), ("test", test.as_ref())] {
        if let Some(m) = metrics {
            observer.write(serde_json::json!({"kind": "final", "split": split, "step": outcome.steps, "metrics": m}));
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
        "device": setup.resolved.to_string(),
        "examples": {
            "train": data.train.len(),
            "validation": data.validation.len(),
            "test": data.test.as_ref().map(|t| t.len()),
        },
        "epochs": config.training.epochs,
        // Multi-label: the threshold of each label the metrics (and the saved model) decide with.
        "thresholds": (data.labels.kind == LabelKind::MultiLabel).then(|| {
            data.labels.names.iter().enumerate().map(|(k, n)| (n.clone(), thresholds.get(k))).collect::<std::collections::BTreeMap<_, _>>()
        }),
        // Peak resident memory of the process so far (Linux; null elsewhere).
        "peak_rss_kib": peak_rss_kib(),
    });
    let mut model_config = loaded.config.clone();
    // A Hub model: which commit the revision resolved to, for whoever reads the output.
    if let Some((id, commit)) = ft_assets::hub::snapshot_of(model_dir) {
        let revision = model_spec.split_once('@').map_or("main", |(_, r)| r);
        model_config
            .extra
            .insert("ft_base_model".into(), serde_json::json!({"hub": id, "revision": revision, "commit": commit}));
    }
    if data.labels.kind == LabelKind::MultiLabel {
        thresholds.write_to(&mut model_config, &data.labels.names);
    }
    match &config.training.peft {
        None => install_model(&outcome.model, &model_config, out, Some(model_dir))?,
        Some(ft_model::Peft::Prefix(_)) => {
            // The prefixes and the head in PEFT's PREFIX_TUNING format; the run directory the whole
            // model with its prefixes (config.json's `ft_prefix`; ft reads them back).
            let adapter_dir = out.join(ADAPTER_DIR);
            ft_model::peft::prefix::save_adapter(&outcome.model, &model_config, Some(model_spec), &adapter_dir, true)
                .map_err(|source| TrainError::Save { dir: adapter_dir.clone(), source: Box::new(source) })?;
            install_model(&outcome.model, &model_config, out, Some(model_dir))?;
        }
        Some(ft_model::Peft::Adapters(_)) => {
            // The adapters, LayerNorms and head alone (ft's format), and the run directory the whole
            // model with its adapters (config.json's `ft_adapters`; ft reads them back).
            let adapter_dir = out.join(ADAPTER_DIR);
            ft_model::peft::bottleneck::save_adapter(
                &outcome.model,
                &model_config,
                Some(model_spec),
                &adapter_dir,
                true,
            )
            .map_err(|source| TrainError::Save { dir: adapter_dir.clone(), source: Box::new(source) })?;
            install_model(&outcome.model, &model_config, out, Some(model_dir))?;
        }
        Some(ft_model::Peft::Prompt(prompt)) => {
            // The virtual tokens and the head in PEFT's format; the run directory the whole model with
            // its virtual tokens (ft reads them back; there is no plain transformers model of it).
            let adapter_dir = out.join(ADAPTER_DIR);
            ft_model::peft::prompt::save_adapter(
                &outcome.model,
                prompt,
                &model_config,
                Some(model_spec),
                &adapter_dir,
                true,
            )
            .map_err(|source| TrainError::Save { dir: adapter_dir.clone(), source: Box::new(source) })?;
            install_model(&outcome.model, &model_config, out, Some(model_dir))?;
        }
        Some(ft_model::Peft::Lora(lora)) => {
            // The adapter alone in PEFT's format (what ships per task), and the run directory itself a
            // plain model with the branches merged (what ft eval / predict and transformers load).
            let adapter_dir = out.join(ADAPTER_DIR);
            ft_model::save_adapter(&outcome.model, lora, &model_config, Some(model_spec), &adapter_dir, true)
                .map_err(|source| TrainError::Save { dir: adapter_dir.clone(), source: Box::new(source) })?;
            let merged = outcome.model.clone().map_bert(ft_model::peft::lora::merge);
            install_model(&merged, &model_config, out, Some(model_dir))?;
        }
    }
    let metrics =
        serde_json::to_string_pretty(&metrics).map_err(|e| TrainError::Output(format!("writing metrics.json: {e}")))?;
    write_atomically(&out.join("metrics.json"), metrics.as_bytes())?;
    let (final_split, outputs) = match test_outputs {
        Some(o) => ("test", o),
        None => ("validation", validation_outputs.clone()),
    };
    Ok(RunSummary {
        out: out.to_path_buf(),
        task: H::TASK,
        model_spec: model_spec.to_string(),
        labels: data.labels.clone(),
        steps: outcome.steps,
        train_seconds,
        best: outcome.best,
        validation,
        test,
        final_split,
        outputs,
        validation_split: (data.validation.clone(), validation_outputs),
    })
}

/// Where a `--peft lora` run keeps its adapter (PEFT's `adapter_config.json` +
/// `adapter_model.safetensors`), inside the run directory.
pub const ADAPTER_DIR: &str = "adapter";

/// The thresholds the final metrics and the saved model decide multi-label rows with: tuned on the
/// validation outputs (`--tune-thresholds`), else `--threshold` for every label.
fn final_thresholds(
    settings: &crate::TrainSettings,
    data: &ft_data::LoadedData,
    validation: &Outputs,
) -> Result<Thresholds, TrainError> {
    let uniform = settings.thresholds();
    if !settings.tune_thresholds || data.labels.kind != LabelKind::MultiLabel {
        return Ok(uniform);
    }
    let Outputs::Rows(rows) = validation else { return Ok(uniform) };
    let truth: Vec<bool> = rows
        .labels
        .iter()
        .flat_map(|l| match l {
            ft_data::Labels::MultiHot { values, .. } => values.iter().map(|&y| y > 0.5).collect(),
            _ => Vec::new(),
        })
        .collect();
    let probs: Vec<f64> = rows.logits.iter().map(|&x| ft_infer::sigmoid(x)).collect();
    let tuned = ft_eval::tune_thresholds(&truth, &probs, rows.num_labels, settings.threshold)
        .map_err(|e| TrainError::Config(format!("--tune-thresholds on the validation split: {e}")))?;
    Ok(Thresholds::PerLabel(tuned))
}

/// Peak resident set size of this process in KiB (Linux; `None` elsewhere).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
