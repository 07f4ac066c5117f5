//! The chapter's frozen-encoder recipe without waste: when `model.bert` is frozen, its output never
//! changes, so the pooled `[CLS]` features of every example are computed once (eval mode) and only the
//! head — dropout + classifier, after the family's own head dense layer where it has one
//! ([`ft_model::PooledHead`]) — is trained on them for all epochs.

use crate::TrainError;
use burn::tensor::{Device, Tensor, TensorData};
use ft_data::Examples;
use ft_model::{Head, ModelInputs};

/// Pooled features of a split, row-major `[N, H]` on the host.
#[derive(Debug, Clone)]
pub struct Features {
    /// `N · H` values.
    pub values: Vec<f32>,
    /// H.
    pub width: usize,
}

impl Features {
    /// Rows `indices` as a `[B, H]` tensor on `device`.
    pub fn rows(&self, indices: &[u32], device: &Device) -> Tensor<2> {
        let h = self.width;
        let mut out = Vec::with_capacity(indices.len() * h);
        for &i in indices {
            let i = i as usize;
            out.extend_from_slice(&self.values[i * h..(i + 1) * h]);
        }
        Tensor::from_data(TensorData::new(out, [indices.len(), h]), device)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Encodes `examples` once with `model` in eval mode (pass `model.valid()`), in length-sorted batches.
pub fn encode_pooled<H: Head>(
    model: &H,
    examples: &Examples,
    batch_size: usize,
    device: &Device,
) -> Result<Features, TrainError> {
    if model.pooled_head().is_none() {
        return Err(TrainError::Config(format!(
            "{} reads every token: cached pooled features need a head that reads one pooled vector",
            H::TASK.architecture()
        )));
    }
    let width = model.bert().hidden_size;
    let n = examples.len();
    let mut values = vec![0f32; n * width];
    // Sorting by length keeps padding (and time) low; rows are written back in original order.
    let lengths = examples.lengths();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| lengths[i as usize]);
    let plan: Vec<Vec<u32>> = order.chunks(batch_size.max(1)).map(<[u32]>::to_vec).collect();
    for indices in plan {
        let batch = examples.collate(&indices, None);
        let (ids, types, mask) = batch.to_tensors(device);
        // The head's pooling (pooler, [CLS], mean or max), as its forward reads it.
        let pooled = model.pooled(ModelInputs::new(ids, types, mask))?; // [B, H]
        let rows = pooled
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Config(format!("{e:?}")))?;
        for (r, &i) in indices.iter().enumerate() {
            let i = i as usize;
            values[i * width..(i + 1) * width].copy_from_slice(&rows[r * width..(r + 1) * width]);
        }
    }
    Ok(Features { values, width })
}
