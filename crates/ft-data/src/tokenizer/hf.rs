//! `tokenizer.json` through the `tokenizers` crate, with the truncation/padding baked into the file
//! removed: no padding (batches pad themselves), and truncation done here, `longest_first` to the
//! caller's `max_len`.
//!
//! Why not the crate's own truncation: tokenizers 0.23.2 (the Rust crate) stops tokenizing each
//! sequence of a pair early, at `max_length` tokens rounded up to a word, *before* `longest_first`
//! compares the two lengths; when one text is cut early and the other is not, the odd token goes to
//! the wrong side (e.g. `(3, 2)` where Python tokenizers 0.23.3 / transformers give `(2, 3)`). So each
//! sequence is tokenized whole, cut with [`truncation::longest_first`] (the reference rule), and then
//! passed to the file's post-processor for the special tokens.
//!
//! The file's post-processor is taken out of the tokenizer and applied here, once: run inside
//! `encode` too, it would mark each text as sequence 0 before the real call marks the pair text as
//! sequence 1, and the pair's tokens would end up in both (sequence ids wrong for the first text).
//!
//! Offsets: the crate's `encode` gives byte offsets; Python's binding gives character offsets
//! (`encode_char_offsets`, through a byte → char hash map per text). Ours are converted to
//! characters by [`offsets::bytes_to_chars`], which gives the same numbers without the map.

use super::{Encoding, offsets, truncation};
use crate::DataError;
use std::path::{Path, PathBuf};
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{PostProcessor, TruncationDirection};

/// A loaded `tokenizer.json`.
#[derive(Debug, Clone)]
pub struct HfTokenizer {
    path: PathBuf,
    base: tokenizers::Tokenizer,
    /// The file's post-processor (special tokens, type ids, sequence ids), taken out of `base`.
    post_processor: Option<PostProcessorWrapper>,
    max_token_id: u32,
}

impl HfTokenizer {
    /// Loads `path` (a `tokenizer.json`), switches its truncation and padding off and takes its
    /// post-processor out.
    pub fn from_file(path: &Path) -> Result<Self, DataError> {
        // The `tokenizers` crate panics on some malformed files (0.23: an `expect` in the decoder's
        // deserializer, a template naming a special token it does not define, found by fuzzing);
        // those become errors here. Loading also runs the post-processor once for one text and
        // for a pair, so a template that would panic while encoding is caught now.
        std::panic::catch_unwind(|| Self::load(path)).unwrap_or_else(|e| {
            let why = e.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| e.downcast_ref::<String>().cloned());
            Err(DataError::TokenizerFile {
                path: path.to_path_buf(),
                message: format!("the tokenizers library could not read it ({})", why.unwrap_or_default()),
            })
        })
    }

    fn load(path: &Path) -> Result<Self, DataError> {
        let bad = |e: tokenizers::Error| DataError::TokenizerFile { path: path.to_path_buf(), message: e.to_string() };
        let mut base = tokenizers::Tokenizer::from_file(path).map_err(bad)?;
        base.with_padding(None);
        base.with_truncation(None).map_err(bad)?;
        let post_processor = base.get_post_processor().cloned();
        base.with_post_processor(None::<PostProcessorWrapper>);
        let mut tok = Self { path: path.to_path_buf(), base, post_processor, max_token_id: 0 };
        tok.max_token_id = tok.find_max_token_id().ok_or_else(|| DataError::TokenizerFile {
            path: path.to_path_buf(),
            message: "the vocabulary is empty".into(),
        })?;
        tok.check_template()?;
        Ok(tok)
    }

    /// Checks that the post-processor keeps each text once, as sequence 0 (and 1 for a pair), and
    /// adds only special tokens: a template that repeats or drops a sequence (`[CLS] $A [SEP] $B
    /// [SEP] $B [SEP]`) gives longer encodings than the truncation budget allows for, with text
    /// offsets on tokens that belong to no sequence. Probed with a one-token text on each side.
    fn check_template(&self) -> Result<(), DataError> {
        let token = |offsets| tokenizers::Token::new(self.max_token_id, "x".into(), offsets);
        for is_pair in [false, true] {
            let a = tokenizers::Encoding::from_tokens(vec![token((0, 1))], 0);
            let b = is_pair.then(|| tokenizers::Encoding::from_tokens(vec![token((0, 1))], 1));
            let texts = 1 + usize::from(is_pair);
            let Ok(enc) = self.post_process(a, b) else { continue };
            let per_seq = |s| enc.get_sequence_ids().iter().filter(|&&id| id == Some(s)).count();
            let in_texts = enc.get_sequence_ids().iter().filter(|id| id.is_some()).count();
            let with_offsets = enc.get_offsets().iter().filter(|&&o| o != (0, 0)).count();
            let ok = enc.len() == texts + self.added_tokens(is_pair)
                && per_seq(0) == 1
                && per_seq(1) == usize::from(is_pair)
                && in_texts == texts
                && with_offsets == texts;
            if !ok {
                let which = if is_pair { "pair" } else { "single" };
                return Err(DataError::TokenizerFile {
                    path: self.path.clone(),
                    message: format!(
                        "its post_processor's `{which}` template does not hold each text exactly once \
                         (a one-token text became {} tokens, {} of them text, with {} special tokens declared); \
                         a BERT template is `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B [SEP]`: fix the \
                         template or delete tokenizer.json to use vocab.txt",
                        enc.len(),
                        in_texts,
                        self.added_tokens(is_pair)
                    ),
                });
            }
        }
        Ok(())
    }

    /// The largest id this tokenizer can emit: of the model's vocabulary, the added tokens, and the
    /// special tokens the post-processor inserts (their ids are written in the file, and may lie
    /// outside the vocabulary).
    pub fn max_token_id(&self) -> u32 {
        self.max_token_id
    }

    /// The underlying `tokenizers` object (no truncation, no padding, no post-processor).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.base
    }

    /// Special tokens added around one text (`is_pair` false) or a pair.
    fn added_tokens(&self, is_pair: bool) -> usize {
        self.post_processor.as_ref().map_or(0, |p| p.added_tokens(is_pair))
    }

    /// The special tokens around `a` (and `b`), as `TokenizerImpl::post_process` adds them.
    fn post_process(
        &self,
        a: tokenizers::Encoding,
        b: Option<tokenizers::Encoding>,
    ) -> tokenizers::Result<tokenizers::Encoding> {
        match &self.post_processor {
            Some(p) => p.process(a, b, true),
            None => Ok(<dyn PostProcessor>::default_process(std::iter::once(a).chain(b).collect(), true)?
                .pop()
                .unwrap_or_default()),
        }
    }

    /// The largest id of the vocabulary (added tokens included) and of what the post-processor adds
    /// around one text and around a pair; `None` for a tokenizer without any.
    fn find_max_token_id(&self) -> Option<u32> {
        let vocab = self.base.get_vocab(true).into_values().max();
        let specials = [false, true].into_iter().filter_map(|pair| {
            let second = pair.then(tokenizers::Encoding::default);
            let enc = self.post_process(tokenizers::Encoding::default(), second).ok()?;
            enc.get_ids().iter().copied().max()
        });
        vocab.into_iter().chain(specials).max()
    }

    /// Encodes with special tokens, truncated to `max_len`.
    pub fn encode(&self, text: &str, pair: Option<&str>, max_len: usize) -> Result<Encoding, DataError> {
        let needed = self.added_tokens(pair.is_some());
        let budget = max_len.checked_sub(needed).ok_or(DataError::MaxLenTooSmall { max_len, needed })?;
        let failed = |e: tokenizers::Error| DataError::Encode { message: format!("{}: {e}", self.path.display()) };
        // Without a post-processor, truncation or padding, `encode` returns the sequence alone, with
        // byte offsets into it.
        let mut a = self.base.encode(text, false).map_err(failed)?;
        let mut b = pair.map(|p| self.base.encode(p, false)).transpose().map_err(failed)?;
        match &mut b {
            None => a.truncate(truncation::single(a.len(), budget), 0, TruncationDirection::Right),
            Some(b) => {
                let (n1, n2) = truncation::longest_first(a.len(), b.len(), budget);
                a.truncate(n1, 0, TruncationDirection::Right);
                b.truncate(n2, 0, TruncationDirection::Right);
            }
        }
        // `truncate` keeps the cut tokens as "overflowing" encodings, which the post-processor would
        // then wrap too (every A × B combination for pairs): drop them, nobody reads them.
        drop(a.take_overflowing());
        offsets::bytes_to_chars(text, a.get_offsets_mut());
        if let (Some(b), Some(pair)) = (&mut b, pair) {
            drop(b.take_overflowing());
            offsets::bytes_to_chars(pair, b.get_offsets_mut());
        }
        let enc = self.post_process(a, b).map_err(failed)?;
        self.to_encoding(&enc)
    }
}

impl HfTokenizer {
    /// `[CLS] question [SEP] window [SEP]` for every window of `context`, cut by the `tokenizers`
    /// crate's own `truncate` with the stride (see
    /// [`Tokenizer::encode_windows`](super::Tokenizer::encode_windows)).
    pub fn encode_windows(
        &self,
        question: &str,
        context: &str,
        max_len: usize,
        stride: usize,
    ) -> Result<Vec<Encoding>, DataError> {
        let failed = |e: tokenizers::Error| DataError::Encode { message: format!("{}: {e}", self.path.display()) };
        let mut a = self.base.encode(question, false).map_err(failed)?;
        let mut b = self.base.encode(context, false).map_err(failed)?;
        offsets::bytes_to_chars(question, a.get_offsets_mut());
        offsets::bytes_to_chars(context, b.get_offsets_mut());
        let added = self.added_tokens(true);
        let ranges = truncation::context_windows(a.len(), b.len(), added, max_len, stride)?;
        let room = ranges[0].1 - ranges[0].0;
        // The first window stays in `b`, the others become its overflowing encodings (checked
        // against `ranges`, the rule the vocab.txt path uses).
        b.truncate(room, stride, TruncationDirection::Right);
        let mut windows = vec![b.clone()];
        windows.extend(b.take_overflowing());
        if windows.len() != ranges.len() {
            return Err(DataError::Encode {
                message: format!(
                    "{}: {} context windows, expected {}",
                    self.path.display(),
                    windows.len(),
                    ranges.len()
                ),
            });
        }
        drop(a.take_overflowing());
        windows
            .into_iter()
            .map(|mut w| {
                drop(w.take_overflowing());
                let enc = self.post_process(a.clone(), Some(w)).map_err(failed)?;
                self.to_encoding(&enc)
            })
            .collect()
    }

    /// Encodes pre-split `words` as one sequence (Python's `tok.encode(words, is_pretokenized=True)`):
    /// each word is normalized and split on its own, and every token of word `i` gets word id `i`;
    /// offsets are characters of the token's own word. Special tokens added, truncated to `max_len`.
    pub fn encode_words(&self, words: &[&str], max_len: usize) -> Result<Encoding, DataError> {
        let needed = self.added_tokens(false);
        let budget = max_len.checked_sub(needed).ok_or(DataError::MaxLenTooSmall { max_len, needed })?;
        let failed = |e: tokenizers::Error| DataError::Encode { message: format!("{}: {e}", self.path.display()) };
        let input = tokenizers::InputSequence::from(words);
        let mut a = self.base.encode(input, false).map_err(failed)?;
        a.truncate(truncation::single(a.len(), budget), 0, TruncationDirection::Right);
        drop(a.take_overflowing());
        // Offsets are bytes of each word: convert run by run, each run of tokens with its word.
        let word_ids = a.get_word_ids().to_vec();
        let offsets = a.get_offsets_mut();
        let mut start = 0;
        while start < word_ids.len() {
            let end = start + word_ids[start..].iter().take_while(|&&w| w == word_ids[start]).count();
            if let Some(word) = word_ids[start].and_then(|w| words.get(w as usize)) {
                offsets::bytes_to_chars(word, &mut offsets[start..end]);
            }
            start = end;
        }
        let enc = self.post_process(a, None).map_err(failed)?;
        self.to_encoding(&enc)
    }

    /// ft's [`Encoding`] of a post-processed `tokenizers` encoding.
    fn to_encoding(&self, enc: &tokenizers::Encoding) -> Result<Encoding, DataError> {
        let narrow = |what: &str, v: usize| {
            u8::try_from(v)
                .map_err(|_| DataError::Encode { message: format!("{}: {what} {v} > 255", self.path.display()) })
        };
        let type_ids =
            enc.get_type_ids().iter().map(|&t| narrow("token type id", t as usize)).collect::<Result<Vec<u8>, _>>()?;
        let sequence_ids = enc
            .get_sequence_ids()
            .into_iter()
            .map(|s| s.map(|s| narrow("sequence id", s)).transpose())
            .collect::<Result<Vec<Option<u8>>, _>>()?;
        let special_tokens_mask = enc.get_special_tokens_mask().iter().map(|&m| u8::from(m != 0)).collect();
        Ok(Encoding {
            ids: enc.get_ids().to_vec(),
            type_ids,
            word_ids: enc.get_word_ids().to_vec(),
            offsets: enc.get_offsets().to_vec(),
            special_tokens_mask,
            sequence_ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the crate's own truncation gives `(3, 2)` here; HF Python gives `(2, 3)`.
    #[test]
    fn pair_truncation_matches_python_not_the_crates_early_cut() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny/tokenizer.json");
        let tok = HfTokenizer::from_file(&path).unwrap();
        // "one two three" is 10 pieces, "four five six" 11; budget 8 - 3 = 5 -> 2 + 3: on ##e | f ##o ##u.
        let enc = tok.encode("one two three", Some("four five six"), 8).unwrap();
        assert_eq!(enc.ids, [2, 131, 57, 3, 10, 67, 73, 3]);
        assert_eq!(enc.type_ids, [0, 0, 0, 0, 1, 1, 1, 1]);
        assert!(enc.is_aligned());
        assert_eq!(enc.word_ids, [None, Some(0), Some(0), None, Some(0), Some(0), Some(0), None]);
        assert_eq!(enc.offsets, [(0, 0), (0, 2), (2, 3), (0, 0), (0, 1), (1, 2), (2, 3), (0, 0)]);
    }

    /// Regression: with the post-processor run inside `encode` as well, the pair text kept the
    /// sequence id 0 it got there, and the first text's tokens lost theirs.
    #[test]
    fn sequence_ids_of_a_pair() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny/tokenizer.json");
        let enc = HfTokenizer::from_file(&path).unwrap().encode("a b", Some("c"), 16).unwrap();
        assert_eq!(enc.sequence_ids, [None, Some(0), Some(0), None, Some(1), None]);
        assert_eq!(enc.special_tokens_mask, [1, 0, 0, 1, 0, 1]);
    }

    /// Regression (found by the `tokenizer_json` fuzz target): a pair template that repeats `$B`
    /// loaded, and its encodings had text offsets on tokens of no sequence, more tokens than the
    /// truncation budget allowed for. Now refused at load, naming the template; the fixture's
    /// own template still loads.
    #[test]
    fn a_template_that_repeats_a_sequence_is_refused() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny/tokenizer.json");
        let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
        let pair = json["post_processor"]["pair"].as_array().unwrap().clone();
        assert_eq!(pair.len(), 5, "fixture's pair template: [CLS] $A [SEP] $B [SEP]");
        let repeated: Vec<_> = pair.iter().chain(&pair[3..]).cloned().collect();
        json["post_processor"]["pair"] = serde_json::Value::Array(repeated);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, json.to_string()).unwrap();
        let err = HfTokenizer::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("`pair` template does not hold each text exactly once"), "{err}");
        assert!(err.contains("tokenizer.json"), "{err}");
        // Same file with the single template broken the same way instead.
        json["post_processor"]["pair"] = serde_json::Value::Array(pair);
        let single = json["post_processor"]["single"].as_array().unwrap().clone();
        let doubled: Vec<_> = single.iter().chain(&single[1..]).cloned().collect();
        json["post_processor"]["single"] = serde_json::Value::Array(doubled);
        std::fs::write(&path, json.to_string()).unwrap();
        let err = HfTokenizer::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("`single` template"), "{err}");
    }
}
