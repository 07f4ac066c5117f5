//! Extractive QA's answers from start/end logits, as transformers' `utils_qa.py`
//! (`postprocess_qa_predictions`, SQuAD v1: every question has an answer) chooses them: in every window
//! the `n_best` highest start and end logits are paired; a pair counts when both tokens are context
//! tokens, the end is not before the start and the span is at most `max_answer_length` tokens; its
//! score is the sum of the two logits (in f32, as numpy's float32); the best `n_best` over all windows
//! (a stable sort: ties keep window, then start, then end order) are cut from the context by character
//! offsets, and their probabilities are the softmax of the scores. Checked against a restatement of
//! that function on `fixtures/qa_postprocess_golden.json`.

use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// One window's outputs for [`best_answers`].
#[derive(Debug, Clone, Copy)]
pub struct AnswerWindow<'a> {
    /// Start logit of every token of the window.
    pub start_logits: &'a [f32],
    /// End logit of every token.
    pub end_logits: &'a [f32],
    /// Character offsets into the context of every token; `None` for the question and special tokens.
    pub offsets: &'a [Option<(usize, usize)>],
}

/// A candidate answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The answer, cut from the context (`"empty"` when no span qualified, as utils_qa).
    pub text: String,
    /// `(start, end)` characters of the context; `None` for the `"empty"` answer.
    pub offsets: Option<(usize, usize)>,
    /// Start logit + end logit.
    pub score: f32,
    /// Softmax of the scores over the returned answers.
    pub probability: f64,
    /// The window, start token and end token it came from; `None` for `"empty"`.
    pub source: Option<(usize, usize, usize)>,
}

/// The indices of the `k` largest values, largest first (ties: lower index first).
fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// The `n_best` answers of one question, best first, from the windows of its context.
///
/// Errors: a window whose logits and offsets differ in length, or an offset beyond the context.
///
/// ```
/// use ft_eval::answers::{AnswerWindow, best_answers};
/// // [CLS] q [SEP] Denver Broncos [SEP]: "Denver Broncos" is characters 0..14.
/// let offsets = [None, None, None, Some((0, 6)), Some((7, 14)), None];
/// let start = [0.0, 0.0, 0.0, 5.0, 1.0, 0.0];
/// let end = [0.0, 0.0, 0.0, 1.0, 4.0, 0.0];
/// let w = AnswerWindow { start_logits: &start, end_logits: &end, offsets: &offsets };
/// let best = best_answers("Denver Broncos", &[w], 20, 30)?;
/// assert_eq!((best[0].text.as_str(), best[0].score), ("Denver Broncos", 9.0));
/// # Ok::<(), ft_eval::EvalError>(())
/// ```
pub fn best_answers(
    context: &str,
    windows: &[AnswerWindow<'_>],
    n_best: usize,
    max_answer_length: usize,
) -> Result<Vec<Answer>, EvalError> {
    let chars: Vec<char> = context.chars().collect();
    let mut prelim = Vec::new();
    for (w, window) in windows.iter().enumerate() {
        let n = window.offsets.len();
        if window.start_logits.len() != n || window.end_logits.len() != n {
            return Err(EvalError::LengthMismatch {
                a: "start/end logits",
                len_a: window.start_logits.len().max(window.end_logits.len()),
                b: "offsets",
                len_b: n,
            });
        }
        let ends = top_k(window.end_logits, n_best);
        for s in top_k(window.start_logits, n_best) {
            for &e in &ends {
                let (Some(a), Some(b)) = (window.offsets[s], window.offsets[e]) else { continue };
                if e < s || e - s + 1 > max_answer_length {
                    continue;
                }
                let score = window.start_logits[s] + window.end_logits[e];
                prelim.push((score, (a.0, b.1), (w, s, e)));
            }
        }
    }
    prelim.sort_by(|x, y| y.0.total_cmp(&x.0));
    prelim.truncate(n_best);
    let mut answers = Vec::with_capacity(prelim.len() + 1);
    for (score, (a, b), source) in prelim {
        if a > b || b > chars.len() {
            return Err(EvalError::OffsetOutOfRange { start: a, end: b, len: chars.len() });
        }
        let text = chars[a..b].iter().collect();
        answers.push(Answer { text, offsets: Some((a, b)), score, probability: 0.0, source: Some(source) });
    }
    if answers.is_empty() || (answers.len() == 1 && answers[0].text.is_empty()) {
        let empty = Answer { text: "empty".into(), offsets: None, score: 0.0, probability: 0.0, source: None };
        answers.insert(0, empty);
    }
    let max = answers.iter().map(|a| a.score).fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = answers.iter().map(|a| f64::from(a.score - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    for (a, e) in answers.iter_mut().zip(exps) {
        a.probability = e / sum;
    }
    Ok(answers)
}
