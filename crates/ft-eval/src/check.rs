//! Input checks shared by the metrics: non-empty, equal lengths, labels in range, finite values,
//! probability rows.

use crate::error::EvalError;

/// `len > 0`.
pub(crate) fn non_empty(what: &'static str, len: usize) -> Result<(), EvalError> {
    if len == 0 { Err(EvalError::Empty { what }) } else { Ok(()) }
}

/// `len_a == len_b`.
pub(crate) fn same_len(a: &'static str, len_a: usize, b: &'static str, len_b: usize) -> Result<(), EvalError> {
    if len_a == len_b { Ok(()) } else { Err(EvalError::LengthMismatch { a, len_a, b, len_b }) }
}

/// `num > 0`.
pub(crate) fn some_classes(what: &'static str, num: usize) -> Result<(), EvalError> {
    if num == 0 { Err(EvalError::NoClasses { what }) } else { Ok(()) }
}

/// Every label is below `num_classes`.
pub(crate) fn labels_in_range(what: &'static str, labels: &[usize], num_classes: usize) -> Result<(), EvalError> {
    match labels.iter().position(|&l| l >= num_classes) {
        Some(index) => Err(EvalError::LabelOutOfRange { what, index, label: labels[index], num_classes }),
        None => Ok(()),
    }
}

/// `rows × cols` values in a flat row-major matrix.
pub(crate) fn shape(what: &'static str, len: usize, rows: usize, cols: usize) -> Result<(), EvalError> {
    let expected = rows * cols;
    if len == expected { Ok(()) } else { Err(EvalError::ShapeMismatch { what, len, rows, cols, expected }) }
}

/// Widens to f64 (lossless from f32) and rejects NaN and infinities.
pub(crate) fn finite<P: Copy + Into<f64>>(what: &'static str, values: &[P]) -> Result<Vec<f64>, EvalError> {
    let out: Vec<f64> = values.iter().map(|&v| v.into()).collect();
    match out.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(EvalError::NonFinite { what, index, value: out[index] }),
        None => Ok(out),
    }
}

/// A row-major `[rows, cols]` matrix of probabilities: finite, within [0, 1], each row summing to 1 within
/// numpy's `allclose` tolerance (`|sum - 1| <= 1e-8 + 1e-5 * |sum|`, what scikit-learn's multiclass ROC-AUC
/// demands). An f32 softmax row of a few hundred classes is well inside it; logits are not.
pub(crate) fn probabilities<P: Copy + Into<f64>>(probs: &[P], rows: usize, cols: usize) -> Result<Vec<f64>, EvalError> {
    shape("probs", probs.len(), rows, cols)?;
    let probs = finite("probs", probs)?;
    for (row, values) in probs.chunks_exact(cols).enumerate() {
        if let Some(col) = values.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(EvalError::NotAProbability { row, col, value: values[col] });
        }
        let sum: f64 = values.iter().sum();
        if (1.0 - sum).abs() > 1e-8 + 1e-5 * sum.abs() {
            return Err(EvalError::RowSumNotOne { row, sum });
        }
    }
    Ok(probs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_checked_value_by_value_and_row_by_row() {
        assert!(probabilities(&[0.25f32, 0.75, 1.0, 0.0], 2, 2).is_ok());
        assert_eq!(
            probabilities(&[0.5, 0.5, 1.5, -0.5], 2, 2),
            Err(EvalError::NotAProbability { row: 1, col: 0, value: 1.5 })
        );
        assert_eq!(probabilities(&[0.5, 0.25], 1, 2), Err(EvalError::RowSumNotOne { row: 0, sum: 0.75 }));
        // NaN != NaN, so match instead of comparing.
        assert!(matches!(probabilities(&[0.5, f64::NAN], 1, 2), Err(EvalError::NonFinite { index: 1, .. })));
        assert!(matches!(probabilities(&[0.5, 0.5, 0.5], 2, 2), Err(EvalError::ShapeMismatch { expected: 4, .. })));
        // 1 - 1e-6 is inside numpy's allclose tolerance, 1 - 1e-4 is not.
        assert!(probabilities(&[0.5, 0.5 - 1e-6], 1, 2).is_ok());
        assert!(probabilities(&[0.5, 0.5 - 1e-4], 1, 2).is_err());
    }

    #[test]
    fn labels_out_of_range_name_the_first_offender() {
        assert_eq!(
            labels_in_range("y_pred", &[0, 2, 3, 7], 3),
            Err(EvalError::LabelOutOfRange { what: "y_pred", index: 2, label: 3, num_classes: 3 })
        );
    }
}
