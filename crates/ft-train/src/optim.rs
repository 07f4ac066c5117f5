//! AdamW with transformers' Trainer parameter groups: weight decay on weights, none on biases and
//! LayerNorm parameters (like nanoGPT's `configure_optimizers`).
//!
//! The update is `torch.optim.AdamW`'s (decoupled decay `p ← p·(1 − lr·wd)`, then
//! `p ← p − lr·m̂/(√v̂ + ε)`); the two groups are two optimizer instances over disjoint parameter sets.
//! On the CPU ([`FusedAdamW`]) each parameter is updated in one parallel pass over its values, the
//! moments and the parameter changed in place — PyTorch's single-tensor AdamW in the same order of
//! operations; elsewhere (wgpu) burn's AdamW, the same update as tensor ops. Both keep burn's
//! `AdamWState`, so checkpoints (`optimizer.bpk`) are the same format either way.

use crate::TrainError;
use crate::params::parameters;
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

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
    let config = |wd: f64| FusedAdamW::new(settings, wd);
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

/// AdamW for one parameter group: a fused in-place pass on the CPU, burn's AdamW elsewhere.
#[derive(Clone)]
pub struct FusedAdamW {
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    /// burn's AdamW with the same settings, for devices other than the CPU.
    tensor_ops: AdamW,
}

impl FusedAdamW {
    /// One group's optimizer: `settings` with the group's weight decay.
    pub fn new(settings: &AdamWSettings, weight_decay: f64) -> Self {
        let tensor_ops = AdamWConfig::new()
            .with_beta_1(settings.beta1 as f32)
            .with_beta_2(settings.beta2 as f32)
            .with_epsilon(settings.eps as f32)
            .with_weight_decay(weight_decay as f32)
            .build();
        Self {
            beta1: settings.beta1 as f32,
            beta2: settings.beta2 as f32,
            eps: settings.eps as f32,
            weight_decay: weight_decay as f32,
            tensor_ops,
        }
    }

    /// Whether the fused host pass applies: f32 values on the CPU backend.
    fn fused_here<const D: usize>(tensor: &Tensor<D>) -> bool {
        #[cfg(feature = "flex")]
        {
            tensor.dtype() == DType::F32 && tensor.device().without_autodiff() == Device::flex()
        }
        #[cfg(not(feature = "flex"))]
        {
            let _ = tensor;
            false
        }
    }
}

/// Elements per parallel chunk of the fused pass.
const CHUNK: usize = 1 << 14;

impl Optimizer for FusedAdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if !Self::fused_here(&tensor) {
            return self.tensor_ops.step(lr, tensor, grad, state);
        }
        let device = tensor.device();
        let shape = tensor.shape();
        let n = shape.num_elements();
        let (time, m, v) = match state {
            Some(s) => (s.momentum.time + 1, s.momentum.moment_1.into_data(), s.momentum.moment_2.into_data()),
            None => (1, TensorData::new(vec![0f32; n], shape.clone()), TensorData::new(vec![0f32; n], shape.clone())),
        };
        let (mut p, g, mut m, mut v) = (tensor.into_data(), grad.into_data().convert::<f32>(), m, v);
        // Scalars as PyTorch computes them (Python floats, then the tensor's dtype).
        let t = time as i32;
        let decay = (1.0 - lr * self.weight_decay as f64) as f32;
        let step_size = (lr / (1.0 - (self.beta1 as f64).powi(t))) as f32;
        let bias_correction2_sqrt = (1.0 - (self.beta2 as f64).powi(t)).sqrt() as f32;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let (w1, w2) = (1.0 - b1, 1.0 - b2);
        {
            let (ps, gs) = (p.as_mut_slice::<f32>(), g.as_slice::<f32>());
            let (ms, vs) = (m.as_mut_slice::<f32>(), v.as_mut_slice::<f32>());
            let (Ok(ps), Ok(gs), Ok(ms), Ok(vs)) = (ps, gs, ms, vs) else {
                unreachable!("AdamW: f32 parameter, gradient and moments (checked by fused_here)");
            };
            ps.par_chunks_mut(CHUNK)
                .zip(gs.par_chunks(CHUNK))
                .zip(ms.par_chunks_mut(CHUNK))
                .zip(vs.par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| {
                    for i in 0..p.len() {
                        // param.mul_(1 - lr·wd)
                        let mut pi = p[i] * decay;
                        // exp_avg.lerp_(grad, 1 - β₁): weight < 0.5, so self + w·(end − self)
                        let mi = m[i] + w1 * (g[i] - m[i]);
                        // exp_avg_sq.mul_(β₂).addcmul_(grad, grad, 1 − β₂)
                        let vi = v[i] * b2 + w2 * (g[i] * g[i]);
                        // denom = √v / √bc₂ + ε; param.addcdiv_(exp_avg, denom, −step_size)
                        let denom = vi.sqrt() / bias_correction2_sqrt + eps;
                        pi += -step_size * (mi / denom);
                        (p[i], m[i], v[i]) = (pi, mi, vi);
                    }
                });
        }
        let tensor = Tensor::from_data(p, &device);
        let state = AdaptiveMomentumState::new(time, Tensor::from_data(m, &device), Tensor::from_data(v, &device));
        (tensor, Some(AdamWState::new(state)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <AdamW as Optimizer>::to_device(state, device)
    }
}

fn regex_escape(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_ascii_alphanumeric() || c == '_' { vec![c] } else { vec!['\\', c] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused CPU pass against burn's AdamW (tensor ops) and against the same update in f64, over
    /// 4 steps on 50,003 values (several parallel chunks) with weight decay: equal to f32 rounding.
    #[cfg(feature = "flex")]
    #[test]
    fn fused_pass_equals_burns_adamw_and_f64() {
        let device = Device::flex();
        let n = 50_003;
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let p0: Vec<f32> = (0..n).map(|_| next()).collect();
        let grads: Vec<Vec<f32>> = (0..4).map(|_| (0..n).map(|_| next() * 0.1).collect()).collect();
        let settings = AdamWSettings::default();
        let fused = FusedAdamW::new(&settings, 0.01);
        let tensor = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [n]), &device);
        let to_vec = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let (mut pf, mut sf) = (tensor(&p0), None);
        let (mut pb, mut sb) = (tensor(&p0), None);
        let (mut p64, mut m64, mut v64) =
            (p0.iter().map(|&x| x as f64).collect::<Vec<_>>(), vec![0f64; n], vec![0f64; n]);
        let lr = 3e-3;
        for (t, g) in grads.iter().enumerate() {
            (pf, sf) = fused.step(lr, pf, tensor(g), sf);
            (pb, sb) = fused.tensor_ops.step(lr, pb, tensor(g), sb);
            let t = t as i32 + 1;
            for i in 0..n {
                let gi = g[i] as f64;
                p64[i] *= 1.0 - lr * 0.01;
                m64[i] = 0.9 * m64[i] + 0.1 * gi;
                v64[i] = 0.999 * v64[i] + 0.001 * gi * gi;
                let mh = m64[i] / (1.0 - 0.9f64.powi(t));
                let vh = v64[i] / (1.0 - 0.999f64.powi(t));
                p64[i] -= lr * mh / (vh.sqrt() + 1e-8);
            }
        }
        let (f, b) = (to_vec(pf), to_vec(pb));
        let worst = |x: &[f32]| x.iter().zip(&p64).map(|(&a, &w)| (a as f64 - w).abs()).fold(0.0, f64::max);
        let between = f.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        eprintln!("fused vs f64 {:.2e}, burn vs f64 {:.2e}, fused vs burn {between:.2e}", worst(&f), worst(&b));
        assert!(worst(&f) < 1e-6 && worst(&b) < 1e-6 && between < 1e-6);
        let (sf, sb) = (sf.unwrap().momentum, sb.unwrap().momentum);
        assert_eq!((sf.time, sb.time), (4, 4));
        let m_diff =
            to_vec(sf.moment_1).iter().zip(to_vec(sb.moment_1)).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(m_diff < 1e-7, "first moments differ by {m_diff}");
    }

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
