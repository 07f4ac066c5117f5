//! AdamW with transformers' Trainer parameter groups: weight decay on weights, none on biases and
//! LayerNorm parameters (like nanoGPT's `configure_optimizers`).
//!
//! burn's AdamW is the same update as `torch.optim.AdamW` (decoupled decay `p ← p·(1 − lr·wd)`, then
//! `p ← p − lr·m̂/(√v̂ + ε)`); the two groups are two AdamW instances over disjoint parameter sets.

use crate::TrainError;
use crate::params::parameters;
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamWConfig, ModuleOptimizer};

/// AdamW hyper-parameters (transformers' defaults except the learning rate, which the schedule sets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWSettings {
    /// Decoupled weight decay of the decay group.
    pub weight_decay: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
}

impl Default for AdamWSettings {
    fn default() -> Self {
        Self { weight_decay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// Whether a parameter (by module path) is exempt from weight decay: biases and LayerNorm gamma/beta,
/// as transformers' `Trainer.get_decay_parameter_names` exempts `bias` and LayerNorm weights.
pub fn no_decay(path: &str) -> bool {
    // Every LayerNorm's parameters are `gamma` / `beta` (ModernBERT's `attn_norm`, `final_norm`, … too).
    path.ends_with(".bias") || path == "bias" || path.ends_with(".gamma") || path.ends_with(".beta")
}

/// The optimizer for `model`: a decay group and a no-decay group.
pub fn adamw<M: Module>(model: &M, settings: &AdamWSettings) -> Result<ModuleOptimizer, TrainError> {
    let config = |wd: f64| {
        AdamWConfig::new()
            .with_beta_1(settings.beta1 as f32)
            .with_beta_2(settings.beta2 as f32)
            .with_epsilon(settings.eps as f32)
            .with_weight_decay(wd as f32)
            .build()
    };
    let exempt: Vec<String> =
        parameters(model).into_iter().filter(|p| no_decay(&p.path)).map(|p| regex_escape(&p.path)).collect();
    let mut optim = ModuleOptimizer::from(config(settings.weight_decay));
    if !exempt.is_empty() {
        let pattern = format!("^({})$", exempt.join("|"));
        let group = ParamGroup::from_regex(&pattern)
            .map_err(|e| TrainError::Config(format!("no-decay parameter group: {e:?}")))?;
        optim = optim.with_group(group, config(0.0), None);
    }
    Ok(optim)
}

fn regex_escape(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_ascii_alphanumeric() || c == '_' { vec![c] } else { vec!['\\', c] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_rule_matches_transformers() {
        assert!(no_decay("bert.encoder.layer.0.attention.self_attention.query.bias"));
        assert!(no_decay("bert.embeddings.layer_norm.gamma"));
        assert!(no_decay("bert.encoder.layer.1.output.layer_norm.beta"));
        assert!(no_decay("classifier.bias"));
        assert!(!no_decay("classifier.weight"));
        assert!(!no_decay("bert.embeddings.word_embeddings.weight"));
        assert!(!no_decay("bert.pooler.dense.weight"));
    }
}
