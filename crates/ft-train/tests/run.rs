//! The run as a library call: `ft_train::execute` on the tiny fixture models, without the CLI — a
//! sequence run and a token run each leave a loadable model, metrics.json, log.jsonl and run.toml, and
//! report through the observer; a second run into the same directory without `overwrite` is refused
//! and leaves the first untouched.

use ft_train::run_config::RunConfig;
use ft_train::trainer::{EvalLog, Observer, StepLog};
use ft_train::{RunOptions, RunSummary};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// What the run told its observer.
#[derive(Default)]
struct Recorder {
    messages: Vec<String>,
    steps: usize,
    evals: usize,
    finished: Option<(PathBuf, usize)>,
}

impl Observer for Recorder {
    fn on_step(&mut self, _log: &StepLog) {
        self.steps += 1;
    }
    fn on_eval(&mut self, _log: &EvalLog) {
        self.evals += 1;
    }
    fn on_message(&mut self, message: &str) {
        self.messages.push(message.to_string());
    }
    fn on_finished(&mut self, summary: &RunSummary) {
        // The directory is complete when the observer hears of it (report.html is written here).
        assert!(summary.out.join("metrics.json").is_file() && summary.out.join("config.json").is_file());
        self.finished = Some((summary.out.clone(), summary.steps));
    }
}

fn config(model: &str, train: &Path, batch_size: usize) -> RunConfig {
    // The fixtures' heads have other label counts: a fresh head, as `--reinit-head`.
    let mut c = RunConfig {
        model: Some(fixtures().join(model).display().to_string()),
        reinit_head: true,
        ..Default::default()
    };
    c.data.train = Some(train.to_path_buf());
    c.data.max_len = 16;
    c.data.validation_split = 0.25;
    c.training.epochs = 2;
    c.training.batch_size = batch_size;
    c.training.lr = 1e-3;
    c
}

#[test]
fn a_sequence_run_is_one_library_call() {
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("train.tsv");
    let mut rows = String::from("sentence\tlabel\n");
    for i in 0..16 {
        rows.push_str(if i % 2 == 0 { "a good film\tpos\n" } else { "a bad one\tneg\n" });
    }
    std::fs::write(&train, rows).unwrap();
    let out = tmp.path().join("run");
    let mut rec = Recorder::default();
    let summary = ft_train::execute(&config("tiny", &train, 4), &out, &RunOptions::default(), &mut rec).unwrap();

    assert_eq!(summary.task, ft_model::Task::SequenceClassification);
    assert_eq!(summary.labels.names, ["neg", "pos"]);
    assert_eq!((summary.final_split, summary.steps), ("validation", 6), "12 training rows, batch 4, 2 epochs");
    assert!(matches!(summary.outputs, ft_infer::Outputs::Rows(ref r) if r.logits.len() == 4 * 2));
    assert_eq!((rec.steps, rec.evals), (6, 2));
    assert_eq!(rec.finished, Some((out.clone(), 6)));
    assert!(rec.messages.iter().any(|m| m.starts_with("data       12 train / 4 validation")), "{:?}", rec.messages);
    for file in ["config.json", "model.safetensors", "metrics.json", "log.jsonl", "run.toml", "tokenizer.json"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"kind\":\"train\"")).count(), 6);
    assert!(log.lines().any(|l| l.contains("\"kind\":\"final\"")));
    // What the run saved is what ft-infer serves.
    let p = ft_infer::Predictor::load(&out.display().to_string(), summary_device(), None).unwrap();
    assert_eq!(p.space.names, ["neg", "pos"]);

    // The same directory again, without overwrite: refused, the first run intact.
    let before = std::fs::read(out.join("model.safetensors")).unwrap();
    let err = ft_train::execute(&config("tiny", &train, 4), &out, &RunOptions::default(), &mut Recorder::default())
        .unwrap_err();
    assert!(matches!(err, ft_train::TrainError::Output(_)), "{err}");
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), before);
}

#[test]
fn a_token_run_is_the_same_call() {
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("train.conll");
    let mut rows = String::new();
    for _ in 0..8 {
        rows.push_str("anna B-PER\nlives O\nin O\nrome B-LOC\n\n");
    }
    std::fs::write(&train, rows).unwrap();
    let out = tmp.path().join("run");
    let mut rec = Recorder::default();
    let summary = ft_train::execute(&config("tiny-token", &train, 2), &out, &RunOptions::default(), &mut rec).unwrap();
    assert_eq!(summary.task, ft_model::Task::TokenClassification);
    assert!(rec.messages.iter().any(|m| m.contains("token-classification (the training file holds tagged words)")));
    let ft_infer::Outputs::Tokens(tokens) = &summary.outputs else { panic!("a token run gives token outputs") };
    assert_eq!(tokens.gold.len(), 2, "2 validation sentences");
    assert!(tokens.gold.iter().all(|s| s.len() == 4), "a label per word");
    assert!(summary.validation.contains_key("f1"));
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
}

/// A multi-label file trains with the default settings: the best model is picked by `accuracy`, the
/// subset accuracy (a regression test: the metric was missing for multi-label runs, which stopped them
/// at their first evaluation).
#[test]
fn a_multi_label_run_picks_its_best_model_by_subset_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("train.jsonl");
    let mut rows = String::new();
    for i in 0..16 {
        rows.push_str(match i % 3 {
            0 => "{\"text\": \"a good film\", \"label\": [\"pos\"]}\n",
            1 => "{\"text\": \"a bad one\", \"label\": [\"neg\"]}\n",
            _ => "{\"text\": \"good and bad\", \"label\": [\"neg\", \"pos\"]}\n",
        });
    }
    std::fs::write(&train, rows).unwrap();
    let out = tmp.path().join("run");
    let summary =
        ft_train::execute(&config("tiny", &train, 4), &out, &RunOptions::default(), &mut Recorder::default()).unwrap();
    assert_eq!(summary.labels.kind, ft_data::LabelKind::MultiLabel);
    assert_eq!(summary.best.as_ref().map(|b| b.metric.as_str()), Some("accuracy"));
    for key in ["accuracy", "hamming_loss", "micro_f1", "macro_f1", "loss"] {
        assert!(summary.validation.contains_key(key), "{key}: {:?}", summary.validation);
    }
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["problem_type"], "multi_label_classification");
}

fn summary_device() -> ft_model::burn::tensor::Device {
    ft_model::DeviceSpec::Cpu.device().unwrap()
}
