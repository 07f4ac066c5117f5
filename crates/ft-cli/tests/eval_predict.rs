//! `ft eval` and `ft predict` on the tiny fixture model: eval reproduces a run's test metrics exactly,
//! names the file:line of a label the model does not know, prints the tables; predict writes one JSON
//! line per text from arguments, stdin and files, and `ft train` leaves a report.html.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// A small sentiment set the tiny vocabulary can read (as in tests/train.rs).
fn write_data(dir: &Path, rows: usize) -> (PathBuf, PathBuf) {
    let pos = ["good", "great", "fun", "love"];
    let neg = ["bad", "awful", "boring", "hate"];
    let mut state = 11u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let (mut train, mut test) = (String::from("text,label\n"), String::from("text,label\n"));
    for i in 0..rows {
        let positive = next() % 2 == 0;
        let words: Vec<&str> =
            (0..2 + next() % 6).map(|_| if positive { pos[next() % 4] } else { neg[next() % 4] }).collect();
        let line = format!("{} movie,{}\n", words.join(" "), if positive { "positive" } else { "negative" });
        if i % 4 == 0 { test.push_str(&line) } else { train.push_str(&line) }
    }
    let (a, b) = (dir.join("train.csv"), dir.join("test.csv"));
    std::fs::write(&a, train).unwrap();
    std::fs::write(&b, test).unwrap();
    (a, b)
}

/// Trains the tiny model for a few steps; returns (run dir, test file).
fn trained(dir: &Path) -> (PathBuf, PathBuf) {
    let (train, test) = write_data(dir, 160);
    let out = dir.join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--eval-batch-size",
        "7",
        "--lr",
        "2e-3",
        "--max-len",
        "24",
        "--reinit-head",
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    (out, test)
}

#[test]
fn eval_reproduces_the_runs_test_metrics_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (run, test) = trained(dir.path());
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    let o = ft(&["eval", "--model", run.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Same batches (max_len 24 and eval batch size 7 come from run.toml), same code: equal, not close.
    assert_eq!(eval["max_len"], 24);
    assert_eq!(eval["batch_size"], 7);
    assert_eq!(eval["metrics"], metrics["test"], "eval: {eval}\nrun: {metrics}");
    assert_eq!(eval["report"]["accuracy"], metrics["test"]["accuracy"]);
    assert_eq!(eval["report"]["mcc"], metrics["test"]["mcc"]);
    assert_eq!(eval["roc_auc"], metrics["test"]["roc_auc"]);
    let loss = (eval["log_loss"].as_f64().unwrap() - metrics["test"]["loss"].as_f64().unwrap()).abs();
    assert!(loss < 1e-12, "log-loss differs by {loss}");
    assert_eq!(eval["labels"], serde_json::json!(["negative", "positive"]));
    let confusion = &eval["report"]["confusion"];
    let total: u64 =
        confusion.as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, eval["num_examples"].as_u64().unwrap());
}

#[test]
fn eval_prints_tables_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let (run, test) = trained(dir.path());
    // ft train wrote its own report next to metrics.json.
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(page.matches("<svg").count() >= 5, "loss, lr, validation, heat map, bars");
    let report = dir.path().join("eval.html");
    let o = ft(&[
        "eval",
        "--model",
        run.to_str().unwrap(),
        "--data",
        test.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for expect in [
        "precision",
        "negative",
        "positive",
        "macro avg",
        "weighted avg",
        "accuracy",
        "mcc",
        "log-loss",
        "roc-auc",
        "confusion matrix",
    ] {
        assert!(out.contains(expect), "{expect:?} missing from:\n{out}");
    }
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("confusion matrix") && page.contains("test.csv"), "{page}");
}

#[test]
fn eval_names_file_and_line_of_an_unknown_label() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = trained(dir.path());
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "text,label\ngood movie,positive\nbad movie,negative\nmeh movie,neutral\n").unwrap();
    let o = ft(&["eval", "--model", run.to_str().unwrap(), "--data", bad.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.csv:4") && err.contains("\"neutral\""), "{err}");
    assert!(err.contains("[negative, positive]") && err.contains("id2label"), "{err}");
    assert!(!err.contains("panicked") && o.stdout.is_empty(), "{err}");
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn predict_writes_one_json_line_per_text_from_any_source() {
    let tiny = fixtures().join("tiny");
    let model = tiny.to_str().unwrap();
    let from_args =
        lines(&ft(&["predict", "--model", model, "good fun movie", "awful boring film", "--batch-size", "1"]));
    assert_eq!(from_args.len(), 2);
    let first = &from_args[0];
    assert_eq!(first["text"], "good fun movie");
    let probs = first["probs"].as_object().unwrap();
    assert_eq!(probs.keys().collect::<Vec<_>>(), ["negative", "neutral", "positive"], "id2label order");
    let sum: f64 = probs.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    let best = probs.iter().max_by(|a, b| a.1.as_f64().unwrap().total_cmp(&b.1.as_f64().unwrap())).unwrap();
    assert_eq!(first["label"], best.0.as_str());
    assert_eq!(first["score"], *best.1);

    // stdin, with a blank line skipped and a CRLF line ending.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(["predict", "--model", model, "-", "--top-k", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"good fun movie\r\n\nawful boring film\n").unwrap();
    let from_stdin = lines(&child.wait_with_output().unwrap());
    assert_eq!(from_stdin.len(), 2);
    assert_eq!(from_stdin[0]["text"], "good fun movie");
    assert_eq!(from_stdin[0]["label"], first["label"]);
    assert_eq!(from_stdin[0]["score"], first["score"], "batch size and source do not change the numbers");
    let top: Vec<f64> = from_stdin[1]["probs"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).collect();
    assert!(top.len() == 2 && top[0] >= top[1], "{top:?}");

    // A file without a label column; JSONL with a pair column.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "id,text\n1,good fun movie\n2,awful boring film\n3,\"great, great\"\n").unwrap();
    let from_file = lines(&ft(&["predict", "--model", model, "--data", csv.to_str().unwrap()]));
    assert_eq!(from_file.len(), 3);
    assert_eq!(from_file[0]["score"], first["score"]);
    assert_eq!(from_file[2]["text"], "great, great");
    let jsonl = dir.path().join("pairs.jsonl");
    std::fs::write(&jsonl, "{\"q\": \"good?\", \"a\": \"great fun\"}\n").unwrap();
    let pairs = lines(&ft(&[
        "predict",
        "--model",
        model,
        "--data",
        jsonl.to_str().unwrap(),
        "--text-column",
        "q",
        "--text-pair-column",
        "a",
    ]));
    assert_eq!((pairs[0]["text"].as_str(), pairs[0]["text_pair"].as_str()), (Some("good?"), Some("great fun")));
}

#[test]
fn predict_streams_a_long_input_in_chunks() {
    let tiny = fixtures().join("tiny");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(["predict", "--model", tiny.to_str().unwrap(), "-", "--batch-size", "64", "--top-k", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..3000 {
            writeln!(stdin, "line {i} good movie").unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let got = lines(&out);
    assert_eq!(got.len(), 3000);
    assert_eq!(got[2999]["text"], "line 2999 good movie");
}

#[test]
fn predict_refuses_bad_input_with_a_message() {
    let tiny = fixtures().join("tiny");
    let model = tiny.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "text\ngood\n\"\"\n").unwrap();
    for (args, expect) in [
        (vec!["predict", "--model", model], "nothing to predict"),
        (vec!["predict", "--model", model, "--data", "/no/such.csv"], "no such file"),
        (vec!["predict", "--model", model, "x", "--top-k", "0"], "--top-k 0"),
        (vec!["predict", "--model", model, "--data", csv.to_str().unwrap()], "in.csv:3: empty text"),
    ] {
        let o = ft(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Sentence pairs end to end: `ft train --text-pair-column` (the label is the sentiment of the second
/// text, so the pair matters), `ft eval` on the pair test file reproducing the run's test metrics
/// exactly and writing a report, `ft predict --data` on the same file giving each pair's text and
/// text_pair and the same predictions as eval — all with the pair column taken from run.toml.
#[test]
fn sentence_pairs_train_evaluate_predict_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let pos = ["good", "great", "fun", "love"];
    let neg = ["bad", "awful", "boring", "hate"];
    let (mut train, mut test) = (String::from("premise,reply,label\n"), String::from("premise,reply,label\n"));
    for i in 0..160usize {
        let (first, second) = (if i % 3 == 0 { pos } else { neg }, if i % 2 == 0 { pos } else { neg });
        let label = if i % 2 == 0 { "agree" } else { "object" };
        let line = format!("{} movie,{} {},{label}\n", first[i % 4], second[(i / 2) % 4], second[(i / 3) % 4]);
        if i % 5 == 0 { test.push_str(&line) } else { train.push_str(&line) }
    }
    let (train_csv, test_csv) = (dir.path().join("train.csv"), dir.path().join("test.csv"));
    std::fs::write(&train_csv, train).unwrap();
    std::fs::write(&test_csv, test).unwrap();
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train_csv.to_str().unwrap(),
        "--test",
        test_csv.to_str().unwrap(),
        "--text-column",
        "premise",
        "--text-pair-column",
        "reply",
        "--output",
        out.to_str().unwrap(),
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--lr",
        "2e-3",
        "--max-len",
        "16",
        "--reinit-head",
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["test"]["accuracy"].as_f64().unwrap() > 0.6, "{metrics}");
    let toml = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(toml.contains("text_pair_column = \"reply\""), "{toml}");

    let report = dir.path().join("report.html");
    let o = ft(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--data",
        test_csv.to_str().unwrap(),
        "--json",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(eval["metrics"], metrics["test"], "eval: {eval}\nrun: {metrics}");
    assert!(std::fs::read_to_string(&report).unwrap().contains("<html"));

    let predictions = lines(&ft(&["predict", "--model", out.to_str().unwrap(), "--data", test_csv.to_str().unwrap()]));
    assert_eq!(predictions.len(), 32);
    assert_eq!(predictions[0]["text"], "good movie");
    assert!(predictions[0]["text_pair"].as_str().is_some_and(|t| t.split(' ').count() == 2), "{}", predictions[0]);
    let right = predictions
        .iter()
        .zip(std::fs::read_to_string(&test_csv).unwrap().lines().skip(1))
        .filter(|(p, line)| line.ends_with(&format!(",{}", p["label"].as_str().unwrap())))
        .count();
    let accuracy = right as f64 / predictions.len() as f64;
    assert!((accuracy - metrics["test"]["accuracy"].as_f64().unwrap()).abs() < 1e-12, "{accuracy} vs {metrics}");
}

/// Multi-label end to end on real-shaped data: the packaged `atis-intents` (ATIS utterances; the
/// source joins an utterance's several intents with `#`, the packaged rows carry them as a list),
/// on the tiny model. `ft train --tune-thresholds` tunes a threshold per label on validation, scores
/// validation and test with them and saves them in config.json; `ft eval` on the test file gives
/// metrics.json's test numbers exactly with the saved thresholds; on validation the tuned macro-F1 is
/// at least the one at 0.5 (`--threshold 0.5`: 0.5 is on the grid, and each label keeps its best F1);
/// `ft predict` names exactly the labels whose probability exceeds their threshold, and its label
/// sets give metrics.json's test subset accuracy; report.html has the multi-label metrics.
#[test]
fn multi_label_thresholds_are_tuned_saved_and_used_by_eval_and_predict() {
    let files = ft_data::datasets::ensure("atis-intents").unwrap_or_else(|e| panic!("{e}"));
    let (validation, test) = (files.join("validation.jsonl"), files.join("test.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--dataset",
        "atis-intents",
        "--output",
        out.to_str().unwrap(),
        "--max-steps",
        "40",
        "--batch-size",
        "32",
        "--lr",
        "5e-3",
        "--max-len",
        "32",
        "--reinit-head",
        "--seed",
        "3",
        "--tune-thresholds",
    ]);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("thresholds tuned on validation (F1 per label): atis_abbreviation "), "{stderr}");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["problem_type"], "multi_label_classification");
    assert_eq!(config["ft_thresholds"], metrics["thresholds"], "{config}");
    let thresholds = metrics["thresholds"].as_object().unwrap();
    let names: Vec<String> =
        (0..thresholds.len()).map(|k| config["id2label"][k.to_string()].as_str().unwrap().into()).collect();
    assert_eq!(
        names.len(),
        ft_data::datasets::find_dataset("atis-intents").unwrap().label_names().unwrap().unwrap().len()
    );
    let grid = ft_eval::threshold_grid();
    assert!(thresholds.values().all(|t| grid.contains(&t.as_f64().unwrap())), "{thresholds:?}");
    assert!(thresholds.values().any(|t| t.as_f64() != Some(0.5)), "nothing was tuned: {thresholds:?}");

    // ft eval with the saved thresholds reproduces the run's test metrics.
    let eval = |data: &Path, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["eval", "--model", out.to_str().unwrap(), "--data", data.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let o = ft(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let on_test = eval(&test, &[]);
    assert_eq!(on_test["metrics"], metrics["test"], "eval: {on_test}\nrun: {metrics}");
    let saved: Vec<f64> = names.iter().map(|n| thresholds[n].as_f64().unwrap()).collect();
    assert_eq!(on_test["thresholds"], serde_json::json!(saved));
    // Tuning never lowers a label's validation F1, so not the macro average either.
    let at_half = eval(&validation, &["--threshold", "0.5"]);
    assert_eq!(at_half["thresholds"], serde_json::json!(vec![0.5; names.len()]));
    let tuned = metrics["validation"]["macro_f1"].as_f64().unwrap();
    assert!(tuned >= at_half["metrics"]["macro_f1"].as_f64().unwrap(), "tuned {tuned} vs {at_half}");
    assert_eq!(eval(&validation, &[])["metrics"], metrics["validation"]);

    // ft predict decides with the saved thresholds.
    let predictions = lines(&ft(&["predict", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap()]));
    let gold: Vec<serde_json::Value> =
        std::fs::read_to_string(&test).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(predictions.len(), gold.len());
    let mut exact = 0;
    for (p, g) in predictions.iter().zip(&gold) {
        let expected: Vec<&str> = names
            .iter()
            .zip(&saved)
            .filter(|(n, t)| p["probs"][n.as_str()].as_f64().unwrap() > **t)
            .map(|(n, _)| n.as_str())
            .collect();
        let labels: Vec<&str> = p["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert_eq!(labels, expected, "{p}");
        let mut want: Vec<&str> = g["label"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let mut got = labels.clone();
        want.sort_unstable();
        got.sort_unstable();
        exact += usize::from(want == got);
    }
    let accuracy = exact as f64 / gold.len() as f64;
    assert!((accuracy - metrics["test"]["accuracy"].as_f64().unwrap()).abs() < 1e-12, "{accuracy} vs {metrics}");
    // --threshold overrides, and is refused out of (0, 1).
    let o = ft(&["predict", "--model", out.to_str().unwrap(), "--threshold", "0.999999", "show me flights"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = ft(&["predict", "--model", out.to_str().unwrap(), "--threshold", "1", "show me flights"]);
    assert!(!o.status.success() && text(&o.stderr).contains("--threshold 1: a probability threshold"));

    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("micro_f1") && report.contains("hamming_loss"),
        "report.html lacks the multi-label metrics"
    );
}

/// `--threshold` and `--tune-thresholds` mean something for multi-label labels only: on single-label
/// data they are refused with the fix before the output directory exists; a threshold outside (0, 1)
/// is refused by name.
#[test]
fn thresholds_are_refused_where_they_mean_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_data(dir.path(), 40);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let base = [
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-steps",
        "2",
        "--max-len",
        "32",
        "--reinit-head",
    ];
    for (extra, needle) in [
        (
            vec!["--tune-thresholds"],
            "--tune-thresholds applies to multi-label classification, and these labels are single-label",
        ),
        (vec!["--threshold", "0.3"], "--threshold applies to multi-label classification"),
        (vec!["--threshold", "1.5"], "--threshold 1.5: a probability threshold must be strictly between 0 and 1"),
    ] {
        let o = ft(&[&base[..], &extra[..]].concat());
        let stderr = text(&o.stderr);
        assert!(!o.status.success() && stderr.contains(needle), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?} left {}", out.display());
    }
}
