//! HuggingFace checkpoints: names, loading with a report, saving.

pub mod load;
pub mod names;
pub mod save;
