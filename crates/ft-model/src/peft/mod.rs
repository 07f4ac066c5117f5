//! Parameter-efficient fine-tuning: LoRA branches on the encoder's Linear layers ([`lora`]) and
//! adapter-only directories in PEFT's format ([`adapter`]).

pub mod adapter;
pub mod lora;
