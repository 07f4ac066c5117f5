//! ft-model: a BERT encoder in burn that computes what transformers computes, the task heads on top of
//! it, and HuggingFace checkpoint loading and saving.
//!
//! Place in the pipeline: `ft-data` turns text into `[B, T]` id tensors; this crate turns them into
//! hidden states and logits; `ft-train` trains it; `ft-cli` drives it.
//!
//! Modules mirror transformers' classes and the checkpoint's names (`embeddings.word_embeddings`,
//! `encoder.layer.{i}.attention.self.query`, `pooler.dense`, `classifier`); the few places where Rust
//! forces another name are in one table, [`checkpoint::names::REMAP`]. The other encoder families
//! (RoBERTa, XLM-R, DistilBERT, ELECTRA, DeBERTa-v2/v3, ModernBERT) are the same module tree: their
//! names, keys and heads are mapped in [`family`], and the maths they add in
//! [`bert::disentangled`] (DeBERTa) and [`bert::modern`] (ModernBERT).
//!
//! ```
//! use burn::tensor::{Int, Tensor, TensorData};
//! use ft_model::{BertConfig, BertForSequenceClassification, DeviceSpec, Init};
//!
//! let config: BertConfig = serde_json::from_str(
//!     r#"{"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 1,
//!         "num_attention_heads": 2, "intermediate_size": 32, "num_labels": 3}"#,
//! )?;
//! let device = DeviceSpec::Cpu.device()?;
//! let model = BertForSequenceClassification::new(&config, &mut Init::normal(0, 0.02), &device);
//! let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![2i64, 7, 9, 3], [1, 4]), &device);
//! let out = model.forward(ids, None, None)?;
//! assert_eq!(out.logits.dims(), [1, 3]); // y = W·h + b on the pooled [CLS] state
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bert;
pub mod checkpoint;
mod config;
mod device;
mod error;
pub mod family;
pub mod heads;
mod init;
pub mod peft;

pub use bert::model::{BertModel, BertOutputs};
pub use checkpoint::header::{SafetensorsHeader, parse_header};
pub use checkpoint::load::{LoadOptions, LoadReport, PretrainedModel, load_pretrained};
pub use checkpoint::names::Part;
pub use checkpoint::plan::{check_safetensors, check_safetensors_header};
pub use checkpoint::save::{head_config, save_pretrained};
pub use config::{BertConfig, HiddenAct, MAX_CONFIG_BYTES, ProblemType};
pub use device::{Adapter, DeviceSpec, compiled_backends, wgpu_adapters};
pub use error::ModelError;
pub use family::Family;
pub use heads::pooling::Pooling;
pub use heads::question_answering::BertForQuestionAnswering;
pub use heads::sequence_classification::{BertForSequenceClassification, SequenceClassifierOutput};
pub use heads::task::{Head, IGNORE_INDEX, ModelInputs, PooledHead, Predictions, Targets, Task};
pub use heads::token_classification::BertForTokenClassification;
pub use init::Init;
pub use peft::Peft;
pub use peft::adapter::{AdapterConfig, AdapterInfo, AdapterKind, load_adapter, load_any_adapter, save_adapter};
pub use peft::lora::LoraSettings;
pub use peft::prompt::{PromptInit, PromptSettings};

/// The tensor framework, re-exported so that dependents use the exact same burn.
pub use burn;
