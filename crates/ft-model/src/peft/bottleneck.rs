//! Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020): a small residual MLP,
//! `z + up(act(down(z)))` with `down` H → H / reduction and `up` back, inside BERT's output blocks:
//! `LayerNorm(adapter(dropout(dense(h))) + input)`. Houlsby puts one after the attention output
//! (`attention.output.adapter`) and one after the feed-forward output (`output.adapter`); Pfeiffer only
//! the latter. `up` starts at zero, so a fresh adapter is the identity; `down` ~ N(0, 0.02). The
//! encoder is frozen but for its LayerNorms, which train with the adapters and the head (Houlsby's
//! setup). The reference is the PyTorch module `Bottleneck` in `xtask/py/generate_fixtures.py`.

use crate::ModelError;
use crate::bert::model::BertModel;
use crate::init::Init;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{relu, silu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Where the adapters go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// After the attention output and after the feed-forward output of every layer.
    Houlsby,
    /// After the feed-forward output only.
    Pfeiffer,
}

/// The adapter's non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// `x · sigmoid(x)`.
    Swish,
}

/// What `--peft adapters` trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BottleneckSettings {
    /// Houlsby or Pfeiffer.
    pub architecture: Architecture,
    /// Bottleneck width = hidden_size / reduction.
    pub reduction: usize,
    /// The non-linearity.
    pub activation: Activation,
}

impl Default for BottleneckSettings {
    /// Houlsby, reduction 16, ReLU.
    fn default() -> Self {
        Self { architecture: Architecture::Houlsby, reduction: 16, activation: Activation::Relu }
    }
}

/// One adapter: `z + up(act(down(z)))`.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// `down`: H → H / reduction (burn layout `[H, b]`).
    pub down: Linear,
    /// `up`: back to H, zeros when fresh.
    pub up: Linear,
    /// The non-linearity (a setting).
    #[module(skip)]
    pub activation: Activation,
}

impl Bottleneck {
    /// A fresh adapter of width `hidden / reduction`: `down` from `init`, `up` zeros.
    pub fn new(hidden: usize, settings: &BottleneckSettings, init: &mut Init, device: &Device) -> Self {
        let b = hidden / settings.reduction;
        Self {
            down: init.linear(hidden, b, device),
            up: Linear {
                weight: Param::from_tensor(Tensor::zeros([b, hidden], device)),
                bias: Some(Param::from_tensor(Tensor::zeros([hidden], device))),
            },
            activation: settings.activation,
        }
    }

    /// `[…, H]` → `[…, H]`.
    pub fn forward<const D: usize>(&self, z: Tensor<D>) -> Tensor<D> {
        let inner = self.down.forward(z.clone());
        let inner = match self.activation {
            Activation::Relu => relu(inner),
            Activation::Swish => silu(inner),
        };
        z + self.up.forward(inner)
    }
}

impl BottleneckSettings {
    /// `config.json`'s key for a model ft saved with adapters (ft's loader builds them from it).
    pub const CONFIG_KEY: &'static str = "ft_adapters";

    /// The settings of the adapters in `bert`, if it has any.
    pub fn of_model(bert: &BertModel) -> Option<Self> {
        let layer = bert.encoder.layer.first()?;
        let adapter = layer.output.adapter.as_ref()?;
        let [hidden, width] = adapter.down.weight.dims();
        Some(Self {
            architecture: if layer.attention.output.adapter.is_some() {
                Architecture::Houlsby
            } else {
                Architecture::Pfeiffer
            },
            reduction: hidden / width.max(1),
            activation: adapter.activation,
        })
    }

    /// The settings recorded in `config` (`None` without the key).
    pub fn of_config(config: &crate::BertConfig, path: &std::path::Path) -> Result<Option<Self>, ModelError> {
        let Some(value) = config.extra.get(Self::CONFIG_KEY) else { return Ok(None) };
        serde_json::from_value(value.clone()).map(Some).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            reason: format!(
                "`{}`: {e} (expected {{\"architecture\": \"houlsby\", \"reduction\": 16, \"activation\": \"relu\"}})",
                Self::CONFIG_KEY
            ),
        })
    }
}

/// `z` through `adapter` when there is one.
pub fn forward_with<const D: usize>(adapter: &Option<Bottleneck>, z: Tensor<D>) -> Tensor<D> {
    match adapter {
        Some(a) => a.forward(z),
        None => z,
    }
}

/// The encoder frozen but for its LayerNorms, with fresh adapters where `settings` puts them (the
/// k-th adapter's `down` from N(0, 0.02) seeded with `seed + k`). Returns how many adapters.
pub fn attach(
    bert: BertModel,
    settings: &BottleneckSettings,
    seed: u64,
    device: &Device,
) -> Result<(BertModel, usize), ModelError> {
    let hidden = bert.hidden_size;
    if settings.reduction == 0 || settings.reduction > hidden || !hidden.is_multiple_of(settings.reduction) {
        return Err(ModelError::Input(format!(
            "--adapter-reduction {}: must divide hidden_size {hidden} (the bottleneck is hidden_size / reduction)",
            settings.reduction
        )));
    }
    if bert.encoder.layer.iter().any(|l| l.pre_norm) {
        return Err(ModelError::Input(format!(
            "bottleneck adapters sit before each residual + LayerNorm of a post-LayerNorm layer; {}'s layers \
             normalise first, so ft does not place them there (use --peft prompt)",
            bert.family
        )));
    }
    let mut bert = bert.no_grad();
    let mut k = 0u64;
    let mut fresh = || {
        k += 1;
        Init::normal(seed.wrapping_add(k - 1), 0.02)
    };
    bert.embeddings.layer_norm = bert.embeddings.layer_norm.clone().set_require_grad(true);
    for layer in bert.encoder.layer.iter_mut() {
        let out = &mut layer.attention.output;
        out.layer_norm = out.layer_norm.clone().set_require_grad(true);
        if settings.architecture == Architecture::Houlsby {
            out.adapter = Some(Bottleneck::new(hidden, settings, &mut fresh(), device));
        }
        let out = &mut layer.output;
        out.layer_norm = out.layer_norm.clone().set_require_grad(true);
        out.adapter = Some(Bottleneck::new(hidden, settings, &mut fresh(), device));
    }
    // The head's own dense layer (RoBERTa's `classifier.dense`, …) trains with the head.
    if let Some(pooler) = bert.pooler.take() {
        bert.pooler = Some(if pooler.in_head { pooler.set_require_grad(true) } else { pooler });
    }
    Ok((bert, k as usize))
}

/// Writes the adapters of `model` — with every LayerNorm and the head, what trained — to `out`:
/// `adapter_config.json` (ft's format: `peft_type` "BOTTLENECK", `architecture`, `reduction_factor`,
/// `non_linearity`, `task_type`, `base_model_name_or_path`, `modules_to_save`),
/// `adapter_model.safetensors` (transformers' names and layouts:
/// `bert.encoder.layer.0.output.adapter.down.weight` `[H / reduction, H]`, …,
/// `bert.encoder.layer.0.output.LayerNorm.weight`, `classifier.weight`) and `ft_config.json`.
/// Atomic, as [`crate::save_pretrained`].
pub fn save_adapter<H: crate::Head>(
    model: &H,
    config: &crate::BertConfig,
    base_model: Option<&str>,
    out: &std::path::Path,
    overwrite: bool,
) -> Result<(), ModelError> {
    use super::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS, FT_CONFIG, peft_task_type};
    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
    let Some(settings) = BottleneckSettings::of_model(model.bert()) else {
        return Err(ModelError::Input("the model has no bottleneck adapters: nothing to save".into()));
    };
    let head = super::adapter::AdapterHead::of(model, config);
    let family = model.bert().family;
    crate::checkpoint::save::write_dir(out, overwrite, |tmp| {
        let write = |path: &std::path::Path, value: &serde_json::Value| -> Result<(), ModelError> {
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| ModelError::Output { path: path.to_path_buf(), reason: e.to_string() })?;
            std::fs::write(path, text + "\n").map_err(ModelError::io(path))
        };
        let adapter_config = serde_json::json!({
            "peft_type": "BOTTLENECK",
            "format": "ft (not a PEFT type: see ft's README, Bottleneck adapters)",
            "task_type": peft_task_type(H::TASK),
            "base_model_name_or_path": base_model,
            "architecture": settings.architecture,
            "reduction_factor": settings.reduction,
            "non_linearity": settings.activation,
            "modules_to_save": head.modules_to_save,
            "trainable": "adapters, every LayerNorm, the head",
        });
        write(&tmp.join(ADAPTER_CONFIG), &adapter_config)?;
        let mut ft_config = crate::checkpoint::save::head_config(config, H::TASK, model.num_labels());
        model.pooling().write_to(&mut ft_config);
        // In the family's own keys (DistilBERT's `n_layers`, ModernBERT's `norm_eps`), as config.json.
        let ft_config = ft_config.to_json_value();
        write(&tmp.join(FT_CONFIG), &ft_config)?;
        let store = SafetensorsStore::from_file(tmp.join(ADAPTER_WEIGHTS))
            .with_to_adapter(BurnToPyTorchAdapter)
            .clear_metadata()
            .metadata("format", "pt");
        let mut store = adapter_tensors(store, &head.keep, family, H::TASK);
        model
            .save_into(&mut store)
            .map_err(|e| ModelError::Output { path: out.join(ADAPTER_WEIGHTS), reason: e.to_string() })?;
        crate::checkpoint::save::same_mode_as(&tmp.join(ADAPTER_CONFIG), &tmp.join(ADAPTER_WEIGHTS))
    })
}

/// `store` selecting what an adapter file holds — the adapters, every LayerNorm, the head (`keep`,
/// see [`super::adapter::AdapterHead`]) — under the names of `family`'s checkpoints.
fn adapter_tensors(
    store: burn::store::SafetensorsStore,
    keep: &str,
    family: crate::Family,
    task: crate::Task,
) -> burn::store::SafetensorsStore {
    let mut store = store
        .with_regex(format!(r"(\.adapter\.|layer_norm\.|{keep})"))
        .with_key_remapping(r"\.self_attention\.", ".self.")
        .with_key_remapping(r"layer_norm\.", "LayerNorm.");
    for (pattern, replacement) in family.save_rules(task) {
        store = store.with_key_remapping(pattern.as_str(), *replacement);
    }
    store
}

/// The weights file [`save_adapter`] writes for `model`, as a burn-store writer.
fn adapter_store(keep: &str, family: crate::Family, task: crate::Task) -> burn::store::SafetensorsStore {
    use burn::store::{BurnToPyTorchAdapter, SafetensorsStore};
    adapter_tensors(SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter), keep, family, task)
}

/// `model` (a base model) with the bottleneck adapters in `dir` (ft's format, see [`save_adapter`]):
/// adapters built from its `adapter_config.json`, then they, the LayerNorms and the head loaded from
/// `adapter_model.safetensors`, whose tensor table must be exactly what [`save_adapter`] writes for
/// this base model.
pub fn load_adapter<H: crate::Head>(
    model: H,
    config: &crate::BertConfig,
    dir: &std::path::Path,
    device: &Device,
) -> Result<(H, BottleneckSettings), ModelError> {
    use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
    let (path, value) = super::adapter::read_adapter_json(dir)?;
    let bad = |reason: String| ModelError::Config { path: path.clone(), reason };
    if value["peft_type"] != "BOTTLENECK" {
        return Err(bad(format!("`peft_type` is {}; expected BOTTLENECK", value["peft_type"])));
    }
    let field = |key: &str| -> Result<serde_json::Value, ModelError> {
        value.get(key).filter(|v| !v.is_null()).cloned().ok_or_else(|| bad(format!("`{key}` is missing")))
    };
    let settings = BottleneckSettings {
        architecture: serde_json::from_value(field("architecture")?)
            .map_err(|e| bad(format!("`architecture`: {e} (houlsby or pfeiffer)")))?,
        reduction: field("reduction_factor")?
            .as_u64()
            .ok_or_else(|| bad("`reduction_factor` is not a positive integer".into()))? as usize,
        activation: serde_json::from_value(field("non_linearity")?)
            .map_err(|e| bad(format!("`non_linearity`: {e} (relu or swish)")))?,
    };
    let model = model.try_map_bert(|bert| attach(bert, &settings, 0, device).map(|(bert, _)| bert))?;
    // What save_adapter would write for this model is the table the file must have.
    let head = super::adapter::AdapterHead::of(&model, config);
    let family = model.bert().family;
    let mut probe = adapter_store(&head.keep, family, H::TASK);
    model.save_into(&mut probe).map_err(|e| ModelError::Input(format!("listing the adapter's tensors: {e}")))?;
    let probe = probe.get_bytes().map_err(|e| ModelError::Input(format!("listing the adapter's tensors: {e}")))?;
    let expected: Vec<(String, Vec<usize>)> = crate::checkpoint::header::parse_header(
        &probe,
        probe.len() as u64,
        std::path::Path::new("(expected tensors)"),
    )?
    .tensors
    .into_iter()
    .map(|t| (t.key, t.shape))
    .collect();
    let (weights, bytes, header) = super::adapter::read_adapter_weights(dir)?;
    let what = format!(
        "{:?} bottleneck adapters (reduction {}) of {} on this base model",
        settings.architecture,
        settings.reduction,
        H::TASK.architecture()
    );
    super::adapter::check_tensor_table(&weights, &header, &expected, &what)?;
    let mut store =
        SafetensorsStore::from_bytes(Some(bytes)).with_from_adapter(PyTorchToBurnAdapter).allow_partial(true);
    for (pattern, replacement) in family.load_rules() {
        store = store.with_key_remapping(pattern.as_str(), *replacement);
    }
    let mut store = store
        .with_key_remapping(r"^(embeddings|encoder|pooler)\.", "bert.$1.")
        .with_key_remapping(r"\.attention\.self\.", ".attention.self_attention.")
        .with_key_remapping(r"LayerNorm\.", "layer_norm.");
    let mut model = model;
    super::adapter::apply_checked(&mut model, &mut store, expected.len(), &weights)?;
    Ok((model, settings))
}
