//! Metrics and their conventions. Internally every index ranks by a distance where smaller is
//! closer: cosine → 1 − cos (vectors are L2-normalised on insert, as Redis vector sets do),
//! inner product → −dot, L2 → squared Euclidean distance.

use super::distance;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    L2,
    InnerProduct,
}

impl Metric {
    /// Prepares a vector for this metric: cosine normalises it. A zero vector cannot be
    /// normalised and is refused under cosine.
    pub fn prepare(self, v: &mut [f32]) -> Result<(), super::VectorError> {
        if v.iter().any(|x| !x.is_finite()) {
            return Err(super::VectorError::NotFinite);
        }
        if self == Metric::Cosine {
            let norm = distance::dot_f32(v, v).sqrt();
            if norm == 0.0 || !norm.is_finite() {
                return Err(super::VectorError::ZeroVector);
            }
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(())
    }

    /// A copy of `v` checked to have `dim` components and prepared (see `prepare`).
    pub fn prepared(self, dim: usize, v: &[f32]) -> Result<Vec<f32>, super::VectorError> {
        if v.len() != dim {
            return Err(super::VectorError::Dimension {
                expected: dim,
                got: v.len(),
            });
        }
        let mut v = v.to_vec();
        self.prepare(&mut v)?;
        Ok(v)
    }

    /// The metric the graph is pruned with. Pruning compares alpha-scaled distances, which
    /// needs distances ≥ 0; an inner product (negative for close pairs) prunes by L2, the
    /// geometry the graph's routing relies on.
    pub fn prune_metric(self) -> Metric {
        match self {
            Metric::InnerProduct => Metric::L2,
            m => m,
        }
    }

    /// Distance between two prepared full-precision vectors (smaller = closer).
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => 1.0 - distance::dot_f32(a, b),
            Metric::InnerProduct => -distance::dot_f32(a, b),
            Metric::L2 => distance::l2sq_f32(a, b),
        }
    }
}
