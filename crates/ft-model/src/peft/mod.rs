//! Parameter-efficient fine-tuning: LoRA branches on the encoder's Linear layers ([`lora`]) and
//! adapter-only directories in PEFT's format ([`adapter`]); prompt tuning's virtual tokens
//! ([`prompt`]).

pub mod adapter;
pub mod bottleneck;
pub mod lora;
pub mod prefix;
pub mod prompt;

use serde::{Deserialize, Serialize};

/// The parameter-efficient method of a run (`--peft`), as `run.toml`'s `[training.peft]` table with
/// its `method` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Peft {
    /// LoRA branches on Linear layers.
    Lora(lora::LoraSettings),
    /// Prompt tuning's virtual tokens.
    Prompt(prompt::PromptSettings),
    /// Bottleneck adapters in the output blocks.
    Adapters(bottleneck::BottleneckSettings),
    /// Key/value prefixes in every layer.
    Prefix(prefix::PrefixSettings),
}

impl Peft {
    /// `lora` or `prompt`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Lora(_) => "lora",
            Self::Prompt(_) => "prompt",
            Self::Adapters(_) => "adapters",
            Self::Prefix(_) => "prefix",
        }
    }
}
