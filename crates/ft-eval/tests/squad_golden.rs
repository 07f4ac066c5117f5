//! ft-eval's SQuAD v1.1 scores against the official evaluation script's definitions run by Python, on
//! `fixtures/squad_golden.json` (`xtask/py/generate_fixtures.py squad-goldens`): the normalised
//! strings must be identical, EM and F1 per case and over the corpus within 1e-12.

use ft_eval::squad::{exact_match, f1};
use ft_eval::{SquadScores, normalize_answer};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    tolerance: f64,
    cases: Vec<Case>,
    corpus: Corpus,
}

#[derive(Deserialize)]
struct Case {
    prediction: String,
    answers: Vec<String>,
    note: String,
    normalized_prediction: String,
    normalized_answers: Vec<String>,
    exact_match: f64,
    f1: f64,
}

#[derive(Deserialize)]
struct Corpus {
    exact_match: f64,
    f1: f64,
    total: usize,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/squad_golden.json");
    serde_json::from_slice(&std::fs::read(path).expect("fixtures/squad_golden.json")).expect("a valid golden")
}

#[test]
fn every_case_equals_the_official_script() {
    let g = golden();
    let mut failures = Vec::new();
    for c in &g.cases {
        let norm = normalize_answer(&c.prediction);
        if norm != c.normalized_prediction {
            failures.push(format!(
                "{:?} ({}): normalised {norm:?}, script {:?}",
                c.prediction, c.note, c.normalized_prediction
            ));
        }
        for (a, want) in c.answers.iter().zip(&c.normalized_answers) {
            if normalize_answer(a) != *want {
                failures.push(format!(
                    "gold {a:?} ({}): normalised {:?}, script {want:?}",
                    c.note,
                    normalize_answer(a)
                ));
            }
        }
        let em = c.answers.iter().map(|a| exact_match(&c.prediction, a)).fold(0.0, f64::max);
        let f = c.answers.iter().map(|a| f1(&c.prediction, a)).fold(0.0, f64::max);
        if (em - c.exact_match).abs() > g.tolerance || (f - c.f1).abs() > g.tolerance {
            failures.push(format!(
                "{:?} vs {:?} ({}): EM {em} F1 {f}, script EM {} F1 {}",
                c.prediction, c.answers, c.note, c.exact_match, c.f1
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), g.cases.len(), failures.join("\n"));
}

#[test]
fn the_corpus_scores_equal_the_official_script() {
    let g = golden();
    let predictions: Vec<&str> = g.cases.iter().map(|c| c.prediction.as_str()).collect();
    let answers: Vec<&[String]> = g.cases.iter().map(|c| c.answers.as_slice()).collect();
    let s = SquadScores::compute(&predictions, &answers).unwrap();
    println!("EM {} (script {}), F1 {} (script {})", s.exact_match, g.corpus.exact_match, s.f1, g.corpus.f1);
    assert_eq!(s.total, g.corpus.total);
    assert!((s.exact_match - g.corpus.exact_match).abs() <= g.tolerance * 100.0, "EM");
    assert!((s.f1 - g.corpus.f1).abs() <= g.tolerance * 100.0, "F1");
}
