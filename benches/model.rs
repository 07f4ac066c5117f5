//! Encoder forward and full training steps (forward + backward + AdamW), for the tiny fixture's shape
//! and all-MiniLM-L6-v2's shape, on each compiled-in backend. Fresh seeded weights and random ids: the
//! cost of a step does not depend on the values. Throughput is in examples per second.
//!
//! `cargo bench -p ft-train --bench model` (all of it, several minutes on 2 cores);
//! `cargo bench -p ft-train --bench model -- tiny` for the tiny shapes only.
//! The side-by-side comparison with PyTorch is `cargo xtask bench`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ft_model::DeviceSpec;
use ft_train::synthetic::{Mode, ModelShape, Workload};
use std::hint::black_box;
use std::time::Duration;

/// (shape, mode, batch, seq)
const CASES: &[(ModelShape, Mode, usize, usize)] = &[
    (ModelShape::Tiny, Mode::Inference, 32, 64),
    (ModelShape::Tiny, Mode::Full, 32, 64),
    (ModelShape::MiniLm, Mode::Inference, 1, 128),
    (ModelShape::MiniLm, Mode::Inference, 32, 128),
    (ModelShape::MiniLm, Mode::Full, 32, 64),
    (ModelShape::MiniLm, Mode::Full, 32, 128),
    (ModelShape::MiniLm, Mode::FrozenEncoder, 32, 128),
    (ModelShape::MiniLm, Mode::Lora, 32, 64),
];

fn backends() -> Vec<(&'static str, DeviceSpec)> {
    ft_model::compiled_backends()
        .into_iter()
        .filter_map(|name| match name {
            "flex" => Some(("flex", DeviceSpec::Flex)),
            "ndarray" => Some(("ndarray", DeviceSpec::Ndarray)),
            "wgpu" => Some(("wgpu", DeviceSpec::Wgpu(None))),
            _ => None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (backend, spec) in backends() {
        let device = spec.device().unwrap_or_else(|e| panic!("{e}"));
        for &(shape, mode, batch, seq) in CASES {
            let group_name = if mode == Mode::Inference { "forward" } else { "train_step" };
            let mut group = c.benchmark_group(group_name);
            group.sample_size(10).warm_up_time(Duration::from_secs(2));
            if shape == ModelShape::MiniLm {
                group.measurement_time(Duration::from_secs(if mode == Mode::Inference { 10 } else { 30 }));
            }
            group.throughput(Throughput::Elements(batch as u64));
            let id = format!("{backend}/{shape}/{mode}/b{batch}xs{seq}");
            let mut workload = Workload::new(shape, mode, batch, seq, &device).unwrap_or_else(|e| panic!("{e}"));
            group.bench_function(id, |b| b.iter(|| black_box(workload.run_once().unwrap())));
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
