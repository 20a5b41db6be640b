//! The codes the graph walk navigates on, kept in RAM: int8 with a per-vector scale (Q8, as
//! Redis vector sets do), sign bits (BIN), or the f32 vectors themselves (NOQUANT). Candidates
//! are re-ranked with the full-precision vectors of the node file afterwards.

pub mod binary;
pub mod q8;

use super::distance;
use super::metric::Metric;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantization {
    NoQuant,
    Q8,
    Bin,
}

/// The codes of every element, indexed by element id.
#[derive(Debug, Clone)]
pub enum Codes {
    /// NOQUANT: `dim` f32 per element.
    Full {
        dim: usize,
        vectors: Vec<f32>,
    },
    Q8(q8::Q8Codes),
    Bin(binary::BinCodes),
}

/// A query encoded for fast comparison with the codes.
#[derive(Debug, Clone)]
pub enum QueryCode {
    /// NOQUANT: the query itself.
    Full(Vec<f32>),
    Q8(q8::Q8Query),
    Bin(Vec<u64>),
}

impl Codes {
    /// Codes of `dim`-dimensional vectors; `norms` says where Q8's squared norms come from.
    pub fn new(q: Quantization, dim: usize, norms: q8::Norms) -> Codes {
        match q {
            Quantization::NoQuant => Codes::Full {
                dim,
                vectors: Vec::new(),
            },
            Quantization::Q8 => Codes::Q8(q8::Q8Codes::new(dim, norms)),
            Quantization::Bin => Codes::Bin(binary::BinCodes::new(dim)),
        }
    }

    pub fn quantization(&self) -> Quantization {
        match self {
            Codes::Full { .. } => Quantization::NoQuant,
            Codes::Q8(_) => Quantization::Q8,
            Codes::Bin(_) => Quantization::Bin,
        }
    }

    /// Makes room for `more` codes beyond those held, exactly (a bulk load knows its size;
    /// growth by doubling would leave up to half the codes' RAM unused).
    pub fn reserve_exact(&mut self, more: usize) {
        match self {
            Codes::Full { dim, vectors } => vectors.reserve_exact(more * *dim),
            Codes::Q8(c) => c.reserve_exact(more),
            Codes::Bin(c) => c.reserve_exact(more),
        }
    }

    /// Appends the code of a prepared vector (element id = previous count).
    pub fn push(&mut self, v: &[f32]) {
        match self {
            Codes::Full { vectors, .. } => vectors.extend_from_slice(v),
            Codes::Q8(c) => c.push(v),
            Codes::Bin(c) => c.push(v),
        }
    }

    pub fn encode_query(&self, v: &[f32]) -> QueryCode {
        match self {
            Codes::Full { .. } => QueryCode::Full(v.to_vec()),
            Codes::Q8(_) => QueryCode::Q8(q8::Q8Query::new(v)),
            Codes::Bin(c) => QueryCode::Bin(c.encode(v)),
        }
    }

    /// Approximate distance (same convention as `Metric::distance`; Hamming for BIN) between
    /// the query and element `id`.
    #[inline]
    pub fn distance(&self, metric: Metric, q: &QueryCode, id: u32) -> f32 {
        let id = id as usize;
        match (self, q) {
            (Codes::Q8(c), QueryCode::Q8(q)) => c.distance(metric, q, id),
            (Codes::Bin(c), QueryCode::Bin(q)) => distance::hamming(q, c.code(id)) as f32,
            (Codes::Full { dim, vectors }, QueryCode::Full(q)) => {
                metric.distance(q, &vectors[id * dim..(id + 1) * dim])
            }
            // A query encoded by other codes: ranks nothing.
            _ => f32::INFINITY,
        }
    }

    /// Writes element `id`'s vector as the codes give it back into `out`: exact for
    /// NOQUANT, decoded for Q8 (within half a quantization step per component, close enough
    /// to prune with); false for BIN, whose sign bits are too coarse (read the node file).
    pub fn vector_into(&self, id: u32, out: &mut [f32]) -> bool {
        let id = id as usize;
        match self {
            Codes::Full { dim, vectors } => {
                out.copy_from_slice(&vectors[id * dim..(id + 1) * dim]);
                true
            }
            Codes::Q8(c) => {
                c.decode_into(id, out);
                true
            }
            Codes::Bin(_) => false,
        }
    }

    /// Starts loading element `id`'s code into the cache.
    #[inline]
    pub fn prefetch(&self, id: u32) {
        match self {
            Codes::Full { dim, vectors } => {
                distance::prefetch_slice(&vectors[id as usize * dim..(id as usize + 1) * dim])
            }
            Codes::Q8(c) => c.prefetch(id as usize),
            Codes::Bin(c) => distance::prefetch_slice(c.code(id as usize)),
        }
    }

    /// Bytes held in RAM.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Codes::Full { vectors, .. } => vectors.capacity() * 4,
            Codes::Q8(c) => c.memory_bytes(),
            Codes::Bin(c) => c.memory_bytes(),
        }
    }
}
