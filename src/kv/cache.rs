//! A bounded in-memory cache of metadata rows in front of redb, for reads.
//!
//! Readers fill it from their snapshots; the engine invalidates the keys a batch changed
//! after the batch commits and before its replies leave. A fill is tagged with the LSN its
//! snapshot had applied and is refused below the `watermark`: the highest LSN of any
//! invalidation or eviction so far. So a reader holding a snapshot older than a write can never
//! put the old value back: either its fill lands before the invalidation (which then removes
//! it) or after it (and is refused, its LSN being below the watermark).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

const SHARDS: usize = 16;
/// Bookkeeping bytes counted per entry besides key and row.
const ENTRY_OVERHEAD: usize = 64;

/// `db (u32 BE) · key`, so lookups can borrow it as a plain byte slice.
type CacheKey = Box<[u8]>;

/// Calls `f` with `db · key` built on the stack when short (no allocation on the read path).
fn with_cache_key<R>(db: u32, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 128];
    if key.len() + 4 <= buf.len() {
        buf[..4].copy_from_slice(&db.to_be_bytes());
        buf[4..4 + key.len()].copy_from_slice(key);
        f(&buf[..4 + key.len()])
    } else {
        let mut owned = db.to_be_bytes().to_vec();
        owned.extend_from_slice(key);
        f(&owned)
    }
}

#[derive(Default)]
struct Shard {
    /// `None` = the key is known not to exist.
    map: HashMap<CacheKey, Option<Arc<[u8]>>, foldhash::quality::RandomState>,
    /// Insertion order, for FIFO eviction (may hold keys already gone).
    order: VecDeque<CacheKey>,
    bytes: usize,
}

/// The row cache.
pub struct RowCache {
    shards: Vec<Mutex<Shard>>,
    /// Picks a key's shard.
    shard_hasher: foldhash::quality::RandomState,
    shard_budget: usize,
    watermark: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache")
            .field("budget", &(self.shard_budget * SHARDS))
            .finish()
    }
}

fn entry_size(key: &[u8], row: &Option<Arc<[u8]>>) -> usize {
    row_size(key, row.as_deref())
}

fn row_size(key: &[u8], row: Option<&[u8]>) -> usize {
    key.len() + row.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

impl RowCache {
    /// A cache holding about `budget_bytes` (0 disables it).
    pub fn new(budget_bytes: usize) -> RowCache {
        RowCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_hasher: foldhash::quality::RandomState::default(),
            shard_budget: budget_bytes / SHARDS,
            watermark: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, cache_key: &[u8]) -> MutexGuard<'_, Shard> {
        let index = (self.shard_hasher.hash_one(cache_key) as usize) % SHARDS;
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(row)` on a hit (`Some(None)`: known missing), `None` on a miss.
    pub fn get(&self, db: u32, key: &[u8]) -> Option<Option<Arc<[u8]>>> {
        if self.shard_budget == 0 {
            return None;
        }
        let found = self.peek(db, key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Like `get`, without counting a hit or miss (the engine's own lookups).
    pub fn peek(&self, db: u32, key: &[u8]) -> Option<Option<Arc<[u8]>>> {
        if self.shard_budget == 0 {
            return None;
        }
        with_cache_key(db, key, |k| self.shard(k).map.get(k).cloned())
    }

    /// Stores what a snapshot that had applied `snapshot_lsn` read for `key`.
    pub fn fill(&self, db: u32, key: &[u8], row: Option<&[u8]>, snapshot_lsn: u64) {
        if self.shard_budget == 0 {
            return;
        }
        let k: CacheKey = with_cache_key(db, key, |k| Box::from(k));
        let mut shard = self.shard(&k);
        // Checked under the shard lock: refreshes take it too, after raising the mark.
        if snapshot_lsn < self.watermark.load(Ordering::SeqCst) {
            return;
        }
        self.insert(&mut shard, k, row.map(Arc::from));
    }

    /// What a batch committed at `lsn` did to `keys` (called before its replies leave): for
    /// each, `Some(row)` is the key's row now (`Some(None)`: it is gone), which replaces the
    /// cached one if the key is cached; `None` forgets the key.
    pub fn refresh<'a>(
        &self,
        keys: impl IntoIterator<Item = (u32, &'a [u8], Option<Option<&'a [u8]>>)>,
        lsn: u64,
    ) {
        if self.shard_budget == 0 {
            return;
        }
        self.watermark.fetch_max(lsn, Ordering::SeqCst);
        for (db, key, now) in keys {
            with_cache_key(db, key, |k| {
                let mut shard = self.shard(k);
                // Replaced in place (one probe, no key copies: refreshes were an eighth of
                // INCR at -P 16); a row grown past the budget must not stay.
                let Some(slot) = shard.map.get_mut(k) else {
                    return;
                };
                match now {
                    Some(row) if row_size(k, row) <= self.shard_budget => {
                        let old = std::mem::replace(slot, row.map(Arc::from));
                        shard.bytes = shard.bytes + row_size(k, row) - entry_size(k, &old);
                        self.evict_over_budget(&mut shard);
                    }
                    _ => {
                        if let Some(old) = shard.map.remove(k) {
                            shard.bytes -= entry_size(k, &old);
                        }
                    }
                }
            });
        }
    }

    /// Stores the latest row of `key`, as the write path read it outside the cache (only the
    /// write path may: between batches its view is the newest there is).
    pub fn store(&self, db: u32, key: &[u8], row: Option<&[u8]>) {
        if self.shard_budget == 0 {
            return;
        }
        let k: CacheKey = with_cache_key(db, key, |k| Box::from(k));
        let mut shard = self.shard(&k);
        self.insert(&mut shard, k, row.map(Arc::from));
    }

    /// Puts `row` in `shard`, evicting the oldest entries beyond the budget.
    fn insert(&self, shard: &mut Shard, k: CacheKey, row: Option<Arc<[u8]>>) {
        let size = entry_size(&k, &row);
        if size > self.shard_budget {
            if let Some(old) = shard.map.remove(&k) {
                shard.bytes -= entry_size(&k, &old);
            }
            return;
        }
        shard.bytes += size;
        match shard.map.insert(k.clone(), row) {
            // A replaced entry keeps its place in the eviction order.
            Some(old) => shard.bytes -= entry_size(&k, &old),
            None => shard.order.push_back(k),
        }
        self.evict_over_budget(shard);
        // Keys removed and put back leave stale places behind: drop them before they pile up.
        if shard.order.len() > 2 * shard.map.len() + 64 {
            let map = &shard.map;
            let mut seen = std::collections::HashSet::with_capacity(map.len());
            shard
                .order
                .retain(|k| map.contains_key(k) && seen.insert(k.clone()));
        }
    }

    /// Evicts the oldest entries until `shard` is within its budget.
    fn evict_over_budget(&self, shard: &mut Shard) {
        while shard.bytes > self.shard_budget {
            let Some(victim) = shard.order.pop_front() else {
                break;
            };
            // Evicting needs no watermark: a key changed after some snapshot was refreshed,
            // which already raised the mark above that snapshot.
            if let Some(old) = shard.map.remove(&victim) {
                shard.bytes -= entry_size(&victim, &old);
            }
        }
    }

    /// Forgets everything (FLUSHDB, FLUSHALL, SWAPDB) after a commit at `lsn`.
    pub fn clear(&self, lsn: u64) {
        self.watermark.fetch_max(lsn, Ordering::SeqCst);
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.map.clear();
            shard.order.clear();
            shard.bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_fills_are_refused() {
        let cache = RowCache::new(1 << 20);
        cache.fill(0, b"k", Some(b"old"), 5);
        assert_eq!(cache.get(0, b"k"), Some(Some(Arc::from(&b"old"[..]))));
        // A write at LSN 6 commits and forgets it; a reader of the snapshot at 5 comes late.
        cache.refresh([(0, &b"k"[..], None)], 6);
        assert_eq!(cache.get(0, b"k"), None);
        cache.fill(0, b"k", Some(b"old"), 5);
        assert_eq!(
            cache.get(0, b"k"),
            None,
            "a fill from before the write is refused"
        );
        cache.fill(0, b"k", Some(b"new"), 6);
        assert_eq!(cache.get(0, b"k"), Some(Some(Arc::from(&b"new"[..]))));
        cache.fill(0, b"gone", None, 6);
        assert_eq!(cache.get(0, b"gone"), Some(None));
        cache.clear(7);
        assert_eq!(cache.get(0, b"k"), None);
    }

    #[test]
    fn refreshes_store_the_latest_rows_and_the_order_stays_bounded() {
        let cache = RowCache::new(1 << 20);
        cache.refresh([(0, &b"k"[..], Some(Some(&b"v1"[..])))], 3);
        assert_eq!(cache.peek(0, b"k"), None, "only cached keys are refreshed");
        cache.store(0, b"k", Some(b"v0"));
        cache.refresh([(0, &b"k"[..], Some(Some(&b"v1"[..])))], 3);
        assert_eq!(cache.peek(0, b"k"), Some(Some(Arc::from(&b"v1"[..]))));
        cache.fill(0, b"k", Some(b"v0"), 2);
        assert_eq!(
            cache.peek(0, b"k"),
            Some(Some(Arc::from(&b"v1"[..]))),
            "a fill older than the refresh is refused"
        );
        let huge = vec![0u8; 1 << 20];
        cache.refresh([(0, &b"k"[..], Some(Some(&huge[..])))], 4);
        assert_eq!(
            cache.peek(0, b"k"),
            None,
            "a row past the budget is not kept"
        );
        cache.store(0, b"k", Some(b"v1"));
        cache.refresh([(0, &b"k"[..], Some(None))], 4);
        assert_eq!(cache.peek(0, b"k"), Some(None), "deleted: known missing");
        // Keys forgotten and stored again many times do not grow the eviction order.
        for lsn in 5..10_000u64 {
            cache.refresh([(0, &b"k"[..], None)], lsn);
            cache.store(0, b"k", Some(b"v"));
        }
        let order: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().unwrap().order.len())
            .sum();
        assert!(order <= 2 + 64, "{order}");
        assert_eq!(cache.peek(0, b"k"), Some(Some(Arc::from(&b"v"[..]))));
    }

    #[test]
    fn budget_is_kept() {
        let cache = RowCache::new(SHARDS * 1000);
        for i in 0..1000u32 {
            cache.fill(0, &i.to_be_bytes(), Some(&[0u8; 100]), 1);
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(total <= SHARDS * 1000, "{total}");
        assert!(
            cache.get(0, &999u32.to_be_bytes()).is_some(),
            "recent entries stay"
        );
    }
}
