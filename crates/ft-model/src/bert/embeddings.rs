//! `BertEmbeddings`: word + position + token-type embeddings, then LayerNorm and dropout
//! (transformers' `BertEmbeddings.forward`, absolute positions), with what the other families change:
//! RoBERTa's positions after the padding index, DistilBERT's missing token types, ELECTRA's
//! projection to the hidden size, DeBERTa's missing position table and zeroed padding (see
//! [`crate::family`]).

use crate::BertConfig;
use crate::family::Positions;
use crate::init::Init;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, Linear};
use burn::tensor::{Device, Int, Tensor};

/// The embedding block. Field names are the checkpoint's (`embeddings.word_embeddings.weight`, …).
/// `E` is the embedding width: `H`, except ELECTRA's `embedding_size`.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// `[vocab_size, E]`.
    pub word_embeddings: Embedding,
    /// `[max_position_embeddings, E]` (`None` for DeBERTa without `position_biased_input`).
    pub position_embeddings: Option<Embedding>,
    /// `[type_vocab_size, E]` (`None` for DistilBERT, which has no token types).
    pub token_type_embeddings: Option<Embedding>,
    /// `embeddings.LayerNorm` in the checkpoint.
    pub layer_norm: LayerNorm,
    /// `hidden_dropout_prob`.
    pub dropout: Dropout,
    /// ELECTRA's `embeddings_project`, Linear(E, H), after the dropout (`None` when `E = H`).
    pub project: Option<Linear>,
    /// How position ids follow from the input ids (a setting, not a parameter).
    #[module(skip)]
    pub positions: Positions,
    /// DeBERTa multiplies the embeddings by the attention mask (padding becomes zero); applied by
    /// [`crate::BertModel`], which holds the mask.
    #[module(skip)]
    pub mask_padding: bool,
    /// `pad_token_id`: as transformers' `nn.Embedding(padding_idx=pad_token_id)`, its row of
    /// `word_embeddings` gets no gradient (its value is used as it is).
    pub pad_token_id: Option<usize>,
    /// Prompt tuning's virtual tokens, `[num_virtual_tokens, H]`, put before the word embeddings of
    /// every row (PEFT's `prompt_encoder.embedding`; `None` without prompt tuning, see
    /// [`crate::peft::prompt`]).
    pub prompt: Option<Embedding>,
}

impl BertEmbeddings {
    /// Builds the block with fresh (or placeholder) weights.
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        let (e, h) = (config.embedding_width(), config.hidden_size);
        let positions = config.family().positions(config);
        let position_pad = match positions {
            Positions::AfterPadding { pad } => Some(pad),
            Positions::FromZero | Positions::None => None,
        };
        Self {
            word_embeddings: init.embedding(config.vocab_size, e, config.pad_token_id, device),
            position_embeddings: (positions != Positions::None)
                .then(|| init.embedding(config.max_position_embeddings, e, position_pad, device)),
            token_type_embeddings: (config.type_vocab_size > 0)
                .then(|| init.embedding(config.type_vocab_size, e, None, device)),
            layer_norm: Init::layer_norm_with(
                e,
                config.layer_norm_eps,
                config.modern().is_none_or(|m| m.norm_bias),
                device,
            ),
            dropout: DropoutConfig::new(config.family().embedding_dropout(config)).init(),
            project: (e != h).then(|| init.linear(e, h, device)),
            positions,
            mask_padding: config.family() == crate::Family::DebertaV2,
            pad_token_id: config.pad_token_id,
            prompt: None,
        }
    }

    /// Virtual tokens put before each row (0 without prompt tuning).
    pub fn num_virtual_tokens(&self) -> usize {
        self.prompt.as_ref().map_or(0, |p| p.weight.dims()[0])
    }

    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[B, T]`, `P + T ≤ max_position_embeddings` with `P`
    ///   virtual tokens
    /// - output: `[B, P + T, H]`: with prompt tuning, as PEFT feeds BERT `inputs_embeds` =
    ///   `[prompt; words]` — the virtual tokens take positions 0..P and token type 0, the text
    ///   positions P..P+T
    pub fn forward(&self, input_ids: Tensor<2, Int>, token_type_ids: Tensor<2, Int>) -> Tensor<3> {
        let words = self.words(input_ids.clone());
        self.forward_words(words, token_type_ids, input_ids)
    }

    /// The word embeddings of `input_ids` `[B, T]` → `[B, T, E]` (what [`BertEmbeddings::forward`] adds
    /// the positions and token types to).
    pub fn words(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        lookup(&self.word_embeddings, input_ids, self.pad_token_id)
    }

    /// [`BertEmbeddings::forward`] from the word embeddings `words` `[B, T, E]` (looked up by
    /// [`BertEmbeddings::words`], or transformers' `inputs_embeds`): virtual tokens, positions and token
    /// types added, LayerNorm, dropout (and ELECTRA's projection to `H`). `input_ids` `[B, T]` give
    /// RoBERTa's positions (which skip padding).
    pub fn forward_words(
        &self,
        words: Tensor<3>,
        token_type_ids: Tensor<2, Int>,
        input_ids: Tensor<2, Int>,
    ) -> Tensor<3> {
        let [b, t, _] = words.dims();
        let virtual_tokens = self.num_virtual_tokens();
        let (words, token_type_ids, t) = match &self.prompt {
            None => (words, token_type_ids, t),
            Some(prompt) => {
                let [p, h] = prompt.weight.dims();
                let virtual_tokens = prompt.weight.val().unsqueeze_dim::<3>(0).expand([b, p, h]);
                let types = Tensor::<2, Int>::zeros([b, p], &token_type_ids.device());
                (Tensor::cat(vec![virtual_tokens, words], 1), Tensor::cat(vec![types, token_type_ids], 1), p + t)
            }
        };
        // transformers' order: words + token types, then + positions.
        let words = match &self.token_type_embeddings {
            Some(table) => words + table.forward(token_type_ids), // [B, T, E]
            None => words,
        };
        let embeddings = match (&self.position_embeddings, self.positions) {
            (None, _) | (_, Positions::None) => words,
            // Positions 0..T are the first T rows of the table: [T, E] → [1, T, E], broadcast over B.
            (Some(table), Positions::FromZero) => words + table.weight.val().narrow(0, 0, t).unsqueeze_dim::<3>(0),
            // With virtual tokens PEFT feeds RoBERTa `inputs_embeds`, whose positions transformers
            // numbers pad+1, pad+2, … whatever the padding (`create_position_ids_from_inputs_embeds`).
            (Some(table), Positions::AfterPadding { pad }) if virtual_tokens > 0 => {
                words + table.weight.val().narrow(0, pad + 1, t).unsqueeze_dim::<3>(0)
            }
            // transformers' `create_position_ids_from_input_ids`: count the real tokens (cumsum of
            // the non-padding mask), add the padding index; padding keeps the padding row.
            (Some(table), Positions::AfterPadding { pad }) => {
                let real = input_ids.not_equal_elem(pad as i64).int(); // [B, T]
                let ids = real.clone().cumsum(1) * real + pad as i64;
                words + lookup(table, ids, Some(pad))
            }
        };
        let hidden = self.dropout.forward(self.layer_norm.forward(embeddings));
        match &self.project {
            Some(project) => project.forward(hidden), // [B, T, H]
            None => hidden,
        }
    }
}

/// `table[ids]` `[B, T]` → `[B, T, E]`, as `nn.Embedding(padding_idx=pad)`: the `pad` row's value is
/// used but gets no gradient. It matters where padding positions reach the loss (a QA head's softmax
/// runs over every position).
fn lookup(table: &Embedding, ids: Tensor<2, Int>, pad: Option<usize>) -> Tensor<3> {
    let rows = table.forward(ids.clone()); // [B, T, E]
    match pad {
        Some(pad) => {
            let [b, t, e] = rows.dims();
            let is_pad = ids.equal_elem(pad as i64).unsqueeze_dim::<3>(2).expand([b, t, e]);
            rows.clone().mask_where(is_pad, rows.detach())
        }
        None => rows,
    }
}
