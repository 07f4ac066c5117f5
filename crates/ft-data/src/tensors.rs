//! The only place ft-data touches burn: a host [`Batch`] becomes `[B, T]` tensors on a device.

use crate::batch::{Batch, Labels};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// A batch's labels as a tensor.
#[derive(Debug, Clone)]
pub enum LabelTensor {
    /// Class indices. `[B]`
    Classes(Tensor<1, Int>),
    /// Multi-hot targets. `[B, C]`
    MultiHot(Tensor<2>),
    /// Regression targets. `[B]`
    Values(Tensor<1>),
    /// A class id per token, [`IGNORE_INDEX`](crate::IGNORE_INDEX) where there is no label. `[B, T]`
    TokenClasses(Tensor<2, Int>),
    /// Start and end token of the answer in each window. `[B, 2]`
    Spans(Tensor<2, Int>),
}

impl Batch {
    /// `(input_ids, token_type_ids, attention_mask)`, each `[B, T]` Int, in the order `BertModel::forward`
    /// takes them.
    pub fn to_tensors(&self, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2, Int>) {
        let shape = [self.batch_size, self.seq_len];
        let t = |v: &Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v.clone(), shape), device);
        (t(&self.input_ids), t(&self.token_type_ids), t(&self.attention_mask))
    }

    /// The labels on `device`.
    pub fn labels_to_tensor(&self, device: &Device) -> LabelTensor {
        let b = self.batch_size;
        match &self.labels {
            Labels::Classes(v) => LabelTensor::Classes(Tensor::from_data(TensorData::new(v.clone(), [b]), device)),
            Labels::MultiHot { values, num_labels } => {
                LabelTensor::MultiHot(Tensor::from_data(TensorData::new(values.clone(), [b, *num_labels]), device))
            }
            Labels::Values(v) => LabelTensor::Values(Tensor::from_data(TensorData::new(v.clone(), [b]), device)),
            Labels::TokenClasses(v) => {
                LabelTensor::TokenClasses(Tensor::from_data(TensorData::new(v.clone(), [b, self.seq_len]), device))
            }
            Labels::Spans(v) => LabelTensor::Spans(Tensor::from_data(TensorData::new(v.clone(), [b, 2]), device)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_values_survive() {
        let batch = Batch {
            input_ids: vec![2, 7, 3, 2, 3, 0],
            token_type_ids: vec![0, 0, 0, 0, 0, 0],
            attention_mask: vec![1, 1, 1, 1, 1, 0],
            batch_size: 2,
            seq_len: 3,
            labels: Labels::Classes(vec![1, 0]),
        };
        let device = Device::flex();
        let (ids, types, mask) = batch.to_tensors(&device);
        assert_eq!(ids.dims(), [2, 3]);
        assert_eq!(types.dims(), [2, 3]);
        assert_eq!(ids.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(), batch.input_ids);
        assert_eq!(mask.sum().into_scalar::<i64>(), 5);
        match batch.labels_to_tensor(&device) {
            LabelTensor::Classes(t) => assert_eq!(t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(), [1, 0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn token_labels_are_b_by_t() {
        let batch = Batch {
            input_ids: vec![2, 7, 3, 2, 3, 0],
            token_type_ids: vec![0; 6],
            attention_mask: vec![1, 1, 1, 1, 1, 0],
            batch_size: 2,
            seq_len: 3,
            labels: Labels::TokenClasses(vec![-100, 4, -100, -100, -100, -100]),
        };
        match batch.labels_to_tensor(&Device::flex()) {
            LabelTensor::TokenClasses(t) => {
                assert_eq!(t.dims(), [2, 3]);
                assert_eq!(
                    t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(),
                    [-100, 4, -100, -100, -100, -100]
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
