//! AArch64 NEON kernels (NEON is part of the AArch64 baseline; `sets` still asks the CPU),
//! checked against the scalar twins by `distance::detect` like every set.

use std::arch::aarch64::*;

use super::{scalar, Kernels};

/// The kernel sets this CPU supports, best first.
pub(super) fn sets() -> Vec<Kernels> {
    if std::arch::is_aarch64_feature_detected!("neon") {
        vec![NEON]
    } else {
        Vec::new()
    }
}

/// Private: only `sets` hands it out, after checking NEON.
const NEON: Kernels = Kernels {
    name: "neon",
    // SAFETY (all three): `sets` offers this set only on a CPU with NEON.
    dot_f32: |a, b| unsafe { dot_f32(a, b) },
    l2sq_f32: |a, b| unsafe { l2sq_f32(a, b) },
    dot_i8: |a, b| unsafe { dot_i8(a, b) },
    // `count_ones` already compiles to NEON's CNT on AArch64.
    hamming: scalar::hamming,
};

/// # Safety
/// The CPU must support NEON; `a` and `b` must have the same length.
#[target_feature(enable = "neon")]
pub unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: every load reads 4 floats at i + 4k with i + 16 <= n (resp. i + 4 <= n),
    // inside both slices.
    while i + 16 <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let j = i + 4 * k;
            *acc = vfmaq_f32(*acc, vld1q_f32(pa.add(j)), vld1q_f32(pb.add(j)));
        }
        i += 16;
    }
    while i + 4 <= n {
        acc[0] = vfmaq_f32(acc[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
        i += 4;
    }
    let sum = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    vaddvq_f32(sum) + scalar::dot_f32(&a[i..n], &b[i..n])
}

/// # Safety
/// The CPU must support NEON; `a` and `b` must have the same length.
#[target_feature(enable = "neon")]
pub unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: as in `dot_f32`.
    while i + 16 <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let j = i + 4 * k;
            let d = vsubq_f32(vld1q_f32(pa.add(j)), vld1q_f32(pb.add(j)));
            *acc = vfmaq_f32(*acc, d, d);
        }
        i += 16;
    }
    while i + 4 <= n {
        let d = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
        acc[0] = vfmaq_f32(acc[0], d, d);
        i += 4;
    }
    let sum = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    vaddvq_f32(sum) + scalar::l2sq_f32(&a[i..n], &b[i..n])
}

/// # Safety
/// The CPU must support NEON; `a` and `b` must have the same length.
#[target_feature(enable = "neon")]
pub unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = vdupq_n_s32(0);
    let mut i = 0;
    // SAFETY: each 16-byte load reads i..i+16 with i + 16 <= n, inside both slices.
    while i + 16 <= n {
        let va = vld1q_s8(pa.add(i));
        let vb = vld1q_s8(pb.add(i));
        // i8 x i8 products fit i16 (|-128 x -128| = 16384); pairs of them are added into
        // the i32 lanes.
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(va), vget_low_s8(vb)));
        acc = vpadalq_s16(acc, vmull_high_s8(va, vb));
        i += 16;
    }
    vaddvq_s32(acc) + scalar::dot_i8(&a[i..n], &b[i..n])
}
