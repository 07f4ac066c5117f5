//! Regression: mean squared and absolute error (scikit-learn), Pearson and Spearman correlation
//! (scipy's `pearsonr` / `spearmanr`, ties in ranks averaged). Inputs f32 or f64, computed in f64.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::EvalError;

/// Everything regression evaluation reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// Number of samples.
    pub num_samples: usize,
    /// Mean squared error.
    pub mse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Pearson correlation; `None` (JSON `null`) where it is undefined: fewer than 2 samples or a constant
    /// `y_true` or `y_pred` (scipy: NaN and a warning).
    pub pearson: Option<f64>,
    /// Spearman rank correlation; `None` where undefined, as `pearson`.
    pub spearman: Option<f64>,
}

impl RegressionReport {
    /// The report for targets `y_true` and predictions `y_pred`.
    ///
    /// Errors: empty input, different lengths, a NaN or infinite value. An undefined correlation is not an
    /// error here (the errors stay available from [`pearson`] and [`spearman`]): a model that predicts a
    /// constant still has an MSE worth reporting.
    pub fn compute<T: Copy + Into<f64>, U: Copy + Into<f64>>(y_true: &[T], y_pred: &[U]) -> Result<Self, EvalError> {
        let (t, p) = inputs(y_true, y_pred)?;
        let undefined_is_none = |r: Result<f64, EvalError>| match r {
            Ok(v) => Ok(Some(v)),
            Err(EvalError::ConstantInput { .. } | EvalError::TooFewSamples { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        Ok(RegressionReport {
            num_samples: t.len(),
            mse: mse(&t, &p),
            mae: mae(&t, &p),
            pearson: undefined_is_none(pearson_f64(&t, &p))?,
            spearman: undefined_is_none(spearman_f64(&t, &p))?,
        })
    }
}

/// Mean of `(y_true − y_pred)²` (scikit-learn's `mean_squared_error`).
///
/// Errors: empty input, different lengths, a non-finite value.
pub fn mean_squared_error<T: Copy + Into<f64>, U: Copy + Into<f64>>(
    y_true: &[T],
    y_pred: &[U],
) -> Result<f64, EvalError> {
    let (t, p) = inputs(y_true, y_pred)?;
    Ok(mse(&t, &p))
}

/// Mean of `|y_true − y_pred|` (scikit-learn's `mean_absolute_error`).
///
/// Errors: empty input, different lengths, a non-finite value.
pub fn mean_absolute_error<T: Copy + Into<f64>, U: Copy + Into<f64>>(
    y_true: &[T],
    y_pred: &[U],
) -> Result<f64, EvalError> {
    let (t, p) = inputs(y_true, y_pred)?;
    Ok(mae(&t, &p))
}

/// Pearson correlation coefficient, in [-1, 1], as `scipy.stats.pearsonr(y_true, y_pred).statistic`
/// (exactly ±1 for two samples, as scipy promises).
///
/// Errors: empty input, different lengths, a non-finite value, fewer than 2 samples (`TooFewSamples`), a
/// constant input (`ConstantInput`, where scipy returns NaN with a `ConstantInputWarning`).
pub fn pearson<T: Copy + Into<f64>, U: Copy + Into<f64>>(y_true: &[T], y_pred: &[U]) -> Result<f64, EvalError> {
    let (t, p) = inputs(y_true, y_pred)?;
    pearson_f64(&t, &p)
}

/// Spearman rank correlation, in [-1, 1]: the Pearson correlation of the [`ranks`] (ties get the average
/// of their ranks), as `scipy.stats.spearmanr(y_true, y_pred).statistic`.
///
/// Errors: as [`pearson`].
pub fn spearman<T: Copy + Into<f64>, U: Copy + Into<f64>>(y_true: &[T], y_pred: &[U]) -> Result<f64, EvalError> {
    let (t, p) = inputs(y_true, y_pred)?;
    spearman_f64(&t, &p)
}

/// 1-based ranks with ties given the mean of the ranks they span (`scipy.stats.rankdata(method="average")`).
/// `-0.0` and `0.0` tie. Values must not be NaN (a NaN ranks last, unlike scipy, which propagates it).
///
/// ```
/// assert_eq!(ft_eval::ranks(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
/// ```
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            out[i] = rank;
        }
        start = end;
    }
    out
}

fn inputs<T: Copy + Into<f64>, U: Copy + Into<f64>>(
    y_true: &[T],
    y_pred: &[U],
) -> Result<(Vec<f64>, Vec<f64>), EvalError> {
    check::non_empty("y_true", y_true.len())?;
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    Ok((check::finite("y_true", y_true)?, check::finite("y_pred", y_pred)?))
}

fn mse(t: &[f64], p: &[f64]) -> f64 {
    t.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / t.len() as f64
}

fn mae(t: &[f64], p: &[f64]) -> f64 {
    t.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / t.len() as f64
}

fn defined(metric: &'static str, t: &[f64], p: &[f64]) -> Result<(), EvalError> {
    if t.len() < 2 {
        return Err(EvalError::TooFewSamples { metric, need: 2, found: t.len() });
    }
    for (what, v) in [("y_true", t), ("y_pred", p)] {
        if v.iter().all(|&x| x == v[0]) {
            return Err(EvalError::ConstantInput { metric, what, value: v[0] });
        }
    }
    Ok(())
}

fn pearson_f64(t: &[f64], p: &[f64]) -> Result<f64, EvalError> {
    defined("pearson", t, p)?;
    let r = correlation(t, p);
    // scipy rounds the n = 2 case to exactly ±1.
    Ok(if t.len() == 2 { r.round() } else { r })
}

fn spearman_f64(t: &[f64], p: &[f64]) -> Result<f64, EvalError> {
    defined("spearman", t, p)?;
    Ok(correlation(&ranks(t), &ranks(p)))
}

/// scipy's `pearsonr` arithmetic: center, scale by the largest deviation (no overflow), normalise, dot,
/// clip to [-1, 1]. Inputs are non-constant, so every norm is positive.
fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let centered = |v: &[f64]| -> Vec<f64> {
        let n = v.len() as f64;
        let rough = v.iter().sum::<f64>() / n;
        // One correction pass: the mean to within an ulp even for values like 1e6 + noise.
        let mean = rough + v.iter().map(|a| a - rough).sum::<f64>() / n;
        let d: Vec<f64> = v.iter().map(|a| a - mean).collect();
        let max = d.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        let norm = max * d.iter().map(|a| (a / max) * (a / max)).sum::<f64>().sqrt();
        d.into_iter().map(|a| a / norm).collect()
    };
    let (xs, ys) = (centered(x), centered(y));
    xs.iter().zip(&ys).map(|(a, b)| a * b).sum::<f64>().clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_by_hand() {
        // Differences 1, -2, 0.5.
        let (t, p) = ([1.0, 2.0, 3.0], [0.0, 4.0, 2.5]);
        assert_eq!(mean_squared_error(&t, &p).unwrap(), (1.0 + 4.0 + 0.25) / 3.0);
        assert_eq!(mean_absolute_error(&t, &p).unwrap(), (1.0 + 2.0 + 0.5) / 3.0);
    }

    #[test]
    fn pearson_by_hand() {
        // x − x̄ = (−1, 0, 1), y − ȳ = (−2, 1, 1): r = 3 / (√2 · √6).
        let r = pearson(&[1.0, 2.0, 3.0], &[0.0, 3.0, 3.0]).unwrap();
        assert!((r - 3.0 / (2.0f64.sqrt() * 6.0f64.sqrt())).abs() < 1e-15, "{r}");
        assert_eq!(pearson(&[1.0f32, 2.0], &[5.0f32, 4.0]).unwrap(), -1.0);
        // A perfect line: 1 up to rounding (scipy answers 0.9999999999999998 here too).
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn spearman_averages_tied_ranks() {
        // Ranks of x: 1 2.5 2.5 4; of y: 1 2 3 4. Centered: (−1.5, 0, 0, 1.5) and (−1.5, −.5, .5, 1.5):
        // r = (2.25 + 2.25) / (√4.5 · √5).
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[10.0, 20.0, 30.0, 40.0]).unwrap();
        assert!((r - 4.5 / (4.5f64.sqrt() * 5.0f64.sqrt())).abs() < 1e-15, "{r}");
        assert_eq!(ranks(&[3.0, 1.0, 2.0]), vec![3.0, 1.0, 2.0]);
        assert_eq!(ranks(&[0.0, -0.0, 7.0]), vec![1.5, 1.5, 3.0]);
        assert_eq!(ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn constant_input_is_an_error_and_none_in_the_report() {
        assert_eq!(
            pearson(&[1.0, 2.0, 3.0], &[0.5, 0.5, 0.5]),
            Err(EvalError::ConstantInput { metric: "pearson", what: "y_pred", value: 0.5 })
        );
        assert_eq!(
            spearman(&[4.0, 4.0], &[1.0, 2.0]),
            Err(EvalError::ConstantInput { metric: "spearman", what: "y_true", value: 4.0 })
        );
        assert_eq!(pearson(&[1.0], &[2.0]), Err(EvalError::TooFewSamples { metric: "pearson", need: 2, found: 1 }));
        let r = RegressionReport::compute(&[1.0, 2.0, 3.0], &[2.0, 2.0, 2.0]).unwrap();
        assert_eq!(
            r,
            RegressionReport { num_samples: 3, mse: 2.0 / 3.0, mae: 2.0 / 3.0, pearson: None, spearman: None }
        );
        let r = RegressionReport::compute(&[1.0f32], &[3.0f32]).unwrap();
        assert_eq!((r.mse, r.pearson), (4.0, None));
    }

    #[test]
    fn undefined_correlations_are_null_in_json() {
        let r = RegressionReport::compute(&[1.0, 2.0], &[3.0, 3.0]).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"num_samples":2,"mse":2.5,"mae":1.5,"pearson":null,"spearman":null}"#);
        assert_eq!(serde_json::from_str::<RegressionReport>(&json).unwrap(), r);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(RegressionReport::compute::<f64, f64>(&[], &[]), Err(EvalError::Empty { what: "y_true" }));
        assert_eq!(
            mean_squared_error(&[1.0, 2.0], &[1.0]),
            Err(EvalError::LengthMismatch { a: "y_true", len_a: 2, b: "y_pred", len_b: 1 })
        );
        assert!(matches!(
            RegressionReport::compute(&[1.0, 2.0], &[f64::INFINITY, 1.0]),
            Err(EvalError::NonFinite { what: "y_pred", index: 0, .. })
        ));
    }
}
