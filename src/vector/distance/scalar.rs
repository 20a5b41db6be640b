//! Reference kernels: plain loops, the "scalar twin" every SIMD kernel is tested against.

/// Σ aᵢ·bᵢ
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Σ (aᵢ − bᵢ)²
pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = x - y;
            d * d
        })
        .sum()
}

/// Σ aᵢ·bᵢ over int8 codes, exact in i32 (|aᵢ·bᵢ| ≤ 16129, so 2^17 dimensions fit).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

/// Number of differing bits.
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}
