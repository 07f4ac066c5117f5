//! `QaPredictor` on fixtures/tiny-qa against transformers + utils_qa.py (`fixtures/qa_predict_golden.json`,
//! written by `xtask/py/generate_fixtures.py qa-model-goldens`): windows of 64 tokens sharing 16, each
//! run by transformers, the answers chosen by utils_qa's post-processing. The n-best lists must name
//! the same answers (text, character offsets, window) in the same order, scores within 1e-4 (the
//! forward tolerance); answers whose scores are within 2e-4 of another may trade places.

use ft_infer::QaPredictor;
use ft_model::DeviceSpec;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

#[test]
fn answers_equal_transformers_and_utils_qa() {
    let golden: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("qa_predict_golden.json")).unwrap()).unwrap();
    let device = DeviceSpec::Cpu.device().unwrap();
    let mut p = QaPredictor::load(&fixtures().join("tiny-qa").display().to_string(), device, Some(64)).unwrap();
    p.stride = golden["stride"].as_u64().unwrap() as usize;
    let n_best = golden["n_best_size"].as_u64().unwrap() as usize;
    let max_answer = golden["max_answer_length"].as_u64().unwrap() as usize;
    let mut failures = Vec::new();
    let mut compared = 0;
    for c in golden["cases"].as_array().unwrap() {
        let (question, context) = (c["question"].as_str().unwrap(), c["context"].as_str().unwrap());
        let got = p.answer(question, context, n_best, max_answer).unwrap();
        let want = c["predictions"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{question}");
        let scores: Vec<f32> = want.iter().map(|w| w["score"].as_f64().unwrap() as f32).collect();
        for (k, (a, w)) in got.iter().zip(want).enumerate() {
            compared += 1;
            let offsets =
                w["offsets"].as_array().map(|o| (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize));
            let same = a.text == w["text"].as_str().unwrap()
                && a.offsets == offsets
                && a.source.map(|s| s.0 as u64) == w["window"].as_u64();
            // A near tie may order differently: then some other reference answer has (about) this score.
            let near_tie = scores.iter().enumerate().any(|(j, s)| j != k && (s - scores[k]).abs() < 2e-4);
            if (!same && !near_tie) || (a.score - scores[k]).abs() > 1e-4 {
                failures.push(format!(
                    "{question:?}: answer {k}: ft {:?} {:.6}, reference {} {:.6}",
                    a.text, a.score, w["text"], scores[k]
                ));
            }
        }
    }
    println!("{compared} answers compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
