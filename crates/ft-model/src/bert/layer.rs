//! One transformer block and the stack of them (transformers' `BertIntermediate`, `BertOutput`,
//! `BertLayer`, `BertEncoder`): post-LayerNorm residual blocks, and DeBERTa's shared relative-position
//! embeddings and convolution in the encoder.

use super::attention::BertAttention;
use super::disentangled::{AttentionBias, ConvLayer, Disentangled, RelativePositions, conv_settings};
use super::modern::{ModernBert, Rotary, RotaryTables, local_mask};
use crate::init::Init;
use crate::peft::bottleneck::Bottleneck;
use crate::peft::lora::{LoraBranch, forward_with};
use crate::{BertConfig, HiddenAct};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, Linear};
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
    /// ModernBERT's gated MLP: `dense` gives `[input, gate]` (`2I` wide) and the output is
    /// `act(input) · gate`.
    #[module(skip)]
    pub gated: bool,
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
        let x = forward_with(&self.dense, &self.dense_lora, hidden);
        if !self.gated {
            return activate(self.activation, x);
        }
        let [_, _, two_i] = x.dims();
        let gate = x.clone().narrow(2, two_i / 2, two_i / 2);
        activate(self.activation, x.narrow(2, 0, two_i / 2)) * gate
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
    /// ModernBERT's `attn_norm`, before the attention (`None` in its first layer and in the
    /// other families).
    pub attn_norm: Option<LayerNorm>,
    /// ModernBERT's pre-LayerNorm order: `h + attn(attn_norm(h))`, then `h + mlp(mlp_norm(h))` with
    /// `output.LayerNorm` as `mlp_norm` and the MLP's dropout before its `Wo` (`output.dense`).
    #[module(skip)]
    pub pre_norm: bool,
}

impl BertLayer {
    /// Builds layer `index` with fresh (or placeholder) weights.
    pub fn new(config: &BertConfig, index: usize, init: &mut Init, device: &Device) -> Self {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let modern = config.modern();
        let mlp_bias = modern.as_ref().is_none_or(|m| m.mlp_bias);
        let norm_bias = modern.as_ref().is_none_or(|m| m.norm_bias);
        let gated = modern.is_some();
        Self {
            attention: BertAttention::new(config, index, init, device),
            intermediate: BertIntermediate {
                dense: init.linear_with(h, if gated { 2 * i } else { i }, mlp_bias, device),
                dense_lora: None,
                activation: config.activation(),
                gated,
            },
            output: BertOutput {
                dense: init.linear_with(i, h, mlp_bias, device),
                dense_lora: None,
                adapter: None,
                layer_norm: Init::layer_norm_with(h, config.layer_norm_eps, norm_bias, device),
                dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            },
            attn_norm: (modern.is_some() && index > 0)
                .then(|| Init::layer_norm_with(h, config.layer_norm_eps, norm_bias, device)),
            pre_norm: modern.is_some(),
        }
    }

    /// `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, hidden: Tensor<3>, bias: &AttentionBias) -> Tensor<3> {
        self.forward_probs(hidden, bias).0
    }

    /// [`BertLayer::forward`] and its attention probabilities `[B, heads, T, T]`.
    pub fn forward_probs(&self, hidden: Tensor<3>, bias: &AttentionBias) -> (Tensor<3>, Tensor<4>) {
        if self.pre_norm {
            return self.forward_pre_norm(hidden, bias);
        }
        let (attended, probs) = self.attention.forward_probs(hidden, bias);
        let inner = self.intermediate.forward(attended.clone());
        (self.output.forward(inner, attended), probs)
    }

    /// ModernBERT's `ModernBertEncoderLayer.forward`.
    fn forward_pre_norm(&self, hidden: Tensor<3>, bias: &AttentionBias) -> (Tensor<3>, Tensor<4>) {
        let normed = match &self.attn_norm {
            Some(norm) => norm.forward(hidden.clone()),
            None => hidden.clone(),
        };
        let (attended, probs) = self.attention.self_attention.forward_probs(normed, bias);
        let out = &self.attention.output;
        let hidden = hidden + out.dropout.forward(forward_with(&out.dense, &out.dense_lora, attended));
        let inner = self.intermediate.forward(self.output.layer_norm.forward(hidden.clone()));
        let mlp = forward_with(&self.output.dense, &self.output.dense_lora, self.output.dropout.forward(inner));
        (hidden + mlp, probs)
    }
}

/// The stack of layers: `encoder.layer.{i}`, with DeBERTa's encoder-level parts.
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// `encoder.layer`.
    pub layer: Vec<BertLayer>,
    /// DeBERTa's `encoder.rel_embeddings` `[2S, H]` (relative attention only).
    pub rel_embeddings: Option<Embedding>,
    /// DeBERTa's `encoder.LayerNorm` on the relative-position embeddings (`norm_rel_ebd` `layer_norm`).
    pub layer_norm: Option<LayerNorm>,
    /// DeBERTa-v2's `encoder.conv` after the first layer (`conv_kernel_size` > 0).
    pub conv: Option<ConvLayer>,
    /// DeBERTa's settings (`None` for the other families).
    #[module(skip)]
    pub disentangled: Option<Disentangled>,
    /// ModernBERT's `final_norm` after the last layer.
    pub final_norm: Option<LayerNorm>,
    /// ModernBERT's settings (`None` for the other families).
    #[module(skip)]
    pub modern: Option<ModernBert>,
}

impl BertEncoder {
    /// Builds `num_hidden_layers` layers (and DeBERTa's shared parts after them, in transformers' order).
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        let h = config.hidden_size;
        let layer = (0..config.num_hidden_layers).map(|i| BertLayer::new(config, i, init, device)).collect();
        let modern = config.modern();
        let disentangled = config.disentangled();
        let relative = disentangled.filter(|d| d.relative);
        Self {
            layer,
            rel_embeddings: relative.map(|d| init.embedding(2 * d.span(), h, None, device)),
            layer_norm: disentangled
                .filter(|d| d.norm_rel_ebd)
                .map(|_| Init::layer_norm(h, config.layer_norm_eps, device)),
            conv: conv_settings(config).ok().flatten().map(|c| ConvLayer::new(config, c, init, device)),
            disentangled,
            final_norm: modern.as_ref().map(|m| Init::layer_norm_with(h, config.layer_norm_eps, m.norm_bias, device)),
            modern,
        }
    }

    /// What every layer's attention reads: the mask, and DeBERTa's relative positions for a
    /// length-`t` input.
    pub fn bias(&self, mask: Tensor<4>, t: usize) -> AttentionBias {
        let relative = match (self.disentangled.filter(|d| d.relative), &self.rel_embeddings) {
            (Some(settings), Some(table)) => {
                let embeddings = table.weight.val(); // [2S, H]
                let embeddings = match &self.layer_norm {
                    Some(norm) => norm.forward(embeddings),
                    None => embeddings,
                };
                Some(RelativePositions::new(&settings, embeddings, t))
            }
            _ => None,
        };
        let (rotary, local_mask) = match &self.modern {
            Some(m) => {
                let device = mask.device();
                let d = self.layer.first().map_or(0, |l| l.attention.self_attention.attention_head_size);
                let tables = RotaryTables {
                    global: Rotary::new(m.global_theta, t, d, &device),
                    local: Rotary::new(m.local_theta, t, d, &device),
                };
                let local = m.local.iter().any(|&l| l).then(|| local_mask(mask.clone(), m.window));
                (Some(tables), local)
            }
            None => (None, None),
        };
        AttentionBias { mask, relative, rotary, local_mask }
    }

    /// `[B, T, H]` → `[B, T, H]`; `input_mask` `[B, T]` (1 on real tokens) is read by DeBERTa-v2's
    /// convolution only.
    pub fn forward(&self, hidden: Tensor<3>, mask: Tensor<4>, input_mask: Tensor<2>) -> Tensor<3> {
        self.run(hidden, mask, input_mask, false).0
    }

    /// [`BertEncoder::forward`] and every layer's attention probabilities, first layer first
    /// (transformers' `output_attentions=True`).
    pub fn forward_attentions(
        &self,
        hidden: Tensor<3>,
        mask: Tensor<4>,
        input_mask: Tensor<2>,
    ) -> (Tensor<3>, Vec<Tensor<4>>) {
        self.run(hidden, mask, input_mask, true)
    }

    /// The layers in order, keeping their attention probabilities when `keep` is set (dropped at once
    /// otherwise, so that inference holds one layer's at a time).
    fn run(
        &self,
        mut hidden: Tensor<3>,
        mask: Tensor<4>,
        input_mask: Tensor<2>,
        keep: bool,
    ) -> (Tensor<3>, Vec<Tensor<4>>) {
        let [_, t, _] = hidden.dims();
        let bias = self.bias(mask, t);
        let mut all = Vec::with_capacity(if keep { self.layer.len() } else { 0 });
        for (i, layer) in self.layer.iter().enumerate() {
            let (mut next, probs) = layer.forward_probs(hidden.clone(), &bias);
            if i == 0
                && let Some(conv) = &self.conv
            {
                next = conv.forward(hidden, next, input_mask.clone());
            }
            hidden = next;
            if keep {
                all.push(probs);
            }
        }
        if let Some(norm) = &self.final_norm {
            hidden = norm.forward(hidden);
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
