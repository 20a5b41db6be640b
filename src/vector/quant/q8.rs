//! Q8: each vector as int8 codes with one scale (max |xᵢ| / 127), as Redis vector sets store
//! them. Dot products run on the int8 codes (exact in i32) and are rescaled; L2 comes from the
//! dot product and the stored squared norms.

use crate::vector::distance;
use crate::vector::metric::Metric;

/// One cache line of codes: the buffer's unit of allocation, so that it starts on a line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Line([i8; 64]);

/// Bytes on a cache-line-aligned base: when `dim` is a multiple of 64, every code covers
/// exactly `dim / 64` lines (a 128-byte code at an arbitrary address spans three lines, and
/// the walk, bound by memory latency, waits on each).
#[derive(Debug, Clone, Default)]
struct AlignedBytes {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBytes {
    fn as_slice(&self) -> &[i8] {
        // SAFETY: `lines` holds `lines.len() * 64` initialised bytes, contiguous (`Line` is
        // `repr(C)` with no padding: an array of 64 i8 aligned to 64), and `len` never passes
        // that; the slice borrows `self`, so the buffer outlives it.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<i8>(), self.len) }
    }

    fn push(&mut self, bytes: &[i8]) {
        let need = (self.len + bytes.len()).div_ceil(64);
        if need > self.lines.len() {
            self.lines.resize(need, Line([0; 64]));
        }
        let mut at = self.len;
        for chunk in bytes.chunks(64) {
            let (line, offset) = (at / 64, at % 64);
            let first = chunk.len().min(64 - offset);
            self.lines[line].0[offset..offset + first].copy_from_slice(&chunk[..first]);
            if first < chunk.len() {
                self.lines[line + 1].0[..chunk.len() - first].copy_from_slice(&chunk[first..]);
            }
            at += chunk.len();
        }
        self.len = at;
    }

    fn reserve_exact(&mut self, more: usize) {
        let lines = (self.len + more)
            .div_ceil(64)
            .saturating_sub(self.lines.len());
        self.lines.reserve_exact(lines);
    }

    fn capacity_bytes(&self) -> usize {
        self.lines.capacity() * 64
    }
}

#[derive(Debug, Clone)]
pub struct Q8Codes {
    dim: usize,
    codes: AlignedBytes,
    scales: Vec<f32>,
    norms: NormSource,
}

/// `Norms` as held: the stored squared norms of the original vectors, or what stands for them.
#[derive(Debug, Clone)]
enum NormSource {
    Stored(Vec<f32>),
    Unit,
    FromCodes,
}

/// Where Q8 codes find the squared norms that L2 distances (and the pruning of inner-product
/// graphs, which is by L2) take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norms {
    /// Stored, 4 bytes per element.
    Stored,
    /// Every vector has norm 1 or is the zero vector (cosine sets normalise them): 1, or 0 for
    /// the zero vector, the only one quantized with scale 1 (a unit vector's is at most
    /// 1/127). Nothing stored.
    Unit,
    /// Never needed by the index's distances; if asked, from the codes. Nothing stored.
    Unused,
}

/// A query's Q8 form.
#[derive(Debug, Clone)]
pub struct Q8Query {
    codes: Vec<i8>,
    scale: f32,
    norm: f32,
}

/// int8 codes and the scale that decodes them.
pub fn quantize(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    out.extend(
        v.iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

impl Q8Query {
    pub fn new(v: &[f32]) -> Q8Query {
        let mut codes = Vec::with_capacity(v.len());
        let scale = quantize(v, &mut codes);
        Q8Query {
            codes,
            scale,
            norm: distance::dot_f32(v, v),
        }
    }
}

impl Q8Codes {
    pub fn new(dim: usize, norms: Norms) -> Q8Codes {
        Q8Codes {
            dim,
            codes: AlignedBytes::default(),
            scales: Vec::new(),
            norms: match norms {
                Norms::Stored => NormSource::Stored(Vec::new()),
                Norms::Unit => NormSource::Unit,
                Norms::Unused => NormSource::FromCodes,
            },
        }
    }

    /// Makes room for `more` codes, exactly.
    pub fn reserve_exact(&mut self, more: usize) {
        self.codes.reserve_exact(more * self.dim);
        self.scales.reserve_exact(more);
        if let NormSource::Stored(norms) = &mut self.norms {
            norms.reserve_exact(more);
        }
    }

    pub fn push(&mut self, v: &[f32]) {
        let mut code = Vec::with_capacity(v.len());
        let scale = quantize(v, &mut code);
        self.codes.push(&code);
        self.scales.push(scale);
        if let NormSource::Stored(norms) = &mut self.norms {
            norms.push(distance::dot_f32(v, v));
        }
    }

    pub fn code(&self, id: usize) -> &[i8] {
        &self.codes.as_slice()[id * self.dim..(id + 1) * self.dim]
    }

    /// Starts loading element `id`'s code (every cache line of it) and scale.
    #[inline]
    pub fn prefetch(&self, id: usize) {
        distance::prefetch_slice(self.code(id));
        distance::prefetch(&self.scales[id]);
    }

    /// The decoded vector of element `id`.
    pub fn decode(&self, id: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.dim];
        self.decode_into(id, &mut out);
        out
    }

    /// Writes the decoded vector of element `id` into `out` (`dim` long).
    pub fn decode_into(&self, id: usize, out: &mut [f32]) {
        let s = self.scales[id];
        for (x, &c) in out.iter_mut().zip(self.code(id)) {
            *x = f32::from(c) * s;
        }
    }

    #[inline]
    pub fn distance(&self, metric: Metric, q: &Q8Query, id: usize) -> f32 {
        let dot = distance::dot_i8(&q.codes, self.code(id)) as f32 * q.scale * self.scales[id];
        match metric {
            Metric::Cosine => 1.0 - dot,
            Metric::InnerProduct => -dot,
            Metric::L2 => (q.norm + self.norm(id) - 2.0 * dot).max(0.0),
        }
    }

    /// Distance between elements `a` and `b` from their codes alone: what decoding both and
    /// comparing the decoded vectors gives, without decoding (prunes of a graph whose vectors
    /// are not in RAM).
    #[inline]
    pub fn pair_distance(&self, metric: Metric, a: usize, b: usize) -> f32 {
        let dot =
            distance::dot_i8(self.code(a), self.code(b)) as f32 * self.scales[a] * self.scales[b];
        match metric {
            Metric::Cosine => 1.0 - dot,
            Metric::InnerProduct => -dot,
            Metric::L2 => (self.norm(a) + self.norm(b) - 2.0 * dot).max(0.0),
        }
    }

    /// Element `id`'s squared norm (see `Norms`).
    #[inline]
    fn norm(&self, id: usize) -> f32 {
        match &self.norms {
            NormSource::Stored(norms) => norms[id],
            NormSource::Unit => {
                if self.scales[id] == 1.0 {
                    0.0
                } else {
                    1.0
                }
            }
            NormSource::FromCodes => {
                let s = self.scales[id];
                distance::dot_i8(self.code(id), self.code(id)) as f32 * s * s
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        let norms = match &self.norms {
            NormSource::Stored(norms) => norms.capacity(),
            _ => 0,
        };
        self.codes.capacity_bytes() + (self.scales.capacity() + norms) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::testutil::Rng;

    #[test]
    fn q8_distances_track_full_precision() {
        let mut rng = Rng::new(3);
        let dim = 128;
        let mut codes = Q8Codes::new(dim, Norms::Stored);
        let vs: Vec<Vec<f32>> = (0..50)
            .map(|_| (0..dim).map(|_| rng.normal()).collect())
            .collect();
        for v in &vs {
            codes.push(v);
        }
        let q: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        let qc = Q8Query::new(&q);
        for (i, v) in vs.iter().enumerate() {
            let exact = Metric::L2.distance(&q, v);
            let approx = codes.distance(Metric::L2, &qc, i);
            assert!((exact - approx).abs() < 0.02 * exact, "{exact} vs {approx}");
            let exact = -distance::dot_f32(&q, v);
            let approx = codes.distance(Metric::InnerProduct, &qc, i);
            assert!((exact - approx).abs() < 0.5, "{exact} vs {approx}");
        }
        let back = codes.decode(0);
        assert!(back.iter().zip(&vs[0]).all(|(a, b)| (a - b).abs() < 0.03));
        // Between two stored elements, from their codes alone.
        for (a, b) in [(0usize, 1usize), (2, 40), (7, 7)] {
            let exact = Metric::L2.distance(&vs[a], &vs[b]);
            let approx = codes.pair_distance(Metric::L2, a, b);
            assert!(
                (exact - approx).abs() < 0.02 * exact.max(1.0),
                "{exact} vs {approx}"
            );
            let exact = -distance::dot_f32(&vs[a], &vs[b]);
            let approx = codes.pair_distance(Metric::InnerProduct, a, b);
            assert!((exact - approx).abs() < 0.5, "{exact} vs {approx}");
        }
    }

    #[test]
    fn codes_without_stored_norms_give_the_same_l2() {
        let mut rng = Rng::new(5);
        let dim = 96;
        let mut vs: Vec<Vec<f32>> = (0..20)
            .map(|_| {
                let v: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
                let norm = distance::dot_f32(&v, &v).sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect();
        vs.push(vec![0.0; dim]);
        let codes = |norms| {
            let mut c = Q8Codes::new(dim, norms);
            c.reserve_exact(vs.len());
            vs.iter().for_each(|v| c.push(v));
            c
        };
        let (stored, unit, unused) = (
            codes(Norms::Stored),
            codes(Norms::Unit),
            codes(Norms::Unused),
        );
        assert_eq!(stored.memory_bytes() - unit.memory_bytes(), vs.len() * 4);
        assert_eq!(unit.memory_bytes(), unused.memory_bytes());
        let qc = Q8Query::new(&vs[3]);
        let zero = vs.len() - 1;
        for i in 0..vs.len() {
            assert_eq!(unit.norm(i), if i == zero { 0.0 } else { 1.0 });
            let decoded = unused.decode(i);
            let norm = distance::dot_f32(&decoded, &decoded);
            assert!((unused.norm(i) - norm).abs() <= 1e-2 * norm, "{i}");
            let exact = stored.distance(Metric::L2, &qc, i);
            for other in [&unit, &unused] {
                let d = other.distance(Metric::L2, &qc, i);
                assert!((exact - d).abs() < 0.02, "{i}: {exact} vs {d}");
                let (e, p) = (
                    stored.pair_distance(Metric::L2, i, 5),
                    other.pair_distance(Metric::L2, i, 5),
                );
                assert!((e - p).abs() < 0.02, "{i}: {e} vs {p}");
            }
        }
    }

    #[test]
    fn codes_start_on_a_cache_line_and_keep_every_byte() {
        for dim in [1usize, 63, 64, 65, 96, 128, 200] {
            let mut codes = Q8Codes::new(dim, Norms::Unused);
            let vs: Vec<Vec<f32>> = (0..40)
                .map(|i| {
                    (0..dim)
                        .map(|j| ((i * 7 + j * 13) % 255) as f32 - 127.0)
                        .collect()
                })
                .collect();
            for v in &vs {
                codes.push(v);
            }
            assert_eq!(codes.code(0).as_ptr() as usize % 64, 0);
            for (i, v) in vs.iter().enumerate() {
                let mut expected = Vec::new();
                quantize(v, &mut expected);
                assert_eq!(codes.code(i), &expected[..], "dim {dim} element {i}");
            }
        }
    }

    #[test]
    fn zero_vectors_quantize_without_dividing_by_zero() {
        let mut out = Vec::new();
        assert_eq!(quantize(&[0.0; 4], &mut out), 1.0);
        assert_eq!(out, [0, 0, 0, 0]);
    }
}
