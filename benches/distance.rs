//! Distance kernels: the detected SIMD set against the scalar twins, per dimension.
//! `cargo bench --bench distance`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use luma::vector::distance::{detect, SCALAR};
use luma::vector::testutil::Rng;
use std::hint::black_box;

fn kernels(c: &mut Criterion) {
    let simd = detect();
    let mut rng = Rng::new(1);
    for dim in [96usize, 128, 768, 1536] {
        let a: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        let b: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        let ai: Vec<i8> = (0..dim).map(|_| rng.below(255) as i8).collect();
        let bi: Vec<i8> = (0..dim).map(|_| rng.below(255) as i8).collect();
        let au: Vec<u64> = (0..dim.div_ceil(64)).map(|_| rng.next_u64()).collect();
        let bu: Vec<u64> = (0..dim.div_ceil(64)).map(|_| rng.next_u64()).collect();
        let mut g = c.benchmark_group(format!("dim{dim}"));
        for k in [SCALAR, simd] {
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
        g.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
