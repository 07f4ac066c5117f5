//! Evaluation during training: logits for a split (in file order), the loss and the task's metrics.

use crate::TrainError;
use crate::features::{ClassifierHead, Features};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor};
use ft_data::{BatchOptions, Examples, LabelKind, LabelSpace, Labels, plan_epoch};
use ft_model::BertForSequenceClassification;
use std::collections::BTreeMap;

/// Metric name → value (`loss`, `accuracy`, `macro_f1`, …).
pub type Metrics = BTreeMap<String, f64>;

/// Whether a larger value of `metric` is better.
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(metric, "loss" | "mse" | "mae" | "hamming_loss" | "log_loss")
}

/// Logits `[N, C]` (row-major, file order) and the host labels of every example of a split.
#[derive(Debug, Clone)]
pub struct SplitOutputs {
    /// `N · C` logits.
    pub logits: Vec<f32>,
    /// C.
    pub num_labels: usize,
    /// Labels in file order, as collated.
    pub labels: Vec<Labels>,
}

fn to_host(t: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Config(format!("reading logits: {e:?}")))
}

/// Runs `model` (in eval mode: pass `model.valid()`) over `examples`.
pub fn logits(
    model: &BertForSequenceClassification,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Result<SplitOutputs, TrainError> {
    let num_labels = model.classifier.weight.dims()[1];
    let mut out =
        SplitOutputs { logits: Vec::with_capacity(examples.len() * num_labels), num_labels, labels: Vec::new() };
    for indices in plan_epoch(&examples.lengths(), &BatchOptions::eval(batch_size), 0) {
        let batch = examples.collate(&indices, None);
        let (ids, types, mask) = batch.to_tensors(device);
        out.logits.extend(to_host(model.forward(ids, Some(types), Some(mask))?.logits)?);
        out.labels.push(batch.labels);
    }
    Ok(out)
}

/// Metrics of `model` on `examples`.
pub fn evaluate(
    model: &BertForSequenceClassification,
    examples: &Examples,
    batch_size: usize,
    labels: &LabelSpace,
    device: &Device,
) -> Result<Metrics, TrainError> {
    let out = logits(model, examples, batch_size, device)?;
    Ok(metrics(&out, labels.kind, device))
}

/// Metrics of a head over cached features.
pub fn evaluate_head(
    head: &ClassifierHead,
    features: &Features,
    examples: &Examples,
    batch_size: usize,
    labels: &LabelSpace,
    device: &Device,
) -> Result<Metrics, TrainError> {
    let num_labels = head.classifier.weight.dims()[1];
    let mut out =
        SplitOutputs { logits: Vec::with_capacity(features.len() * num_labels), num_labels, labels: Vec::new() };
    let all: Vec<u32> = (0..examples.len() as u32).collect();
    for indices in all.chunks(batch_size.max(1)) {
        out.logits.extend(to_host(head.forward(features.rows(indices, device)))?);
        out.labels.push(examples.collate(indices, None).labels);
    }
    Ok(metrics(&out, labels.kind, device))
}

/// Loss and task metrics from logits and labels.
pub fn metrics(out: &SplitOutputs, kind: LabelKind, device: &Device) -> Metrics {
    let c = out.num_labels;
    let n = out.logits.len() / c.max(1);
    let mut m = Metrics::new();
    if n == 0 {
        return m;
    }
    match kind {
        LabelKind::SingleLabel => {
            let gold: Vec<usize> = out
                .labels
                .iter()
                .flat_map(|l| match l {
                    Labels::Classes(v) => v.iter().map(|&x| x as usize).collect::<Vec<_>>(),
                    _ => Vec::new(),
                })
                .collect();
            let logits = Tensor::<2>::from_data(burn::tensor::TensorData::new(out.logits.clone(), [n, c]), device);
            let log_probs = to_host(log_softmax(logits, 1)).unwrap_or_default();
            let loss = gold.iter().enumerate().map(|(i, &g)| -(log_probs[i * c + g] as f64)).sum::<f64>() / n as f64;
            let pred: Vec<usize> = (0..n)
                .map(|i| {
                    let row = &out.logits[i * c..(i + 1) * c];
                    (0..c).fold(0, |best, k| if row[k] > row[best] { k } else { best })
                })
                .collect();
            let correct = gold.iter().zip(&pred).filter(|(g, p)| g == p).count();
            m.insert("loss".into(), loss);
            m.insert("accuracy".into(), correct as f64 / n as f64);
            let mut f1s = Vec::with_capacity(c);
            for k in 0..c {
                let tp = gold.iter().zip(&pred).filter(|(g, p)| **g == k && **p == k).count() as f64;
                let fp = gold.iter().zip(&pred).filter(|(g, p)| **g != k && **p == k).count() as f64;
                let fn_ = gold.iter().zip(&pred).filter(|(g, p)| **g == k && **p != k).count() as f64;
                f1s.push(if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + fp + fn_) });
            }
            m.insert("macro_f1".into(), f1s.iter().sum::<f64>() / c as f64);
        }
        LabelKind::MultiLabel => {
            let gold: Vec<f32> = out
                .labels
                .iter()
                .flat_map(|l| match l {
                    Labels::MultiHot { values, .. } => values.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let mut loss = 0.0;
            let mut exact = 0usize;
            for i in 0..n {
                let mut all = true;
                for k in 0..c {
                    let (x, y) = (out.logits[i * c + k] as f64, gold[i * c + k] as f64);
                    loss += x.max(0.0) - x * y + (-x.abs()).exp().ln_1p();
                    all &= (x > 0.0) == (y > 0.5);
                }
                exact += usize::from(all);
            }
            m.insert("loss".into(), loss / (n * c) as f64);
            m.insert("subset_accuracy".into(), exact as f64 / n as f64);
        }
        LabelKind::Regression => {
            let gold: Vec<f32> = out
                .labels
                .iter()
                .flat_map(|l| match l {
                    Labels::Values(v) => v.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let mse = (0..n).map(|i| ((out.logits[i * c] - gold[i]) as f64).powi(2)).sum::<f64>() / n as f64;
            m.insert("loss".into(), mse);
            m.insert("mse".into(), mse);
        }
    }
    m
}
