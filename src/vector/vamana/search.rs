//! Greedy beam search (DiskANN's GreedySearch) with a list of size L, navigating on the
//! in-RAM codes, and the filter hook: elements the filter rejects are still walked through
//! (they are how the graph reaches the ones it accepts) but never returned.

use std::cell::RefCell;

use super::Vamana;
use crate::vector::quant::QueryCode;

/// Visited marks, one bit per element (a 1M-element index needs 128 KiB, which stays in the
/// L2 cache while the walk's codes stream through; stamps of 4 bytes per element did not and
/// missed on most checks). Reused by every walk of a thread: `reset` clears only the words
/// the last walk touched.
#[derive(Default)]
pub struct Visited {
    bits: Vec<u64>,
    touched: Vec<u32>,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        let words = n.div_ceil(64);
        if self.touched.len() > words / 8 {
            self.bits.iter_mut().for_each(|w| *w = 0);
        } else {
            for &w in &self.touched {
                self.bits[w as usize] = 0;
            }
        }
        self.touched.clear();
        if self.bits.len() < words {
            self.bits.resize(words, 0);
        }
    }

    /// Marks `id`; true if it was not marked yet.
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        let (word, bit) = ((id / 64) as usize, 1u64 << (id % 64));
        let w = &mut self.bits[word];
        if *w & bit != 0 {
            return false;
        }
        if *w == 0 {
            self.touched.push(word as u32);
        }
        *w |= bit;
        true
    }
}

/// The largest degree a walk handles (graphs are built with at most this).
pub const MAX_DEGREE: usize = 256;

thread_local! {
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

/// A candidate of the beam: distance, id, expanded yet.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub dist: f32,
    pub id: u32,
    expanded: bool,
}

/// Inserts into a list sorted by distance, keeping at most `cap`; returns where it went.
#[inline]
fn insert_sorted(list: &mut Vec<Candidate>, c: Candidate, cap: usize) -> Option<usize> {
    if list.len() >= cap && list.last().is_some_and(|l| l.dist <= c.dist) {
        return None;
    }
    let at = list.partition_point(|x| x.dist <= c.dist);
    list.insert(at, c);
    list.truncate(cap);
    Some(at)
}

/// What a walk found.
pub struct Walk {
    /// The best `l` elements seen (all of them, filter or not), closest first.
    pub beam: Vec<Candidate>,
    /// The best `l` elements seen that the filter accepts (empty without a filter).
    pub accepted: Vec<Candidate>,
    /// Every element expanded, in order (the candidate set for pruning during a build).
    pub expanded: Vec<u32>,
}

impl Vamana {
    /// Distance used to walk: the codes (full precision under NOQUANT).
    #[inline]
    pub(crate) fn walk_distance(&self, qc: &QueryCode, id: u32) -> f32 {
        self.codes.distance(self.metric, qc, id)
    }

    /// Walks from the entry point with a list of size `l`. With `filter`, the walk also keeps
    /// the best `l` accepted elements. `record_expanded` keeps the expanded set (builds).
    pub fn walk(
        &self,
        qc: &QueryCode,
        l: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
        record_expanded: bool,
    ) -> Walk {
        let mut walk = Walk {
            beam: Vec::with_capacity(l + 1),
            accepted: Vec::new(),
            expanded: Vec::new(),
        };
        let Some(entry) = self.entry else {
            return walk;
        };
        let n = self.nodes.len();
        VISITED.with(|v| {
            let mut visited = v.borrow_mut();
            visited.reset(n);
            // `cursor`: no candidate before it is unexpanded (DiskANN's priority queue).
            let mut cursor = 0;
            let consider = |walk: &mut Walk, cursor: &mut usize, id: u32, dist: f32| {
                let c = Candidate {
                    dist,
                    id,
                    expanded: false,
                };
                if let Some(at) = insert_sorted(&mut walk.beam, c, l) {
                    *cursor = (*cursor).min(at);
                }
                if let Some(f) = filter {
                    if !self.is_deleted(id) && f(id) {
                        insert_sorted(&mut walk.accepted, c, l);
                    }
                }
            };
            visited.insert(entry);
            let d = self.walk_distance(qc, entry);
            consider(&mut walk, &mut cursor, entry, d);
            loop {
                while cursor < walk.beam.len() && walk.beam[cursor].expanded {
                    cursor += 1;
                }
                let next = cursor;
                if next >= walk.beam.len() {
                    break;
                }
                walk.beam[next].expanded = true;
                let id = walk.beam[next].id;
                // The next node to expand is probably the following one: start loading its
                // list now.
                if let Some(after) = walk.beam[next + 1..].iter().find(|c| !c.expanded) {
                    self.nodes.prefetch_neighbors(after.id);
                }
                if record_expanded {
                    walk.expanded.push(id);
                }
                // Unvisited neighbours first, their codes prefetched, then compared: the walk
                // waits on memory more than it computes.
                let mut fresh = [0u32; MAX_DEGREE];
                let mut count = 0;
                for &nb in self.nodes.neighbors(id).iter() {
                    if (nb as usize) < n && count < MAX_DEGREE && visited.insert(nb) {
                        self.codes.prefetch(nb);
                        fresh[count] = nb;
                        count += 1;
                    }
                }
                for &nb in &fresh[..count] {
                    let d = self.walk_distance(qc, nb);
                    consider(&mut walk, &mut cursor, nb, d);
                }
            }
        });
        walk
    }
}

#[cfg(test)]
mod tests {
    use super::Visited;

    #[test]
    fn visited_marks_are_cleared_by_reset_whatever_was_touched() {
        let mut v = Visited::default();
        for round in 0..3 {
            // Few words touched (cleared one by one), then most of them (cleared whole).
            let touched: Vec<u32> = if round == 1 {
                (0..1000).collect()
            } else {
                vec![0, 63, 64, 999, 5]
            };
            v.reset(1000);
            for &id in &touched {
                assert!(v.insert(id), "round {round}: {id} marked before its insert");
                assert!(!v.insert(id));
            }
            assert_eq!(v.insert(500), !touched.contains(&500));
        }
        // Growing keeps every bit clear.
        v.reset(5000);
        assert!((0..5000).all(|id| v.insert(id)));
    }
}
