//! The vector engine: pure math and indexes, no tokio, no RESP, no redb.
//!
//! - `distance`: kernels (f32 dot / L2, int8 dot, Hamming) with run-time SIMD selection and
//!   scalar twins; `metric`: cosine / L2 / inner product conventions.
//! - `quant`: the in-RAM navigation codes (Q8, BIN, none).
//! - `vamana`: the DiskANN/FreshDiskANN graph over a node file (`storage`): codes
//!   and (up to a budget) adjacency lists in RAM, vectors read from disk.
//! - `names`: a set's element names (one arena, a table of ids).
//! - `ivf`: k-means lists of Q8 codes (bulk loads); `flat`: exact search (small sets, ground
//!   truth); `index`: the one trait over them and the chooser.
//!
//! Every index ranks by a distance where smaller is closer (see `metric`).

pub mod distance;
pub mod filter;
pub mod flat;
pub mod index;
pub mod ivf;
pub mod metric;
pub mod names;
pub mod parallel;
pub mod quant;
pub mod set;
pub mod storage;
pub mod testutil;
pub mod vamana;

pub use metric::Metric;
pub use quant::Quantization;

/// Why a vector operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    #[error("vector dimension mismatch: expected {expected}, got {got}")]
    Dimension { expected: usize, got: usize },
    #[error("vector components must be finite numbers")]
    NotFinite,
    #[error("a zero vector has no direction (cosine)")]
    ZeroVector,
    #[error("{0}")]
    Parameter(String),
    #[error("vector file: {0}")]
    Io(String),
    #[error("vector file is damaged: {0}")]
    Corrupt(String),
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    pub id: u32,
    /// Smaller is closer (see `Metric`).
    pub distance: f32,
}

/// The `k` closest of `candidates`, closest first (ties by id, so results are stable).
pub fn closest(mut candidates: Vec<Neighbor>, k: usize) -> Vec<Neighbor> {
    let k = k.min(candidates.len());
    if k > 0 && k < candidates.len() {
        candidates.select_nth_unstable_by(k - 1, |a, b| a.distance.total_cmp(&b.distance));
    }
    candidates.truncate(k);
    candidates.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id)));
    candidates
}

/// How hard a search looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParams {
    /// List size L of the walk (at least k).
    pub list: usize,
    /// Q8: the walk's best k · this candidates are re-ranked with full precision (BIN: the
    /// whole list; NOQUANT walks at full precision).
    pub rerank_factor: usize,
    /// A filter expected to accept at most this many elements is answered by an exact scan.
    pub exact_below: usize,
    /// The most a selective filter may widen the list to.
    pub max_list: usize,
    /// IVF: lists probed.
    pub nprobe: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            list: 100,
            rerank_factor: 2,
            exact_below: 2_000,
            max_list: 2_000,
            nprobe: 16,
        }
    }
}
