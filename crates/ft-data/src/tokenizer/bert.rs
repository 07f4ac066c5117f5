//! The BERT WordPiece pipeline built from `vocab.txt` + `tokenizer_config.json`, in plain Rust:
//! special tokens → normalizer → pre-tokenizer → WordPiece → `[CLS] A [SEP] (B [SEP])` with truncation.
//!
//! It must give the encoding of HF's `BertTokenizerFast(vocab=..., **tokenizer_config)` (ids, word
//! ids, offsets, special-tokens mask); the goldens in `fixtures/tokenizer_golden_*.json` check that
//! on a few hundred tricky inputs.

use super::config::BertTokenizerConfig;
use super::normalizer::{BertNormalizer, Normalized};
use super::pre_tokenizer::for_each_word;
use super::special::{Piece, SpecialMatcher};
use super::wordpiece::WordPiece;
use super::{Encoding, offsets, truncation};
use crate::DataError;
use std::collections::HashMap;
use std::ops::Range;
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
    max_token_id: u32,
}

impl BertPipeline {
    /// Reads `dir/vocab.txt` (one token per line, id = line number) and the config files next to it.
    pub fn from_dir(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join("vocab.txt");
        let bytes = std::fs::read(&path).map_err(DataError::io(&path))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            DataError::TokenizerFile {
                path: path.clone(),
                message: format!("line {line} is not valid UTF-8; re-save the vocabulary as UTF-8"),
            }
        })?;
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
        // Every id comes from the vocabulary, which holds at least the special tokens above.
        let max_token_id = vocab.values().copied().max().unwrap_or(pad_id);
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
        Ok(Self {
            specials,
            normalizer,
            wordpiece: WordPiece::new(vocab, unk_id),
            cls_id,
            sep_id,
            pad_id,
            max_token_id,
        })
    }

    /// The `[PAD]` id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.wordpiece.len()
    }

    /// The largest id in the vocabulary: for `vocab.txt`, its number of lines minus one.
    pub fn max_token_id(&self) -> u32 {
        self.max_token_id
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.wordpiece.token_to_id(token)
    }

    /// The token of an id, if the vocabulary has one.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.wordpiece.id_to_token(id).map(str::to_string)
    }

    /// The tokens of one text, without special tokens around it.
    fn sequence(&self, text: &str) -> Sequence {
        let mut seq = Sequence::default();
        let mut normalized = Normalized::default();
        let mut pieces = Vec::new();
        let mut scratch = String::new();
        // Word ids count what tokenizers' `PreTokenizedString` ends up with: every word of every
        // text piece, and every special token written in the text.
        let mut word = 0u32;
        self.specials.split(text, |range, piece| match piece {
            Piece::Special(id) => {
                seq.push(id, word, (range.start, range.end));
                word = word.wrapping_add(1);
            }
            Piece::Text(t) => {
                self.normalizer.normalize(t, &mut normalized);
                for_each_word(normalized.as_str(), |start, w| {
                    pieces.clear();
                    self.wordpiece.tokenize(w, &mut pieces, &mut scratch);
                    for &(id, (a, b)) in &pieces {
                        let (a, b) = normalized.original(start + a, start + b);
                        seq.push(id, word, (range.start + a, range.start + b));
                    }
                    word = word.wrapping_add(1);
                });
            }
        });
        offsets::bytes_to_chars(text, &mut seq.offsets);
        seq
    }

    /// The tokens of pre-split `words`: each word tokenized on its own (it may still split into
    /// several pieces, at punctuation too), every token of word `i` with word id `i` and offsets in
    /// characters of its word — what tokenizers does with `is_pretokenized=True`.
    fn sequence_words(&self, words: &[&str]) -> Sequence {
        let mut seq = Sequence::default();
        for (i, word) in words.iter().enumerate() {
            let one = self.sequence(word);
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            for (&id, &offsets) in one.ids.iter().zip(&one.offsets) {
                seq.push(id, i, offsets);
            }
        }
        seq
    }

    /// `[CLS] words [SEP]` for pre-split words, at most `max_len` tokens (see [`Self::sequence_words`]).
    pub fn encode_words(&self, words: &[&str], max_len: usize) -> Result<Encoding, DataError> {
        let budget = max_len.checked_sub(2).ok_or(DataError::MaxLenTooSmall { max_len, needed: 2 })?;
        let a = self.sequence_words(words);
        Ok(self.assemble(&a, 0..truncation::single(a.len(), budget), None))
    }

    /// `[CLS] text [SEP]` or `[CLS] text [SEP] pair [SEP]`, at most `max_len` tokens.
    pub fn encode(&self, text: &str, pair: Option<&str>, max_len: usize) -> Result<Encoding, DataError> {
        let added = if pair.is_some() { 3 } else { 2 };
        let budget = max_len.checked_sub(added).ok_or(DataError::MaxLenTooSmall { max_len, needed: added })?;
        let a = self.sequence(text);
        let b = pair.map(|p| self.sequence(p));
        let (n1, n2) = match &b {
            None => (truncation::single(a.len(), budget), 0),
            Some(b) => truncation::longest_first(a.len(), b.len(), budget),
        };
        Ok(self.assemble(&a, 0..n1, b.as_ref().map(|b| (b, 0..n2))))
    }

    /// `[CLS] question [SEP] window [SEP]` for every window of `context` (see
    /// [`Tokenizer::encode_windows`](super::Tokenizer::encode_windows)).
    pub fn encode_windows(
        &self,
        question: &str,
        context: &str,
        max_len: usize,
        stride: usize,
    ) -> Result<Vec<Encoding>, DataError> {
        let a = self.sequence(question);
        let b = self.sequence(context);
        let ranges = truncation::context_windows(a.len(), b.len(), 3, max_len, stride)?;
        Ok(ranges.into_iter().map(|(start, stop)| self.assemble(&a, 0..a.len(), Some((&b, start..stop)))).collect())
    }

    /// `[CLS]` + tokens `r1` of `a` + `[SEP]` (+ tokens `r2` of `b` + `[SEP]`).
    fn assemble(&self, a: &Sequence, r1: Range<usize>, b: Option<(&Sequence, Range<usize>)>) -> Encoding {
        let n1 = r1.len();
        let n2 = b.as_ref().map_or(0, |(_, r)| r.len());
        let added = if b.is_some() { 3 } else { 2 };
        let mut enc = Encoding::default();
        let len = n1 + n2 + added;
        enc.ids.reserve_exact(len);
        enc.type_ids.reserve_exact(len);
        enc.word_ids.reserve_exact(len);
        enc.offsets.reserve_exact(len);
        enc.special_tokens_mask.reserve_exact(len);
        enc.sequence_ids.reserve_exact(len);
        let special = |enc: &mut Encoding, id: u32, type_id: u8| {
            enc.ids.push(id);
            enc.type_ids.push(type_id);
            enc.word_ids.push(None);
            enc.offsets.push((0, 0));
            enc.special_tokens_mask.push(1);
            enc.sequence_ids.push(None);
        };
        special(&mut enc, self.cls_id, 0);
        a.append_to(&mut enc, r1, 0);
        special(&mut enc, self.sep_id, 0);
        if let Some((b, r2)) = b {
            b.append_to(&mut enc, r2, 1);
            special(&mut enc, self.sep_id, 1);
        }
        debug_assert!(enc.is_aligned() && enc.len() == len);
        enc
    }
}

/// The tokens of one sequence before truncation: ids, word indices, character offsets.
#[derive(Debug, Default)]
struct Sequence {
    ids: Vec<u32>,
    word_ids: Vec<u32>,
    /// Byte offsets while the sequence is built, character offsets once it is.
    offsets: Vec<(usize, usize)>,
}

impl Sequence {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn push(&mut self, id: u32, word: u32, offsets: (usize, usize)) {
        self.ids.push(id);
        self.word_ids.push(word);
        self.offsets.push(offsets);
    }

    /// Appends tokens `r` as sequence `seq` (its token type and sequence id).
    fn append_to(&self, enc: &mut Encoding, r: Range<usize>, seq: u8) {
        let n = r.len();
        enc.ids.extend_from_slice(&self.ids[r.clone()]);
        enc.type_ids.extend(std::iter::repeat_n(seq, n));
        enc.word_ids.extend(self.word_ids[r.clone()].iter().map(|&w| Some(w)));
        enc.offsets.extend_from_slice(&self.offsets[r]);
        enc.special_tokens_mask.extend(std::iter::repeat_n(0, n));
        enc.sequence_ids.extend(std::iter::repeat_n(Some(seq), n));
    }
}
