//! `BertPooler` and `BertModel`: embeddings → encoder → (last_hidden_state, pooler_output)
//! (transformers' `BertModel.forward`; the pooler is optional, as its `add_pooling_layer`).

use super::embeddings::BertEmbeddings;
use super::layer::BertEncoder;
use crate::init::Init;
use crate::peft::lora::{LoraBranch, forward_with};
use crate::{BertConfig, HiddenAct, ModelError};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::{Device, Int, Tensor};

/// `pooler`: dense + tanh on the first token (`[CLS]`). Also the other families' sequence-head
/// dense layer on `[CLS]` (RoBERTa's `classifier.dense`, DistilBERT's `pre_classifier`), with their
/// activation and dropout (see [`crate::family`]).
#[derive(Module, Debug)]
pub struct BertPooler {
    /// `pooler.dense`.
    pub dense: Linear,
    /// LoRA branch of `dense` (only when `--lora-targets` names it: PEFT's `dense` matches it).
    pub dense_lora: Option<LoraBranch>,
    /// Dropout on `[CLS]` before `dense` (RoBERTa's and ELECTRA's heads; probability 0 otherwise).
    pub dropout: Dropout,
    /// tanh for BERT and RoBERTa, ReLU for DistilBERT, GELU for ELECTRA, `pooler_hidden_act` for DeBERTa.
    #[module(skip)]
    pub activation: HiddenAct,
    /// Whether this dense layer is part of transformers' classification head rather than of the
    /// encoder (RoBERTa's `classifier.dense`, DistilBERT's `pre_classifier`, ELECTRA's
    /// `classifier.dense`): freezing the encoder leaves it trainable, as freezing `model.roberta`
    /// does in transformers.
    #[module(skip)]
    pub in_head: bool,
    /// ModernBERT's `head.norm`, after the activation.
    pub norm: Option<LayerNorm>,
    /// ModernBERT's `classifier_pooling: mean`: the dense layer reads the mean of the real tokens'
    /// states instead of the first token's.
    #[module(skip)]
    pub mean: bool,
}

impl BertPooler {
    /// The pooler of `config`'s family around `dense` (ModernBERT's without its bias unless
    /// `classifier_bias`, and with its `head.norm`).
    pub fn new(config: &BertConfig, mut dense: Linear) -> Self {
        let family = config.family();
        let modern = config.modern();
        let device = dense.weight.device();
        if modern.as_ref().is_some_and(|m| !m.classifier_bias) {
            dense.bias = None;
        }
        Self {
            dense,
            dense_lora: None,
            dropout: DropoutConfig::new(family.pooler_dropout(config)).init(),
            activation: family.pooler_activation(config),
            in_head: family != crate::Family::Bert,
            norm: modern.as_ref().map(|m| {
                crate::init::Init::layer_norm_with(config.hidden_size, config.layer_norm_eps, m.norm_bias, &device)
            }),
            mean: modern.is_some_and(|m| m.mean_pooling),
        }
    }

    /// `[B, T, H]` and the real-token mask `[B, T]` (1 real, 0 padding) → `[B, H]`.
    pub fn forward(&self, hidden: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
        let [b, t, h] = hidden.dims();
        let pooled = match self.mean {
            // ModernBERT's `classifier_pooling: mean`: Σ h·m / Σ m.
            true => {
                let m = mask.reshape([b, t, 1]);
                (hidden * m.clone()).sum_dim(1).reshape([b, h]) / m.sum_dim(1).reshape([b, 1])
            }
            false => hidden.slice([0..b, 0..1]).reshape([b, h]),
        };
        self.forward_first(pooled)
    }

    /// ModernBERT's `head` on every token (its token and QA heads): `[B, T, H]` → `[B, T, H]`.
    pub fn transform(&self, hidden: Tensor<3>) -> Tensor<3> {
        let hidden = self.dropout.forward(hidden);
        let out = super::layer::activate(self.activation, forward_with(&self.dense, &self.dense_lora, hidden));
        match &self.norm {
            Some(norm) => norm.forward(out),
            None => out,
        }
    }

    /// [`BertPooler::forward`] from the first token's state `[B, H]` (what cached features hold when
    /// this layer trains with the head) → `[B, H]`.
    pub fn forward_first(&self, first: Tensor<2>) -> Tensor<2> {
        let first = self.dropout.forward(first);
        let out = super::layer::activate(self.activation, forward_with(&self.dense, &self.dense_lora, first));
        match &self.norm {
            Some(norm) => norm.forward(out),
            None => out,
        }
    }
}

/// What [`BertModel::forward`] returns.
#[derive(Debug, Clone)]
pub struct BertOutputs {
    /// `[B, T, H]`.
    pub last_hidden_state: Tensor<3>,
    /// `[B, H]`: the pooler applied to `[CLS]` (`None` for an encoder built without one).
    pub pooler_output: Option<Tensor<2>>,
}

/// The BERT encoder, with or without its pooler.
#[derive(Module, Debug)]
pub struct BertModel {
    /// `embeddings`.
    pub embeddings: BertEmbeddings,
    /// `encoder`.
    pub encoder: BertEncoder,
    /// `pooler` (absent under heads that read every token, as transformers' `add_pooling_layer=False`).
    pub pooler: Option<BertPooler>,
    /// The most tokens an input may have (`max_position_embeddings`, less RoBERTa's padding rows),
    /// to refuse longer inputs with a clear error.
    pub max_position_embeddings: usize,
    /// `hidden_size` (`H`): the width of every hidden state (ELECTRA's embeddings may be narrower).
    pub hidden_size: usize,
    /// The family the checkpoint came from: its tensor names are the ones PEFT files use.
    #[module(skip)]
    pub family: crate::Family,
}

impl BertModel {
    /// Builds the encoder and its pooler with weights from `init` (seeded normal, or zeros before a
    /// checkpoint load).
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        Self::build(config, true, init, device)
    }

    /// Builds the encoder, with a pooler when `pooler` is set; `init` fills the weights in the order
    /// embeddings, layers, pooler.
    pub fn build(config: &BertConfig, pooler: bool, init: &mut Init, device: &Device) -> Self {
        let embeddings = BertEmbeddings::new(config, init, device);
        let encoder = BertEncoder::new(config, init, device);
        let pooler =
            pooler.then(|| BertPooler::new(config, init.linear(config.hidden_size, config.hidden_size, device)));
        Self {
            embeddings,
            encoder,
            pooler,
            max_position_embeddings: config.max_tokens(),
            hidden_size: config.hidden_size,
            family: config.family(),
        }
    }

    /// `mask` `[B, T]` with a 1 put first for each virtual token of prompt tuning (`[B, P + T]`): the
    /// mask of the hidden states [`BertModel::forward`] returns.
    pub fn with_virtual_tokens(&self, mask: Tensor<2, Int>) -> Tensor<2, Int> {
        match self.embeddings.num_virtual_tokens() {
            0 => mask,
            p => {
                let [b, _] = mask.dims();
                let ones = Tensor::<2, Int>::ones([b, p], &mask.device());
                Tensor::cat(vec![ones, mask], 1)
            }
        }
    }

    /// Runs the encoder.
    ///
    /// `token_type_ids` defaults to zeros and `attention_mask` (1 = real token, 0 = padding) to ones,
    /// as in transformers.
    ///
    /// # Shapes
    /// - `input_ids`, `token_type_ids`, `attention_mask`: `[B, T]`
    /// - output: `last_hidden_state` `[B, T, H]`, `pooler_output` `[B, H]` (when there is a pooler)
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Result<BertOutputs, ModelError> {
        self.forward_embeds(input_ids, token_type_ids, attention_mask, None)
    }

    /// [`BertModel::forward`] with the word embeddings given (`inputs_embeds` `[B, T, H]`, as
    /// transformers' argument of that name) instead of looked up from `input_ids`, which still gives
    /// the shape; `None` looks them up.
    pub fn forward_embeds(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
        inputs_embeds: Option<Tensor<3>>,
    ) -> Result<BertOutputs, ModelError> {
        let (embedded, mask, input_mask) = self.embed(input_ids, token_type_ids, attention_mask, inputs_embeds)?;
        let last_hidden_state = self.encoder.forward(embedded, mask, input_mask.clone());
        let pooler_output = self.pooler.as_ref().map(|p| p.forward(last_hidden_state.clone(), input_mask.clone()));
        Ok(BertOutputs { last_hidden_state, pooler_output })
    }

    /// Every layer's attention probabilities `[B, heads, T, T]` for the inputs of
    /// [`BertModel::forward`], first layer first (transformers' `output_attentions=True`; before
    /// dropout, which the model in eval mode does not apply anyway).
    pub fn attentions(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Result<Vec<Tensor<4>>, ModelError> {
        let (embedded, mask, input_mask) = self.embed(input_ids, token_type_ids, attention_mask, None)?;
        Ok(self.encoder.forward_attentions(embedded, mask, input_mask).1)
    }

    /// The inputs checked, embedded, the additive mask the layers take, and the real-token mask
    /// `[B, P + T]` as floats.
    fn embed(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
        inputs_embeds: Option<Tensor<3>>,
    ) -> Result<(Tensor<3>, Tensor<4>, Tensor<2>), ModelError> {
        let dims = input_ids.dims();
        let [b, t] = dims;
        if t == 0 || b == 0 {
            return Err(ModelError::Input(format!("input_ids has shape {dims:?}; it needs at least one token")));
        }
        let p = self.embeddings.num_virtual_tokens();
        if p + t > self.max_position_embeddings {
            let virtual_tokens = if p > 0 { format!(" after {p} virtual tokens") } else { String::new() };
            return Err(ModelError::Input(format!(
                "input_ids has {t} tokens{virtual_tokens} but the model has positions for {} (max_position_embeddings); truncate to at most {} tokens",
                self.max_position_embeddings,
                self.max_position_embeddings - p
            )));
        }
        let device = input_ids.device();
        for (name, tensor) in [("token_type_ids", &token_type_ids), ("attention_mask", &attention_mask)] {
            if let Some(tensor) = tensor
                && tensor.dims() != dims
            {
                return Err(ModelError::Input(format!(
                    "{name} has shape {:?} but input_ids has {dims:?}; they must match",
                    tensor.dims()
                )));
            }
        }
        let [_, h] = self.embeddings.word_embeddings.weight.dims();
        if let Some(embeds) = &inputs_embeds
            && embeds.dims() != [b, t, h]
        {
            return Err(ModelError::Input(format!(
                "inputs_embeds has shape {:?} but input_ids has {dims:?} and the model's embeddings are {h} wide: expected {:?}",
                embeds.dims(),
                [b, t, h]
            )));
        }
        let token_type_ids = token_type_ids.unwrap_or_else(|| Tensor::zeros([b, t], &device));
        // Virtual tokens are attended like real ones (PEFT prepends ones to the mask).
        let attention_mask = match (attention_mask, p) {
            (Some(mask), p) if p > 0 => Some(Tensor::cat(vec![Tensor::ones([b, p], &device), mask], 1)),
            (mask, _) => mask,
        };
        let input_mask = match &attention_mask {
            Some(mask) => mask.clone().float(),
            None => Tensor::ones([b, p + t], &device),
        };
        let mask = additive_mask(attention_mask, [b, p + t], self.encoder.disentangled.is_some(), &device);
        let words = match inputs_embeds {
            Some(embeds) => embeds,
            None => self.embeddings.words(input_ids.clone()),
        };
        let embedded = self.embeddings.forward_words(words, token_type_ids, input_ids);
        // DeBERTa zeroes padding after its LayerNorm and before its dropout; the two commute.
        let embedded = match self.embeddings.mask_padding {
            true => embedded * input_mask.clone().unsqueeze_dim::<3>(2),
            false => embedded,
        };
        Ok((embedded, mask, input_mask))
    }
}

/// HF's extended attention mask: `(1 - mask) * finfo(float32).min`, shaped `[B, 1, 1, T]` to broadcast
/// over heads and query positions (`get_extended_attention_mask`). DeBERTa's (`pairwise`) masks query
/// and key both: `[B, 1, T, T]`, open where both are real tokens (its `get_attention_mask`; a padded
/// query then attends every key alike, as `masked_fill` with the same minimum makes it do).
fn additive_mask(
    attention_mask: Option<Tensor<2, Int>>,
    [b, t]: [usize; 2],
    pairwise: bool,
    device: &Device,
) -> Tensor<4> {
    match attention_mask {
        Some(mask) if pairwise => {
            let mask = mask.float();
            let pairs = mask.clone().reshape([b, 1, t, 1]) * mask.reshape([b, 1, 1, t]); // [B, 1, T, T]
            (pairs.neg() + 1.0).mul_scalar(f32::MIN)
        }
        Some(mask) => (mask.float().neg() + 1.0).mul_scalar(f32::MIN).reshape([b, 1, 1, t]),
        None => Tensor::zeros([b, 1, 1, t], device),
    }
}
