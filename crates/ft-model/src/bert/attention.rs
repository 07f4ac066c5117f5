//! Multi-head self-attention with HF's additive padding mask, and its output block
//! (transformers' `BertSelfAttention`, `BertSelfOutput`, `BertAttention`); DeBERTa's relative-position
//! scores join the content scores here (see [`super::disentangled`]).

use super::disentangled::{AttentionBias, Disentangled};
use super::modern::RotaryKind;
use crate::BertConfig;
use crate::init::Init;
use crate::peft::bottleneck::Bottleneck;
use crate::peft::lora::{LoraBranch, forward_with};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Q, K, V projections and scaled dot-product attention.
#[derive(Module, Debug)]
pub struct BertSelfAttention {
    /// `attention.self.query`.
    pub query: Linear,
    /// `attention.self.key`.
    pub key: Linear,
    /// `attention.self.value`.
    pub value: Linear,
    /// LoRA branch of `query` (`None` without LoRA; see [`crate::peft::lora`]).
    pub query_lora: Option<LoraBranch>,
    /// LoRA branch of `key`.
    pub key_lora: Option<LoraBranch>,
    /// LoRA branch of `value`.
    pub value_lora: Option<LoraBranch>,
    /// One LoRA branch over the three projections at once, `H → 3H` (ModernBERT's fused `Wqkv`, as
    /// PEFT adapts it: one A for the three, B's rows split into query, key and value).
    pub qkv_lora: Option<LoraBranch>,
    /// Prefix tuning's learned keys, `[P, H]`, put before the layer's keys (`None` without prefix
    /// tuning; see [`crate::peft::prefix`]).
    pub prefix_key: Option<Param<Tensor<2>>>,
    /// Prefix tuning's learned values, `[P, H]`.
    pub prefix_value: Option<Param<Tensor<2>>>,
    /// `attention_probs_dropout_prob`, on the attention probabilities.
    pub dropout: Dropout,
    /// DeBERTa's `pos_key_proj` (relative attention with `c2p` and no `share_att_key`).
    pub pos_key_proj: Option<Linear>,
    /// DeBERTa's `pos_query_proj` (relative attention with `p2c` and no `share_att_key`).
    pub pos_query_proj: Option<Linear>,
    /// DeBERTa's `pos_dropout` (`hidden_dropout_prob`) on the relative-position embeddings.
    pub pos_dropout: Dropout,
    /// DeBERTa's settings (`None` for the other families).
    #[module(skip)]
    pub disentangled: Option<Disentangled>,
    /// ModernBERT's rotary positions and which of its layers this is (global or local; `None` for
    /// the other families).
    #[module(skip)]
    pub rotary: Option<RotaryKind>,
    /// Number of heads.
    pub num_attention_heads: usize,
    /// Width of one head.
    pub attention_head_size: usize,
}

impl BertSelfAttention {
    /// Builds the projections of layer `index` with fresh (or placeholder) weights.
    pub fn new(config: &BertConfig, index: usize, init: &mut Init, device: &Device) -> Self {
        let h = config.hidden_size;
        let disentangled = config.disentangled();
        let separate = disentangled.filter(|d| d.relative && !d.share_att_key);
        let modern = config.modern();
        let bias = modern.as_ref().is_none_or(|m| m.attention_bias);
        Self {
            query: init.linear_with(h, h, bias, device),
            key: init.linear_with(h, h, bias, device),
            value: init.linear_with(h, h, bias, device),
            pos_key_proj: separate.filter(|d| d.c2p).map(|_| init.linear(h, h, device)),
            pos_query_proj: separate.filter(|d| d.p2c).map(|_| init.linear(h, h, device)),
            pos_dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            disentangled,
            rotary: modern.map(|m| match m.local.get(index) {
                Some(true) => RotaryKind::Local,
                _ => RotaryKind::Global,
            }),
            query_lora: None,
            key_lora: None,
            value_lora: None,
            qkv_lora: None,
            prefix_key: None,
            prefix_value: None,
            dropout: DropoutConfig::new(config.attention_probs_dropout_prob).init(),
            num_attention_heads: config.num_attention_heads,
            attention_head_size: config.head_dim(),
        }
    }

    /// # Shapes
    /// - `hidden`: `[B, T, H]`
    /// - `bias.mask`: `[B, 1, 1, T]` or `[B, 1, T, T]`, additive: 0 where attended, a large negative
    ///   number on padding
    /// - output: `[B, T, H]`
    pub fn forward(&self, hidden: Tensor<3>, bias: &AttentionBias) -> Tensor<3> {
        self.forward_probs(hidden, bias).0
    }

    /// [`BertSelfAttention::forward`] and the attention probabilities `[B, heads, T, P + T]` (before
    /// their dropout; `P` prefix positions under prefix tuning): transformers' `output_attentions`.
    pub fn forward_probs(&self, hidden: Tensor<3>, bias: &AttentionBias) -> (Tensor<3>, Tensor<4>) {
        // ModernBERT's local layers see only a window around each query.
        let mask = match (self.rotary, &bias.local_mask) {
            (Some(RotaryKind::Local), Some(local)) => local.clone(),
            _ => bias.mask.clone(),
        };
        let [b, t, h] = hidden.dims();
        let (nh, hd) = (self.num_attention_heads, self.attention_head_size);
        let split = |x: Tensor<3>| x.reshape([b, t, nh, hd]).swap_dims(1, 2); // [B, nh, T, hd]
        let q = forward_with(&self.query, &self.query_lora, hidden.clone());
        let k = forward_with(&self.key, &self.key_lora, hidden.clone());
        let v = forward_with(&self.value, &self.value_lora, hidden.clone());
        let (q, k, v) = match &self.qkv_lora {
            Some(branch) => {
                let delta = branch.forward(hidden); // [B, T, 3H]
                (q + delta.clone().narrow(2, 0, h), k + delta.clone().narrow(2, h, h), v + delta.narrow(2, 2 * h, h))
            }
            None => (q, k, v),
        };
        let q = split(q);
        // Prefix tuning: learned keys and values before the text's, attended by every query.
        let (k, v, mask) = match (&self.prefix_key, &self.prefix_value) {
            (Some(pk), Some(pv)) => {
                let [p, _] = pk.dims();
                let prefix = |x: &Param<Tensor<2>>| x.val().unsqueeze_dim::<3>(0).expand([b, p, h]);
                let open = Tensor::<4>::zeros([b, 1, mask.dims()[2], p], &mask.device());
                (
                    Tensor::cat(vec![prefix(pk), k], 1),
                    Tensor::cat(vec![prefix(pv), v], 1),
                    Tensor::cat(vec![open, mask], 3),
                )
            }
            _ => (k, v, mask),
        };
        let heads = |x: Tensor<3>| {
            let [_, n, _] = x.dims();
            x.reshape([b, n, nh, hd]).swap_dims(1, 2) // [B, nh, n, hd]
        };
        let (q, k, v) = match (self.rotary, &bias.rotary) {
            (Some(kind), Some(tables)) => {
                let table = tables.get(kind);
                (table.apply(q), table.apply(heads(k)), heads(v))
            }
            _ => (q, heads(k), heads(v)),
        };
        let scale_factor = self.disentangled.map_or(1, |d| d.scale_factor());
        let scale = (hd as f64 * scale_factor as f64).sqrt();
        let mut scores = q.clone().matmul(k.clone().swap_dims(2, 3)) / scale; // [B, nh, T, T]
        if let Some(relative) = self.relative_scores(q, k, bias, scale) {
            scores = scores + relative;
        }
        let probs = softmax(scores + mask, 3);
        let out = self.dropout.forward(probs.clone()).matmul(v).swap_dims(1, 2).reshape([b, t, h]); // [B, T, H]
        (out, probs)
    }
}

impl BertSelfAttention {
    /// DeBERTa's `disentangled_attention_bias`: the `c2p` and `p2c` scores `[B, nh, T, T]`, each
    /// divided by `scale` (`None` without relative attention).
    ///
    /// `q`, `k`: `[B, nh, T, hd]`.
    fn relative_scores(&self, q: Tensor<4>, k: Tensor<4>, bias: &AttentionBias, scale: f64) -> Option<Tensor<4>> {
        let settings = self.disentangled.filter(|d| d.relative && (d.c2p || d.p2c))?;
        let relative = bias.relative.as_ref()?;
        let [b, nh, t, hd] = q.dims();
        let rel = self.pos_dropout.forward(relative.embeddings.clone()).unsqueeze_dim::<3>(0); // [1, 2S, H]
        let [_, s2, _] = rel.dims();
        // [1, 2S, H] → [B, nh, 2S, hd]: the position keys/queries of every head.
        let heads = |x: Tensor<3>| x.reshape([1, s2, nh, hd]).swap_dims(1, 2).expand([b, nh, s2, hd]);
        let index = |i: &Tensor<2, burn::tensor::Int>| i.clone().unsqueeze::<4>().expand([b, nh, t, t]);
        let mut score: Option<Tensor<4>> = None;
        if settings.c2p {
            let pos_key = match (&self.pos_key_proj, settings.share_att_key) {
                (Some(proj), false) => proj.forward(rel.clone()),
                _ => forward_with(&self.key, &self.key_lora, rel.clone()),
            };
            // q · P_kᵀ [B, nh, T, 2S], then row i takes column c2p[i][j] for key j.
            let c2p = q.matmul(heads(pos_key).swap_dims(2, 3)).gather(3, index(&relative.c2p)) / scale;
            score = Some(c2p);
        }
        if settings.p2c {
            let pos_query = match (&self.pos_query_proj, settings.share_att_key) {
                (Some(proj), false) => proj.forward(rel),
                _ => forward_with(&self.query, &self.query_lora, rel),
            };
            // k · P_qᵀ [B, nh, T, 2S], gathered per key row, then transposed to [query, key].
            let p2c =
                k.matmul(heads(pos_query).swap_dims(2, 3)).gather(3, index(&relative.p2c)).swap_dims(2, 3) / scale;
            score = Some(match score {
                Some(c2p) => c2p + p2c,
                None => p2c,
            });
        }
        score
    }
}

/// `attention.output`: dense, dropout, residual, LayerNorm.
#[derive(Module, Debug)]
pub struct BertSelfOutput {
    /// `attention.output.dense`.
    pub dense: Linear,
    /// LoRA branch of `dense`.
    pub dense_lora: Option<LoraBranch>,
    /// Houlsby's bottleneck adapter after the dense (`None` without one; see
    /// [`crate::peft::bottleneck`]).
    pub adapter: Option<Bottleneck>,
    /// `attention.output.LayerNorm` (`None` for ModernBERT, whose layers normalise first).
    pub layer_norm: Option<LayerNorm>,
    /// `hidden_dropout_prob` (0 for DistilBERT, which has no dropout here).
    pub dropout: Dropout,
}

impl BertSelfOutput {
    /// Builds the block with fresh (or placeholder) weights.
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        let h = config.hidden_size;
        let modern = config.modern();
        Self {
            dense: init.linear_with(h, h, modern.as_ref().is_none_or(|m| m.attention_bias), device),
            dense_lora: None,
            adapter: None,
            // ModernBERT normalises before the attention (its layer's `attn_norm`), not after.
            layer_norm: modern.is_none().then(|| Init::layer_norm(h, config.layer_norm_eps, device)),
            dropout: DropoutConfig::new(config.family().attention_output_dropout(config)).init(),
        }
    }

    /// `LayerNorm(dropout(dense(hidden)) + input)`; all `[B, T, H]` (without the LayerNorm when
    /// there is none).
    pub fn forward(&self, hidden: Tensor<3>, input: Tensor<3>) -> Tensor<3> {
        let out = self.dropout.forward(forward_with(&self.dense, &self.dense_lora, hidden));
        let sum = crate::peft::bottleneck::forward_with(&self.adapter, out) + input;
        match &self.layer_norm {
            Some(norm) => norm.forward(sum),
            None => sum,
        }
    }
}

/// Self-attention followed by its output block.
#[derive(Module, Debug)]
pub struct BertAttention {
    /// `attention.self` in the checkpoint (`self` is a Rust keyword).
    pub self_attention: BertSelfAttention,
    /// `attention.output`.
    pub output: BertSelfOutput,
}

impl BertAttention {
    /// Builds the block of layer `index` with fresh (or placeholder) weights.
    pub fn new(config: &BertConfig, index: usize, init: &mut Init, device: &Device) -> Self {
        Self {
            self_attention: BertSelfAttention::new(config, index, init, device),
            output: BertSelfOutput::new(config, init, device),
        }
    }

    /// `[B, T, H]` → `[B, T, H]`.
    pub fn forward(&self, hidden: Tensor<3>, bias: &AttentionBias) -> Tensor<3> {
        self.forward_probs(hidden, bias).0
    }

    /// [`BertAttention::forward`] and the attention probabilities (see
    /// [`BertSelfAttention::forward_probs`]).
    pub fn forward_probs(&self, hidden: Tensor<3>, bias: &AttentionBias) -> (Tensor<3>, Tensor<4>) {
        let (attended, probs) = self.self_attention.forward_probs(hidden.clone(), bias);
        (self.output.forward(attended, hidden), probs)
    }
}
