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
