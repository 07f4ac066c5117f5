//! Area under the ROC curve: binary from real-valued scores, multiclass one-vs-rest from probabilities,
//! as scikit-learn's `roc_auc_score` (ties in scores handled the same way).

use crate::check;
use crate::error::EvalError;

/// ROC-AUC of real-valued scores (probabilities, logits, decision values) for binary truth
/// (`roc_auc_score(y_true, scores)`).
///
/// Like scikit-learn, the curve has one point per *distinct* score (tied samples move the curve
/// diagonally) and the area is the trapezoid rule over those points; so all-tied scores give 0.5.
///
/// Errors: empty input, different lengths, a non-finite score, `y_true` all `true` or all `false`
/// (`RocUndefined`; scikit-learn returns NaN with a warning).
///
/// ```
/// let auc = ft_eval::roc_auc_binary(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
/// assert_eq!(auc, 0.75);
/// ```
pub fn roc_auc_binary<P: Copy + Into<f64>>(y_true: &[bool], scores: &[P]) -> Result<f64, EvalError> {
    check::non_empty("y_true", y_true.len())?;
    check::same_len("y_true", y_true.len(), "scores", scores.len())?;
    let scores = check::finite("scores", scores)?;
    binary_auc(y_true, &scores).map_err(|(positives, negatives)| EvalError::RocUndefined {
        class: 1,
        positives,
        negatives,
    })
}

/// ROC-AUC from class probabilities (row-major `[n_samples, num_classes]`).
///
/// Two classes: the binary AUC of `probs[:, 1]` (what one passes to scikit-learn for a binary problem).
/// More: the unweighted mean over classes of the one-vs-rest AUC of column `k` for "`y_true == k`"
/// (`roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=range(num_classes))`).
///
/// Errors: empty input, `num_classes < 2`, a label `>= num_classes`, `probs` not a matrix of probability
/// rows (see [`log_loss`](crate::log_loss())), a class with no sample in `y_true` or only samples of it
/// (`RocUndefined` naming the class; scikit-learn returns NaN).
pub fn roc_auc<P: Copy + Into<f64>>(y_true: &[usize], probs: &[P], num_classes: usize) -> Result<f64, EvalError> {
    check::non_empty("y_true", y_true.len())?;
    if num_classes < 2 {
        return Err(EvalError::TooFewClasses { metric: "roc_auc", need: 2, num_classes });
    }
    check::labels_in_range("y_true", y_true, num_classes)?;
    let probs = check::probabilities(probs, y_true.len(), num_classes)?;
    let one_vs_rest = |class: usize| {
        let truth: Vec<bool> = y_true.iter().map(|&t| t == class).collect();
        let column: Vec<f64> = probs.chunks_exact(num_classes).map(|row| row[class]).collect();
        binary_auc(&truth, &column).map_err(|(positives, negatives)| EvalError::RocUndefined {
            class,
            positives,
            negatives,
        })
    };
    if num_classes == 2 {
        return one_vs_rest(1);
    }
    let mut sum = 0.0;
    for class in 0..num_classes {
        sum += one_vs_rest(class)?;
    }
    Ok(sum / num_classes as f64)
}

/// The area, or `(positives, negatives)` when one of them is 0. `scores` are finite.
fn binary_auc(truth: &[bool], scores: &[f64]) -> Result<f64, (usize, usize)> {
    let positives = truth.iter().filter(|&&t| t).count();
    let negatives = truth.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err((positives, negatives));
    }
    // Descending scores; sklearn's `_binary_clf_curve`. total_cmp puts -0.0 right before 0.0, and the
    // grouping below compares with `==`, so the two are one threshold as in numpy.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    // Trapezoids between consecutive thresholds, in counts: area · 2·P·N = Σ Δfp · (tp + tp_prev).
    let (mut tp, mut fp, mut tp_prev, mut fp_prev) = (0u128, 0u128, 0u128, 0u128);
    let mut twice_area = 0u128;
    for (i, &s) in order.iter().enumerate() {
        if truth[s] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_threshold = order.get(i + 1).is_none_or(|&next| scores[next] != scores[s]);
        if last_of_threshold {
            twice_area += (fp - fp_prev) * (tp + tp_prev);
            (tp_prev, fp_prev) = (tp, fp);
        }
    }
    Ok(twice_area as f64 / (2.0 * positives as f64 * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_move_the_curve_diagonally() {
        // Scores 0.9 (+), 0.5 (+, −), 0.1 (−). Points (fp, tp): (0,0) (0,1) (1,2) (2,2);
        // trapezoids: 0 + 1·(1+2)/2 + 1·(2+2)/2 = 3.5 over P·N = 4.
        let auc = roc_auc_binary(&[true, true, false, false], &[0.9, 0.5, 0.5, 0.1]).unwrap();
        assert_eq!(auc, 3.5 / 4.0);
        assert_eq!(roc_auc_binary(&[true, false, true], &[0.3, 0.3, 0.3]).unwrap(), 0.5);
        assert_eq!(roc_auc_binary(&[true, false], &[0.0, -0.0]).unwrap(), 0.5);
        assert_eq!(roc_auc_binary(&[false, true], &[-3.0, 2.0]).unwrap(), 1.0);
        assert_eq!(roc_auc_binary(&[true, false], &[-3.0, 2.0]).unwrap(), 0.0);
    }

    #[test]
    fn two_classes_use_the_second_column() {
        let probs = [0.9, 0.1, 0.4, 0.6, 0.65, 0.35, 0.2, 0.8];
        let auc = roc_auc(&[0, 0, 1, 1], &probs, 2).unwrap();
        assert_eq!(auc, roc_auc_binary(&[false, false, true, true], &[0.1, 0.6, 0.35, 0.8]).unwrap());
        assert_eq!(auc, 0.75);
    }

    #[test]
    fn one_vs_rest_is_the_mean_over_classes() {
        // Class 0: scores (+0.8, −0.1, −0.1) → 1; class 1: (−0.1, +0.7, −0.2) → 1;
        // class 2: (−0.1, −0.2, +0.7) → 1. Then swap two rows' meaning to get 0.5 for class 0.
        let probs = [0.8, 0.1, 0.1, 0.1, 0.7, 0.2, 0.1, 0.2, 0.7];
        assert_eq!(roc_auc(&[0, 1, 2], &probs, 3).unwrap(), 1.0);
        let probs = [0.1, 0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.7, 0.2];
        // Class 0 all tied → 0.5; class 1: + 0.2 vs − 0.8, 0.7 → 0; class 2: + 0.2 vs − 0.1, 0.7 → 0.5.
        assert_eq!(roc_auc(&[0, 1, 2], &probs, 3).unwrap(), (0.5 + 0.0 + 0.5) / 3.0);
    }

    #[test]
    fn undefined_when_a_class_has_no_positive_or_no_negative() {
        assert_eq!(
            roc_auc_binary(&[true, true], &[0.1, 0.2]),
            Err(EvalError::RocUndefined { class: 1, positives: 2, negatives: 0 })
        );
        let probs = [0.5, 0.25, 0.25, 0.25, 0.5, 0.25];
        assert_eq!(roc_auc(&[0, 1], &probs, 3), Err(EvalError::RocUndefined { class: 2, positives: 0, negatives: 2 }));
        assert!(matches!(roc_auc_binary(&[true, false], &[0.1, f64::NAN]), Err(EvalError::NonFinite { index: 1, .. })));
        assert_eq!(
            roc_auc(&[0], &[1.0], 1),
            Err(EvalError::TooFewClasses { metric: "roc_auc", need: 2, num_classes: 1 })
        );
    }
}
