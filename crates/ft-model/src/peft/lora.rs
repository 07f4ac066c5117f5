//! LoRA (Hu et al., 2021) as PEFT's `lora.Linear` computes it: a frozen Linear plus a trainable
//! low-rank branch, `y = W x + b + (α / r) · B A dropout(x)`.
//!
//! The branch lives beside the Linear it adapts (`attention.self.query` → `query_lora`), so the base
//! checkpoint's names and paths are untouched and a model without LoRA carries `None` there. A is
//! initialised as PEFT's default (`kaiming_uniform_(a = √5)`, i.e. U(−1/√in, 1/√in)) and B as zeros,
//! so a fresh branch changes nothing until it is trained.
//!
//! burn 0.22.1's own `Module::apply_lora` reparameterises the *weight* (`W + s · A B`, A ~ N(0, 1/r)):
//! it cannot put dropout on the branch's input, nor initialise A as PEFT does, so PEFT's training
//! does not follow from it; this branch is PEFT's module.

use crate::ModelError;
use crate::bert::model::BertModel;
use crate::init::Init;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// What `--peft lora` adapts and how (PEFT's `LoraConfig` fields of the same names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraSettings {
    /// Rank of the update (`r`).
    pub r: usize,
    /// Scale numerator (`lora_alpha`): the branch is multiplied by `alpha / r`.
    pub alpha: f64,
    /// Dropout on the branch's input (`lora_dropout`).
    pub dropout: f64,
    /// Which Linear layers get a branch (`target_modules`): a name matches a layer whose checkpoint
    /// name is that name or ends with `.` + that name, PEFT's rule (`query` matches every
    /// `attention.self.query`; `output.dense` both `attention.output.dense` and the layer's
    /// `output.dense`; `dense` every dense, the pooler's included). On the other families a name
    /// matches the layer's BERT name or its own (`query` or `q_lin` on DistilBERT, `query` or
    /// `query_proj` on DeBERTa).
    pub targets: Vec<String>,
}

impl Default for LoraSettings {
    /// PEFT's defaults for BERT: r 8, alpha 16 (ft's choice; PEFT's own is 8), dropout 0.1 on `query`, `value`.
    fn default() -> Self {
        Self { r: 8, alpha: 16.0, dropout: 0.1, targets: vec!["query".into(), "value".into()] }
    }
}

impl LoraSettings {
    /// `alpha / r`.
    pub fn scaling(&self) -> f64 {
        self.alpha / self.r as f64
    }

    /// Refuses a rank of 0, a non-finite or non-positive alpha, a dropout outside [0, 1) and an
    /// empty target list.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::Input(what));
        if self.r == 0 {
            return bad("--lora-r 0: the rank must be at least 1 (PEFT's default is 8)".into());
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad(format!("--lora-alpha {}: must be a positive number (default 16)", self.alpha));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return bad(format!("--lora-dropout {}: must be in [0, 1) (default 0.1)", self.dropout));
        }
        if self.targets.is_empty() || self.targets.iter().any(|t| t.trim().is_empty()) {
            return bad("--lora-targets: name at least one Linear layer, e.g. query,value".into());
        }
        Ok(())
    }

    /// Whether the Linear named `name` (checkpoint name without `.weight`) is a target.
    pub fn targets(&self, name: &str) -> bool {
        self.targets.iter().any(|t| matches_target(name, t))
    }

    /// The targets in the family's own names, as `adapter_config.json`'s `target_modules` must hold
    /// them for PEFT to adapt the same layers: each name given in BERT's vocabulary becomes the
    /// distinct ends (as many segments as it has) of the family's names of the layers it matched
    /// (`query` → `q_lin` on DistilBERT, `output.dense` → `attention.out_lin`, `ffn.lin2`). `layers`:
    /// (BERT name, family name) of every adaptable layer.
    pub fn targets_in_family_names(&self, layers: &[(String, String)]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.targets {
            let own: Vec<&(String, String)> = layers.iter().filter(|(_, f)| matches_target(f, t)).collect();
            let names: Vec<String> = if !own.is_empty() {
                vec![t.clone()]
            } else {
                let segments = t.split('.').count();
                layers
                    .iter()
                    .filter(|(b, _)| matches_target(b, t))
                    .map(|(_, f)| {
                        let parts: Vec<&str> = f.split('.').collect();
                        parts[parts.len().saturating_sub(segments)..].join(".")
                    })
                    .collect()
            };
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// PEFT's rule: `name` is `target` or ends with `.` + `target`.
fn matches_target(name: &str, target: &str) -> bool {
    name == target || name.ends_with(&format!(".{target}"))
}

/// The name of the Linear whose BERT name is `canonical` (`bert.encoder.layer.0.attention.self.query`)
/// in `family`'s checkpoints (`distilbert.transformer.layer.0.attention.q_lin`).
pub fn family_name(family: crate::Family, canonical: &str) -> String {
    let file = family.file_name(crate::Task::SequenceClassification, &format!("{canonical}.weight"));
    file.strip_suffix(".weight").unwrap_or(&file).to_string()
}

impl LoraSettings {
    /// Whether a layer with BERT name `canonical` and family name `own` is a target.
    pub fn targets_layer(&self, canonical: &str, own: &str) -> bool {
        self.targets(canonical) || self.targets(own)
    }
}

/// The low-rank branch of one Linear: `lora_A` (`in → r`, no bias), `lora_B` (`r → out`, no bias).
#[derive(Module, Debug)]
pub struct LoraBranch {
    /// `lora_A`: burn layout `[in, r]` (PEFT's file: `[r, in]`).
    pub lora_a: Linear,
    /// `lora_B`: burn layout `[r, out]` (PEFT's file: `[out, r]`), zeros when fresh.
    pub lora_b: Linear,
    /// `lora_dropout`, on the branch's input only.
    pub dropout: Dropout,
    /// `alpha / r`.
    pub scaling: f64,
}

impl LoraBranch {
    /// A fresh branch for a Linear `d_in → d_out`: A from `init` (see [`Init::kaiming_uniform`]),
    /// B zeros.
    pub fn new(d_in: usize, d_out: usize, settings: &LoraSettings, init: &mut Init, device: &Device) -> Self {
        let r = settings.r;
        Self {
            lora_a: Linear { weight: Param::from_tensor(init.tensor([d_in, r], device)), bias: None },
            lora_b: Linear { weight: Param::from_tensor(Tensor::zeros([r, d_out], device)), bias: None },
            dropout: DropoutConfig::new(settings.dropout).init(),
            scaling: settings.scaling(),
        }
    }

    /// `(α / r) · B A dropout(x)`: `[…, in]` → `[…, out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.lora_b.forward(self.lora_a.forward(self.dropout.forward(x))).mul_scalar(self.scaling)
    }

    /// `ΔW = (α / r) · A B` in burn's `[in, out]` layout (what merging adds to the Linear's weight).
    pub fn delta(&self) -> Tensor<2> {
        self.lora_a.weight.val().matmul(self.lora_b.weight.val()).mul_scalar(self.scaling)
    }
}

/// A Linear with its optional branch: `linear(x) + branch(x)`.
pub fn forward_with<const D: usize>(linear: &Linear, branch: &Option<LoraBranch>, x: Tensor<D>) -> Tensor<D> {
    match branch {
        None => linear.forward(x),
        Some(branch) => linear.forward(x.clone()) + branch.forward(x),
    }
}

/// What [`visit_linears`] calls for each Linear: its checkpoint name, the Linear and its branch slot.
pub type LinearVisitor<'a, E> = dyn FnMut(&str, &mut Linear, &mut Option<LoraBranch>) -> Result<(), E> + 'a;

/// Every Linear of the encoder that LoRA can adapt, in checkpoint order, with its checkpoint name
/// (`bert.encoder.layer.0.attention.self.query`), the Linear and its branch slot.
pub fn visit_linears<E>(bert: &mut BertModel, f: &mut LinearVisitor<'_, E>) -> Result<(), E> {
    for (l, layer) in bert.encoder.layer.iter_mut().enumerate() {
        let p = format!("bert.encoder.layer.{l}");
        let s = &mut layer.attention.self_attention;
        f(&format!("{p}.attention.self.query"), &mut s.query, &mut s.query_lora)?;
        f(&format!("{p}.attention.self.key"), &mut s.key, &mut s.key_lora)?;
        f(&format!("{p}.attention.self.value"), &mut s.value, &mut s.value_lora)?;
        let o = &mut layer.attention.output;
        f(&format!("{p}.attention.output.dense"), &mut o.dense, &mut o.dense_lora)?;
        let i = &mut layer.intermediate;
        f(&format!("{p}.intermediate.dense"), &mut i.dense, &mut i.dense_lora)?;
        let o = &mut layer.output;
        f(&format!("{p}.output.dense"), &mut o.dense, &mut o.dense_lora)?;
    }
    if let Some(pooler) = bert.pooler.as_mut() {
        f("bert.pooler.dense", &mut pooler.dense, &mut pooler.dense_lora)?;
    }
    Ok(())
}

/// The fused query-key-value branch of layer `l` (ModernBERT's `Wqkv`): its canonical name.
pub fn fused_qkv_name(l: usize) -> String {
    format!("bert.encoder.layer.{l}.attention.self.qkv")
}

/// Whether `family` fuses the attention's query, key and value in one Linear (ModernBERT's `Wqkv`):
/// LoRA then puts one branch over the three ([`crate::bert::attention::BertSelfAttention::qkv_lora`]).
pub fn fuses_qkv(family: crate::Family) -> bool {
    family == crate::Family::ModernBert
}

/// Whether `name` is one of the attention's query, key, value projections.
fn is_qkv(name: &str) -> bool {
    [".attention.self.query", ".attention.self.key", ".attention.self.value"].iter().any(|s| name.ends_with(s))
}

/// The name LoRA adapts for the Linear whose canonical name is `canonical`, in `family`'s checkpoint
/// names: the Linear's own, or for a query/key/value of a fused family its layer's `Wqkv`.
pub fn adapted_name(family: crate::Family, canonical: &str) -> String {
    if fuses_qkv(family) && is_qkv(canonical) {
        return family_name(family, &fused_qkv_name(layer_index(canonical)));
    }
    family_name(family, canonical)
}

/// The layer of an encoder Linear's canonical name (`bert.encoder.layer.{l}.…`).
fn layer_index(canonical: &str) -> usize {
    canonical.split('.').nth(3).and_then(|x| x.parse().ok()).unwrap_or(0)
}

/// The encoder frozen, with a fresh branch on every Linear `settings` targets. A is drawn from
/// [`Init::kaiming_uniform`] with the layer's fan-in, the k-th adapted layer from `seed + k` (PEFT's
/// init; zeros when `seed` is `None`, for a branch that a file fills). Returns the checkpoint names
/// of the adapted layers. A target that matches no layer is refused, as PEFT refuses it, with the
/// names it could have used.
pub fn attach(
    bert: BertModel,
    settings: &LoraSettings,
    seed: Option<u64>,
    device: &Device,
) -> Result<(BertModel, Vec<String>), ModelError> {
    settings.check()?;
    let family = bert.family;
    let mut bert = bert.no_grad();
    let mut adapted = Vec::new();
    let mut all = Vec::new();
    // The head's own dense layer (RoBERTa's `classifier.dense`, …) trains in full with the head
    // (PEFT's `modules_to_save`): no branch there.
    let head_dense = bert.pooler.as_ref().is_some_and(|p| p.in_head);
    let fused = fuses_qkv(family);
    let mut fused_layers = Vec::new();
    visit_linears(&mut bert, &mut |name, linear, slot| -> Result<(), ModelError> {
        if head_dense && name == "bert.pooler.dense" {
            return Ok(());
        }
        if fused && is_qkv(name) {
            // One branch over the fused Wqkv when any of the three is named (after this visit).
            let l = layer_index(name);
            let own = adapted_name(family, name);
            all.push((name.to_string(), own.clone()));
            if settings.targets_layer(name, &own) && !fused_layers.contains(&l) {
                fused_layers.push(l);
            }
            return Ok(());
        }
        let own = family_name(family, name);
        all.push((name.to_string(), own.clone()));
        if settings.targets_layer(name, &own) {
            if slot.is_some() {
                return Err(ModelError::Input(format!("{name} already has a LoRA branch")));
            }
            let [d_in, d_out] = linear.weight.dims();
            let mut init = match seed {
                Some(seed) => Init::kaiming_uniform(seed.wrapping_add(adapted.len() as u64), d_in),
                None => Init::Zeros,
            };
            *slot = Some(LoraBranch::new(d_in, d_out, settings, &mut init, device));
            adapted.push(own);
        }
        Ok(())
    })?;
    for l in fused_layers {
        let s = &mut bert.encoder.layer[l].attention.self_attention;
        if s.qkv_lora.is_some() {
            return Err(ModelError::Input(format!("{} already has a LoRA branch", fused_qkv_name(l))));
        }
        let [d_in, d_out] = s.query.weight.dims();
        let mut init = match seed {
            Some(seed) => Init::kaiming_uniform(seed.wrapping_add(adapted.len() as u64), d_in),
            None => Init::Zeros,
        };
        s.qkv_lora = Some(LoraBranch::new(d_in, 3 * d_out, settings, &mut init, device));
        adapted.push(family_name(family, &fused_qkv_name(l)));
    }
    for target in &settings.targets {
        if !all.iter().any(|(b, f)| matches_target(b, target) || matches_target(f, target)) {
            return Err(ModelError::Input(format!(
                "--lora-targets: `{target}` matches no Linear layer of the encoder; use names such as \
                 query, key, value, attention.output.dense, intermediate.dense, output.dense, dense"
            )));
        }
    }
    if let Some(pooler) = bert.pooler.take() {
        bert.pooler = Some(if head_dense { pooler.set_require_grad(true) } else { pooler });
    }
    Ok((bert, adapted))
}

/// The encoder with every branch folded into its Linear (`W += (α/r)·A B`) and removed: a plain
/// model, what PEFT's `merge_and_unload` gives.
pub fn merge(bert: BertModel) -> BertModel {
    let mut bert = bert;
    let _ = visit_linears::<std::convert::Infallible>(&mut bert, &mut |_, linear, slot| {
        if let Some(branch) = slot.take() {
            let merged = linear.weight.val() + branch.delta();
            linear.weight = Param::from_tensor(merged);
        }
        Ok(())
    });
    for layer in bert.encoder.layer.iter_mut() {
        let s = &mut layer.attention.self_attention;
        if let Some(branch) = s.qkv_lora.take() {
            // ΔW `[H, 3H]` (burn's in → out layout): its column blocks are the three projections'.
            let delta = branch.delta();
            let [_, h] = s.query.weight.dims();
            for (i, linear) in [&mut s.query, &mut s.key, &mut s.value].into_iter().enumerate() {
                let merged = linear.weight.val() + delta.clone().narrow(1, i * h, h);
                linear.weight = Param::from_tensor(merged);
            }
        }
    }
    bert
}

/// The encoder with its branches dropped (not merged): the base model it was trained on.
pub fn strip(bert: BertModel) -> BertModel {
    let mut bert = bert;
    let _ = visit_linears::<std::convert::Infallible>(&mut bert, &mut |_, _, slot| {
        *slot = None;
        Ok(())
    });
    for layer in bert.encoder.layer.iter_mut() {
        layer.attention.self_attention.qkv_lora = None;
    }
    bert
}

/// Checkpoint names of the layers that carry a branch.
pub fn adapted_layers(bert: &BertModel) -> Vec<String> {
    let mut bert = bert.clone();
    let mut names = Vec::new();
    let _ = visit_linears::<std::convert::Infallible>(&mut bert, &mut |name, _, slot| {
        if slot.is_some() {
            names.push(name.to_string());
        }
        Ok(())
    });
    for (l, layer) in bert.encoder.layer.iter().enumerate() {
        if layer.attention.self_attention.qkv_lora.is_some() {
            names.push(fused_qkv_name(l));
        }
    }
    names
}
