//! Multi-label classification from indicator matrices: subset accuracy, Hamming loss, per-label and
//! micro / macro precision, recall and F1 — scikit-learn's numbers for `multilabel-indicator` targets.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::classification::{Averages, ClassScores, ratio};
use crate::error::EvalError;

/// Everything multi-label evaluation reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultilabelReport {
    /// Number of samples (rows).
    pub num_samples: usize,
    /// Number of labels (columns).
    pub num_labels: usize,
    /// Fraction of samples whose whole label set is predicted exactly (`accuracy_score`).
    pub subset_accuracy: f64,
    /// Fraction of wrong cells (`hamming_loss`).
    pub hamming_loss: f64,
    /// Pooled counts over all cells.
    pub micro_avg: Averages,
    /// Unweighted mean over **all** labels, including one that is neither true nor predicted anywhere (F1 0),
    /// as scikit-learn does for indicator matrices.
    pub macro_avg: Averages,
    /// One entry per label column.
    pub per_label: Vec<ClassScores>,
}

impl MultilabelReport {
    /// The report for row-major `[n_samples, num_labels]` indicator matrices (`true` = label assigned).
    ///
    /// Errors: `num_labels` 0, empty input, `y_true` not a whole number of rows, `y_pred` not the same shape.
    pub fn compute(y_true: &[bool], y_pred: &[bool], num_labels: usize) -> Result<Self, EvalError> {
        check::some_classes("num_labels", num_labels)?;
        check::non_empty("y_true", y_true.len())?;
        let n = y_true.len() / num_labels;
        check::shape("y_true", y_true.len(), n, num_labels)?;
        check::shape("y_pred", y_pred.len(), n, num_labels)?;

        let (mut tp, mut predicted, mut actual) = (vec![0; num_labels], vec![0; num_labels], vec![0; num_labels]);
        let (mut exact_rows, mut wrong_cells) = (0, 0);
        for (t_row, p_row) in y_true.chunks_exact(num_labels).zip(y_pred.chunks_exact(num_labels)) {
            let mut row_ok = true;
            for (k, (&t, &p)) in t_row.iter().zip(p_row).enumerate() {
                tp[k] += usize::from(t && p);
                predicted[k] += usize::from(p);
                actual[k] += usize::from(t);
                if t != p {
                    wrong_cells += 1;
                    row_ok = false;
                }
            }
            exact_rows += usize::from(row_ok);
        }
        let per_label: Vec<ClassScores> =
            (0..num_labels).map(|k| ClassScores::from_counts(tp[k], predicted[k], actual[k])).collect();
        let sum = |v: &[usize]| v.iter().sum::<usize>();
        Ok(MultilabelReport {
            num_samples: n,
            num_labels,
            subset_accuracy: ratio(exact_rows, n),
            hamming_loss: ratio(wrong_cells, n * num_labels),
            micro_avg: Averages::micro(sum(&tp), sum(&predicted), sum(&actual)),
            macro_avg: Averages::mean(&per_label),
            per_label,
        })
    }
}

/// The thresholds [`tune_thresholds`] tries for each label: 0.05, 0.10, …, 0.95 (19 values, each the
/// nearest `f64` to its decimal).
pub fn threshold_grid() -> Vec<f64> {
    (1..20).map(|i| f64::from(i) / 20.0).collect()
}

/// One threshold per label, tuned on a labelled split (validation): for each label, the value of
/// [`threshold_grid`] whose decisions `probs > t` give that label the highest F1 there; among equal F1s
/// the one nearest `default`, then the lower. A label with no positive example keeps `default` (every
/// threshold scores F1 0 on it: nothing to tune on). `probs` are probabilities (a sigmoid of the
/// logits), row-major `[n_samples, num_labels]` as `y_true`.
///
/// Errors: as [`MultilabelReport::compute`], and `probs` not the shape of `y_true`.
pub fn tune_thresholds(y_true: &[bool], probs: &[f64], num_labels: usize, default: f64) -> Result<Vec<f64>, EvalError> {
    check::some_classes("num_labels", num_labels)?;
    check::non_empty("y_true", y_true.len())?;
    let n = y_true.len() / num_labels;
    check::shape("y_true", y_true.len(), n, num_labels)?;
    check::shape("probs", probs.len(), n, num_labels)?;
    let grid = threshold_grid();
    let tuned = (0..num_labels)
        .map(|k| {
            let column = || (0..n).map(move |i| (y_true[i * num_labels + k], probs[i * num_labels + k]));
            let actual = column().filter(|(t, _)| *t).count();
            if actual == 0 {
                return default;
            }
            let f1 = |t: f64| {
                let (mut tp, mut predicted) = (0, 0);
                for (truth, p) in column() {
                    let yes = p > t;
                    predicted += usize::from(yes);
                    tp += usize::from(yes && truth);
                }
                ClassScores::from_counts(tp, predicted, actual).f1
            };
            let mut best = (default, f64::NEG_INFINITY);
            for &t in &grid {
                let score = f1(t);
                let nearer = (t - default).abs() < (best.0 - default).abs();
                if score > best.1 || (score == best.1 && nearer) {
                    best = (t, score);
                }
            }
            best.0
        })
        .collect();
    Ok(tuned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuned_thresholds_are_the_best_of_the_grid_for_each_label() {
        // Label 0: positives at 0.30 and 0.42, negatives at 0.20 and 0.60: 0.25 keeps both positives
        // and one negative (F1 0.8), better than 0.5 (F1 0: only the negative 0.60 above it).
        // Label 1: cleanly separated around 0.5: every threshold in [0.35, 0.65) is perfect; 0.5 is
        // the nearest to the default. Label 2: no positive: the default.
        let y = [true, false, false, true, true, false, false, false, false, false, true, false];
        let p = [0.30, 0.35, 0.1, 0.42, 0.8, 0.2, 0.20, 0.3, 0.3, 0.60, 0.65, 0.9];
        let t = tune_thresholds(&y, &p, 3, 0.5).unwrap();
        assert_eq!(t, [0.25, 0.5, 0.5]);
        // Against a brute force over the grid through the report itself.
        for (k, &tuned) in t.iter().enumerate().take(2) {
            let f1_at = |thr: f64| {
                let pred: Vec<bool> =
                    p.iter().enumerate().map(|(i, &x)| x > if i % 3 == k { thr } else { 0.5 }).collect();
                MultilabelReport::compute(&y, &pred, 3).unwrap().per_label[k].f1
            };
            let best = threshold_grid().into_iter().map(f1_at).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(f1_at(tuned), best, "label {k}");
        }
        // Another default moves only the choice among ties.
        assert_eq!(tune_thresholds(&y, &p, 3, 0.4).unwrap(), [0.25, 0.4, 0.4]);
        assert!(tune_thresholds(&y, &p[..11], 3, 0.5).is_err());
    }

    #[test]
    fn two_samples_three_labels_by_hand() {
        let (t, f) = (true, false);
        // Row 0: true {0, 2}, predicted {0}; row 1: true {1}, predicted {1}. Label 2 is never predicted.
        let r = MultilabelReport::compute(&[t, f, t, f, t, f], &[t, f, f, f, t, f], 3).unwrap();
        assert_eq!(r.subset_accuracy, 1.0 / 2.0);
        assert_eq!(r.hamming_loss, 1.0 / 6.0);
        // Pooled: tp 2, predicted 2, actual 3.
        assert_eq!(r.micro_avg, Averages { precision: 2.0 / 2.0, recall: 2.0 / 3.0, f1: 2.0 * 2.0 / (3.0 + 2.0) });
        assert_eq!(r.per_label[2], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 1 });
        assert_eq!(r.macro_avg.f1, (1.0 + 1.0 + 0.0) / 3.0);
    }

    #[test]
    fn a_label_absent_everywhere_counts_as_zero_in_macro() {
        let (t, f) = (true, false);
        let r = MultilabelReport::compute(&[t, f, t, f], &[t, f, t, f], 2).unwrap();
        assert_eq!((r.subset_accuracy, r.hamming_loss, r.micro_avg.f1), (1.0, 0.0, 1.0));
        assert_eq!(r.macro_avg.f1, (1.0 + 0.0) / 2.0);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(MultilabelReport::compute(&[], &[], 2), Err(EvalError::Empty { what: "y_true" }));
        assert_eq!(MultilabelReport::compute(&[true], &[true], 0), Err(EvalError::NoClasses { what: "num_labels" }));
        assert_eq!(
            MultilabelReport::compute(&[true; 5], &[true; 5], 2),
            Err(EvalError::ShapeMismatch { what: "y_true", len: 5, rows: 2, cols: 2, expected: 4 })
        );
        assert_eq!(
            MultilabelReport::compute(&[true; 4], &[true; 6], 2),
            Err(EvalError::ShapeMismatch { what: "y_pred", len: 6, rows: 2, cols: 2, expected: 4 })
        );
    }
}
