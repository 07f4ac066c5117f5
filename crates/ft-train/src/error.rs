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
}
