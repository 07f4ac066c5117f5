//! Token classification data (NER, dialogue slots), as transformers' `run_ner.py` prepares it:
//! tagged sentences ([`crate::files::TaggedReader`]: CoNLL columns or JSONL) → the label set (the
//! sorted unique tags of the training file, `get_label_list`) → each sentence's words tokenized as
//! pre-split words ([`crate::Tokenizer::encode_words`]) → one label per token ([`align`]) → compact
//! [`Examples`](crate::Examples) → `[B, T]` label batches padded with [`IGNORE_INDEX`]; and back:
//! predictions per token → tag sequences per sentence for seqeval ([`eval`]).
//!
//! Words cut off by `max_len` are counted per split ([`SplitReport::words_cut`](crate::SplitReport)),
//! never dropped without saying so.

pub mod align;
pub mod eval;
mod load;

pub use align::{AlignedTags, IGNORE_INDEX, align, b_to_i};
pub use eval::{TagSequences, labelled_tags, word_tags};
pub use load::{read_tagged_train, read_tagged_with_labels};

use crate::files::TagColumns;

/// How tagged files are read and aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenOptions {
    /// The token and tag columns of CoNLL files (`--token-column`, `--tag-column`; default first and
    /// last).
    pub columns: TagColumns,
    /// Label every token of a word, not only the first (`--label-all-tokens`, run_ner's
    /// `label_all_tokens`): the other tokens of a `B-X` word get `I-X`.
    pub label_all_tokens: bool,
}
