//! DeBERTa-v2/v3's disentangled attention (transformers' `DisentangledSelfAttention`,
//! `build_relative_position`, `make_log_bucket_position`, `ConvLayer`): what DeBERTa adds to BERT's
//! layers, used by [`super::attention`] and [`super::layer`].
//!
//! Each layer's attention scores are the content scores `q·kᵀ` plus, for `c2p`, the query against the
//! relative-position keys `P_k[δ(i, j)]` and, for `p2c`, the key against the relative-position queries
//! `P_q[δ(j, i)]`, all divided by `√(d · (1 + |pos_att_type|))`. The relative positions `δ` depend only
//! on the sequence length, so they are computed once per forward on the host and gathered from; the
//! position projections are the layer's own `key`/`query` (`share_att_key`, DeBERTa-v3) or
//! `pos_key_proj`/`pos_query_proj`. The embeddings `P` `[2S, H]` are shared by every layer
//! (`encoder.rel_embeddings`, after `encoder.LayerNorm` when `norm_rel_ebd` says `layer_norm`).

use crate::init::Init;
use crate::{BertConfig, HiddenAct};
use burn::module::{Module, Param};
use burn::nn::conv::Conv1d;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, PaddingConfig1d};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// DeBERTa's attention settings, from `config.json` (`pos_att_type`, `relative_attention`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disentangled {
    /// `c2p` in `pos_att_type`: content-to-position scores.
    pub c2p: bool,
    /// `p2c` in `pos_att_type`: position-to-content scores.
    pub p2c: bool,
    /// `relative_attention`: without it only the score scale differs from BERT's.
    pub relative: bool,
    /// `share_att_key`: the position projections are the layer's `key` and `query`.
    pub share_att_key: bool,
    /// `position_buckets` (0: relative positions are not bucketed).
    pub position_buckets: usize,
    /// `max_relative_positions` (`max_position_embeddings` when the config says −1).
    pub max_relative_positions: usize,
    /// `norm_rel_ebd` holds `layer_norm`: `encoder.LayerNorm` normalises the relative embeddings.
    pub norm_rel_ebd: bool,
}

impl Disentangled {
    /// The settings of a `deberta-v2` config, or the reason ft cannot build them.
    pub fn of_config(config: &BertConfig) -> Result<Self, String> {
        let pos_att_type: Vec<String> = match config.extra.get("pos_att_type") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => s.to_lowercase().split('|').map(|x| x.trim().to_string()).collect(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("pos_att_type holds {v}; give strings")))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("pos_att_type is {other}; give a list such as [\"p2c\", \"c2p\"]")),
        };
        if let Some(bad) = pos_att_type.iter().find(|t| !matches!(t.as_str(), "c2p" | "p2c" | "")) {
            return Err(format!("pos_att_type \"{bad}\" is not supported; DeBERTa-v2 uses \"c2p\" and \"p2c\""));
        }
        let int = |key: &str| -> Result<i64, String> {
            match config.extra.get(key) {
                None | Some(serde_json::Value::Null) => Ok(-1),
                Some(v) => v.as_i64().ok_or_else(|| format!("{key} is {v}; give an integer")),
            }
        };
        let max_relative = int("max_relative_positions")?;
        let buckets = int("position_buckets")?;
        let max_relative_positions =
            if max_relative < 1 { config.max_position_embeddings } else { max_relative as usize };
        let settings = Self {
            c2p: pos_att_type.iter().any(|t| t == "c2p"),
            p2c: pos_att_type.iter().any(|t| t == "p2c"),
            relative: config.extra_bool("relative_attention", false),
            share_att_key: config.extra_bool("share_att_key", false),
            position_buckets: buckets.max(0) as usize,
            max_relative_positions,
            norm_rel_ebd: config
                .extra_str("norm_rel_ebd")
                .is_some_and(|s| s.to_lowercase().split('|').any(|x| x.trim() == "layer_norm")),
        };
        if settings.relative && settings.position_buckets == 1 {
            return Err("position_buckets is 1; give 2 or more (or -1 for no buckets)".into());
        }
        if settings.relative && settings.span() > 1 << 20 {
            return Err(format!(
                "the relative-position table would have {} rows; check position_buckets and max_relative_positions",
                2 * settings.span()
            ));
        }
        Ok(settings)
    }

    /// `1 + |pos_att_type|`: the scores are divided by `√(head_size · scale_factor)`.
    pub fn scale_factor(&self) -> usize {
        1 + usize::from(self.c2p) + usize::from(self.p2c)
    }

    /// `S`, the attention span (transformers' `pos_ebd_size`): `position_buckets` when set, else
    /// `max_relative_positions`. The relative-position table has `2S` rows.
    pub fn span(&self) -> usize {
        if self.position_buckets > 0 { self.position_buckets } else { self.max_relative_positions }
    }

    /// The relative position of query `i` to key `j` (`i − j`, log-bucketed when `position_buckets`
    /// is set), as transformers' `build_relative_position`.
    pub fn relative_position(&self, i: usize, j: usize) -> i64 {
        let rel = i as i64 - j as i64;
        if self.position_buckets > 0 && self.max_relative_positions > 0 {
            log_bucket(rel, self.position_buckets as i64, self.max_relative_positions as i64)
        } else {
            rel
        }
    }

    /// The gather indices of a length-`t` input, row-major `[t, t]`: `c2p[i][j] = clamp(δ(i, j) + S)`
    /// and `p2c[i][j] = clamp(−δ(i, j) + S)`, both clamped to `0..2S`.
    pub fn gather_indices(&self, t: usize) -> (Vec<i64>, Vec<i64>) {
        let span = self.span() as i64;
        let clamp = |x: i64| x.clamp(0, 2 * span - 1);
        let mut c2p = Vec::with_capacity(t * t);
        let mut p2c = Vec::with_capacity(t * t);
        for i in 0..t {
            for j in 0..t {
                let rel = self.relative_position(i, j);
                c2p.push(clamp(rel + span));
                p2c.push(clamp(-rel + span));
            }
        }
        (c2p, p2c)
    }
}

/// transformers' `make_log_bucket_position`, in float32 as PyTorch computes it: positions within
/// `±bucket_size/2` stay as they are, farther ones are compressed logarithmically up to `max_position`.
fn log_bucket(rel: i64, bucket_size: i64, max_position: i64) -> i64 {
    let mid = bucket_size / 2;
    let abs = if rel < mid && rel > -mid { mid - 1 } else { rel.abs() };
    if abs <= mid {
        return rel;
    }
    let ratio = (abs as f32 / mid as f32).ln() / (((max_position - 1) as f64 / mid as f64) as f32).ln();
    let log_pos = (ratio * (mid - 1) as f32).ceil() + mid as f32;
    log_pos as i64 * rel.signum()
}

/// What the layers' attention reads besides the hidden states.
#[derive(Debug, Clone)]
pub struct AttentionBias {
    /// The additive mask: `[B, 1, 1, T]` over keys (BERT), or `[B, 1, T, T]` over query–key pairs
    /// (DeBERTa, whose padded queries attend nothing); 0 where attended, `f32::MIN` elsewhere.
    pub mask: Tensor<4>,
    /// DeBERTa's relative positions (`None` for the other families).
    pub relative: Option<RelativePositions>,
    /// ModernBERT's rotary tables (`None` for the other families).
    pub rotary: Option<super::modern::RotaryTables>,
    /// ModernBERT's mask of its local layers, `[B, 1, T, T]` (`None` for the other families).
    pub local_mask: Option<Tensor<4>>,
}

/// The relative-position inputs every layer shares.
#[derive(Debug, Clone)]
pub struct RelativePositions {
    /// The relative-position embeddings `[2S, H]` (normalised when `norm_rel_ebd` says so).
    pub embeddings: Tensor<2>,
    /// `c2p` gather indices `[T, T]` (see [`Disentangled::gather_indices`]).
    pub c2p: Tensor<2, Int>,
    /// `p2c` gather indices `[T, T]`.
    pub p2c: Tensor<2, Int>,
}

impl RelativePositions {
    /// The inputs for a length-`t` sequence from the (normalised) embeddings.
    pub fn new(settings: &Disentangled, embeddings: Tensor<2>, t: usize) -> Self {
        let device = embeddings.device();
        let (c2p, p2c) = settings.gather_indices(t);
        let index = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [t, t]), &device);
        Self { embeddings, c2p: index(c2p), p2c: index(p2c) }
    }
}

/// DeBERTa-v2's convolution after the first layer (`encoder.conv`, when `conv_kernel_size` > 0):
/// `LayerNorm(layer₀(x) + act(dropout(conv(x))))` with padding zeroed before and after.
#[derive(Module, Debug)]
pub struct ConvLayer {
    /// `encoder.conv.conv`: Conv1d(H, H, kernel, padding (kernel − 1)/2, groups).
    pub conv: Conv1d,
    /// `encoder.conv.LayerNorm`.
    pub layer_norm: LayerNorm,
    /// `hidden_dropout_prob`.
    pub dropout: Dropout,
    /// `conv_act` (tanh by default).
    #[module(skip)]
    pub activation: HiddenAct,
}

/// `conv_kernel_size`, `conv_groups` and `conv_act` of a config (`None` without a convolution).
pub fn conv_settings(config: &BertConfig) -> Result<Option<(usize, usize, HiddenAct)>, String> {
    let kernel = config.extra.get("conv_kernel_size").and_then(|v| v.as_i64()).unwrap_or(0);
    if kernel <= 0 {
        return Ok(None);
    }
    let groups = config.extra.get("conv_groups").and_then(|v| v.as_i64()).unwrap_or(1);
    let h = config.hidden_size as i64;
    if groups < 1 || h % groups != 0 {
        return Err(format!("conv_groups {groups} does not divide hidden_size {h}"));
    }
    if kernel % 2 == 0 || kernel > 1024 {
        return Err(format!("conv_kernel_size {kernel} is not supported; give an odd size (DeBERTa-v2 uses 3)"));
    }
    let act = config.extra_str("conv_act").unwrap_or("tanh");
    let act =
        HiddenAct::parse(act).ok_or_else(|| format!("conv_act \"{act}\" is not supported; use gelu, relu or tanh"))?;
    Ok(Some((kernel as usize, groups as usize, act)))
}

impl ConvLayer {
    /// The convolution of `config` (which must have one: see [`conv_settings`]).
    pub fn new(
        config: &BertConfig,
        (kernel, groups, activation): (usize, usize, HiddenAct),
        init: &mut Init,
        device: &Device,
    ) -> Self {
        let h = config.hidden_size;
        let pad = (kernel - 1) / 2;
        Self {
            conv: Conv1d {
                weight: Param::from_tensor(init.tensor([h, h / groups, kernel], device)),
                bias: Some(Param::from_tensor(Tensor::zeros([h], device))),
                stride: 1,
                kernel_size: kernel,
                dilation: 1,
                groups,
                padding: PaddingConfig1d::Explicit(pad, pad),
            },
            layer_norm: Init::layer_norm(h, config.layer_norm_eps, device),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            activation,
        }
    }

    /// # Shapes
    /// - `input`: the first layer's input `[B, T, H]`; `output`: its output `[B, T, H]`
    /// - `input_mask`: `[B, T]`, 1 on real tokens
    /// - returns `[B, T, H]`, zero on padding
    pub fn forward(&self, input: Tensor<3>, output: Tensor<3>, input_mask: Tensor<2>) -> Tensor<3> {
        let [b, t, h] = input.dims();
        let padding = input_mask.clone().equal_elem(0.0).unsqueeze_dim::<3>(2).expand([b, t, h]);
        let out = self.conv.forward(input.swap_dims(1, 2)).swap_dims(1, 2).mask_fill(padding, 0.0); // [B, T, H]
        let out = super::layer::activate(self.activation, self.dropout.forward(out));
        self.layer_norm.forward(output + out) * input_mask.unsqueeze_dim::<3>(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(buckets: usize, max: usize) -> Disentangled {
        Disentangled {
            c2p: true,
            p2c: true,
            relative: true,
            share_att_key: true,
            position_buckets: buckets,
            max_relative_positions: max,
            norm_rel_ebd: true,
        }
    }

    /// transformers' `make_log_bucket_position(torch.arange(0, 71), 8, 64)` as PyTorch 2.15 prints it:
    /// the identity within ±4, then 5 (to 10), 6 (to 25), 7 (to 63), 8 beyond; odd in δ.
    #[test]
    fn log_buckets_match_pytorch() {
        let s = settings(8, 64);
        for rel in 0..=70i64 {
            let want = match rel {
                0..=4 => rel,
                5..=10 => 5,
                11..=25 => 6,
                26..=63 => 7,
                _ => 8,
            };
            assert_eq!(log_bucket(rel, 8, 64), want, "δ = {rel}");
            assert_eq!(log_bucket(-rel, 8, 64), -want, "δ = -{rel}");
        }
        assert_eq!(s.span(), 8);
        let (c2p, p2c) = s.gather_indices(3);
        assert_eq!(c2p, [8, 7, 6, 9, 8, 7, 10, 9, 8]);
        assert_eq!(p2c, [8, 9, 10, 7, 8, 9, 6, 7, 8]);
    }

    #[test]
    fn without_buckets_positions_are_clamped_to_the_span() {
        let s = settings(0, 2);
        assert_eq!(s.span(), 2);
        let (c2p, _) = s.gather_indices(4);
        // δ = i − j in −3..=3, shifted by S = 2 and clamped to 0..=3.
        assert_eq!(&c2p[..4], &[2, 1, 0, 0]);
        assert_eq!(&c2p[12..], &[3, 3, 3, 2]);
        assert_eq!(s.scale_factor(), 3);
    }
}
