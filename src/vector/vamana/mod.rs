//! The Vamana graph index (DiskANN, NeurIPS 2019; FreshDiskANN, 2021).
//!
//! Kept from the papers: greedy beam search with list size L from a fixed entry point (the
//! approximate medoid); RobustPrune with alpha, bounded out-degree R; the two-pass batch build
//! (alpha = 1, then alpha > 1) over a random order; FreshDiskANN's incremental insert (walk,
//! prune, back-edges, prune overflowing neighbours), deletes as tombstones that stay
//! navigable but are never returned, and consolidation that rewires every node pointing at a
//! deleted one through the deleted node's neighbours (then prunes). DiskANN's on-disk layout:
//! full-precision vectors beside their adjacency lists in fixed records on disk, compressed
//! codes in RAM for navigation, full-precision re-ranking of the final list.
//!
//! Changed: the batch build inserts in parallel batches of doubling size (ParlayANN) instead
//! of DiskANN's locked concurrent inserts, so the graph needs no per-node locks; its first
//! pass (alpha = 1) walks with half the list size, as it only lays the scaffold the second
//! pass refines; navigation
//! codes are Q8 (or BIN) rather than product quantization; the node file is read with
//! buffered `pread` rather than direct I/O, and what the memory budget allows (the lists; for
//! BIN also a copy of the vectors) is held in RAM. Re-ranking reads the vectors; prunes of
//! incremental inserts compare Q8 codes (pairwise, as exact as decoding them) instead of
//! reading the vectors (300k x 96: recall@10 at L = 100 0.9863 against 0.9878 with the
//! vectors read, 1,868 instead of 1,424 points/s).
//! Concurrency: searches take `&self`, changes `&mut self`;
//! an insert's expensive part (`plan`) needs only `&self`, so a caller holding a RwLock can run
//! it under the read lock and apply under a short write lock.

pub mod build;
pub mod delete;
pub mod search;

use std::borrow::Cow;
use std::path::Path;

use super::metric::Metric;
use super::parallel;
use super::quant::q8::Norms;
use super::quant::{Codes, Quantization};
use super::storage::{Budget, NodeFile};
use super::{Neighbor, SearchParams, VectorError};

/// Graph parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VamanaParams {
    /// Maximum out-degree R.
    pub degree: usize,
    /// List size L during construction.
    pub build_list: usize,
    /// Pruning alpha (> 1 keeps long edges).
    pub alpha: f32,
    /// Most bytes of RAM for the node file's adjacency lists (and for BIN sets then a copy of
    /// the vectors), beyond the codes, always in RAM. A graph whose lists pass it reads a
    /// list at each hop (DiskANN's layout).
    pub memory_budget: usize,
    /// Every vector reaching the index has norm 1 or is zero (cosine sets normalise them
    /// before): Q8 codes then keep no norms for the L2 pruning (4 bytes per element).
    pub unit_vectors: bool,
}

/// Default memory budget: a 100k x 128 or a 300k x 96 graph keeps its lists in RAM (17 and
/// 52 MiB); a 1M x 96 one keeps only its codes.
pub const DEFAULT_MEMORY_BUDGET: usize = 128 << 20;

impl Default for VamanaParams {
    fn default() -> Self {
        VamanaParams {
            degree: 32,
            build_list: 100,
            alpha: 1.2,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            unit_vectors: false,
        }
    }
}

/// Where Q8 codes find the squared norms of the L2 distances (L2 graphs, and the pruning
/// of inner-product ones): vectors of norm 1 need none stored.
fn norms(metric: Metric, params: &VamanaParams) -> Norms {
    if params.unit_vectors || metric == Metric::Cosine {
        Norms::Unit
    } else {
        Norms::Stored
    }
}

/// What a graph's node file may hold in RAM: its lists within the budget and, only where the
/// codes cannot give the vectors back for building (BIN's sign bits), a copy of the vectors
/// (Q8 codes decode closely enough for pruning, NOQUANT's are the vectors). Searches then
/// re-rank with a read per vector: at 100k x 128 through the server a RAM copy (512 bytes per
/// element, a third of the set's RSS) bought about 10% of single-client QPS.
fn ram_budget(params: &VamanaParams, quantization: Quantization) -> Budget {
    Budget {
        bytes: params.memory_budget,
        vector_copy: quantization == Quantization::Bin,
    }
}

/// Room for back-edges beyond the degree: a list is pruned back to R only once it passes
/// this (DiskANN's graph slack), so most back-edges cost no prune.
pub fn slack(degree: usize) -> usize {
    degree + degree.div_ceil(3)
}

pub struct Vamana {
    metric: Metric,
    params: VamanaParams,
    nodes: NodeFile,
    codes: Codes,
    deleted: Vec<bool>,
    deleted_count: usize,
    /// Deletes since the last consolidation.
    unconsolidated: usize,
    entry: Option<u32>,
    /// Elements the codes and in-RAM lists have room for.
    reserved: usize,
}

impl Vamana {
    /// An empty index whose node file is created at `path`.
    pub fn create(
        path: &Path,
        dim: usize,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
    ) -> Result<Vamana, VectorError> {
        let budget = ram_budget(&params, quantization);
        Vamana::create_within(path, dim, metric, quantization, params, budget)
    }

    fn create_within(
        path: &Path,
        dim: usize,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
        budget: Budget,
    ) -> Result<Vamana, VectorError> {
        if dim == 0 {
            return Err(VectorError::Dimension {
                expected: 1,
                got: 0,
            });
        }
        if params.degree == 0 || slack(params.degree) > search::MAX_DEGREE {
            return Err(VectorError::Parameter(format!(
                "graph degree must be between 1 and {}",
                search::MAX_DEGREE
            )));
        }
        let mut nodes = NodeFile::create(path, dim, slack(params.degree))?;
        nodes.set_budget(budget)?;
        Ok(Vamana {
            metric,
            params,
            nodes,
            codes: Codes::new(quantization, dim, norms(metric, &params)),
            deleted: Vec::new(),
            deleted_count: 0,
            unconsolidated: 0,
            entry: None,
            reserved: 0,
        })
    }

    /// Builds an index over `vectors` (row-major, prepared for `metric` by this call) with
    /// the parallel two-pass build.
    pub fn build(
        path: &Path,
        dim: usize,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
        vectors: &[f32],
        threads: usize,
    ) -> Result<Vamana, VectorError> {
        // Everything stays in RAM while building (each hop would otherwise be a read, and
        // prunes compare exact vectors), then what passes the budget is left to the file.
        let mut index =
            Vamana::create_within(path, dim, metric, quantization, params, Budget::ALL)?;
        index.nodes.reserve_exact(vectors.len() / dim);
        index.codes.reserve_exact(vectors.len() / dim);
        index.reserved = vectors.len() / dim;
        for row in vectors.chunks_exact(dim) {
            index.store(row)?;
        }
        index.build_all(threads)?;
        index.nodes.set_budget(ram_budget(&params, quantization))?;
        Ok(index)
    }

    /// Re-opens an index from its node file (one sequential read: the lists into RAM, the
    /// codes rebuilt from the vectors; the graph is not rebuilt). Only the first `slots`
    /// records count (`None`: all of them): later ones, and links to them, are dropped, so a
    /// file written on after its last checkpoint opens as that checkpoint. `deleted` lists the
    /// tombstones.
    pub fn open(
        path: &Path,
        metric: Metric,
        quantization: Quantization,
        params: VamanaParams,
        entry: Option<u32>,
        slots: Option<usize>,
        deleted: &[u32],
    ) -> Result<Vamana, VectorError> {
        let mut codes: Option<Codes> = None;
        let budget = ram_budget(&params, quantization);
        let nodes = NodeFile::open(path, slots, budget, |_, v| {
            codes
                .get_or_insert_with(|| {
                    let mut c = Codes::new(quantization, v.len(), norms(metric, &params));
                    c.reserve_exact(slots.unwrap_or(0));
                    c
                })
                .push(v)
        })?;
        if nodes.degree() != slack(params.degree) {
            return Err(VectorError::Corrupt(
                "graph degree differs from the set's".into(),
            ));
        }
        let len = nodes.len() as u32;
        let mut index = Vamana {
            metric,
            params,
            deleted: vec![false; nodes.len()],
            deleted_count: 0,
            unconsolidated: 0,
            entry: entry.filter(|&e| e < len).or((len > 0).then_some(0)),
            reserved: len as usize,
            codes: codes
                .unwrap_or_else(|| Codes::new(quantization, nodes.dim(), norms(metric, &params))),
            nodes,
        };
        for &d in deleted {
            index.mark_deleted(d);
        }
        Ok(index)
    }

    pub fn dim(&self) -> usize {
        self.nodes.dim()
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The list size of the walks that insert from now on.
    pub fn set_build_list(&mut self, list: usize) {
        self.params.build_list = list.max(1);
    }

    /// Elements stored, deleted ones included.
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// Live elements.
    pub fn len(&self) -> usize {
        self.nodes.len() - self.deleted_count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn entry(&self) -> Option<u32> {
        self.entry
    }

    pub fn is_deleted(&self, id: u32) -> bool {
        self.deleted.get(id as usize).copied().unwrap_or(true)
    }

    /// The stored (prepared) vector of `id`, read from the node file.
    pub fn vector(&self, id: u32) -> Option<Vec<f32>> {
        let mut v = vec![0.0; self.dim()];
        self.nodes.read_vector(id, &mut v).ok()?;
        Some(v)
    }

    /// Element `id`'s vector as far as building needs it, into `out`: exact while the
    /// vectors are in RAM, else from the codes where they give it back (decoded Q8), else read
    /// from the node file (zeros if it cannot be read: the element then ranks far, and the
    /// error surfaces at the next search or checkpoint).
    pub(crate) fn build_vector(&self, id: u32, out: &mut [f32]) {
        let from_ram = self.nodes.vectors_in_ram() && self.nodes.read_vector(id, out).is_ok();
        if !from_ram && !self.codes.vector_into(id, out) && self.nodes.read_vector(id, out).is_err()
        {
            out.fill(0.0);
        }
    }

    pub fn neighbors(&self, id: u32) -> Cow<'_, [u32]> {
        self.nodes.neighbors(id)
    }

    /// Whether the adjacency lists are held in RAM (else read from the node file).
    pub fn lists_in_ram(&self) -> bool {
        self.nodes.lists_in_ram()
    }

    /// Whether a copy of the vectors is held in RAM (else re-ranking reads the node file).
    pub fn vectors_in_ram(&self) -> bool {
        self.nodes.vectors_in_ram()
    }

    /// Bytes held in RAM (codes, adjacency lists, tombstones); the vectors stay on disk.
    pub fn memory_bytes(&self) -> usize {
        self.codes.memory_bytes() + self.nodes.memory_bytes() + self.deleted.capacity()
    }

    pub fn file_bytes(&self) -> usize {
        self.nodes.file_bytes()
    }

    fn check(&self, v: &[f32]) -> Result<Vec<f32>, VectorError> {
        self.metric.prepared(self.dim(), v)
    }

    /// Appends a vector (prepared here) without linking it.
    fn store(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let v = self.check(v)?;
        let len = self.nodes.len();
        if len >= self.reserved {
            // RAM grows by an eighth at a time: doubling left up to half of the codes' and
            // lists' capacity unused (100k x 128: 44 MB held for 34 MB used).
            let target = len + (len / 8).max(1024);
            self.nodes.reserve_exact(target);
            self.codes.reserve_exact(target - len);
            self.reserved = target;
        }
        let id = self.nodes.push(&v)?;
        self.codes.push(&v);
        self.deleted.push(false);
        Ok(id)
    }

    /// Inserts a vector: stored, then linked into the graph. Returns its id.
    pub fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let id = self.store(v)?;
        self.link(id);
        Ok(id)
    }

    /// An insert in three steps, for a caller that shares the index behind a RwLock and wants
    /// searches to go on while one writer inserts: `stage` (write lock, O(1): the element is
    /// stored but unreachable), `plan_links` (read lock: the walk and prune, the expensive
    /// part), `commit_links` (write lock, short: the lists and back-edges).
    pub fn stage(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        self.store(v)
    }

    pub fn plan_links(&self, id: u32) -> build::Planned {
        if self.entry.is_none() || self.entry == Some(id) {
            return build::Planned {
                id,
                neighbors: Vec::new(),
            };
        }
        self.plan(id, self.params.alpha)
    }

    pub fn commit_links(&mut self, plan: build::Planned) {
        if self.entry.is_none() {
            self.entry = Some(plan.id);
            return;
        }
        let alpha = self.params.alpha;
        self.apply(vec![plan], alpha, 1);
    }

    /// The links of many staged elements at once, ready to write: the walks in parallel on
    /// `threads` threads against the graph as it is (the elements do not see each other:
    /// callers keep a batch small next to the graph, as the batch build's prefix doubling
    /// does), then the back-edges and the prunes they cause. Reads only.
    pub fn plan_links_batch(&self, ids: &[u32], threads: usize) -> Vec<build::Planned> {
        let plans = parallel::map(ids, threads, |&id| self.plan_links(id));
        self.finish_links(plans, self.params.alpha, threads)
    }

    /// Writes the lists of `plan_links_batch` (write lock, short: no distance is computed).
    pub fn commit_links_batch(&mut self, lists: Vec<build::Planned>) {
        if self.entry.is_none() {
            self.entry = lists.first().map(|l| l.id);
        }
        self.write_links(lists);
    }

    /// The `k` nearest live elements to `query` (accepted by `filter` if given), closest first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        let q = self.check(query)?;
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let qc = self.codes.encode_query(&q);
        let quantization = self.codes.quantization();
        // Sign bits rank coarsely (many ties): a BIN walk keeps a 4x longer list, all of it
        // re-ranked with full precision.
        let l = params.list.max(k)
            * if quantization == Quantization::Bin {
                4
            } else {
                1
            };
        let candidates = match filter {
            None => self.walk(&qc, l, None, false).beam,
            Some(f) => {
                // A selective filter widens the list in proportion, so the walk still meets
                // enough accepted elements (capped; below the cap a scan is exact and cheap).
                let selectivity = self.estimate_selectivity(f);
                let expected = selectivity * self.len() as f64;
                if expected <= params.exact_below as f64 {
                    return self.scan(&q, k, Some(f));
                }
                let widened = ((l as f64 / selectivity.max(1e-6)).ceil() as usize)
                    .clamp(l, params.max_list.max(l));
                self.walk(&qc, widened, Some(f), false).accepted
            }
        };
        let live = candidates.iter().filter(|c| !self.is_deleted(c.id));
        // Re-rank with full precision, a read each: a NOQUANT walk already compared full
        // vectors; Q8 ranks so closely that its best k · rerank_factor suffice (100k x 128:
        // recall@10 0.9994 at L = 100 re-ranking the best 20 as with all 100); BIN needs its
        // whole list.
        let rerank = match quantization {
            Quantization::NoQuant => 0,
            Quantization::Q8 => k * params.rerank_factor,
            Quantization::Bin => l,
        };
        let mut v = vec![0.0; self.dim()];
        let mut out = Vec::with_capacity(l);
        for (i, c) in live.enumerate() {
            let distance = if i < rerank {
                self.nodes.read_vector(c.id, &mut v)?;
                self.metric.distance(&q, &v)
            } else if quantization == Quantization::NoQuant {
                c.dist
            } else {
                break;
            };
            out.push(Neighbor { id: c.id, distance });
        }
        Ok(super::closest(out, k))
    }

    /// Exact search over the live elements (accepted by `filter`): a sequential read of the
    /// node file, or with a filter a read of each accepted element.
    pub fn scan(
        &self,
        q: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        let mut out = Vec::new();
        match filter {
            None => self.nodes.scan_vectors(0, |id, v| {
                if !self.is_deleted(id) {
                    out.push(Neighbor {
                        id,
                        distance: self.metric.distance(q, v),
                    });
                }
            })?,
            Some(f) => {
                let mut v = vec![0.0; self.dim()];
                for id in 0..self.nodes.len() as u32 {
                    if !self.is_deleted(id) && f(id) {
                        self.nodes.read_vector(id, &mut v)?;
                        out.push(Neighbor {
                            id,
                            distance: self.metric.distance(q, &v),
                        });
                    }
                }
            }
        }
        Ok(super::closest(out, k))
    }

    /// Share of live elements `filter` accepts, from a sample of random ids (a regular
    /// stride could alias with the filter, e.g. every 100th id).
    fn estimate_selectivity(&self, filter: &dyn Fn(u32) -> bool) -> f64 {
        let n = self.nodes.len();
        let mut rng = super::testutil::Rng::new(n as u64);
        let (mut seen, mut passed) = (0usize, 0usize);
        for _ in 0..1000.min(n * 2) {
            let id = rng.below(n) as u32;
            if !self.is_deleted(id) {
                seen += 1;
                passed += usize::from(filter(id));
            }
        }
        if seen == 0 {
            return 1.0;
        }
        // At least one pass in the sample's worth, so an unseen filter is "rare", not "none".
        (passed.max(1) as f64) / seen as f64
    }

    /// Writes the node file to disk (checkpoint).
    pub fn sync(&self) -> Result<(), VectorError> {
        self.nodes.sync()
    }
}

#[cfg(test)]
mod tests;
