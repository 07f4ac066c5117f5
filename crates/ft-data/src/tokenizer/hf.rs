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

use super::{Encoding, truncation};
use crate::DataError;
use std::path::{Path, PathBuf};
use tokenizers::{PostProcessor, TruncationDirection};

/// A loaded `tokenizer.json`.
#[derive(Debug, Clone)]
pub struct HfTokenizer {
    path: PathBuf,
    base: tokenizers::Tokenizer,
}

impl HfTokenizer {
    /// Loads `path` (a `tokenizer.json`) and switches its truncation and padding off.
    pub fn from_file(path: &Path) -> Result<Self, DataError> {
        let bad = |e: tokenizers::Error| DataError::TokenizerFile { path: path.to_path_buf(), message: e.to_string() };
        let mut base = tokenizers::Tokenizer::from_file(path).map_err(bad)?;
        base.with_padding(None);
        base.with_truncation(None).map_err(bad)?;
        Ok(Self { path: path.to_path_buf(), base })
    }

    /// The underlying `tokenizers` object (no truncation, no padding).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.base
    }

    /// Special tokens added around one text (`is_pair` false) or a pair.
    fn added_tokens(&self, is_pair: bool) -> usize {
        self.base.get_post_processor().map_or(0, |p| p.added_tokens(is_pair))
    }

    /// Encodes with special tokens, truncated to `max_len`.
    pub fn encode(&self, text: &str, pair: Option<&str>, max_len: usize) -> Result<Encoding, DataError> {
        let needed = self.added_tokens(pair.is_some());
        let budget = max_len.checked_sub(needed).ok_or(DataError::MaxLenTooSmall { max_len, needed })?;
        let failed = |e: tokenizers::Error| DataError::Encode { message: format!("{}: {e}", self.path.display()) };
        // Without special tokens and with no truncation set, `encode_fast` returns the sequence alone.
        let mut a = self.base.encode_fast(text, false).map_err(failed)?;
        let mut b = pair.map(|p| self.base.encode_fast(p, false)).transpose().map_err(failed)?;
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
        if let Some(b) = &mut b {
            drop(b.take_overflowing());
        }
        let enc = self.base.post_process(a, b, true).map_err(failed)?;
        let type_ids = enc
            .get_type_ids()
            .iter()
            .map(|&t| u8::try_from(t).map_err(|_| DataError::Encode { message: format!("token type id {t} > 255") }))
            .collect::<Result<Vec<u8>, DataError>>()?;
        Ok(Encoding { ids: enc.get_ids().to_vec(), type_ids })
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
        // "one two three" is 10 pieces, "four five six" 11; budget 8 - 3 = 5 -> 2 + 3.
        let enc = tok.encode("one two three", Some("four five six"), 8).unwrap();
        assert_eq!(enc.ids, [2, 131, 57, 3, 10, 67, 73, 3]);
        assert_eq!(enc.type_ids, [0, 0, 0, 0, 1, 1, 1, 1]);
    }
}
