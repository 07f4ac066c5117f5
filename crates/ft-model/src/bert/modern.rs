//! ModernBERT (transformers' `ModernBertModel`): what it changes in ft's layers, used by
//! [`super::layer`] and [`super::attention`].
//!
//! Each layer is pre-LayerNorm — `h + Wo(attn(attn_norm(h)))`, then `h + mlp(mlp_norm(h))`, the first
//! layer without `attn_norm` — with a gated MLP (`Wi` gives `[input, gate]`, `act(input) · gate`),
//! rotary positions on the queries and keys (one `rope_theta` for global layers, another for local
//! ones), local layers attending only within `±local_attention / 2`, no biases by default, and a
//! final LayerNorm after the last layer. Its checkpoint fuses the query, key and value projections
//! into one `Wqkv`; ft splits it on loading and fuses it on saving ([`split_fused_qkv`],
//! [`fuse_qkv`]), so the attention is BERT's three Linear layers.

use crate::{BertConfig, HiddenAct};
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::HashMap;

/// ModernBERT's settings, from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModernBert {
    /// `attention_bias`: `Wqkv` and `Wo` have biases.
    pub attention_bias: bool,
    /// `mlp_bias`: `Wi` and the MLP's `Wo` have biases.
    pub mlp_bias: bool,
    /// `norm_bias`: the LayerNorms have biases.
    pub norm_bias: bool,
    /// `classifier_bias`: the head's dense layer has a bias.
    pub classifier_bias: bool,
    /// Per layer: whether it is a local (sliding-window) layer (`layer_types`).
    pub local: Vec<bool>,
    /// Half the local window (`local_attention / 2`): a local query sees keys at distance ≤ this.
    pub window: usize,
    /// `rope_theta` of the global layers.
    pub global_theta: f64,
    /// `rope_theta` of the local layers.
    pub local_theta: f64,
    /// `embedding_dropout`.
    pub embedding_dropout: f64,
    /// `attention_dropout` (on the probabilities and after `Wo`).
    pub attention_dropout: f64,
    /// `mlp_dropout` (before the MLP's `Wo`).
    pub mlp_dropout: f64,
    /// `classifier_dropout` (before the classifier).
    pub classifier_dropout: f64,
    /// `classifier_activation` of the head's dense layer.
    pub classifier_activation: HiddenAct,
    /// `classifier_pooling` is `mean` (else `cls`).
    pub mean_pooling: bool,
}

impl ModernBert {
    /// The settings of a `modernbert` config, or the reason ft cannot build them.
    pub fn of_config(config: &BertConfig) -> Result<Self, String> {
        let x = &config.extra;
        let flag = |key: &str, default: bool| -> Result<bool, String> {
            match x.get(key) {
                None | Some(serde_json::Value::Null) => Ok(default),
                Some(v) => v.as_bool().ok_or_else(|| format!("{key} is {v}; give true or false")),
            }
        };
        let number = |key: &str, default: f64| -> Result<f64, String> {
            match x.get(key) {
                None | Some(serde_json::Value::Null) => Ok(default),
                Some(v) => v.as_f64().ok_or_else(|| format!("{key} is {v}; give a number")),
            }
        };
        let layers = config.num_hidden_layers;
        let local = match x.get("layer_types") {
            Some(serde_json::Value::Array(types)) => {
                if types.len() != layers {
                    return Err(format!("layer_types has {} entries for {layers} layers", types.len()));
                }
                types
                    .iter()
                    .map(|t| match t.as_str() {
                        Some("sliding_attention") => Ok(true),
                        Some("full_attention") => Ok(false),
                        _ => {
                            Err(format!("layer_types holds {t}; ModernBERT's are full_attention and sliding_attention"))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            None | Some(serde_json::Value::Null) => {
                let every = number("global_attn_every_n_layers", 3.0)?;
                if !(every >= 1.0 && every.fract() == 0.0) {
                    return Err(format!("global_attn_every_n_layers is {every}; give a positive integer"));
                }
                (0..layers).map(|i| i % every as usize != 0).collect()
            }
            Some(other) => return Err(format!("layer_types is {other}; give a list")),
        };
        let local_attention = number("local_attention", 128.0)?;
        if !(local_attention >= 0.0 && local_attention.fract() == 0.0) {
            return Err(format!("local_attention is {local_attention}; give a non-negative integer"));
        }
        let theta = |kind: &str, old_key: &str, default: f64| -> Result<f64, String> {
            let params = x.get("rope_parameters").and_then(|p| p.get(kind));
            if let Some(t) = params.and_then(|p| p.get("rope_type")).and_then(|t| t.as_str())
                && t != "default"
            {
                return Err(format!(
                    "rope_parameters.{kind}.rope_type is \"{t}\"; ft computes the default rotary positions only"
                ));
            }
            let value = match params.and_then(|p| p.get("rope_theta")) {
                Some(v) => {
                    v.as_f64().ok_or_else(|| format!("rope_parameters.{kind}.rope_theta is {v}; give a number"))?
                }
                None => number(old_key, default)?,
            };
            if !(value.is_finite() && value > 1.0) {
                return Err(format!("the {kind} rope_theta is {value}; give a number above 1"));
            }
            Ok(value)
        };
        let pooling = config.extra_str("classifier_pooling").unwrap_or("cls");
        if !matches!(pooling, "cls" | "mean") {
            return Err(format!("classifier_pooling is \"{pooling}\"; ModernBERT's are cls and mean"));
        }
        let act = config.extra_str("classifier_activation").unwrap_or("gelu");
        let settings = Self {
            attention_bias: flag("attention_bias", false)?,
            mlp_bias: flag("mlp_bias", false)?,
            norm_bias: flag("norm_bias", false)?,
            classifier_bias: flag("classifier_bias", false)?,
            local,
            window: local_attention as usize / 2,
            global_theta: theta("full_attention", "global_rope_theta", 160_000.0)?,
            local_theta: theta("sliding_attention", "local_rope_theta", 10_000.0)?,
            embedding_dropout: number("embedding_dropout", 0.0)?,
            attention_dropout: config.attention_probs_dropout_prob,
            mlp_dropout: config.hidden_dropout_prob,
            classifier_dropout: config.classifier_dropout.unwrap_or(0.0),
            classifier_activation: HiddenAct::parse(act)
                .ok_or_else(|| format!("classifier_activation \"{act}\" is not supported; use gelu, relu or tanh"))?,
            mean_pooling: pooling == "mean",
        };
        for (key, p) in [("embedding_dropout", settings.embedding_dropout)] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{key} is {p}; a dropout probability must be in [0, 1)"));
            }
        }
        if !config.head_dim().is_multiple_of(2) {
            return Err(format!("the head size {} is odd; rotary positions need an even one", config.head_dim()));
        }
        Ok(settings)
    }
}

/// Which of ModernBERT's layers an attention is: global (full attention, `rope_theta` of
/// `full_attention`) or local (the sliding window, its own `rope_theta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotaryKind {
    /// `full_attention`.
    Global,
    /// `sliding_attention`.
    Local,
}

/// The rotary tables of a forward, one per layer kind.
#[derive(Debug, Clone)]
pub struct RotaryTables {
    /// For the global layers.
    pub global: Rotary,
    /// For the local layers.
    pub local: Rotary,
}

impl RotaryTables {
    /// The table of `kind`.
    pub fn get(&self, kind: RotaryKind) -> &Rotary {
        match kind {
            RotaryKind::Global => &self.global,
            RotaryKind::Local => &self.local,
        }
    }
}

/// `mask` (`[B, 1, 1, T]`, additive over keys) with every key farther than `window` from the query
/// closed too: `[B, 1, T, T]`, 0 or `f32::MIN` (transformers' bidirectional sliding-window mask).
pub fn local_mask(mask: Tensor<4>, window: usize) -> Tensor<4> {
    let [b, _, _, t] = mask.dims();
    let far: Vec<bool> = (0..t).flat_map(|i| (0..t).map(move |j| i.abs_diff(j) > window)).collect();
    let far = Tensor::<2, burn::tensor::Bool>::from_data(TensorData::new(far, [t, t]), &mask.device());
    mask.expand([b, 1, t, t]).mask_fill(far.reshape([1, 1, t, t]).expand([b, 1, t, t]), f32::MIN)
}

/// Rotary positions for one `rope_theta`: `cos` and `sin`, `[T, d]` each (transformers'
/// `ModernBertRotaryEmbedding`: `inv_freq = 1 / θ^(2i/d)`, the angles `t · inv_freq` twice over).
#[derive(Debug, Clone)]
pub struct Rotary {
    /// `[T, d]`.
    pub cos: Tensor<2>,
    /// `[T, d]`.
    pub sin: Tensor<2>,
}

impl Rotary {
    /// The tables for positions `0..t` and head size `d`, computed in f32 on the host as PyTorch does.
    pub fn new(theta: f64, t: usize, d: usize, device: &Device) -> Self {
        let half = d / 2;
        let inv_freq: Vec<f32> = (0..half).map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / d as f32)).collect();
        let (mut cos, mut sin) = (Vec::with_capacity(t * d), Vec::with_capacity(t * d));
        for p in 0..t {
            for _ in 0..2 {
                for &f in &inv_freq {
                    let angle = p as f32 * f;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let table = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [t, d]), device);
        Self { cos: table(cos), sin: table(sin) }
    }

    /// `x · cos + rotate_half(x) · sin` for `x` `[B, heads, T, d]` (`rotate_half`: `[−x₂, x₁]`).
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, t, d] = x.dims();
        let half = d / 2;
        let cos = self.cos.clone().reshape([1, 1, t, d]);
        let sin = self.sin.clone().reshape([1, 1, t, d]);
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * cos + rotated * sin
    }
}

/// Splits each `….attn.Wqkv.weight` `[3H, H]` (and `.bias` `[3H]`) of a safetensors file into
/// `….attn.Wq.*`, `Wk.*`, `Wv.*` (the rows in that order, as `qkv.view(…, 3, heads, d)` reads them);
/// every other tensor is kept. Returns the new file's bytes, or the reason the file cannot be read.
pub fn split_fused_qkv(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    for (name, view) in file.tensors() {
        let Some(stem) = name.strip_suffix(".weight").or_else(|| name.strip_suffix(".bias")) else {
            views.push((name, view));
            continue;
        };
        let Some(prefix) = stem.strip_suffix(".Wqkv") else {
            views.push((name, view));
            continue;
        };
        let suffix = &name[stem.len()..];
        let shape = view.shape().to_vec();
        if shape.is_empty() || shape[0] % 3 != 0 {
            return Err(format!("{name} has shape {shape:?}; a fused Wqkv has 3·hidden_size rows"));
        }
        let mut part = shape.clone();
        part[0] /= 3;
        let size = view.data().len() / 3;
        for (i, which) in ["Wq", "Wk", "Wv"].iter().enumerate() {
            let data = &view.data()[i * size..(i + 1) * size];
            let split =
                safetensors::tensor::TensorView::new(view.dtype(), part.clone(), data).map_err(|e| e.to_string())?;
            views.push((format!("{prefix}.{which}{suffix}"), split));
        }
    }
    let metadata: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}

/// The inverse of [`split_fused_qkv`]: each `….attn.Wq.*`, `Wk.*`, `Wv.*` triple becomes one
/// `….attn.Wqkv.*`, as transformers' `ModernBertAttention` holds it.
pub fn fuse_qkv(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let tensors: HashMap<String, safetensors::tensor::TensorView<'_>> = file.tensors().into_iter().collect();
    let mut fused: Vec<(String, Vec<usize>, safetensors::Dtype, Vec<u8>)> = Vec::new();
    let mut plain: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let view = &tensors[name];
        if name.contains(".Wk.") || name.contains(".Wv.") {
            continue;
        }
        match name.split_once(".Wq.") {
            Some((prefix, suffix)) => {
                let mut data = Vec::with_capacity(view.data().len() * 3);
                let mut shape = view.shape().to_vec();
                for which in ["Wq", "Wk", "Wv"] {
                    let key = format!("{prefix}.{which}.{suffix}");
                    let part = tensors.get(&key).ok_or_else(|| format!("{key} is missing"))?;
                    data.extend_from_slice(part.data());
                }
                shape[0] *= 3;
                fused.push((format!("{prefix}.Wqkv.{suffix}"), shape, view.dtype(), data));
            }
            None => plain.push((name.clone(), view.clone())),
        }
    }
    let mut views = plain;
    for (name, shape, dtype, data) in &fused {
        views.push((
            name.clone(),
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).map_err(|e| e.to_string())?,
        ));
    }
    let metadata: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splitting and fusing are inverse, and the rows go query, key, value.
    #[test]
    fn wqkv_splits_and_fuses_back() {
        let values: Vec<f32> = (0..24).map(|i| i as f32).collect(); // [6, 4]: H = 2... rows 0-1 q, 2-3 k, 4-5 v
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![6, 4], &bytes).unwrap();
        let file = safetensors::serialize(vec![("model.layers.0.attn.Wqkv.weight".to_string(), view)], None).unwrap();
        let split = split_fused_qkv(&file).unwrap();
        let st = safetensors::SafeTensors::deserialize(&split).unwrap();
        let k = st.tensor("model.layers.0.attn.Wk.weight").unwrap();
        assert_eq!(k.shape(), [2, 4]);
        assert_eq!(f32::from_le_bytes(k.data()[..4].try_into().unwrap()), 8.0);
        let fused = fuse_qkv(&split).unwrap();
        let st = safetensors::SafeTensors::deserialize(&fused).unwrap();
        assert_eq!(st.tensor("model.layers.0.attn.Wqkv.weight").unwrap().data(), &bytes[..]);
        assert_eq!(st.names().len(), 1);
    }
}
