//! One interface over every index kind, and the chooser: small sets are searched exactly,
//! large ones through the Vamana graph, bulk-loaded very large ones through IVF. The command
//! layer only ever sees [`VectorIndex`].

use std::path::{Path, PathBuf};

use super::flat::Flat;
use super::ivf::Ivf;
use super::metric::Metric;
use super::quant::Quantization;
use super::vamana::build::Planned;
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
    /// Is `id` a live element?
    fn contains(&self, id: u32) -> bool;
    /// The `k` nearest live elements accepted by `filter`, closest first.
    fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError>;

    /// An insert in three steps, so searches go on while one writer inserts (see
    /// `Vamana::stage`): `stage` stores the element (write lock), `plan` computes the links
    /// of staged elements (read lock, the expensive part), `commit` applies them (write lock).
    /// Indexes without links insert in full in `stage`.
    fn stage(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        self.insert(v)
    }
    fn plan(&self, _ids: &[u32], _threads: usize) -> Vec<Planned> {
        Vec::new()
    }
    fn commit(&mut self, _plans: Vec<Planned>, _threads: usize) {}
    /// Does a staged element still need `plan`/`commit`?
    fn needs_links(&self) -> bool {
        false
    }
    /// The list size of the walks that link elements from now on (indexes with a graph).
    fn set_build_list(&mut self, _list: usize) {}
    /// The stored (prepared) vector of an element, deleted or not.
    fn vector(&self, id: u32) -> Option<Vec<f32>>;
    /// An element's out-links in the graph (none for indexes without a graph).
    fn links(&self, _id: u32) -> Vec<u32> {
        Vec::new()
    }
    /// Exact search over the live elements accepted by `filter` (VSIM TRUTH).
    fn exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError>;
    /// Rewires around deleted elements when enough of them piled up; true if it did.
    fn tidy(&mut self) -> bool {
        false
    }
    /// Bytes held in RAM (node files not counted).
    fn memory_bytes(&self) -> usize;
    /// The graph walk's start, for indexes with a graph.
    fn entry(&self) -> Option<u32> {
        None
    }
    /// Writes the index's file to disk; false if it has none (it is rebuilt at start).
    fn sync(&self) -> Result<bool, VectorError> {
        Ok(false)
    }
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
    fn contains(&self, id: u32) -> bool {
        self.live_vector(id).is_some()
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
    fn vector(&self, id: u32) -> Option<Vec<f32>> {
        Flat::vector(self, id).map(<[f32]>::to_vec)
    }
    fn exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        Flat::search(self, query, k, filter)
    }
    fn memory_bytes(&self) -> usize {
        Flat::memory_bytes(self)
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
    fn contains(&self, id: u32) -> bool {
        (id as usize) < self.slots() && !self.is_deleted(id)
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
    fn stage(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        Vamana::stage(self, v)
    }
    fn plan(&self, ids: &[u32], threads: usize) -> Vec<Planned> {
        self.plan_links_batch(ids, threads)
    }
    fn commit(&mut self, plans: Vec<Planned>, _threads: usize) {
        self.commit_links_batch(plans)
    }
    fn needs_links(&self) -> bool {
        true
    }
    fn set_build_list(&mut self, list: usize) {
        Vamana::set_build_list(self, list)
    }
    fn vector(&self, id: u32) -> Option<Vec<f32>> {
        Vamana::vector(self, id)
    }
    fn links(&self, id: u32) -> Vec<u32> {
        self.neighbors(id).to_vec()
    }
    fn exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        let q = self.metric().prepared(self.dim(), query)?;
        self.scan(&q, k, filter)
    }
    fn tidy(&mut self) -> bool {
        // FreshDiskANN consolidates once deletes reach a share of the index; below that,
        // tombstones only cost a little walk time.
        let fresh = self.unconsolidated();
        if fresh >= 64 && fresh * 10 >= self.len() {
            self.consolidate();
            return true;
        }
        false
    }
    fn memory_bytes(&self) -> usize {
        Vamana::memory_bytes(self)
    }
    fn entry(&self) -> Option<u32> {
        Vamana::entry(self)
    }
    fn sync(&self) -> Result<bool, VectorError> {
        Vamana::sync(self).map(|()| true)
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
    fn contains(&self, id: u32) -> bool {
        Ivf::contains(self, id)
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
    fn vector(&self, id: u32) -> Option<Vec<f32>> {
        Ivf::vector(self, id)
    }
    fn exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        // Every list probed and every candidate re-ranked: exact.
        Ivf::search(self, query, k, usize::MAX, usize::MAX, filter)
    }
    fn memory_bytes(&self) -> usize {
        Ivf::memory_bytes(self)
    }
}

/// A growing set: exact while small, then (for a Vamana or IVF target) the index of its
/// kind, built over the same ids once the set passes `FLAT_LIMIT` (IVF: ten times that, so
/// k-means has enough points to train on).
pub struct AutoIndex {
    path: PathBuf,
    metric: Metric,
    quantization: Quantization,
    params: VamanaParams,
    target: IndexKind,
    inner: Box<dyn VectorIndex>,
    kind: IndexKind,
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
        AutoIndex::with_target(path, dim, metric, quantization, params, IndexKind::Vamana)
    }

    /// An empty set that turns into a `target` index once large enough.
    pub fn with_target(
        path: &Path,
        dim: usize,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
        target: IndexKind,
    ) -> AutoIndex {
        AutoIndex {
            path: path.to_path_buf(),
            metric,
            quantization,
            params,
            target,
            inner: Box::new(Flat::new(dim, metric)),
            kind: IndexKind::Flat,
        }
    }

    pub fn kind(&self) -> IndexKind {
        self.kind
    }

    /// A set that already has its graph (re-opened from its node file).
    pub fn with_graph(
        path: &Path,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
        graph: Vamana,
    ) -> AutoIndex {
        AutoIndex {
            path: path.to_path_buf(),
            metric,
            quantization,
            params,
            target: IndexKind::Vamana,
            inner: Box::new(graph),
            kind: IndexKind::Vamana,
        }
    }

    /// Size at which the flat stage gives way to the target index.
    fn promote_at(&self) -> usize {
        match self.target {
            IndexKind::Flat => usize::MAX,
            IndexKind::Vamana => FLAT_LIMIT,
            IndexKind::Ivf => FLAT_LIMIT * 10,
        }
    }

    /// Builds the target index over the flat stage's vectors, keeping every id.
    fn promote(&mut self) -> Result<(), VectorError> {
        if self.kind != IndexKind::Flat || self.inner.len() < self.promote_at() {
            return Ok(());
        }
        let dim = self.inner.dim();
        let mut all = Vec::new();
        let mut deleted = Vec::new();
        let mut id = 0u32;
        while let Some(v) = self.inner.vector(id) {
            all.extend_from_slice(&v);
            // A deleted element keeps its id (ids never move); it is deleted again below.
            if !self.inner.contains(id) {
                deleted.push(id);
            }
            id += 1;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut built: Box<dyn VectorIndex> = match self.target {
            IndexKind::Ivf => Box::new(Ivf::build(
                &self.path,
                dim,
                self.metric,
                super::ivf::IvfParams::default(),
                &all,
                threads,
            )?),
            _ => Box::new(Vamana::build(
                &self.path,
                dim,
                self.metric,
                self.quantization,
                self.params,
                &all,
                threads,
            )?),
        };
        for id in deleted {
            built.delete(id);
        }
        built.tidy();
        self.inner = built;
        self.kind = self.target;
        Ok(())
    }
}

impl VectorIndex for AutoIndex {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let id = self.stage(v)?;
        let plans = self.inner.plan(&[id], 1);
        self.inner.commit(plans, 1);
        Ok(id)
    }
    fn delete(&mut self, id: u32) -> bool {
        self.inner.delete(id)
    }
    fn contains(&self, id: u32) -> bool {
        self.inner.contains(id)
    }
    fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        self.inner.search(query, k, params, filter)
    }
    fn stage(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let id = self.inner.stage(v)?;
        // The promotion links every element itself, this one included.
        self.promote()?;
        Ok(id)
    }
    fn plan(&self, ids: &[u32], threads: usize) -> Vec<Planned> {
        self.inner.plan(ids, threads)
    }
    fn commit(&mut self, plans: Vec<Planned>, threads: usize) {
        self.inner.commit(plans, threads)
    }
    fn needs_links(&self) -> bool {
        self.inner.needs_links()
    }
    fn set_build_list(&mut self, list: usize) {
        self.params.build_list = list.max(1);
        self.inner.set_build_list(list);
    }
    fn vector(&self, id: u32) -> Option<Vec<f32>> {
        self.inner.vector(id)
    }
    fn links(&self, id: u32) -> Vec<u32> {
        self.inner.links(id)
    }
    fn exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        self.inner.exact(query, k, filter)
    }
    fn tidy(&mut self) -> bool {
        self.inner.tidy()
    }
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
    fn entry(&self) -> Option<u32> {
        self.inner.entry()
    }
    fn sync(&self) -> Result<bool, VectorError> {
        self.inner.sync()
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
