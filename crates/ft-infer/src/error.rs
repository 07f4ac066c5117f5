//! The one error type of ft-infer.

use std::path::PathBuf;

/// Everything that can go wrong loading a model for inference or running it.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The model name resolves to no directory (or the packaged model could not be fetched).
    #[error("resolving model `{spec}`")]
    Resolve {
        /// What was asked for (`--model`).
        spec: String,
        /// Why it failed.
        #[source]
        source: Box<ft_assets::AssetError>,
    },
    /// The checkpoint could not be loaded, or the model refused its inputs.
    #[error("loading model from {}", dir.display())]
    Load {
        /// The model directory.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<ft_model::ModelError>,
    },
    /// The model refused its inputs while running.
    #[error(transparent)]
    Model(#[from] ft_model::ModelError),
    /// The tokenizer files could not be read, or the texts not encoded.
    #[error(transparent)]
    Data(Box<ft_data::DataError>),
    /// The tokenizer of a model directory could not be read.
    #[error("loading the tokenizer of {}", dir.display())]
    Tokenizer {
        /// The model directory.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<ft_data::DataError>,
    },
    /// The model is not one for this task, or was never fine-tuned; the message says what to do.
    #[error("{0}")]
    Task(String),
    /// A setting does not fit the model (`--max-len`, a tokenizer from another model).
    #[error("{0}")]
    Config(String),
    /// The model produced a NaN or an infinity.
    #[error(
        "the model gave a non-finite score ({value}) for text {text:?}; its weights are probably corrupt (NaN/inf) — retrain or re-export it"
    )]
    NonFinite {
        /// The score.
        value: f32,
        /// The input it was computed for.
        text: String,
    },
    /// A tensor could not be read back to the host.
    #[error("{0}")]
    Tensor(String),
    /// Entity grouping refused the token scores.
    #[error(transparent)]
    Entities(#[from] ft_eval::EvalError),
}

impl From<ft_data::DataError> for InferError {
    fn from(e: ft_data::DataError) -> Self {
        Self::Data(Box::new(e))
    }
}
