//! [`Tokenizer`]: text (or a text pair) → token ids and token type ids, identical to HF's fast BERT
//! tokenizer. Two ways in: `tokenizer.json` through the `tokenizers` crate ([`hf`]), or the BERT
//! WordPiece pipeline rebuilt here from `vocab.txt` ([`bert`] and one file per stage).

pub mod bert;
pub mod config;
pub mod hf;
pub mod normalizer;
pub mod pre_tokenizer;
pub mod special;
pub mod truncation;
pub mod wordpiece;

use crate::DataError;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One tokenized input: `[CLS] A [SEP] (B [SEP])`, unpadded; its attention mask is all ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Segment of each token: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub type_ids: Vec<u8>,
}

impl Encoding {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens (never the case for BERT: `[CLS] [SEP]` at least).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Where a [`Tokenizer`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// A `tokenizer.json`, read by the `tokenizers` crate.
    TokenizerJson(PathBuf),
    /// A `vocab.txt` (+ `tokenizer_config.json`), through ft's BERT pipeline.
    Vocab(PathBuf),
}

#[derive(Debug, Clone)]
enum Backend {
    Hf(Box<hf::HfTokenizer>),
    Bert(Box<bert::BertPipeline>),
}

/// A BERT-family tokenizer.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
/// let tok = ft_data::Tokenizer::from_dir(&dir)?;
/// let enc = tok.encode("the movie", Some("was good"), 64)?;
/// assert_eq!(enc.ids.first(), tok.token_to_id("[CLS]").as_ref());
/// assert_eq!(enc.type_ids.iter().filter(|&&t| t == 1).count(), 3); // "was good [SEP]"
/// # Ok::<(), ft_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Tokenizer {
    backend: Backend,
    source: TokenizerSource,
    pad_id: u32,
}

impl Tokenizer {
    /// `dir/tokenizer.json` if there is one, else `dir/vocab.txt` with `dir/tokenizer_config.json`.
    pub fn from_dir(dir: &Path) -> Result<Self, DataError> {
        if dir.join("tokenizer.json").is_file() {
            Self::from_tokenizer_json(dir)
        } else if dir.join("vocab.txt").is_file() {
            Self::from_vocab(dir)
        } else {
            Err(DataError::NoTokenizer { dir: dir.to_path_buf() })
        }
    }

    /// `dir/tokenizer.json` through the `tokenizers` crate.
    pub fn from_tokenizer_json(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join("tokenizer.json");
        let hf = hf::HfTokenizer::from_file(&path)?;
        let cfg = config::BertTokenizerConfig::from_dir(dir)?;
        let pad_id = hf
            .inner()
            .token_to_id(&cfg.pad_token)
            .ok_or_else(|| DataError::MissingSpecialToken { path: path.clone(), token: cfg.pad_token.clone() })?;
        Ok(Self { backend: Backend::Hf(Box::new(hf)), source: TokenizerSource::TokenizerJson(path), pad_id })
    }

    /// `dir/vocab.txt` + `dir/tokenizer_config.json` through ft's own BERT pipeline, even when a
    /// `tokenizer.json` is present.
    pub fn from_vocab(dir: &Path) -> Result<Self, DataError> {
        let pipeline = bert::BertPipeline::from_dir(dir)?;
        let pad_id = pipeline.pad_id();
        Ok(Self {
            backend: Backend::Bert(Box::new(pipeline)),
            source: TokenizerSource::Vocab(dir.join("vocab.txt")),
            pad_id,
        })
    }

    /// Where this tokenizer was read from.
    pub fn source(&self) -> &TokenizerSource {
        &self.source
    }

    /// The padding id (`[PAD]`).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        match &self.backend {
            Backend::Hf(t) => t.inner().get_vocab_size(true),
            Backend::Bert(t) => t.vocab_size(),
        }
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        match &self.backend {
            Backend::Hf(t) => t.inner().token_to_id(token),
            Backend::Bert(t) => t.token_to_id(token),
        }
    }

    /// Tokenizes `text` (and `pair`), adds the special tokens and truncates to at most `max_len`
    /// tokens, longest sequence first, as HF's `tokenizer(text, pair, truncation=True, max_length=max_len)`.
    pub fn encode(&self, text: &str, pair: Option<&str>, max_len: usize) -> Result<Encoding, DataError> {
        match &self.backend {
            Backend::Hf(t) => t.encode(text, pair, max_len),
            Backend::Bert(t) => t.encode(text, pair, max_len),
        }
    }

    /// [`encode`](Self::encode) for many inputs, in parallel (rayon), results in input order.
    pub fn encode_batch(&self, inputs: &[(&str, Option<&str>)], max_len: usize) -> Result<Vec<Encoding>, DataError> {
        inputs.par_iter().with_min_len(64).map(|(text, pair)| self.encode(text, *pair, max_len)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny")
    }

    #[test]
    fn both_paths_agree_on_a_pair() {
        let a = Tokenizer::from_dir(&tiny()).unwrap();
        let b = Tokenizer::from_vocab(&tiny()).unwrap();
        assert!(matches!(a.source(), TokenizerSource::TokenizerJson(_)));
        assert!(matches!(b.source(), TokenizerSource::Vocab(_)));
        let ea = a.encode("The movie was GOOD!", Some("café [MASK]"), 64).unwrap();
        assert_eq!(ea, b.encode("The movie was GOOD!", Some("café [MASK]"), 64).unwrap());
        assert_eq!(ea.ids[0], 2);
        assert_eq!(*ea.ids.last().unwrap(), 3);
        assert_eq!((a.pad_id(), b.pad_id(), a.vocab_size(), b.vocab_size()), (0, 0, 141, 141));
    }

    #[test]
    fn max_len_below_special_tokens_is_an_error() {
        for tok in [Tokenizer::from_dir(&tiny()).unwrap(), Tokenizer::from_vocab(&tiny()).unwrap()] {
            assert!(tok.encode("x", None, 2).is_ok());
            let err = tok.encode("x", Some("y"), 2).unwrap_err().to_string();
            assert!(err.contains("max_len 2") && err.contains('3'), "{err}");
        }
    }

    #[test]
    fn batch_keeps_order() {
        let tok = Tokenizer::from_vocab(&tiny()).unwrap();
        let inputs: Vec<(&str, Option<&str>)> = vec![("a", None), ("the movie", Some("b")), ("", None)];
        let batch = tok.encode_batch(&inputs, 16).unwrap();
        for ((t, p), enc) in inputs.iter().zip(&batch) {
            assert_eq!(*enc, tok.encode(t, *p, 16).unwrap());
        }
    }

    #[test]
    fn missing_files_name_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = Tokenizer::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json") && err.contains("vocab.txt"), "{err}");
    }
}
