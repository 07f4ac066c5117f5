//! The task seam: what every head owns ([`Head`]), the closed list of tasks ([`Task`]), the inputs a
//! forward takes ([`ModelInputs`]), the one type of targets from batch to loss ([`Targets`]), and the
//! host-side predictions that reach ft-eval ([`Predictions`]).
//!
//! Loading, saving, checkpoints, freezing and the training loop are written against [`Head`]; a new
//! head is a file in `heads/` that implements it, plus a row in [`Task`].

use super::pooling::Pooling;
use crate::bert::model::{BertModel, BertPooler};
use crate::checkpoint::names::{ExpectedTensor, Part};
use crate::init::Init;
use crate::{BertConfig, ModelError};
use burn::module::Module;
use burn::nn::{Dropout, Linear};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The label transformers' losses skip (`CrossEntropyLoss(ignore_index=-100)`): special tokens,
/// padding and the non-first sub-tokens of a word in token classification.
pub const IGNORE_INDEX: i64 = -100;

/// What a model is fine-tuned for: one per head, named as the CLI's `--task` and as transformers'
/// architecture (`config.json`'s `architectures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// One label (or several, or a number) per text: `BertForSequenceClassification`.
    SequenceClassification,
    /// One label per token (NER, slots): `BertForTokenClassification`.
    TokenClassification,
    /// The answer's span in a context (extractive QA): `BertForQuestionAnswering`.
    QuestionAnswering,
}

impl Task {
    /// Every task, in the order the CLI lists them.
    pub const ALL: &'static [Task] =
        &[Task::SequenceClassification, Task::TokenClassification, Task::QuestionAnswering];

    /// The CLI's name (`sequence-classification`).
    pub fn name(self) -> &'static str {
        match self {
            Self::SequenceClassification => "sequence-classification",
            Self::TokenClassification => "token-classification",
            Self::QuestionAnswering => "question-answering",
        }
    }

    /// transformers' class on BERT (`BertForSequenceClassification`; other families:
    /// [`crate::Family::architecture`]).
    pub fn architecture(self) -> &'static str {
        match self {
            Self::SequenceClassification => "BertForSequenceClassification",
            Self::TokenClassification => "BertForTokenClassification",
            Self::QuestionAnswering => "BertForQuestionAnswering",
        }
    }

    /// Whether transformers' head picks its loss by `config.json`'s `problem_type` (sequence
    /// classification); the other heads have one loss and read none.
    pub fn reads_problem_type(self) -> bool {
        matches!(self, Self::SequenceClassification)
    }

    /// transformers' class name without the family (`ForSequenceClassification`).
    pub fn class_suffix(self) -> &'static str {
        self.architecture().trim_start_matches("Bert")
    }

    /// The task of a `config.json` `architectures` entry of any family ft has
    /// (`RobertaForTokenClassification`), if ft has its head.
    pub fn from_architecture(architecture: &str) -> Option<Self> {
        crate::Family::task_of_architecture(architecture)
    }

    /// The task a config was saved for (`architectures[0]`), if it names a head ft has.
    pub fn of_config(config: &BertConfig) -> Option<Self> {
        config.architectures.as_ref()?.iter().find_map(|a| Self::from_architecture(a))
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.iter().copied().find(|t| t.name() == s || t.architecture() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
            format!("unknown task \"{s}\"; use one of {}", names.join(", "))
        })
    }
}

/// The three `[B, T]` inputs of every forward, in the order `BertModel::forward` takes them.
#[derive(Debug, Clone)]
pub struct ModelInputs {
    /// Token ids. `[B, T]`
    pub input_ids: Tensor<2, Int>,
    /// Segment ids. `[B, T]`
    pub token_type_ids: Tensor<2, Int>,
    /// 1 on real tokens, 0 on padding. `[B, T]`
    pub attention_mask: Tensor<2, Int>,
    /// Replaces what the word embeddings give for `input_ids` (transformers' `inputs_embeds`; what
    /// `ft explain` interpolates): the position and token-type embeddings are still added and
    /// `input_ids` still gives the shape. `None`: the ids are looked up. `[B, T, H]`
    pub inputs_embeds: Option<Tensor<3>>,
}

impl ModelInputs {
    /// The three id tensors, the word embeddings looked up from `input_ids`.
    pub fn new(input_ids: Tensor<2, Int>, token_type_ids: Tensor<2, Int>, attention_mask: Tensor<2, Int>) -> Self {
        Self { input_ids, token_type_ids, attention_mask, inputs_embeds: None }
    }
}

/// What the model is trained to output, on the device: the one type from a batch's labels to the loss.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Single-label classification: a class index per row. `[B]`
    Classes(Tensor<1, Int>),
    /// Multi-label classification: multi-hot rows. `[B, C]`
    MultiHot(Tensor<2>),
    /// Single-label classes with a weight per class (`--class-weights`): PyTorch's
    /// `CrossEntropyLoss(weight=weights)`, the weighted mean `Σ w[y]·nll / Σ w[y]`.
    WeightedClasses {
        /// A class index per row. `[B]`
        classes: Tensor<1, Int>,
        /// A weight per class. `[C]`
        weights: Tensor<1>,
    },
    /// Multi-hot rows with a positive weight per class: PyTorch's
    /// `BCEWithLogitsLoss(pos_weight=pos_weight)`.
    WeightedMultiHot {
        /// Multi-hot rows. `[B, C]`
        targets: Tensor<2>,
        /// The weight of a positive of each class. `[C]`
        pos_weight: Tensor<1>,
    },
    /// Regression: one value per row. `[B, 1]`
    Values(Tensor<2>),
    /// Token classification: a class index per token, [`IGNORE_INDEX`] where no loss is taken. `[B, T]`
    TokenClasses(Tensor<2, Int>),
    /// Extractive QA: the answer's start and end token per row (0, the `[CLS]`, when the window does
    /// not hold it). `[B, 2]`
    Spans(Tensor<2, Int>),
}

impl Targets {
    /// A short name for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Classes(_) => "single-label classes",
            Self::MultiHot(_) => "multi-label classes",
            Self::WeightedClasses { .. } => "weighted single-label classes",
            Self::WeightedMultiHot { .. } => "weighted multi-label classes",
            Self::Values(_) => "regression values",
            Self::TokenClasses(_) => "token classes",
            Self::Spans(_) => "answer spans",
        }
    }
}

/// A batch's outputs on the host, what evaluation and prediction read.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// One row of `width` logits per example. `[B, width]` row-major.
    Rows {
        /// The logits.
        logits: Vec<f32>,
        /// Outputs per example.
        width: usize,
    },
    /// One row of `width` logits per token. `[B, T, width]` row-major.
    Tokens {
        /// The logits.
        logits: Vec<f32>,
        /// T.
        seq_len: usize,
        /// Outputs per token.
        width: usize,
    },
}

/// A task head on the BERT encoder, as transformers' `BertFor*` classes: the encoder under `bert`, the
/// head's own modules beside it, named as in the checkpoint.
pub trait Head: Module + Sized {
    /// Which task this head is.
    const TASK: Task;
    /// Whether the encoder keeps its pooler (transformers' `add_pooling_layer`).
    const POOLER: bool;
    /// The forward's output (logits) on the device.
    type Logits: Clone;

    /// The encoder plus a head of `num_labels` outputs, every weight from `init`.
    fn build(config: &BertConfig, num_labels: usize, init: &mut Init, device: &Device) -> Self;

    /// The head's tensors (canonical HF names, HF shapes), all of [`Part::Head`].
    fn head_tensors(config: &BertConfig, num_labels: usize) -> Vec<ExpectedTensor>;

    /// The encoder.
    fn bert(&self) -> &BertModel;

    /// The same model with its encoder passed through `f` (freezing).
    fn map_bert(self, f: impl FnOnce(BertModel) -> BertModel) -> Self;

    /// The same model with its encoder passed through `f`, or `f`'s error (attaching PEFT modules).
    fn try_map_bert<E>(self, f: impl FnOnce(BertModel) -> Result<BertModel, E>) -> Result<Self, E> {
        let mut error = None;
        let model = self.map_bert(|bert| match f(bert.clone()) {
            Ok(bert) => bert,
            Err(e) => {
                error = Some(e);
                bert
            }
        });
        error.map_or(Ok(model), Err)
    }

    /// Outputs of the head (labels).
    fn num_labels(&self) -> usize;

    /// The same model with a fresh head of `num_labels` outputs, `N(0, initializer_range)` from `seed`.
    fn with_fresh_head(self, config: &BertConfig, num_labels: usize, seed: u64, device: &Device) -> Self;

    /// Encoder and head.
    fn logits(&self, inputs: ModelInputs) -> Result<Self::Logits, ModelError>;

    /// transformers' loss for this head (what `forward(..., labels=...)` returns).
    fn loss(logits: Self::Logits, targets: Targets) -> Result<Tensor<1>, ModelError>;

    /// The logits on the host.
    fn predictions(logits: Self::Logits) -> Result<Predictions, ModelError>;

    /// For a head that reads one pooled vector: the part after [`Head::pooled`] (dropout and
    /// classifier, and the family's head dense layer where it reads `[CLS]` itself), so that a frozen
    /// encoder's features can be computed once and this part trained alone on them. `None` (the
    /// default) for heads that read every token.
    fn pooled_head(&self) -> Option<PooledHead> {
        None
    }

    /// The same model with the part of [`Head::pooled_head`] replaced by `head` (after training it on
    /// cached features). Only called on heads whose `pooled_head` is `Some`.
    fn with_pooled_head(self, head: PooledHead) -> Self {
        let _ = head;
        self
    }

    /// What the head reads from the encoder (see [`Pooling`]); heads that read every token say
    /// [`Pooling::Pooler`], which saving writes as no key at all.
    fn pooling(&self) -> Pooling {
        Pooling::Pooler
    }

    /// The same model reading `pooling`. Only the sequence head pools: the default accepts the
    /// pooler alone (a no-op) and refuses anything else.
    fn with_pooling(self, pooling: Pooling) -> Result<Self, ModelError> {
        match pooling {
            Pooling::Pooler => Ok(self),
            other => Err(ModelError::Input(format!(
                "pooling `{other}` is for sequence classification; {} reads every token",
                Self::TASK.architecture()
            ))),
        }
    }

    /// The `[B, H]` vector [`Head::pooled_head`] reads (the encoder and the pooling, no dropout, no
    /// classifier; the `[CLS]` state where the head's own dense layer reads it): what cached features
    /// hold. Heads without a pooled head refuse.
    fn pooled(&self, inputs: ModelInputs) -> Result<Tensor<2>, ModelError> {
        let _ = inputs;
        Err(ModelError::Input(format!("{} reads every token: it has no pooled vector", Self::TASK.architecture())))
    }
}

/// What trains on cached features: `classifier(dropout(x))`, with the family's head dense layer first
/// where it belongs to the head (RoBERTa's `classifier.dense`, DistilBERT's `pre_classifier`,
/// ELECTRA's `classifier.dense`, DeBERTa's `pooler`: see [`BertPooler::in_head`]) — then `x` is the
/// `[CLS]` state, else the pooled vector.
#[derive(Module, Debug)]
pub struct PooledHead {
    /// The head's dense layer on `[CLS]`, when the head has one and reads it.
    pub pooler: Option<BertPooler>,
    /// The classifier's dropout.
    pub dropout: Dropout,
    /// `classifier`.
    pub classifier: Linear,
}

impl PooledHead {
    /// `[B, H]` (what [`Head::pooled`] returns) → `[B, C]`.
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let pooled = match &self.pooler {
            Some(pooler) => pooler.forward_first(features),
            None => features,
        };
        self.classifier.forward(self.dropout.forward(pooled))
    }
}

/// A head tensor pair `{name}.weight` `[out, in]` and `{name}.bias` `[out]` of a Linear.
pub(crate) fn linear_tensors(name: &str, out_dim: usize, in_dim: usize) -> Vec<ExpectedTensor> {
    vec![
        ExpectedTensor { name: format!("{name}.weight"), shape: vec![out_dim, in_dim], part: Part::Head },
        ExpectedTensor { name: format!("{name}.bias"), shape: vec![out_dim], part: Part::Head },
    ]
}

/// Mean cross-entropy of `[N, C]` logits against `[N]` classes.
pub(crate) fn cross_entropy(logits: Tensor<2>, classes: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    log_softmax(logits, 1).gather(1, classes.reshape([n, 1])).mean().neg()
}

/// PyTorch's `CrossEntropyLoss(weight=weights)` over `[N, C]` logits against `[N]` classes: the
/// weighted mean `Σ w[y]·(−log p[y]) / Σ w[y]`.
pub(crate) fn weighted_cross_entropy(logits: Tensor<2>, classes: Tensor<1, Int>, weights: Tensor<1>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, classes.clone().reshape([n, 1])).reshape([n]);
    let w = weights.select(0, classes); // [N]
    (picked * w.clone()).sum().neg() / w.sum()
}

/// BCE-with-logits, mean over every value: `max(x, 0) − x·y + log(1 + e^−|x|)`, stable. With
/// `pos_weight` `[C]` (PyTorch's `BCEWithLogitsLoss(pos_weight=…)`), a positive's term is scaled by
/// its class's weight: `(1 − y)·x + (1 + (p − 1)·y)·(log(1 + e^−|x|) + max(−x, 0))`.
pub(crate) fn bce_with_logits(x: Tensor<2>, y: Tensor<2>, pos_weight: Option<Tensor<1>>) -> Tensor<1> {
    match pos_weight {
        None => (x.clone().clamp_min(0.0) - x.clone() * y + (x.abs().neg().exp() + 1.0).log()).mean(),
        Some(p) => {
            let [_, c] = x.dims();
            let p = p.reshape([1, c]);
            let log_sig_neg = (x.clone().abs().neg().exp() + 1.0).log() + x.clone().neg().clamp_min(0.0);
            let scale = (p - 1.0) * y.clone() + 1.0;
            ((y.neg() + 1.0) * x + scale * log_sig_neg).mean()
        }
    }
}

/// transformers' `CrossEntropyLoss(ignore_index=-100)` over `[N, C]` logits: the mean over the rows
/// whose class is not [`IGNORE_INDEX`] (NaN when every row is ignored, as PyTorch gives).
pub(crate) fn cross_entropy_ignoring(logits: Tensor<2>, classes: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let keep = classes.clone().not_equal_elem(IGNORE_INDEX); // [N] bool
    let safe = classes.mask_fill(keep.clone().bool_not(), 0).reshape([n, 1]); // ignored → class 0
    let picked = log_softmax(logits, 1).gather(1, safe).reshape([n]); // [N]
    let keep = keep.float();
    (picked * keep.clone()).sum().neg() / keep.sum()
}

/// A wrong kind of target for a head: a caller's bug, reported instead of a panic in a gather.
pub(crate) fn wrong_targets(task: Task, targets: &Targets) -> ModelError {
    ModelError::Input(format!("{} cannot be trained on {}", task.architecture(), targets.kind()))
}

/// Logits `[…]` copied to the host as f32.
pub(crate) fn host_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| ModelError::Input(format!("reading logits: {e:?}")))
}
