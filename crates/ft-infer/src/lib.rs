//! ft-infer: a model's outputs over encoded examples, and predictors for saved models.
//!
//! Place in the pipeline: encoded examples (ft-data) → any [`ft_model::Head`] in eval mode, in
//! length-sorted batches → host outputs in file order ([`outputs`]: rows of logits, or a prediction
//! per labelled token) → softmax / arg-max → predictions; extractive QA windows a context and picks
//! the answer over its windows ([`QaPredictor`]); [`Explainer`] attributes a classifier's score to the
//! tokens of its text (`ft explain`). Training's evaluations (ft-train), `ft eval`
//! and `ft predict` all run models through here; the metrics themselves are ft-eval's.
//!
//! ```
//! // Softmax of two rows of logits, and their arg-max (the first on ties, as torch.argmax).
//! let logits = [0.0f32, 0.0, 2.0, 1.0];
//! let p = ft_infer::softmax_rows(&logits, 2);
//! assert!((p[0] - 0.5).abs() < 1e-12 && p[2] > p[3]);
//! assert_eq!(ft_infer::argmax_rows(&logits, 2), vec![0, 0]);
//! ```

#![warn(missing_docs)]

mod error;
pub mod explain;
pub mod model_dir;
mod outputs;
pub mod qa;
mod sequence;
mod thresholds;
mod tokens;

pub use error::InferError;
pub use explain::{
    Explainer, Explanation, Method, Objective, QaExplainer, Rule, TokenExplainer, entity_score, integrated_gradients,
    span_score,
};
pub use outputs::{
    Outputs, SpanOutputs, SplitOutputs, TokenOutputs, argmax_rows, gold_classes, logits, outputs, padded_inputs,
    softmax_rows, to_host,
};
pub use qa::QaPredictor;
pub use sequence::{Prediction, Predictor};
pub use thresholds::{Thresholds, sigmoid};
pub use tokens::TokenPredictor;
