//! Checkpoint names: the one remap table between HF tensor names and ft's module paths, and the list
//! of tensors (with shapes) that a config implies.
//!
//! Module fields carry the checkpoint's names except where Rust forbids it: `self` is a keyword and
//! `LayerNorm` is not snake case. burn's PyTorch adapters then map Linear `[out, in]` ↔ `[in, out]` and
//! LayerNorm `weight`/`bias` ↔ `gamma`/`beta`.

use crate::heads::task::Head;
use crate::{BertConfig, Family};

/// File name segment → module path segment. Saving applies it in reverse.
pub const REMAP: &[(&str, &str)] = &[(".attention.self.", ".attention.self_attention."), ("LayerNorm.", "layer_norm.")];

/// Which part of the model a tensor belongs to (for parameter counts and the load report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// `bert.embeddings.*`.
    Embeddings,
    /// `bert.encoder.*`.
    Encoder,
    /// `bert.pooler.*`.
    Pooler,
    /// The head's own tensors (`classifier.*`, …).
    Head,
}

impl Part {
    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Embeddings => "embeddings",
            Self::Encoder => "encoder",
            Self::Pooler => "pooler",
            Self::Head => "head (classifier)",
        }
    }
}

/// A tensor that a config implies, named as transformers' `BertFor*` class saves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTensor {
    /// Canonical HF name (`bert.encoder.layer.0.attention.self.query.weight`).
    pub name: String,
    /// HF shape (Linear weights `[out, in]`).
    pub shape: Vec<usize>,
    /// Where it belongs.
    pub part: Part,
}

/// Every tensor of head `H` on the encoder of `config`, with `num_labels` outputs.
pub fn expected_tensors<H: Head>(config: &BertConfig, num_labels: usize) -> Vec<ExpectedTensor> {
    let mut out = encoder_tensors(config, H::POOLER || config.family().head_transform());
    out.extend(H::head_tensors(config, num_labels));
    out
}

/// The encoder's tensors (`bert.*`, canonical names of every family), with the pooler's when
/// `pooler` is set.
pub fn encoder_tensors(config: &BertConfig, pooler: bool) -> Vec<ExpectedTensor> {
    if let Some(modern) = config.modern() {
        return modern_tensors(config, &modern, pooler);
    }
    let (h, i, w) = (config.hidden_size, config.intermediate_size, config.embedding_width());
    let mut out = Vec::new();
    let mut push = |name: String, shape: &[usize], part| out.push(ExpectedTensor { name, shape: shape.to_vec(), part });
    let e = "bert.embeddings";
    push(format!("{e}.word_embeddings.weight"), &[config.vocab_size, w], Part::Embeddings);
    if config.family().positions(config) != crate::family::Positions::None {
        push(format!("{e}.position_embeddings.weight"), &[config.max_position_embeddings, w], Part::Embeddings);
    }
    if config.type_vocab_size > 0 {
        push(format!("{e}.token_type_embeddings.weight"), &[config.type_vocab_size, w], Part::Embeddings);
    }
    push(format!("{e}.LayerNorm.weight"), &[w], Part::Embeddings);
    push(format!("{e}.LayerNorm.bias"), &[w], Part::Embeddings);
    if w != h {
        push(format!("{e}.project.weight"), &[h, w], Part::Embeddings);
        push(format!("{e}.project.bias"), &[h], Part::Embeddings);
    }
    let disentangled = config.disentangled();
    let separate = disentangled.filter(|d| d.relative && !d.share_att_key);
    for l in 0..config.num_hidden_layers {
        let p = format!("bert.encoder.layer.{l}");
        // DeBERTa's position projections, after the layer's own tensors (their order in the file
        // does not matter; the list's order is the parameter count's).
        let positions =
            [("pos_key_proj", separate.is_some_and(|d| d.c2p)), ("pos_query_proj", separate.is_some_and(|d| d.p2c))];
        for (name, out_dim, in_dim) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            push(format!("{p}.{name}.weight"), &[out_dim, in_dim], Part::Encoder);
            push(format!("{p}.{name}.bias"), &[out_dim], Part::Encoder);
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            push(format!("{p}.{ln}.weight"), &[h], Part::Encoder);
            push(format!("{p}.{ln}.bias"), &[h], Part::Encoder);
        }
        for (name, present) in positions {
            if present {
                push(format!("{p}.attention.self.{name}.weight"), &[h, h], Part::Encoder);
                push(format!("{p}.attention.self.{name}.bias"), &[h], Part::Encoder);
            }
        }
    }
    if let Some(d) = disentangled {
        if d.relative {
            push("bert.encoder.rel_embeddings.weight".into(), &[2 * d.span(), h], Part::Encoder);
        }
        if d.norm_rel_ebd {
            push("bert.encoder.LayerNorm.weight".into(), &[h], Part::Encoder);
            push("bert.encoder.LayerNorm.bias".into(), &[h], Part::Encoder);
        }
        if let Ok(Some((kernel, groups, _))) = crate::bert::disentangled::conv_settings(config) {
            push("bert.encoder.conv.conv.weight".into(), &[h, h / groups, kernel], Part::Encoder);
            push("bert.encoder.conv.conv.bias".into(), &[h], Part::Encoder);
            push("bert.encoder.conv.LayerNorm.weight".into(), &[h], Part::Encoder);
            push("bert.encoder.conv.LayerNorm.bias".into(), &[h], Part::Encoder);
        }
    }
    if pooler {
        push("bert.pooler.dense.weight".into(), &[h, h], Part::Pooler);
        push("bert.pooler.dense.bias".into(), &[h], Part::Pooler);
    }
    out
}

/// ModernBERT's tensors under ft's canonical names (its `Wqkv` split into query, key and value; see
/// [`crate::bert::modern`]), biases only where its config asks for them.
fn modern_tensors(config: &BertConfig, m: &crate::bert::modern::ModernBert, pooler: bool) -> Vec<ExpectedTensor> {
    let (h, i) = (config.hidden_size, config.intermediate_size);
    let mut out = Vec::new();
    let mut push = |name: String, shape: &[usize], part| out.push(ExpectedTensor { name, shape: shape.to_vec(), part });
    let linear = |push: &mut dyn FnMut(String, &[usize], Part), name: String, o: usize, i: usize, bias: bool, part| {
        push(format!("{name}.weight"), &[o, i], part);
        if bias {
            push(format!("{name}.bias"), &[o], part);
        }
    };
    let norm = |push: &mut dyn FnMut(String, &[usize], Part), name: String, part| {
        push(format!("{name}.weight"), &[h], part);
        if m.norm_bias {
            push(format!("{name}.bias"), &[h], part);
        }
    };
    push("bert.embeddings.word_embeddings.weight".into(), &[config.vocab_size, h], Part::Embeddings);
    norm(&mut push, "bert.embeddings.LayerNorm".into(), Part::Embeddings);
    for l in 0..config.num_hidden_layers {
        let p = format!("bert.encoder.layer.{l}");
        for name in ["query", "key", "value"] {
            linear(&mut push, format!("{p}.attention.self.{name}"), h, h, m.attention_bias, Part::Encoder);
        }
        linear(&mut push, format!("{p}.attention.output.dense"), h, h, m.attention_bias, Part::Encoder);
        if l > 0 {
            norm(&mut push, format!("{p}.attn_norm"), Part::Encoder);
        }
        norm(&mut push, format!("{p}.output.LayerNorm"), Part::Encoder);
        linear(&mut push, format!("{p}.intermediate.dense"), 2 * i, h, m.mlp_bias, Part::Encoder);
        linear(&mut push, format!("{p}.output.dense"), h, i, m.mlp_bias, Part::Encoder);
    }
    norm(&mut push, "bert.encoder.final_norm".into(), Part::Encoder);
    if pooler {
        linear(&mut push, "bert.pooler.dense".into(), h, h, m.classifier_bias, Part::Pooler);
        norm(&mut push, "bert.pooler.norm".into(), Part::Pooler);
    }
    out
}

/// The top-level modules of the head's tensors (`classifier`, `qa_outputs`), for key remapping.
pub fn head_modules<H: Head>(config: &BertConfig, num_labels: usize) -> Vec<String> {
    let mut modules: Vec<String> = H::head_tensors(config, num_labels)
        .into_iter()
        .filter_map(|t| t.name.split('.').next().map(str::to_string))
        .collect();
    modules.dedup();
    modules
}

/// What a name found in a checkpoint file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKey {
    /// A model tensor, under its canonical HF name.
    Tensor(String),
    /// Known and deliberately not loaded (`embeddings.position_ids`, pretraining heads `cls.*`).
    Ignored,
}

/// [`canonical_for`] a BERT checkpoint.
pub fn canonical(file_key: &str) -> FileKey {
    canonical_for(Family::Bert, file_key)
}

/// [`canonical_for`] a file key of a model of `task`: where the family names a head's tensors after
/// the task (ModernBERT's QA `classifier` is ft's `qa_outputs`), that first.
pub fn canonical_for_task(family: Family, task: crate::Task, file_key: &str) -> FileKey {
    match (family.qa_classifier_name(task), file_key.strip_prefix("classifier.")) {
        (Some(_), Some(rest)) => canonical_for(family, &format!("qa_outputs.{rest}")),
        _ => canonical_for(family, file_key),
    }
}

/// Canonicalises a file key of a `family` checkpoint: the family's names become BERT's
/// ([`Family::load_rules`]); then the `bert.` prefix is added to encoder tensors (`embeddings.`,
/// `encoder.`, `pooler.`) that lack it, as a bare `BertModel` checkpoint names them, and the legacy
/// `LayerNorm.gamma` / `LayerNorm.beta` become `weight` / `bias`. Anything else (a head's tensors)
/// keeps its name.
pub fn canonical_for(family: Family, file_key: &str) -> FileKey {
    if family.ignored(file_key) {
        return FileKey::Ignored;
    }
    let renamed = crate::family::apply(family.load_rules(), file_key);
    let rest = renamed.strip_prefix("bert.").unwrap_or(&renamed);
    let rest = match rest.strip_suffix("LayerNorm.gamma") {
        Some(stem) => format!("{stem}LayerNorm.weight"),
        None => match rest.strip_suffix("LayerNorm.beta") {
            Some(stem) => format!("{stem}LayerNorm.bias"),
            None => rest.to_string(),
        },
    };
    let encoder = ["embeddings.", "encoder.", "pooler."].iter().any(|p| rest.starts_with(p));
    if encoder { FileKey::Tensor(format!("bert.{rest}")) } else { FileKey::Tensor(rest) }
}

/// Canonical HF name → burn module path (before burn's LayerNorm `weight`→`gamma` adapter).
pub fn module_path(canonical: &str) -> String {
    let mut s = canonical.to_string();
    for (from, to) in REMAP {
        s = s.replace(from, to);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(
            canonical("embeddings.word_embeddings.weight"),
            FileKey::Tensor("bert.embeddings.word_embeddings.weight".into())
        );
        assert_eq!(
            canonical("bert.encoder.layer.3.output.LayerNorm.gamma"),
            FileKey::Tensor("bert.encoder.layer.3.output.LayerNorm.weight".into())
        );
        assert_eq!(
            canonical("bert.embeddings.LayerNorm.beta"),
            FileKey::Tensor("bert.embeddings.LayerNorm.bias".into())
        );
        assert_eq!(canonical("classifier.weight"), FileKey::Tensor("classifier.weight".into()));
        assert_eq!(canonical("qa_outputs.bias"), FileKey::Tensor("qa_outputs.bias".into()));
        assert_eq!(canonical("pooler.dense.bias"), FileKey::Tensor("bert.pooler.dense.bias".into()));
        assert_eq!(canonical("embeddings.position_ids"), FileKey::Ignored);
        assert_eq!(canonical("cls.predictions.bias"), FileKey::Ignored);
    }

    #[test]
    fn module_paths_use_the_remap_table() {
        assert_eq!(
            module_path("bert.encoder.layer.0.attention.self.query.weight"),
            "bert.encoder.layer.0.attention.self_attention.query.weight"
        );
        assert_eq!(module_path("bert.embeddings.LayerNorm.weight"), "bert.embeddings.layer_norm.weight");
    }

    #[test]
    fn minilm_shape_counts() {
        let config: BertConfig = serde_json::from_value(serde_json::json!({
            "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
            "num_attention_heads": 12, "intermediate_size": 1536
        }))
        .unwrap();
        let tensors = expected_tensors::<crate::BertForSequenceClassification>(&config, 2);
        let count = |part| -> usize {
            tensors.iter().filter(|t| t.part == part).map(|t| t.shape.iter().product::<usize>()).sum()
        };
        // 30522·384 + 512·384 + 2·384 + 2·384
        assert_eq!(count(Part::Embeddings), 11_918_592);
        // 6 · (4·(384·384+384) + (1536·384+1536) + (384·1536+384) + 4·384)
        assert_eq!(count(Part::Encoder), 10_646_784);
        assert_eq!(count(Part::Pooler), 147_840);
        assert_eq!(count(Part::Head), 770);
        assert_eq!(tensors.len(), 5 + 6 * 16 + 2 + 2);
        // The token head: no pooler, a classifier per token of the same shape.
        let tokens = expected_tensors::<crate::BertForTokenClassification>(&config, 9);
        assert_eq!(tokens.len(), 5 + 6 * 16 + 2);
        assert!(tokens.iter().all(|t| t.part != Part::Pooler));
        assert_eq!(tokens.last().map(|t| t.shape.clone()), Some(vec![9]));
        assert_eq!(head_modules::<crate::BertForTokenClassification>(&config, 9), ["classifier"]);
    }
}
