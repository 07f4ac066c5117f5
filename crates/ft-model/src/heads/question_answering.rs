//! `BertForQuestionAnswering`: extractive QA — the encoder without its pooler and `qa_outputs`
//! Linear(H, 2) on every token, giving each token a start and an end logit (no dropout in the head,
//! as transformers, except DistilBERT's `qa_dropout`).

use super::task::{
    Head, IGNORE_INDEX, ModelInputs, Predictions, Targets, Task, cross_entropy_ignoring, host_f32, linear_tensors,
    wrong_targets,
};
use crate::bert::model::BertModel;
use crate::checkpoint::names::ExpectedTensor;
use crate::init::Init;
use crate::{BertConfig, ModelError};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor};

/// Outputs of the QA head: a start and an end logit per token.
pub const QA_OUTPUTS: usize = 2;

/// The encoder (no pooler) plus `qa_outputs`, a Linear(H, 2) per token.
#[derive(Module, Debug)]
pub struct BertForQuestionAnswering {
    /// `bert` (built without `pooler`, as transformers' `add_pooling_layer=False`).
    pub bert: BertModel,
    /// DistilBERT's `qa_dropout` before `qa_outputs` (probability 0 for the other families).
    pub dropout: Dropout,
    /// `qa_outputs`: `[start, end] = W·h_t + b` for every token `t`.
    pub qa_outputs: Linear,
}

impl BertForQuestionAnswering {
    /// Runs encoder and head. Inputs as [`BertModel::forward`].
    ///
    /// # Shapes
    /// - inputs: `[B, T]`
    /// - output: `[B, T, 2]` (start logits `[.., 0]`, end logits `[.., 1]`)
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Result<Tensor<3>, ModelError> {
        self.forward_embeds(input_ids, token_type_ids, attention_mask, None)
    }

    /// [`BertForQuestionAnswering::forward`] with the word embeddings given (see [`BertModel::forward_embeds`]).
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
        Ok(self.qa_outputs.forward(self.dropout.forward(hidden)))
    }
}

impl Head for BertForQuestionAnswering {
    const TASK: Task = Task::QuestionAnswering;
    const POOLER: bool = false;
    type Logits = Tensor<3>;

    /// `num_labels` is always 2 for this head (a start and an end); the argument is not read.
    fn build(config: &BertConfig, _num_labels: usize, init: &mut Init, device: &Device) -> Self {
        Self {
            bert: BertModel::build(config, Self::POOLER || config.family().head_transform(), init, device),
            dropout: DropoutConfig::new(config.family().qa_dropout(config)).init(),
            qa_outputs: init.linear(config.hidden_size, QA_OUTPUTS, device),
        }
    }

    fn head_tensors(config: &BertConfig, _num_labels: usize) -> Vec<ExpectedTensor> {
        linear_tensors("qa_outputs", QA_OUTPUTS, config.hidden_size)
    }

    fn bert(&self) -> &BertModel {
        &self.bert
    }

    fn map_bert(mut self, f: impl FnOnce(BertModel) -> BertModel) -> Self {
        self.bert = f(self.bert);
        self
    }

    fn num_labels(&self) -> usize {
        self.qa_outputs.weight.dims()[1]
    }

    fn with_fresh_head(mut self, config: &BertConfig, _num_labels: usize, seed: u64, device: &Device) -> Self {
        self.qa_outputs = Init::normal(seed, config.initializer_range).linear(config.hidden_size, QA_OUTPUTS, device);
        self
    }

    fn logits(&self, inputs: ModelInputs) -> Result<Tensor<3>, ModelError> {
        let ModelInputs { input_ids, token_type_ids, attention_mask, inputs_embeds } = inputs;
        self.forward_embeds(input_ids, Some(token_type_ids), Some(attention_mask), inputs_embeds)
    }

    /// transformers' `BertForQuestionAnswering.forward` loss: positions clamped to `[0, T]`, a
    /// position of `T` (beyond the window) ignored, cross-entropy of the start logits against the start
    /// positions and of the end logits against the end positions, each averaged over the rows it
    /// counts, then the mean of the two.
    fn loss(logits: Tensor<3>, targets: Targets) -> Result<Tensor<1>, ModelError> {
        let Targets::Spans(spans) = targets else {
            return Err(wrong_targets(Self::TASK, &targets));
        };
        let [b, t, c] = logits.dims();
        if spans.dims() != [b, 2] || c != QA_OUTPUTS {
            return Err(ModelError::Input(format!(
                "answer spans have shape {:?} for logits {:?}; they must be [B, 2] (start, end) for [B, T, 2]",
                spans.dims(),
                [b, t, c]
            )));
        }
        let side = |k: usize| {
            // [B, T] logits of side k against its [B] positions, `T` (after clamping) ignored.
            let logits = logits.clone().slice([0..b, 0..t, k..k + 1]).reshape([b, t]);
            let positions = spans.clone().slice([0..b, k..k + 1]).reshape([b]).clamp(0, t as i64);
            let beyond = positions.clone().equal_elem(t as i64);
            cross_entropy_ignoring(logits, positions.mask_fill(beyond, IGNORE_INDEX))
        };
        Ok((side(0) + side(1)) / 2.0)
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
    use burn::tensor::TensorData;

    #[test]
    fn loss_is_the_mean_of_start_and_end_with_positions_beyond_the_window_ignored() {
        let d = DeviceSpec::Cpu.device().unwrap();
        // One row, two tokens: start logits [0, ln 3] (p(1) = 3/4), end logits [ln 3, 0] (p(0) = 3/4).
        let l3 = 3f32.ln();
        let logits = Tensor::<3>::from_data(TensorData::new(vec![0.0f32, l3, l3, 0.0], [1, 2, 2]), &d);
        let spans =
            |s: i64, e: i64| Targets::Spans(Tensor::<2, Int>::from_data(TensorData::new(vec![s, e], [1, 2]), &d));
        let loss = |s, e| BertForQuestionAnswering::loss(logits.clone(), spans(s, e)).unwrap().into_scalar::<f32>();
        assert!((loss(1, 0) - (4.0f32 / 3.0).ln()).abs() < 1e-6);
        // start 0 (p 1/4), end 1 (p 1/4): both −ln(1/4).
        assert!((loss(0, 1) - 4f32.ln()).abs() < 1e-6);
        // A start beyond the window (clamped to T = 2, ignored) leaves a NaN start loss, as PyTorch.
        assert!(loss(7, 0).is_nan());
        // Negative positions clamp to 0.
        assert!((loss(-3, 1) - 4f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn spans_of_the_wrong_shape_are_an_error() {
        let d = DeviceSpec::Cpu.device().unwrap();
        let spans = Targets::Spans(Tensor::<2, Int>::zeros([1, 3], &d));
        let e = BertForQuestionAnswering::loss(Tensor::<3>::zeros([1, 2, 2], &d), spans).unwrap_err().to_string();
        assert!(e.contains("[B, 2]"), "{e}");
    }
}
