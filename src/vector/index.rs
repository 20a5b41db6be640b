//! One interface over every index kind, and the chooser: small sets are searched exactly,
//! large ones through the Vamana graph, bulk-loaded very large ones through IVF. The command
//! layer only ever sees [`VectorIndex`].

use std::path::{Path, PathBuf};

use super::flat::Flat;
use super::ivf::Ivf;
use super::metric::Metric;
use super::quant::Quantization;
use super::vamana::{Vamana, VamanaParams};
use super::{Neighbor, SearchParams, VectorError};

/// Below this many elements an exact scan beats any index (and needs no build).
pub const FLAT_LIMIT: usize = 1_000;
/// A bulk load at least this large is indexed with IVF (build time over latency).
pub const IVF_BULK_LIMIT: usize = 5_000_000;

/// What every index answers.
pub trait VectorIndex: Send + Sync {
    fn dim(&self) -> usize;
    /// Live elements.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Adds a vector; returns its id (ids are dense, never reused).
    fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError>;
    /// Removes an element; false if there was no such live element.
    fn delete(&mut self, id: u32) -> bool;
    /// The `k` nearest live elements accepted by `filter`, closest first.
    fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError>;
}

/// Index kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Flat,
    Vamana,
    Ivf,
}

/// The kind for a set of `expected` elements (`bulk`: loaded at once rather than grown).
pub fn choose(expected: usize, bulk: bool) -> IndexKind {
    if expected < FLAT_LIMIT {
        IndexKind::Flat
    } else if bulk && expected >= IVF_BULK_LIMIT {
        IndexKind::Ivf
    } else {
        IndexKind::Vamana
    }
}

impl VectorIndex for Flat {
    fn dim(&self) -> usize {
        Flat::dim(self)
    }
    fn len(&self) -> usize {
        Flat::len(self)
    }
    fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        Flat::insert(self, v)
    }
    fn delete(&mut self, id: u32) -> bool {
        Flat::delete(self, id)
    }
    fn search(
        &self,
        query: &[f32],
        k: usize,
        _params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        Flat::search(self, query, k, filter)
    }
}

impl VectorIndex for Vamana {
    fn dim(&self) -> usize {
        Vamana::dim(self)
    }
    fn len(&self) -> usize {
        Vamana::len(self)
    }
    fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        Vamana::insert(self, v)
    }
    fn delete(&mut self, id: u32) -> bool {
        Vamana::delete(self, id)
    }
    fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        Vamana::search(self, query, k, params, filter)
    }
}

impl VectorIndex for Ivf {
    fn dim(&self) -> usize {
        Ivf::dim(self)
    }
    fn len(&self) -> usize {
        Ivf::len(self)
    }
    fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        Ivf::insert(self, v)
    }
    fn delete(&mut self, id: u32) -> bool {
        Ivf::delete(self, id)
    }
    fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        let rerank = params.list.max(k * params.rerank_factor);
        Ivf::search(self, query, k, params.nprobe, rerank, filter)
    }
}

/// A growing set: exact while small, then a Vamana graph (built over the same ids once the
/// set passes `FLAT_LIMIT`).
pub struct AutoIndex {
    path: PathBuf,
    metric: Metric,
    quantization: Quantization,
    params: VamanaParams,
    inner: Auto,
}

enum Auto {
    Flat(Flat),
    Graph(Box<Vamana>),
}

impl AutoIndex {
    /// An empty set whose graph (once it has one) lives in the file at `path`.
    pub fn new(
        path: &Path,
        dim: usize,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
    ) -> AutoIndex {
        AutoIndex {
            path: path.to_path_buf(),
            metric,
            quantization,
            params,
            inner: Auto::Flat(Flat::new(dim, metric)),
        }
    }

    pub fn kind(&self) -> IndexKind {
        match self.inner {
            Auto::Flat(_) => IndexKind::Flat,
            Auto::Graph(_) => IndexKind::Vamana,
        }
    }

    fn as_index(&self) -> &dyn VectorIndex {
        match &self.inner {
            Auto::Flat(f) => f,
            Auto::Graph(g) => g.as_ref(),
        }
    }

    /// Builds the graph over the flat set's vectors, keeping every id.
    fn promote(&mut self) -> Result<(), VectorError> {
        let Auto::Flat(flat) = &self.inner else {
            return Ok(());
        };
        let dim = flat.dim();
        let slots = flat.slots();
        let mut all = Vec::with_capacity(slots * dim);
        let mut deleted = Vec::new();
        for id in 0..slots as u32 {
            match flat.live_vector(id) {
                Some(v) => all.extend_from_slice(v),
                None => {
                    all.extend_from_slice(flat.vector(id).unwrap_or(&[]));
                    deleted.push(id);
                }
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut graph = Vamana::build(
            &self.path,
            dim,
            self.metric,
            self.quantization,
            self.params,
            &all,
            threads,
        )?;
        for id in deleted {
            graph.delete(id);
        }
        graph.consolidate();
        self.inner = Auto::Graph(Box::new(graph));
        Ok(())
    }
}

impl VectorIndex for AutoIndex {
    fn dim(&self) -> usize {
        self.as_index().dim()
    }
    fn len(&self) -> usize {
        self.as_index().len()
    }
    fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let id = match &mut self.inner {
            Auto::Flat(f) => f.insert(v)?,
            Auto::Graph(g) => g.insert(v)?,
        };
        if matches!(&self.inner, Auto::Flat(f) if f.len() >= FLAT_LIMIT) {
            self.promote()?;
        }
        Ok(id)
    }
    fn delete(&mut self, id: u32) -> bool {
        match &mut self.inner {
            Auto::Flat(f) => f.delete(id),
            Auto::Graph(g) => g.delete(id),
        }
    }
    fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        self.as_index().search(query, k, params, filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::testutil::Clusters;

    #[test]
    fn the_chooser_follows_size_and_load() {
        assert_eq!(choose(10, false), IndexKind::Flat);
        assert_eq!(choose(50_000, false), IndexKind::Vamana);
        assert_eq!(choose(50_000_000, false), IndexKind::Vamana);
        assert_eq!(choose(50_000_000, true), IndexKind::Ivf);
    }

    #[test]
    fn a_growing_set_turns_into_a_graph_keeping_ids() {
        let dir = tempfile::tempdir().unwrap();
        let dim = 16;
        let data = Clusters::new(5, dim, 8).sample(FLAT_LIMIT + 200, 8);
        let mut index = AutoIndex::new(
            &dir.path().join("g"),
            dim,
            Metric::L2,
            Quantization::Q8,
            VamanaParams::default(),
        );
        let mut flat = Flat::new(dim, Metric::L2);
        for (i, v) in data.chunks_exact(dim).enumerate() {
            assert_eq!(index.insert(v).unwrap(), i as u32);
            flat.insert(v).unwrap();
            if i == 10 {
                assert!(index.delete(3) && flat.delete(3));
                assert_eq!(index.kind(), IndexKind::Flat);
            }
        }
        assert_eq!(index.kind(), IndexKind::Vamana);
        assert_eq!(index.len(), FLAT_LIMIT + 199);
        let p = SearchParams::default();
        for q in data.chunks_exact(dim).take(20) {
            let want: Vec<u32> = flat
                .search(q, 5, None)
                .unwrap()
                .iter()
                .map(|n| n.id)
                .collect();
            let got: Vec<u32> = index
                .search(q, 5, &p, None)
                .unwrap()
                .iter()
                .map(|n| n.id)
                .collect();
            assert_eq!(got[0], want[0]);
            assert!(!got.contains(&3));
        }
        let boxed: Box<dyn VectorIndex> = Box::new(index);
        assert_eq!(boxed.dim(), dim);
    }
}
