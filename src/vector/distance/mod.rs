//! Distance kernels: f32 dot product and squared L2, int8 dot product (Q8 codes) and Hamming
//! distance (binary codes). The best kernel set for the CPU is picked once at run time
//! (AVX-512, then AVX2 + FMA on x86-64; NEON on AArch64; else the scalar set, which the
//! compiler auto-vectorises for the baseline target). Every SIMD kernel has a scalar twin in
//! `scalar`: tests compare them, and `detect` installs a set only after it agrees with the
//! twins on a fixed self-check (a set this machine cannot test, such as AVX-512 on a CPU
//! without it, can never return wrong distances elsewhere unnoticed).
//! `benches/distance.rs` measures every available set against the scalar one and simsimd.

#[cfg(target_arch = "aarch64")]
mod arm;
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

/// Every kernel set this CPU supports, best first, the scalar set last.
pub fn available() -> Vec<Kernels> {
    #[allow(unused_mut)]
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    sets.extend(x86::sets());
    #[cfg(target_arch = "aarch64")]
    sets.extend(arm::sets());
    sets.push(SCALAR);
    sets
}

/// The best available set that agrees with the scalar twins.
pub fn detect() -> Kernels {
    available()
        .into_iter()
        .find(agrees_with_scalar)
        .unwrap_or(SCALAR)
}

/// Compares `k` with the scalar twins on every length up to 70 (every tail shape of every
/// kernel) and a few long ones, with deterministic values: f32 within rounding, the integer
/// kernels exactly.
pub fn agrees_with_scalar(k: &Kernels) -> bool {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..=70usize).chain([96, 128, 768]).all(|n| {
        let mut f = |_| (next() % 2001) as f32 / 250.0 - 4.0;
        let a: Vec<f32> = (0..n).map(&mut f).collect();
        let b: Vec<f32> = (0..n).map(&mut f).collect();
        let ai: Vec<i8> = (0..n).map(|_| next() as i8).collect();
        let bi: Vec<i8> = (0..n).map(|_| next() as i8).collect();
        let au: Vec<u64> = (0..n.div_ceil(64)).map(|_| next()).collect();
        let bu: Vec<u64> = (0..n.div_ceil(64)).map(|_| next()).collect();
        let close =
            |s: f32, v: f32| (s - v).abs() <= 1e-4 * (1.0 + s.abs()) * (n.max(1) as f32).sqrt();
        close(scalar::dot_f32(&a, &b), (k.dot_f32)(&a, &b))
            && close(scalar::l2sq_f32(&a, &b), (k.l2sq_f32)(&a, &b))
            && scalar::dot_i8(&ai, &bi) == (k.dot_i8)(&ai, &bi)
            && scalar::hamming(&au, &bu) == (k.hamming)(&au, &bu)
    })
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
    fn every_available_kernel_set_matches_its_scalar_twins() {
        let mut rng = Rng::new(7);
        for k in available() {
            assert!(agrees_with_scalar(&k), "{} fails the self-check", k.name);
            for n in lengths() {
                for _ in 0..20 {
                    let a: Vec<f32> = (0..n).map(|_| rng.normal() * 3.0).collect();
                    let b: Vec<f32> = (0..n).map(|_| rng.normal() * 3.0).collect();
                    let tol = |x: f32| 1e-4 * (1.0 + x.abs()) * (n as f32).sqrt().max(1.0);
                    let (s, v) = (scalar::dot_f32(&a, &b), (k.dot_f32)(&a, &b));
                    assert!((s - v).abs() <= tol(s), "{} dot n={n}: {s} vs {v}", k.name);
                    let (s, v) = (scalar::l2sq_f32(&a, &b), (k.l2sq_f32)(&a, &b));
                    assert!((s - v).abs() <= tol(s), "{} l2 n={n}: {s} vs {v}", k.name);
                    let ai: Vec<i8> = (0..n).map(|_| rng.below(256) as u8 as i8).collect();
                    let bi: Vec<i8> = (0..n).map(|_| rng.below(256) as u8 as i8).collect();
                    assert_eq!(
                        scalar::dot_i8(&ai, &bi),
                        (k.dot_i8)(&ai, &bi),
                        "{} i8",
                        k.name
                    );
                    let words = n.div_ceil(64);
                    let au: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
                    let bu: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
                    assert_eq!(scalar::hamming(&au, &bu), (k.hamming)(&au, &bu));
                }
            }
        }
        // The detected set is the best available one (every set passes its self-check).
        assert_eq!(detect().name, available()[0].name);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(detect().name, "neon");
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert!(["avx512", "avx2"].contains(&detect().name));
        }
    }

    #[test]
    fn a_kernel_set_that_disagrees_with_the_twins_is_never_installed() {
        let wrong = Kernels {
            name: "off by one",
            dot_i8: |a, b| scalar::dot_i8(a, b) + 1,
            ..SCALAR
        };
        assert!(!agrees_with_scalar(&wrong));
        assert!(agrees_with_scalar(&SCALAR));
    }

    #[test]
    fn extreme_int8_values_do_not_overflow() {
        let a = vec![-128i8; 4096];
        let b = vec![-128i8; 4096];
        for k in available() {
            assert_eq!((k.dot_i8)(&a, &b), 4096 * 16384, "{}", k.name);
        }
    }
}
