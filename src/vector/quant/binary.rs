//! BIN: one sign bit per dimension; distance is the Hamming distance between sign patterns.

#[derive(Debug, Clone)]
pub struct BinCodes {
    words: usize,
    codes: Vec<u64>,
}

impl BinCodes {
    pub fn new(dim: usize) -> BinCodes {
        BinCodes {
            words: dim.div_ceil(64),
            codes: Vec::new(),
        }
    }

    pub fn encode(&self, v: &[f32]) -> Vec<u64> {
        let mut out = vec![0u64; self.words];
        for (i, x) in v.iter().enumerate() {
            if *x > 0.0 {
                out[i / 64] |= 1 << (i % 64);
            }
        }
        out
    }

    pub fn reserve_exact(&mut self, more: usize) {
        self.codes.reserve_exact(more * self.words);
    }

    pub fn push(&mut self, v: &[f32]) {
        let code = self.encode(v);
        self.codes.extend(code);
    }

    pub fn code(&self, id: usize) -> &[u64] {
        &self.codes[id * self.words..(id + 1) * self.words]
    }

    pub fn memory_bytes(&self) -> usize {
        self.codes.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_become_bits_and_hamming_counts_flips() {
        let mut c = BinCodes::new(70);
        let mut v = vec![-1.0f32; 70];
        v[0] = 1.0;
        v[69] = 2.0;
        c.push(&v);
        assert_eq!(c.code(0), [1, 1 << 5]);
        let q = c.encode(&vec![1.0f32; 70]);
        assert_eq!(crate::vector::distance::hamming(&q, c.code(0)), 68);
    }
}
