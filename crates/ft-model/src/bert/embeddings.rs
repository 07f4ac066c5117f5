//! `BertEmbeddings`: word + position + token-type embeddings, then LayerNorm and dropout
//! (transformers' `BertEmbeddings.forward`, absolute positions).

use crate::BertConfig;
use crate::init::Init;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm};
use burn::tensor::{Device, Int, Tensor};

/// The embedding block. Field names are the checkpoint's (`embeddings.word_embeddings.weight`, …).
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// `[vocab_size, H]`.
    pub word_embeddings: Embedding,
    /// `[max_position_embeddings, H]`.
    pub position_embeddings: Embedding,
    /// `[type_vocab_size, H]`.
    pub token_type_embeddings: Embedding,
    /// `embeddings.LayerNorm` in the checkpoint.
    pub layer_norm: LayerNorm,
    /// `hidden_dropout_prob`.
    pub dropout: Dropout,
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
        let h = config.hidden_size;
        Self {
            word_embeddings: init.embedding(config.vocab_size, h, config.pad_token_id, device),
            position_embeddings: init.embedding(config.max_position_embeddings, h, None, device),
            token_type_embeddings: init.embedding(config.type_vocab_size, h, None, device),
            layer_norm: Init::layer_norm(h, config.layer_norm_eps, device),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
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
        let words = self.words(input_ids);
        self.forward_words(words, token_type_ids)
    }

    /// The word embeddings of `input_ids` `[B, T]` → `[B, T, H]` (what [`BertEmbeddings::forward`] adds
    /// the positions and token types to).
    pub fn words(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let words = self.word_embeddings.forward(input_ids.clone()); // [B, T, H]
        // transformers' padding_idx: padding tokens add their row's value but send it no gradient. It
        // matters where padding positions reach the loss (a QA head's softmax runs over every position).
        match self.pad_token_id {
            Some(pad) => {
                let [b, t, h] = words.dims();
                let is_pad = input_ids.equal_elem(pad as i64).unsqueeze_dim::<3>(2).expand([b, t, h]);
                words.clone().mask_where(is_pad, words.detach())
            }
            None => words,
        }
    }

    /// [`BertEmbeddings::forward`] from the word embeddings `words` `[B, T, H]` (looked up by
    /// [`BertEmbeddings::words`], or transformers' `inputs_embeds`): virtual tokens, positions and token
    /// types added, LayerNorm, dropout.
    pub fn forward_words(&self, words: Tensor<3>, token_type_ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, t, _] = words.dims();
        let (words, token_type_ids, t) = match &self.prompt {
            None => (words, token_type_ids, t),
            Some(prompt) => {
                let [p, h] = prompt.weight.dims();
                let virtual_tokens = prompt.weight.val().unsqueeze_dim::<3>(0).expand([b, p, h]);
                let types = Tensor::<2, Int>::zeros([b, p], &token_type_ids.device());
                (Tensor::cat(vec![virtual_tokens, words], 1), Tensor::cat(vec![types, token_type_ids], 1), p + t)
            }
        };
        let types = self.token_type_embeddings.forward(token_type_ids); // [B, T, H]
        // Positions 0..T are the first T rows of the table: [T, H] → [1, T, H], broadcast over B.
        let positions = self.position_embeddings.weight.val().narrow(0, 0, t).unsqueeze_dim::<3>(0);
        let embeddings = words + types + positions;
        self.dropout.forward(self.layer_norm.forward(embeddings))
    }
}
