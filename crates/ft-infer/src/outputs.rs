//! A head's outputs over a split of encoded examples, in file order: rows of logits (sequence heads)
//! or the gold and predicted class of each labelled token (token heads); softmax and arg-max on the
//! host. Training's evaluations, `ft eval` and `ft predict` all run models through [`outputs`].

use crate::InferError;
use ft_data::{BatchOptions, Encoding, Examples, Labels, plan_epoch};
use ft_model::burn::tensor::{Device, Int, Tensor, TensorData};
use ft_model::{Head, ModelInputs, Predictions};

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

/// `encodings` as one batch on `device`, right-padded with `pad_id` to the longest (mask 0 there).
///
/// # Shapes
/// - output: three `[B, T]` tensors, `T` the longest encoding
pub fn padded_inputs(encodings: &[Encoding], pad_id: u32, device: &Device) -> ModelInputs {
    let (b, t) = (encodings.len(), encodings.iter().map(Encoding::len).max().unwrap_or(0));
    let (mut ids, mut types, mut mask) = (vec![i64::from(pad_id); b * t], vec![0i64; b * t], vec![0i64; b * t]);
    for (r, e) in encodings.iter().enumerate() {
        for (j, &id) in e.ids.iter().enumerate() {
            ids[r * t + j] = i64::from(id);
            types[r * t + j] = i64::from(e.type_ids[j]);
            mask[r * t + j] = 1;
        }
    }
    let tensor = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [b, t]), device);
    ModelInputs::new(tensor(ids), tensor(types), tensor(mask))
}

/// A `[N, C]` tensor's values on the host, row-major.
pub fn to_host(t: Tensor<2>) -> Result<Vec<f32>, InferError> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| InferError::Tensor(format!("reading logits: {e:?}")))
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

/// A span head's outputs over a split of question-answering windows: the start and end logits of
/// every token of every window (file order, each as long as its window), and the summed loss.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanOutputs {
    /// Start logits per window.
    pub start_logits: Vec<Vec<f32>>,
    /// End logits per window.
    pub end_logits: Vec<Vec<f32>>,
    /// Sum over windows of the mean of the start and end cross-entropies (over the window's own
    /// tokens, padding left out).
    pub loss_sum: f64,
}

/// What a head computed over a split.
#[derive(Debug, Clone)]
pub enum Outputs {
    /// A row of logits per example (sequence heads).
    Rows(SplitOutputs),
    /// A prediction per labelled token (token heads).
    Tokens(TokenOutputs),
    /// Start and end logits per window (question answering).
    Spans(SpanOutputs),
}

/// Cross-entropy of `logits` against class `gold`, in f64.
fn cross_entropy(logits: &[f32], gold: usize) -> f64 {
    -softmax_rows(logits, logits.len())[gold].max(f64::MIN_POSITIVE).ln()
}

/// Runs `model` (in eval mode: pass `model.valid()`) over `examples`, in batches of similar length
/// (little padding); the outputs go back to file order.
pub fn outputs<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Result<Outputs, InferError> {
    let n = examples.len();
    let bs = batch_size.max(1);
    let lengths = examples.lengths();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| lengths[i as usize]);
    let mut rows: Option<(Vec<f32>, usize)> = None;
    let mut tokens = TokenOutputs { gold: vec![Vec::new(); n], pred: vec![Vec::new(); n], loss_sum: 0.0 };
    let mut spans: Option<SpanOutputs> = None;
    for indices in order.chunks(bs) {
        let batch = examples.collate(indices, None);
        let (input_ids, token_type_ids, attention_mask) = batch.to_tensors(device);
        let logits = model.logits(ModelInputs::new(input_ids, token_type_ids, attention_mask))?;
        match H::predictions(logits)? {
            Predictions::Rows { logits, width } => {
                let (all, _) = rows.get_or_insert_with(|| (vec![0f32; n * width], width));
                for (r, &i) in indices.iter().enumerate() {
                    let i = i as usize;
                    all[i * width..(i + 1) * width].copy_from_slice(&logits[r * width..(r + 1) * width]);
                }
            }
            Predictions::Tokens { logits, seq_len, width } if matches!(batch.labels, Labels::Spans(_)) => {
                let Labels::Spans(gold) = &batch.labels else { unreachable!("matched above") };
                if width != 2 {
                    return Err(InferError::Task(format!(
                        "{} gives {width} logits per token; answer spans need a start and an end",
                        H::TASK.architecture()
                    )));
                }
                let out = spans.get_or_insert_with(|| SpanOutputs {
                    start_logits: vec![Vec::new(); n],
                    end_logits: vec![Vec::new(); n],
                    loss_sum: 0.0,
                });
                for (r, &i) in indices.iter().enumerate() {
                    let i = i as usize;
                    let len = examples.length(i);
                    let side = |k: usize| -> Vec<f32> { (0..len).map(|t| logits[(r * seq_len + t) * 2 + k]).collect() };
                    let (start, end) = (side(0), side(1));
                    let (gs, ge) = (gold[2 * r] as usize, gold[2 * r + 1] as usize);
                    if gs < len && ge < len {
                        out.loss_sum += (cross_entropy(&start, gs) + cross_entropy(&end, ge)) / 2.0;
                    }
                    out.start_logits[i] = start;
                    out.end_logits[i] = end;
                }
            }
            Predictions::Tokens { logits, seq_len, width } => {
                let Labels::TokenClasses(gold) = &batch.labels else {
                    return Err(InferError::Task(format!(
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
    if let Some(spans) = spans {
        return Ok(Outputs::Spans(spans));
    }
    Ok(Outputs::Tokens(tokens))
}

/// Runs a sequence head over `examples`: its logits `[N, C]` in file order and the labels.
pub fn logits<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Result<SplitOutputs, InferError> {
    match outputs(model, examples, batch_size, device)? {
        Outputs::Rows(rows) => Ok(rows),
        Outputs::Tokens(_) | Outputs::Spans(_) => Err(InferError::Task(format!(
            "{} predicts per token, not a row of logits per example",
            H::TASK.architecture()
        ))),
    }
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
