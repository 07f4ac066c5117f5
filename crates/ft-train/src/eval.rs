//! Evaluation during training: a split's outputs (in file order), the loss and the task's metrics,
//! for any head: rows of logits (sequence heads) or a prediction per labelled token (token heads).

use crate::TrainError;
use crate::features::{ClassifierHead, Features};
use burn::tensor::{Device, Tensor};
use ft_data::{BatchOptions, Examples, LabelKind, LabelSpace, Labels, plan_epoch};
use ft_model::{Head, ModelInputs, Predictions};
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

/// A token head's outputs over a split: for every example (file order), the gold and predicted class
/// of each token that carries a label (the first sub-token of each word), and the summed loss.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenOutputs {
    /// Gold classes per example.
    pub gold: Vec<Vec<u32>>,
    /// Predicted classes (arg-max) per example, aligned with `gold`.
    pub pred: Vec<Vec<u32>>,
    /// Sum of the cross-entropy over every labelled token.
    pub loss_sum: f64,
}

/// What a head computed over a split.
#[derive(Debug, Clone)]
pub enum Outputs {
    /// A row of logits per example (sequence heads).
    Rows(SplitOutputs),
    /// A prediction per labelled token (token heads).
    Tokens(TokenOutputs),
}

/// Runs `model` (in eval mode: pass `model.valid()`) over `examples`, in batches of similar length
/// (little padding); the outputs go back to file order.
pub fn outputs<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Result<Outputs, TrainError> {
    let n = examples.len();
    let bs = batch_size.max(1);
    let lengths = examples.lengths();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| lengths[i as usize]);
    let mut rows: Option<(Vec<f32>, usize)> = None;
    let mut tokens = TokenOutputs { gold: vec![Vec::new(); n], pred: vec![Vec::new(); n], loss_sum: 0.0 };
    for indices in order.chunks(bs) {
        let batch = examples.collate(indices, None);
        let (input_ids, token_type_ids, attention_mask) = batch.to_tensors(device);
        let logits = model.logits(ModelInputs { input_ids, token_type_ids, attention_mask })?;
        match H::predictions(logits)? {
            Predictions::Rows { logits, width } => {
                let (all, _) = rows.get_or_insert_with(|| (vec![0f32; n * width], width));
                for (r, &i) in indices.iter().enumerate() {
                    let i = i as usize;
                    all[i * width..(i + 1) * width].copy_from_slice(&logits[r * width..(r + 1) * width]);
                }
            }
            Predictions::Tokens { logits, seq_len, width } => {
                let Labels::TokenClasses(gold) = &batch.labels else {
                    return Err(TrainError::Config(format!(
                        "{} needs token labels; this split has sentence labels",
                        H::TASK.architecture()
                    )));
                };
                for (r, &i) in indices.iter().enumerate() {
                    let i = i as usize;
                    for t in 0..seq_len {
                        let g = gold[r * seq_len + t];
                        if g == ft_model::IGNORE_INDEX {
                            continue;
                        }
                        let at = (r * seq_len + t) * width;
                        let row = &logits[at..at + width];
                        let p = argmax_rows(row, width)[0];
                        let probs = softmax_rows(row, width);
                        tokens.loss_sum -= probs[g as usize].max(f64::MIN_POSITIVE).ln();
                        tokens.gold[i].push(g as u32);
                        tokens.pred[i].push(p as u32);
                    }
                }
            }
        }
    }
    if let Some((logits, num_labels)) = rows {
        let labels = plan_epoch(&lengths, &BatchOptions::eval(bs), 0)
            .into_iter()
            .map(|indices| examples.collate(&indices, None).labels)
            .collect();
        return Ok(Outputs::Rows(SplitOutputs { logits, num_labels, labels }));
    }
    Ok(Outputs::Tokens(tokens))
}

/// Runs a sequence head over `examples`: its logits `[N, C]` in file order and the labels.
pub fn logits<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Result<SplitOutputs, TrainError> {
    match outputs(model, examples, batch_size, device)? {
        Outputs::Rows(rows) => Ok(rows),
        Outputs::Tokens(_) => Err(TrainError::Config(format!(
            "{} predicts per token, not a row of logits per example",
            H::TASK.architecture()
        ))),
    }
}

/// Metrics of `model` on `examples`.
pub fn evaluate<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    labels: &LabelSpace,
    device: &Device,
) -> Result<Metrics, TrainError> {
    match outputs(model, examples, batch_size, device)? {
        Outputs::Rows(out) => Ok(metrics(&out, labels.kind, device)),
        Outputs::Tokens(out) => token_metrics(&out, &labels.names),
    }
}

/// Loss, seqeval's entity-level precision/recall/F1 (micro, as `run_ner.py` reports them) and token
/// accuracy, over the labelled tokens (the first sub-token of every word that fit in `max_len`).
pub fn token_metrics(out: &TokenOutputs, names: &[String]) -> Result<Metrics, TrainError> {
    let mut m = Metrics::new();
    let counted: usize = out.gold.iter().map(Vec::len).sum();
    if counted == 0 {
        return Ok(m);
    }
    m.insert("loss".into(), out.loss_sum / counted as f64);
    let name = |c: &u32| names.get(*c as usize).cloned().unwrap_or_else(|| "O".into());
    let tags = |v: &[Vec<u32>]| -> Vec<Vec<String>> { v.iter().map(|s| s.iter().map(name).collect()).collect() };
    let report = ft_eval::TaggingReport::compute(&tags(&out.gold), &tags(&out.pred))
        .map_err(|e| TrainError::Config(format!("token metrics: {e}")))?;
    m.insert("precision".into(), report.micro_avg.precision);
    m.insert("recall".into(), report.micro_avg.recall);
    m.insert("f1".into(), report.micro_avg.f1);
    m.insert("accuracy".into(), report.token_accuracy);
    Ok(m)
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
        // Token labels never come as rows of logits: `token_metrics` scores them.
        LabelKind::TokenClasses => {}
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
