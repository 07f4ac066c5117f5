//! The fixed inputs the targets combine with fuzzed bytes: the tiny fixture's tokenizer files, a
//! micro BERT config small enough that a whole valid checkpoint fits in a fuzz input, and the model,
//! optimizer and batch built from it.

use ft_model::burn::tensor::{Device, Int, Tensor, TensorData};
use ft_model::{BertConfig, BertForSequenceClassification, DeviceSpec, Init};
use ft_train::{AdamWSettings, Inputs, Schedule, ScheduleKind, Stepper, Targets, TrainError, adamw};
use std::path::Path;

/// `fixtures/tiny/tokenizer.json`.
pub const TINY_TOKENIZER_JSON: &[u8] = include_bytes!("../../../fixtures/tiny/tokenizer.json");
/// `fixtures/tiny/vocab.txt`.
pub const TINY_VOCAB_TXT: &[u8] = include_bytes!("../../../fixtures/tiny/vocab.txt");
/// `fixtures/tiny/tokenizer_config.json`.
pub const TINY_TOKENIZER_CONFIG: &[u8] = include_bytes!("../../../fixtures/tiny/tokenizer_config.json");
/// `fixtures/tiny/special_tokens_map.json`.
pub const TINY_SPECIAL_TOKENS: &[u8] = include_bytes!("../../../fixtures/tiny/special_tokens_map.json");
/// `fixtures/tiny/config.json`.
pub const TINY_CONFIG_JSON: &[u8] = include_bytes!("../../../fixtures/tiny/config.json");

/// A BERT of a few hundred parameters: its `model.safetensors` is about 2 KB, its checkpoint about 10 KB,
/// so mutations of a whole valid file stay within libFuzzer's `-max_len`.
pub const MICRO_CONFIG_JSON: &str = r#"{
  "architectures": ["BertForSequenceClassification"],
  "model_type": "bert",
  "vocab_size": 12,
  "hidden_size": 4,
  "num_hidden_layers": 1,
  "num_attention_heads": 2,
  "intermediate_size": 8,
  "max_position_embeddings": 8,
  "type_vocab_size": 2,
  "hidden_dropout_prob": 0.0,
  "attention_probs_dropout_prob": 0.0,
  "pad_token_id": 0,
  "id2label": {"0": "neg", "1": "pos"},
  "label2id": {"neg": 0, "pos": 1}
}
"#;

/// [`MICRO_CONFIG_JSON`], parsed.
pub fn micro_config() -> BertConfig {
    BertConfig::from_json_str(MICRO_CONFIG_JSON, Path::new("micro/config.json")).expect("the micro config is valid")
}

/// The CPU device the targets build models on (burn's flex backend).
pub fn cpu() -> Device {
    DeviceSpec::Cpu.device().expect("ft-fuzz is built with a CPU backend")
}

/// The micro model, seeded, on `device`.
pub fn micro_model(device: &Device) -> BertForSequenceClassification {
    BertForSequenceClassification::new(&micro_config(), &mut Init::normal(7, 0.02), device)
}

/// One micro-batch `[2, 4]` for the micro model, with class targets.
pub fn micro_batch(device: &Device) -> (Inputs, Targets) {
    let ints = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [2, 4]), device);
    let inputs = Inputs {
        input_ids: ints(vec![2, 5, 7, 3, 2, 9, 3, 0]),
        token_type_ids: ints(vec![0; 8]),
        attention_mask: ints(vec![1, 1, 1, 1, 1, 1, 1, 0]),
        inputs_embeds: None,
    };
    let targets = Targets::Classes(Tensor::from_data(TensorData::new(vec![0i64, 1], [2]), device));
    (inputs, targets)
}

/// One optimizer step of `model` with `optim` on the micro batch: what a resumed run does first.
pub fn train_one_step(
    model: BertForSequenceClassification,
    optim: ft_model::burn::optim::ModuleOptimizer,
    device: &Device,
) -> Result<(BertForSequenceClassification, ft_model::burn::optim::ModuleOptimizer), TrainError> {
    let schedule = Schedule { base_lr: 1e-3, warmup_steps: 0, total_steps: 10, kind: ScheduleKind::Linear };
    let mut stepper = Stepper::new(model, optim, schedule, Some(1.0), 1)?.with_seed(1);
    let (inputs, targets) = micro_batch(device);
    stepper.micro_step(inputs, targets)?;
    stepper.optimizer_step();
    Ok(stepper.into_parts())
}

/// A fresh AdamW for `model`, with ft's decay / no-decay groups.
pub fn micro_optimizer(model: &BertForSequenceClassification) -> ft_model::burn::optim::ModuleOptimizer {
    adamw(model, &AdamWSettings::default()).expect("the default AdamW settings are valid")
}
