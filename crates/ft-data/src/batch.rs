//! [`Batch`]: a padded batch on the host, row-major `[B, T]` buffers ready for any tensor library.

/// The labels of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Single-label: one class index per row, `[B]`.
    Classes(Vec<i64>),
    /// Multi-label: multi-hot rows, `[B, C]` row-major.
    MultiHot {
        /// `B * C` values, 1.0 where the class is present.
        values: Vec<f32>,
        /// C.
        num_labels: usize,
    },
    /// Regression: one target per row, `[B]`.
    Values(Vec<f32>),
    /// Token classification: a class id per token, `[B, T]` row-major, [`IGNORE_INDEX`] on the
    /// tokens without a label (special tokens, non-first sub-tokens, padding).
    ///
    /// [`IGNORE_INDEX`]: crate::IGNORE_INDEX
    TokenClasses(Vec<i64>),
    /// Question answering: the answer's start and end token of each row (window), `[B, 2]`
    /// row-major; `(0, 0)` (the `[CLS]` token) when the window does not hold the answer.
    Spans(Vec<i64>),
}

/// A padded batch: three `[B, T]` buffers (row-major) and the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Token ids, padding with the pad id. `[B, T]`
    pub input_ids: Vec<i64>,
    /// Segment ids, 0 on padding. `[B, T]`
    pub token_type_ids: Vec<i64>,
    /// 1 on real tokens, 0 on padding. `[B, T]`
    pub attention_mask: Vec<i64>,
    /// B.
    pub batch_size: usize,
    /// T: the longest row, rounded up to `pad_to_multiple_of`.
    pub seq_len: usize,
    /// The labels.
    pub labels: Labels,
}

impl Batch {
    /// Real (unpadded) tokens of each row: the sums of the attention mask.
    pub fn lengths(&self) -> Vec<usize> {
        if self.seq_len == 0 {
            return vec![0; self.batch_size];
        }
        self.attention_mask.chunks(self.seq_len).map(|row| row.iter().filter(|&&m| m != 0).count()).collect()
    }
}
