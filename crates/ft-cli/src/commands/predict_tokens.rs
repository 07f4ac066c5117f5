//! `ft predict` for token-classification models: the entities of each text with character offsets,
//! as transformers' `pipeline("token-classification", aggregation_strategy=…)` returns them (the
//! grouping is `ft_eval::entity_spans`; checked against the pipeline's own output on the tiny model).

use super::train::RunConfig;
use anyhow::{Context, bail};
use ft_data::Tokenizer;
use ft_eval::{Aggregation, EntitySpan, ScoredToken, entity_spans};
use ft_model::burn::tensor::{Device, Int, Tensor, TensorData};
use ft_model::{BertForTokenClassification, Head, LoadOptions, ModelInputs, Predictions};

/// A token-classification model ready for inference.
pub struct TokenPredictor {
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
    /// `DIR/run.toml`, when there is one.
    pub run: Option<RunConfig>,
    unk_id: Option<u32>,
}

impl TokenPredictor {
    /// Loads `model` (a directory or packaged asset) for inference; `max_len` as `Predictor::load`.
    pub fn load(model: &str, device: &str, max_len: Option<usize>) -> anyhow::Result<Self> {
        let (_, device) = super::open_device(device)?;
        let dir = ft_assets::resolve_model(model).with_context(|| format!("resolving model `{model}`"))?;
        let loaded = ft_model::load_pretrained::<BertForTokenClassification>(&dir, &LoadOptions::default(), &device)
            .with_context(|| format!("loading model from {}", dir.display()))?;
        if !loaded.report.fresh.is_empty() {
            bail!(
                "{}: has no trained token classifier ({} initialised fresh); fine-tune it first with `ft train --model {model} --task token-classification ...` and pass that run's --output",
                dir.display(),
                loaded.report.fresh.join(", ")
            );
        }
        let run_toml = dir.join("run.toml");
        let run = if run_toml.is_file() { Some(RunConfig::read(&run_toml)?) } else { None };
        let positions = loaded.config.max_position_embeddings;
        let max_len = max_len.or(run.as_ref().map(|r| r.data.max_len)).unwrap_or(128.min(positions));
        if max_len > positions || max_len < 3 {
            bail!("--max-len {max_len}: must be between 3 and the model's {positions} positions");
        }
        let tokenizer =
            Tokenizer::from_dir(&dir).with_context(|| format!("loading the tokenizer of {}", dir.display()))?;
        super::check_tokenizer_fits(&tokenizer, loaded.config.vocab_size, &dir)?;
        let unk_id = tokenizer.token_to_id("[UNK]");
        let labels = loaded.config.label_names();
        Ok(Self { model: loaded.model, tokenizer, labels, max_len, device, run, unk_id })
    }

    /// The entities of each text, in order: the texts are tokenized (truncated to `max_len`), run
    /// as one padded batch, and each text's tokens grouped by `aggregation`; groups of a type in
    /// `ignore` are left out.
    pub fn entities(
        &self,
        texts: &[&str],
        aggregation: Aggregation,
        ignore: &[String],
    ) -> anyhow::Result<Vec<Vec<EntitySpan>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (*t, None)).collect();
        let encodings = self.tokenizer.encode_batch(&inputs, self.max_len)?;
        let (b, t) = (encodings.len(), encodings.iter().map(|e| e.len()).max().unwrap_or(0));
        let pad = i64::from(self.tokenizer.pad_id());
        let (mut ids, mut types, mut mask) = (vec![pad; b * t], vec![0i64; b * t], vec![0i64; b * t]);
        for (r, e) in encodings.iter().enumerate() {
            for (j, &id) in e.ids.iter().enumerate() {
                ids[r * t + j] = i64::from(id);
                types[r * t + j] = i64::from(e.type_ids[j]);
                mask[r * t + j] = 1;
            }
        }
        let tensor = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [b, t]), &self.device);
        let logits = self.model.logits(ModelInputs {
            input_ids: tensor(ids),
            token_type_ids: tensor(types),
            attention_mask: tensor(mask),
        })?;
        let Predictions::Tokens { logits, seq_len, width } = BertForTokenClassification::predictions(logits)? else {
            bail!("the token head returned rows of logits");
        };
        let mut out = Vec::with_capacity(b);
        for (r, (e, text)) in encodings.iter().zip(texts).enumerate() {
            let mut tokens = Vec::with_capacity(e.len());
            for j in 0..e.len() {
                if e.special_tokens_mask[j] == 1 {
                    continue;
                }
                let row = &logits[(r * seq_len + j) * width..(r * seq_len + j + 1) * width];
                if let Some(x) = row.iter().find(|x| !x.is_finite()) {
                    bail!(
                        "the model gave a non-finite score ({x}) for text {text:?}; its weights are probably corrupt (NaN/inf) — retrain or re-export it"
                    );
                }
                let (start, end) = e.offsets[j];
                tokens.push(ScoredToken {
                    token: self.tokenizer.id_to_token(e.ids[j]).unwrap_or_default(),
                    unknown: Some(e.ids[j]) == self.unk_id,
                    start,
                    end,
                    probs: ft_train::eval::softmax_rows(row, width),
                });
            }
            out.push(entity_spans(text, &tokens, &self.labels, aggregation, ignore)?);
        }
        Ok(out)
    }
}

/// One output line: `{"text": …, "entities": [{"type", "start", "end", "text", "score"}]}`.
pub fn to_json(text: &str, entities: &[EntitySpan]) -> String {
    serde_json::json!({ "text": text, "entities": entities }).to_string()
}
