//! One transformer block and the stack of them (transformers' `BertIntermediate`, `BertOutput`,
//! `BertLayer`, `BertEncoder`): post-LayerNorm residual blocks.

use super::attention::BertAttention;
use crate::init::Init;
use crate::peft::bottleneck::Bottleneck;
use crate::peft::lora::{LoraBranch, forward_with};
use crate::{BertConfig, HiddenAct};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::activation::{gelu, gelu_approximate, relu};
use burn::tensor::{Device, Tensor};

/// `intermediate`: dense `H → I` and the activation.
#[derive(Module, Debug)]
pub struct BertIntermediate {
    /// `intermediate.dense`.
    pub dense: Linear,
    /// LoRA branch of `dense`.
    pub dense_lora: Option<LoraBranch>,
    /// `hidden_act` (a setting, not a parameter).
    #[module(skip)]
    pub activation: HiddenAct,
}

/// Whether burn's own `gelu` is safe here: its backward is exact (the erf derivative) on flex, which
/// overrides `gelu_backward`, but every other backend (cubecl's wgpu, ndarray) inherits burn-backend
/// 0.22.1's default — the derivative of the *tanh approximation* — so training there would follow
/// gradients ≈ 3e-4 off (measured against PyTorch on lavapipe). Without autodiff the backward never
/// runs, and the fused forward is exact everywhere.
fn exact_gelu_backward<const D: usize>(x: &Tensor<D>) -> bool {
    use burn::backend::DispatchDevice;
    let device = x.device();
    match device.as_dispatch() {
        DispatchDevice::Autodiff(inner) => {
            #[cfg(feature = "flex")]
            if matches!(inner.clone().inner(), DispatchDevice::Flex(_)) {
                return true;
            }
            let _ = inner;
            false
        }
        _ => true,
    }
}

/// `act(x)`, exactly as transformers' `ACT2FN[act]` (the erf GELU with an exact backward everywhere).
pub(crate) fn activate<const D: usize>(act: HiddenAct, x: Tensor<D>) -> Tensor<D> {
    match act {
        HiddenAct::Gelu if exact_gelu_backward(&x) => gelu(x),
        // x · Φ(x) = x · ½ (1 + erf(x / √2)), differentiated by autodiff through erf (exact).
        HiddenAct::Gelu => x.clone() * x.div_scalar(std::f64::consts::SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5),
        HiddenAct::GeluTanh => gelu_approximate(x),
        HiddenAct::Relu => relu(x),
        HiddenAct::Tanh => x.tanh(),
    }
}

impl BertIntermediate {
    /// `[B, T, H]` → `[B, T, I]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        activate(self.activation, forward_with(&self.dense, &self.dense_lora, hidden))
    }
}

/// `output`: dense `I → H`, dropout, residual, LayerNorm.
#[derive(Module, Debug)]
pub struct BertOutput {
    /// `output.dense`.
    pub dense: Linear,
    /// LoRA branch of `dense`.
    pub dense_lora: Option<LoraBranch>,
    /// A bottleneck adapter after the dense (Houlsby and Pfeiffer; see [`crate::peft::bottleneck`]).
    pub adapter: Option<Bottleneck>,
    /// `output.LayerNorm`.
    pub layer_norm: LayerNorm,
    /// `hidden_dropout_prob`.
    pub dropout: Dropout,
}

impl BertOutput {
    /// `LayerNorm(dropout(dense(hidden)) + input)`: `[B, T, I]`, `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, hidden: Tensor<3>, input: Tensor<3>) -> Tensor<3> {
        let out = self.dropout.forward(forward_with(&self.dense, &self.dense_lora, hidden));
        self.layer_norm.forward(crate::peft::bottleneck::forward_with(&self.adapter, out) + input)
    }
}

/// One encoder layer: attention, then the feed-forward block.
#[derive(Module, Debug)]
pub struct BertLayer {
    /// `attention`.
    pub attention: BertAttention,
    /// `intermediate`.
    pub intermediate: BertIntermediate,
    /// `output`.
    pub output: BertOutput,
}

impl BertLayer {
    /// Builds the layer with fresh (or placeholder) weights.
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        Self {
            attention: BertAttention::new(config, init, device),
            intermediate: BertIntermediate {
                dense: init.linear(h, i, device),
                dense_lora: None,
                activation: config.activation(),
            },
            output: BertOutput {
                dense: init.linear(i, h, device),
                dense_lora: None,
                adapter: None,
                layer_norm: Init::layer_norm(h, config.layer_norm_eps, device),
                dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            },
        }
    }

    /// `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, hidden: Tensor<3>, mask: Tensor<4>) -> Tensor<3> {
        self.forward_probs(hidden, mask).0
    }

    /// [`BertLayer::forward`] and its attention probabilities `[B, heads, T, T]`.
    pub fn forward_probs(&self, hidden: Tensor<3>, mask: Tensor<4>) -> (Tensor<3>, Tensor<4>) {
        let (attended, probs) = self.attention.forward_probs(hidden, mask);
        let inner = self.intermediate.forward(attended.clone());
        (self.output.forward(inner, attended), probs)
    }
}

/// The stack of layers: `encoder.layer.{i}`.
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// `encoder.layer`.
    pub layer: Vec<BertLayer>,
}

impl BertEncoder {
    /// Builds `num_hidden_layers` layers.
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        Self { layer: (0..config.num_hidden_layers).map(|_| BertLayer::new(config, init, device)).collect() }
    }

    /// `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, mut hidden: Tensor<3>, mask: Tensor<4>) -> Tensor<3> {
        for layer in &self.layer {
            hidden = layer.forward(hidden, mask.clone());
        }
        hidden
    }

    /// [`BertEncoder::forward`] and every layer's attention probabilities, first layer first
    /// (transformers' `output_attentions=True`).
    pub fn forward_attentions(&self, mut hidden: Tensor<3>, mask: Tensor<4>) -> (Tensor<3>, Vec<Tensor<4>>) {
        let mut all = Vec::with_capacity(self.layer.len());
        for layer in &self.layer {
            let (next, probs) = layer.forward_probs(hidden, mask.clone());
            hidden = next;
            all.push(probs);
        }
        (hidden, all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// flex keeps burn's fused GELU (exact backward, and faster); without autodiff every backend does.
    #[test]
    fn fused_gelu_where_its_backward_is_exact() {
        let device = crate::DeviceSpec::Cpu.device().unwrap();
        let x = Tensor::<3>::zeros([1, 1, 4], &device);
        assert!(exact_gelu_backward(&x));
        #[cfg(feature = "flex")]
        assert!(exact_gelu_backward(&Tensor::<3>::zeros([1, 1, 4], &device.clone().autodiff())));
    }

    /// The composed form equals burn's GELU (forward) and PyTorch's exact derivative (backward).
    #[test]
    fn composed_gelu_matches_the_exact_function_and_derivative() {
        let device = crate::DeviceSpec::Cpu.device().unwrap().autodiff();
        let values = [-3.0f32, -1.0, -0.1, 0.0, 0.2, 1.5, 4.0];
        let x = Tensor::<1>::from_floats(values, &device).require_grad();
        let y = x.clone() * x.clone().div_scalar(std::f64::consts::SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5);
        let fused = gelu(Tensor::<1>::from_floats(values, &device));
        let grads = y.clone().sum().backward();
        let dx = x.grad(&grads).unwrap().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let y = y.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let fused = fused.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        for (i, &v) in values.iter().enumerate() {
            let v = v as f64;
            let phi = (-v * v / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let cdf = 0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
            assert!((y[i] as f64 - v * cdf).abs() < 1e-6 && (y[i] - fused[i]).abs() < 1e-6, "gelu({v})");
            assert!((dx[i] as f64 - (cdf + v * phi)).abs() < 1e-6, "gelu'({v}) = {} vs {}", dx[i], cdf + v * phi);
        }
    }
}
