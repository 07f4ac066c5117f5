//! Walking a module's float parameters with their paths (`bert.encoder.layer.0.attention.self_attention.query.weight`):
//! trainable counts, decay groups, gradient norms, the fingerprint of what a head-only checkpoint
//! leaves out.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// One float parameter: its module path, id, element count and whether it is trained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Dotted module path (burn's field names; see ft-model's remap table for HF names).
    pub path: String,
    /// burn's parameter id (keys gradients and optimizer state).
    pub id: ParamId,
    /// Number of values.
    pub numel: usize,
    /// Whether gradients are computed for it.
    pub trainable: bool,
}

#[derive(Default)]
struct Collector {
    stack: Vec<String>,
    out: Vec<ParamInfo>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push(ParamInfo {
            path: self.stack.join("."),
            id: param.id,
            numel: param.lazy_shape().num_elements(),
            trainable: param.is_require_grad(),
        });
    }
}

/// Every float parameter of `module`, in visiting order.
pub fn parameters<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut collector = Collector::default();
    module.visit(&mut collector);
    collector.out
}

/// `(trainable, total)` parameter counts.
pub fn trainable_counts<M: Module>(module: &M) -> (usize, usize) {
    let all = parameters(module);
    let trainable = all.iter().filter(|p| p.trainable).map(|p| p.numel).sum();
    (trainable, all.iter().map(|p| p.numel).sum())
}

struct Fingerprint<'a> {
    stack: Vec<String>,
    skip: &'a [ParamId],
    hasher: crc32fast::Hasher,
}

impl ModuleVisitor for Fingerprint<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.skip.contains(&param.id) {
            return;
        }
        self.hasher.update(self.stack.join(".").as_bytes());
        let shape = param.lazy_shape();
        for i in 0..shape.num_dims() {
            self.hasher.update(&(shape[i] as u64).to_le_bytes());
        }
        self.hasher.update(param.val().into_data().as_bytes());
    }
}

/// CRC-32 over the path, shape and values of every float parameter of `module` except those of
/// `skip` (by id): what a checkpoint that holds only `skip` relies on finding again in the base
/// model on resume.
pub fn frozen_fingerprint<M: Module, S: Module>(module: &M, skip: &S) -> u32 {
    let ids: Vec<ParamId> = parameters(skip).into_iter().map(|p| p.id).collect();
    let mut visitor = Fingerprint { stack: Vec::new(), skip: &ids, hasher: crc32fast::Hasher::new() };
    module.visit(&mut visitor);
    visitor.hasher.finalize()
}
