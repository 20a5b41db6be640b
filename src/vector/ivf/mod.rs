//! IVF: k-means centroids and inverted lists of Q8 codes, searched by probing the `nprobe`
//! lists whose centroids are closest and re-ranking the best codes with the full-precision
//! vectors (kept in a node file, as the graph's are). Fast to build (one k-means on a sample
//! and one assignment pass), so it suits bulk loads where build time matters more than
//! latency.

pub mod kmeans;

use std::path::Path;

use super::metric::Metric;
use super::parallel;
use super::quant::q8::{Norms, Q8Codes, Q8Query};
use super::storage::NodeFile;
use super::{Neighbor, VectorError};

/// IVF parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfParams {
    /// Number of lists (centroids); 0 = √n at build time.
    pub lists: usize,
    /// Lloyd iterations.
    pub iterations: usize,
}

impl Default for IvfParams {
    fn default() -> Self {
        IvfParams {
            lists: 0,
            iterations: 8,
        }
    }
}

pub struct Ivf {
    metric: Metric,
    dim: usize,
    centroids: Vec<f32>,
    lists: Vec<Vec<u32>>,
    codes: Q8Codes,
    vectors: NodeFile,
    deleted: Vec<bool>,
    live: usize,
}

impl Ivf {
    /// Trains on `vectors` (row-major, prepared here) and indexes them all.
    pub fn build(
        path: &Path,
        dim: usize,
        metric: Metric,
        params: IvfParams,
        vectors: &[f32],
        threads: usize,
    ) -> Result<Ivf, VectorError> {
        let n = vectors.len() / dim.max(1);
        let mut prepared = Vec::with_capacity(vectors.len());
        for row in vectors.chunks_exact(dim) {
            prepared.extend_from_slice(&metric.prepared(dim, row)?);
        }
        let lists = if params.lists == 0 {
            ((n as f64).sqrt() as usize).max(1)
        } else {
            params.lists
        };
        let centroids = kmeans::train(metric, &prepared, dim, lists, params.iterations, threads, 7);
        let mut index = Ivf {
            metric,
            dim,
            lists: vec![Vec::new(); centroids.len() / dim.max(1)],
            centroids,
            // The lists are searched by the set's metric alone: only L2 reads norms.
            codes: Q8Codes::new(
                dim,
                if metric == Metric::L2 {
                    Norms::Stored
                } else {
                    Norms::Unused
                },
            ),
            vectors: NodeFile::create(path, dim, 0)?,
            deleted: Vec::new(),
            live: 0,
        };
        index.vectors.reserve_exact(n);
        // Assignment in parallel, then appended in id order.
        let (metric, cents) = (index.metric, &index.centroids);
        let rows: Vec<&[f32]> = prepared.chunks_exact(dim).collect();
        let assigned = parallel::map(&rows, threads, |v| kmeans::nearest(metric, cents, dim, v));
        for (v, list) in prepared.chunks_exact(dim).zip(assigned) {
            index.append(v, list)?;
        }
        Ok(index)
    }

    fn append(&mut self, v: &[f32], list: usize) -> Result<u32, VectorError> {
        let id = self.vectors.push(v)?;
        self.codes.push(v);
        self.deleted.push(false);
        self.live += 1;
        if let Some(l) = self.lists.get_mut(list) {
            l.push(id);
        }
        Ok(id)
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn lists(&self) -> usize {
        self.lists.len()
    }

    fn prepared(&self, v: &[f32]) -> Result<Vec<f32>, VectorError> {
        self.metric.prepared(self.dim, v)
    }

    /// Adds a vector to the list of its nearest centroid.
    pub fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let v = self.prepared(v)?;
        if self.lists.is_empty() {
            // No training yet: the first vector becomes the only centroid.
            self.centroids = v.clone();
            self.lists.push(Vec::new());
        }
        let list = kmeans::nearest(self.metric, &self.centroids, self.dim, &v);
        self.append(&v, list)
    }

    pub fn delete(&mut self, id: u32) -> bool {
        match self.deleted.get_mut(id as usize) {
            Some(d) if !*d => {
                *d = true;
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    /// The `k` nearest live elements among the `nprobe` closest lists (accepted by
    /// `filter`), re-ranked with full precision from the best `rerank` codes.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        nprobe: usize,
        rerank: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        let q = self.prepared(query)?;
        if k == 0 || self.live == 0 {
            return Ok(Vec::new());
        }
        let mut order: Vec<(f32, usize)> = self
            .centroids
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(i, c)| (self.metric.distance(&q, c), i))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let qc = Q8Query::new(&q);
        let mut scored: Vec<(f32, u32)> = Vec::new();
        for &(_, list) in order.iter().take(nprobe.max(1)) {
            for &id in &self.lists[list] {
                if self.deleted[id as usize] || filter.is_some_and(|f| !f(id)) {
                    continue;
                }
                scored.push((self.codes.distance(self.metric, &qc, id as usize), id));
            }
        }
        let keep = rerank.max(k).min(scored.len());
        if keep > 0 && keep < scored.len() {
            scored.select_nth_unstable_by(keep - 1, |a, b| a.0.total_cmp(&b.0));
        }
        scored.truncate(keep);
        let mut v = vec![0.0; self.dim];
        let mut out = Vec::with_capacity(keep);
        for (_, id) in scored {
            self.vectors.read_vector(id, &mut v)?;
            out.push(Neighbor {
                id,
                distance: self.metric.distance(&q, &v),
            });
        }
        Ok(super::closest(out, k))
    }

    pub fn contains(&self, id: u32) -> bool {
        self.deleted.get(id as usize) == Some(&false)
    }

    /// The stored (prepared) vector of an element.
    pub fn vector(&self, id: u32) -> Option<Vec<f32>> {
        let mut v = vec![0.0; self.dim];
        self.vectors.read_vector(id, &mut v).ok()?;
        Some(v)
    }

    pub fn memory_bytes(&self) -> usize {
        self.codes.memory_bytes()
            + self.vectors.memory_bytes()
            + self.centroids.capacity() * 4
            + self.lists.iter().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::flat::Flat;
    use crate::vector::testutil::Clusters;

    #[test]
    fn ivf_recall_grows_with_nprobe_and_reaches_exact() {
        let dir = tempfile::tempdir().unwrap();
        let dim = 32;
        let clusters = Clusters::new(20, dim, 3);
        let data = clusters.sample(5000, 3);
        let queries = clusters.sample(50, 4);
        let mut index = Ivf::build(
            &dir.path().join("ivf"),
            dim,
            Metric::L2,
            IvfParams::default(),
            &data,
            2,
        )
        .unwrap();
        let mut flat = Flat::new(dim, Metric::L2);
        for v in data.chunks_exact(dim) {
            flat.insert(v).unwrap();
        }
        let recall = |index: &Ivf, flat: &Flat, nprobe: usize| {
            let mut hits = 0;
            for q in queries.chunks_exact(dim) {
                let truth: Vec<u32> = flat
                    .search(q, 10, None)
                    .unwrap()
                    .iter()
                    .map(|n| n.id)
                    .collect();
                let got = index.search(q, 10, nprobe, 100, None).unwrap();
                hits += got.iter().filter(|n| truth.contains(&n.id)).count();
            }
            hits as f64 / 500.0
        };
        let low = recall(&index, &flat, 1);
        let high = recall(&index, &flat, index.lists());
        assert!(high >= 0.99, "all lists probed: {high}");
        assert!(low <= high);
        assert!(recall(&index, &flat, 10) >= 0.9);
        // Inserts after the build, deletes, filters, bad input.
        let id = index.insert(&data[..dim]).unwrap();
        assert_eq!(id, 5000);
        assert!(index.delete(id) && !index.delete(id));
        let got = index
            .search(&data[..dim], 5, 4, 50, Some(&|i| i % 2 == 0))
            .unwrap();
        assert!(got.iter().all(|n| n.id % 2 == 0 && n.id != 5000));
        assert!(index.search(&[1.0], 5, 4, 50, None).is_err());
        assert!(flat.delete(0));
    }
}
