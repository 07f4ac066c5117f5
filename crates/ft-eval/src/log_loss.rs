//! Log-loss (cross-entropy) of predicted class probabilities, as scikit-learn 1.9's `log_loss`.

use crate::check;
use crate::error::EvalError;

/// Mean negative log-likelihood of the true class: `−(1/n) Σ ln clip(probs[i][y_true[i]], ε, 1 − ε)`.
///
/// `probs` is row-major `[n_samples, num_classes]` (f32 or f64; computed in f64), each row a probability
/// distribution. As scikit-learn 1.9 on a float64 array, values are clipped to `[ε, 1 − ε]` with
/// `ε = f64::EPSILON` (2.2e-16), so a true class given probability 0 costs `−ln ε ≈ 36.04`, not infinity.
/// (scikit-learn clips at the input dtype's epsilon: f32 input there would clip at 1.2e-7; here it is
/// widened first.) Rows are not renormalised (scikit-learn 1.9 no longer does either).
///
/// Errors: empty input, `num_classes < 2` (scikit-learn: "only defined for two or more labels"), a label
/// `>= num_classes`, `probs` not `n × num_classes`, a value outside [0, 1] or not finite, a row whose sum
/// is off 1 by more than numpy's `allclose` tolerance (scikit-learn only warns there; we refuse, since
/// such rows are logits or unnormalised scores).
///
/// ```
/// // Two samples: the true class gets 0.8 and 0.5.
/// let loss = ft_eval::log_loss(&[0, 1], &[0.8, 0.2, 0.5, 0.5], 2).unwrap();
/// assert!((loss - (-(0.8f64.ln() + 0.5f64.ln()) / 2.0)).abs() < 1e-15);
/// ```
pub fn log_loss<P: Copy + Into<f64>>(y_true: &[usize], probs: &[P], num_classes: usize) -> Result<f64, EvalError> {
    check::non_empty("y_true", y_true.len())?;
    if num_classes < 2 {
        return Err(EvalError::TooFewClasses { metric: "log_loss", need: 2, num_classes });
    }
    check::labels_in_range("y_true", y_true, num_classes)?;
    let probs = check::probabilities(probs, y_true.len(), num_classes)?;
    let eps = f64::EPSILON;
    let total: f64 =
        y_true.iter().enumerate().map(|(i, &t)| -probs[i * num_classes + t].clamp(eps, 1.0 - eps).ln()).sum();
    Ok(total / y_true.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_minus_ln_of_the_true_class() {
        let probs = [0.7, 0.2, 0.1, 0.25, 0.5, 0.25, 0.0, 0.0, 1.0];
        let got = log_loss(&[0, 1, 2], &probs, 3).unwrap();
        let want = -(0.7f64.ln() + 0.5f64.ln() + (1.0 - f64::EPSILON).ln()) / 3.0;
        assert!((got - want).abs() < 1e-15, "{got} {want}");
    }

    #[test]
    fn probability_zero_is_clipped_to_epsilon() {
        let got = log_loss(&[0, 1], &[0.0, 1.0, 1.0, 0.0], 2).unwrap();
        assert_eq!(got, -f64::EPSILON.ln());
        assert!((got - 36.04365338911715).abs() < 1e-12);
    }

    #[test]
    fn f32_probabilities_are_widened() {
        let got = log_loss(&[1], &[0.25f32, 0.75f32], 2).unwrap();
        assert_eq!(got, -(0.75f64.ln()));
    }

    #[test]
    fn refuses_what_scikit_learn_refuses_or_warns_about() {
        assert_eq!(
            log_loss(&[0], &[1.0], 1),
            Err(EvalError::TooFewClasses { metric: "log_loss", need: 2, num_classes: 1 })
        );
        assert_eq!(log_loss::<f64>(&[], &[], 2), Err(EvalError::Empty { what: "y_true" }));
        assert!(matches!(log_loss(&[0, 1], &[0.5, 0.5], 2), Err(EvalError::ShapeMismatch { rows: 2, cols: 2, .. })));
        assert!(matches!(log_loss(&[0], &[2.0, -1.0], 2), Err(EvalError::NotAProbability { row: 0, col: 0, .. })));
        assert!(matches!(log_loss(&[0], &[0.3, 0.3], 2), Err(EvalError::RowSumNotOne { row: 0, .. })));
        assert!(matches!(log_loss(&[2], &[0.5, 0.5], 2), Err(EvalError::LabelOutOfRange { label: 2, .. })));
    }
}
