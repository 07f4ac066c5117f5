//! ft's patched burn-flex (vendor/burn-flex, FT-PATCHES.md): the kernels it changes, on tensors large
//! enough to take the parallel paths (≥ 32,768 elements, split over rayon's pool), against references
//! computed here in f64 or element by element. The model-level parity tests (this crate's and
//! ft-train's step parity against PyTorch) run the same kernels at the model's sizes.
#![cfg(feature = "flex")]

mod common;

use common::cpu;
use ft_model::burn::tensor::activation::{gelu, softmax};
use ft_model::burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Deterministic pseudo-random values in [-1, 1) (a 64-bit LCG), independent of burn's RNG.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn assert_close(what: &str, got: &[f32], want: impl Fn(usize) -> f64, abs: f64, rel: f64) {
    let mut worst = (0.0f64, 0usize);
    for (i, &g) in got.iter().enumerate() {
        let w = want(i);
        let err = (g as f64 - w).abs();
        assert!(err <= abs + rel * w.abs(), "{what}[{i}]: {g} vs {w} (error {err:.2e})");
        if err > worst.0 {
            worst = (err, i);
        }
    }
    eprintln!("{what}: {} values, max abs error {:.2e} at {}", got.len(), worst.0, worst.1);
}

/// GELU (erf form) and its derivative over [-8, 8] on 100k values: the vectorised erf/exp, split
/// over the pool, against f64. The f32 erf approximation is within 3e-7 of erf, so GELU = ½x(1 + erf)
/// is within ½·8·3e-7 = 1.2e-6 absolute on this range (libm's erff: ≈ 1e-7; the difference shows
/// in the far negative tail, where 1 + erf cancels).
#[test]
fn gelu_forward_and_backward_match_f64() {
    let device = cpu().autodiff();
    let n = 100_003;
    let xs: Vec<f32> = (0..n).map(|i| -8.0 + 16.0 * i as f32 / (n - 1) as f32).collect();
    let ws = values(n, 7);
    let x = tensor(xs.clone(), [n], &device).require_grad();
    let y = gelu(x.clone());
    let grads = (y.clone() * tensor(ws.clone(), [n], &device)).sum().backward();
    let dx = to_vec(x.grad(&grads).unwrap());
    let y = to_vec(y);
    let cdf = |v: f64| 0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
    let pdf = |v: f64| (-v * v / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    assert_close("gelu", &y, |i| xs[i] as f64 * cdf(xs[i] as f64), 1.5e-6, 1e-6);
    assert_close(
        "gelu'·w",
        &dx,
        |i| {
            let v = xs[i] as f64;
            ws[i] as f64 * (cdf(v) + v * pdf(v))
        },
        1.5e-6,
        1e-6,
    );
}

/// Softmax over the last axis of attention-shaped scores (the vectorised exp and 16-way sum).
#[test]
fn softmax_matches_f64() {
    let device = cpu();
    let (rows, len) = (4 * 12 * 64, 64);
    let xs: Vec<f32> = values(rows * len, 3).iter().map(|v| v * 12.0).collect();
    let got = to_vec(softmax(tensor(xs.clone(), [4, 12, 64, 64], &device), 3));
    let want: Vec<f64> = xs
        .chunks(len)
        .flat_map(|row| {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(move |v| v / sum)
        })
        .collect();
    assert_close("softmax", &got, |i| want[i], 1e-7, 1e-6);
}

/// Bernoulli masks (dropout): the asked share kept, independent neighbours, the same mask after the
/// same seed and another after another seed.
#[test]
fn bernoulli_masks_keep_the_share_and_follow_the_seed() {
    let device = cpu();
    let draw = |seed: u64| {
        device.seed(seed);
        to_vec(Tensor::<2>::random([1024, 1024], Distribution::Bernoulli(0.9), &device))
    };
    let a = draw(5);
    assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
    let share = a.iter().sum::<f32>() as f64 / a.len() as f64;
    // Five standard deviations of the share at n = 2^20, p = 0.9: 0.0015.
    assert!((share - 0.9).abs() < 0.0015, "kept {share}");
    let both = a.windows(2).filter(|w| w[0] == 1.0 && w[1] == 1.0).count() as f64 / (a.len() - 1) as f64;
    assert!((both - 0.81).abs() < 0.002, "P(both kept) = {both}");
    assert_eq!(a, draw(5), "same seed, same mask");
    let other = draw(6);
    let agree = a.iter().zip(&other).filter(|(x, y)| x == y).count() as f64 / a.len() as f64;
    // Independent masks agree with probability 0.9² + 0.1² = 0.82.
    assert!((agree - 0.82).abs() < 0.003, "seeds 5 and 6 agree on {agree}");
}

/// Element-wise ops on every path the patch splits over the pool: in place (unique contiguous),
/// allocating (shared operands), broadcast in place and allocating (bias), strided (transposed),
/// scalar ops and unary ops; compared with the same arithmetic done element by element.
#[test]
fn elementwise_paths_match_element_by_element() {
    let device = cpu();
    let (r, c) = (512, 384);
    let a = values(r * c, 1);
    let b = values(r * c, 2);
    let bias = values(c, 3);
    let ta = || tensor(a.clone(), [r, c], &device);
    let tb = || tensor(b.clone(), [r, c], &device);
    let tbias = || tensor(bias.clone(), [1, c], &device);

    let same = |what: &str, got: Vec<f32>, want: &dyn Fn(usize) -> f32| {
        for (i, g) in got.iter().enumerate() {
            assert_eq!(*g, want(i), "{what}[{i}]");
        }
    };
    // In place: the lhs is uniquely owned.
    same("a + b", to_vec(ta() + tb()), &|i| a[i] + b[i]);
    same("a * b", to_vec(ta() * tb()), &|i| a[i] * b[i]);
    // Allocating: both operands are still referenced.
    let (sa, sb) = (ta(), tb());
    same("a - b (shared)", to_vec(sa.clone() - sb.clone()), &|i| a[i] - b[i]);
    same("a / b (shared)", to_vec(sa.clone() / sb.clone()), &|i| a[i] / b[i]);
    // Broadcast bias, in place and allocating.
    same("a + bias", to_vec(ta() + tbias()), &|i| a[i] + bias[i % c]);
    same("a * bias (shared)", to_vec(sa.clone() * tbias()), &|i| a[i] * bias[i % c]);
    // Strided: a transposed view against a contiguous tensor.
    let at = tensor(a.clone(), [c, r], &device).transpose();
    same("aᵀ + b", to_vec(at + tb()), &|i| a[(i % c) * r + i / c] + b[i]);
    // Scalar and unary ops, in place and allocating.
    same("a * 3", to_vec(ta().mul_scalar(3.0)), &|i| a[i] * 3.0);
    same("a + 0.5 (shared)", to_vec(sa.clone().add_scalar(0.5)), &|i| a[i] + 0.5);
    same("|a|", to_vec(ta().abs()), &|i| a[i].abs());
    same("sqrt(|a|) (shared)", to_vec(sa.clone().abs().sqrt()), &|i| a[i].abs().sqrt());
    drop((sa, sb));
}

/// Matrix products write every element of their (no longer zero-filled) output: 2-D, batched, and
/// the empty inner dimension.
#[test]
fn matmul_outputs_are_complete() {
    let device = cpu();
    let naive = |x: &[f32], y: &[f32], m: usize, k: usize, n: usize| -> Vec<f64> {
        let mut out = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| x[i * k + p] as f64 * y[p * n + j] as f64).sum();
            }
        }
        out
    };
    let (m, k, n) = (300, 70, 50);
    let (x, y) = (values(m * k, 4), values(k * n, 5));
    let got = to_vec(tensor(x.clone(), [m, k], &device).matmul(tensor(y.clone(), [k, n], &device)));
    let want = naive(&x, &y, m, k, n);
    assert_close("matmul 2-D", &got, |i| want[i], 1e-5, 1e-5);

    let (bsz, m, k, n) = (24, 64, 32, 48);
    let (x, y) = (values(bsz * m * k, 6), values(bsz * k * n, 7));
    let got = to_vec(tensor(x.clone(), [bsz, m, k], &device).matmul(tensor(y.clone(), [bsz, k, n], &device)));
    let want: Vec<f64> =
        (0..bsz).flat_map(|b| naive(&x[b * m * k..(b + 1) * m * k], &y[b * k * n..(b + 1) * k * n], m, k, n)).collect();
    assert_close("matmul batched", &got, |i| want[i], 1e-5, 1e-5);

    let empty = to_vec(Tensor::<2>::zeros([4, 0], &device).matmul(Tensor::<2>::zeros([0, 5], &device)));
    assert_eq!(empty, vec![0.0; 20], "k = 0 gives zeros");
}

/// A weight shared by every batch (`Linear` on `[batch, seq, hidden]`, and its backward `dy·Wᵀ`) is
/// computed as one `[batch·seq, k] × [k, n]` product (FT-PATCHES.md, `ops/matmul.rs`): against
/// per-batch references for a contiguous left side, a transposed (strided) weight, a left side whose
/// batches are not one chain of rows (a slice of the sequence axis: must not be folded), and the
/// gradients of `linear` through autodiff.
#[test]
fn shared_weight_products_fold_batches_into_rows() {
    let device = cpu();
    let naive = |x: &[f32], xs: (usize, usize), y: &[f32], ys: (usize, usize), m: usize, k: usize, n: usize| {
        let mut out = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| x[i * xs.0 + p * xs.1] as f64 * y[p * ys.0 + j * ys.1] as f64).sum();
            }
        }
        out
    };
    let (bsz, m, k, n) = (6, 40, 96, 72);
    let (x, w) = (values(bsz * m * k, 8), values(k * n, 9));
    let per_batch = |w_strides: (usize, usize)| -> Vec<f64> {
        (0..bsz).flat_map(|b| naive(&x[b * m * k..(b + 1) * m * k], (k, 1), &w, w_strides, m, k, n)).collect()
    };

    let x3 = tensor(x.clone(), [bsz, m, k], &device);
    let got = to_vec(x3.clone().matmul(tensor(w.clone(), [k, n], &device).unsqueeze::<3>()));
    let want = per_batch((n, 1));
    assert_close("matmul shared weight", &got, |i| want[i], 1e-5, 1e-5);

    // The weight stored as [n, k] and read transposed (strides (1, k)), as in `dx = dy·Wᵀ`.
    let wt = tensor(w.clone(), [n, k], &device).swap_dims(0, 1);
    let got = to_vec(x3.clone().matmul(wt.unsqueeze::<3>()));
    let want = per_batch((1, k));
    assert_close("matmul shared transposed weight", &got, |i| want[i], 1e-5, 1e-5);

    // Rows 5..35 of each batch: the batches do not follow each other, so no fold.
    let (lo, hi) = (5, 35);
    let got =
        to_vec(x3.clone().slice([0..bsz, lo..hi, 0..k]).matmul(tensor(w.clone(), [k, n], &device).unsqueeze::<3>()));
    let want: Vec<f64> = (0..bsz)
        .flat_map(|b| naive(&x[b * m * k + lo * k..b * m * k + hi * k], (k, 1), &w, (n, 1), hi - lo, k, n))
        .collect();
    assert_close("matmul shared weight, sliced rows", &got, |i| want[i], 1e-5, 1e-5);

    // `linear` under autodiff: dx = dy·Wᵀ (a shared transposed weight) and dW = xᵀ·dy.
    let ad = cpu().autodiff();
    let dy = values(bsz * m * n, 10);
    let xg = tensor(x.clone(), [bsz, m, k], &ad).require_grad();
    let wg = tensor(w.clone(), [k, n], &ad).require_grad();
    let out = ft_model::burn::tensor::module::linear(xg.clone(), wg.clone(), None);
    let grads = (out * tensor(dy.clone(), [bsz, m, n], &ad)).sum().backward();
    let dx = to_vec(xg.grad(&grads).unwrap());
    let want: Vec<f64> =
        (0..bsz).flat_map(|b| naive(&dy[b * m * n..(b + 1) * m * n], (n, 1), &w, (1, n), m, n, k)).collect();
    assert_close("linear dx", &dx, |i| want[i], 1e-5, 1e-5);
    let dw = to_vec(wg.grad(&grads).unwrap());
    let want = naive(&x, (1, k), &dy, (n, 1), k, bsz * m, n);
    assert_close("linear dW", &dw, |i| want[i], 1e-4, 1e-5);
}
