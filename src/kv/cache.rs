//! A bounded in-memory cache of metadata rows in front of redb, for reads.
//!
//! Readers fill it from their snapshots; the engine invalidates the keys a batch changed
//! after the batch commits and before its replies leave. A fill is tagged with the LSN its
//! snapshot had applied and is refused below the `watermark`: the highest LSN of any
//! invalidation or eviction so far. So a reader holding a snapshot older than a write can never
//! put the old value back: either its fill lands before the invalidation (which then removes
//! it) or after it (and is refused, its LSN being below the watermark).

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use hashbrown::HashTable;

const SHARDS: usize = 16;
/// Bookkeeping bytes counted per entry besides key and row (the table's slot and its share
/// of the table's spare room) ...
const ENTRY_OVERHEAD: usize = 64;
/// ... and for key and row boxed apart from the slot.
const HEAP_OVERHEAD: usize = 24;

/// Calls `f` with `db (u32 BE) · key` built on the stack when short (no allocation on the
/// read path).
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

/// One cached row: the cache key and the row together, in the table's slot when they fit
/// (most counters and short strings), else in one allocation beside it. A lookup then reads
/// the slot alone, or one block past it (a map of boxed keys to reference-counted rows read
/// three: key, count, row; GET -P 16 spent a third of its time in the lookup, mostly waiting
/// on them; with the bytes always boxed, INCR -P 16 still spent a fifth of its writer thread
/// in the cache).
struct Entry {
    hash: u64,
    key_len: u32,
    /// `false`: the key is known not to exist (`data` is just the key).
    present: bool,
    data: Data,
}

/// Bytes kept in the slot itself: a 64-byte entry.
const INLINE: usize = 46;

enum Data {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Data {
    fn new(parts: [&[u8]; 2]) -> Data {
        let len = parts[0].len() + parts[1].len();
        if len <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..parts[0].len()].copy_from_slice(parts[0]);
            bytes[parts[0].len()..len].copy_from_slice(parts[1]);
            Data::Inline {
                len: len as u8,
                bytes,
            }
        } else {
            Data::Heap(parts.concat().into_boxed_slice())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Data::Inline { len, bytes } => &bytes[..*len as usize],
            Data::Heap(b) => b,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Data::Inline { len, bytes } => &mut bytes[..*len as usize],
            Data::Heap(b) => b,
        }
    }
}

impl Entry {
    fn new(hash: u64, k: &[u8], row: Option<&[u8]>) -> Entry {
        Entry {
            hash,
            // Cache keys are client keys (at most 512 MiB) plus four bytes.
            key_len: k.len() as u32,
            present: row.is_some(),
            data: Data::new([k, row.unwrap_or_default()]),
        }
    }

    fn key(&self) -> &[u8] {
        &self.data.bytes()[..self.key_len as usize]
    }

    fn row(&self) -> Option<&[u8]> {
        self.present
            .then(|| &self.data.bytes()[self.key_len as usize..])
    }

    fn row_mut(&mut self) -> Option<&mut [u8]> {
        let key_len = self.key_len as usize;
        self.present.then(|| &mut self.data.bytes_mut()[key_len..])
    }

    fn size(&self) -> usize {
        let boxed = match self.data {
            Data::Inline { .. } => 0,
            // The allocation's own header and rounding.
            Data::Heap(_) => HEAP_OVERHEAD,
        };
        self.data.bytes().len() + ENTRY_OVERHEAD + boxed
    }
}

#[derive(Default)]
struct Shard {
    map: HashTable<Entry>,
    /// Insertion order (by hash), for FIFO eviction; may hold keys already gone.
    order: VecDeque<u64>,
    bytes: usize,
}

/// Whether `e` is the entry of `k` (whose hash is `hash`).
fn is_entry_of(hash: u64, k: &[u8]) -> impl Fn(&Entry) -> bool + '_ {
    move |e| e.hash == hash && e.key() == k
}

impl Shard {
    fn find(&self, hash: u64, k: &[u8]) -> Option<&Entry> {
        self.map.find(hash, is_entry_of(hash, k))
    }

    fn find_mut(&mut self, hash: u64, k: &[u8]) -> Option<&mut Entry> {
        self.map.find_mut(hash, is_entry_of(hash, k))
    }

    fn remove(&mut self, hash: u64, k: &[u8]) {
        if let Ok(found) = self.map.find_entry(hash, is_entry_of(hash, k)) {
            let (old, _) = found.remove();
            self.bytes -= old.size();
        }
    }
}

/// The row cache.
pub struct RowCache {
    shards: Vec<Mutex<Shard>>,
    hasher: foldhash::quality::RandomState,
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

fn row_size(key: &[u8], row: Option<&[u8]>) -> usize {
    key.len() + row.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

impl RowCache {
    /// A cache holding about `budget_bytes` (0 disables it).
    pub fn new(budget_bytes: usize) -> RowCache {
        RowCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: foldhash::quality::RandomState::default(),
            shard_budget: budget_bytes / SHARDS,
            watermark: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key's hash and its shard, picked by middle bits of the hash: the table takes its
    /// bucket from the low bits and its 7-bit tags from the top ones.
    fn shard(&self, cache_key: &[u8]) -> (u64, MutexGuard<'_, Shard>) {
        let hash = self.hasher.hash_one(cache_key);
        let index = (hash >> 32) as usize % SHARDS;
        let shard = self.shards[index].lock().unwrap_or_else(|p| p.into_inner());
        (hash, shard)
    }

    /// `Some(row)` on a hit (`Some(None)`: known missing), `None` on a miss.
    pub fn get(&self, db: u32, key: &[u8]) -> Option<Option<Vec<u8>>> {
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
    pub fn peek(&self, db: u32, key: &[u8]) -> Option<Option<Vec<u8>>> {
        if self.shard_budget == 0 {
            return None;
        }
        with_cache_key(db, key, |k| {
            let (hash, shard) = self.shard(k);
            shard.find(hash, k).map(|e| e.row().map(<[u8]>::to_vec))
        })
    }

    /// Stores what a snapshot that had applied `snapshot_lsn` read for `key`.
    pub fn fill(&self, db: u32, key: &[u8], row: Option<&[u8]>, snapshot_lsn: u64) {
        if self.shard_budget == 0 {
            return;
        }
        with_cache_key(db, key, |k| {
            let (hash, mut shard) = self.shard(k);
            // Checked under the shard lock: refreshes take it too, after raising the mark.
            if snapshot_lsn < self.watermark.load(Ordering::SeqCst) {
                return;
            }
            self.insert(&mut shard, hash, k, row);
        });
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
                let (hash, mut shard) = self.shard(k);
                match now {
                    // Only keys already cached are refreshed, in place (one probe).
                    Some(row) if row_size(k, row) <= self.shard_budget => {
                        let Some(slot) = shard.find_mut(hash, k) else {
                            return;
                        };
                        // A row of the same length (a counter, a fixed-size value) is
                        // overwritten where it is: no allocation, no size change.
                        if let (Some(row), Some(old)) = (row, slot.row_mut()) {
                            if old.len() == row.len() {
                                old.copy_from_slice(row);
                                return;
                            }
                        }
                        let entry = Entry::new(hash, k, row);
                        let size = entry.size();
                        let old = std::mem::replace(slot, entry);
                        shard.bytes = shard.bytes + size - old.size();
                        self.evict_over_budget(&mut shard);
                    }
                    // Forgotten, or grown past the budget: it must not stay.
                    _ => shard.remove(hash, k),
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
        with_cache_key(db, key, |k| {
            let (hash, mut shard) = self.shard(k);
            self.insert(&mut shard, hash, k, row);
        });
    }

    /// Puts `row` in `shard`, evicting the oldest entries beyond the budget.
    fn insert(&self, shard: &mut Shard, hash: u64, k: &[u8], row: Option<&[u8]>) {
        if row_size(k, row) > self.shard_budget {
            shard.remove(hash, k);
            return;
        }
        let entry = Entry::new(hash, k, row);
        shard.bytes += entry.size();
        match shard.find_mut(hash, k) {
            // A replaced entry keeps its place in the eviction order.
            Some(slot) => {
                let old = std::mem::replace(slot, entry);
                shard.bytes -= old.size();
            }
            None => {
                shard.map.insert_unique(hash, entry, |e| e.hash);
                shard.order.push_back(hash);
            }
        }
        self.evict_over_budget(shard);
        // Keys removed and put back leave stale places behind: drop them before they pile up.
        if shard.order.len() > 2 * shard.map.len() + 64 {
            let map = &shard.map;
            let mut seen = std::collections::HashSet::with_capacity(map.len());
            shard
                .order
                .retain(|&h| map.find(h, |e| e.hash == h).is_some() && seen.insert(h));
        }
    }

    /// Evicts the oldest entries until `shard` is within its budget.
    fn evict_over_budget(&self, shard: &mut Shard) {
        while shard.bytes > self.shard_budget {
            let Some(victim) = shard.order.pop_front() else {
                break;
            };
            // Evicting needs no watermark: a key changed after some snapshot was refreshed,
            // which already raised the mark above that snapshot. (Places are hashes: in the
            // vanishing case of two keys with one 64-bit hash, either may go first.)
            if let Ok(found) = shard.map.find_entry(victim, |e| e.hash == victim) {
                let (old, _) = found.remove();
                shard.bytes -= old.size();
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
        assert_eq!(cache.get(0, b"k"), Some(Some(b"old".to_vec())));
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
        assert_eq!(cache.get(0, b"k"), Some(Some(b"new".to_vec())));
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
        assert_eq!(cache.peek(0, b"k"), Some(Some(b"v1".to_vec())));
        cache.fill(0, b"k", Some(b"v0"), 2);
        assert_eq!(
            cache.peek(0, b"k"),
            Some(Some(b"v1".to_vec())),
            "a fill older than the refresh is refused"
        );
        // Known missing, then present; longer; the same length again (rewritten in place).
        cache.store(0, b"k2", None);
        for (lsn, row) in [(3, &b"abc"[..]), (3, b"abcd"), (3, b"wxyz")] {
            cache.refresh([(0, &b"k2"[..], Some(Some(row)))], lsn);
            assert_eq!(cache.peek(0, b"k2"), Some(Some(row.to_vec())));
        }
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
        assert_eq!(cache.peek(0, b"k"), Some(Some(b"v".to_vec())));
    }

    #[test]
    fn entries_fill_one_cache_line_and_keep_long_rows_apart() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        let cache = RowCache::new(1 << 20);
        let long = vec![7u8; 300];
        for (key, row) in [
            (&b"k"[..], &b"short"[..]),
            (&b"counter:000000012345"[..], &b"0123456789abcdefghijk"[..]),
            (&b"counter:000000012346"[..], &b"0123456789abcdefghijkl"[..]),
            (&b"long"[..], &long[..]),
        ] {
            cache.store(0, key, Some(row));
            assert_eq!(cache.peek(0, key), Some(Some(row.to_vec())));
            // Rewritten in place, then grown across the inline limit and back.
            let mut same = row.to_vec();
            same[0] ^= 1;
            cache.refresh([(0, key, Some(Some(&same[..])))], 1);
            assert_eq!(cache.peek(0, key), Some(Some(same.clone())));
            let grown = [&same[..], &[1u8; 40][..]].concat();
            cache.refresh([(0, key, Some(Some(&grown[..])))], 1);
            assert_eq!(cache.peek(0, key), Some(Some(grown)));
            cache.refresh([(0, key, Some(Some(row)))], 1);
            assert_eq!(cache.peek(0, key), Some(Some(row.to_vec())));
        }
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
