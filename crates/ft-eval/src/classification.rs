//! Single-label classification from predicted class indices: the confusion matrix, accuracy, per-class
//! precision / recall / F1 with macro, micro and weighted averages, and Matthews correlation — the
//! numbers of scikit-learn's `confusion_matrix`, `precision_recall_fscore_support(zero_division=0)` and
//! `matthews_corrcoef`. Every score is derived from the confusion matrix, so a matrix summed over
//! batches gives the same report as the whole set at once.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::EvalError;

/// Precision, recall, F1 and support of one class (or label, or entity type).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// `tp / predicted`, 0 when nothing was predicted as this class.
    pub precision: f64,
    /// `tp / actual`, 0 when the class has no sample.
    pub recall: f64,
    /// `2·tp / (actual + predicted)`, 0 when both are 0.
    pub f1: f64,
    /// Samples of this class in `y_true`.
    pub support: usize,
}

impl ClassScores {
    /// Scores from counts: true positives, predicted positives, actual positives. A 0/0 is 0 (scikit-learn's
    /// `zero_division=0`).
    pub fn from_counts(tp: usize, predicted: usize, actual: usize) -> Self {
        ClassScores {
            precision: ratio(tp, predicted),
            recall: ratio(tp, actual),
            // scikit-learn's form, (1 + β²)·tp / (β²·actual + predicted) with β = 1: no 0/0 through P and R.
            f1: ratio(2 * tp, actual + predicted),
            support: actual,
        }
    }
}

/// An average of precision, recall and F1 over classes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1 (the average of the per-class F1, not the F1 of the averages).
    pub f1: f64,
}

impl Averages {
    /// Unweighted mean (scikit-learn's `average="macro"`); zeros when `scores` is empty.
    pub(crate) fn mean<'a>(scores: impl IntoIterator<Item = &'a ClassScores>) -> Self {
        Self::weighted_by(scores, |_| 1.0)
    }

    /// Mean weighted by support (`average="weighted"`); zeros when the supports sum to 0.
    pub(crate) fn weighted<'a>(scores: impl IntoIterator<Item = &'a ClassScores>) -> Self {
        Self::weighted_by(scores, |s| s.support as f64)
    }

    fn weighted_by<'a>(
        scores: impl IntoIterator<Item = &'a ClassScores>,
        weight: impl Fn(&ClassScores) -> f64,
    ) -> Self {
        let (mut p, mut r, mut f, mut total) = (0.0, 0.0, 0.0, 0.0);
        for s in scores {
            let w = weight(s);
            p += w * s.precision;
            r += w * s.recall;
            f += w * s.f1;
            total += w;
        }
        if total == 0.0 {
            return Averages { precision: 0.0, recall: 0.0, f1: 0.0 };
        }
        Averages { precision: p / total, recall: r / total, f1: f / total }
    }

    /// Precision, recall and F1 of pooled counts (`average="micro"`).
    pub(crate) fn micro(tp: usize, predicted: usize, actual: usize) -> Self {
        let s = ClassScores::from_counts(tp, predicted, actual);
        Averages { precision: s.precision, recall: s.recall, f1: s.f1 }
    }
}

/// `num / den`, or 0 when `den` is 0.
pub(crate) fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// Everything single-label evaluation reports, as scikit-learn computes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Number of samples.
    pub num_samples: usize,
    /// Fraction of samples predicted correctly.
    pub accuracy: f64,
    /// One entry per class `0..num_classes`, including classes absent from both `y_true` and `y_pred`
    /// (all zeros, support 0).
    pub per_class: Vec<ClassScores>,
    /// Unweighted mean over the classes present in `y_true` or `y_pred` (scikit-learn's default
    /// `labels=None`); a class that has samples but is never predicted counts with F1 0.
    pub macro_avg: Averages,
    /// Pooled counts; for single-label data all three equal the accuracy.
    pub micro_avg: Averages,
    /// Mean weighted by support.
    pub weighted_avg: Averages,
    /// Matthews correlation coefficient (multiclass form, Gorodkin's R_K), in [-1, 1]; 0 when either
    /// `y_true` or `y_pred` holds a single class (scikit-learn's choice).
    pub mcc: f64,
    /// `confusion[t][p]`: samples of true class `t` predicted as `p` (rows true, columns predicted).
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationReport {
    /// The report for class indices `y_true` and `y_pred`, each below `num_classes`.
    ///
    /// Errors: empty input, different lengths, `num_classes` 0, a label `>= num_classes`.
    pub fn compute(y_true: &[usize], y_pred: &[usize], num_classes: usize) -> Result<Self, EvalError> {
        Self::from_confusion(confusion_matrix(y_true, y_pred, num_classes)?)
    }

    /// The report from a confusion matrix (`confusion[t][p]`), e.g. one summed over batches.
    ///
    /// Errors: no classes, a row of the wrong length, no samples.
    pub fn from_confusion(confusion: Vec<Vec<usize>>) -> Result<Self, EvalError> {
        let c = confusion.len();
        check::some_classes("num_classes", c)?;
        if let Some((row, r)) = confusion.iter().enumerate().find(|(_, r)| r.len() != c) {
            return Err(EvalError::NotSquare { row, len: r.len(), expected: c });
        }
        let actual: Vec<usize> = confusion.iter().map(|r| r.iter().sum()).collect();
        let predicted: Vec<usize> = (0..c).map(|p| confusion.iter().map(|r| r[p]).sum()).collect();
        let total: usize = actual.iter().sum();
        check::non_empty("confusion matrix", total)?;
        let correct: usize = (0..c).map(|k| confusion[k][k]).sum();

        let per_class: Vec<ClassScores> =
            (0..c).map(|k| ClassScores::from_counts(confusion[k][k], predicted[k], actual[k])).collect();
        let present = (0..c).filter(|&k| actual[k] > 0 || predicted[k] > 0).map(|k| &per_class[k]);
        Ok(ClassificationReport {
            num_samples: total,
            accuracy: ratio(correct, total),
            macro_avg: Averages::mean(present),
            micro_avg: Averages::micro(correct, total, total),
            weighted_avg: Averages::weighted(&per_class),
            mcc: mcc(&actual, &predicted, correct),
            per_class,
            confusion,
        })
    }
}

/// Fraction of positions where `y_pred` equals `y_true`.
///
/// Errors: empty input, different lengths.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64, EvalError> {
    check::non_empty("y_true", y_true.len())?;
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(ratio(correct, y_true.len()))
}

/// `confusion[t][p]`: the number of samples of true class `t` predicted as `p`, `num_classes` square
/// (scikit-learn's `confusion_matrix(labels=range(num_classes))`).
///
/// Errors: empty input, different lengths, `num_classes` 0, a label `>= num_classes`.
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], num_classes: usize) -> Result<Vec<Vec<usize>>, EvalError> {
    check::non_empty("y_true", y_true.len())?;
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check::some_classes("num_classes", num_classes)?;
    check::labels_in_range("y_true", y_true, num_classes)?;
    check::labels_in_range("y_pred", y_pred, num_classes)?;
    let mut confusion = vec![vec![0; num_classes]; num_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        confusion[t][p] += 1;
    }
    Ok(confusion)
}

/// Matthews correlation from class totals, in f64 exactly as scikit-learn's `matthews_corrcoef`:
/// `(c·s − Σ t_k p_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))`, 0 when the denominator is 0.
fn mcc(actual: &[usize], predicted: &[usize], correct: usize) -> f64 {
    let s: f64 = predicted.iter().sum::<usize>() as f64;
    let dot = |a: &[usize], b: &[usize]| a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>();
    let cov_tp = correct as f64 * s - dot(actual, predicted);
    let cov_pp = s * s - dot(predicted, predicted);
    let cov_tt = s * s - dot(actual, actual);
    let denom = cov_pp * cov_tt;
    if denom == 0.0 { 0.0 } else { cov_tp / denom.sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-15, "{a} != {b}");
    }

    #[test]
    fn three_classes_by_hand() {
        // confusion: [[2, 1, 0], [0, 1, 1], [0, 0, 1]]; actual 3 2 1, predicted 2 2 2, tp 2 1 1.
        let r = ClassificationReport::compute(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 3).unwrap();
        assert_eq!(r.confusion, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert_eq!(r.num_samples, 6);
        close(r.accuracy, 4.0 / 6.0);
        let p = [2.0 / 2.0, 1.0 / 2.0, 1.0 / 2.0];
        let rc = [2.0 / 3.0, 1.0 / 2.0, 1.0 / 1.0];
        let f1 = [2.0 * 2.0 / (3.0 + 2.0), 2.0 * 1.0 / (2.0 + 2.0), 2.0 * 1.0 / (1.0 + 2.0)];
        for k in 0..3 {
            close(r.per_class[k].precision, p[k]);
            close(r.per_class[k].recall, rc[k]);
            close(r.per_class[k].f1, f1[k]);
        }
        assert_eq!(r.per_class.iter().map(|s| s.support).collect::<Vec<_>>(), vec![3, 2, 1]);
        close(r.macro_avg.precision, (p[0] + p[1] + p[2]) / 3.0);
        close(r.macro_avg.recall, (rc[0] + rc[1] + rc[2]) / 3.0);
        close(r.macro_avg.f1, (f1[0] + f1[1] + f1[2]) / 3.0);
        close(r.weighted_avg.f1, (3.0 * f1[0] + 2.0 * f1[1] + 1.0 * f1[2]) / 6.0);
        close(r.micro_avg.f1, 4.0 / 6.0);
        // cov(t,p) = 4·6 − (3·2 + 2·2 + 1·2) = 12; cov(p,p) = 36 − 12 = 24; cov(t,t) = 36 − (9 + 4 + 1) = 22.
        close(r.mcc, 12.0 / (24.0f64 * 22.0).sqrt());
    }

    #[test]
    fn class_never_predicted_has_f1_zero_and_counts_in_macro() {
        let r = ClassificationReport::compute(&[0, 1, 2, 2], &[0, 1, 1, 1], 3).unwrap();
        assert_eq!(r.per_class[2], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 2 });
        // Class 1: tp 1, predicted 3, actual 1 → F1 2·1 / (1 + 3).
        close(r.macro_avg.f1, (1.0 + 2.0 * 1.0 / (1.0 + 3.0) + 0.0) / 3.0);
    }

    #[test]
    fn class_absent_everywhere_is_listed_but_left_out_of_macro() {
        let r = ClassificationReport::compute(&[0, 1, 1], &[0, 1, 0], 3).unwrap();
        assert_eq!(r.per_class[2], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 });
        // Macro over classes 0 and 1 only: F1 2·1/(1+2) and 2·1/(2+1).
        close(r.macro_avg.f1, (2.0 / 3.0 + 2.0 / 3.0) / 2.0);
    }

    #[test]
    fn a_single_class_is_perfect_but_has_mcc_zero() {
        let r = ClassificationReport::compute(&[0, 0, 0], &[0, 0, 0], 1).unwrap();
        assert_eq!(r.accuracy, 1.0);
        assert_eq!(r.macro_avg, Averages { precision: 1.0, recall: 1.0, f1: 1.0 });
        assert_eq!(r.mcc, 0.0);
        // Constant predictions: s² − Σ p² = 0, so MCC 0 as scikit-learn.
        let r = ClassificationReport::compute(&[0, 1, 1, 0], &[1, 1, 1, 1], 2).unwrap();
        assert_eq!(r.mcc, 0.0);
    }

    #[test]
    fn perfect_and_all_wrong_binary() {
        let r = ClassificationReport::compute(&[0, 1, 1, 0], &[0, 1, 1, 0], 2).unwrap();
        assert_eq!((r.accuracy, r.macro_avg.f1, r.mcc), (1.0, 1.0, 1.0));
        let r = ClassificationReport::compute(&[0, 1, 1, 0], &[1, 0, 0, 1], 2).unwrap();
        assert_eq!((r.accuracy, r.macro_avg.f1, r.mcc), (0.0, 0.0, -1.0));
    }

    #[test]
    fn bad_input_is_an_error_not_nan() {
        assert_eq!(ClassificationReport::compute(&[], &[], 2), Err(EvalError::Empty { what: "y_true" }));
        assert_eq!(
            ClassificationReport::compute(&[0, 1], &[0], 2),
            Err(EvalError::LengthMismatch { a: "y_true", len_a: 2, b: "y_pred", len_b: 1 })
        );
        assert_eq!(
            ClassificationReport::compute(&[0, 1], &[0, 2], 2),
            Err(EvalError::LabelOutOfRange { what: "y_pred", index: 1, label: 2, num_classes: 2 })
        );
        assert_eq!(ClassificationReport::compute(&[0], &[0], 0), Err(EvalError::NoClasses { what: "num_classes" }));
        assert_eq!(
            ClassificationReport::from_confusion(vec![vec![1, 0], vec![0]]),
            Err(EvalError::NotSquare { row: 1, len: 1, expected: 2 })
        );
        assert_eq!(
            ClassificationReport::from_confusion(vec![vec![0, 0], vec![0, 0]]),
            Err(EvalError::Empty { what: "confusion matrix" })
        );
        assert_eq!(accuracy(&[], &[]), Err(EvalError::Empty { what: "y_true" }));
    }

    #[test]
    fn summed_confusion_matrices_give_the_whole_set_report() {
        let (t, p) = ([0, 2, 1, 1, 0, 2, 2], [0, 1, 1, 2, 0, 2, 0]);
        let a = confusion_matrix(&t[..3], &p[..3], 3).unwrap();
        let b = confusion_matrix(&t[3..], &p[3..], 3).unwrap();
        let sum: Vec<Vec<usize>> =
            a.iter().zip(&b).map(|(x, y)| x.iter().zip(y).map(|(u, v)| u + v).collect()).collect();
        assert_eq!(
            ClassificationReport::from_confusion(sum).unwrap(),
            ClassificationReport::compute(&t, &p, 3).unwrap()
        );
        assert_eq!(accuracy(&t, &p).unwrap(), 4.0 / 7.0);
    }
}
