//! Golden QA windows: a question and its context through Python tokenizers with `only_second`
//! truncation, a stride and the overflowing windows (what transformers' tokenizer returns run_qa.py),
//! and the answer positions of run_qa's `prepare_train_features` (`fixtures/qa_windows_golden.json`,
//! written by `xtask/py/generate_fixtures.py qa-goldens`). Both vocabularies (tiny at max_len 40 /
//! stride 4, MiniLM at run_qa's 384 / 128 and at 64 / 16), both loading paths; contexts longer than
//! 384 tokens, answers at window borders, accents, CJK and emoji, a question too long for the windows.
//! Integers: every value equal.

use ft_data::qa::positions;
use ft_data::{DataError, Tokenizer};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn golden() -> Value {
    let path = fixtures().join("qa_windows_golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|x| x.as_i64().expect("integer")).collect()
}

fn check(name: &str, tok: &Tokenizer) {
    let g = golden();
    let set = &g[name];
    let (max_len, stride) = (set["max_len"].as_u64().unwrap() as usize, set["stride"].as_u64().unwrap() as usize);
    let cases = set["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let (mut windows_seen, mut labels_seen) = (0, 0);
    for c in cases {
        let note = c["note"].as_str().unwrap();
        let (question, context) = (c["question"].as_str().unwrap(), c["context"].as_str().unwrap());
        let got = tok.encode_windows(question, context, max_len, stride);
        if c.get("error").is_some() {
            if !matches!(got, Err(DataError::QuestionTooLong { .. })) {
                failures.push(format!("{note}: Python refuses ({}), ft gives {got:?}", c["error"]));
            }
            continue;
        }
        let got = match got {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("{note}: {e}"));
                continue;
            }
        };
        let want = c["windows"].as_array().unwrap();
        if got.len() != want.len() {
            failures.push(format!("{note}: {} windows, Python {}", got.len(), want.len()));
            continue;
        }
        windows_seen += got.len();
        for (k, (enc, w)) in got.iter().zip(want).enumerate() {
            assert!(enc.is_aligned());
            let offsets: Vec<(usize, usize)> = w["offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize))
                .collect();
            let seq: Vec<Option<u64>> = w["sequence_ids"].as_array().unwrap().iter().map(Value::as_u64).collect();
            let got_seq: Vec<Option<u64>> = enc.sequence_ids.iter().map(|s| s.map(u64::from)).collect();
            let fields = [
                ("input_ids", enc.ids.iter().map(|&x| i64::from(x)).collect::<Vec<_>>() == ints(&w["input_ids"])),
                (
                    "token_type_ids",
                    enc.type_ids.iter().map(|&x| i64::from(x)).collect::<Vec<_>>() == ints(&w["token_type_ids"]),
                ),
                ("offsets", enc.offsets == offsets),
                ("sequence_ids", got_seq == seq),
                (
                    "special_tokens_mask",
                    enc.special_tokens_mask.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()
                        == ints(&w["special_tokens_mask"]),
                ),
            ];
            for (field, ok) in fields {
                if !ok {
                    failures.push(format!("{note}: window {k}: {field} differs"));
                }
            }
        }
        for a in c["answers"].as_array().unwrap() {
            let answer = a["answer_start"].as_u64().map(|s| {
                let s = s as usize;
                (s, s + a["answer_text"].as_str().unwrap().chars().count())
            });
            for (k, (enc, want)) in got.iter().zip(a["positions"].as_array().unwrap()).enumerate() {
                labels_seen += 1;
                let want = (want[0].as_u64().unwrap() as usize, want[1].as_u64().unwrap() as usize);
                let p = positions(enc, answer);
                if p != want {
                    failures.push(format!("{note}, {}: window {k}: positions {p:?}, run_qa {want:?}", a["note"]));
                }
            }
        }
    }
    println!("{name} via {:?}: {} contexts, {windows_seen} windows, {labels_seen} labels", tok.source(), cases.len());
    assert!(
        failures.is_empty(),
        "{name} via {:?}: {} differences:\n{}",
        tok.source(),
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn tiny_tokenizer_json_windows_as_run_qa() {
    check("tiny", &Tokenizer::from_dir(&fixtures().join("tiny")).unwrap());
}

#[test]
fn tiny_vocab_txt_windows_as_run_qa() {
    check("tiny", &Tokenizer::from_vocab(&fixtures().join("tiny")).unwrap());
}

fn minilm() -> PathBuf {
    ft_assets::resolve_model("minilm-l6").unwrap_or_else(|e| {
        panic!("the MiniLM tokenizer is needed: {e}\n  fetch it with: cargo run -p ft-cli -- fetch minilm-l6")
    })
}

#[test]
fn minilm_tokenizer_json_windows_as_run_qa() {
    let tok = Tokenizer::from_dir(&minilm()).unwrap();
    check("minilm", &tok);
    check("minilm_short", &tok);
}

#[test]
fn minilm_vocab_txt_windows_as_run_qa() {
    let tok = Tokenizer::from_vocab(&minilm()).unwrap();
    check("minilm", &tok);
    check("minilm_short", &tok);
}
