//! k-means for IVF: k-means++ seeding on a sample, then Lloyd iterations with the assignment
//! step spread over threads. Distances are the index metric's (vectors arrive prepared).

use crate::vector::metric::Metric;
use crate::vector::testutil::Rng;

/// The index of the centroid closest to `v`.
pub fn nearest(metric: Metric, centroids: &[f32], dim: usize, v: &[f32]) -> usize {
    let mut best = (f32::INFINITY, 0);
    for (i, c) in centroids.chunks_exact(dim).enumerate() {
        let d = metric.distance(v, c);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// `k` centroids of the rows of `data` (row-major, `dim` wide).
pub fn train(
    metric: Metric,
    data: &[f32],
    dim: usize,
    k: usize,
    iterations: usize,
    threads: usize,
    seed: u64,
) -> Vec<f32> {
    let n = data.len() / dim;
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let k = k.min(n);
    let mut rng = Rng::new(seed);
    // A sample of at most 64 points per centroid is enough to place them.
    let sample: Vec<usize> = if n > k * 64 {
        (0..k * 64).map(|_| rng.below(n)).collect()
    } else {
        (0..n).collect()
    };
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    // k-means++: each next centre drawn with probability proportional to its squared
    // distance from the closest centre so far (L2 geometry, whatever the metric).
    let mut centroids: Vec<f32> = row(sample[rng.below(sample.len())]).to_vec();
    let mut closest: Vec<f32> = sample
        .iter()
        .map(|&i| crate::vector::distance::l2sq_f32(row(i), &centroids[..dim]))
        .collect();
    while centroids.len() / dim < k {
        let total: f64 = closest.iter().map(|&d| f64::from(d)).sum();
        let mut target = f64::from(rng.uniform()) * total;
        let mut pick = sample.len() - 1;
        for (j, &d) in closest.iter().enumerate() {
            target -= f64::from(d);
            if target <= 0.0 {
                pick = j;
                break;
            }
        }
        let c = row(sample[pick]).to_vec();
        for (j, &i) in sample.iter().enumerate() {
            closest[j] = closest[j].min(crate::vector::distance::l2sq_f32(row(i), &c));
        }
        centroids.extend_from_slice(&c);
    }
    // Lloyd iterations over the sample.
    for _ in 0..iterations {
        let per = sample.len().div_ceil(threads.max(1)).max(1);
        let cents = &centroids;
        let parts: Vec<(Vec<f64>, Vec<usize>)> = std::thread::scope(|s| {
            let handles: Vec<_> = sample
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        let mut sums = vec![0.0f64; k * dim];
                        let mut counts = vec![0usize; k];
                        for &i in part {
                            let c = nearest(metric, cents, dim, row(i));
                            counts[c] += 1;
                            for (s, x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row(i)) {
                                *s += f64::from(*x);
                            }
                        }
                        (sums, counts)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (s, c) in parts {
            sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
            counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        }
        for c in 0..k {
            if counts[c] == 0 {
                // An empty cluster restarts at a random sample point.
                let i = sample[rng.below(sample.len())];
                centroids[c * dim..(c + 1) * dim].copy_from_slice(row(i));
                continue;
            }
            for d in 0..dim {
                centroids[c * dim + d] = (sums[c * dim + d] / counts[c] as f64) as f32;
            }
            if metric == Metric::Cosine {
                let slot = &mut centroids[c * dim..(c + 1) * dim];
                let norm = crate::vector::distance::dot_f32(slot, slot).sqrt();
                if norm > 0.0 {
                    slot.iter_mut().for_each(|x| *x /= norm);
                }
            }
        }
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::testutil::Clusters;

    #[test]
    fn kmeans_finds_well_separated_clusters() {
        // 8 tight clusters far apart: every point's centroid is its own cluster's.
        let dim = 8;
        let mut data = Vec::new();
        let mut rng = Rng::new(4);
        for i in 0..800 {
            let c = (i % 8) as f32 * 100.0;
            data.extend((0..dim).map(|_| c + rng.normal()));
        }
        let cents = train(Metric::L2, &data, dim, 8, 10, 2, 1);
        assert_eq!(cents.len(), 8 * dim);
        let mut seen = std::collections::HashSet::new();
        for (i, row) in data.chunks_exact(dim).enumerate() {
            let c = nearest(Metric::L2, &cents, dim, row);
            assert!((cents[c * dim] - (i % 8) as f32 * 100.0).abs() < 5.0);
            seen.insert(c);
        }
        assert_eq!(seen.len(), 8);
        // More centroids than points, or no points: no panic.
        assert_eq!(
            train(Metric::L2, &data[..dim * 3], dim, 10, 3, 2, 1).len(),
            3 * dim
        );
        assert!(train(Metric::L2, &[], dim, 4, 3, 2, 1).is_empty());
        let _ = Clusters::new(2, 2, 1);
    }
}
