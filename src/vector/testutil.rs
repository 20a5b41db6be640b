//! Deterministic random data for tests, benchmarks and k-means seeding (no dependency).

/// xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// Gaussian cluster centres ~ N(0, I) (the benchmark data of issue 6): points drawn from
/// them are centre + N(0, I); queries are fresh draws from the same centres.
pub struct Clusters {
    dim: usize,
    centres: Vec<f32>,
}

impl Clusters {
    pub fn new(count: usize, dim: usize, seed: u64) -> Clusters {
        let mut rng = Rng::new(seed);
        Clusters {
            dim,
            centres: (0..count * dim).map(|_| rng.normal()).collect(),
        }
    }

    /// `n` points, row-major.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed ^ 0xA5A5_A5A5);
        let count = self.centres.len() / self.dim;
        let mut out = Vec::with_capacity(n * self.dim);
        for _ in 0..n {
            let k = rng.below(count);
            for d in 0..self.dim {
                out.push(self.centres[k * self.dim + d] + rng.normal());
            }
        }
        out
    }
}
