//! Golden tokenizer tests: ids, token types and masks from HF (`fixtures/tokenizer_golden_*.json`,
//! written by `xtask/py/generate_fixtures.py tokenizer-goldens`) for ~240 tricky inputs, through both
//! loading paths (tokenizer.json and vocab.txt) and both vocabularies (tiny fixture, real MiniLM).

use ft_data::{Labels, Tokenizer};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

struct Case {
    note: String,
    text: String,
    pair: Option<String>,
    max_length: usize,
    ids: Vec<u32>,
    type_ids: Vec<u8>,
    mask: Vec<u8>,
}

fn ints<T: TryFrom<u64>>(v: &Value) -> Vec<T> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| T::try_from(x.as_u64().expect("integer")).ok().expect("in range"))
        .collect()
}

fn golden(name: &str) -> (Vec<Case>, Value) {
    let path = fixtures().join(format!("tokenizer_golden_{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    let cases = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            note: c["note"].as_str().unwrap().to_string(),
            text: c["text"].as_str().unwrap().to_string(),
            pair: c["text_pair"].as_str().map(str::to_string),
            max_length: c["max_length"].as_u64().unwrap() as usize,
            ids: ints(&c["input_ids"]),
            type_ids: ints(&c["token_type_ids"]),
            mask: ints(&c["attention_mask"]),
        })
        .collect();
    (cases, json)
}

/// Compares every case; on failure lists the first few cases side by side.
fn check(name: &str, tok: &Tokenizer) {
    let (cases, json) = golden(name);
    assert!(cases.len() >= 200, "{name}: only {} cases", cases.len());
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let enc = tok.encode(&c.text, c.pair.as_deref(), c.max_length).unwrap_or_else(|e| panic!("case {i}: {e}"));
        let mask = vec![1u8; enc.ids.len()];
        if enc.ids != c.ids || enc.type_ids != c.type_ids || mask != c.mask {
            let first = enc.ids.iter().zip(&c.ids).position(|(a, b)| a != b).unwrap_or(enc.ids.len().min(c.ids.len()));
            failures.push(format!(
                "case {i} ({}): text {:?} pair {:?} max_length {}\n    expected ids {:?}\n    found    ids {:?}\n    first difference at position {first}; type ids equal: {}",
                c.note, c.text, c.pair, c.max_length, c.ids, enc.ids, enc.type_ids == c.type_ids
            ));
        }
    }
    // The padded batch: ft-data's collation of the same texts gives HF's padded tensors.
    let batch = &json["padded_batch"];
    let rows = batch["input_ids"].as_array().unwrap();
    let cap = cases.iter().map(|c| c.max_length).max().unwrap();
    let inputs: Vec<(&str, Option<&str>)> = cases[..rows.len()].iter().map(|c| (c.text.as_str(), None)).collect();
    let encodings = tok.encode_batch(&inputs, cap).unwrap();
    let space = ft_data::LabelSpace { kind: ft_data::LabelKind::SingleLabel, names: vec!["x".into()] };
    let mut ex = ft_data::Examples::new(tok.vocab_size(), tok.pad_id(), &space);
    for enc in &encodings {
        ex.push(enc, &[0], 0.0);
    }
    let all: Vec<u32> = (0..ex.len() as u32).collect();
    let b = ex.collate(&all, None);
    let flat = |key: &str| -> Vec<i64> {
        batch[key].as_array().unwrap().iter().flat_map(ints::<u64>).map(|x| x as i64).collect()
    };
    assert_eq!(b.input_ids, flat("input_ids"), "{name}: padded input_ids");
    assert_eq!(b.token_type_ids, flat("token_type_ids"), "{name}: padded token_type_ids");
    assert_eq!(b.attention_mask, flat("attention_mask"), "{name}: padded attention_mask");
    assert_eq!(b.labels, Labels::Classes(vec![0; rows.len()]));
    assert!(
        failures.is_empty(),
        "{name} via {:?}: {} of {} cases differ from HF:\n{}",
        tok.source(),
        failures.len(),
        cases.len(),
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn tiny_tokenizer_json_matches_hf() {
    check("tiny", &Tokenizer::from_dir(&fixtures().join("tiny")).unwrap());
}

#[test]
fn tiny_vocab_txt_matches_hf() {
    let tok = Tokenizer::from_vocab(&fixtures().join("tiny")).unwrap();
    assert!(matches!(tok.source(), ft_data::TokenizerSource::Vocab(_)));
    check("tiny", &tok);
}

fn minilm() -> PathBuf {
    ft_assets::resolve_model("minilm-l6").unwrap_or_else(|e| {
        panic!("the MiniLM tokenizer is needed: {e}\n  fetch it with: cargo run -p ft-cli -- fetch minilm-l6")
    })
}

#[test]
fn minilm_tokenizer_json_matches_hf() {
    let tok = Tokenizer::from_dir(&minilm()).unwrap();
    assert!(matches!(tok.source(), ft_data::TokenizerSource::TokenizerJson(_)));
    check("minilm", &tok);
}

#[test]
fn minilm_vocab_txt_matches_hf() {
    check("minilm", &Tokenizer::from_vocab(&minilm()).unwrap());
}

#[test]
fn minilm_padding_baked_into_tokenizer_json_is_overridden() {
    // The packaged file pads to 128; ft pads per batch, so an encoding is only as long as its text.
    let tok = Tokenizer::from_dir(&minilm()).unwrap();
    let enc = tok.encode("hello world", None, 128).unwrap();
    assert_eq!(enc.ids, [101, 7592, 2088, 102]);
}
