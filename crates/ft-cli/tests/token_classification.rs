//! `ft train` for token classification on the tiny fixture model: tagged files (CoNLL and JSONL) make
//! the task, the run learns a tagging the tiny vocabulary can see (names of people and places), the
//! output is a `BertForTokenClassification` directory, and a contradicting `--task` is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().expect("ft runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sentences of filler words with a "person" (`he`, `she`, `you` → B-PER) and a "place" (`film`,
/// `movie` → B-LOC, followed by `story` → I-LOC), in CoNLL columns `word POS tag`.
fn write_conll(path: &Path, sentences: usize, seed: u64) {
    let filler = ["the", "was", "good", "is", "very", "fun", "and", "so"];
    let people = ["he", "she", "you"];
    let places = ["film", "movie"];
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut text = String::from("-DOCSTART- -X- O\n\n");
    for _ in 0..sentences {
        for _ in 0..3 + next() % 5 {
            match next() % 5 {
                0 => text.push_str(&format!("{} PRP B-PER\n", people[next() % 3])),
                1 => {
                    text.push_str(&format!("{} NN B-LOC\n", places[next() % 2]));
                    if next() % 2 == 0 {
                        text.push_str("story NN I-LOC\n");
                    }
                }
                _ => text.push_str(&format!("{} XX O\n", filler[next() % filler.len()])),
            }
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn train_args<'a>(train: &'a str, validation: &'a str, out: &'a str, tiny: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        tiny,
        "--train",
        train,
        "--validation",
        validation,
        "--output",
        out,
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--max-len",
        "32",
        "--seed",
        "5",
    ]
}

#[test]
fn conll_files_train_a_token_classifier_that_transformers_can_load() {
    let dir = tempfile::tempdir().unwrap();
    let (train, dev) = (dir.path().join("train.conll"), dir.path().join("dev.conll"));
    write_conll(&train, 160, 1);
    write_conll(&dev, 40, 2);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o =
        ft(&train_args(train.to_str().unwrap(), dev.to_str().unwrap(), out.to_str().unwrap(), tiny.to_str().unwrap()));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("task       token-classification (the training file holds tagged words)"), "{err}");
    assert!(err.contains("BertForTokenClassification"), "{err}");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"], serde_json::json!(["BertForTokenClassification"]));
    assert_eq!(
        config["id2label"],
        serde_json::json!({"0": "B-LOC", "1": "B-PER", "2": "I-LOC", "3": "O"}),
        "sorted tags of the training file"
    );
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let f1 = metrics["validation"]["f1"].as_f64().unwrap();
    assert!(f1 > 0.9, "entity F1 {f1}: {metrics}");
    assert_eq!(metrics["metric_for_best"], "f1");
    // The saved weights are transformers' names for the token head: no pooler, a classifier per token.
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let names: Vec<String> =
        safetensors::SafeTensors::deserialize(&bytes).unwrap().names().into_iter().map(String::from).collect();
    assert!(names.iter().all(|n| !n.contains("pooler")), "{names:?}");
    assert!(names.contains(&"classifier.weight".to_string()), "{names:?}");
    // `ft eval` on the validation file gives the run's validation numbers exactly.
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", dev.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["f1", "precision", "recall", "accuracy", "loss"] {
        let (a, b) = (v["metrics"][key].as_f64().unwrap(), metrics["validation"][key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "{key}: ft eval {a} vs ft train {b}");
    }
    let toml = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(!toml.contains("task ="), "task detected, not forced: {toml}");
    // `ft predict` on a CoNLL file writes `word TAG` lines, a blank line after each sentence: the
    // words of the file in order, tags that mostly agree with the gold ones (F1 > 0.9 above).
    let o = ft(&["predict", "--model", out.to_str().unwrap(), "--data", dev.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let predicted = String::from_utf8(o.stdout).unwrap();
    let gold = std::fs::read_to_string(&dev).unwrap();
    // -DOCSTART- is a document marker, not a sentence: the predictions leave it out.
    let gold = gold.strip_prefix("-DOCSTART- -X- O\n\n").unwrap();
    let pairs = |text: &str| -> Vec<Option<(String, String)>> {
        text.lines()
            .map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (!cols.is_empty()).then(|| (cols[0].to_string(), cols[cols.len() - 1].to_string()))
            })
            .collect()
    };
    let (p, g) = (pairs(&predicted), pairs(gold));
    assert_eq!(p.len(), g.len(), "a line per word and per sentence break");
    let (mut same, mut words) = (0, 0);
    for (p, g) in p.iter().zip(&g) {
        assert_eq!(p.is_some(), g.is_some(), "sentence breaks in place");
        if let (Some((pw, pt)), Some((gw, gt))) = (p, g) {
            assert_eq!(pw, gw);
            words += 1;
            same += usize::from(pt == gt);
        }
    }
    assert!(same as f64 / words as f64 > 0.9, "{same} of {words} tags as gold");
    // report.html: per-type scores and the entity confusion of the validation split.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("<h2>Entities (validation, 40 sentences)</h2>"), "{page}");
    assert!(page.contains("<tr><td>PER</td>") && page.contains("micro avg"), "{page}");
}

#[test]
fn a_task_that_contradicts_the_data_is_refused_before_the_output_exists() {
    let dir = tempfile::tempdir().unwrap();
    let (train, dev) = (dir.path().join("train.conll"), dir.path().join("dev.conll"));
    write_conll(&train, 20, 1);
    write_conll(&dev, 5, 2);
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let mut args =
        train_args(train.to_str().unwrap(), dev.to_str().unwrap(), out.to_str().unwrap(), tiny.to_str().unwrap());
    args.extend(["--task", "sequence-classification"]);
    let o = ft(&args);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--task sequence-classification: the data is for token-classification"), "{err}");
    assert!(!out.exists(), "nothing written");
    let o = ft(&["train", "--task", "ner", "--model", tiny.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("use one of sequence-classification, token-classification"), "{}", stderr(&o));
}

#[test]
fn jsonl_tokens_and_tags_train_too_and_predict_gives_entities() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.jsonl");
    let mut lines = String::new();
    for i in 0..40 {
        let who = ["he", "she"][i % 2];
        lines.push_str(&format!(
            "{{\"tokens\": [\"{who}\", \"was\", \"good\"], \"tags\": [\"B-PER\", \"O\", \"O\"]}}\n"
        ));
        lines.push_str("{\"tokens\": [\"the\", \"film\", \"story\"], \"tags\": [\"O\", \"B-LOC\", \"I-LOC\"]}\n");
    }
    std::fs::write(&train, lines).unwrap();
    let out = dir.path().join("run");
    let tiny = fixtures().join("tiny");
    let o = ft(&[
        "train",
        "--model",
        tiny.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--epochs",
        "6",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--max-len",
        "16",
        "--label-all-tokens",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ft(&["predict", "--model", out.to_str().unwrap(), "She was good", "the film story"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let spans: Vec<Vec<(String, u64, u64, String)>> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            line["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let s = |k: &str| e[k].as_str().unwrap().to_string();
                    (s("type"), e["start"].as_u64().unwrap(), e["end"].as_u64().unwrap(), s("text"))
                })
                .collect()
        })
        .collect();
    assert_eq!(
        spans,
        [vec![("PER".into(), 0, 3, "She".into())], vec![("LOC".into(), 4, 14, "film story".into())]],
        "the original text and its character offsets, B-/I- words grouped"
    );
    // `ft eval` scores a tagged file with seqeval's per-type table; its F1 is the run's metric.
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", train.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    for row in ["entity", "LOC", "PER", "micro avg", "token accuracy"] {
        assert!(table.contains(row), "{row}: {table}");
    }
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", train.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["task"], "token-classification");
    assert_eq!(v["metrics"]["f1"], v["report"]["micro_avg"]["f1"], "{v}");
    assert!(v["metrics"]["f1"].as_f64().unwrap() > 0.9, "{v}");
    // The entity confusion: rows are the true types (then O), their sums seqeval's support.
    let confusion = &v["entity_confusion"];
    assert_eq!(confusion["types"], serde_json::json!(["LOC", "PER", "O"]), "{v}");
    for (k, ty) in ["LOC", "PER"].iter().enumerate() {
        let row_sum: u64 = confusion["counts"][k].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
        assert_eq!(row_sum, v["report"]["per_type"][ty]["support"].as_u64().unwrap(), "{ty}: {v}");
    }
    let page = dir.path().join("eval.html");
    let o = ft(&["eval", "--model", out.to_str().unwrap(), "--data", train.to_str().unwrap(), "--report"]
        .into_iter()
        .chain([page.to_str().unwrap()])
        .collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&page).unwrap().contains("<h2>Entities (train.jsonl, 80 sentences)</h2>"));
}

/// `ft predict` on fixtures/tiny-token gives what transformers' token-classification pipeline gives,
/// for every aggregation strategy, with and without the `O` groups
/// (`fixtures/token_pipeline_golden.json`): the same entities, spans and texts; scores within 1e-5.
#[test]
fn predict_entities_equal_transformers_pipeline() {
    let golden: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("token_pipeline_golden.json")).unwrap()).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let model = fixtures().join("tiny-token");
    let mut compared = 0;
    for aggregation in ["simple", "first", "average", "max"] {
        for keep_o in [false, true] {
            let group: Vec<&serde_json::Value> = cases
                .iter()
                .filter(|c| {
                    c["aggregation"] == aggregation && c["ignore_labels"].as_array().unwrap().is_empty() == keep_o
                })
                .collect();
            let texts: Vec<&str> = group.iter().map(|c| c["text"].as_str().unwrap()).collect();
            let mut args = vec!["predict", "--model", model.to_str().unwrap(), "--aggregation", aggregation];
            if keep_o {
                args.extend(["--ignore-labels", ""]);
            }
            args.extend(texts.iter().copied());
            let o = ft(&args);
            assert!(o.status.success(), "{}", stderr(&o));
            let lines: Vec<serde_json::Value> =
                String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(lines.len(), group.len());
            for (case, line) in group.iter().zip(&lines) {
                let (want, got) = (case["entities"].as_array().unwrap(), line["entities"].as_array().unwrap());
                let what = format!("{aggregation} keep_o={keep_o} {:?}", case["text"]);
                assert_eq!(got.len(), want.len(), "{what}: {line} vs {case}");
                for (g, w) in got.iter().zip(want) {
                    for key in ["type", "start", "end", "text"] {
                        assert_eq!(g[key], w[key], "{what}: {key}: {g} vs {w}");
                    }
                    let (gs, ws) = (g["score"].as_f64().unwrap(), w["score"].as_f64().unwrap());
                    assert!((gs - ws).abs() < 1e-5, "{what}: score {gs} vs {ws}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared >= 40, "{compared} entities compared");
}
