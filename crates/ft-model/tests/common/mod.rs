//! Shared helpers for ft-model's golden tests: reading reference tensors and comparing with a stated
//! tolerance, printing the largest difference and the first values side by side on failure.
#![allow(dead_code)]

use ft_model::burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::PathBuf;

/// `fixtures/` at the workspace root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The CPU device of this build.
pub fn cpu() -> Device {
    ft_model::DeviceSpec::Cpu.device().expect("a CPU backend is compiled in")
}

/// A reference tensor file written by `xtask/py/generate_fixtures.py`.
pub struct Golden {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Golden {
    pub fn open(name: &str) -> Self {
        let path = fixtures().join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; regenerate fixtures with `cargo xtask fixtures`", path.display()));
        Self { path, bytes }
    }

    fn view(&self, name: &str) -> (Vec<u8>, Vec<usize>, safetensors::Dtype) {
        let st = safetensors::SafeTensors::deserialize(&self.bytes).expect("golden file parses");
        let view = st.tensor(name).unwrap_or_else(|_| panic!("{}: no tensor {name}", self.path.display()));
        (view.data().to_vec(), view.shape().to_vec(), view.dtype())
    }

    pub fn has(&self, name: &str) -> bool {
        safetensors::SafeTensors::deserialize(&self.bytes).unwrap().names().contains(&name)
    }

    pub fn f32(&self, name: &str) -> (Vec<f32>, Vec<usize>) {
        let (data, shape, dtype) = self.view(name);
        assert_eq!(dtype, safetensors::Dtype::F32, "{name}");
        (data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(), shape)
    }

    pub fn i64(&self, name: &str) -> (Vec<i64>, Vec<usize>) {
        let (data, shape, dtype) = self.view(name);
        assert_eq!(dtype, safetensors::Dtype::I64, "{name}");
        (data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect(), shape)
    }

    /// An int64 `[B, T]` reference tensor as a burn tensor.
    pub fn ids(&self, name: &str, device: &Device) -> Tensor<2, Int> {
        let (v, shape) = self.i64(name);
        Tensor::from_data(TensorData::new(v, [shape[0], shape[1]]), device)
    }
}

/// Flattens a burn tensor to f32 values.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 tensor")
}

/// Asserts `max |got - want| ≤ tol`, printing the worst index and the first values side by side.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: {} values, reference has {}", got.len(), want.len());
    let (mut worst, mut at) = (0f32, 0usize);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    if worst.is_nan() || worst > tol {
        let side: Vec<String> = got.iter().zip(want).take(8).map(|(g, w)| format!("{g:+.6} vs {w:+.6}")).collect();
        panic!(
            "{what}: max abs diff {worst:.3e} > {tol:.0e} at index {at} (ft {} vs reference {})\n  first values (ft vs reference): {}",
            got[at],
            want[at],
            side.join(", ")
        );
    }
    worst
}
