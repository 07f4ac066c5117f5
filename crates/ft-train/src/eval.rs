//! Evaluation during training: logits for a split (in file order), the loss and the task's metrics.

use crate::TrainError;
use crate::features::{ClassifierHead, Features};
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
    let n = examples.len();
    let bs = batch_size.max(1);
    // Batches of similar length (stable sort) waste little padding; logits go back to file order.
    let lengths = examples.lengths();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| lengths[i as usize]);
    let mut logits = vec![0f32; n * num_labels];
    for indices in order.chunks(bs) {
        let batch = examples.collate(indices, None);
        let (ids, types, mask) = batch.to_tensors(device);
        let rows = to_host(model.forward(ids, Some(types), Some(mask))?.logits)?;
        for (r, &i) in indices.iter().enumerate() {
            let i = i as usize;
            logits[i * num_labels..(i + 1) * num_labels].copy_from_slice(&rows[r * num_labels..(r + 1) * num_labels]);
        }
    }
    let labels = plan_epoch(&lengths, &BatchOptions::eval(bs), 0)
        .into_iter()
        .map(|indices| examples.collate(&indices, None).labels)
        .collect();
    Ok(SplitOutputs { logits, num_labels, labels })
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

/// Softmax of each row of `[N, C]` logits, in f64 so that rows sum to 1 to rounding.
pub fn softmax_rows(logits: &[f32], c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(c.max(1)) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let exps: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        out.extend(exps.into_iter().map(|e| e / sum));
    }
    out
}

/// Gold class indices of a single-label split, in order.
pub fn gold_classes(labels: &[Labels]) -> Vec<usize> {
    labels
        .iter()
        .flat_map(|l| match l {
            Labels::Classes(v) => v.iter().map(|&x| x as usize).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect()
}

/// Arg-max class of each row of `[N, C]` logits (the first on ties, as `torch.argmax`).
pub fn argmax_rows(logits: &[f32], c: usize) -> Vec<usize> {
    logits
        .chunks(c.max(1))
        .map(|row| (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best }))
        .collect()
}

/// Loss and task metrics from logits and labels, computed by ft-eval (scikit-learn's definitions).
pub fn metrics(out: &SplitOutputs, kind: LabelKind, _device: &Device) -> Metrics {
    let c = out.num_labels;
    let n = out.logits.len() / c.max(1);
    let mut m = Metrics::new();
    if n == 0 {
        return m;
    }
    match kind {
        LabelKind::SingleLabel => {
            let gold = gold_classes(&out.labels);
            let pred = argmax_rows(&out.logits, c);
            let probs = softmax_rows(&out.logits, c);
            // Mean cross-entropy of the logits (= log-loss of their softmax).
            let loss =
                gold.iter().enumerate().map(|(i, &g)| -probs[i * c + g].max(f64::MIN_POSITIVE).ln()).sum::<f64>()
                    / n as f64;
            m.insert("loss".into(), loss);
            if let Ok(r) = ft_eval::ClassificationReport::compute(&gold, &pred, c) {
                m.insert("accuracy".into(), r.accuracy);
                m.insert("macro_f1".into(), r.macro_avg.f1);
                m.insert("weighted_f1".into(), r.weighted_avg.f1);
                m.insert("mcc".into(), r.mcc);
            }
            if let Ok(auc) = ft_eval::roc_auc(&gold, &probs, c) {
                m.insert("roc_auc".into(), auc);
            }
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
            for (x, y) in out.logits.iter().zip(&gold) {
                let (x, y) = (*x as f64, *y as f64);
                loss += x.max(0.0) - x * y + (-x.abs()).exp().ln_1p();
            }
            m.insert("loss".into(), loss / (n * c) as f64);
            let truth: Vec<bool> = gold.iter().map(|&y| y > 0.5).collect();
            let pred: Vec<bool> = out.logits.iter().map(|&x| x > 0.0).collect();
            if let Ok(r) = ft_eval::MultilabelReport::compute(&truth, &pred, c) {
                m.insert("subset_accuracy".into(), r.subset_accuracy);
                m.insert("hamming_loss".into(), r.hamming_loss);
                m.insert("micro_f1".into(), r.micro_avg.f1);
                m.insert("macro_f1".into(), r.macro_avg.f1);
            }
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
            let pred: Vec<f32> = out.logits.chunks(c.max(1)).map(|row| row[0]).collect();
            if let Ok(r) = ft_eval::RegressionReport::compute(&gold, &pred) {
                m.insert("loss".into(), r.mse);
                m.insert("mse".into(), r.mse);
                m.insert("mae".into(), r.mae);
                if let Some(p) = r.pearson {
                    m.insert("pearson".into(), p);
                }
                if let Some(s) = r.spearman {
                    m.insert("spearman".into(), s);
                }
            }
        }
    }
    m
}
