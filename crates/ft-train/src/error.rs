//! The one error type of ft-train.

use std::path::PathBuf;

/// Everything that can go wrong configuring or running training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting is invalid; the message says which and how to fix it.
    #[error("{0}")]
    Config(String),
    /// The model refused its inputs.
    #[error(transparent)]
    Model(#[from] ft_model::ModelError),
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The loss stopped being a number.
    #[error(
        "the loss is {loss} at optimizer step {step} (micro-batch {micro}); training stopped — lower --lr, raise --warmup-ratio, or check the data{last_good}"
    )]
    NonFinite {
        /// The loss value.
        loss: f32,
        /// Optimizer step being accumulated.
        step: usize,
        /// Micro-batch index within the step.
        micro: usize,
        /// Where the last good checkpoint is, if any.
        last_good: String,
    },
    /// The output directory cannot be used as asked; the message says why and what to do.
    #[error("{0}")]
    Output(String),
    /// SIGINT or SIGTERM arrived; the run stopped after a step and wrote a checkpoint.
    #[error("interrupted by {signal_name} after optimizer step {step}; {checkpoint}")]
    Interrupted {
        /// The signal number (2 = SIGINT, 15 = SIGTERM).
        signal: i32,
        /// Its name.
        signal_name: String,
        /// The last optimizer step done.
        step: usize,
        /// What was saved, and how to resume.
        checkpoint: String,
    },
    /// A model directory could not be read.
    #[error("loading model from {}", dir.display())]
    Load {
        /// The model directory.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<ft_model::ModelError>,
    },
    /// The trained model could not be saved.
    #[error("saving the model to {}", dir.display())]
    Save {
        /// The output directory.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<ft_model::ModelError>,
    },
    /// The data (or a tokenizer) could not be read; `context` says which.
    #[error("{context}")]
    Data {
        /// What was being read (`reading the data`, `fetching dataset conll2003`, …).
        context: String,
        /// What went wrong.
        #[source]
        source: Box<ft_data::DataError>,
    },
    /// Running the model for an evaluation, or opening the model, failed.
    #[error(transparent)]
    Infer(Box<ft_infer::InferError>),
}

impl From<ft_infer::InferError> for TrainError {
    fn from(e: ft_infer::InferError) -> Self {
        Self::Infer(Box::new(e))
    }
}
