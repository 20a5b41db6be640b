//! A vector set as Redis 8 defines one: named elements, each with a vector and optional JSON
//! attributes, over one index (exact while small, then Vamana or IVF). Names map to dense
//! index ids here; the command layer never sees ids or index kinds.
//!
//! Under the cosine metric (Redis's only one) vectors are L2-normalised on insert and the
//! index ranks by inner product, so a zero vector is accepted (score 0.5, as in Redis).
//! Scores follow Redis: (1 + cos) / 2 for cosine; Luma's L2 sets score 1 / (1 + distance)
//! and inner-product sets the raw dot product.

use std::collections::HashMap;
use std::path::Path;

use super::index::{AutoIndex, IndexKind, VectorIndex};
use super::metric::Metric;
use super::names::Names;
use super::quant::{q8, Quantization};
use super::testutil::Rng;
use super::vamana::build::Planned;
use super::vamana::{Vamana, VamanaParams};
use super::{distance, SearchParams, VectorError};

/// What the first VADD fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetConfig {
    /// Dimension of the stored vectors (after REDUCE).
    pub dim: usize,
    /// Dimension clients send: `dim` unless the set has a random projection (REDUCE).
    pub input_dim: usize,
    pub quantization: Quantization,
    pub metric: Metric,
    /// The index the set grows into.
    pub kind: IndexKind,
    /// Redis's M: the graph keeps 2·M links per element.
    pub m: usize,
    /// List size while inserting (Redis's build EF).
    pub ef_build: usize,
    /// Seed of the projection matrix (REDUCE).
    pub seed: u64,
}

impl SetConfig {
    pub fn projected(&self) -> bool {
        self.input_dim != self.dim
    }
}

/// A change to apply, in log order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `name` now has this vector (as the client sent it) and attributes. `gen` identifies
    /// the write: the same gen again only updates the attributes.
    Put {
        name: Vec<u8>,
        gen: u64,
        vector: Vec<f32>,
        attrs: Option<Vec<u8>>,
    },
    Remove {
        name: Vec<u8>,
    },
}

/// A predicate on an element's attributes (raw JSON; `None` = no attributes).
pub type AttrFilter<'a> = &'a dyn Fn(Option<&[u8]>) -> bool;

/// What a checkpoint of a set's graph records beside its node file: the walk's entry and the
/// write (gen) each slot holds, 0 for a slot without a live element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub entry: Option<u32>,
    pub gens: Vec<u64>,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: u32,
    pub score: f64,
}

/// How a search runs (VSIM's options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query {
    pub count: usize,
    pub ef: usize,
    /// Keep results with 1 − score ≤ epsilon (cosine).
    pub epsilon: f64,
    /// Most candidates a filtered search may look at.
    pub filter_ef: usize,
    /// Exact scan instead of the index.
    pub truth: bool,
}

/// An element's stored form as VEMB RAW reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawEmbedding {
    Int8 {
        codes: Vec<i8>,
        norm: f32,
        range: f32,
    },
    F32 {
        values: Vec<f32>,
        norm: f32,
    },
    Bin {
        words: Vec<u64>,
        norm: f32,
    },
}

/// The walk's list size for Redis's search EF on a set of `n` elements. Redis's HNSW keeps its
/// recall at a given EF as the set grows (its upper layers shorten the walk); a one-layer
/// Vamana graph needs a list that grows with log n for the same recall. So the list is EF up
/// to 100,000 elements and then grows by half of EF per tenfold, up to twice EF
/// (1M x 96, EF 100: recall@10 0.937 with a list of 100, 0.971 with 150).
pub fn walk_list(ef: usize, n: usize) -> usize {
    let tenfolds = (n.max(1) as f64 / 100_000.0).log10().clamp(0.0, 2.0);
    (ef as f64 * (1.0 + 0.5 * tenfolds)).round() as usize
}

/// The Vamana build list for Redis's build EF on a set of `n` elements, at least `degree`.
/// For the same reason as `walk_list`, a one-layer graph needs longer build walks as it grows:
/// 0.3·EF up to 100,000 elements, rising to 0.5·EF at 1,000,000 (EF 200: 60, then 100).
/// Measured through the server with default settings: 100k x 128 at 0.3·EF recall@10 0.999,
/// 5,300 -> 6,450 inserts/s against 0.5·EF (recall 0.9999); 1M x 96 built at 0.3·EF
/// throughout: recall 0.957 against 0.976 at 0.5·EF.
pub fn build_list(ef_build: usize, n: usize, degree: usize) -> usize {
    let tenfolds = (n.max(1) as f64 / 100_000.0).log10().clamp(0.0, 1.0);
    ((ef_build as f64 * (0.3 + 0.2 * tenfolds)).round() as usize).max(degree)
}

impl RawEmbedding {
    /// The vector it stands for, de-normalised (what VEMB shows): exact for F32, Redis's
    /// reconstruction for Int8 and BIN.
    pub fn values(&self, dim: usize) -> Vec<f32> {
        match self {
            RawEmbedding::F32 { values, norm } => values.iter().map(|x| x * norm).collect(),
            RawEmbedding::Int8 { codes, norm, range } => codes
                .iter()
                .map(|&c| f32::from(c) * range / 127.0 * norm)
                .collect(),
            RawEmbedding::Bin { words, norm } => {
                let unit = norm / (dim.max(1) as f32).sqrt();
                (0..dim)
                    .map(|i| match words.get(i / 64) {
                        Some(w) if w >> (i % 64) & 1 == 1 => unit,
                        _ => -unit,
                    })
                    .collect()
            }
        }
    }
}

/// The form Redis keeps of an element of a cosine set without projection: its Q8 codes or sign
/// bits with the norm (`None` for other sets: they keep the vector as sent). The key space
/// stores this; the index gets the full-precision vector through the log.
pub fn compact_form(config: &SetConfig, raw: &[f32]) -> Option<RawEmbedding> {
    if config.metric != Metric::Cosine
        || config.projected()
        || config.quantization == Quantization::NoQuant
    {
        return None;
    }
    Some(stored_form(config.quantization, raw))
}

/// `raw` normalised and quantized as a cosine set of `quantization` stores it.
fn stored_form(quantization: Quantization, raw: &[f32]) -> RawEmbedding {
    let norm = distance::dot_f32(raw, raw).sqrt();
    let values: Vec<f32> = if norm > 0.0 {
        raw.iter().map(|x| x / norm).collect()
    } else {
        raw.to_vec()
    };
    match quantization {
        Quantization::NoQuant => RawEmbedding::F32 { values, norm },
        Quantization::Q8 => {
            let mut codes = Vec::with_capacity(values.len());
            let scale = q8::quantize(&values, &mut codes);
            RawEmbedding::Int8 {
                codes,
                norm,
                range: scale * 127.0,
            }
        }
        Quantization::Bin => {
            let mut words = vec![0u64; values.len().div_ceil(64)];
            for (i, x) in values.iter().enumerate() {
                if *x > 0.0 {
                    words[i / 64] |= 1 << (i % 64);
                }
            }
            RawEmbedding::Bin { words, norm }
        }
    }
}

pub struct VectorSet {
    config: SetConfig,
    index: AutoIndex,
    /// Names and the write (gen) each slot holds.
    names: Names,
    attrs: HashMap<u32, Box<[u8]>>,
    /// Row-major `dim × input_dim` (REDUCE).
    projection: Option<Vec<f32>>,
}

impl VectorSet {
    /// An empty set whose index files live at `path`; its graph may hold `memory_budget`
    /// bytes of RAM beyond its codes (`VamanaParams::memory_budget`).
    pub fn new(path: &Path, config: SetConfig, memory_budget: usize) -> VectorSet {
        let index = AutoIndex::with_target(
            path,
            config.dim,
            Self::index_metric(&config),
            config.quantization,
            Self::params(&config, memory_budget),
            config.kind,
        );
        Self::around(config, index)
    }

    /// Re-opens a set from its node file and `checkpoint`, given every element the key
    /// space holds (as changes): those the checkpoint has keep their place in the graph (their
    /// vectors are not looked at and may be left empty), the others are inserted, and the
    /// graph's elements the key space no longer has are deleted. Nothing is rebuilt from
    /// scratch.
    pub fn reopen(
        path: &Path,
        config: SetConfig,
        memory_budget: usize,
        checkpoint: &Checkpoint,
        elements: &[Change],
        threads: usize,
    ) -> Result<VectorSet, VectorError> {
        let slots = checkpoint.gens.len();
        let dead: Vec<u32> = (0..slots as u32)
            .filter(|&i| checkpoint.gens[i as usize] == 0)
            .collect();
        let graph = Vamana::open(
            path,
            Self::index_metric(&config),
            config.quantization,
            Self::params(&config, memory_budget),
            checkpoint.entry,
            Some(slots),
            &dead,
        )?;
        if graph.dim() != config.dim {
            return Err(VectorError::Corrupt("node file dimension differs".into()));
        }
        let index = AutoIndex::with_graph(
            path,
            Self::index_metric(&config),
            config.quantization,
            Self::params(&config, memory_budget),
            graph,
        );
        let mut set = Self::around(config, index);
        set.names = Names::with_slots(slots);
        let by_gen: HashMap<u64, u32> = checkpoint
            .gens
            .iter()
            .enumerate()
            .filter(|(_, &g)| g != 0)
            .map(|(i, &g)| (g, i as u32))
            .collect();
        let mut missing = Vec::new();
        for change in elements {
            match change {
                Change::Put {
                    name, gen, attrs, ..
                } if by_gen.contains_key(gen) => {
                    let id = by_gen[gen];
                    set.names.insert(id, name, *gen);
                    set.set_attrs(id, attrs.as_deref());
                }
                other => missing.push(other.clone()),
            }
        }
        // Checkpointed elements the key space no longer has (removed or replaced since).
        for id in 0..slots as u32 {
            if !set.names.is_live(id) && set.index.contains(id) {
                set.index.delete(id);
            }
        }
        set.apply(&missing, threads)?;
        Ok(set)
    }

    /// Writes the graph's file to disk and returns what to record beside it; `None` for a set
    /// without a graph (small or IVF sets are rebuilt from the key space at start).
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, VectorError> {
        if self.index.kind() != IndexKind::Vamana || !self.index.sync()? {
            return Ok(None);
        }
        let gens = (0..self.names.slots() as u32)
            .map(|id| self.names.gen(id).unwrap_or(0))
            .collect();
        Ok(Some(Checkpoint {
            entry: self.index.entry(),
            gens,
        }))
    }

    fn index_metric(config: &SetConfig) -> Metric {
        match config.metric {
            Metric::Cosine => Metric::InnerProduct,
            m => m,
        }
    }

    fn params(config: &SetConfig, memory_budget: usize) -> VamanaParams {
        VamanaParams {
            degree: Self::degree(config),
            // Redis's EF sizes an HNSW candidate list; a Vamana walk with a third to half of
            // that list builds a graph almost as good in a fraction of the time (100k x 128,
            // default settings: recall@10 0.9989 instead of 1.0, 6,900 instead of 3,900
            // inserts/s at half). `stage` adjusts it as the set grows (`build_list`).
            build_list: build_list(config.ef_build, 0, Self::degree(config)),
            alpha: 1.2,
            memory_budget,
            unit_vectors: config.metric == Metric::Cosine,
        }
    }

    /// The graph's out-degree: Redis's layer 0 keeps 2·M links.
    fn degree(config: &SetConfig) -> usize {
        (config.m * 2).clamp(4, 192)
    }

    fn around(config: SetConfig, index: AutoIndex) -> VectorSet {
        let projection = config.projected().then(|| {
            let mut rng = Rng::new(config.seed);
            // Gaussian entries scaled by 1/√dim: distances are kept in expectation
            // (Johnson–Lindenstrauss).
            let scale = 1.0 / (config.dim as f32).sqrt();
            (0..config.dim * config.input_dim)
                .map(|_| rng.normal() * scale)
                .collect()
        });
        VectorSet {
            index,
            config,
            names: Names::default(),
            attrs: HashMap::new(),
            projection,
        }
    }

    pub fn config(&self) -> &SetConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Ids handed out so far (VINFO's max node uid).
    pub fn slots(&self) -> usize {
        self.names.slots()
    }

    pub fn attributes_count(&self) -> usize {
        self.attrs.len()
    }

    pub fn index_kind(&self) -> IndexKind {
        self.index.kind()
    }

    /// Bytes of RAM held (index codes and lists, names, attributes; node files not counted).
    pub fn memory_bytes(&self) -> usize {
        let attrs: usize = self.attrs.values().map(|a| a.len() + 32).sum();
        self.index.memory_bytes() + self.names.memory_bytes() + attrs
    }

    pub fn id_of(&self, name: &[u8]) -> Option<u32> {
        self.names.id_of(name)
    }

    pub fn name(&self, id: u32) -> Option<&[u8]> {
        self.names.name(id)
    }

    pub fn attrs(&self, id: u32) -> Option<&[u8]> {
        self.attrs.get(&id).map(|a| &a[..])
    }

    /// The vector the index stores for a client's vector: projected (REDUCE) and, for
    /// cosine, normalised.
    pub fn prepare(&self, raw: &[f32]) -> Result<Vec<f32>, VectorError> {
        let mut v = self.project(raw)?;
        if self.config.metric == Metric::Cosine {
            let norm = distance::dot_f32(&v, &v).sqrt();
            if norm > 0.0 && norm.is_finite() {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(v)
    }

    /// A client's vector checked and projected (REDUCE), not normalised.
    fn project(&self, raw: &[f32]) -> Result<Vec<f32>, VectorError> {
        if raw.len() != self.config.input_dim {
            return Err(VectorError::Dimension {
                expected: self.config.input_dim,
                got: raw.len(),
            });
        }
        if raw.iter().any(|x| !x.is_finite()) {
            return Err(VectorError::NotFinite);
        }
        Ok(match &self.projection {
            Some(m) => m
                .chunks_exact(self.config.input_dim)
                .map(|row| distance::dot_f32(row, raw))
                .collect(),
            None => raw.to_vec(),
        })
    }

    /// Applies changes to names and attributes and stores new vectors (write lock; cheap).
    /// Returns the staged ids whose graph links are still to be planned and committed.
    pub fn stage(&mut self, changes: &[Change]) -> Result<Vec<u32>, VectorError> {
        let mut staged = Vec::new();
        for change in changes {
            match change {
                Change::Put {
                    name,
                    gen,
                    vector,
                    attrs,
                } => {
                    let existing = self.id_of(name);
                    if let Some(id) = existing.filter(|&id| self.names.gen(id) == Some(*gen)) {
                        self.set_attrs(id, attrs.as_deref());
                        continue;
                    }
                    let v = self.prepare(vector)?;
                    if let Some(old) = existing {
                        self.forget(old);
                    }
                    let id = self.index.stage(&v)?;
                    self.names.insert(id, name, *gen);
                    self.set_attrs(id, attrs.as_deref());
                    staged.push(id);
                }
                Change::Remove { name } => {
                    if let Some(id) = self.id_of(name) {
                        self.forget(id);
                    }
                }
            }
        }
        if !self.index.needs_links() {
            staged.clear();
        }
        let degree = Self::degree(&self.config);
        self.index
            .set_build_list(build_list(self.config.ef_build, self.len(), degree));
        Ok(staged)
    }

    fn forget(&mut self, id: u32) {
        self.index.delete(id);
        self.names.remove(id);
        self.attrs.remove(&id);
    }

    fn set_attrs(&mut self, id: u32, attrs: Option<&[u8]>) {
        match attrs {
            Some(a) if !a.is_empty() => {
                self.attrs.insert(id, a.into());
            }
            _ => {
                self.attrs.remove(&id);
            }
        }
    }

    /// Links for staged ids (read lock: searches go on).
    pub fn plan(&self, ids: &[u32], threads: usize) -> Vec<Planned> {
        let live: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| self.index.contains(id))
            .collect();
        self.index.plan(&live, threads)
    }

    /// Applies planned links (write lock, short).
    pub fn commit(&mut self, plans: Vec<Planned>, threads: usize) {
        self.index.commit(plans, threads);
    }

    /// Consolidates deletes when enough piled up (write lock).
    pub fn tidy(&mut self) -> bool {
        self.index.tidy()
    }

    /// Applies changes in one go (stage, plan, commit), for callers without concurrent
    /// searches (tests, loading).
    pub fn apply(&mut self, changes: &[Change], threads: usize) -> Result<(), VectorError> {
        let staged = self.stage(changes)?;
        for chunk in staged.chunks(256) {
            let plans = self.plan(chunk, threads);
            self.commit(plans, threads);
        }
        self.tidy();
        Ok(())
    }

    /// The score of an index distance (see the module docs).
    pub fn score(&self, distance: f32) -> f64 {
        let d = f64::from(distance);
        match self.config.metric {
            // The index ranks by −dot of unit vectors: cos = −d.
            Metric::Cosine => (1.0 - d) / 2.0,
            Metric::L2 => 1.0 / (1.0 + d.max(0.0).sqrt()),
            Metric::InnerProduct => -d,
        }
    }

    /// The nearest elements to a client's vector.
    pub fn search(
        &self,
        raw: &[f32],
        query: &Query,
        filter: Option<AttrFilter<'_>>,
    ) -> Result<Vec<Hit>, VectorError> {
        let q = self.prepare(raw)?;
        self.search_prepared(&q, query, filter, None)
    }

    /// The nearest elements to a stored element (VSIM ELE).
    pub fn search_element(
        &self,
        id: u32,
        query: &Query,
        filter: Option<AttrFilter<'_>>,
    ) -> Result<Vec<Hit>, VectorError> {
        let q = self.index.vector(id).unwrap_or_default();
        self.search_prepared(&q, query, filter, None)
    }

    fn search_prepared(
        &self,
        q: &[f32],
        query: &Query,
        filter: Option<AttrFilter<'_>>,
        skip: Option<u32>,
    ) -> Result<Vec<Hit>, VectorError> {
        let by_id = filter.map(|f| move |id: u32| f(self.attrs(id)));
        let by_id: Option<&dyn Fn(u32) -> bool> = match &by_id {
            Some(f) => Some(f),
            None => None,
        };
        let k = query.count + usize::from(skip.is_some());
        let found = if query.truth {
            self.index.exact(q, k, by_id)?
        } else {
            let params = SearchParams {
                list: walk_list(query.ef, self.len()).max(query.count),
                max_list: query.filter_ef.max(query.ef),
                ..SearchParams::default()
            };
            self.index.search(q, k, &params, by_id)?
        };
        Ok(found
            .into_iter()
            .filter(|n| Some(n.id) != skip)
            .map(|n| Hit {
                id: n.id,
                score: self.score(n.distance),
            })
            .filter(|h| self.config.metric != Metric::Cosine || 1.0 - h.score <= query.epsilon)
            .take(query.count)
            .collect())
    }

    /// An element's neighbours in the graph with their scores (VLINKS); while the set is
    /// still searched exactly (no graph yet), its 2·M nearest elements.
    pub fn links(&self, id: u32) -> Vec<Hit> {
        let Some(v) = self.index.vector(id) else {
            return Vec::new();
        };
        let metric = Self::index_metric(&self.config);
        if self.index.kind() == IndexKind::Flat {
            let query = Query {
                count: self.config.m * 2,
                ef: self.config.m * 2,
                epsilon: 2.0,
                filter_ef: 0,
                truth: true,
            };
            return self
                .search_prepared(&v, &query, None, Some(id))
                .unwrap_or_default();
        }
        self.index
            .links(id)
            .into_iter()
            .filter(|&n| self.index.contains(n))
            .filter_map(|n| {
                let d = metric.distance(&v, &self.index.vector(n)?);
                Some(Hit {
                    id: n,
                    score: self.score(d),
                })
            })
            .collect()
    }

    /// Up to `count` random live elements: distinct, or with repeats when `repeat`.
    pub fn random(&self, count: usize, repeat: bool, seed: u64) -> Vec<u32> {
        let live: Vec<u32> = if repeat || count * 4 >= self.len() {
            self.names.live_ids().collect()
        } else {
            Vec::new()
        };
        let mut rng = Rng::new(seed);
        if repeat {
            if live.is_empty() {
                return Vec::new();
            }
            return (0..count).map(|_| live[rng.below(live.len())]).collect();
        }
        if !live.is_empty() || self.is_empty() {
            // Partial Fisher–Yates over the live ids.
            let mut live = live;
            let take = count.min(live.len());
            for i in 0..take {
                let j = i + rng.below(live.len() - i);
                live.swap(i, j);
            }
            live.truncate(take);
            return live;
        }
        // Few wanted from many: draw slots until enough distinct live ones.
        let mut picked = Vec::with_capacity(count);
        let mut seen = std::collections::HashSet::new();
        while picked.len() < count {
            let slot = rng.below(self.names.slots()) as u32;
            if self.names.is_live(slot) && seen.insert(slot) {
                picked.push(slot);
            }
        }
        picked
    }

    /// An element's stored form (VEMB RAW).
    pub fn raw_embedding(&self, raw: &[f32]) -> Result<RawEmbedding, VectorError> {
        let projected = self.project(raw)?;
        if self.config.metric != Metric::Cosine {
            return Ok(match stored_form(self.config.quantization, &projected) {
                // Other metrics keep vectors as they are: no normalisation to undo.
                RawEmbedding::F32 { .. } => RawEmbedding::F32 {
                    values: projected,
                    norm: 1.0,
                },
                other => other,
            });
        }
        Ok(stored_form(self.config.quantization, &projected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::testutil::Clusters;
    use crate::vector::vamana::DEFAULT_MEMORY_BUDGET;

    fn config(dim: usize, quantization: Quantization) -> SetConfig {
        SetConfig {
            dim,
            input_dim: dim,
            quantization,
            metric: Metric::Cosine,
            kind: IndexKind::Vamana,
            m: 16,
            ef_build: 200,
            seed: 1,
        }
    }

    fn put(name: &str, gen: u64, vector: &[f32], attrs: Option<&str>) -> Change {
        Change::Put {
            name: name.as_bytes().to_vec(),
            gen,
            vector: vector.to_vec(),
            attrs: attrs.map(|a| a.as_bytes().to_vec()),
        }
    }

    #[test]
    fn names_replacements_attributes_and_scores() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = VectorSet::new(
            &dir.path().join("s"),
            config(3, Quantization::NoQuant),
            DEFAULT_MEMORY_BUDGET,
        );
        set.apply(
            &[
                put("a", 1, &[1.0, 0.0, 0.0], Some(r#"{"x":1}"#)),
                put("b", 2, &[0.0, 1.0, 0.0], None),
                put("z", 3, &[0.0, 0.0, 0.0], None),
            ],
            1,
        )
        .unwrap();
        assert_eq!(set.len(), 3);
        let q = Query {
            count: 10,
            ef: 100,
            epsilon: 2.0,
            filter_ef: 1000,
            truth: false,
        };
        let hits = set.search(&[2.0, 0.0, 0.0], &q, None).unwrap();
        let a = set.id_of(b"a").unwrap();
        assert_eq!(hits[0].id, a);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        // Orthogonal: 0.5; the zero vector: 0.5 as well.
        assert!(hits[1..].iter().all(|h| (h.score - 0.5).abs() < 1e-6));
        // Same gen: attributes only; new gen: the vector is replaced.
        set.apply(&[put("a", 1, &[1.0, 0.0, 0.0], None)], 1)
            .unwrap();
        assert_eq!(set.attrs(a), None);
        set.apply(&[put("a", 4, &[0.0, 1.0, 0.0], Some("{}"))], 1)
            .unwrap();
        let a2 = set.id_of(b"a").unwrap();
        assert_ne!(a, a2);
        assert_eq!(set.len(), 3);
        assert_eq!(set.name(a), None);
        let only_attrs = |attrs: Option<&[u8]>| attrs.is_some();
        let hits = set.search(&[1.0, 0.0, 0.0], &q, Some(&only_attrs)).unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![a2]);
        set.apply(
            &[Change::Remove {
                name: b"a".to_vec(),
            }],
            1,
        )
        .unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.attributes_count(), 0);
        // Epsilon cuts by 1 - score.
        let near = Query { epsilon: 0.4, ..q };
        let hits = set.search(&[0.0, 1.0, 0.0], &near, None).unwrap();
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn a_growing_set_keeps_recall_and_names_through_the_graph() {
        let dir = tempfile::tempdir().unwrap();
        let dim = 16;
        let data = Clusters::new(8, dim, 3).sample(3000, 3);
        let mut set = VectorSet::new(
            &dir.path().join("s"),
            config(dim, Quantization::Q8),
            DEFAULT_MEMORY_BUDGET,
        );
        let changes: Vec<Change> = data
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| put(&format!("e{i}"), i as u64 + 1, v, None))
            .collect();
        for part in changes.chunks(500) {
            set.apply(part, 2).unwrap();
        }
        assert_eq!(set.index_kind(), IndexKind::Vamana);
        let q = Query {
            count: 10,
            ef: 100,
            epsilon: 2.0,
            filter_ef: 1000,
            truth: false,
        };
        let mut agree = 0;
        for (i, v) in data.chunks_exact(dim).take(50).enumerate() {
            let truth = set.search(v, &Query { truth: true, ..q }, None).unwrap();
            let got = set.search(v, &q, None).unwrap();
            assert_eq!(set.name(got[0].id), Some(format!("e{i}").as_bytes()));
            agree += got
                .iter()
                .filter(|h| truth.iter().any(|t| t.id == h.id))
                .count();
        }
        assert!(
            agree as f64 / 500.0 > 0.95,
            "recall {}",
            agree as f64 / 500.0
        );
        let links = set.links(0);
        assert!(!links.is_empty() && links.len() <= 32);
        let picked = set.random(20, false, 9);
        let distinct: std::collections::HashSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), 20);
        assert_eq!(set.random(5000, false, 9).len(), 3000);
        assert_eq!(set.random(5, true, 9).len(), 5);
    }

    #[test]
    fn a_reopened_set_keeps_its_graph_and_catches_up_with_the_key_space() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let dim = 16;
        let data = Clusters::new(8, dim, 4).sample(1600, 4);
        let row = |i: usize| &data[i * dim..(i + 1) * dim];
        let mut set = VectorSet::new(&path, config(dim, Quantization::Q8), DEFAULT_MEMORY_BUDGET);
        let first: Vec<Change> = (0..1500)
            .map(|i| put(&format!("e{i}"), i as u64 + 1, row(i), None))
            .collect();
        set.apply(&first, 2).unwrap();
        let checkpoint = set.checkpoint().unwrap().expect("a graph has a checkpoint");
        assert_eq!(checkpoint.gens.len(), 1500);
        // After the checkpoint: 100 more, one removed, one replaced, attributes changed.
        let later: Vec<Change> = (1500..1600)
            .map(|i| put(&format!("e{i}"), i as u64 + 1, row(i), None))
            .chain([
                Change::Remove {
                    name: b"e3".to_vec(),
                },
                put("e4", 5000, row(1599), None),
                put("e5", 6, row(5), Some(r#"{"a":1}"#)),
            ])
            .collect();
        set.apply(&later, 2).unwrap();
        drop(set);
        // What the key space holds now.
        let mut elements: Vec<Change> = (0..1600)
            .filter(|&i| i != 3 && i != 4 && i != 5)
            .map(|i| put(&format!("e{i}"), i as u64 + 1, row(i), None))
            .collect();
        elements.push(put("e4", 5000, row(1599), None));
        elements.push(put("e5", 6, row(5), Some(r#"{"a":1}"#)));
        let cfg = config(dim, Quantization::Q8);
        let set = VectorSet::reopen(&path, cfg, DEFAULT_MEMORY_BUDGET, &checkpoint, &elements, 2)
            .unwrap();
        assert_eq!(set.len(), 1599);
        assert_eq!(set.index_kind(), IndexKind::Vamana);
        assert_eq!(set.id_of(b"e3"), None);
        // Kept in place: e0 is still slot 0; e4 moved to a new slot.
        assert_eq!(set.id_of(b"e0"), Some(0));
        assert!(set.id_of(b"e4").unwrap() >= 1500);
        assert_eq!(
            set.attrs(set.id_of(b"e5").unwrap()),
            Some(&br#"{"a":1}"#[..])
        );
        let q = Query {
            count: 1,
            ef: 100,
            epsilon: 2.0,
            filter_ef: 1000,
            truth: false,
        };
        for i in [0, 7, 1500, 1598] {
            let hit = set.search(row(i), &q, None).unwrap();
            assert_eq!(set.name(hit[0].id), Some(format!("e{i}").as_bytes()));
        }
    }

    #[test]
    fn the_walk_list_grows_with_the_set_beyond_100k() {
        assert_eq!(walk_list(100, 10), 100);
        assert_eq!(walk_list(100, 100_000), 100);
        assert_eq!(walk_list(100, 1_000_000), 150);
        assert_eq!(walk_list(100, 10_000_000), 200);
        assert_eq!(walk_list(100, 1_000_000_000), 200);
        assert_eq!(walk_list(1, 1_000_000), 2);
    }

    #[test]
    fn the_build_list_grows_from_three_tenths_to_half_of_ef() {
        assert_eq!(build_list(200, 0, 32), 60);
        assert_eq!(build_list(200, 100_000, 32), 60);
        assert_eq!(build_list(200, 316_228, 32), 80);
        assert_eq!(build_list(200, 1_000_000, 32), 100);
        assert_eq!(build_list(200, 50_000_000, 32), 100);
        assert_eq!(build_list(40, 1_000_000, 32), 32, "never below the degree");
    }

    #[test]
    fn embeddings_follow_the_quantization() {
        let dir = tempfile::tempdir().unwrap();
        let v = [3.0f32, -4.0, 0.0];
        let f = VectorSet::new(
            &dir.path().join("f"),
            config(3, Quantization::NoQuant),
            DEFAULT_MEMORY_BUDGET,
        );
        let e = f.raw_embedding(&v).unwrap().values(3);
        assert!(e.iter().zip(v).all(|(a, b)| (a - b).abs() < 1e-5));
        let q = VectorSet::new(
            &dir.path().join("q"),
            config(3, Quantization::Q8),
            DEFAULT_MEMORY_BUDGET,
        );
        match q.raw_embedding(&v).unwrap() {
            RawEmbedding::Int8 { codes, norm, range } => {
                assert_eq!(codes, vec![95, -127, 0]);
                assert!((norm - 5.0).abs() < 1e-6 && (range - 0.8).abs() < 1e-6);
            }
            other => panic!("{other:?}"),
        }
        let e = q.raw_embedding(&v).unwrap().values(3);
        assert!(e.iter().zip(v).all(|(a, b)| (a - b).abs() < 0.05));
        let b = VectorSet::new(
            &dir.path().join("b"),
            config(3, Quantization::Bin),
            DEFAULT_MEMORY_BUDGET,
        );
        let e = b.raw_embedding(&v).unwrap().values(3);
        assert!(e[0] > 0.0 && e[1] < 0.0 && e[2] < 0.0);
    }

    #[test]
    fn projection_reduces_dimension_and_keeps_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SetConfig {
            dim: 8,
            input_dim: 64,
            ..config(8, Quantization::NoQuant)
        };
        let mut set = VectorSet::new(&dir.path().join("p"), cfg, DEFAULT_MEMORY_BUDGET);
        let data = Clusters::new(4, 64, 5).sample(200, 5);
        let changes: Vec<Change> = data
            .chunks_exact(64)
            .enumerate()
            .map(|(i, v)| put(&format!("e{i}"), i as u64 + 1, v, None))
            .collect();
        set.apply(&changes, 1).unwrap();
        assert!(matches!(
            set.prepare(&[1.0; 8]),
            Err(VectorError::Dimension {
                expected: 64,
                got: 8
            })
        ));
        let q = Query {
            count: 1,
            ef: 50,
            epsilon: 2.0,
            filter_ef: 100,
            truth: false,
        };
        let hit = set.search(&data[64 * 7..64 * 8], &q, None).unwrap();
        assert_eq!(set.name(hit[0].id), Some(&b"e7"[..]));
    }
}
