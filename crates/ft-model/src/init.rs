//! Fresh weights, initialised as transformers' `BertPreTrainedModel._init_weights` does: Linear and
//! Embedding weights ~ N(0, initializer_range), biases 0, LayerNorm 1 / 0.
//!
//! Samples are drawn on the host from a seeded generator and uploaded, so a seed gives the same head on
//! every backend. When a checkpoint will overwrite the weights anyway, [`Init::Zeros`] skips the sampling.

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData};

/// How new parameters are filled.
#[derive(Debug, Clone)]
pub enum Init {
    /// N(0, std), from a SplitMix64 stream seeded with `seed` (Box–Muller).
    Normal {
        /// The stream's state.
        state: u64,
        /// Standard deviation (`initializer_range`).
        std: f64,
    },
    /// Zeros: placeholders that a checkpoint overwrites.
    Zeros,
    /// U(−bound, bound), from a SplitMix64 stream seeded with `seed`.
    Uniform {
        /// The stream's state.
        state: u64,
        /// Half-width of the interval.
        bound: f64,
    },
}

impl Init {
    /// Seeded normal initialisation with standard deviation `std`.
    pub fn normal(seed: u64, std: f64) -> Self {
        Self::Normal { state: seed ^ 0x9E37_79B9_7F4A_7C15, std }
    }

    /// PyTorch's `kaiming_uniform_(w, a=√5)` for a layer with `fan_in` inputs (nn.Linear's default
    /// weight init, and PEFT's for `lora_A`): U(−1/√fan_in, 1/√fan_in), seeded.
    pub fn kaiming_uniform(seed: u64, fan_in: usize) -> Self {
        Self::Uniform { state: seed ^ 0x9E37_79B9_7F4A_7C15, bound: 1.0 / (fan_in.max(1) as f64).sqrt() }
    }

    fn next_u64(state: &mut u64) -> u64 {
        // SplitMix64: tiny, fast, and fully specified, so the stream never changes under us.
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(state: &mut u64) -> f64 {
        // (0, 1]: never 0, so ln() below is finite.
        ((Self::next_u64(state) >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// `n` values from this initialiser.
    pub fn sample(&mut self, n: usize) -> Vec<f32> {
        match self {
            Self::Zeros => vec![0.0; n],
            Self::Uniform { state, bound } => {
                (0..n).map(|_| ((2.0 * Self::unit(state) - 1.0) * *bound) as f32).collect()
            }
            Self::Normal { state, std } => {
                let mut out = Vec::with_capacity(n + 1);
                while out.len() < n {
                    let (u1, u2) = (Self::unit(state), Self::unit(state));
                    let r = (-2.0 * u1.ln()).sqrt() * *std;
                    let theta = std::f64::consts::TAU * u2;
                    out.push((r * theta.cos()) as f32);
                    out.push((r * theta.sin()) as f32);
                }
                out.truncate(n);
                out
            }
        }
    }

    /// A tensor of shape `shape` from this initialiser.
    pub fn tensor<const D: usize>(&mut self, shape: [usize; D], device: &Device) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(TensorData::new(self.sample(n), shape), device)
    }

    /// A Linear layer `d_input → d_output` (burn layout: weight `[d_input, d_output]`), bias 0.
    pub fn linear(&mut self, d_input: usize, d_output: usize, device: &Device) -> Linear {
        Linear {
            weight: Param::from_tensor(self.tensor([d_input, d_output], device)),
            bias: Some(Param::from_tensor(Tensor::zeros([d_output], device))),
        }
    }

    /// An embedding table `[n, d]`; the `padding_idx` row is zero, as in `nn.Embedding(padding_idx=…)`.
    pub fn embedding(&mut self, n: usize, d: usize, padding_idx: Option<usize>, device: &Device) -> Embedding {
        let mut values = self.sample(n * d);
        if let Some(p) = padding_idx.filter(|&p| p < n) {
            values[p * d..(p + 1) * d].fill(0.0);
        }
        Embedding { weight: Param::from_tensor(Tensor::from_data(TensorData::new(values, [n, d]), device)) }
    }

    /// A LayerNorm with gamma 1, beta 0.
    pub fn layer_norm(d: usize, eps: f64, device: &Device) -> LayerNorm {
        LayerNormConfig::new(d).with_epsilon(eps).init(device)
    }

    /// A LayerNorm with gamma 1 and, when `bias` is set, beta 0 (ModernBERT's have none).
    pub fn layer_norm_with(d: usize, eps: f64, bias: bool, device: &Device) -> LayerNorm {
        LayerNormConfig::new(d).with_epsilon(eps).with_bias(bias).init(device)
    }

    /// [`Init::linear`] with a bias only when `bias` is set.
    pub fn linear_with(&mut self, d_input: usize, d_output: usize, bias: bool, device: &Device) -> Linear {
        let mut linear = self.linear(d_input, d_output, device);
        if !bias {
            linear.bias = None;
        }
        linear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_roughly_normal() {
        let a = Init::normal(42, 0.02).sample(20_000);
        let b = Init::normal(42, 0.02).sample(20_000);
        assert_eq!(a, b);
        let c = Init::normal(43, 0.02).sample(4);
        assert_ne!(&a[..4], &c[..]);
        let mean = a.iter().map(|&x| x as f64).sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.001, "mean {mean}");
        assert!((var.sqrt() - 0.02).abs() < 0.001, "std {}", var.sqrt());
    }

    #[test]
    fn zeros_are_zeros() {
        assert_eq!(Init::Zeros.sample(3), [0.0; 3]);
    }
}
