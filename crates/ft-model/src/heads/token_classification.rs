//! `BertForTokenClassification`: a label per token (NER, dialogue slots) — the encoder without its
//! pooler, dropout, and `classifier` Linear(H, num_labels) on every position.

use super::task::{
    Head, ModelInputs, Predictions, Targets, Task, cross_entropy_ignoring, host_f32, linear_tensors, wrong_targets,
};
use crate::bert::model::BertModel;
use crate::checkpoint::names::ExpectedTensor;
use crate::init::Init;
use crate::{BertConfig, ModelError};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor};

/// The encoder (no pooler) plus dropout and a Linear(H, num_labels) classifier per token.
#[derive(Module, Debug)]
pub struct BertForTokenClassification {
    /// `bert` (built without `pooler`, as transformers' `add_pooling_layer=False`).
    pub bert: BertModel,
    /// `classifier_dropout` (or `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// `classifier`: `y = W·h_t + b` for every token `t`.
    pub classifier: Linear,
}

impl BertForTokenClassification {
    /// Runs encoder and head. Inputs as [`BertModel::forward`].
    ///
    /// # Shapes
    /// - inputs: `[B, T]`
    /// - output: `[B, T, num_labels]`
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Result<Tensor<3>, ModelError> {
        self.forward_embeds(input_ids, token_type_ids, attention_mask, None)
    }

    /// [`BertForTokenClassification::forward`] with the word embeddings given (see [`BertModel::forward_embeds`]).
    pub fn forward_embeds(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
        inputs_embeds: Option<Tensor<3>>,
    ) -> Result<Tensor<3>, ModelError> {
        let bert = self.bert.forward_embeds(input_ids, token_type_ids, attention_mask, inputs_embeds)?;
        // ModernBERT's heads read every token through its `head` (ft's pooler); no pooler elsewhere.
        let hidden = match &self.bert.pooler {
            Some(head) => head.transform(bert.last_hidden_state),
            None => bert.last_hidden_state,
        };
        Ok(self.classifier.forward(self.dropout.forward(hidden)))
    }
}

impl Head for BertForTokenClassification {
    const TASK: Task = Task::TokenClassification;
    const POOLER: bool = false;
    type Logits = Tensor<3>;

    fn build(config: &BertConfig, num_labels: usize, init: &mut Init, device: &Device) -> Self {
        Self {
            bert: BertModel::build(config, Self::POOLER || config.family().head_transform(), init, device),
            dropout: DropoutConfig::new(config.family().token_classifier_dropout(config)).init(),
            classifier: init.linear(config.hidden_size, num_labels, device),
        }
    }

    fn head_tensors(config: &BertConfig, num_labels: usize) -> Vec<ExpectedTensor> {
        linear_tensors("classifier", num_labels, config.hidden_size)
    }

    fn bert(&self) -> &BertModel {
        &self.bert
    }

    fn map_bert(mut self, f: impl FnOnce(BertModel) -> BertModel) -> Self {
        self.bert = f(self.bert);
        self
    }

    fn num_labels(&self) -> usize {
        self.classifier.weight.dims()[1]
    }

    fn with_fresh_head(mut self, config: &BertConfig, num_labels: usize, seed: u64, device: &Device) -> Self {
        self.classifier = Init::normal(seed, config.initializer_range).linear(config.hidden_size, num_labels, device);
        self
    }

    fn logits(&self, inputs: ModelInputs) -> Result<Tensor<3>, ModelError> {
        let ModelInputs { input_ids, token_type_ids, attention_mask, inputs_embeds } = inputs;
        self.forward_embeds(input_ids, Some(token_type_ids), Some(attention_mask), inputs_embeds)
    }

    /// Cross-entropy over every token whose label is not `IGNORE_INDEX`, as transformers'
    /// `BertForTokenClassification.forward` (`logits.view(-1, C)`, `labels.view(-1)`).
    fn loss(logits: Tensor<3>, targets: Targets) -> Result<Tensor<1>, ModelError> {
        let Targets::TokenClasses(labels) = targets else {
            return Err(wrong_targets(Self::TASK, &targets));
        };
        let [b, t, c] = logits.dims();
        if labels.dims() != [b, t] {
            return Err(ModelError::Input(format!(
                "token labels have shape {:?} but the logits are {:?}; they must be [B, T]",
                labels.dims(),
                [b, t, c]
            )));
        }
        Ok(cross_entropy_ignoring(logits.reshape([b * t, c]), labels.reshape([b * t])))
    }

    fn predictions(logits: Tensor<3>) -> Result<Predictions, ModelError> {
        let [_, seq_len, width] = logits.dims();
        Ok(Predictions::Tokens { logits: host_f32(logits)?, seq_len, width })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceSpec;
    use crate::heads::task::IGNORE_INDEX;
    use burn::tensor::TensorData;

    #[test]
    fn loss_skips_ignored_tokens() {
        let d = DeviceSpec::Cpu.device().unwrap();
        // Two tokens: logits [0, ln 3] labelled 1 (p = 3/4), and one ignored whatever its logits.
        let logits = Tensor::<3>::from_data(TensorData::new(vec![0.0f32, 3f32.ln(), 9.0, -9.0], [1, 2, 2]), &d);
        let labels = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, IGNORE_INDEX], [1, 2]), &d);
        let l = BertForTokenClassification::loss(logits, Targets::TokenClasses(labels)).unwrap().into_scalar::<f32>();
        assert!((l - (4.0f32 / 3.0).ln()).abs() < 1e-6, "{l}");
    }

    #[test]
    fn labels_of_the_wrong_shape_are_an_error() {
        let d = DeviceSpec::Cpu.device().unwrap();
        let logits = Tensor::<3>::zeros([1, 2, 3], &d);
        let labels = Tensor::<2, Int>::zeros([1, 5], &d);
        let e = BertForTokenClassification::loss(logits, Targets::TokenClasses(labels)).unwrap_err().to_string();
        assert!(e.contains("[1, 5]") && e.contains("[B, T]"), "{e}");
        let rows = Targets::Classes(Tensor::<1, Int>::zeros([1], &d));
        let e = BertForTokenClassification::loss(Tensor::<3>::zeros([1, 2, 3], &d), rows).unwrap_err().to_string();
        assert!(e.contains("cannot be trained on single-label classes"), "{e}");
    }
}
