//! The one error type of ft-train.

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
}
