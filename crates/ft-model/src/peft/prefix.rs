//! Prefix tuning as P-tuning v2 (Liu et al., 2022) and PEFT's `PREFIX_TUNING` without projection: `P`
//! learned key and value vectors put before every layer's keys and values; the queries are the text's,
//! the mask attends the prefix, positions are unchanged. The encoder is frozen; the prefixes and the
//! head train. Prefixes start N(0, 1) (`nn.Embedding`'s init, as PEFT).
//!
//! PEFT keeps them as one `prompt_embeddings` tensor `[P, L·2·H]`: layer `l`'s keys in columns
//! `2l·H..(2l+1)·H`, its values in the next `H` ([`to_peft`], [`from_peft`]). PEFT 0.21.2 cannot run
//! it on BERT with transformers 5.24 ("Model does not support past key values"), so the reference is
//! the PyTorch module `add_prefix` in `xtask/py/generate_fixtures.py`.

use crate::ModelError;
use crate::bert::model::BertModel;
use crate::init::Init;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// What `--peft prefix` trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrefixSettings {
    /// Prefix positions per layer (`num_virtual_tokens`).
    pub num_virtual_tokens: usize,
}

impl Default for PrefixSettings {
    /// 20 positions.
    fn default() -> Self {
        Self { num_virtual_tokens: 20 }
    }
}

/// The encoder frozen, with fresh key and value prefixes in every layer (N(0, 1), layer `l`'s keys
/// from `seed + 2l`, its values from `seed + 2l + 1`).
pub fn attach(bert: BertModel, settings: &PrefixSettings, seed: u64, device: &Device) -> Result<BertModel, ModelError> {
    let p = settings.num_virtual_tokens;
    if p == 0 || p > 512 {
        return Err(ModelError::Input(format!("--virtual-tokens {p}: give 1 to 512 prefix positions")));
    }
    let mut bert = bert.no_grad();
    let h = bert.hidden_size;
    for (l, layer) in bert.encoder.layer.iter_mut().enumerate() {
        let sa = &mut layer.attention.self_attention;
        let s = seed.wrapping_add(2 * l as u64);
        sa.prefix_key = Some(Param::from_tensor(Init::normal(s, 1.0).tensor([p, h], device)));
        sa.prefix_value = Some(Param::from_tensor(Init::normal(s.wrapping_add(1), 1.0).tensor([p, h], device)));
    }
    // The head's own dense layer (RoBERTa's `classifier.dense`, …) trains with the head.
    if let Some(pooler) = bert.pooler.take() {
        bert.pooler = Some(if pooler.in_head { pooler.set_require_grad(true) } else { pooler });
    }
    Ok(bert)
}

/// The prefixes in PEFT's `prompt_embeddings` layout `[P, L·2·H]` (`None` without prefixes).
pub fn to_peft(bert: &BertModel) -> Option<Tensor<2>> {
    let mut parts = Vec::new();
    for layer in &bert.encoder.layer {
        let sa = &layer.attention.self_attention;
        parts.push(sa.prefix_key.as_ref()?.val());
        parts.push(sa.prefix_value.as_ref()?.val());
    }
    Some(Tensor::cat(parts, 1))
}

/// `bert` with its prefixes set from PEFT's layout `[P, L·2·H]`; the shape must match the model.
pub fn from_peft(bert: BertModel, values: Tensor<2>) -> Result<BertModel, ModelError> {
    let h = bert.hidden_size;
    let layers = bert.encoder.layer.len();
    let [p, width] = values.dims();
    if width != layers * 2 * h {
        return Err(ModelError::Input(format!(
            "prefixes of shape [{p}, {width}]; this model ({layers} layers, hidden size {h}) needs [{p}, {}]",
            layers * 2 * h
        )));
    }
    let mut bert = bert;
    for (l, layer) in bert.encoder.layer.iter_mut().enumerate() {
        let sa = &mut layer.attention.self_attention;
        let key = values.clone().narrow(1, 2 * l * h, h);
        let value = values.clone().narrow(1, (2 * l + 1) * h, h);
        // Trainable like fresh ones; the rest of the encoder stays as it is.
        sa.prefix_key = Some(Param::from_tensor(key.detach()));
        sa.prefix_value = Some(Param::from_tensor(value.detach()));
    }
    Ok(bert)
}

impl PrefixSettings {
    /// `config.json`'s key for a model ft saved with prefixes (ft's loader builds them from it).
    pub const CONFIG_KEY: &'static str = "ft_prefix";

    /// The settings of the prefixes in `bert`, if it has any.
    pub fn of_model(bert: &BertModel) -> Option<Self> {
        let pk = bert.encoder.layer.first()?.attention.self_attention.prefix_key.as_ref()?;
        Some(Self { num_virtual_tokens: pk.dims()[0] })
    }

    /// The settings recorded in `config` (`None` without the key).
    pub fn of_config(config: &crate::BertConfig, path: &std::path::Path) -> Result<Option<Self>, ModelError> {
        let Some(value) = config.extra.get(Self::CONFIG_KEY) else { return Ok(None) };
        serde_json::from_value(value.clone()).map(Some).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            reason: format!("`{}`: {e} (expected {{\"num_virtual_tokens\": 20}})", Self::CONFIG_KEY),
        })
    }
}

/// Writes the prefixes (PEFT's `prompt_embeddings` layout) and the head of `model` to `out` in PEFT's
/// `PREFIX_TUNING` format (plus ft_config.json), atomically.
pub fn save_adapter<H: crate::Head>(
    model: &H,
    config: &crate::BertConfig,
    base_model: Option<&str>,
    out: &std::path::Path,
    overwrite: bool,
) -> Result<(), ModelError> {
    let (Some(settings), Some(values)) = (PrefixSettings::of_model(model.bert()), to_peft(model.bert())) else {
        return Err(ModelError::Input("the model has no prefixes: nothing to save".into()));
    };
    let heads = super::adapter::AdapterHead::of(model, config).modules_to_save;
    let adapter = serde_json::json!({
        "peft_type": "PREFIX_TUNING",
        "task_type": super::adapter::peft_task_type(H::TASK),
        "base_model_name_or_path": base_model,
        "num_virtual_tokens": settings.num_virtual_tokens,
        "token_dim": config.hidden_size,
        "num_transformer_submodules": 1,
        "num_attention_heads": config.num_attention_heads,
        "num_layers": config.num_hidden_layers,
        "encoder_hidden_size": config.hidden_size,
        "prefix_projection": false,
        "modules_to_save": heads,
        "inference_mode": true,
        "revision": null,
    });
    super::prompt::save_prompt_learning(model, config, &adapter, values, out, overwrite)
}

/// `model` (a base model, frozen by this call) with the prefix-tuning adapter in `dir` (PEFT's
/// `PREFIX_TUNING` without projection, as [`save_adapter`] writes it): its prefixes from
/// `prompt_embeddings` `[P, L·2·H]` and its head.
pub fn load_adapter<H: crate::Head>(
    model: H,
    config: &crate::BertConfig,
    dir: &std::path::Path,
    device: &Device,
) -> Result<(H, PrefixSettings), ModelError> {
    use super::prompt::{PROMPT_PREFIX, PROMPT_TENSOR};
    use burn::store::{PyTorchToBurnAdapter, SafetensorsStore};
    let (path, value) = super::adapter::read_adapter_json(dir)?;
    let bad = |reason: String| ModelError::Config { path: path.clone(), reason };
    if value["peft_type"] != "PREFIX_TUNING" {
        return Err(bad(format!("`peft_type` is {}; expected PREFIX_TUNING", value["peft_type"])));
    }
    if value["prefix_projection"].as_bool().unwrap_or(false) {
        return Err(bad(
            "`prefix_projection` is true: ft computes prefixes without PEFT's reparameterisation MLP; retrain without it"
                .into(),
        ));
    }
    if value["num_transformer_submodules"].as_u64().unwrap_or(1) != 1 {
        return Err(bad("`num_transformer_submodules` is not 1: an encoder-decoder prefix".into()));
    }
    for (key, want) in [("num_layers", config.num_hidden_layers), ("token_dim", config.hidden_size)] {
        if let Some(v) = value[key].as_u64().filter(|&v| v as usize != want) {
            return Err(bad(format!("`{key}` is {v}, but the base model has {want}: was it trained on another base?")));
        }
    }
    let p = value["num_virtual_tokens"].as_u64().ok_or_else(|| bad("`num_virtual_tokens` is missing".into()))? as usize;
    let settings = PrefixSettings { num_virtual_tokens: p };
    let (weights, bytes, header) = super::adapter::read_adapter_weights(dir)?;
    let width = config.num_hidden_layers * 2 * config.hidden_size;
    let mut expected: Vec<(String, Vec<usize>)> = vec![(PROMPT_TENSOR.into(), vec![p, width])];
    let head = super::adapter::AdapterHead::of(&model, config);
    for (name, shape) in &head.tensors {
        expected.push((format!("{PROMPT_PREFIX}{name}"), shape.clone()));
    }
    let what = format!("a prefix-tuning adapter (expected {PROMPT_TENSOR} and {})", head.modules_to_save.join(", "));
    let family = model.bert().family;
    super::adapter::check_tensor_table(&weights, &header, &expected, &what)?;
    let table = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| ModelError::Safetensors { path: weights.clone(), reason: e.to_string() })?;
    let view = table
        .tensor(PROMPT_TENSOR)
        .map_err(|e| ModelError::Safetensors { path: weights.clone(), reason: e.to_string() })?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(ModelError::Safetensors {
            path: weights.clone(),
            reason: format!("{PROMPT_TENSOR} is {:?}; ft reads F32 prefixes", view.dtype()),
        });
    }
    let values: Vec<f32> = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let values = Tensor::<2>::from_data(burn::tensor::TensorData::new(values, [p, width]), device);
    let mut model = model.try_map_bert(|bert| {
        let bert = attach(bert, &settings, 0, device)?;
        from_peft(bert, values)
    })?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .with_key_remapping(format!("^{}", PROMPT_PREFIX.replace('.', r"\.")), "");
    for (pattern, replacement) in family.load_rules() {
        store = store.with_key_remapping(pattern.as_str(), *replacement);
    }
    super::adapter::apply_checked(&mut model, &mut store, expected.len() - 1, &weights)?;
    Ok((model, settings))
}
