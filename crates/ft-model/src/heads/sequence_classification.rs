//! `BertForSequenceClassification`: the chapter's task layer `y = W·h + b` on the pooled `[CLS]` state.

use crate::bert::model::{BertModel, BertOutputs};
use crate::init::Init;
use crate::{BertConfig, ModelError};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor};

/// The encoder plus dropout and a Linear(H, num_labels) classifier.
#[derive(Module, Debug)]
pub struct BertForSequenceClassification {
    /// `bert`.
    pub bert: BertModel,
    /// `classifier_dropout` (or `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// `classifier`: `y = W·h + b`.
    pub classifier: Linear,
}

/// What [`BertForSequenceClassification::forward`] returns.
#[derive(Debug, Clone)]
pub struct SequenceClassifierOutput {
    /// `[B, num_labels]`.
    pub logits: Tensor<2>,
    /// The encoder's outputs.
    pub bert: BertOutputs,
}

impl BertForSequenceClassification {
    /// Builds the model; `init` fills every weight (use [`Init::normal`] for a fresh model).
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        Self::new_for_labels(config, config.labels_count(), init, device)
    }

    /// Builds the model with a head of `num_labels` classes, whatever the config says.
    pub fn new_for_labels(config: &BertConfig, num_labels: usize, init: &mut Init, device: &Device) -> Self {
        let bert = BertModel::new(config, init, device);
        Self {
            bert,
            dropout: DropoutConfig::new(config.classifier_dropout_prob()).init(),
            classifier: init.linear(config.hidden_size, num_labels, device),
        }
    }

    /// Runs encoder and head. Inputs as [`BertModel::forward`].
    ///
    /// # Shapes
    /// - inputs: `[B, T]`
    /// - output: `logits` `[B, num_labels]`
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Result<SequenceClassifierOutput, ModelError> {
        let bert = self.bert.forward(input_ids, token_type_ids, attention_mask)?;
        let logits = self.classifier.forward(self.dropout.forward(bert.pooler_output.clone()));
        Ok(SequenceClassifierOutput { logits, bert })
    }
}
