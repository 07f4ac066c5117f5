//! `ft explain` end to end on fixtures/tiny: the JSON view (words with offsets, attributions whose sum
//! meets the completeness check, the target and its probability, the same numbers `ft predict` gives),
//! the plain terminal view, `--html`, stdin and `--data`, and the refusals. The attributions themselves
//! are checked against Captum in `ft-infer/tests/explain_golden.rs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn ft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ft")).args(args).output().unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn tiny() -> String {
    fixtures().join("tiny").display().to_string()
}

#[test]
fn explains_texts_as_json_plain_text_and_html() {
    let model = tiny();
    let o =
        ft(&["explain", "--model", &model, "awful boring acting, but i love the story!", "--json", "--steps", "300"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let words: Vec<&str> = e["words"].as_array().unwrap().iter().map(|w| w["text"].as_str().unwrap()).collect();
    assert_eq!(words, ["awful", "boring", "acting", ",", "but", "i", "love", "the", "story", "!"]);
    assert_eq!(e["words"][2]["offsets"], serde_json::json!([13, 19]));
    assert_eq!(e["method"], "ig");
    // Completeness: the attributions add up to F(x) − F(baseline), within the printed gap (< 1e-3).
    let sum: f64 = e["tokens"].as_array().unwrap().iter().map(|t| t["score"].as_f64().unwrap()).sum();
    let (f, f0) = (e["score"].as_f64().unwrap(), e["baseline_score"].as_f64().unwrap());
    let gap = e["completeness_gap"].as_f64().unwrap();
    assert!(gap < 1e-3 && ((sum - (f - f0)).abs() - gap).abs() < 1e-9, "{e}");
    // The target and its probability are what `ft predict` says.
    let o = ft(&["predict", "--model", &model, "awful boring acting, but i love the story!"]);
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(e["target"], p["label"]);
    assert!((e["score"].as_f64().unwrap() - p["score"].as_f64().unwrap()).abs() < 1e-6, "{e} {p}");

    // The plain view (stdout is not a terminal here): a header, then word(+0.123) for every word.
    let o = ft(&["explain", "--model", &model, "the movie was really good", "--method", "grad-x-input"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("gradient × input") && !out.contains('\x1b'), "{out}");
    let shown: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(shown.len(), 5, "{out}");
    assert!(shown.iter().all(|w| w.ends_with(')') && (w.contains("(+") || w.contains("(-"))), "{out}");

    // --target explains another class; a pair shows both texts; the HTML page holds every word.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("why.html");
    let o = ft(&[
        "explain",
        "--model",
        &model,
        "is it good?",
        "--text-pair",
        "yes, it is <the> best film ever",
        "--target",
        "positive",
        "--method",
        "rollout",
        "--json",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(e["target"], "positive");
    assert!(e["words"].as_array().unwrap().iter().any(|w| w["sequence"] == 1 && w["text"] == "best"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script") && html.contains("&lt;") && html.contains(">best</span>"), "{html}");

    // stdin (`-`, blank lines skipped) and --data: one explanation per text.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ft"))
        .args(["explain", "--model", &model, "-", "--json", "--method", "rollout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"good fun\n\nbad movie\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(text(&o.stdout).lines().count(), 2);
    let data = dir.path().join("texts.csv");
    std::fs::write(&data, "text,label\ngood fun,positive\nbad movie,negative\nso boring,negative\n").unwrap();
    let o = ft(&["explain", "--model", &model, "--data", data.to_str().unwrap(), "--json", "--method", "grad-x-input"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 3);
}

/// Bad requests are refused with the fix, before any work.
#[test]
fn explain_refuses_what_it_cannot_do() {
    let model = tiny();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--method".into(), "shap".into(), "x".into()], "--method shap: use ig, grad-x-input or rollout"),
        (vec!["--steps".into(), "0".into(), "x".into()], "--steps 0"),
        (vec!["--rule".into(), "simpson".into(), "x".into()], "--rule simpson"),
        (vec!["--target".into(), "maybe".into(), "x".into()], "--target maybe: not a label of this model"),
        (vec!["   ".into()], "text 1 is empty"),
        (vec![], "nothing to explain"),
        (vec!["--data".into(), "/nonexistent/x.csv".into()], "no such file"),
        (vec!["--html".into(), std::env::temp_dir().display().to_string(), "x".into()], "is a directory"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["explain".to_string(), "--model".into(), model.clone()];
        args.extend(extra);
        let o = Command::new(env!("CARGO_BIN_EXE_ft")).args(&args).output().unwrap();
        assert!(!o.status.success() && text(&o.stderr).contains(message), "{args:?}: {}", text(&o.stderr));
    }
    let token = fixtures().join("tiny-token").display().to_string();
    let o = ft(&["explain", "--model", &token, "john lives in paris", "--target", "PER"]);
    assert!(!o.status.success() && text(&o.stderr).contains("leave --target out"), "{}", text(&o.stderr));
    let qa = fixtures().join("tiny-qa").display().to_string();
    let o = ft(&["explain", "--model", &qa, "where?"]);
    assert!(!o.status.success() && text(&o.stderr).contains("give --question and --context"), "{}", text(&o.stderr));
    let o = ft(&["explain", "--model", &model, "--question", "q", "--context", "c"]);
    assert!(!o.status.success() && text(&o.stderr).contains("not a question-answering one"), "{}", text(&o.stderr));
}

/// A token classifier: one explanation per entity `ft predict` finds, each explaining the entity's
/// own score (the mean probability of its words' labels), with the entity named as the target.
#[test]
fn explains_each_entity_of_a_token_classifier() {
    let model = fixtures().join("tiny-token").display().to_string();
    let sentence = "john lives in paris";
    let o = ft(&["predict", "--model", &model, sentence, "--ignore-labels", ""]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let predicted: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entities = predicted["entities"].as_array().unwrap();
    assert!(!entities.is_empty());
    let o = ft(&["explain", "--model", &model, sentence, "--ignore-labels", "", "--json", "--steps", "300"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lines: Vec<serde_json::Value> = text(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), entities.len());
    for (e, entity) in lines.iter().zip(entities) {
        let want = format!("{} \"{}\"", entity["type"].as_str().unwrap(), entity["text"].as_str().unwrap());
        assert_eq!(e["target"], want.as_str());
        assert!((e["score"].as_f64().unwrap() - entity["score"].as_f64().unwrap()).abs() < 1e-6, "{e} {entity}");
        assert!(e["completeness_gap"].as_f64().unwrap() < 1e-3);
    }
}

/// A QA model: the best answer's start and end explained, in the window it came from; the question's
/// words are sequence 0, the context's 1.
#[test]
fn explains_the_start_and_end_of_an_answer() {
    let model = fixtures().join("tiny-qa").display().to_string();
    let (question, context) = ("Where did they meet?", "They met at the café in Paris.");
    let o = ft(&["predict", "--model", &model, "--question", question, "--context", context]);
    let answer: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let o =
        ft(&["explain", "--model", &model, "--question", question, "--context", context, "--json", "--steps", "300"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lines: Vec<serde_json::Value> = text(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let answer_text = answer["answer"].as_str().unwrap();
    assert_eq!(lines[0]["target"], format!("start of \"{answer_text}\"").as_str());
    assert_eq!(lines[1]["target"], format!("end of \"{answer_text}\"").as_str());
    let words = lines[0]["words"].as_array().unwrap();
    assert_eq!(words.iter().filter(|w| w["sequence"] == 0).count(), 5, "{words:?}");
    assert!(words.iter().any(|w| w["sequence"] == 1 && w["text"] == "café"));
    for e in &lines {
        assert!(e["completeness_gap"].as_f64().unwrap() < 1e-3, "{e}");
    }
}
