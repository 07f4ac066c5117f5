//! ft-train: the chapter's fine-tuning recipe — freeze or unfreeze, train with AdamW on the task data —
//! as an explicit burn loop that matches PyTorch + transformers step for step.
//!
//! Place in the pipeline: batches (from ft-data) → [`Stepper`] (forward, loss, backward, global-norm
//! clipping, AdamW with decay/no-decay groups, learning-rate schedule) → a trained model of any
//! [`ft_model::Head`] (`BertForSequenceClassification`, `BertForTokenClassification`). A whole run —
//! run.toml settings in, a HuggingFace model, metrics and logs out — is one call: [`execute`].
//!
//! ```
//! use ft_train::{Schedule, ScheduleKind};
//! // transformers' get_linear_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=6)
//! let s = Schedule { base_lr: 1e-3, warmup_steps: 2, total_steps: 6, kind: ScheduleKind::Linear };
//! assert_eq!(s.lr(0), 0.0);
//! assert_eq!(s.lr(2), 1e-3);
//! ```

pub mod atomic;
pub mod checkpoint;
pub mod class_weights;
pub mod clip;
mod error;
pub mod eval;
pub mod features;
pub mod freeze;
pub mod optim;
pub mod params;
pub mod run;
pub mod run_config;
pub mod run_dir;
pub mod schedule;
pub mod step;
pub mod synthetic;
pub mod trainer;

pub use error::TrainError;
pub use freeze::Freeze;
pub use ft_model::Targets;
pub use optim::{AdamWSettings, adamw};
pub use run::{RunOptions, RunSummary, execute};
pub use schedule::{Schedule, ScheduleKind};
pub use step::{Inputs, StepStats, Stepper};
pub use trainer::{EvalLog, Observer, Silent, StepLog, TrainOutcome, TrainSettings, train};
