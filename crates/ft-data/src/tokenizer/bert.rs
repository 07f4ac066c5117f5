//! The BERT WordPiece pipeline built from `vocab.txt` + `tokenizer_config.json`, in plain Rust:
//! special tokens → normalizer → pre-tokenizer → WordPiece → `[CLS] A [SEP] (B [SEP])` with truncation.
//!
//! It must give the ids of HF's `BertTokenizerFast(vocab=..., **tokenizer_config)`; the goldens in
//! `fixtures/tokenizer_golden_*.json` check that on a few hundred tricky inputs.

use super::config::BertTokenizerConfig;
use super::normalizer::BertNormalizer;
use super::pre_tokenizer::for_each_word;
use super::special::{Piece, SpecialMatcher};
use super::wordpiece::WordPiece;
use super::{Encoding, truncation};
use crate::DataError;
use std::collections::HashMap;
use std::path::Path;

/// A BERT tokenizer assembled from its parts.
#[derive(Debug, Clone)]
pub struct BertPipeline {
    specials: SpecialMatcher,
    normalizer: BertNormalizer,
    wordpiece: WordPiece,
    cls_id: u32,
    sep_id: u32,
    pad_id: u32,
}

impl BertPipeline {
    /// Reads `dir/vocab.txt` (one token per line, id = line number) and the config files next to it.
    pub fn from_dir(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join("vocab.txt");
        let text = std::fs::read_to_string(&path).map_err(DataError::io(&path))?;
        let mut vocab = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            // Like HF's load_vocab: strip the newline only; a repeated token keeps its last id.
            let id = u32::try_from(i).map_err(|_| DataError::TokenizerFile {
                path: path.clone(),
                message: "more than 2^32 tokens".into(),
            })?;
            vocab.insert(line.trim_end_matches('\r').to_string(), id);
        }
        let cfg = BertTokenizerConfig::from_dir(dir)?;
        Self::new(vocab, &cfg, &path)
    }

    /// A pipeline for `vocab` configured by `cfg`; `source` names the vocabulary in errors.
    pub fn new(vocab: HashMap<String, u32>, cfg: &BertTokenizerConfig, source: &Path) -> Result<Self, DataError> {
        let id = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| DataError::MissingSpecialToken { path: source.to_path_buf(), token: token.to_string() })
        };
        let (cls_id, sep_id, pad_id, unk_id) =
            (id(&cfg.cls_token)?, id(&cfg.sep_token)?, id(&cfg.pad_token)?, id(&cfg.unk_token)?);
        // Every special token the vocabulary has is matched literally in raw text.
        let mut names = vec![&cfg.unk_token, &cfg.sep_token, &cfg.pad_token, &cfg.cls_token, &cfg.mask_token];
        names.extend(cfg.additional_special_tokens.iter());
        let specials = SpecialMatcher::new(names.into_iter().filter_map(|t| vocab.get(t).map(|&i| (t.clone(), i))));
        let normalizer = BertNormalizer {
            clean_text: true,
            handle_chinese_chars: cfg.tokenize_chinese_chars,
            strip_accents: cfg.strip_accents.unwrap_or(cfg.do_lower_case),
            lowercase: cfg.do_lower_case,
        };
        Ok(Self { specials, normalizer, wordpiece: WordPiece::new(vocab, unk_id), cls_id, sep_id, pad_id })
    }

    /// The `[PAD]` id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.wordpiece.len()
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.wordpiece.token_to_id(token)
    }

    /// The ids of one text, without special tokens around it.
    fn sequence(&self, text: &str, out: &mut Vec<u32>) {
        let mut normalized = String::new();
        let mut scratch = String::new();
        self.specials.split(text, |piece| match piece {
            Piece::Special(id) => out.push(id),
            Piece::Text(t) => {
                self.normalizer.normalize(t, &mut normalized);
                for_each_word(&normalized, |w| self.wordpiece.tokenize(w, out, &mut scratch));
            }
        });
    }

    /// `[CLS] text [SEP]` or `[CLS] text [SEP] pair [SEP]`, at most `max_len` tokens.
    pub fn encode(&self, text: &str, pair: Option<&str>, max_len: usize) -> Result<Encoding, DataError> {
        let added = if pair.is_some() { 3 } else { 2 };
        let budget = max_len.checked_sub(added).ok_or(DataError::MaxLenTooSmall { max_len, needed: added })?;
        let mut a = Vec::new();
        self.sequence(text, &mut a);
        let mut ids = Vec::with_capacity(max_len.min(a.len() + added + 8));
        ids.push(self.cls_id);
        match pair {
            None => {
                ids.extend_from_slice(&a[..truncation::single(a.len(), budget)]);
                ids.push(self.sep_id);
                let type_ids = vec![0; ids.len()];
                Ok(Encoding { ids, type_ids })
            }
            Some(pair) => {
                let mut b = Vec::new();
                self.sequence(pair, &mut b);
                let (n1, n2) = truncation::longest_first(a.len(), b.len(), budget);
                ids.extend_from_slice(&a[..n1]);
                ids.push(self.sep_id);
                let first = ids.len();
                ids.extend_from_slice(&b[..n2]);
                ids.push(self.sep_id);
                let mut type_ids = vec![0; first];
                type_ids.resize(ids.len(), 1);
                Ok(Encoding { ids, type_ids })
            }
        }
    }
}
