//! Distance kernels: f32 dot product and squared L2, int8 dot product (Q8 codes) and Hamming
//! distance (binary codes). The best kernel set for the CPU is picked once at run time (AVX2 +
//! FMA on x86-64; elsewhere the scalar set, which the compiler auto-vectorises for the
//! baseline target); every SIMD kernel has a scalar twin in `scalar` that tests compare with.
//! `benches/distance.rs` measures each kernel set against the scalar one.

pub mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

/// One set of kernels.
#[derive(Clone, Copy)]
pub struct Kernels {
    pub name: &'static str,
    pub dot_f32: fn(&[f32], &[f32]) -> f32,
    pub l2sq_f32: fn(&[f32], &[f32]) -> f32,
    pub dot_i8: fn(&[i8], &[i8]) -> i32,
    pub hamming: fn(&[u64], &[u64]) -> u32,
}

pub const SCALAR: Kernels = Kernels {
    name: "scalar",
    dot_f32: scalar::dot_f32,
    l2sq_f32: scalar::l2sq_f32,
    dot_i8: scalar::dot_i8,
    hamming: scalar::hamming,
};

#[cfg(target_arch = "x86_64")]
fn avx2_dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: only installed by `detect` after checking AVX2 and FMA.
    unsafe { x86::dot_f32(a, b) }
}

#[cfg(target_arch = "x86_64")]
fn avx2_l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: only installed by `detect` after checking AVX2 and FMA.
    unsafe { x86::l2sq_f32(a, b) }
}

#[cfg(target_arch = "x86_64")]
fn avx2_dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: only installed by `detect` after checking AVX2.
    unsafe { x86::dot_i8(a, b) }
}

#[cfg(target_arch = "x86_64")]
fn popcnt_hamming(a: &[u64], b: &[u64]) -> u32 {
    // SAFETY: only installed by `detect` after checking POPCNT.
    unsafe { x86::hamming(a, b) }
}

/// The best kernels this CPU runs.
pub fn detect() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("popcnt")
        {
            return Kernels {
                name: "avx2",
                dot_f32: avx2_dot_f32,
                l2sq_f32: avx2_l2sq_f32,
                dot_i8: avx2_dot_i8,
                hamming: popcnt_hamming,
            };
        }
    }
    SCALAR
}

/// Hints the CPU to load the cache line at `p` (the graph walk prefetches the codes of a
/// node's neighbours before comparing them: the walk is bound by memory latency).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults, whatever
    // the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Hints the CPU to load every cache line `s` spans (a slice rarely starts on a line
/// boundary: a 128-byte code usually spans three lines, not two).
#[inline(always)]
pub fn prefetch_slice<T>(s: &[T]) {
    const LINE: usize = 64;
    let range = s.as_ptr_range();
    let (start, end) = (range.start as usize, range.end as usize);
    let mut line = start & !(LINE - 1);
    while line < end {
        // Stepping by address keeps the hint inside `s`'s first and last lines.
        prefetch(s.as_ptr().wrapping_byte_add(line.wrapping_sub(start)));
        line += LINE;
    }
}

/// The kernels in use (detected on first call).
pub fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(detect)
}

#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    (kernels().dot_f32)(a, b)
}

#[inline]
pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    (kernels().l2sq_f32)(a, b)
}

#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    (kernels().dot_i8)(a, b)
}

#[inline]
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    (kernels().hamming)(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::testutil::Rng;

    /// Every length from 0 to 70 (all tail shapes) and some large ones, random values.
    fn lengths() -> impl Iterator<Item = usize> {
        (0..=70).chain([96, 128, 255, 768, 1536])
    }

    #[test]
    fn detected_kernels_match_their_scalar_twins() {
        let k = detect();
        let mut rng = Rng::new(7);
        for n in lengths() {
            for _ in 0..20 {
                let a: Vec<f32> = (0..n).map(|_| rng.normal() * 3.0).collect();
                let b: Vec<f32> = (0..n).map(|_| rng.normal() * 3.0).collect();
                let tol = |x: f32| 1e-4 * (1.0 + x.abs()) * (n as f32).sqrt().max(1.0);
                let (s, v) = (scalar::dot_f32(&a, &b), (k.dot_f32)(&a, &b));
                assert!((s - v).abs() <= tol(s), "dot n={n}: {s} vs {v}");
                let (s, v) = (scalar::l2sq_f32(&a, &b), (k.l2sq_f32)(&a, &b));
                assert!((s - v).abs() <= tol(s), "l2 n={n}: {s} vs {v}");
                let ai: Vec<i8> = (0..n).map(|_| rng.below(256) as u8 as i8).collect();
                let bi: Vec<i8> = (0..n).map(|_| rng.below(256) as u8 as i8).collect();
                assert_eq!(scalar::dot_i8(&ai, &bi), (k.dot_i8)(&ai, &bi), "i8 n={n}");
                let words = n.div_ceil(64);
                let au: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
                let bu: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
                assert_eq!(scalar::hamming(&au, &bu), (k.hamming)(&au, &bu));
            }
        }
    }

    #[test]
    fn extreme_int8_values_do_not_overflow() {
        let a = vec![-128i8; 4096];
        let b = vec![-128i8; 4096];
        assert_eq!(dot_i8(&a, &b), 4096 * 16384);
        assert_eq!(scalar::dot_i8(&a, &b), 4096 * 16384);
    }
}
