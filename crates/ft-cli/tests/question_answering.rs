//! `ft predict` with a question-answering model (fixtures/tiny-qa): `--question`/`--context` give the
//! answer transformers + utils_qa.py give (`fixtures/qa_predict_golden.json`), `--data` answers every
//! question of a SQuAD JSONL or JSON file with its id, a bad `answer_start` names its line, and other
//! models refuse `--question`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn predict_answers_as_transformers_and_utils_qa() {
    let golden: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("qa_predict_golden.json")).unwrap()).unwrap();
    let model = fixtures().join("tiny-qa");
    let model = model.to_str().unwrap();
    for c in golden["cases"].as_array().unwrap() {
        let (q, ctx) = (c["question"].as_str().unwrap(), c["context"].as_str().unwrap());
        let o = ft(&[
            "predict",
            "--model",
            model,
            "--max-len",
            "64",
            "--doc-stride",
            "16",
            "--question",
            q,
            "--context",
            ctx,
        ]);
        let got = lines(&o);
        let best = &c["predictions"][0];
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["answer"], best["text"], "{q}");
        assert_eq!(
            (got[0]["start"].clone(), got[0]["end"].clone()),
            (best["offsets"][0].clone(), best["offsets"][1].clone())
        );
        let p = got[0]["score"].as_f64().unwrap();
        assert!((p - best["probability"].as_f64().unwrap()).abs() < 1e-3, "{q}: {p} vs {}", best["probability"]);
        assert_eq!(got[0]["id"], serde_json::Value::Null);
    }
}

#[test]
fn predict_reads_squad_files_and_names_bad_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("dev.jsonl");
    std::fs::write(
        &jsonl,
        concat!(
            "{\"id\": \"a\", \"context\": \"They met at the café in Paris.\", \"question\": \"Where?\"}\n",
            "{\"id\": \"b\", \"context\": \"It leaves at 10:30.\", \"question\": \"When?\", \"answers\": {\"text\": [\"10:30\"], \"answer_start\": [13]}}\n",
        ),
    )
    .unwrap();
    let model = fixtures().join("tiny-qa");
    let model = model.to_str().unwrap();
    let got = lines(&ft(&["predict", "--model", model, "--data", jsonl.to_str().unwrap()]));
    assert_eq!(got.iter().map(|l| l["id"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
    for l in &got {
        let (s, e) = (l["start"].as_u64().unwrap() as usize, l["end"].as_u64().unwrap() as usize);
        assert!(s < e, "{l}");
    }
    let json = dir.path().join("dev.json");
    std::fs::write(
        &json,
        r#"{"data": [{"title": "t", "paragraphs": [{"context": "abc def", "qas": [{"id": "q", "question": "what?", "answers": [{"text": "def", "answer_start": 3}]}]}]}]}"#,
    )
    .unwrap();
    let o = ft(&["predict", "--model", model, "--data", json.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("data[0].paragraphs[0].qas[0]: answer 0: answer_start 3 points at \" de\""), "{err}");
    let o = ft(&["predict", "--model", model, "--data", json.to_str().unwrap(), "--skip-bad-rows"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("skipped:"));
}

#[test]
fn other_models_refuse_a_question() {
    let tiny = fixtures().join("tiny");
    let o = ft(&["predict", "--model", tiny.to_str().unwrap(), "--question", "q?", "--context", "c"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is a sequence-classification model, not a question-answering one"), "{err}");
}

/// `ft eval` scores a QA model's answers with SQuAD's exact match and F1: gold answers set to what the
/// model answers for one question, and to a word its answer to the other lacks, give EM 50 and F1 50.
#[test]
fn eval_scores_squad_exact_match_and_f1() {
    let model = fixtures().join("tiny-qa");
    let model = model.to_str().unwrap();
    let (c1, c2) = ("They met at the café in Paris.", "It leaves at ten and arrives at noon");
    let answer =
        |q: &str, c: &str| lines(&ft(&["predict", "--model", model, "--question", q, "--context", c]))[0].clone();
    let (a1, a2) = (answer("Where?", c1), answer("When?", c2));
    // A word of the second context that the model's answer does not hold: EM 0 and F1 0 there.
    let predicted: Vec<String> = a2["answer"].as_str().unwrap().to_lowercase().split(' ').map(String::from).collect();
    let word = c2.split(' ').find(|w| !predicted.iter().any(|p| p == &w.to_lowercase())).expect("a word left out");
    let start = c2.find(word).unwrap() as u64;
    let row = |id: &str, q: &str, c: &str, text: &str, start: u64| {
        serde_json::json!({"id": id, "context": c, "question": q, "answers": {"text": [text], "answer_start": [start]}})
            .to_string()
    };
    let gold1 = row("1", "Where?", c1, a1["answer"].as_str().unwrap(), a1["start"].as_u64().unwrap());
    let gold2 = row("2", "When?", c2, word, start);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev.jsonl");
    std::fs::write(&data, format!("{gold1}\n{gold2}\n")).unwrap();
    let o = ft(&["eval", "--model", model, "--data", data.to_str().unwrap(), "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(v["metrics"]["total"], 2);
    assert_eq!(v["metrics"]["exact_match"], 50.0, "{v}");
    assert_eq!(v["metrics"]["f1"], 50.0, "{v}");
    let answered: u64 = v["answers_by_window"].as_array().unwrap().iter().map(|w| w["answers"].as_u64().unwrap()).sum();
    assert_eq!(answered, 2);
}

/// A SQuAD JSONL file of `n` questions whose answer is the word after "was the" in a context of
/// fixture-vocabulary words, at a varying place (so that some contexts need two windows of 32).
fn learnable_squad(path: &std::path::Path, n: usize, seed: u64) {
    const FILLER: [&str; 12] = ["it", "is", "a", "movie", "and", "this", "story", "very", "so", "of", "to", "in"];
    const ANSWERS: [&str; 8] = ["good", "bad", "great", "terrible", "awful", "fine", "boring", "fun"];
    let mut state = seed;
    let mut next = |k: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % k as u64) as usize
    };
    let mut out = String::new();
    for i in 0..n {
        let before: Vec<&str> = (0..next(14)).map(|_| FILLER[next(FILLER.len())]).collect();
        let after: Vec<&str> = (0..next(8)).map(|_| FILLER[next(FILLER.len())]).collect();
        let answer = ANSWERS[next(ANSWERS.len())];
        let mut context = before.join(" ");
        if !context.is_empty() {
            context.push(' ');
        }
        context.push_str("it was the ");
        let start = context.chars().count();
        context.push_str(answer);
        context.push_str(" movie");
        for w in after {
            context.push(' ');
            context.push_str(w);
        }
        let row = serde_json::json!({
            "id": format!("q{i}"), "title": "t", "context": context, "question": "what was it ?",
            "answers": {"text": [answer], "answer_start": [start]},
        });
        out.push_str(&format!("{row}\n"));
    }
    std::fs::write(path, out).unwrap();
}

/// `ft train` on SQuAD JSONL (detected from the file): the windows train the QA head, validation
/// scores SQuAD exact match and F1 every epoch (log.jsonl, report.html), the kept model answers
/// learnable questions, and `ft eval` of the saved model gives the test scores of metrics.json.
#[test]
fn train_learns_spans_and_eval_agrees_with_metrics_json() {
    let dir = tempfile::tempdir().unwrap();
    let (train, dev, test) =
        (dir.path().join("train.jsonl"), dir.path().join("dev.jsonl"), dir.path().join("test.jsonl"));
    learnable_squad(&train, 192, 1);
    learnable_squad(&dev, 32, 2);
    learnable_squad(&test, 32, 3);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--validation",
        dev.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-len",
        "32",
        "--doc-stride",
        "8",
        "--epochs",
        "12",
        "--lr",
        "3e-3",
        "--batch-size",
        "16",
        "--warmup-ratio",
        "0.1",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("question-answering (the training file holds questions with contexts)"), "{stderr}");
    assert!(stderr.contains("questions in"), "windows reported: {stderr}");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let (em, f1) = (metrics["test"]["exact_match"].as_f64().unwrap(), metrics["test"]["f1"].as_f64().unwrap());
    assert!(f1 >= 90.0 && em >= 90.0, "the answer is always the word after 'was the': {metrics}");
    assert_eq!(metrics["metric_for_best"], "f1");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForQuestionAnswering");
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let evals: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "eval")
        .collect();
    assert_eq!(evals.len(), 12, "one evaluation per epoch");
    assert!(evals.iter().all(|e| e["metrics"]["exact_match"].is_number() && e["metrics"]["loss"].is_number()));
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("exact match") && report.contains("Validation metrics over steps"));

    // ft eval reads the same file through the predictor, with the run's windows (run.toml): the same
    // answers, the same scores.
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!((v["max_len"].as_u64(), v["doc_stride"].as_u64()), (Some(32), Some(8)));
    assert!((v["metrics"]["exact_match"].as_f64().unwrap() - em).abs() < 1e-9, "{v} vs {metrics}");
    assert!((v["metrics"]["f1"].as_f64().unwrap() - f1).abs() < 1e-9, "{v} vs {metrics}");
}

/// Bad QA inputs to `ft train` fail before anything is written, with what and where.
#[test]
fn train_refuses_bad_qa_inputs_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.jsonl");
    learnable_squad(&train, 20, 4);
    let tiny = fixtures().join("tiny");
    let out = dir.path().join("run");
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "--model", tiny.to_str().unwrap(), "--output", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        ft(&args)
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    // A stride as long as the window.
    let o = run(&["--train", train.to_str().unwrap(), "--max-len", "32", "--doc-stride", "32"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--doc-stride 32"), "{}", stderr(&o));

    // An answer_start that does not point at the answer: file and line.
    let bad = dir.path().join("bad.jsonl");
    let mut text = std::fs::read_to_string(&train).unwrap();
    text.push_str("{\"id\": \"x\", \"context\": \"it was the good movie\", \"question\": \"what was it ?\", \"answers\": {\"text\": [\"good\"], \"answer_start\": [3]}}\n");
    std::fs::write(&bad, text).unwrap();
    let o = run(&["--train", bad.to_str().unwrap(), "--max-len", "32", "--doc-stride", "8"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.jsonl: line 21") && stderr(&o).contains("answer_start 3"), "{}", stderr(&o));
    // --skip-bad-rows counts it and trains on the rest.
    let o = run(&[
        "--train",
        bad.to_str().unwrap(),
        "--max-len",
        "32",
        "--doc-stride",
        "8",
        "--skip-bad-rows",
        "--max-steps",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped 1 bad rows"), "{}", stderr(&o));
    std::fs::remove_dir_all(&out).unwrap();

    // A classification file with --task question-answering.
    let csv = dir.path().join("train.csv");
    std::fs::write(&csv, "text,label\ngood movie,pos\nbad movie,neg\n").unwrap();
    let o = run(&[
        "--train",
        csv.to_str().unwrap(),
        "--task",
        "question-answering",
        "--max-len",
        "32",
        "--doc-stride",
        "8",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("train.csv"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing written");
}

/// SQuAD v1.1 JSON trains as JSONL does (detected from the file): the same questions, nested.
#[test]
fn train_reads_squad_v1_json() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("train.jsonl");
    learnable_squad(&jsonl, 24, 5);
    let qas: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            let answers =
                serde_json::json!([{"text": r["answers"]["text"][0], "answer_start": r["answers"]["answer_start"][0]}]);
            serde_json::json!({"id": r["id"], "question": r["question"], "context": r["context"], "answers": answers})
        })
        .collect();
    let paragraphs: Vec<serde_json::Value> =
        qas.into_iter().map(|q| serde_json::json!({"context": q["context"].clone(), "qas": [q]})).collect();
    let json = dir.path().join("train.json");
    let doc = serde_json::json!({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]});
    std::fs::write(&json, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        json.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-len",
        "32",
        "--doc-stride",
        "8",
        "--max-steps",
        "2",
        "--validation-split",
        "0.25",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("(18 questions in"), "24 questions, a quarter held out: {stderr}");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["validation"]["f1"].is_number(), "{metrics}");
}
