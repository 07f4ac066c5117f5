//! ft-eval's QA answers from start/end logits against transformers' `utils_qa.py`
//! `postprocess_qa_predictions` (restated in `xtask/py/generate_fixtures.py qa-goldens`) on
//! `fixtures/qa_postprocess_golden.json`: windows of MiniLM-tokenized contexts at 384/128 and 64/16,
//! random float32 logits, planted answers (one longer than `max_answer_length`), `n_best` 20 and 3, a
//! question with no valid span ("empty"). The n-best lists must be equal — text, character offsets,
//! window, start and end token, score (f32, exact) — and the probabilities within 1e-6.

use ft_eval::answers::{AnswerWindow, best_answers};
use serde_json::Value;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/qa_postprocess_golden.json");
    serde_json::from_slice(&std::fs::read(path).expect("fixtures/qa_postprocess_golden.json")).unwrap()
}

/// A window as the golden holds it: start logits, end logits, context offsets.
type Window = (Vec<f32>, Vec<f32>, Vec<Option<(usize, usize)>>);

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn answers_equal_utils_qa() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    for c in cases {
        let note = c["note"].as_str().unwrap();
        let windows: Vec<Window> = c["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let offsets = w["offsets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_array().map(|o| (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize)))
                    .collect();
                (f32s(&w["start_logits"]), f32s(&w["end_logits"]), offsets)
            })
            .collect();
        let views: Vec<AnswerWindow<'_>> =
            windows.iter().map(|(s, e, o)| AnswerWindow { start_logits: s, end_logits: e, offsets: o }).collect();
        let got = best_answers(
            c["context"].as_str().unwrap(),
            &views,
            c["n_best_size"].as_u64().unwrap() as usize,
            c["max_answer_length"].as_u64().unwrap() as usize,
        )
        .unwrap();
        let want = c["predictions"].as_array().unwrap();
        if got.len() != want.len() {
            failures.push(format!("{note}: {} answers, utils_qa {}", got.len(), want.len()));
            continue;
        }
        for (k, (a, w)) in got.iter().zip(want).enumerate() {
            compared += 1;
            let offsets =
                w["offsets"].as_array().map(|o| (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize));
            let source = w["window"].as_u64().map(|win| {
                (win as usize, w["start_index"].as_u64().unwrap() as usize, w["end_index"].as_u64().unwrap() as usize)
            });
            let same = a.text == w["text"].as_str().unwrap()
                && a.offsets == offsets
                && a.source == source
                && a.score == w["score"].as_f64().unwrap() as f32
                && (a.probability - w["probability"].as_f64().unwrap()).abs() <= 1e-6;
            if !same {
                failures.push(format!("{note}: answer {k}: ft {a:?}, utils_qa {w}"));
            }
        }
    }
    println!("{} questions, {compared} answers compared", cases.len());
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
