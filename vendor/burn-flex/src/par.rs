//! (ft patch) Element-wise loops split over rayon's pool and compiled for the CPU's widest vector
//! unit.
//!
//! Upstream 0.22.1 runs every element-wise op (`unary_op`, `scalar_op`, `binary_op`, the zip
//! nests) as one loop on the calling thread, compiled for baseline x86-64 (SSE2). A BERT training
//! step spends a third of its time in such loops, so on a 2-core machine one core idled through
//! them. The helpers here keep the upstream loop bodies and only change where they run:
//!
//! - above [`PAR_MIN_ELEMS`] elements the slice is cut into chunks (a multiple of 64 elements,
//!   at least [`MIN_CHUNK`], about four per thread) handed to rayon;
//! - each chunk's loop is a [`Kernel`] whose `run` is `#[inline(always)]`, instantiated inside a
//!   `#[target_feature]` function for AVX-512 and for AVX2 + FMA and picked at run time, so
//!   LLVM vectorises the op closure with 16 or 8 lanes instead of 4.
//!
//! Results are identical to the sequential loop: every element is computed by the same closure,
//! only on another thread or in another lane.

use alloc::vec::Vec;
use core::mem::MaybeUninit;

#[cfg(feature = "rayon")]
use rayon::prelude::*;

/// Below this many elements an element-wise op stays on the calling thread.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 15;

/// Smallest chunk handed to another thread.
pub(crate) const MIN_CHUNK: usize = 1 << 13;

/// Chunk length to split `n` elements into, or `None` to run on the calling thread.
#[inline]
pub(crate) fn chunk_len(n: usize) -> Option<usize> {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        if threads > 1 && n >= PAR_MIN_ELEMS {
            let per = n.div_ceil(threads * 4).max(MIN_CHUNK);
            return Some(per.next_multiple_of(64));
        }
    }
    let _ = n;
    None
}

/// A loop body run through [`vectorized`]; `run` must be `#[inline(always)]` so that it is
/// compiled with the target features of the function that calls it.
pub(crate) trait Kernel {
    /// The loop.
    fn run(self);
}

/// Run `k` compiled for AVX-512 or AVX2 + FMA when the CPU has them, else for the baseline.
#[inline(always)]
pub(crate) fn vectorized<K: Kernel>(k: K) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: the features were detected just above.
            return unsafe { run_v4(k) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected just above.
            return unsafe { run_v3(k) };
        }
    }
    k.run()
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn run_v4<K: Kernel>(k: K) {
    k.run()
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_v3<K: Kernel>(k: K) {
    k.run()
}

struct MapInplace<'a, E, F> {
    xs: &'a mut [E],
    op: &'a F,
}

impl<E: Copy, F: Fn(E) -> E> Kernel for MapInplace<'_, E, F> {
    #[inline(always)]
    fn run(self) {
        for x in self.xs.iter_mut() {
            *x = (self.op)(*x);
        }
    }
}

struct MapInto<'a, E, R, F> {
    dst: &'a mut [MaybeUninit<R>],
    src: &'a [E],
    op: &'a F,
}

impl<E: Copy, R, F: Fn(E) -> R> Kernel for MapInto<'_, E, R, F> {
    #[inline(always)]
    fn run(self) {
        for (d, &s) in self.dst.iter_mut().zip(self.src) {
            d.write((self.op)(s));
        }
    }
}

struct ZipInplace<'a, D, S, F> {
    dst: &'a mut [D],
    src: &'a [S],
    op: &'a F,
}

impl<D: Copy, S: Copy, F: Fn(D, S) -> D> Kernel for ZipInplace<'_, D, S, F> {
    #[inline(always)]
    fn run(self) {
        for (d, &s) in self.dst.iter_mut().zip(self.src) {
            *d = (self.op)(*d, s);
        }
    }
}

struct ZipInto<'a, A, B, R, F> {
    dst: &'a mut [MaybeUninit<R>],
    a: &'a [A],
    b: &'a [B],
    op: &'a F,
}

impl<A: Copy, B: Copy, R, F: Fn(A, B) -> R> Kernel for ZipInto<'_, A, B, R, F> {
    #[inline(always)]
    fn run(self) {
        for ((d, &a), &b) in self.dst.iter_mut().zip(self.a).zip(self.b) {
            d.write((self.op)(a, b));
        }
    }
}

/// `x = op(x)` for every element, in place.
pub(crate) fn map_inplace<E, F>(xs: &mut [E], op: F)
where
    E: Copy + Send,
    F: Fn(E) -> E + Sync,
{
    match chunk_len(xs.len()) {
        #[cfg(feature = "rayon")]
        Some(c) => xs
            .par_chunks_mut(c)
            .for_each(|xs| vectorized(MapInplace { xs, op: &op })),
        _ => vectorized(MapInplace { xs, op: &op }),
    }
}

/// `op(x)` for every element of `src`, into a new vector.
pub(crate) fn map_into<E, R, F>(src: &[E], op: F) -> Vec<R>
where
    E: Copy + Sync,
    R: Send,
    F: Fn(E) -> R + Sync,
{
    let n = src.len();
    let mut out: Vec<R> = Vec::with_capacity(n);
    {
        let dst = &mut out.spare_capacity_mut()[..n];
        match chunk_len(n) {
            #[cfg(feature = "rayon")]
            Some(c) => dst
                .par_chunks_mut(c)
                .zip(src.par_chunks(c))
                .for_each(|(dst, src)| vectorized(MapInto { dst, src, op: &op })),
            _ => vectorized(MapInto { dst, src, op: &op }),
        }
    }
    // SAFETY: every one of the first `n` slots was written by the kernel above.
    unsafe { out.set_len(n) };
    out
}

struct MapIndexInto<'a, R, F> {
    dst: &'a mut [MaybeUninit<R>],
    start: usize,
    op: &'a F,
}

impl<R, F: Fn(u32) -> R> Kernel for MapIndexInto<'_, R, F> {
    #[inline(always)]
    fn run(self) {
        let start = self.start as u32;
        for (j, d) in self.dst.iter_mut().enumerate() {
            d.write((self.op)(start.wrapping_add(j as u32)));
        }
    }
}

/// `op(i)` for every index `i` in `0..n` (as u32, wrapping past 2³²), into a new vector.
pub(crate) fn map_index_into<R, F>(n: usize, op: F) -> Vec<R>
where
    R: Send,
    F: Fn(u32) -> R + Sync,
{
    let mut out: Vec<R> = Vec::with_capacity(n);
    {
        let dst = &mut out.spare_capacity_mut()[..n];
        match chunk_len(n) {
            #[cfg(feature = "rayon")]
            Some(c) => dst.par_chunks_mut(c).enumerate().for_each(|(k, dst)| {
                vectorized(MapIndexInto {
                    dst,
                    start: k * c,
                    op: &op,
                })
            }),
            _ => vectorized(MapIndexInto {
                dst,
                start: 0,
                op: &op,
            }),
        }
    }
    // SAFETY: every one of the first `n` slots was written by the kernel above.
    unsafe { out.set_len(n) };
    out
}

/// `d = op(d, s)` for every pair of elements, in place in `dst` (`src` at least as long).
pub(crate) fn zip_inplace<D, S, F>(dst: &mut [D], src: &[S], op: F)
where
    D: Copy + Send,
    S: Copy + Sync,
    F: Fn(D, S) -> D + Sync,
{
    let src = &src[..dst.len()];
    match chunk_len(dst.len()) {
        #[cfg(feature = "rayon")]
        Some(c) => dst
            .par_chunks_mut(c)
            .zip(src.par_chunks(c))
            .for_each(|(dst, src)| vectorized(ZipInplace { dst, src, op: &op })),
        _ => vectorized(ZipInplace { dst, src, op: &op }),
    }
}

/// `op(a, b)` for every pair of elements (same length), into a new vector.
pub(crate) fn zip_into<A, B, R, F>(a: &[A], b: &[B], op: F) -> Vec<R>
where
    A: Copy + Sync,
    B: Copy + Sync,
    R: Send,
    F: Fn(A, B) -> R + Sync,
{
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut out: Vec<R> = Vec::with_capacity(n);
    {
        let dst = &mut out.spare_capacity_mut()[..n];
        match chunk_len(n) {
            #[cfg(feature = "rayon")]
            Some(c) => dst
                .par_chunks_mut(c)
                .zip(a.par_chunks(c).zip(b.par_chunks(c)))
                .for_each(|(dst, (a, b))| vectorized(ZipInto { dst, a, b, op: &op })),
            _ => vectorized(ZipInto { dst, a, b, op: &op }),
        }
    }
    // SAFETY: every one of the first `n` slots was written by the kernel above.
    unsafe { out.set_len(n) };
    out
}

/// Split `dst` (and `src` alongside it) into chunks and run `f` on each, on rayon's pool when
/// large enough: for kernels that are already vectorised (macerator) but ran on one thread.
pub(crate) fn chunked_pair<D, S, F>(dst: &mut [D], src: &[S], f: F)
where
    D: Send,
    S: Sync,
    F: Fn(&mut [D], &[S]) + Sync,
{
    let src = &src[..dst.len()];
    match chunk_len(dst.len()) {
        #[cfg(feature = "rayon")]
        Some(c) => dst
            .par_chunks_mut(c)
            .zip(src.par_chunks(c))
            .for_each(|(d, s)| f(d, s)),
        _ => f(dst, src),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn parallel_helpers_match_sequential_loops() {
        // Long enough to be split over the pool, with a ragged last chunk.
        let n = PAR_MIN_ELEMS * 3 + 17;
        let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();

        let mut x = a.clone();
        map_inplace(&mut x, |v| v * 2.0 + 1.0);
        assert!(x.iter().zip(&a).all(|(&x, &a)| x == a * 2.0 + 1.0));

        let y = map_into(&a, |v| v - 3.0);
        assert_eq!(y.len(), n);
        assert!(y.iter().zip(&a).all(|(&y, &a)| y == a - 3.0));

        let mut z = a.clone();
        zip_inplace(&mut z, &b, |p, q| p * q);
        assert!(
            z.iter()
                .zip(a.iter().zip(&b))
                .all(|(&z, (&a, &b))| z == a * b)
        );

        let w = zip_into(&a, &b, |p, q| p - q);
        assert!(
            w.iter()
                .zip(a.iter().zip(&b))
                .all(|(&w, (&a, &b))| w == a - b)
        );

        let mut c = vec![0.0f32; n];
        chunked_pair(&mut c, &a, |d, s| d.copy_from_slice(s));
        assert_eq!(c, a);
    }
}
