//! Deletes: a tombstone at once (the element keeps routing walks but is never returned), and
//! FreshDiskANN's consolidation: every live element pointing at deleted ones takes their live
//! neighbours as candidates and is pruned again; deleted elements lose all their edges.

use super::Vamana;

impl Vamana {
    pub(crate) fn mark_deleted(&mut self, id: u32) -> bool {
        match self.deleted.get_mut(id as usize) {
            Some(d) if !*d => {
                *d = true;
                self.deleted_count += 1;
                self.unconsolidated += 1;
                true
            }
            _ => false,
        }
    }

    /// Deletes `id`; false if there was no such live element.
    pub fn delete(&mut self, id: u32) -> bool {
        if !self.mark_deleted(id) {
            return false;
        }
        if self.entry == Some(id) {
            // The walk must start somewhere live (a deleted entry would still route, but it
            // would be dropped by the next consolidation).
            self.entry = (0..self.nodes.len() as u32)
                .find(|&i| !self.is_deleted(i) && !self.nodes.neighbors(i).is_empty())
                .or_else(|| (0..self.nodes.len() as u32).find(|&i| !self.is_deleted(i)));
        }
        true
    }

    /// Deleted elements (tombstones) waiting for consolidation.
    pub fn tombstones(&self) -> usize {
        self.deleted.iter().filter(|d| **d).count()
    }

    /// Deletes since the last consolidation.
    pub fn unconsolidated(&self) -> usize {
        self.unconsolidated
    }

    /// Rewires the graph around every tombstone; returns how many lists changed.
    pub fn consolidate(&mut self) -> usize {
        self.unconsolidated = 0;
        if self.deleted_count == 0 {
            return 0;
        }
        let alpha = self.params.alpha;
        let mut changed = Vec::new();
        for p in 0..self.nodes.len() as u32 {
            if self.is_deleted(p) {
                continue;
            }
            let list = self.nodes.neighbors(p);
            if !list.iter().any(|&n| self.is_deleted(n)) {
                continue;
            }
            let mut candidates: Vec<u32> = Vec::new();
            for &n in list.iter() {
                if self.is_deleted(n) {
                    candidates.extend(
                        self.nodes
                            .neighbors(n)
                            .iter()
                            .copied()
                            .filter(|&m| !self.is_deleted(m)),
                    );
                } else {
                    candidates.push(n);
                }
            }
            changed.push((p, self.robust_prune(p, &candidates, alpha)));
        }
        let count = changed.len();
        for (p, list) in changed {
            self.nodes.set_neighbors(p, &list);
        }
        for id in 0..self.nodes.len() as u32 {
            if self.is_deleted(id) {
                self.nodes.set_neighbors(id, &[]);
            }
        }
        count
    }
}
