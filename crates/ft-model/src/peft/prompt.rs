//! Prompt tuning (Lester et al., 2021) as PEFT's `PROMPT_TUNING` computes it for a sequence
//! classifier: `P` learned virtual-token embeddings put before every row's word embeddings (positions
//! 0..P, token type 0, attended like real tokens), the encoder frozen, the head trained in full
//! (`modules_to_save`). The pooler therefore reads the first virtual token, as in PEFT.
//!
//! PEFT's adapter directory holds `prompt_embeddings` `[P, H]` and the head as
//! `base_model.classifier.*` (prompt learning wraps the model one level less deep than LoRA).

use super::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS, FT_CONFIG};
use crate::bert::model::BertModel;
use crate::heads::task::{Head, Task};
use crate::init::Init;
use crate::{BertConfig, ModelError, Pooling};
use burn::module::{Module, Param};
use burn::nn::Embedding;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;

/// The prefix of the head's tensors in a prompt-learning adapter file.
pub const PROMPT_PREFIX: &str = "base_model.";
/// The tensor of the virtual tokens in PEFT's file.
pub const PROMPT_TENSOR: &str = "prompt_embeddings";
/// Its name in a whole model ft saves (`save_pretrained` of a prompt-tuned model), which ft's loader
/// reads back; transformers reports it as unused.
pub const PROMPT_MODULE_TENSOR: &str = "bert.embeddings.prompt.weight";

/// How the virtual tokens start (PEFT's `prompt_tuning_init`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptInit {
    /// N(0, 1), `nn.Embedding`'s default (PEFT's `RANDOM`).
    Random,
    /// Rows of the word embeddings at random token ids (PEFT's `SAMPLE_VOCAB`).
    Vocab,
}

/// What `--peft prompt` trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptSettings {
    /// Virtual tokens (`num_virtual_tokens`).
    pub num_virtual_tokens: usize,
    /// Their initial values.
    pub init: PromptInit,
}

impl Default for PromptSettings {
    /// PEFT's usual 20 virtual tokens, random.
    fn default() -> Self {
        Self { num_virtual_tokens: 20, init: PromptInit::Random }
    }
}

impl PromptSettings {
    /// Refuses 0 virtual tokens and more than the model's positions leave room for.
    pub fn check(&self, max_position_embeddings: usize) -> Result<(), ModelError> {
        if self.num_virtual_tokens == 0 || self.num_virtual_tokens >= max_position_embeddings {
            return Err(ModelError::Input(format!(
                "--virtual-tokens {}: give 1 to {} (the model has {max_position_embeddings} positions, shared with the text)",
                self.num_virtual_tokens,
                max_position_embeddings.saturating_sub(1)
            )));
        }
        Ok(())
    }
}

/// The encoder frozen, with `settings.num_virtual_tokens` fresh virtual tokens (seeded by `seed`).
/// Only a sequence classifier reading the pooler takes prompts (PEFT's setup); the caller checks the
/// head with [`check_head`].
pub fn attach(bert: BertModel, settings: &PromptSettings, seed: u64, device: &Device) -> Result<BertModel, ModelError> {
    settings.check(bert.max_position_embeddings)?;
    let mut bert = bert.no_grad();
    let p = settings.num_virtual_tokens;
    let [vocab, h] = bert.embeddings.word_embeddings.weight.dims();
    let values: Tensor<2> = match settings.init {
        PromptInit::Random => Init::normal(seed, 1.0).tensor([p, h], device),
        PromptInit::Vocab => {
            let mut state = Init::kaiming_uniform(seed, 1);
            let ids: Vec<i64> = state
                .sample(p)
                .into_iter()
                .map(|u| (((u as f64 + 1.0) / 2.0 * vocab as f64) as i64).clamp(0, vocab as i64 - 1))
                .collect();
            let ids = Tensor::from_data(TensorData::new(ids, [p]), device);
            bert.embeddings.word_embeddings.weight.val().select(0, ids)
        }
    };
    bert.embeddings.prompt = Some(Embedding { weight: Param::from_tensor(values.detach()) });
    // The head's own dense layer (RoBERTa's `classifier.dense`, …) trains with the head, as PEFT's
    // `modules_to_save` leaves it.
    if let Some(pooler) = bert.pooler.take() {
        bert.pooler = Some(if pooler.in_head { pooler.set_require_grad(true) } else { pooler });
    }
    Ok(bert)
}

/// Prompt tuning is built for the sequence head reading the pooler (what PEFT's `SEQ_CLS` prompt
/// tuning computes); anything else is refused with the reason.
pub fn check_head<H: Head>(model: &H) -> Result<(), ModelError> {
    if H::TASK != Task::SequenceClassification {
        return Err(ModelError::Input(format!(
            "prompt tuning is built for sequence classification; {} would see the virtual tokens as text positions",
            H::TASK.architecture()
        )));
    }
    if model.pooling() != Pooling::Pooler {
        return Err(ModelError::Input(format!(
            "prompt tuning reads the pooler (on the first virtual token, as PEFT); this model pools `{}`: pass --pooling pooler",
            model.pooling()
        )));
    }
    Ok(())
}

/// The adapter_config.json PEFT writes for prompt tuning of `config`'s model.
fn adapter_json(settings: &PromptSettings, config: &BertConfig, base_model: Option<&str>, heads: &[String]) -> Value {
    json!({
        "peft_type": "PROMPT_TUNING",
        "task_type": "SEQ_CLS",
        "base_model_name_or_path": base_model,
        "num_virtual_tokens": settings.num_virtual_tokens,
        "token_dim": config.hidden_size,
        "num_transformer_submodules": 1,
        "num_attention_heads": config.num_attention_heads,
        "num_layers": config.num_hidden_layers,
        "prompt_tuning_init": match settings.init { PromptInit::Random => "RANDOM", PromptInit::Vocab => "SAMPLE_VOCAB" },
        "prompt_tuning_init_text": null,
        "tokenizer_name_or_path": null,
        "modules_to_save": heads,
        "inference_mode": true,
        "revision": null,
    })
}

/// Writes the virtual tokens and the head of `model` to `out` in PEFT's format (plus ft_config.json),
/// atomically.
pub fn save_adapter<H: Head>(
    model: &H,
    settings: &PromptSettings,
    config: &BertConfig,
    base_model: Option<&str>,
    out: &Path,
    overwrite: bool,
) -> Result<(), ModelError> {
    check_head(model)?;
    let Some(prompt) = &model.bert().embeddings.prompt else {
        return Err(ModelError::Input("the model has no virtual tokens: nothing to save as a prompt adapter".into()));
    };
    let head = super::adapter::AdapterHead::of(model, config);
    let adapter = adapter_json(settings, config, base_model, &head.modules_to_save);
    save_prompt_learning(model, config, &adapter, prompt.weight.val(), out, overwrite)
}

/// Writes a prompt-learning adapter directory (prompt or prefix tuning): `adapter_json` as
/// adapter_config.json, `prompt_embeddings` and the head (`base_model.<head>.*`) as
/// adapter_model.safetensors, and ft_config.json; atomically.
pub(crate) fn save_prompt_learning<H: Head>(
    model: &H,
    config: &BertConfig,
    adapter_json: &Value,
    prompt: Tensor<2>,
    out: &Path,
    overwrite: bool,
) -> Result<(), ModelError> {
    let head = super::adapter::AdapterHead::of(model, config);
    let family = model.bert().family;
    crate::checkpoint::save::write_dir(out, overwrite, |tmp| {
        let write = |path: &Path, value: &Value| -> Result<(), ModelError> {
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| ModelError::Output { path: path.to_path_buf(), reason: e.to_string() })?;
            std::fs::write(path, text + "\n").map_err(ModelError::io(path))
        };
        write(&tmp.join(ADAPTER_CONFIG), adapter_json)?;
        let mut ft_config = crate::checkpoint::save::head_config(config, H::TASK, model.num_labels());
        model.pooling().write_to(&mut ft_config);
        // In the family's own keys (DistilBERT's `n_layers`, ModernBERT's `norm_eps`), as config.json.
        let ft_config = ft_config.to_json_value();
        write(&tmp.join(FT_CONFIG), &ft_config)?;
        // The head through burn-store (PyTorch layouts), then the prompt tensor added as it is.
        let weights = tmp.join(ADAPTER_WEIGHTS);
        let mut store = SafetensorsStore::from_bytes(None)
            .with_to_adapter(BurnToPyTorchAdapter)
            .with_regex(head.keep.clone())
            .with_key_remapping(r"layer_norm\.", "LayerNorm.");
        // Canonical names → the family's (RoBERTa's `classifier.dense`, ModernBERT's `head.norm`, …).
        for (pattern, replacement) in family.save_rules(H::TASK) {
            store = store.with_key_remapping(pattern.as_str(), *replacement);
        }
        let mut store = store.with_key_remapping(r"^(.*)$", format!("{PROMPT_PREFIX}$1"));
        model
            .save_into(&mut store)
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?;
        let head_bytes = store
            .get_bytes()
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?;
        let head = safetensors::SafeTensors::deserialize(&head_bytes)
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?;
        let [p, h] = prompt.dims();
        let values: Vec<u8> = prompt
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: format!("{e:?}") })?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = head.tensors();
        views.push((
            PROMPT_TENSOR.to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![p, h], &values)
                .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?,
        ));
        views.sort_by(|a, b| a.0.cmp(&b.0));
        let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize_to_file(views, Some(metadata), &weights)
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?;
        crate::checkpoint::save::same_mode_as(&tmp.join(ADAPTER_CONFIG), &weights)
    })
}

/// `model` (a base sequence classifier reading the pooler, frozen by this call) with the prompt
/// adapter in `dir`: its virtual tokens and its head.
pub fn load_adapter<H: Head>(
    model: H,
    config: &BertConfig,
    dir: &Path,
    device: &Device,
) -> Result<(H, PromptSettings), ModelError> {
    check_head(&model)?;
    let (path, value) = super::adapter::read_adapter_json(dir)?;
    let bad = |reason: String| ModelError::Config { path: path.clone(), reason };
    if value["peft_type"] != "PROMPT_TUNING" {
        return Err(bad(format!("`peft_type` is {}; expected PROMPT_TUNING", value["peft_type"])));
    }
    if value["num_transformer_submodules"].as_u64().unwrap_or(1) != 1 {
        return Err(bad("`num_transformer_submodules` is not 1: an encoder-decoder prompt".into()));
    }
    let p = value["num_virtual_tokens"].as_u64().ok_or_else(|| bad("`num_virtual_tokens` is missing".into()))? as usize;
    let init = match value["prompt_tuning_init"].as_str() {
        Some("SAMPLE_VOCAB") => PromptInit::Vocab,
        _ => PromptInit::Random,
    };
    let settings = PromptSettings { num_virtual_tokens: p, init };
    settings.check(config.max_position_embeddings).map_err(|e| bad(e.to_string()))?;
    let (weights, bytes, header) = super::adapter::read_adapter_weights(dir)?;
    let head = super::adapter::AdapterHead::of(&model, config);
    let mut expected: Vec<(String, Vec<usize>)> = vec![(PROMPT_TENSOR.into(), vec![p, config.hidden_size])];
    for (name, shape) in &head.tensors {
        expected.push((format!("{PROMPT_PREFIX}{name}"), shape.clone()));
    }
    let what = format!("a prompt-tuning adapter (expected {PROMPT_TENSOR} and {})", head.modules_to_save.join(", "));
    let family = model.bert().family;
    super::adapter::check_tensor_table(&weights, &header, &expected, &what)?;
    let mut model = model.try_map_bert(|bert| attach(bert, &settings, 0, device))?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .with_key_remapping(format!("^{}", PROMPT_PREFIX.replace('.', r"\.")), "");
    for (pattern, replacement) in family.load_rules() {
        store = store.with_key_remapping(pattern.as_str(), *replacement);
    }
    let mut store = store
        .with_key_remapping(r"LayerNorm\.", "layer_norm.")
        .with_key_remapping(format!("^{PROMPT_TENSOR}$"), "bert.embeddings.prompt.weight");
    super::adapter::apply_checked(&mut model, &mut store, expected.len(), &weights)?;
    Ok((model, settings))
}
