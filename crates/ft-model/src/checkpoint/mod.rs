//! HuggingFace checkpoints: names, the safetensors header, the load plan, loading with a report, saving.

pub mod header;
pub mod load;
pub mod names;
pub mod plan;
pub mod save;
