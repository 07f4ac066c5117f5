//! `EvalError`: every way an evaluation input can be unusable, with what, where and the fix.
//!
//! Metrics never answer NaN for bad or empty input: they return one of these. Where the reference
//! libraries return NaN for a well-formed but degenerate input (a constant series for Pearson, a class
//! without positives for ROC-AUC), the standalone functions return an error and the reports hold `None`
//! (see each item's docs).

use thiserror::Error;

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// No samples (or no tokens): every metric would divide by zero.
    #[error("{what} is empty: metrics are undefined without samples; pass at least one")]
    Empty {
        /// The empty input (`y_true`, `sentences`, ...).
        what: &'static str,
    },

    /// Two inputs that must have one entry per sample differ in length.
    #[error("{a} has {len_a} entries but {b} has {len_b}: they must have one entry per sample")]
    LengthMismatch {
        /// Name of the first input.
        a: &'static str,
        /// Its length.
        len_a: usize,
        /// Name of the second input.
        b: &'static str,
        /// Its length.
        len_b: usize,
    },

    /// A token's character offsets fall outside the text they index.
    #[error("offsets {start}..{end} fall outside a context of {len} characters: the offsets belong to another text")]
    OffsetOutOfRange {
        /// First character.
        start: usize,
        /// One past the last.
        end: usize,
        /// Characters in the context.
        len: usize,
    },

    /// A question has no gold answer to compare the prediction with.
    #[error("question {question} has no gold answer: SQuAD scores a prediction against at least one")]
    NoGoldAnswer {
        /// Position of the question.
        question: usize,
    },

    /// A class label is not below `num_classes`.
    #[error("{what}[{index}] = {label} is not a class index: num_classes is {num_classes}, so labels must be below it")]
    LabelOutOfRange {
        /// The input holding the label (`y_true` or `y_pred`).
        what: &'static str,
        /// Position of the sample.
        index: usize,
        /// The label found.
        label: usize,
        /// The number of classes the caller declared.
        num_classes: usize,
    },

    /// `num_classes` (or `num_labels`) is 0.
    #[error("{what} is 0: there must be at least one class")]
    NoClasses {
        /// `num_classes` or `num_labels`.
        what: &'static str,
    },

    /// A flat row-major matrix does not have `rows × cols` values.
    #[error(
        "{what} has {len} values, expected {rows} rows × {cols} columns = {expected} (row-major [n_samples, {cols}])"
    )]
    ShapeMismatch {
        /// The matrix (`probs`, `y_pred`, ...).
        what: &'static str,
        /// Number of values passed.
        len: usize,
        /// Expected rows (samples).
        rows: usize,
        /// Expected columns (classes or labels).
        cols: usize,
        /// `rows * cols`.
        expected: usize,
    },

    /// A confusion matrix that is not square.
    #[error("confusion matrix row {row} has {len} columns, expected {expected} (it must be square)")]
    NotSquare {
        /// The offending row.
        row: usize,
        /// Its length.
        len: usize,
        /// The number of rows.
        expected: usize,
    },

    /// The metric is only defined with more classes.
    #[error("{metric} needs at least {need} classes, got num_classes = {num_classes}")]
    TooFewClasses {
        /// The metric (`log_loss`, `roc_auc`).
        metric: &'static str,
        /// The minimum.
        need: usize,
        /// What the caller passed.
        num_classes: usize,
    },

    /// The metric is only defined with more samples.
    #[error("{metric} needs at least {need} samples, got {found}")]
    TooFewSamples {
        /// The metric (`pearson`, `spearman`).
        metric: &'static str,
        /// The minimum.
        need: usize,
        /// What the caller passed.
        found: usize,
    },

    /// A NaN or infinite value.
    #[error("{what}[{index}] is {value}: every value must be finite")]
    NonFinite {
        /// The input (`y_true`, `scores`, `probs`).
        what: &'static str,
        /// Flat position of the value.
        index: usize,
        /// The value.
        value: f64,
    },

    /// A probability outside [0, 1].
    #[error(
        "probs[{row}][{col}] = {value} is not a probability (must be within [0, 1]); pass softmax outputs, not logits"
    )]
    NotAProbability {
        /// Sample.
        row: usize,
        /// Class.
        col: usize,
        /// The value.
        value: f64,
    },

    /// A row of probabilities that does not sum to 1.
    #[error("probs row {row} sums to {sum}, not 1 (within 1e-8 + 1e-5·sum); pass softmax outputs, not logits")]
    RowSumNotOne {
        /// Sample.
        row: usize,
        /// Its sum.
        sum: f64,
    },

    /// ROC-AUC of a class needs both positive and negative samples in `y_true`.
    #[error(
        "ROC-AUC is undefined for class {class}: y_true has {positives} samples of it, {negatives} others; needs both"
    )]
    RocUndefined {
        /// The class (1 for a binary `roc_auc_binary`).
        class: usize,
        /// Samples of the class.
        positives: usize,
        /// Samples of the other classes.
        negatives: usize,
    },

    /// A correlation of a constant series (scipy returns NaN with a `ConstantInputWarning`).
    #[error("{metric} is undefined: {what} is constant (every value is {value})")]
    ConstantInput {
        /// `pearson` or `spearman`.
        metric: &'static str,
        /// `y_true` or `y_pred`.
        what: &'static str,
        /// The constant.
        value: f64,
    },

    /// Tagging: a sentence with a different number of tags in `y_true` and `y_pred`.
    #[error("sentence {sentence}: y_true has {len_true} tags but y_pred has {len_pred}; tag the same tokens in both")]
    SentenceLengthMismatch {
        /// The sentence.
        sentence: usize,
        /// Tags in `y_true`.
        len_true: usize,
        /// Tags in `y_pred`.
        len_pred: usize,
    },

    /// Tagging: a tag that is not `O` and does not start with `B`, `I`, `E` or `S`.
    #[error("{what} sentence {sentence}, token {token}: tag {tag:?} is not O, B-TYPE, I-TYPE, E-TYPE or S-TYPE")]
    InvalidTag {
        /// `y_true`, `y_pred` or `tags`.
        what: &'static str,
        /// The sentence (0 for a single sequence).
        sentence: usize,
        /// Position in the sentence.
        token: usize,
        /// The tag found.
        tag: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_where_and_expected() {
        let e = EvalError::LengthMismatch { a: "y_true", len_a: 10, b: "y_pred", len_b: 9 };
        assert_eq!(e.to_string(), "y_true has 10 entries but y_pred has 9: they must have one entry per sample");
        let e = EvalError::LabelOutOfRange { what: "y_pred", index: 3, label: 5, num_classes: 3 };
        assert_eq!(e.to_string(), "y_pred[3] = 5 is not a class index: num_classes is 3, so labels must be below it");
        let e = EvalError::ShapeMismatch { what: "probs", len: 10, rows: 4, cols: 3, expected: 12 };
        assert_eq!(e.to_string(), "probs has 10 values, expected 4 rows × 3 columns = 12 (row-major [n_samples, 3])");
        let e = EvalError::Empty { what: "y_true" };
        assert!(e.to_string().starts_with("y_true is empty"));
    }
}
