//! Golden alignment tests: pre-split words through Python tokenizers (`encode(words,
//! is_pretokenized=True)`) and labels aligned by a Python port of transformers' run_ner.py
//! `tokenize_and_align_labels` (`fixtures/token_align_golden.json`, written by
//! `xtask/py/generate_fixtures.py align-goldens`). Both vocabularies (tiny, MiniLM), both loading
//! paths, both `label_all_tokens` settings; words of many sub-tokens, accents, truncation, a word
//! that gives no token. Integers: every value equal.

use ft_data::tagging::{align, b_to_i};
use ft_data::{Encoding, Tokenizer};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn golden() -> Value {
    let path = fixtures().join("token_align_golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|x| x.as_i64().expect("integer")).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|x| x.as_str().expect("string").to_string()).collect()
}

fn check(name: &str, tok: &Tokenizer) {
    let g = golden();
    let names = strings(&g["label_list"]);
    let to_i = b_to_i(&names);
    assert_eq!(to_i.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(), ints(&g["b_to_i_label"]), "b_to_i_label");
    let cases = g[format!("cases_{name}")].as_array().unwrap();
    assert!(cases.len() >= 15, "{name}: {} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let words = strings(&c["words"]);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let max_len = c["max_length"].as_u64().unwrap() as usize;
        let enc: Encoding = tok.encode_words(&words, max_len).unwrap();
        assert!(enc.is_aligned());
        let word_labels: Vec<u32> =
            strings(&c["tags"]).iter().map(|t| names.iter().position(|n| n == t).unwrap() as u32).collect();
        let truncated = enc.len() >= max_len;
        let first = align(&enc.word_ids, &word_labels, false, &to_i, truncated).labels;
        let all = align(&enc.word_ids, &word_labels, true, &to_i, truncated).labels;
        let word_ids: Vec<Option<u64>> = c["word_ids"].as_array().unwrap().iter().map(Value::as_u64).collect();
        let offsets: Vec<(usize, usize)> = c["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize))
            .collect();
        let got_ids: Vec<i64> = enc.ids.iter().map(|&x| i64::from(x)).collect();
        let got_word_ids: Vec<Option<u64>> = enc.word_ids.iter().map(|w| w.map(u64::from)).collect();
        let got_mask: Vec<i64> = enc.special_tokens_mask.iter().map(|&x| i64::from(x)).collect();
        let checks = [
            ("input_ids", got_ids == ints(&c["input_ids"]), format!("{got_ids:?} vs {}", c["input_ids"])),
            ("word_ids", got_word_ids == word_ids, format!("{got_word_ids:?} vs {word_ids:?}")),
            ("offsets", enc.offsets == offsets, format!("{:?} vs {offsets:?}", enc.offsets)),
            ("special_tokens_mask", got_mask == ints(&c["special_tokens_mask"]), format!("{got_mask:?}")),
            ("labels_first", first == ints(&c["labels_first"]), format!("{first:?} vs {}", c["labels_first"])),
            ("labels_all", all == ints(&c["labels_all"]), format!("{all:?} vs {}", c["labels_all"])),
        ];
        for (field, ok, detail) in checks {
            if !ok {
                failures.push(format!(
                    "{} ({:?}, max_length {max_len}): {field}: found vs expected {detail}",
                    c["note"], words
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name} via {:?}: {} differences:\n{}",
        tok.source(),
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn tiny_tokenizer_json_aligns_as_run_ner() {
    check("tiny", &Tokenizer::from_dir(&fixtures().join("tiny")).unwrap());
}

#[test]
fn tiny_vocab_txt_aligns_as_run_ner() {
    check("tiny", &Tokenizer::from_vocab(&fixtures().join("tiny")).unwrap());
}

fn minilm() -> PathBuf {
    ft_assets::resolve_model("minilm-l6").unwrap_or_else(|e| {
        panic!("the MiniLM tokenizer is needed: {e}\n  fetch it with: cargo run -p ft-cli -- fetch minilm-l6")
    })
}

#[test]
fn minilm_tokenizer_json_aligns_as_run_ner() {
    check("minilm", &Tokenizer::from_dir(&minilm()).unwrap());
}

#[test]
fn minilm_vocab_txt_aligns_as_run_ner() {
    check("minilm", &Tokenizer::from_vocab(&minilm()).unwrap());
}
