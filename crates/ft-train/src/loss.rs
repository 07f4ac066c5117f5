//! Losses by problem type, as transformers' `BertForSequenceClassification.forward` picks them.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Targets of one batch.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Single-label: class indices `[B]`.
    Classes(Tensor<1, Int>),
    /// Multi-label: multi-hot `[B, C]` in {0, 1}.
    MultiHot(Tensor<2>),
    /// Regression: `[B, C]` real values (`C = num_labels`, usually 1).
    Values(Tensor<2>),
}

/// Mean loss over the batch: cross-entropy, BCE-with-logits, or MSE.
///
/// # Shapes
/// - `logits`: `[B, C]`
/// - output: `[1]`
pub fn loss(logits: Tensor<2>, targets: Targets) -> Tensor<1> {
    match targets {
        Targets::Classes(labels) => {
            let [b, _] = logits.dims();
            let log_probs = log_softmax(logits, 1); // [B, C]
            log_probs.gather(1, labels.reshape([b, 1])).mean().neg()
        }
        Targets::MultiHot(y) => {
            // max(x, 0) − x·y + log(1 + exp(−|x|)): stable BCE-with-logits.
            let x = logits;
            let term = x.clone().clamp_min(0.0) - x.clone() * y + (x.abs().neg().exp() + 1.0).log();
            term.mean()
        }
        Targets::Values(y) => (logits - y).square().mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn cpu() -> Device {
        ft_model::DeviceSpec::Cpu.device().unwrap()
    }

    #[test]
    fn cross_entropy_by_hand() {
        let d = cpu();
        // logits [[0, ln 3]], label 1: p = 3/4 → −ln(3/4)
        let logits = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2]), &d);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64], [1]), &d);
        let l = loss(logits, Targets::Classes(labels)).into_scalar::<f32>();
        assert!((l - (4.0f32 / 3.0).ln()).abs() < 1e-6, "{l}");
    }

    #[test]
    fn bce_and_mse_by_hand() {
        let d = cpu();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 2.0], [1, 2]), &d);
        let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &d);
        // mean(ln 2, 2 + ln(1 + e^-2))
        let want = (2f32.ln() + 2.0 + (1.0 + (-2f32).exp()).ln()) / 2.0;
        let l = loss(x.clone(), Targets::MultiHot(y.clone())).into_scalar::<f32>();
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
        let m = loss(x, Targets::Values(y)).into_scalar::<f32>();
        assert!((m - 2.5).abs() < 1e-6, "{m}");
    }
}
