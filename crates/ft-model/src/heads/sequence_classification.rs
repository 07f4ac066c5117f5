//! `BertForSequenceClassification`: the chapter's task layer `y = W·h + b` on the pooled `[CLS]` state
//! (transformers' pooler), or on the `[CLS]` state, mean or max of the tokens ([`Pooling`]).

use super::pooling::Pooling;
use super::task::{
    Head, ModelInputs, PooledHead, Predictions, Targets, Task, bce_with_logits, cross_entropy, host_f32,
    linear_tensors, weighted_cross_entropy, wrong_targets,
};
use crate::bert::model::{BertModel, BertOutputs};
use crate::checkpoint::names::ExpectedTensor;
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
    /// What `h` is (not a weight: saved as `config.json`'s `ft_pooling`).
    #[module(skip)]
    pub pooling: Pooling,
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
    /// The family's head dense layer on `[CLS]` when the head reads it (see
    /// [`crate::bert::model::BertPooler::in_head`]): RoBERTa's `classifier.dense`, …; `None` for BERT's
    /// pooler (part of the encoder) and for another pooling.
    pub fn head_pooler(&self) -> Option<&crate::bert::model::BertPooler> {
        self.bert.pooler.as_ref().filter(|p| p.in_head && self.pooling == Pooling::Pooler)
    }

    /// Builds the model; `init` fills every weight (use [`Init::normal`] for a fresh model).
    pub fn new(config: &BertConfig, init: &mut Init, device: &Device) -> Self {
        Self::build(config, config.labels_count(), init, device)
    }

    /// Builds the model with a head of `num_labels` classes, whatever the config says.
    pub fn new_for_labels(config: &BertConfig, num_labels: usize, init: &mut Init, device: &Device) -> Self {
        Self::build(config, num_labels, init, device)
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
        self.forward_embeds(input_ids, token_type_ids, attention_mask, None)
    }

    /// [`BertForSequenceClassification::forward`] with the word embeddings given (see
    /// [`BertModel::forward_embeds`]).
    pub fn forward_embeds(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
        inputs_embeds: Option<Tensor<3>>,
    ) -> Result<SequenceClassifierOutput, ModelError> {
        let mask = attention_mask.unwrap_or_else(|| input_ids.ones_like());
        let bert = self.bert.forward_embeds(input_ids, token_type_ids, Some(mask.clone()), inputs_embeds)?;
        let pooled = self.pooling.pool(&bert, self.bert.with_virtual_tokens(mask))?;
        let logits = self.classifier.forward(self.dropout.forward(pooled));
        Ok(SequenceClassifierOutput { logits, bert })
    }
}

impl Head for BertForSequenceClassification {
    const TASK: Task = Task::SequenceClassification;
    const POOLER: bool = true;
    type Logits = Tensor<2>;

    fn build(config: &BertConfig, num_labels: usize, init: &mut Init, device: &Device) -> Self {
        Self {
            bert: BertModel::build(config, Self::POOLER, init, device),
            dropout: DropoutConfig::new(config.classifier_dropout_prob()).init(),
            classifier: init.linear(config.hidden_size, num_labels, device),
            pooling: Pooling::Pooler,
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

    fn logits(&self, inputs: ModelInputs) -> Result<Tensor<2>, ModelError> {
        let ModelInputs { input_ids, token_type_ids, attention_mask, inputs_embeds } = inputs;
        Ok(self.forward_embeds(input_ids, Some(token_type_ids), Some(attention_mask), inputs_embeds)?.logits)
    }

    /// As transformers' `BertForSequenceClassification.forward` picks by problem type: cross-entropy
    /// for single-label, BCE-with-logits for multi-label, MSE for regression.
    fn loss(logits: Tensor<2>, targets: Targets) -> Result<Tensor<1>, ModelError> {
        Ok(match targets {
            Targets::Classes(labels) => cross_entropy(logits, labels),
            Targets::WeightedClasses { classes, weights } => weighted_cross_entropy(logits, classes, weights),
            Targets::MultiHot(y) => bce_with_logits(logits, y, None),
            Targets::WeightedMultiHot { targets, pos_weight } => bce_with_logits(logits, targets, Some(pos_weight)),
            Targets::Values(y) => (logits - y).square().mean(),
            other @ (Targets::TokenClasses(_) | Targets::Spans(_)) => return Err(wrong_targets(Self::TASK, &other)),
        })
    }

    fn predictions(logits: Tensor<2>) -> Result<Predictions, ModelError> {
        let [_, width] = logits.dims();
        Ok(Predictions::Rows { logits: host_f32(logits)?, width })
    }

    fn pooled_head(&self) -> Option<PooledHead> {
        Some(PooledHead {
            pooler: self.head_pooler().cloned(),
            dropout: self.dropout.clone(),
            classifier: self.classifier.clone(),
        })
    }

    fn with_pooled_head(mut self, head: PooledHead) -> Self {
        if let Some(pooler) = head.pooler {
            self.bert.pooler = Some(pooler);
        }
        self.classifier = head.classifier;
        self
    }

    fn pooling(&self) -> Pooling {
        self.pooling
    }

    fn with_pooling(mut self, pooling: Pooling) -> Result<Self, ModelError> {
        self.pooling = pooling;
        Ok(self)
    }

    fn pooled(&self, inputs: ModelInputs) -> Result<Tensor<2>, ModelError> {
        let ModelInputs { input_ids, token_type_ids, attention_mask: mask, inputs_embeds } = inputs;
        let bert = self.bert.forward_embeds(input_ids, Some(token_type_ids), Some(mask.clone()), inputs_embeds)?;
        // The head's own dense layer reads `[CLS]`: the features stop before it.
        let pooling = match self.head_pooler() {
            Some(p) if p.mean => Pooling::Mean,
            Some(_) => Pooling::Cls,
            None => self.pooling,
        };
        pooling.pool(&bert, self.bert.with_virtual_tokens(mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceSpec;
    use burn::tensor::TensorData;

    fn cpu() -> Device {
        DeviceSpec::Cpu.device().unwrap()
    }

    #[test]
    fn cross_entropy_by_hand() {
        let d = cpu();
        // logits [[0, ln 3]], label 1: p = 3/4 → −ln(3/4)
        let logits = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2]), &d);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64], [1]), &d);
        let l = BertForSequenceClassification::loss(logits, Targets::Classes(labels)).unwrap().into_scalar::<f32>();
        assert!((l - (4.0f32 / 3.0).ln()).abs() < 1e-6, "{l}");
    }

    #[test]
    fn bce_and_mse_by_hand() {
        let d = cpu();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 2.0], [1, 2]), &d);
        let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &d);
        // mean(ln 2, 2 + ln(1 + e^-2))
        let want = (2f32.ln() + 2.0 + (1.0 + (-2f32).exp()).ln()) / 2.0;
        let l = BertForSequenceClassification::loss(x.clone(), Targets::MultiHot(y.clone())).unwrap();
        assert!((l.into_scalar::<f32>() - want).abs() < 1e-6);
        let m = BertForSequenceClassification::loss(x, Targets::Values(y)).unwrap().into_scalar::<f32>();
        assert!((m - 2.5).abs() < 1e-6, "{m}");
    }

    /// `--class-weights` losses against PyTorch's `CrossEntropyLoss(weight=…)` and
    /// `BCEWithLogitsLoss(pos_weight=…)` (`fixtures/class_weights_golden.json`, f32 on CPU).
    #[test]
    fn weighted_losses_match_pytorch() {
        let d = cpu();
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../../../fixtures/class_weights_golden.json")).unwrap();
        let matrix = |v: &serde_json::Value| {
            let rows: Vec<Vec<f32>> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
                .collect();
            let shape = [rows.len(), rows[0].len()];
            Tensor::<2>::from_data(TensorData::new(rows.concat(), shape), &d)
        };
        let vector = |v: &serde_json::Value| {
            let x: Vec<f32> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            let n = x.len();
            Tensor::<1>::from_data(TensorData::new(x, [n]), &d)
        };
        let close = |got: f32, want: &serde_json::Value| {
            let want = want.as_f64().unwrap() as f32;
            assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "{got} vs PyTorch {want}");
        };
        let single = &golden["single"];
        let classes: Vec<i64> = single["classes"].as_array().unwrap().iter().map(|c| c.as_i64().unwrap()).collect();
        let n = classes.len();
        let targets = Targets::WeightedClasses {
            classes: Tensor::<1, Int>::from_data(TensorData::new(classes, [n]), &d),
            weights: vector(&single["weights"]),
        };
        let l = BertForSequenceClassification::loss(matrix(&single["logits"]), targets).unwrap();
        close(l.into_scalar::<f32>(), &single["loss"]);
        let multi = &golden["multi"];
        let targets =
            Targets::WeightedMultiHot { targets: matrix(&multi["targets"]), pos_weight: vector(&multi["pos_weight"]) };
        let l = BertForSequenceClassification::loss(matrix(&multi["logits"]), targets).unwrap();
        close(l.into_scalar::<f32>(), &multi["loss"]);
        // All weights 1 is the unweighted loss.
        let x = matrix(&multi["logits"]);
        let ones = Tensor::<1>::ones([4], &d);
        let a = BertForSequenceClassification::loss(x.clone(), Targets::MultiHot(matrix(&multi["targets"]))).unwrap();
        let b = BertForSequenceClassification::loss(
            x,
            Targets::WeightedMultiHot { targets: matrix(&multi["targets"]), pos_weight: ones },
        )
        .unwrap();
        assert!((a.into_scalar::<f32>() - b.into_scalar::<f32>()).abs() < 1e-6);
    }

    #[test]
    fn token_targets_are_refused_with_a_message() {
        let d = cpu();
        let x = Tensor::<2>::zeros([1, 2], &d);
        let t = Tensor::<2, Int>::zeros([1, 3], &d);
        let e = BertForSequenceClassification::loss(x, Targets::TokenClasses(t)).unwrap_err().to_string();
        assert!(e.contains("BertForSequenceClassification cannot be trained on token classes"), "{e}");
    }
}
