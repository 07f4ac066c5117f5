//! One transformer block and the stack of them (transformers' `BertIntermediate`, `BertOutput`,
//! `BertLayer`, `BertEncoder`): post-LayerNorm residual blocks.

use super::attention::BertAttention;
use crate::init::Init;
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
    /// `hidden_act` (a setting, not a parameter).
    #[module(skip)]
    pub activation: HiddenAct,
}

impl BertIntermediate {
    /// `[B, T, H]` → `[B, T, I]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        let x = self.dense.forward(hidden);
        match self.activation {
            HiddenAct::Gelu => gelu(x),
            HiddenAct::GeluTanh => gelu_approximate(x),
            HiddenAct::Relu => relu(x),
        }
    }
}

/// `output`: dense `I → H`, dropout, residual, LayerNorm.
#[derive(Module, Debug)]
pub struct BertOutput {
    /// `output.dense`.
    pub dense: Linear,
    /// `output.LayerNorm`.
    pub layer_norm: LayerNorm,
    /// `hidden_dropout_prob`.
    pub dropout: Dropout,
}

impl BertOutput {
    /// `LayerNorm(dropout(dense(hidden)) + input)`: `[B, T, I]`, `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, hidden: Tensor<3>, input: Tensor<3>) -> Tensor<3> {
        self.layer_norm.forward(self.dropout.forward(self.dense.forward(hidden)) + input)
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
            intermediate: BertIntermediate { dense: init.linear(h, i, device), activation: config.activation() },
            output: BertOutput {
                dense: init.linear(i, h, device),
                layer_norm: Init::layer_norm(h, config.layer_norm_eps, device),
                dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            },
        }
    }

    /// `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, hidden: Tensor<3>, mask: Tensor<4>) -> Tensor<3> {
        let attended = self.attention.forward(hidden, mask);
        let inner = self.intermediate.forward(attended.clone());
        self.output.forward(inner, attended)
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
}
