//! Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020): a small residual MLP,
//! `z + up(act(down(z)))` with `down` H → H / reduction and `up` back, inside BERT's output blocks:
//! `LayerNorm(adapter(dropout(dense(h))) + input)`. Houlsby puts one after the attention output
//! (`attention.output.adapter`) and one after the feed-forward output (`output.adapter`); Pfeiffer only
//! the latter. `up` starts at zero, so a fresh adapter is the identity; `down` ~ N(0, 0.02). The
//! encoder is frozen but for its LayerNorms, which train with the adapters and the head (Houlsby's
//! setup). The reference is the PyTorch module `Bottleneck` in `xtask/py/generate_fixtures.py`.

use crate::ModelError;
use crate::bert::model::BertModel;
use crate::init::Init;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{relu, silu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Where the adapters go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// After the attention output and after the feed-forward output of every layer.
    Houlsby,
    /// After the feed-forward output only.
    Pfeiffer,
}

/// The adapter's non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// `x · sigmoid(x)`.
    Swish,
}

/// What `--peft adapters` trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BottleneckSettings {
    /// Houlsby or Pfeiffer.
    pub architecture: Architecture,
    /// Bottleneck width = hidden_size / reduction.
    pub reduction: usize,
    /// The non-linearity.
    pub activation: Activation,
}

impl Default for BottleneckSettings {
    /// Houlsby, reduction 16, ReLU.
    fn default() -> Self {
        Self { architecture: Architecture::Houlsby, reduction: 16, activation: Activation::Relu }
    }
}

/// One adapter: `z + up(act(down(z)))`.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// `down`: H → H / reduction (burn layout `[H, b]`).
    pub down: Linear,
    /// `up`: back to H, zeros when fresh.
    pub up: Linear,
    /// The non-linearity (a setting).
    #[module(skip)]
    pub activation: Activation,
}

impl Bottleneck {
    /// A fresh adapter of width `hidden / reduction`: `down` from `init`, `up` zeros.
    pub fn new(hidden: usize, settings: &BottleneckSettings, init: &mut Init, device: &Device) -> Self {
        let b = hidden / settings.reduction;
        Self {
            down: init.linear(hidden, b, device),
            up: Linear {
                weight: Param::from_tensor(Tensor::zeros([b, hidden], device)),
                bias: Some(Param::from_tensor(Tensor::zeros([hidden], device))),
            },
            activation: settings.activation,
        }
    }

    /// `[…, H]` → `[…, H]`.
    pub fn forward<const D: usize>(&self, z: Tensor<D>) -> Tensor<D> {
        let inner = self.down.forward(z.clone());
        let inner = match self.activation {
            Activation::Relu => relu(inner),
            Activation::Swish => silu(inner),
        };
        z + self.up.forward(inner)
    }
}

/// `z` through `adapter` when there is one.
pub fn forward_with<const D: usize>(adapter: &Option<Bottleneck>, z: Tensor<D>) -> Tensor<D> {
    match adapter {
        Some(a) => a.forward(z),
        None => z,
    }
}

/// The encoder frozen but for its LayerNorms, with fresh adapters where `settings` puts them (the
/// k-th adapter's `down` from N(0, 0.02) seeded with `seed + k`). Returns how many adapters.
pub fn attach(
    bert: BertModel,
    settings: &BottleneckSettings,
    seed: u64,
    device: &Device,
) -> Result<(BertModel, usize), ModelError> {
    let [_, hidden] = bert.embeddings.word_embeddings.weight.dims();
    if settings.reduction == 0 || settings.reduction > hidden || hidden % settings.reduction != 0 {
        return Err(ModelError::Input(format!(
            "--adapter-reduction {}: must divide hidden_size {hidden} (the bottleneck is hidden_size / reduction)",
            settings.reduction
        )));
    }
    let mut bert = bert.no_grad();
    let mut k = 0u64;
    let mut fresh = || {
        k += 1;
        Init::normal(seed.wrapping_add(k - 1), 0.02)
    };
    bert.embeddings.layer_norm = bert.embeddings.layer_norm.clone().set_require_grad(true);
    for layer in bert.encoder.layer.iter_mut() {
        let out = &mut layer.attention.output;
        out.layer_norm = out.layer_norm.clone().set_require_grad(true);
        if settings.architecture == Architecture::Houlsby {
            out.adapter = Some(Bottleneck::new(hidden, settings, &mut fresh(), device));
        }
        let out = &mut layer.output;
        out.layer_norm = out.layer_norm.clone().set_require_grad(true);
        out.adapter = Some(Bottleneck::new(hidden, settings, &mut fresh(), device));
    }
    Ok((bert, k as usize))
}
