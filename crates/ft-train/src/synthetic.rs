//! Synthetic workloads for benchmarks: a classifier of a named shape with fresh (seeded) weights and
//! random batches, stepped exactly as [`crate::train`] steps real data. The criterion benches
//! (`benches/model.rs`) and `ft bench-step` (driven by `cargo xtask bench`, side by side with PyTorch)
//! both run these, so both measure the product's own code path.

use crate::optim::{AdamWSettings, adamw};
use crate::schedule::{Schedule, ScheduleKind};
use crate::step::{Inputs, Stepper};
use crate::{Freeze, TrainError};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ft_model::{BertConfig, BertForSequenceClassification, Init, Targets};
use std::fmt;
use std::str::FromStr;

/// A model shape benchmarks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelShape {
    /// The tiny test fixture: 2 layers, hidden 32, 4 heads, intermediate 64, vocab 141, 64 positions.
    Tiny,
    /// all-MiniLM-L6-v2's shape: 6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522.
    MiniLm,
}

impl FromStr for ModelShape {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "tiny" => Ok(Self::Tiny),
            "minilm" | "minilm-l6" => Ok(Self::MiniLm),
            other => Err(TrainError::Config(format!("model shape \"{other}\": use tiny or minilm"))),
        }
    }
}

impl fmt::Display for ModelShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tiny => "tiny",
            Self::MiniLm => "minilm",
        })
    }
}

impl ModelShape {
    /// The configuration of this shape (two labels, dropout 0.1 as in both checkpoints).
    pub fn config(self) -> BertConfig {
        let (vocab, hidden, layers, heads, inter, positions) = match self {
            Self::Tiny => (141, 32, 2, 4, 64, 64),
            Self::MiniLm => (30522, 384, 6, 12, 1536, 512),
        };
        let json = serde_json::json!({
            "model_type": "bert",
            "vocab_size": vocab,
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": inter,
            "max_position_embeddings": positions,
            "num_labels": 2,
        });
        serde_json::from_value(json).expect("the built-in shapes are valid configs")
    }
}

/// What one iteration of a workload does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward, backward and AdamW over every parameter (train mode, dropout on).
    Full,
    /// The encoder frozen (no gradients, no optimizer state), the head trained: forward through the
    /// whole model in train mode, backward and AdamW over the classifier only.
    FrozenEncoder,
    /// Inference: forward in eval mode, logits read back to the host.
    Inference,
    /// `--peft lora` with its defaults (r 8, alpha 16, dropout 0.1 on `query,value`): forward through
    /// the frozen encoder and its branches in train mode, backward, AdamW over the branches and the
    /// head, as [`crate::trainer::prepare`] sets a LoRA run up.
    Lora,
}

impl FromStr for Mode {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "full" => Ok(Self::Full),
            "frozen" | "frozen-encoder" => Ok(Self::FrozenEncoder),
            "inference" => Ok(Self::Inference),
            "lora" => Ok(Self::Lora),
            other => Err(TrainError::Config(format!("mode \"{other}\": use full, frozen, lora or inference"))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::FrozenEncoder => "frozen",
            Self::Inference => "inference",
            Self::Lora => "lora",
        })
    }
}

/// Floating-point operations of one iteration (multiply-add = 2), counting the matrix products only:
/// the dense layers, the attention scores and the weighted sum; backward counts twice the forward of
/// the parts it reaches (input and weight gradients); under LoRA the frozen weights get no gradient, so
/// backward is the input gradients alone (one forward's worth; the rank-8 branches are not counted).
/// The same formula is used for PyTorch's rows.
pub fn flops(config: &BertConfig, mode: Mode, batch: usize, seq: usize) -> f64 {
    let (b, t, h, i) = (batch as f64, seq as f64, config.hidden_size as f64, config.intermediate_size as f64);
    let tokens = b * t;
    // Q, K, V, attention output (4·h·h) and the two feed-forward matrices (2·h·i), per token.
    let dense = 2.0 * tokens * (4.0 * h * h + 2.0 * h * i);
    // QKᵀ and PV: 2 · (B · T · T · h) multiply-adds.
    let attention = 2.0 * 2.0 * b * t * t * h;
    let layer = dense + attention;
    let pooler = 2.0 * b * h * h;
    let classifier = 2.0 * b * h * config.labels_count() as f64;
    let forward = config.num_hidden_layers as f64 * layer + pooler + classifier;
    match mode {
        Mode::Inference => forward,
        Mode::FrozenEncoder => forward + 2.0 * classifier,
        Mode::Full => 3.0 * forward,
        Mode::Lora => 2.0 * forward + 2.0 * classifier,
    }
}

/// Random `[batch, seq]` inputs (no padding) and labels, reproducible from `seed`.
pub fn random_batch(config: &BertConfig, batch: usize, seq: usize, seed: u64, device: &Device) -> (Inputs, Targets) {
    let mut state = seed ^ 0x5DEE_CE66_D1CE_5EED;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    // [CLS] … [SEP] from a BERT vocabulary's usual special ids when it has them.
    let vocab = config.vocab_size as u64;
    let ids: Vec<i64> = (0..batch * seq).map(|_| (next() % vocab.max(1)) as i64).collect();
    let labels: Vec<i64> = (0..batch).map(|_| (next() % config.labels_count() as u64) as i64).collect();
    let shape = [batch, seq];
    let inputs = Inputs {
        input_ids: Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device),
        token_type_ids: Tensor::<2, Int>::zeros(shape, device),
        attention_mask: Tensor::<2, Int>::ones(shape, device),
        inputs_embeds: None,
    };
    let targets = Targets::Classes(Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), device));
    (inputs, targets)
}

/// A model, its optimizer and one batch, ready to be iterated.
pub struct Workload {
    mode: Mode,
    inputs: Inputs,
    targets: Targets,
    stepper: Option<Stepper>,
    model: Option<BertForSequenceClassification>,
}

impl Workload {
    /// Builds the workload on `device` (a plain device; training modes add autodiff themselves).
    pub fn new(shape: ModelShape, mode: Mode, batch: usize, seq: usize, device: &Device) -> Result<Self, TrainError> {
        let config = shape.config();
        if seq > config.max_position_embeddings {
            return Err(TrainError::Config(format!(
                "sequence length {seq} exceeds the {shape} shape's {} positions",
                config.max_position_embeddings
            )));
        }
        let mut init = Init::normal(42, config.initializer_range);
        match mode {
            Mode::Inference => {
                let model = BertForSequenceClassification::new(&config, &mut init, device).valid();
                let (inputs, targets) = random_batch(&config, batch, seq, 7, device);
                Ok(Self { mode, inputs, targets, stepper: None, model: Some(model) })
            }
            Mode::Full | Mode::FrozenEncoder | Mode::Lora => {
                let ad = device.clone().autodiff();
                let model = BertForSequenceClassification::new(&config, &mut init, &ad);
                let (model, lr) = match mode {
                    Mode::Lora => {
                        let settings = crate::TrainSettings {
                            peft: Some(ft_model::Peft::Lora(ft_model::LoraSettings::default())),
                            ..Default::default()
                        };
                        (crate::trainer::prepare(model, &settings, &ad)?.0, 5e-4)
                    }
                    Mode::Full => (Freeze::None.apply(model)?, 5e-5),
                    _ => (Freeze::Encoder.apply(model)?, 5e-5),
                };
                let optim = adamw(&model, &AdamWSettings::default())?;
                // A constant schedule: every iteration is a full optimizer step at the same lr.
                let schedule =
                    Schedule { base_lr: lr, warmup_steps: 0, total_steps: usize::MAX, kind: ScheduleKind::Constant };
                let stepper = Stepper::new(model, optim, schedule, Some(1.0), 1)?.with_seed(42);
                let (inputs, targets) = random_batch(&config, batch, seq, 7, &ad);
                Ok(Self { mode, inputs, targets, stepper: Some(stepper), model: None })
            }
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// One iteration: an optimizer step (training modes) or a forward pass with the logits read back.
    /// Returns the loss (training) or the sum of the logits (inference), so the work cannot be skipped.
    pub fn run_once(&mut self) -> Result<f32, TrainError> {
        if let Some(stepper) = self.stepper.as_mut() {
            let loss = stepper.micro_step(self.inputs.clone(), self.targets.clone())?;
            stepper.optimizer_step();
            return Ok(loss);
        }
        let model = self.model.as_ref().expect("an inference workload holds its model");
        let inputs = self.inputs.clone();
        let logits = model.forward(inputs.input_ids, Some(inputs.token_type_ids), Some(inputs.attention_mask))?.logits;
        let values = logits
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Config(format!("reading logits: {e:?}")))?;
        Ok(values.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_validate() {
        for shape in [ModelShape::Tiny, ModelShape::MiniLm] {
            let config = shape.config();
            config.validate().unwrap();
            assert_eq!(shape.to_string().parse::<ModelShape>().unwrap(), shape);
        }
        let minilm = ModelShape::MiniLm.config();
        assert_eq!((minilm.hidden_size, minilm.num_hidden_layers, minilm.intermediate_size), (384, 6, 1536));
        assert!("huge".parse::<ModelShape>().is_err());
        assert!("sideways".parse::<Mode>().is_err());
    }

    #[test]
    fn flops_by_hand() {
        // Tiny, batch 1, seq 2: per layer dense 2·2·(4·32·32 + 2·32·64) = 32768, attention 4·1·2·2·32 = 512.
        let c = ModelShape::Tiny.config();
        let forward = 2.0 * (32768.0 + 512.0) + 2.0 * 32.0 * 32.0 + 2.0 * 32.0 * 2.0;
        assert_eq!(flops(&c, Mode::Inference, 1, 2), forward);
        assert_eq!(flops(&c, Mode::Full, 1, 2), 3.0 * forward);
    }

    #[test]
    fn every_mode_runs_and_training_lowers_the_loss_on_its_batch() {
        let device = ft_model::DeviceSpec::Cpu.device().unwrap();
        for mode in [Mode::Full, Mode::FrozenEncoder, Mode::Lora, Mode::Inference] {
            let mut w = Workload::new(ModelShape::Tiny, mode, 4, 8, &device).unwrap();
            let first = w.run_once().unwrap();
            assert!(first.is_finite());
            if matches!(mode, Mode::Full | Mode::Lora) {
                let later = (0..20).map(|_| w.run_once().unwrap()).last().unwrap();
                assert!(later < first, "{mode}: {first} → {later}");
            }
        }
        assert!(Workload::new(ModelShape::Tiny, Mode::Full, 1, 65, &device).is_err());
    }
}
