//! Compressed codes the graph walk navigates on, kept in RAM: int8 with a per-vector scale
//! (Q8, as Redis vector sets do), sign bits (BIN), or none (NOQUANT: the walk reads the
//! full-precision vectors). Candidates are re-ranked with full precision afterwards.

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
    None,
    Q8(q8::Q8Codes),
    Bin(binary::BinCodes),
}

/// A query encoded for fast comparison with the codes.
#[derive(Debug, Clone)]
pub enum QueryCode {
    None,
    Q8(q8::Q8Query),
    Bin(Vec<u64>),
}

impl Codes {
    pub fn new(q: Quantization, dim: usize) -> Codes {
        match q {
            Quantization::NoQuant => Codes::None,
            Quantization::Q8 => Codes::Q8(q8::Q8Codes::new(dim)),
            Quantization::Bin => Codes::Bin(binary::BinCodes::new(dim)),
        }
    }

    pub fn quantization(&self) -> Quantization {
        match self {
            Codes::None => Quantization::NoQuant,
            Codes::Q8(_) => Quantization::Q8,
            Codes::Bin(_) => Quantization::Bin,
        }
    }

    /// Appends the code of a prepared vector (element id = previous count).
    pub fn push(&mut self, v: &[f32]) {
        match self {
            Codes::None => {}
            Codes::Q8(c) => c.push(v),
            Codes::Bin(c) => c.push(v),
        }
    }

    pub fn encode_query(&self, v: &[f32]) -> QueryCode {
        match self {
            Codes::None => QueryCode::None,
            Codes::Q8(_) => QueryCode::Q8(q8::Q8Query::new(v)),
            Codes::Bin(c) => QueryCode::Bin(c.encode(v)),
        }
    }

    /// Approximate distance (same convention as `Metric::distance`) between the query and
    /// element `id`; `None` when there are no codes (the caller uses full precision).
    #[inline]
    pub fn distance(&self, metric: Metric, q: &QueryCode, id: u32) -> Option<f32> {
        match (self, q) {
            (Codes::Q8(c), QueryCode::Q8(q)) => Some(c.distance(metric, q, id as usize)),
            (Codes::Bin(c), QueryCode::Bin(q)) => {
                Some(distance::hamming(q, c.code(id as usize)) as f32)
            }
            _ => None,
        }
    }

    /// Starts loading element `id`'s code into the cache.
    #[inline]
    pub fn prefetch(&self, id: u32) {
        match self {
            Codes::None => {}
            Codes::Q8(c) => c.prefetch(id as usize),
            Codes::Bin(c) => distance::prefetch(c.code(id as usize).as_ptr()),
        }
    }

    /// Bytes held in RAM.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Codes::None => 0,
            Codes::Q8(c) => c.memory_bytes(),
            Codes::Bin(c) => c.memory_bytes(),
        }
    }
}
