//! The live indexes of the vector sets, kept in step with the log.
//!
//! A vector set's elements are key-space members (`kv::types::vset`), written and logged like
//! any other; the index is derived from them. After each batch commits, [`Vectors::observe`]
//! reads the batch's operations and queues, per set and in log order, the element changes it
//! finds. A job on the builder pool (one thread per core, off the event loops) applies a set's
//! queue in three steps, so searches keep running: names and vectors staged under the write
//! lock, graph links planned in parallel under the read lock, links committed under a short
//! write lock. Replies wait for their changes to be applied and searches wait for the index
//! to catch up with every change committed before them, so each client reads its own writes.
//!
//! Restarts reopen each graph from its node file and the checkpoint written beside it (the
//! write each slot holds) and catch up with the key space: elements written since are
//! inserted, those removed since deleted; nothing is rebuilt from scratch. Small sets (no
//! graph yet) and IVF sets are rebuilt from their elements.
//!
//! A set's index belongs to its collection version: RENAME and MOVE keep it, COPY (new
//! version, members copied) builds another, and a deleted set's index is dropped by a sweep
//! that checks which versions keys still hold.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use super::pool::{Idle, Pool};
use super::record::Op;
use crate::kv::meta::{self, Collection, KeyType};
use crate::kv::store::ReadTables;
use crate::kv::types::{all_members, member_of, vset};
use crate::vector::set::{Change, Checkpoint, VectorSet};

const CHECKPOINT_MAGIC: &[u8; 8] = b"LUMAVSC1";

/// `<version>.ckpt`: magic, entry u32 (MAX: none), slots u64, a gen u64 per slot, CRC32C of
/// all before it. Written to a new file, synced, renamed over the old one.
fn write_checkpoint(path: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(24 + cp.gens.len() * 8);
    out.extend_from_slice(CHECKPOINT_MAGIC);
    out.extend_from_slice(&cp.entry.unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&(cp.gens.len() as u64).to_le_bytes());
    for g in &cp.gens {
        out.extend_from_slice(&g.to_le_bytes());
    }
    out.extend_from_slice(&crc32c::crc32c(&out).to_le_bytes());
    let fresh = path.with_extension("ckpt.new");
    {
        let mut f = std::fs::File::create(&fresh)?;
        std::io::Write::write_all(&mut f, &out)?;
        f.sync_all()?;
    }
    std::fs::rename(&fresh, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A checkpoint written by `write_checkpoint`; `None` if missing or damaged.
fn read_checkpoint(path: &Path) -> Option<Checkpoint> {
    let data = std::fs::read(path).ok()?;
    let (body, crc) = data.split_at_checked(data.len().checked_sub(4)?)?;
    if crc32c::crc32c(body).to_le_bytes() != crc || body.get(..8)? != CHECKPOINT_MAGIC {
        return None;
    }
    let entry = u32::from_le_bytes(body.get(8..12)?.try_into().ok()?);
    let slots = u64::from_le_bytes(body.get(12..20)?.try_into().ok()?) as usize;
    let gens = body.get(20..)?;
    if gens.len() != slots.checked_mul(8)? {
        return None;
    }
    Some(Checkpoint {
        entry: (entry != u32::MAX).then_some(entry),
        gens: gens
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect(),
    })
}

/// A set's elements as changes, in name order; an element's vector is decoded only where
/// `wants_vector(gen)` (else left empty).
fn read_elements(
    r: &ReadTables,
    c: &Collection,
    wants_vector: impl Fn(u64) -> bool,
) -> Result<Vec<Change>, String> {
    let mut elements = Vec::new();
    let (from, to) = all_members(c.version);
    let dim = vset::config_of(c).dim;
    r.sub_scan(&from, &to, false, &mut |k, v| {
        if let Some(e) = vset::decode(v) {
            elements.push(Change::Put {
                name: member_of(k).to_vec(),
                gen: e.gen,
                vector: if wants_vector(e.gen) {
                    e.stored.vector(dim)
                } else {
                    Vec::new()
                },
                attrs: e.attrs,
            });
        }
        true
    })
    .map_err(|e| e.to_string())?;
    Ok(elements)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Searches come one after another from a client: a thread watches for the next one.
const SEARCH_IDLE: Idle = Idle {
    watch: std::time::Duration::from_micros(200),
    release_memory: false,
};

/// Builds allocate much and briefly: their threads hand the memory back and sleep.
const BUILD_IDLE: Idle = Idle {
    watch: std::time::Duration::ZERO,
    release_memory: true,
};

/// One set's index and the changes committed but not yet applied to it.
pub struct SetHandle {
    pub version: u64,
    /// The set's vector dimension (after REDUCE).
    dim: usize,
    /// Where the set was last seen (database, key), for the sweep's cheap liveness check.
    home: Mutex<(u32, Vec<u8>)>,
    pub set: RwLock<VectorSet>,
    pending: Mutex<Vec<Change>>,
    enqueued: AtomicU64,
    applied: watch::Sender<u64>,
    applying: AtomicBool,
    /// `applied` at the last checkpoint of the graph (MAX: never).
    checkpointed: AtomicU64,
    path: PathBuf,
}

impl SetHandle {
    /// Waits until every change committed so far is in the index.
    pub async fn caught_up(&self) {
        let target = self.enqueued.load(Ordering::SeqCst);
        let mut rx = self.applied.subscribe();
        let _ = rx.wait_for(|applied| *applied >= target).await;
    }

    /// Has every committed change been applied? (MULTI runs searches without waiting.)
    pub fn is_caught_up(&self) -> bool {
        *self.applied.borrow() >= self.enqueued.load(Ordering::SeqCst)
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, VectorSet> {
        self.set.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, VectorSet> {
        self.set.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the queue until it is empty (one job per set at a time).
    fn apply_pending(&self, threads: usize) {
        loop {
            let changes = std::mem::take(&mut *lock(&self.pending));
            if changes.is_empty() {
                self.applying.store(false, Ordering::SeqCst);
                // A change queued between the take and the flag: this job goes on.
                if lock(&self.pending).is_empty() || self.applying.swap(true, Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            let count = changes.len() as u64;
            let staged = self.write().stage(&changes);
            match staged {
                Ok(ids) => {
                    // Chunks no larger than a fraction of the graph: the walks of one chunk
                    // do not see each other (the batch build's prefix doubling rule).
                    let mut at = 0;
                    while at < ids.len() {
                        let room = (self.read().len() / 8).clamp(1, 256);
                        let chunk = &ids[at..(at + room).min(ids.len())];
                        let plans = self.read().plan(chunk, threads);
                        self.write().commit(plans, threads);
                        at += chunk.len();
                    }
                    self.write().tidy();
                }
                Err(e) => tracing::error!("vector set {}: change not indexed: {e}", self.version),
            }
            self.applied.send_modify(|a| *a += count);
        }
    }
}

/// Every vector set's index, by collection version.
pub struct Vectors {
    dir: PathBuf,
    sets: RwLock<HashMap<u64, Arc<SetHandle>>>,
    /// Any set at all (the write path skips `observe` work when not).
    any: AtomicBool,
    /// A key was deleted, flushed or moved: the sweep should look for dead sets.
    sweep_wanted: AtomicBool,
    /// Searches. Index changes run on `builders`, so a long insert or graph build never
    /// holds up a search of another set.
    pub pool: Pool,
    builders: Pool,
    /// RAM each graph may hold beyond its codes (`vector-graph-memory`).
    graph_memory: usize,
}

impl Vectors {
    /// The registry, with index files under `dir`.
    pub fn new(dir: &Path, threads: usize, graph_memory: usize) -> Vectors {
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::error!("vector folder {}: {e}", dir.display());
        }
        Vectors {
            dir: dir.to_path_buf(),
            sets: RwLock::new(HashMap::new()),
            any: AtomicBool::new(false),
            sweep_wanted: AtomicBool::new(false),
            pool: Pool::new("luma-vsearch", threads.max(1), SEARCH_IDLE),
            builders: Pool::new("luma-vbuild", threads.max(1), BUILD_IDLE),
            graph_memory,
        }
    }

    /// The index of the set whose members live under `version`.
    pub fn get(&self, version: u64) -> Option<Arc<SetHandle>> {
        self.sets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&version)
            .cloned()
    }

    fn handle(&self, db: u32, key: &[u8], c: &Collection) -> Arc<SetHandle> {
        if let Some(h) = self.get(c.version) {
            *lock(&h.home) = (db, key.to_vec());
            return h;
        }
        let set = VectorSet::new(
            &self.nodes_path(c.version),
            vset::config_of(c),
            self.graph_memory,
        );
        self.insert(db, key, c.version, set)
    }

    fn nodes_path(&self, version: u64) -> PathBuf {
        self.dir.join(format!("{version}.nodes"))
    }

    fn checkpoint_path(&self, version: u64) -> PathBuf {
        self.dir.join(format!("{version}.ckpt"))
    }

    fn insert(&self, db: u32, key: &[u8], version: u64, set: VectorSet) -> Arc<SetHandle> {
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        let h = sets
            .entry(version)
            .or_insert_with(|| {
                Arc::new(SetHandle {
                    version,
                    dim: set.config().dim,
                    home: Mutex::new((db, key.to_vec())),
                    set: RwLock::new(set),
                    pending: Mutex::new(Vec::new()),
                    enqueued: AtomicU64::new(0),
                    applied: watch::channel(0).0,
                    applying: AtomicBool::new(false),
                    checkpointed: AtomicU64::new(u64::MAX),
                    path: self.nodes_path(version),
                })
            })
            .clone();
        self.any.store(true, Ordering::SeqCst);
        h
    }

    /// Queues the element changes of a committed batch (called in log order, before the
    /// batch's replies are released).
    pub fn observe(&self, ops: &[Op]) {
        // New sets first: COPY writes the members before the header that names them.
        for op in ops {
            match op {
                Op::PutRow { db, key, row } if meta::key_type(row) == Some(KeyType::VectorSet) => {
                    if let Some(c) = Collection::decode(row) {
                        self.handle(*db, key, &c);
                    }
                }
                Op::Delete { .. } | Op::Forget { .. } | Op::FlushDb { .. } | Op::SwapDb { .. }
                    if self.any.load(Ordering::Relaxed) =>
                {
                    self.sweep_wanted.store(true, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        let mut touched: Vec<Arc<SetHandle>> = Vec::new();
        for op in ops {
            let (skey, value, side) = match op {
                Op::PutSub { skey, value, side } => (skey, Some(value), side.as_deref()),
                Op::DelSub { skey } => (skey, None, None),
                _ => continue,
            };
            let Some(version) = skey.get(..8).map(|b| {
                let mut v = [0u8; 8];
                v.copy_from_slice(b);
                u64::from_be_bytes(v)
            }) else {
                continue;
            };
            let Some(h) = self.get(version) else { continue };
            let name = member_of(skey).to_vec();
            let change = match value {
                None => Change::Remove { name },
                Some(value) => {
                    let Some(e) = vset::decode(value) else {
                        continue;
                    };
                    // A VADD logs the full-precision vector beside a compact element;
                    // others (VSETATTR, COPY) carry only the element.
                    let vector = match side.and_then(vset::side_vector) {
                        Some(v) => v,
                        None => e.stored.vector(h.dim),
                    };
                    Change::Put {
                        name,
                        gen: e.gen,
                        vector,
                        attrs: e.attrs,
                    }
                }
            };
            lock(&h.pending).push(change);
            h.enqueued.fetch_add(1, Ordering::SeqCst);
            if !touched.iter().any(|t| Arc::ptr_eq(t, &h)) {
                touched.push(h);
            }
        }
        for h in touched {
            self.schedule(h);
        }
    }

    fn schedule(&self, h: Arc<SetHandle>) {
        if h.applying.swap(true, Ordering::SeqCst) {
            return;
        }
        let threads = self.builders.threads;
        self.builders.spawn(move || h.apply_pending(threads));
    }

    /// Opens the index of every vector set in the store (start-up, after the log replay):
    /// from its node file and checkpoint when it has them (no rebuild: the elements written
    /// since are inserted, those removed since deleted), else built from its elements. Files
    /// of sets that no longer exist are removed.
    /// Returns (sets reopened, sets built).
    pub fn load_all(&self, r: &ReadTables, databases: u32) -> Result<(usize, usize), String> {
        let (mut live, mut reopened) = (HashSet::new(), 0);
        for db in 0..databases {
            let mut found = Vec::new();
            r.scan(db, b"", |key, row| {
                if meta::key_type(row) == Some(KeyType::VectorSet) {
                    if let Some(c) = Collection::decode(row) {
                        found.push((key.to_vec(), c));
                    }
                }
                true
            })
            .map_err(|e| e.to_string())?;
            for (key, c) in found {
                live.insert(c.version);
                let (set, was_reopened) = self.open_set(r, &c)?;
                reopened += usize::from(was_reopened);
                self.insert(db, &key, c.version, set);
            }
        }
        self.remove_files_except(&live);
        Ok((reopened, live.len() - reopened))
    }

    /// The set's index, and whether it was reopened (rather than built). Reopening needs the
    /// vectors only of elements written since the checkpoint, so only theirs are decoded.
    fn open_set(&self, r: &ReadTables, c: &Collection) -> Result<(VectorSet, bool), String> {
        let (config, threads) = (vset::config_of(c), self.pool.threads);
        let path = self.nodes_path(c.version);
        if let Some(checkpoint) = read_checkpoint(&self.checkpoint_path(c.version)) {
            let covered: HashSet<u64> = checkpoint
                .gens
                .iter()
                .copied()
                .filter(|&g| g != 0)
                .collect();
            let elements = read_elements(r, c, |gen| !covered.contains(&gen))?;
            let reopened = VectorSet::reopen(
                &path,
                config,
                self.graph_memory,
                &checkpoint,
                &elements,
                threads,
            );
            match reopened {
                Ok(set) => return Ok((set, true)),
                Err(e) => tracing::warn!(
                    "vector set {}: checkpoint not usable ({e}), rebuilding",
                    c.version
                ),
            }
        }
        let _ = std::fs::remove_file(self.checkpoint_path(c.version));
        let elements = read_elements(r, c, |_| true)?;
        let mut set = VectorSet::new(&path, config, self.graph_memory);
        set.apply(&elements, threads).map_err(|e| e.to_string())?;
        Ok((set, false))
    }

    fn remove_files_except(&self, live: &HashSet<u64>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let version = name
                .to_str()
                .and_then(|n| n.split('.').next())
                .and_then(|v| v.parse::<u64>().ok());
            if version.is_none_or(|v| !live.contains(&v)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Checkpoints every set's graph that changed since its last checkpoint: node file
    /// synced, then the checkpoint written beside it (a new file renamed over the old), so a
    /// restart reopens the graph instead of rebuilding it. Runs beside the writes: only the
    /// set being written waits.
    pub fn checkpoint_all(&self) {
        let handles: Vec<Arc<SetHandle>> = self
            .sets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for h in handles {
            let applied = *h.applied.borrow();
            if h.checkpointed.load(Ordering::SeqCst) == applied {
                continue;
            }
            let written =
                h.read()
                    .checkpoint()
                    .map_err(|e| e.to_string())
                    .and_then(|cp| match cp {
                        Some(cp) => write_checkpoint(&self.checkpoint_path(h.version), &cp)
                            .map_err(|e| e.to_string()),
                        None => Ok(()),
                    });
            match written {
                Ok(()) => h.checkpointed.store(applied, Ordering::SeqCst),
                Err(e) => tracing::error!("vector set {}: checkpoint failed: {e}", h.version),
            }
        }
    }

    /// Has a delete, flush or move happened since the last sweep?
    pub fn sweep_wanted(&self) -> bool {
        self.sweep_wanted.load(Ordering::Relaxed)
    }

    /// Drops the indexes of sets no key holds any more (deleted, flushed, overwritten).
    pub fn sweep(&self, r: &ReadTables, databases: u32) {
        if !self.sweep_wanted.swap(false, Ordering::Relaxed) {
            return;
        }
        let handles: Vec<Arc<SetHandle>> = self
            .sets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let at_home = |h: &SetHandle| {
            let (db, key) = lock(&h.home).clone();
            matches!(r.get(db, &key), Ok(Some(row))
                if meta::collection_version(&row) == Some(h.version)
                    && meta::key_type(&row) == Some(KeyType::VectorSet))
        };
        let lost: Vec<&Arc<SetHandle>> = handles.iter().filter(|h| !at_home(h)).collect();
        if lost.is_empty() {
            return;
        }
        // Some set is not where it was: find where every set is now (RENAME, MOVE, SWAPDB).
        let mut live: HashMap<u64, (u32, Vec<u8>)> = HashMap::new();
        for db in 0..databases {
            let _ = r.scan(db, b"", |key, row| {
                if meta::key_type(row) == Some(KeyType::VectorSet) {
                    if let Some(v) = meta::collection_version(row) {
                        live.insert(v, (db, key.to_vec()));
                    }
                }
                true
            });
        }
        let mut dead = HashSet::new();
        for h in lost {
            match live.remove(&h.version) {
                Some(home) => *lock(&h.home) = home,
                None => {
                    dead.insert(h.version);
                }
            }
        }
        if dead.is_empty() {
            return;
        }
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        for v in &dead {
            if let Some(h) = sets.remove(v) {
                let _ = std::fs::remove_file(&h.path);
                let _ = std::fs::remove_file(self.checkpoint_path(h.version));
            }
        }
        self.any.store(!sets.is_empty(), Ordering::SeqCst);
    }

    /// (sets, elements, bytes of RAM) for INFO.
    pub fn stats(&self) -> (usize, usize, usize) {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        let (mut elements, mut bytes) = (0, 0);
        for h in sets.values() {
            let s = h.read();
            elements += s.len();
            bytes += s.memory_bytes();
        }
        (sets.len(), elements, bytes)
    }
}
