//! [`Predictor`]: a fine-tuned sequence-classification model with its tokenizer and labels, turning
//! texts (or pairs) into a class with probabilities, a set of labels, or a value.

use crate::{InferError, SplitOutputs, Thresholds, model_dir, sigmoid, softmax_rows};
use ft_data::{Examples, LabelKind, LabelSpace, Tokenizer};
use ft_model::burn::tensor::Device;
use ft_model::{BertForSequenceClassification, LoadOptions, ProblemType, Task};
use std::path::PathBuf;

/// A trained sequence-classification model ready for inference.
pub struct Predictor {
    /// The model directory.
    pub dir: PathBuf,
    /// The model, on `device`.
    pub model: BertForSequenceClassification,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Label kind (from `problem_type`) and class names (from `id2label`).
    pub space: LabelSpace,
    /// Tokens per text.
    pub max_len: usize,
    /// Where it runs.
    pub device: Device,
    /// How a multi-label row becomes labels: `config.json`'s [`Thresholds::CONFIG_KEY`], else 0.5.
    pub thresholds: Thresholds,
}

/// One prediction.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Single-label: the arg-max class, its probability, and the softmax probabilities.
    Class {
        /// The predicted class.
        label: String,
        /// Its probability.
        score: f64,
        /// Every class's probability (most probable first when cut to a top k).
        probs: Vec<(String, f64)>,
    },
    /// Multi-label: the classes whose sigmoid exceeds their threshold, and every class's sigmoid.
    Labels {
        /// The predicted classes.
        labels: Vec<String>,
        /// Every class's sigmoid.
        probs: Vec<(String, f64)>,
    },
    /// Regression: the predicted value.
    Value {
        /// The value.
        score: f64,
    },
}

impl Predictor {
    /// Loads `model` (a directory or packaged asset) onto `device`. `max_len` defaults to
    /// [`model_dir::DEFAULT_MAX_LEN`] and never exceeds the model's positions. A model saved for
    /// another task, or one whose classifier was never trained, is refused.
    pub fn load(model: &str, device: Device, max_len: Option<usize>) -> Result<Self, InferError> {
        let dir = model_dir::resolve(model)?;
        if let Ok(config) = ft_model::BertConfig::from_file(&dir.join("config.json"))
            && let Some(task) = Task::of_config(&config)
            && task != Task::SequenceClassification
        {
            return Err(InferError::Task(format!(
                "{}: a {task} model ({}), where a sequence-classification model is needed",
                dir.display(),
                task.architecture()
            )));
        }
        let loaded = ft_model::load_pretrained::<BertForSequenceClassification>(&dir, &LoadOptions::default(), &device)
            .map_err(|source| InferError::Load { dir: dir.clone(), source: Box::new(source) })?;
        if loaded.report.fresh.iter().any(|n| n.starts_with("classifier")) {
            return Err(InferError::Task(format!(
                "{}: has no trained classifier (no classifier weights in model.safetensors); fine-tune it first with `ft train --model {model} ...` and pass that run's --output",
                dir.display()
            )));
        }
        let max_len = model_dir::max_len(max_len, loaded.config.max_tokens())?;
        let tokenizer = model_dir::tokenizer(&dir, loaded.config.vocab_size)?;
        let kind = match loaded.config.problem_type {
            Some(ProblemType::MultiLabelClassification) => LabelKind::MultiLabel,
            Some(ProblemType::Regression) => LabelKind::Regression,
            _ => LabelKind::SingleLabel,
        };
        let names = if kind == LabelKind::Regression { Vec::new() } else { loaded.config.label_names() };
        let thresholds = match kind {
            LabelKind::MultiLabel => Thresholds::of_config(&loaded.config, &names, &dir.join("config.json"))
                .map_err(|source| InferError::Load { dir: dir.clone(), source: Box::new(source) })?
                .unwrap_or_default(),
            _ => Thresholds::default(),
        };
        let space = LabelSpace { kind, names };
        Ok(Self { dir, model: loaded.model, tokenizer, space, max_len, device, thresholds })
    }

    /// Logits of `rows` (text, optional pair), in order, in batches of `batch_size`.
    pub fn logits(&self, rows: &[(String, Option<String>)], batch_size: usize) -> Result<SplitOutputs, InferError> {
        let inputs: Vec<(&str, Option<&str>)> = rows.iter().map(|(t, p)| (t.as_str(), p.as_deref())).collect();
        let encodings = self.tokenizer.encode_batch(&inputs, self.max_len)?;
        // The examples carry no label; a one-class space gives each a placeholder class.
        let placeholder = LabelSpace { kind: LabelKind::SingleLabel, names: vec![String::new()] };
        let mut examples = Examples::new(self.tokenizer.vocab_size(), self.tokenizer.pad_id(), &placeholder);
        for enc in &encodings {
            examples.push(enc, &[0], 0.0);
        }
        crate::logits(&self.model, &examples, batch_size.max(1), &self.device)
    }

    /// Predictions for `rows`; `top_k` keeps the k most probable classes in `probs`.
    pub fn predict(
        &self,
        rows: &[(String, Option<String>)],
        batch_size: usize,
        top_k: Option<usize>,
    ) -> Result<Vec<Prediction>, InferError> {
        let out = self.logits(rows, batch_size)?;
        let c = out.num_labels;
        if let Some(i) = out.logits.iter().position(|x| !x.is_finite()) {
            let text = rows.get(i / c.max(1)).map(|r| r.0.clone()).unwrap_or_default();
            return Err(InferError::NonFinite { value: out.logits[i], text });
        }
        let names = &self.space.names;
        let rank = |mut ranked: Vec<(String, f64)>| {
            if let Some(k) = top_k {
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                ranked.truncate(k);
            }
            ranked
        };
        let rows = out.logits.chunks(c.max(1));
        Ok(match self.space.kind {
            LabelKind::SingleLabel => softmax_rows(&out.logits, c)
                .chunks(c)
                .map(|p| {
                    let best = (0..c).fold(0, |b, k| if p[k] > p[b] { k } else { b });
                    let probs = rank(names.iter().cloned().zip(p.iter().copied()).collect());
                    Prediction::Class { label: names[best].clone(), score: p[best], probs }
                })
                .collect(),
            LabelKind::MultiLabel => rows
                .map(|row| {
                    let p: Vec<f64> = row.iter().map(|&x| sigmoid(x)).collect();
                    let labels = (0..c).filter(|&k| p[k] > self.thresholds.get(k)).map(|k| names[k].clone()).collect();
                    Prediction::Labels { labels, probs: rank(names.iter().cloned().zip(p).collect()) }
                })
                .collect(),
            LabelKind::Regression => rows.map(|row| Prediction::Value { score: row[0] as f64 }).collect(),
            LabelKind::TokenClasses => {
                return Err(InferError::Task("token classification is predicted per token, not per text".into()));
            }
            LabelKind::Spans => {
                return Err(InferError::Task("question answering predicts answer spans, not a label per text".into()));
            }
        })
    }
}
