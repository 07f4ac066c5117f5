//! ft-eval: evaluation metrics, plain slices in, numbers out.
//!
//! The last step of the pipeline: after a model's logits became predictions (`argmax`, softmax
//! probabilities, sigmoid thresholds, regression outputs, token tags), ft-eval scores them against the
//! labels. It knows nothing of tensors, burn or the other ft crates; callers pass `&[usize]`, `&[f32]` /
//! `&[f64]` (row-major for matrices), `&[bool]` or sentences of string tags.
//!
//! Every number matches a reference implementation, checked against committed goldens
//! (`fixtures/metrics_golden.json`, written by `xtask/py/generate_fixtures.py metrics-goldens`):
//!
//! - single-label classification ([`ClassificationReport`], [`log_loss()`], [`roc_auc()`],
//!   [`roc_auc_binary()`]): scikit-learn 1.9,
//! - multi-label ([`MultilabelReport`]): scikit-learn,
//! - regression ([`RegressionReport`], [`pearson`], [`spearman`]): scikit-learn and scipy,
//! - token tagging ([`TaggingReport`], [`entities`]): seqeval's default mode,
//! - extractive question answering ([`SquadScores`], [`normalize_answer`]): SQuAD v1.1's official
//!   evaluation script (`fixtures/squad_golden.json`); answers from start/end logits
//!   ([`best_answers`]): transformers' `utils_qa.py` (`fixtures/qa_postprocess_golden.json`).
//!
//! Empty or malformed input is an [`EvalError`], never NaN. A 0/0 in precision, recall or F1 is 0
//! (scikit-learn's `zero_division=0`).
//!
//! ```
//! use ft_eval::{ClassificationReport, log_loss};
//!
//! let y_true = [0, 0, 1, 1, 2];
//! let y_pred = [0, 1, 1, 1, 0];
//! let report = ClassificationReport::compute(&y_true, &y_pred, 3)?;
//! assert_eq!(report.accuracy, 3.0 / 5.0);
//! assert_eq!(report.confusion, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
//! // Class 2 is never predicted: F1 0, and it still counts in the macro average.
//! assert_eq!(report.per_class[2].f1, 0.0);
//! assert_eq!(report.macro_avg.f1, (2.0 * 1.0 / (2.0 + 2.0) + 2.0 * 2.0 / (2.0 + 3.0) + 0.0) / 3.0);
//!
//! // Probabilities, row-major [n_samples, num_classes]; each row must sum to 1, so logits are refused.
//! assert!(log_loss(&[0, 1], &[2.0f32, -1.0, 0.0, 0.1, 3.0, -2.0], 3).is_err());
//! // The true class gets 0.5 in both rows.
//! let loss = log_loss(&[0, 1], &[0.5f32, 0.5, 0.0, 0.25, 0.5, 0.25], 3)?;
//! assert!((loss - 2.0f64.ln()).abs() < 1e-15);
//! # Ok::<(), ft_eval::EvalError>(())
//! ```

#![warn(missing_docs)]

pub mod answers;
mod check;
pub mod classification;
pub mod entities;
pub mod error;
mod log_loss;
pub mod multilabel;
pub mod regression;
mod roc_auc;
pub mod squad;
pub mod tagging;

pub use answers::{Answer, AnswerWindow, best_answers};
pub use classification::{Averages, ClassScores, ClassificationReport, accuracy, confusion_matrix};
pub use entities::{Aggregation, EntitySpan, ScoredToken, entity_spans};
pub use error::EvalError;
pub use log_loss::log_loss;
pub use multilabel::{MultilabelReport, threshold_grid, tune_thresholds};
pub use regression::{RegressionReport, mean_absolute_error, mean_squared_error, pearson, ranks, spearman};
pub use roc_auc::{roc_auc, roc_auc_binary};
pub use squad::{SquadScores, normalize_answer};
pub use tagging::{Entity, EntityConfusion, TaggingReport, entities};
