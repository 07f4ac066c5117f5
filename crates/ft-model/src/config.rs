//! `BertConfig`: HuggingFace's `config.json`, read with serde, validated once.
//!
//! Field names are the JSON keys; keys ft does not use are kept in `extra` so that saving writes them
//! back unchanged.

use crate::ModelError;
use crate::family::{Family, denormalise_config, normalise_config};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The activation between `intermediate.dense` and `output.dense`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenAct {
    /// `gelu`: the exact, erf-based GELU.
    Gelu,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
    /// `tanh` (BERT's pooler and RoBERTa's classification head).
    Tanh,
}

impl HiddenAct {
    /// Parses the `hidden_act` string of `config.json`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "gelu" | "gelu_python" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Self::GeluTanh),
            "relu" => Some(Self::Relu),
            "tanh" => Some(Self::Tanh),
            _ => None,
        }
    }
}

/// What kind of targets the head is trained for (`problem_type` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemType {
    /// One class per example: softmax + cross-entropy.
    SingleLabelClassification,
    /// Any number of classes per example: sigmoid + binary cross-entropy.
    MultiLabelClassification,
    /// A real-valued target: mean squared error.
    Regression,
}

/// The largest `config.json` [`BertConfig::from_file`] reads (16 MiB).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

fn default_hidden_act() -> String {
    "gelu".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_dropout() -> f64 {
    0.1
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_type_vocab_size() -> usize {
    2
}
fn default_max_position_embeddings() -> usize {
    512
}
fn default_position_embedding_type() -> String {
    "absolute".into()
}
fn default_model_type() -> String {
    "bert".into()
}

/// A BERT configuration as HuggingFace writes it in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// The family (`bert`, `roberta`, `xlm-roberta`, `distilbert`, `electra`; see [`Family`]).
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// Token vocabulary size.
    pub vocab_size: usize,
    /// Width of every hidden state (`H`).
    pub hidden_size: usize,
    /// Width of the embeddings when it differs from `hidden_size` (ELECTRA's `embedding_size`;
    /// `embeddings_project` maps it to `H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_size: Option<usize>,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; must divide `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Activation of the feed-forward block (see [`HiddenAct`]).
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Dropout on embeddings and block outputs.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Dropout before the classifier; `null` means `hidden_dropout_prob`.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// Number of learned positions.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Number of token types (segments); 0 for DistilBERT, which has none.
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    /// Std of the normal initialisation of fresh weights.
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Id of the padding token.
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    /// Only `absolute` is supported.
    #[serde(default = "default_position_embedding_type")]
    pub position_embedding_type: String,
    /// Model classes this checkpoint was saved from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// Number of labels of the head, when given explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// Class index → name (JSON object keys are the indices as strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Class name → index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label2id: Option<BTreeMap<String, usize>>,
    /// The head's target kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<ProblemType>,
    /// Every other key, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl BertConfig {
    /// Reads and validates `config.json`.
    ///
    /// A file larger than [`MAX_CONFIG_BYTES`] is refused before it is read: a BERT config is a few
    /// kilobytes, and anything far larger is not one (or is `/dev/zero` behind a symlink).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(ModelError::io(path))?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text).map_err(ModelError::io(path))?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ModelError::Config {
                path: path.to_path_buf(),
                reason: format!(
                    "is larger than {} MiB; a config.json is a few KB — is this the right file?",
                    MAX_CONFIG_BYTES >> 20
                ),
            });
        }
        Self::from_json_str(&text, path)
    }

    /// Parses and validates the text of a `config.json`; `path` is only used in error messages.
    ///
    /// Never panics, whatever `text` holds: malformed JSON is [`ModelError::ConfigJson`] (naming the key,
    /// line and column), a config ft cannot build is [`ModelError::Config`] (naming the key).
    ///
    /// DistilBERT's own keys (`dim`, `n_layers`, …) are read as BERT's (see [`Family`]);
    /// [`BertConfig::to_json_value`] writes them back.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self, ModelError> {
        let json_error = |source| ModelError::ConfigJson { path: path.to_path_buf(), source };
        let config_error = |reason| ModelError::Config { path: path.to_path_buf(), reason };
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
        let renamed = matches!(
            value.get("model_type").and_then(|v| v.as_str()).and_then(Family::of_model_type),
            Some(Family::DistilBert | Family::ModernBert)
        );
        normalise_config(&mut value).map_err(config_error)?;
        // Parsed from the text when no key was renamed, so that a type error names its line.
        let config: Self = if renamed {
            serde_json::from_value(value).map_err(json_error)?
        } else {
            let mut config: Self = serde_json::from_str(text).map_err(json_error)?;
            config.pad_token_id = config.pad_token_id.or(value["pad_token_id"].as_u64().map(|p| p as usize));
            config
        };
        config.validate().map_err(config_error)?;
        Ok(config)
    }

    /// The config as `config.json` holds it, in its family's own keys (DistilBERT's `dim`, …).
    pub fn to_json_value(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        denormalise_config(&mut value);
        value
    }

    /// The encoder family `model_type` names (validated: one ft has).
    pub fn family(&self) -> Family {
        Family::of_model_type(&self.model_type).unwrap_or(Family::Bert)
    }

    /// The width of the embedding tables: `embedding_size` (ELECTRA), else `hidden_size`.
    pub fn embedding_width(&self) -> usize {
        self.embedding_size.unwrap_or(self.hidden_size)
    }

    /// The most tokens one input may have (see [`Family::max_tokens`]: RoBERTa's 514 positions hold
    /// 512 tokens).
    pub fn max_tokens(&self) -> usize {
        self.family().max_tokens(self)
    }

    /// Checks what the model code relies on; returns the reason and the fix on failure.
    pub fn validate(&self) -> Result<(), String> {
        let Some(family) = Family::of_model_type(&self.model_type) else {
            let known: Vec<&str> = Family::ALL.iter().map(|f| f.model_type()).collect();
            return Err(format!(
                "model_type \"{}\" is not supported yet; ft loads model_type {}",
                self.model_type,
                known.join(", ")
            ));
        };
        if self.type_vocab_size == 0 && !matches!(family, Family::DistilBert | Family::DebertaV2 | Family::ModernBert) {
            return Err("type_vocab_size is 0; it must be at least 1".into());
        }
        if self.embedding_size == Some(0) {
            return Err("embedding_size is 0; it must be at least 1".into());
        }
        if let crate::family::Positions::AfterPadding { pad } = family.positions(self)
            && self.max_position_embeddings <= pad + 1
        {
            return Err(format!(
                "max_position_embeddings {} leaves no position for a token: {} positions come after pad_token_id {pad}",
                self.max_position_embeddings,
                family.name()
            ));
        }
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(format!("{key} is 0; it must be at least 1"));
            }
        }
        self.check_sizes()?;
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if family == Family::DebertaV2 {
            self.validate_deberta()?;
        }
        if family == Family::ModernBert {
            crate::bert::modern::ModernBert::of_config(self)?;
        }
        if HiddenAct::parse(&self.hidden_act).is_none() {
            return Err(format!(
                "hidden_act \"{}\" is not supported; use gelu, gelu_new, gelu_pytorch_tanh, relu or tanh",
                self.hidden_act
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type \"{}\" is not supported yet; only \"absolute\" is",
                self.position_embedding_type
            ));
        }
        for (key, p) in [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            ("attention_probs_dropout_prob", Some(self.attention_probs_dropout_prob)),
            ("classifier_dropout", self.classifier_dropout),
        ] {
            if let Some(p) = p
                && !(0.0..1.0).contains(&p)
            {
                return Err(format!("{key} is {p}; a dropout probability must be in [0, 1)"));
            }
        }
        if !self.layer_norm_eps.is_finite() || self.layer_norm_eps <= 0.0 {
            return Err(format!("layer_norm_eps is {}; it must be positive", self.layer_norm_eps));
        }
        if !self.initializer_range.is_finite() || self.initializer_range < 0.0 {
            return Err(format!(
                "initializer_range is {}; it must be a finite standard deviation ≥ 0 (BERT uses 0.02)",
                self.initializer_range
            ));
        }
        if self.num_labels == Some(0) {
            return Err("num_labels is 0; a classifier needs at least one class".into());
        }
        if let Some(pad) = self.pad_token_id
            && pad >= self.vocab_size
        {
            return Err(format!("pad_token_id {pad} is outside the vocabulary (vocab_size {})", self.vocab_size));
        }
        if let Some(map) = &self.id2label {
            for key in map.keys() {
                if key.parse::<usize>().is_err() {
                    return Err(format!("id2label key \"{key}\" is not a class index"));
                }
            }
        }
        Ok(())
    }

    /// Refuses sizes whose products cannot be allocated: every weight matrix, one layer, and the whole
    /// model (in bytes of f32) must fit in `isize::MAX`, the most one allocation may hold. This bounds
    /// arithmetic only; whether the checkpoint agrees is checked against its header before anything is
    /// allocated.
    fn check_sizes(&self) -> Result<(), String> {
        const LIMIT: usize = isize::MAX as usize / 4; // f32 values in the largest possible allocation
        let h = self.hidden_size;
        let e = self.embedding_width();
        let product = |a_key: &str, a: usize, b_key: &str, b: usize| -> Result<usize, String> {
            a.checked_mul(b).filter(|&n| n <= LIMIT).ok_or_else(|| {
                format!("{a_key} {a} × {b_key} {b} is too large to allocate in one array; check {a_key} and {b_key}")
            })
        };
        let embeddings = [
            product("vocab_size", self.vocab_size, "hidden_size", e)?,
            product("max_position_embeddings", self.max_position_embeddings, "hidden_size", e)?,
            product("type_vocab_size", self.type_vocab_size, "hidden_size", e)?,
            product("embedding_size", e, "hidden_size", h)?,
        ];
        let square = product("hidden_size", h, "hidden_size", h)?;
        let feed_forward = product("intermediate_size", self.intermediate_size, "hidden_size", h)?;
        let head = product("num_labels", self.labels_count(), "hidden_size", h)?;
        // One layer: q, k, v, attention output (h·h + h each), two feed-forward matrices and their
        // biases, two LayerNorms.
        let layer = [square, h, square, h, square, h, square, h, feed_forward, self.intermediate_size, feed_forward]
            .into_iter()
            .chain([h; 5])
            .try_fold(0usize, usize::checked_add);
        let total = layer
            .and_then(|l| l.checked_mul(self.num_hidden_layers))
            .and_then(|t| embeddings.into_iter().chain([square, h, head]).try_fold(t, usize::checked_add))
            .filter(|&n| n <= LIMIT);
        if total.is_none() {
            return Err(format!(
                "num_hidden_layers {} with hidden_size {h} and intermediate_size {} is a model too large to allocate; check these keys",
                self.num_hidden_layers, self.intermediate_size
            ));
        }
        Ok(())
    }

    /// The activation named by `hidden_act` (validated).
    pub fn activation(&self) -> HiddenAct {
        HiddenAct::parse(&self.hidden_act).unwrap_or(HiddenAct::Gelu)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Dropout before the classifier, as transformers resolves it (DeBERTa's key is `cls_dropout`).
    pub fn classifier_dropout_prob(&self) -> f64 {
        match self.family() {
            Family::DebertaV2 => self.extra_f64("cls_dropout").unwrap_or(self.hidden_dropout_prob),
            _ => self.classifier_dropout.unwrap_or(self.hidden_dropout_prob),
        }
    }

    /// A boolean key kept in [`BertConfig::extra`] (`default` when absent or not a boolean).
    pub fn extra_bool(&self, key: &str, default: bool) -> bool {
        self.extra.get(key).and_then(|v| v.as_bool()).unwrap_or(default)
    }

    /// A string key kept in [`BertConfig::extra`].
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(|v| v.as_str())
    }

    /// A number kept in [`BertConfig::extra`].
    pub fn extra_f64(&self, key: &str) -> Option<f64> {
        self.extra.get(key).and_then(|v| v.as_f64())
    }

    /// DeBERTa's attention settings (`None` for the other families; validated when the config is read).
    pub fn disentangled(&self) -> Option<crate::bert::disentangled::Disentangled> {
        match self.family() {
            Family::DebertaV2 => crate::bert::disentangled::Disentangled::of_config(self).ok(),
            _ => None,
        }
    }

    /// ModernBERT's settings (`None` for the other families; validated when the config is read).
    pub fn modern(&self) -> Option<crate::bert::modern::ModernBert> {
        match self.family() {
            Family::ModernBert => crate::bert::modern::ModernBert::of_config(self).ok(),
            _ => None,
        }
    }

    /// What DeBERTa's keys ask that ft does not build, or that is malformed.
    fn validate_deberta(&self) -> Result<(), String> {
        use crate::bert::disentangled::{Disentangled, conv_settings};
        Disentangled::of_config(self)?;
        conv_settings(self)?;
        if let Some(e) = self.embedding_size
            && e != self.hidden_size
        {
            return Err(format!(
                "embedding_size {e} differs from hidden_size {}; ft loads DeBERTa with embeddings as wide as the hidden states (no embed_proj)",
                self.hidden_size
            ));
        }
        for key in ["attention_head_size", "pooler_hidden_size"] {
            let want = if key == "attention_head_size" {
                self.hidden_size / self.num_attention_heads
            } else {
                self.hidden_size
            };
            if let Some(v) = self.extra.get(key).filter(|v| !v.is_null())
                && v.as_u64() != Some(want as u64)
            {
                return Err(format!(
                    "{key} is {v}; ft builds DeBERTa with {key} {want} (from hidden_size and num_attention_heads)"
                ));
            }
        }
        let act = self.extra_str("pooler_hidden_act").unwrap_or("gelu");
        if HiddenAct::parse(act).is_none() {
            return Err(format!("pooler_hidden_act \"{act}\" is not supported; use gelu, relu or tanh"));
        }
        for key in ["pooler_dropout", "cls_dropout"] {
            if let Some(p) = self.extra_f64(key)
                && !(0.0..1.0).contains(&p)
            {
                return Err(format!("{key} is {p}; a dropout probability must be in [0, 1)"));
            }
        }
        if self.extra.get("z_steps").and_then(|v| v.as_u64()).is_some_and(|z| z > 1) {
            return Err("z_steps > 1 (the enhanced mask decoder's extra passes) is not supported".into());
        }
        Ok(())
    }

    /// The number of labels: `num_labels`, else the size of `id2label`, else 2 (transformers' default).
    pub fn labels_count(&self) -> usize {
        self.num_labels.or_else(|| self.id2label.as_ref().map(|m| m.len())).unwrap_or(2)
    }

    /// Class names in index order (`LABEL_i` where `id2label` has no entry, as transformers names them).
    pub fn label_names(&self) -> Vec<String> {
        (0..self.labels_count())
            .map(|i| {
                self.id2label
                    .as_ref()
                    .and_then(|m| m.get(&i.to_string()).cloned())
                    .unwrap_or_else(|| format!("LABEL_{i}"))
            })
            .collect()
    }

    /// Sets the head's labels: `num_labels`, `id2label`, `label2id` together.
    pub fn set_labels(&mut self, names: &[String]) {
        self.num_labels = Some(names.len());
        self.id2label = Some(names.iter().enumerate().map(|(i, n)| (i.to_string(), n.clone())).collect());
        self.label2id = Some(names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 64
        })
    }

    fn parse(v: serde_json::Value) -> Result<BertConfig, String> {
        let c: BertConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.validate().map(|_| c)
    }

    #[test]
    fn defaults_match_transformers() {
        let c = parse(minimal()).unwrap();
        assert_eq!(c.layer_norm_eps, 1e-12);
        assert_eq!(c.max_position_embeddings, 512);
        assert_eq!(c.type_vocab_size, 2);
        assert_eq!(c.activation(), HiddenAct::Gelu);
        assert_eq!(c.labels_count(), 2);
        assert_eq!(c.label_names(), ["LABEL_0", "LABEL_1"]);
        assert_eq!(c.classifier_dropout_prob(), 0.1);
        assert_eq!(c.head_dim(), 8);
    }

    #[test]
    fn unknown_keys_are_kept() {
        let mut v = minimal();
        v["gradient_checkpointing"] = serde_json::json!(false);
        let c = parse(v).unwrap();
        assert_eq!(c.extra["gradient_checkpointing"], serde_json::json!(false));
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["gradient_checkpointing"], serde_json::json!(false));
    }

    #[test]
    fn heads_must_divide_hidden() {
        let mut v = minimal();
        v["num_attention_heads"] = serde_json::json!(5);
        assert!(parse(v).unwrap_err().contains("not a multiple of num_attention_heads 5"));
    }

    #[test]
    fn relative_positions_are_refused() {
        let mut v = minimal();
        v["position_embedding_type"] = serde_json::json!("relative_key");
        assert!(parse(v).unwrap_err().contains("not supported yet"));
    }

    #[test]
    fn unknown_activation_is_refused() {
        let mut v = minimal();
        v["hidden_act"] = serde_json::json!("swish");
        assert!(parse(v).unwrap_err().contains("hidden_act \"swish\""));
        for ok in ["gelu_new", "gelu_pytorch_tanh", "relu"] {
            let mut v = minimal();
            v["hidden_act"] = serde_json::json!(ok);
            assert!(parse(v).is_ok(), "{ok}");
        }
    }

    #[test]
    fn sizes_whose_products_overflow_are_refused_with_the_key() {
        for (key, value) in [
            ("num_hidden_layers", serde_json::json!(usize::MAX)),
            ("intermediate_size", serde_json::json!(usize::MAX / 2)),
            ("vocab_size", serde_json::json!(usize::MAX / 16)),
            ("num_labels", serde_json::json!(usize::MAX / 8)),
        ] {
            let mut v = minimal();
            v[key] = value;
            let err = parse(v).unwrap_err();
            assert!(err.contains(key) && err.contains("too large"), "{key}: {err}");
        }
        let mut v = minimal();
        v["hidden_size"] = serde_json::json!(1u64 << 40);
        v["num_attention_heads"] = serde_json::json!(1);
        assert!(parse(v).unwrap_err().contains("hidden_size"));
        // Large but representable: refused later, against the checkpoint's header, not here.
        let mut v = minimal();
        v["num_hidden_layers"] = serde_json::json!(1_000_000_000);
        assert!(parse(v).is_ok());
    }

    #[test]
    fn zero_sizes_and_bad_initializer_range_are_refused() {
        let mut v = minimal();
        v["intermediate_size"] = serde_json::json!(0);
        assert!(parse(v).unwrap_err().contains("intermediate_size is 0"));
        let mut v = minimal();
        v["num_labels"] = serde_json::json!(0);
        assert!(parse(v).unwrap_err().contains("num_labels is 0"));
        let mut v = minimal();
        v["initializer_range"] = serde_json::json!(-1.0);
        assert!(parse(v).unwrap_err().contains("initializer_range"));
    }

    #[test]
    fn from_json_str_names_the_file_and_never_panics() {
        let path = Path::new("some/dir/config.json");
        for text in ["", "{", "[]", "null", "{\"vocab_size\": -1}", "{\"hidden_size\": 1e400}", &"[".repeat(10_000)] {
            let err = BertConfig::from_json_str(text, path).unwrap_err().to_string();
            assert!(err.starts_with("some/dir/config.json: "), "{text:.20}: {err}");
        }
        let err = BertConfig::from_json_str(
            r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                "intermediate_size": 18446744073709551615}"#,
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("some/dir/config.json") && err.contains("intermediate_size"), "{err}");
        assert!(BertConfig::from_json_str(&minimal().to_string(), path).is_ok());
    }

    #[test]
    fn labels_from_id2label() {
        let mut v = minimal();
        v["id2label"] = serde_json::json!({"0": "neg", "1": "neu", "2": "pos"});
        let c = parse(v).unwrap();
        assert_eq!(c.labels_count(), 3);
        assert_eq!(c.label_names(), ["neg", "neu", "pos"]);
    }
}
