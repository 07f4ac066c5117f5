//! Evaluation during training: the loss and the task's metrics of a split, for any head, from the
//! outputs `ft_infer::outputs` computes (rows of logits, or a prediction per labelled token).

use crate::TrainError;
use crate::features::Features;
use burn::tensor::Device;
use ft_data::{Examples, LabelKind, LabelSpace, Labels};
use ft_infer::{
    Outputs, SpanOutputs, SplitOutputs, Thresholds, TokenOutputs, argmax_rows, gold_classes, outputs, softmax_rows,
    to_host,
};
use ft_model::Head;
use std::collections::BTreeMap;

/// Metric name → value (`loss`, `accuracy`, `macro_f1`, …).
pub type Metrics = BTreeMap<String, f64>;

/// Whether a larger value of `metric` is better.
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(metric, "loss" | "mse" | "mae" | "hamming_loss" | "log_loss")
}

/// Metrics of `model` on `examples` (multi-label rows decided with `thresholds`).
pub fn evaluate<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    labels: &LabelSpace,
    thresholds: &Thresholds,
    device: &Device,
) -> Result<Metrics, TrainError> {
    match outputs(model, examples, batch_size, device)? {
        Outputs::Rows(out) => Ok(metrics(&out, labels.kind, thresholds)),
        Outputs::Tokens(out) => token_metrics(&out, &labels.names),
        Outputs::Spans(out) => span_metrics(&out, examples),
    }
}

/// Question answering: the loss over windows and SQuAD v1.1's exact match and F1 (0–100, as
/// `run_qa.py` reports them) of the best answer to every question, chosen over its windows as
/// utils_qa does (the 20 best starts and ends, answers of at most 30 tokens).
pub fn span_metrics(out: &SpanOutputs, examples: &Examples) -> Result<Metrics, TrainError> {
    let mut m = Metrics::new();
    if examples.is_empty() {
        return Ok(m);
    }
    m.insert("loss".into(), out.loss_sum / examples.len() as f64);
    let answers = ft_infer::qa::split_answers(
        out,
        examples,
        ft_infer::qa::DEFAULT_N_BEST,
        ft_infer::qa::DEFAULT_MAX_ANSWER_LENGTH,
    )?;
    let predictions: Vec<&str> = answers.iter().map(|a| a.text.as_str()).collect();
    let gold: Vec<&[String]> = examples.questions().iter().map(|q| q.answers.as_slice()).collect();
    let scores = ft_eval::SquadScores::compute(&predictions, &gold)
        .map_err(|e| TrainError::Config(format!("question-answering metrics: {e}")))?;
    m.insert("exact_match".into(), scores.exact_match);
    m.insert("f1".into(), scores.f1);
    Ok(m)
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
    head: &ft_model::PooledHead,
    features: &Features,
    examples: &Examples,
    batch_size: usize,
    labels: &LabelSpace,
    thresholds: &Thresholds,
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
    Ok(metrics(&out, labels.kind, thresholds))
}

/// The classes that occur in a split's gold labels but that the model never predicts there (single
/// label: never the argmax; multi-label: never above its threshold), each with its number of gold
/// examples: a rare class the model has learned to ignore, which accuracy hides (macro-F1 counts it
/// as 0). Empty for the other kinds.
pub fn never_predicted(out: &SplitOutputs, kind: LabelKind, thresholds: &Thresholds) -> Vec<(usize, usize)> {
    let c = out.num_labels;
    let mut gold = vec![0usize; c];
    let mut predicted = vec![0usize; c];
    match kind {
        LabelKind::SingleLabel => {
            for g in gold_classes(&out.labels) {
                gold[g] += 1;
            }
            for p in argmax_rows(&out.logits, c) {
                predicted[p] += 1;
            }
        }
        LabelKind::MultiLabel => {
            let values = out.labels.iter().flat_map(|l| match l {
                Labels::MultiHot { values, .. } => values.clone(),
                _ => Vec::new(),
            });
            for (i, y) in values.enumerate() {
                gold[i % c.max(1)] += usize::from(y > 0.5);
            }
            for (i, yes) in thresholds.decide(&out.logits, c).into_iter().enumerate() {
                predicted[i % c.max(1)] += usize::from(yes);
            }
        }
        LabelKind::Regression | LabelKind::TokenClasses | LabelKind::Spans => return Vec::new(),
    }
    (0..c).filter(|&k| gold[k] > 0 && predicted[k] == 0).map(|k| (k, gold[k])).collect()
}

/// `never_predicted` as one line for the user, `None` when every class is predicted somewhere.
pub fn never_predicted_warning(
    out: &SplitOutputs,
    kind: LabelKind,
    thresholds: &Thresholds,
    names: &[String],
    split: &str,
) -> Option<String> {
    let missing = never_predicted(out, kind, thresholds);
    if missing.is_empty() {
        return None;
    }
    let list: Vec<String> = missing
        .iter()
        .map(|&(k, n)| {
            format!(
                "{} ({n} {split} example{})",
                names.get(k).map_or("?", String::as_str),
                if n == 1 { "" } else { "s" }
            )
        })
        .collect();
    Some(format!(
        "warning    {split}: the model never predicts {}: its F1 is 0 there; more epochs, more examples of it, or \
         a higher --lr may help",
        list.join(", ")
    ))
}

/// Loss and task metrics from logits and labels, computed by ft-eval (scikit-learn's definitions);
/// multi-label rows are decided with `thresholds`.
pub fn metrics(out: &SplitOutputs, kind: LabelKind, thresholds: &Thresholds) -> Metrics {
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
            let pred = thresholds.decide(&out.logits, c);
            if let Ok(r) = ft_eval::MultilabelReport::compute(&truth, &pred, c) {
                // scikit-learn's accuracy_score on indicator matrices: the subset accuracy (every
                // class of the row right). Named as single-label accuracy, the default metric_for_best.
                m.insert("accuracy".into(), r.subset_accuracy);
                m.insert("hamming_loss".into(), r.hamming_loss);
                m.insert("micro_f1".into(), r.micro_avg.f1);
                m.insert("macro_f1".into(), r.macro_avg.f1);
            }
        }
        // Token labels and answer spans never come as rows of logits: `token_metrics` and
        // `span_metrics` score them.
        LabelKind::TokenClasses | LabelKind::Spans => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_never_predicted_is_named_with_its_support() {
        // 4 rows, 3 classes; gold 0, 2, 2, 1; the argmax is always 0 or 1.
        let logits = vec![2.0, 0.0, 0.0, 0.0, 1.0, 0.5, 1.0, 0.0, 0.9, 0.0, 3.0, 0.0];
        let out = SplitOutputs { logits, num_labels: 3, labels: vec![Labels::Classes(vec![0, 2, 2, 1])] };
        assert_eq!(never_predicted(&out, LabelKind::SingleLabel, &Thresholds::default()), [(2, 2)]);
        let names = ["ham".to_string(), "spam".to_string(), "rare".to_string()];
        let line =
            never_predicted_warning(&out, LabelKind::SingleLabel, &Thresholds::default(), &names, "test").unwrap();
        assert!(line.contains("never predicts rare (2 test examples)"), "{line}");
        // Multi-label: class 1 is present twice, never above 0; class 2 never present (not named).
        let values = vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let out = SplitOutputs {
            logits: vec![1.0, -1.0, -2.0, -1.0, -0.5, -3.0],
            num_labels: 3,
            labels: vec![Labels::MultiHot { values, num_labels: 3 }],
        };
        assert_eq!(never_predicted(&out, LabelKind::MultiLabel, &Thresholds::default()), [(1, 2)]);
        // At 0.3, class 1's -0.5 (sigmoid 0.38) is predicted.
        assert!(never_predicted(&out, LabelKind::MultiLabel, &Thresholds::PerLabel(vec![0.5, 0.3, 0.5])).is_empty());
        assert!(never_predicted(&out, LabelKind::Regression, &Thresholds::default()).is_empty());
    }
}
