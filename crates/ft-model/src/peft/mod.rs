//! Parameter-efficient fine-tuning: LoRA branches on the encoder's Linear layers ([`lora`]) and
//! adapter-only directories in PEFT's format ([`adapter`]); prompt tuning's virtual tokens
//! ([`prompt`]).

pub mod adapter;
pub mod lora;
pub mod prompt;
