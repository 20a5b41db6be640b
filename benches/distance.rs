//! Distance kernels: every kernel set this CPU runs (AVX-512, AVX2, NEON, scalar) per
//! dimension, and, built with `--features simsimd`, the simsimd crate's kernels on the same
//! inputs. `cargo bench --bench distance [--features simsimd]`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use luma::vector::distance::available;
use luma::vector::testutil::Rng;
use std::hint::black_box;

fn kernels(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    for dim in [96usize, 128, 768, 1536] {
        let a: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        let b: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        // Q8 codes are in [-127, 127].
        let ai: Vec<i8> = (0..dim)
            .map(|_| (rng.below(255) as i32 - 127) as i8)
            .collect();
        let bi: Vec<i8> = (0..dim)
            .map(|_| (rng.below(255) as i32 - 127) as i8)
            .collect();
        let au: Vec<u64> = (0..dim.div_ceil(64)).map(|_| rng.next_u64()).collect();
        let bu: Vec<u64> = (0..dim.div_ceil(64)).map(|_| rng.next_u64()).collect();
        let mut g = c.benchmark_group(format!("dim{dim}"));
        for k in available() {
            g.bench_function(BenchmarkId::new("dot_f32", k.name), |x| {
                x.iter(|| (k.dot_f32)(black_box(&a), black_box(&b)))
            });
            g.bench_function(BenchmarkId::new("l2sq_f32", k.name), |x| {
                x.iter(|| (k.l2sq_f32)(black_box(&a), black_box(&b)))
            });
            g.bench_function(BenchmarkId::new("dot_i8", k.name), |x| {
                x.iter(|| (k.dot_i8)(black_box(&ai), black_box(&bi)))
            });
            g.bench_function(BenchmarkId::new("hamming", k.name), |x| {
                x.iter(|| (k.hamming)(black_box(&au), black_box(&bu)))
            });
        }
        #[cfg(feature = "simsimd")]
        {
            use simsimd::{BinarySimilarity, SpatialSimilarity};
            let au8: Vec<u8> = au.iter().flat_map(|w| w.to_le_bytes()).collect();
            let bu8: Vec<u8> = bu.iter().flat_map(|w| w.to_le_bytes()).collect();
            g.bench_function(BenchmarkId::new("dot_f32", "simsimd"), |x| {
                x.iter(|| f32::dot(black_box(&a), black_box(&b)))
            });
            g.bench_function(BenchmarkId::new("l2sq_f32", "simsimd"), |x| {
                x.iter(|| f32::l2sq(black_box(&a), black_box(&b)))
            });
            g.bench_function(BenchmarkId::new("dot_i8", "simsimd"), |x| {
                x.iter(|| i8::dot(black_box(&ai), black_box(&bi)))
            });
            g.bench_function(BenchmarkId::new("hamming", "simsimd"), |x| {
                x.iter(|| u8::hamming(black_box(&au8), black_box(&bu8)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
