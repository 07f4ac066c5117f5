//! [`Tokenizer`]: text (or a text pair) → an [`Encoding`] (token ids, token types, word ids, character
//! offsets, special-tokens mask), identical to HF's fast BERT tokenizer. Two ways in: `tokenizer.json`
//! through the `tokenizers` crate ([`hf`]), or the BERT WordPiece pipeline rebuilt here from
//! `vocab.txt` ([`bert`] and one file per stage).

pub mod bert;
pub mod config;
pub mod hf;
pub mod normalizer;
pub mod offsets;
pub mod pre_tokenizer;
pub mod special;
pub mod truncation;
pub mod wordpiece;

use crate::DataError;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One tokenized input: `[CLS] A [SEP] (B [SEP])`, unpadded; its attention mask is all ones.
///
/// The fields are parallel, one entry per token, and mean what the same names mean on Python
/// `tokenizers`' `Encoding` (transformers' `word_ids()`, `offset_mapping`, `special_tokens_mask`,
/// `sequence_ids()`): token tasks read `word_ids`, QA and explanations read `offsets`.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
/// let enc = ft_data::Tokenizer::from_dir(&dir)?.encode("café!", Some("é"), 16)?;
/// // [CLS] c ##a ##f ##e ! [SEP] e [SEP]
/// assert_eq!(enc.word_ids, [None, Some(0), Some(0), Some(0), Some(0), Some(1), None, Some(0), None]);
/// assert_eq!(enc.offsets, [(0, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (0, 0), (0, 1), (0, 0)]);
/// assert_eq!(enc.special_tokens_mask, [1, 0, 0, 0, 0, 0, 1, 0, 1]);
/// assert_eq!(enc.sequence_ids, [None, Some(0), Some(0), Some(0), Some(0), Some(0), None, Some(1), None]);
/// # Ok::<(), ft_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Segment of each token: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub type_ids: Vec<u8>,
    /// The word each token belongs to, counted from 0 in each sequence (so the words of `B` start
    /// at 0 again); `None` for the special tokens the template adds. A word is what the
    /// pre-tokenizer splits off: a run of letters and digits, one punctuation character, one CJK
    /// ideograph, or a special token written in the text (`[MASK]`).
    pub word_ids: Vec<Option<u32>>,
    /// `(start, end)` of the text each token came from, in **characters** (Unicode scalar values,
    /// i.e. Python string indices, not bytes) of the *original* text of its own sequence: tokens of
    /// `B` index into the pair text. A token covers the original characters its normalized
    /// characters came from (the `e` of `"Éa"` covers `É`, (0, 1)); `(0, 0)` for added specials.
    pub offsets: Vec<(usize, usize)>,
    /// 1 for the special tokens the template adds (`[CLS]`, `[SEP]`), 0 for the tokens of the
    /// text, including a special token written in it.
    pub special_tokens_mask: Vec<u8>,
    /// The sequence of each token: `Some(0)` for `A`, `Some(1)` for `B`, `None` for added specials.
    pub sequence_ids: Vec<Option<u8>>,
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

    /// Whether every field has one entry per token.
    pub fn is_aligned(&self) -> bool {
        let n = self.ids.len();
        [
            self.type_ids.len(),
            self.word_ids.len(),
            self.offsets.len(),
            self.special_tokens_mask.len(),
            self.sequence_ids.len(),
        ]
        .iter()
        .all(|&len| len == n)
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

    /// The largest id this tokenizer can emit — of the vocabulary, the added tokens and the special
    /// tokens it inserts. A model needs `vocab_size > max_token_id()`, or its embedding lookup goes out
    /// of bounds. Not always `vocab_size() - 1`: a `tokenizer.json` may number its tokens with gaps,
    /// and a `vocab.txt` with a repeated line has fewer tokens than ids.
    pub fn max_token_id(&self) -> u32 {
        match &self.backend {
            Backend::Hf(t) => t.max_token_id(),
            Backend::Bert(t) => t.max_token_id(),
        }
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

    /// The token of an id (`convert_ids_to_tokens`), if the vocabulary has one: `##ing` for a
    /// continuation piece.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        match &self.backend {
            Backend::Hf(t) => t.inner().id_to_token(id),
            Backend::Bert(t) => t.id_to_token(id),
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

    /// Tokenizes pre-split `words` (a CoNLL sentence) as one sequence, adds the special tokens and
    /// truncates to at most `max_len` tokens, as HF's `tokenizer(words, is_split_into_words=True,
    /// truncation=True, max_length=max_len)`. Every token of `words[i]` has word id `i`; a word may
    /// give several tokens (sub-words, and pieces split at punctuation) or none (a word the
    /// normalizer empties, such as a lone U+200B); offsets are characters of the token's own word.
    ///
    /// ```
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
    /// let enc = ft_data::Tokenizer::from_dir(&dir)?.encode_words(&["café", "!"], 16)?;
    /// // [CLS] c ##a ##f ##e ! [SEP]
    /// assert_eq!(enc.word_ids, [None, Some(0), Some(0), Some(0), Some(0), Some(1), None]);
    /// assert_eq!(enc.offsets, [(0, 0), (0, 1), (1, 2), (2, 3), (3, 4), (0, 1), (0, 0)]);
    /// # Ok::<(), ft_data::DataError>(())
    /// ```
    pub fn encode_words(&self, words: &[&str], max_len: usize) -> Result<Encoding, DataError> {
        match &self.backend {
            Backend::Hf(t) => t.encode_words(words, max_len),
            Backend::Bert(t) => t.encode_words(words, max_len),
        }
    }

    /// A question and its context as extractive question answering reads them (transformers'
    /// `tokenizer(question, context, truncation="only_second", max_length=max_len, stride=stride,
    /// return_overflowing_tokens=True, return_offsets_mapping=True)`): one `[CLS] question [SEP]
    /// window [SEP]` encoding per window of the context, each at most `max_len` tokens, consecutive
    /// windows sharing `stride` context tokens; the question is never cut. Offsets of the window's
    /// tokens index the context (sequence 1).
    ///
    /// ```
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
    /// let tok = ft_data::Tokenizer::from_dir(&dir)?;
    /// // "who?" is 4 tokens (w ##h ##o ?): with 3 specials, max_len 11 leaves 4 for the context's 7.
    /// let windows = tok.encode_windows("who?", "abcdefg", 11, 2)?;
    /// let context = |e: &ft_data::Encoding| e.offsets[6..e.len() - 1].to_vec();
    /// assert_eq!(windows.len(), 3);
    /// assert_eq!(context(&windows[0]), [(0, 1), (1, 2), (2, 3), (3, 4)]);
    /// assert_eq!(context(&windows[1]), [(2, 3), (3, 4), (4, 5), (5, 6)]);
    /// assert_eq!(context(&windows[2]), [(4, 5), (5, 6), (6, 7)]);
    /// # Ok::<(), ft_data::DataError>(())
    /// ```
    pub fn encode_windows(
        &self,
        question: &str,
        context: &str,
        max_len: usize,
        stride: usize,
    ) -> Result<Vec<Encoding>, DataError> {
        match &self.backend {
            Backend::Hf(t) => t.encode_windows(question, context, max_len, stride),
            Backend::Bert(t) => t.encode_windows(question, context, max_len, stride),
        }
    }

    /// [`encode_words`](Self::encode_words) for many sentences, in parallel, results in input order.
    pub fn encode_words_batch(&self, sentences: &[Vec<&str>], max_len: usize) -> Result<Vec<Encoding>, DataError> {
        sentences.par_iter().with_min_len(64).map(|words| self.encode_words(words, max_len)).collect()
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
    fn max_token_id_of_the_tiny_fixture() {
        // fixtures/tiny: 141 lines of vocab.txt, ids 0..=140, the same in tokenizer.json.
        let lines = std::fs::read_to_string(tiny().join("vocab.txt")).unwrap().lines().count() as u32;
        assert_eq!(lines, 141);
        for tok in [Tokenizer::from_dir(&tiny()).unwrap(), Tokenizer::from_vocab(&tiny()).unwrap()] {
            assert_eq!(tok.max_token_id(), lines - 1);
        }
    }

    /// Regression: ids past the vocabulary size (a vocabulary numbered with gaps, special tokens the
    /// post-processor inserts by id, a vocab.txt with a repeated line) were invisible to the model's
    /// vocab_size check.
    #[test]
    fn max_token_id_counts_every_id_the_tokenizer_emits() {
        let dir = tempfile::tempdir().unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tiny().join("tokenizer.json")).unwrap()).unwrap();
        let write = |json: &serde_json::Value| std::fs::write(dir.path().join("tokenizer.json"), json.to_string());
        // An added token takes the next id after the vocabulary (tokenizers ignores the id in the file).
        let added = serde_json::json!({"id": 7, "content": "<extra>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true});
        json["added_tokens"].as_array_mut().unwrap().push(added);
        write(&json).unwrap();
        let tok = Tokenizer::from_dir(dir.path()).unwrap();
        assert_eq!((tok.vocab_size(), tok.max_token_id()), (142, 141));
        assert_eq!(tok.encode("a <extra>", None, 16).unwrap().ids.iter().max(), Some(&141));
        // A vocabulary with a gap.
        json["model"]["vocab"]["zzz"] = serde_json::json!(500);
        write(&json).unwrap();
        let tok = Tokenizer::from_dir(dir.path()).unwrap();
        assert_eq!((tok.vocab_size(), tok.max_token_id()), (143, 500));
        assert_eq!(tok.encode("zzz", None, 16).unwrap().ids, [2, 500, 3]);
        // The post-processor's special tokens carry their own ids.
        json["post_processor"]["special_tokens"]["[CLS]"]["ids"] = serde_json::json!([900]);
        write(&json).unwrap();
        let tok = Tokenizer::from_dir(dir.path()).unwrap();
        assert_eq!(tok.max_token_id(), 900);
        assert_eq!(tok.encode("a", None, 16).unwrap().ids[0], 900);

        let vocab = std::fs::read_to_string(tiny().join("vocab.txt")).unwrap();
        std::fs::write(dir.path().join("vocab.txt"), format!("{vocab}[PAD]\n")).unwrap();
        let tok = Tokenizer::from_vocab(dir.path()).unwrap();
        assert_eq!((tok.vocab_size(), tok.max_token_id(), tok.pad_id()), (141, 141, 141));
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
    fn vocab_txt_that_is_not_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vocab.txt"), b"[PAD]\n[UNK]\ncaf\xe9\n").unwrap();
        let err = Tokenizer::from_vocab(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "vocab.txt: not a usable tokenizer file: line 3 is not valid UTF-8; re-save the vocabulary as UTF-8"
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_files_name_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = Tokenizer::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json") && err.contains("vocab.txt"), "{err}");
    }
}
