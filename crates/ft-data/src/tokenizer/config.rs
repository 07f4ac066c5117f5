//! What `tokenizer_config.json` and `special_tokens_map.json` say about a BERT vocabulary: casing,
//! accent stripping, CJK splitting and the special tokens' text.

use crate::DataError;
use serde_json::Value;
use std::path::Path;

/// The settings of HF's `BertTokenizer(Fast)` that change the ids it produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BertTokenizerConfig {
    /// `do_lower_case` (default true).
    pub do_lower_case: bool,
    /// `strip_accents`; `None` follows `do_lower_case`, as in HF.
    pub strip_accents: Option<bool>,
    /// `tokenize_chinese_chars` (default true).
    pub tokenize_chinese_chars: bool,
    /// `unk_token`.
    pub unk_token: String,
    /// `sep_token`.
    pub sep_token: String,
    /// `pad_token`.
    pub pad_token: String,
    /// `cls_token`.
    pub cls_token: String,
    /// `mask_token`.
    pub mask_token: String,
    /// `additional_special_tokens`, matched literally like the others.
    pub additional_special_tokens: Vec<String>,
}

impl Default for BertTokenizerConfig {
    fn default() -> Self {
        Self {
            do_lower_case: true,
            strip_accents: None,
            tokenize_chinese_chars: true,
            unk_token: "[UNK]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            cls_token: "[CLS]".into(),
            mask_token: "[MASK]".into(),
            additional_special_tokens: Vec::new(),
        }
    }
}

/// A token in a config file is either `"[UNK]"` or `{"content": "[UNK]", ...}`.
fn token_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn read_json(path: &Path) -> Result<Option<Value>, DataError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| DataError::TokenizerFile { path: path.to_path_buf(), message: e.to_string() })
}

impl BertTokenizerConfig {
    /// Reads `dir/tokenizer_config.json`, then `dir/special_tokens_map.json` (which wins for the
    /// special tokens, as in HF); a missing file leaves the defaults of uncased BERT.
    pub fn from_dir(dir: &Path) -> Result<Self, DataError> {
        let mut cfg = Self::default();
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let path = dir.join(name);
            let Some(Value::Object(map)) = read_json(&path)? else { continue };
            if let Some(b) = map.get("do_lower_case").and_then(Value::as_bool) {
                cfg.do_lower_case = b;
            }
            if let Some(v) = map.get("strip_accents") {
                cfg.strip_accents = v.as_bool();
            }
            if let Some(b) = map.get("tokenize_chinese_chars").and_then(Value::as_bool) {
                cfg.tokenize_chinese_chars = b;
            }
            let slots = [
                ("unk_token", &mut cfg.unk_token),
                ("sep_token", &mut cfg.sep_token),
                ("pad_token", &mut cfg.pad_token),
                ("cls_token", &mut cfg.cls_token),
                ("mask_token", &mut cfg.mask_token),
            ];
            for (key, slot) in slots {
                if let Some(t) = map.get(key).and_then(token_text) {
                    *slot = t;
                }
            }
            if let Some(Value::Array(extra)) = map.get("additional_special_tokens") {
                cfg.additional_special_tokens = extra.iter().filter_map(token_text).collect();
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flags_and_object_tokens() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"do_lower_case": false, "strip_accents": null, "unk_token": {"content": "<unk>", "lstrip": false}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("special_tokens_map.json"), r#"{"cls_token": "<s>"}"#).unwrap();
        let cfg = BertTokenizerConfig::from_dir(dir.path()).unwrap();
        assert!(!cfg.do_lower_case && cfg.strip_accents.is_none() && cfg.tokenize_chinese_chars);
        assert_eq!((cfg.unk_token.as_str(), cfg.cls_token.as_str(), cfg.sep_token.as_str()), ("<unk>", "<s>", "[SEP]"));
    }

    #[test]
    fn missing_files_mean_uncased_bert() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(BertTokenizerConfig::from_dir(dir.path()).unwrap(), BertTokenizerConfig::default());
    }
}
