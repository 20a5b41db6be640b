//! Building the graph: robust prune (DiskANN's RobustPrune with alpha), insertion
//! (FreshDiskANN: walk, prune, add back-edges, prune neighbours that overflow), and the batch
//! build: two passes over the points in random order (alpha = 1 with half the list size, then
//! the set's alpha with the full list), each pass inserting in batches of doubling size
//! (ParlayANN's prefix doubling) whose walks and prunes run in parallel on every core against
//! the graph as it was before the batch; the batch's edges are then applied, back-edges grouped
//! per target (by sorting, not hashing) and merged and pruned in parallel.

use super::Vamana;
use crate::vector::quant::Codes;
use crate::vector::testutil::Rng;
use crate::vector::VectorError;
use crate::vector::{distance, parallel};

/// An element's new out-neighbours, computed without changing the graph.
pub struct Planned {
    pub id: u32,
    pub neighbors: Vec<u32>,
}

impl Vamana {
    /// RobustPrune(p, candidates, alpha, R): closest first, skipping every candidate that a
    /// kept neighbour already covers (d(p, c) > bar · d(kept, c)).
    pub(crate) fn robust_prune(&self, p: u32, candidates: &[u32], alpha: f32) -> Vec<u32> {
        let dim = self.dim();
        let metric = self.metric.prune_metric();
        let mut ids: Vec<u32> = candidates
            .iter()
            .copied()
            .filter(|&c| c != p && !self.is_deleted(c))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // What the prune compares: the vectors, borrowed while they are in RAM; else Q8
        // codes pairwise (as exact as decoding them, without the decoding: 100k x 128
        // inserts spent a quarter of their time decoding, copying and comparing f32); else the
        // vectors fetched once into a buffer (p's first, then the candidates').
        let all: Vec<u32> = std::iter::once(p).chain(ids.iter().copied()).collect();
        let q8 = match &self.codes {
            Codes::Q8(c) if !self.nodes.vectors_in_ram() => Some(c),
            _ => None,
        };
        let mut fetched: Vec<f32>;
        let vectors: Vec<&[f32]> = if q8.is_some() {
            Vec::new()
        } else if let Some(borrowed) = all
            .iter()
            .map(|&id| self.nodes.vector_in_ram(id))
            .collect::<Option<Vec<&[f32]>>>()
        {
            borrowed
        } else {
            fetched = vec![0.0f32; all.len() * dim];
            for (&id, out) in all.iter().zip(fetched.chunks_exact_mut(dim)) {
                self.build_vector(id, out);
            }
            fetched.chunks_exact(dim).collect()
        };
        let dist = |i: usize, j: usize| match q8 {
            Some(c) => c.pair_distance(metric, all[i] as usize, all[j] as usize),
            None => metric.distance(vectors[i], vectors[j]),
        };
        let prefetch = |i: usize| match q8 {
            Some(c) => c.prefetch(all[i] as usize),
            None => distance::prefetch_slice(vectors[i]),
        };
        // (distance to p, id, index in `all`)
        // The candidates' vectors or codes are scattered and mostly not in cache: each is
        // prefetched a few candidates ahead of its distance.
        const AHEAD: usize = 4;
        for i in 1..all.len().min(1 + AHEAD) {
            prefetch(i);
        }
        let mut pool: Vec<(f32, u32, usize)> = ids
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if i + 1 + AHEAD < all.len() {
                    prefetch(i + 1 + AHEAD);
                }
                (dist(0, i + 1), c, i + 1)
            })
            .collect();
        pool.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let r = self.params.degree;
        let mut kept: Vec<u32> = Vec::with_capacity(r);
        let mut taken = vec![false; pool.len()];
        // How strongly a kept neighbour covers each candidate: max over kept k of
        // d(p, c) / d(k, c). As DiskANN does, the list is filled at alpha = 1 first (the most
        // diverse edges), then the bar is relaxed step by step up to `alpha` while room
        // remains.
        let mut occlusion = vec![0.0f32; pool.len()];
        let mut bar = 1.0f32;
        loop {
            for i in 0..pool.len() {
                if kept.len() >= r {
                    break;
                }
                if taken[i] || occlusion[i] > bar {
                    continue;
                }
                taken[i] = true;
                let star = pool[i].1;
                kept.push(star);
                let si = pool[i].2;
                for j in i + 1..pool.len() {
                    if !taken[j] && occlusion[j] <= alpha {
                        let d_kc = dist(si, pool[j].2);
                        let ratio = if d_kc > 0.0 {
                            pool[j].0 / d_kc
                        } else {
                            f32::INFINITY
                        };
                        occlusion[j] = occlusion[j].max(ratio);
                    }
                }
            }
            if kept.len() >= r || bar >= alpha {
                break;
            }
            bar = (bar * 1.2).min(alpha);
        }
        kept
    }

    /// Walks from the entry to `id` (already stored) and prunes what the walk expanded.
    pub(crate) fn plan(&self, id: u32, alpha: f32) -> Planned {
        self.plan_with(id, alpha, self.params.build_list)
    }

    /// `plan` with a walk of list size `list`.
    pub(crate) fn plan_with(&self, id: u32, alpha: f32, list: usize) -> Planned {
        let mut v = vec![0.0; self.dim()];
        self.build_vector(id, &mut v);
        // The walk navigates on the codes, as searches do.
        let qc = self.codes.encode_query(&v);
        let walk = self.walk(&qc, list, None, true);
        let mut candidates = walk.expanded;
        candidates.extend(walk.beam.iter().map(|c| c.id));
        candidates.extend_from_slice(&self.nodes.neighbors(id));
        Planned {
            id,
            neighbors: self.robust_prune(id, &candidates, alpha),
        }
    }

    /// Applies planned lists: each element's own list, then the back-edges, grouped by
    /// target, with a prune back to the degree wherever a list overflows its slack.
    pub(crate) fn apply(&mut self, plans: Vec<Planned>, alpha: f32, threads: usize) {
        let lists = self.finish_links(plans, alpha, threads);
        self.write_links(lists);
    }

    /// The final lists `plans` lead to (the new elements' own lists and every back-edge
    /// target's, pruned where they overflow), computed without changing the graph, so a
    /// caller holding the index behind a RwLock does this under the read lock and only
    /// `write_links` under the write lock.
    pub(crate) fn finish_links(
        &self,
        plans: Vec<Planned>,
        alpha: f32,
        threads: usize,
    ) -> Vec<Planned> {
        // Every planned edge as (target, source), sorted: each target's back-edges form one
        // run, and the runs are merged and pruned in parallel.
        let mut edges: Vec<(u32, u32)> = plans
            .iter()
            .flat_map(|p| p.neighbors.iter().map(move |&n| (n, p.id)))
            .collect();
        edges.sort_unstable();
        let mut own: Vec<(u32, usize)> = plans.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        own.sort_unstable();
        let own_list = |id: u32| {
            own.binary_search_by_key(&id, |&(id, _)| id)
                .ok()
                .map(|i| &plans[own[i].1].neighbors[..])
        };
        let runs: Vec<&[(u32, u32)]> = edges.chunk_by(|a, b| a.0 == b.0).collect();
        let room = super::slack(self.params.degree);
        let mut lists = parallel::map(&runs, threads, |run| {
            let target = run[0].0;
            let mut list = match own_list(target) {
                Some(planned) => planned.to_vec(),
                None => self.nodes.neighbors(target).to_vec(),
            };
            for &(_, source) in run.iter() {
                if !list.contains(&source) {
                    list.push(source);
                }
            }
            if list.len() > room {
                list = self.robust_prune(target, &list, alpha);
            }
            Planned {
                id: target,
                neighbors: list,
            }
        });
        // New elements nobody links back to keep their planned list as it is (`lists` is in
        // target order).
        let unlinked: Vec<Planned> = plans
            .into_iter()
            .filter(|p| lists.binary_search_by_key(&p.id, |l| l.id).is_err())
            .collect();
        lists.extend(unlinked);
        lists
    }

    /// Writes lists computed by `finish_links`.
    pub(crate) fn write_links(&mut self, lists: Vec<Planned>) {
        for l in lists {
            self.nodes.set_neighbors(l.id, &l.neighbors);
        }
    }

    /// Inserts one stored element (incremental insert).
    pub(crate) fn link(&mut self, id: u32) {
        if self.entry.is_none() {
            self.entry = Some(id);
            return;
        }
        let plan = self.plan(id, self.params.alpha);
        self.apply(vec![plan], self.params.alpha, 1);
    }

    /// Builds the graph over every stored element: two passes, in parallel batches.
    pub(crate) fn build_all(&mut self, threads: usize) -> Result<(), VectorError> {
        let n = self.nodes.len();
        if n == 0 {
            return Ok(());
        }
        self.entry = Some(self.approximate_medoid());
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut rng = Rng::new(0x5eed);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let max_batch = (n / 50).max(64);
        // The alpha = 1 pass only lays a connected scaffold for the second one, which decides
        // the graph's quality: it walks with half the list (100k x 128: build 1.2x faster;
        // 300k x 96: 1.15x; recall@10 at L = 50 to 200 unchanged within 0.002).
        let first_list = (self.params.build_list / 2).max(1);
        for (alpha, list) in [
            (1.0, first_list),
            (self.params.alpha, self.params.build_list),
        ] {
            let mut done = 0;
            let mut batch = 1;
            while done < n {
                let end = (done + batch).min(n);
                let ids = &order[done..end];
                let this = &*self;
                let plans = parallel::map(ids, threads, |&id| this.plan_with(id, alpha, list));
                self.apply(plans, alpha, threads);
                done = end;
                batch = (batch * 2).min(max_batch);
            }
        }
        self.trim_to_degree(threads);
        Ok(())
    }

    /// Prunes every list longer than the degree (the end of a batch build).
    fn trim_to_degree(&mut self, threads: usize) {
        let (r, alpha) = (self.params.degree, self.params.alpha);
        let long: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&id| self.nodes.neighbors(id).len() > r)
            .collect();
        let this = &*self;
        let trimmed = parallel::map(&long, threads, |&id| {
            (id, this.robust_prune(id, &this.nodes.neighbors(id), alpha))
        });
        for (id, list) in trimmed {
            self.nodes.set_neighbors(id, &list);
        }
    }

    /// The stored element closest to the mean of a sample (the walk's start).
    fn approximate_medoid(&self) -> u32 {
        let n = self.nodes.len();
        let dim = self.dim();
        let step = (n / 10_000).max(1);
        let sample: Vec<u32> = (0..n).step_by(step).map(|id| id as u32).collect();
        let mut vectors = vec![0.0f32; sample.len() * dim];
        for (&id, out) in sample.iter().zip(vectors.chunks_exact_mut(dim)) {
            self.build_vector(id, out);
        }
        let mut mean = vec![0.0f32; dim];
        for v in vectors.chunks_exact(dim) {
            for (m, x) in mean.iter_mut().zip(v) {
                *m += x;
            }
        }
        mean.iter_mut()
            .for_each(|m| *m /= sample.len().max(1) as f32);
        sample
            .iter()
            .zip(vectors.chunks_exact(dim))
            .map(|(&id, v)| (crate::vector::distance::l2sq_f32(&mean, v), id))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(0, |(_, id)| id)
    }
}
