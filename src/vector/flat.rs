//! Exact search: every vector compared with the query. For small sets, and the ground truth
//! the approximate indexes are measured against.

use super::metric::Metric;
use super::{Neighbor, VectorError};

#[derive(Debug, Clone)]
pub struct Flat {
    dim: usize,
    metric: Metric,
    vectors: Vec<f32>,
    deleted: Vec<bool>,
    live: usize,
}

impl Flat {
    pub fn new(dim: usize, metric: Metric) -> Flat {
        Flat {
            dim,
            metric,
            vectors: Vec::new(),
            deleted: Vec::new(),
            live: 0,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn prepared(&self, v: &[f32]) -> Result<Vec<f32>, VectorError> {
        self.metric.prepared(self.dim, v)
    }

    pub fn insert(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        let v = self.prepared(v)?;
        self.vectors.extend_from_slice(&v);
        self.deleted.push(false);
        self.live += 1;
        Ok((self.deleted.len() - 1) as u32)
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

    /// Ids handed out so far (deleted ones included).
    pub fn slots(&self) -> usize {
        self.deleted.len()
    }

    /// The vector of a live element.
    pub fn live_vector(&self, id: u32) -> Option<&[f32]> {
        if self.deleted.get(id as usize).copied().unwrap_or(true) {
            return None;
        }
        self.vector(id)
    }

    pub fn vector(&self, id: u32) -> Option<&[f32]> {
        let i = id as usize;
        (i < self.deleted.len()).then(|| &self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    pub fn memory_bytes(&self) -> usize {
        self.vectors.capacity() * 4 + self.deleted.capacity()
    }

    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Neighbor>, VectorError> {
        let q = self.prepared(query)?;
        let out: Vec<Neighbor> = self
            .vectors
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(i, v)| (i as u32, v))
            .filter(|(i, _)| !self.deleted[*i as usize] && filter.is_none_or(|f| f(*i)))
            .map(|(id, v)| Neighbor {
                id,
                distance: self.metric.distance(&q, v),
            })
            .collect();
        Ok(super::closest(out, k))
    }
}
