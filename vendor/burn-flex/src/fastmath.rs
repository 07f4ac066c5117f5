//! (ft patch) Branch-free `erf` and `exp` for f32 that LLVM can vectorise.
//!
//! Upstream GELU calls `libm::erff` and `f32::exp` per element: opaque calls that keep the loop
//! scalar (10% and 5% of a BERT training profile). These are straight-line polynomials with
//! selects, so inside [`crate::par`]'s kernels they run 16 lanes wide.
//!
//! - [`erf_f32`]: the rational approximation Eigen and XLA use for f32,
//!   `erf(x) ≈ x·P(x²)/Q(x²)` on `[-4, 4]`, clamped outside (erf(±4) rounds to ±1 in f32).
//! - [`exp_f32`]: Cephes' `expf` (range reduction by `ln 2` in two parts, degree-6 polynomial),
//!   with `2ⁿ` applied as two exact power-of-two factors so overflow to `inf`, underflow through
//!   the subnormals to 0, and NaN behave as IEEE `exp` does.
//!
//! Both stay within a few units in the last place of libm (tests below).

/// `erf(x)` for f32, vectorisable. Max abs error against `libm::erff` about 2e-7.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    const A: [f32; 7] = [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ];
    const B: [f32; 5] = [
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    ];
    let x = clamp(x, -4.0, 4.0);
    let x2 = x * x;
    let mut p = A[0];
    p = p * x2 + A[1];
    p = p * x2 + A[2];
    p = p * x2 + A[3];
    p = p * x2 + A[4];
    p = p * x2 + A[5];
    p = p * x2 + A[6];
    let mut q = B[0];
    q = q * x2 + B[1];
    q = q * x2 + B[2];
    q = q * x2 + B[3];
    q = q * x2 + B[4];
    x * p / q
}

/// `exp(x)` for f32, vectorisable. Relative error against `f32::exp` about 1e-7; `inf` above
/// ~88.72, subnormals then 0 below ~-87.3, NaN for NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const C1: f32 = 0.693359375;
    const C2: f32 = -2.12194440e-4;
    // 1.5 · 2²³: adding it rounds to the nearest integer, kept in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    // Clamped so that n stays in [-150, 129]; results are already inf / 0 at the ends.
    let xc = clamp(x, -104.0, 89.0);
    let t = xc * LOG2E + SHIFTER;
    let n = t.to_bits() as i32 - SHIFTER.to_bits() as i32;
    let nf = t - SHIFTER;
    let r = xc - nf * C1 - nf * C2;
    let mut p = 1.9875691500e-4;
    p = p * r + 1.3981999507e-3;
    p = p * r + 8.3334519073e-3;
    p = p * r + 4.1665795894e-2;
    p = p * r + 1.6666665459e-1;
    p = p * r + 5.0000001201e-1;
    let y = p * r * r + r + 1.0;
    // 2ⁿ as two normal factors (each exponent within [-75, 65]).
    let n1 = n >> 1;
    let n2 = n - n1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let e = y * s1 * s2;
    if x.is_nan() { x } else { e }
}

/// (ft patch) `n` draws of Bernoulli(`prob`) as 0.0 / 1.0, from a counter-based hash of
/// (`key`, index): element `i` is 1 when the top 24 bits of `hash(key, i)`, read as a fraction
/// of 2²⁴, fall below `prob`. Split over the pool and vectorised (32-bit multiplies only).
pub fn bernoulli_f32(n: usize, prob: f64, key: u64) -> alloc::vec::Vec<f32> {
    // Keep-probability as a threshold on 24-bit integers: P(u < t) = t / 2²⁴ (p = 1 keeps all).
    let threshold = (prob * (1u32 << 24) as f64).round() as u32;
    let (k0, k1) = (key as u32, (key >> 32) as u32);
    crate::par::map_index_into(n, move |i: u32| {
        let h = fmix32(fmix32(i.wrapping_mul(0x9E37_79B9) ^ k0) ^ k1);
        if (h >> 8) < threshold { 1.0 } else { 0.0 }
    })
}

/// MurmurHash3's 32-bit finaliser: a bijection that mixes every input bit into every output bit.
#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    h
}

/// `min(max(x, lo), hi)` as two selects (NaN maps to `hi`; callers handle NaN separately).
#[inline(always)]
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi { hi } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = -6.0f32;
        while x <= 6.0 {
            worst = worst.max((erf_f32(x) - libm::erff(x)).abs());
            x += 1.0e-3;
        }
        assert!(worst < 5e-7, "max abs error {worst}");
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(erf_f32(0.0), 0.0);
    }

    #[test]
    fn exp_matches_std() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = x.exp();
            worst = worst.max(((exp_f32(x) - want) / want).abs());
            x += 7.3e-3;
        }
        assert!(worst < 4e-7, "max rel error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        // Subnormal results stay close to IEEE's.
        let sub = exp_f32(-100.0);
        assert!(sub > 0.0 && ((sub - (-100.0f32).exp()) / (-100.0f32).exp()).abs() < 1e-3);
    }

    #[test]
    fn bernoulli_keeps_the_asked_share_and_depends_on_the_key() {
        let n = 1 << 20;
        for prob in [0.0, 0.1, 0.5, 0.9, 1.0] {
            let m = bernoulli_f32(n, prob, 42);
            assert!(m.iter().all(|&v| v == 0.0 || v == 1.0));
            let share = m.iter().sum::<f32>() as f64 / n as f64;
            // 5 standard deviations of a binomial share at n = 2^20 is < 0.0025.
            assert!((share - prob).abs() < 0.0025, "p = {prob}: kept {share}");
        }
        let a = bernoulli_f32(n, 0.5, 1);
        assert_eq!(a, bernoulli_f32(n, 0.5, 1));
        let same = a
            .iter()
            .zip(&bernoulli_f32(n, 0.5, 2))
            .filter(|(x, y)| x == y)
            .count();
        assert!(
            (same as f64 / n as f64 - 0.5).abs() < 0.01,
            "keys 1 and 2 agree on {same}"
        );
        // Neighbouring elements are independent: P(both kept) = p².
        let both = a.windows(2).filter(|w| w[0] == 1.0 && w[1] == 1.0).count();
        assert!((both as f64 / (n - 1) as f64 - 0.25).abs() < 0.005);
    }
}
