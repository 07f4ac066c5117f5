//! [`TokenPredictor`]: a fine-tuned token-classification model turning raw texts into entities with
//! character offsets, as transformers' `pipeline("token-classification", aggregation_strategy=…)`
//! returns them (the grouping is `ft_eval::entity_spans`, checked against the pipeline's own output).

use crate::{InferError, model_dir, softmax_rows};
use ft_data::Tokenizer;
use ft_eval::{Aggregation, EntitySpan, ScoredToken, entity_spans};
use ft_model::burn::tensor::Device;
use ft_model::{BertForTokenClassification, Head, LoadOptions, Predictions};
use std::path::PathBuf;

/// A trained token-classification model ready for inference.
pub struct TokenPredictor {
    /// The model directory.
    pub dir: PathBuf,
    /// The model, on `device`.
    pub model: BertForTokenClassification,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// `id2label`.
    pub labels: Vec<String>,
    /// Tokens per text.
    pub max_len: usize,
    /// Where it runs.
    pub device: Device,
    unk_id: Option<u32>,
}

impl TokenPredictor {
    /// Loads `model` (a directory or packaged asset) onto `device`; `max_len` as
    /// [`crate::Predictor::load`]. A model without a trained token classifier is refused.
    pub fn load(model: &str, device: Device, max_len: Option<usize>) -> Result<Self, InferError> {
        let dir = model_dir::resolve(model)?;
        let loaded = ft_model::load_pretrained::<BertForTokenClassification>(&dir, &LoadOptions::default(), &device)
            .map_err(|source| InferError::Load { dir: dir.clone(), source: Box::new(source) })?;
        if !loaded.report.fresh.is_empty() {
            return Err(InferError::Task(format!(
                "{}: has no trained token classifier ({} initialised fresh); fine-tune it first with `ft train --model {model} --task token-classification ...` and pass that run's --output",
                dir.display(),
                loaded.report.fresh.join(", ")
            )));
        }
        let max_len = model_dir::max_len(max_len, loaded.config.max_tokens())?;
        let tokenizer = model_dir::tokenizer(&dir, loaded.config.vocab_size)?;
        let unk_id = tokenizer.token_to_id("[UNK]");
        let labels = loaded.config.label_names();
        Ok(Self { dir, model: loaded.model, tokenizer, labels, max_len, device, unk_id })
    }

    /// The predicted tag of every word of each pre-split sentence (a CoNLL file's words): the arg-max
    /// label of the word's first sub-token, as token-classification training labels and scores words;
    /// `None` for a word past `max_len` (it has no token).
    pub fn tag_words(&self, sentences: &[Vec<&str>]) -> Result<Vec<Vec<Option<String>>>, InferError> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_words_batch(sentences, self.max_len)?;
        let b = encodings.len();
        let logits = self.model.logits(crate::padded_inputs(&encodings, self.tokenizer.pad_id(), &self.device))?;
        let Predictions::Tokens { logits, seq_len, width } = BertForTokenClassification::predictions(logits)? else {
            return Err(InferError::Task("the token head returned rows of logits".into()));
        };
        let mut out = Vec::with_capacity(b);
        for (r, (e, words)) in encodings.iter().zip(sentences).enumerate() {
            let mut tags = vec![None; words.len()];
            for (j, w) in e.word_ids.iter().enumerate() {
                let Some(w) = w.map(|w| w as usize) else { continue };
                if w >= tags.len() || tags[w].is_some() {
                    continue;
                }
                let row = &logits[(r * seq_len + j) * width..(r * seq_len + j + 1) * width];
                if let Some(&value) = row.iter().find(|x| !x.is_finite()) {
                    return Err(InferError::NonFinite { value, text: words.join(" ") });
                }
                let best = crate::argmax_rows(row, width)[0];
                tags[w] = Some(self.labels.get(best).cloned().unwrap_or_else(|| format!("LABEL_{best}")));
            }
            out.push(tags);
        }
        Ok(out)
    }

    /// The entities of each text, in order: the texts are tokenized (truncated to `max_len`), run
    /// as one padded batch, and each text's tokens grouped by `aggregation`; groups of a type in
    /// `ignore` are left out.
    pub fn entities(
        &self,
        texts: &[&str],
        aggregation: Aggregation,
        ignore: &[String],
    ) -> Result<Vec<Vec<EntitySpan>>, InferError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (*t, None)).collect();
        let encodings = self.tokenizer.encode_batch(&inputs, self.max_len)?;
        let b = encodings.len();
        let logits = self.model.logits(crate::padded_inputs(&encodings, self.tokenizer.pad_id(), &self.device))?;
        let Predictions::Tokens { logits, seq_len, width } = BertForTokenClassification::predictions(logits)? else {
            return Err(InferError::Task("the token head returned rows of logits".into()));
        };
        let mut out = Vec::with_capacity(b);
        for (r, (e, text)) in encodings.iter().zip(texts).enumerate() {
            let mut tokens = Vec::with_capacity(e.len());
            for j in 0..e.len() {
                if e.special_tokens_mask[j] == 1 {
                    continue;
                }
                let row = &logits[(r * seq_len + j) * width..(r * seq_len + j + 1) * width];
                if let Some(&value) = row.iter().find(|x| !x.is_finite()) {
                    return Err(InferError::NonFinite { value, text: text.to_string() });
                }
                let (start, end) = e.offsets[j];
                tokens.push(ScoredToken {
                    token: self.tokenizer.id_to_token(e.ids[j]).unwrap_or_default(),
                    unknown: Some(e.ids[j]) == self.unk_id,
                    start,
                    end,
                    probs: softmax_rows(row, width),
                });
            }
            out.push(entity_spans(text, &tokens, &self.labels, aggregation, ignore)?);
        }
        Ok(out)
    }
}
