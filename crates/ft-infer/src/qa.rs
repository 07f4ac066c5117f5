//! [`QaPredictor`]: a fine-tuned extractive question-answering model answering a question from a
//! context — the context cut into windows as in training ([`ft_data::Tokenizer::encode_windows`]),
//! every window run in one padded batch, and the answer chosen over all windows as transformers'
//! `utils_qa.py` does ([`ft_eval::best_answers`]).

use crate::{InferError, SpanOutputs, model_dir};
use ft_data::{Encoding, Examples, Tokenizer};
use ft_eval::{Answer, AnswerWindow, best_answers};
use ft_model::burn::tensor::Device;
use ft_model::{BertForQuestionAnswering, Head, LoadOptions, Predictions};
use std::path::PathBuf;

/// run_qa.py's defaults: windows of 384 tokens sharing 128, the 20 best starts and ends, answers of
/// at most 30 tokens.
pub const DEFAULT_STRIDE: usize = 128;
/// Candidates kept per window and overall (`n_best_size`).
pub const DEFAULT_N_BEST: usize = 20;
/// Longest answer, in tokens (`max_answer_length`).
pub const DEFAULT_MAX_ANSWER_LENGTH: usize = 30;

/// The start and end logits of one window, one of each per token.
pub type WindowLogits = (Vec<f32>, Vec<f32>);

/// A trained question-answering model ready for inference.
pub struct QaPredictor {
    /// The model directory.
    pub dir: PathBuf,
    /// The model, on `device`.
    pub model: BertForQuestionAnswering,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Tokens per window.
    pub max_len: usize,
    /// Context tokens shared by consecutive windows.
    pub stride: usize,
    /// Where it runs.
    pub device: Device,
}

impl QaPredictor {
    /// Loads `model` (a directory or packaged asset) onto `device`; `max_len` as
    /// [`crate::Predictor::load`], the stride [`DEFAULT_STRIDE`] capped below a quarter of `max_len`
    /// for short windows. A model without a trained `qa_outputs` is refused.
    pub fn load(model: &str, device: Device, max_len: Option<usize>) -> Result<Self, InferError> {
        let dir = model_dir::resolve(model)?;
        let loaded = ft_model::load_pretrained::<BertForQuestionAnswering>(&dir, &LoadOptions::default(), &device)
            .map_err(|source| InferError::Load { dir: dir.clone(), source: Box::new(source) })?;
        if !loaded.report.fresh.is_empty() {
            return Err(InferError::Task(format!(
                "{}: has no trained question-answering head ({} initialised fresh); fine-tune it first",
                dir.display(),
                loaded.report.fresh.join(", ")
            )));
        }
        let max_len = model_dir::max_len(max_len, loaded.config.max_tokens())?;
        let tokenizer = model_dir::tokenizer(&dir, loaded.config.vocab_size)?;
        let stride = DEFAULT_STRIDE.min(max_len / 4);
        Ok(Self { dir, model: loaded.model, tokenizer, max_len, stride, device })
    }

    /// Start and end logits of every window, each as long as its window.
    pub fn window_logits(&self, windows: &[Encoding]) -> Result<Vec<WindowLogits>, InferError> {
        let logits = self.model.logits(crate::padded_inputs(windows, self.tokenizer.pad_id(), &self.device))?;
        let Predictions::Tokens { logits, seq_len, width } = BertForQuestionAnswering::predictions(logits)? else {
            return Err(InferError::Task("the QA head returned rows of logits".into()));
        };
        Ok(windows
            .iter()
            .enumerate()
            .map(|(r, e)| {
                let at = |j: usize, k: usize| logits[(r * seq_len + j) * width + k];
                ((0..e.len()).map(|j| at(j, 0)).collect(), (0..e.len()).map(|j| at(j, 1)).collect())
            })
            .collect())
    }

    /// The best answers to `question` in `context`, best first (`n_best` of them, each at most
    /// `max_answer_length` tokens). Leading whitespace of the question is dropped, as run_qa does.
    pub fn answer(
        &self,
        question: &str,
        context: &str,
        n_best: usize,
        max_answer_length: usize,
    ) -> Result<Vec<Answer>, InferError> {
        let windows = self.tokenizer.encode_windows(question.trim_start(), context, self.max_len, self.stride)?;
        let logits = self.window_logits(&windows)?;
        if let Some(&value) = logits.iter().flat_map(|(s, e)| s.iter().chain(e)).find(|x| !x.is_finite()) {
            return Err(InferError::NonFinite { value, text: question.to_string() });
        }
        let offsets: Vec<Vec<Option<(usize, usize)>>> = windows
            .iter()
            .map(|e| e.offsets.iter().zip(&e.sequence_ids).map(|(&o, &s)| (s == Some(1)).then_some(o)).collect())
            .collect();
        let views: Vec<AnswerWindow<'_>> = logits
            .iter()
            .zip(&offsets)
            .map(|((s, e), o)| AnswerWindow { start_logits: s, end_logits: e, offsets: o })
            .collect();
        Ok(best_answers(context, &views, n_best, max_answer_length)?)
    }
}

/// The best answer to every question of a split of windows (`examples`, built with its context
/// offsets), from the windows' logits (`out`, what [`crate::outputs`] gives for a QA head): per
/// question, utils_qa's choice over all its windows ([`best_answers`]). The answer's `source.0` is
/// the window's number within its question.
pub fn split_answers(
    out: &SpanOutputs,
    examples: &Examples,
    n_best: usize,
    max_answer_length: usize,
) -> Result<Vec<Answer>, InferError> {
    let questions = examples.questions();
    let mut per_question: Vec<Vec<usize>> = vec![Vec::new(); questions.len()];
    for i in 0..examples.len() {
        let q = examples
            .window_question(i)
            .ok_or_else(|| InferError::Task("the split holds no question-answering windows".into()))?;
        per_question[q].push(i);
    }
    per_question
        .iter()
        .zip(questions)
        .map(|(windows, question)| {
            let offsets = windows
                .iter()
                .map(|&i| {
                    examples
                        .context_offsets(i)
                        .ok_or_else(|| InferError::Task("the windows were built without their context offsets".into()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let views: Vec<AnswerWindow<'_>> = windows
                .iter()
                .zip(&offsets)
                .map(|(&i, o)| AnswerWindow {
                    start_logits: &out.start_logits[i],
                    end_logits: &out.end_logits[i],
                    offsets: o,
                })
                .collect();
            let best = best_answers(&question.context, &views, n_best.max(1), max_answer_length)?;
            best.into_iter()
                .next()
                .ok_or_else(|| InferError::Task(format!("question {:?}: no answer candidate", question.id)))
        })
        .collect()
}
