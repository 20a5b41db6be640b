//! The only file that touches redb: tables, transactions, durability.
//!
//! Tables: `meta` maps `db (u32 BE) · key` to the key's metadata row (type, expiry, and for
//! strings the value inline); `expires` is the index `deadline (u64 BE) · db · key` that drives
//! active expiry; `state` holds the applied LSN and the per-database key counts, written in the
//! same transaction as the data they describe. Collections keep their members in `sub`, under
//! `version u64 BE · member encoding` (see `kv::types`); `garbage` lists the versions of deleted
//! collections whose members the background collector still has to remove.
//!
//! Vector sets keep their members in a second redb file, `vector_members` in
//! `kv-vectors.redb`, with a page cache of its own: a vector set's members are read only by
//! VEMB, VGETATTR, COPY and start-up (searches use the index, which holds what they need), so
//! caching their pages beside the hot KV pages cost RAM (about 350 bytes per element of a
//! 100k × 128 set in redb's cache, as much as the index itself) and bought nothing. A vector
//! set's version carries `VECTOR_VERSION`, which routes its member keys there; sets created
//! before this kept their versions and their members in `sub`. The file has its own applied
//! LSN (moved by the batches that wrote to it, and by every durable write), so replay applies
//! each operation to the file that lacks it (`applied_lsns`). Its transaction is opened when a
//! batch first touches a vector member and commits just before the main one.
//!
//! Keys are stored under a namespace, not under their database number: `state` maps database
//! `n` to its namespace (`ns:<n>`, by default `n` itself) and back (`db_of:<ns>`). FLUSHDB
//! gives the database a fresh namespace and lists the old one in `dead_namespaces` for the
//! collector; SWAPDB swaps two mappings. Both are O(1) whatever the data.
//!
//! Write batches share one redb transaction until it is due (its commit is expected to take
//! `COMMIT_STALL`, or it is `COMMIT_AGE` old), a durable write ends it, or a reader needs what
//! it holds: `read` commits the pending batches first, so a snapshot always has every batch
//! written before it. A redb commit copies and checksums every page the transaction dirtied,
//! so per batch it cost about half the CPU of a `SET` at `-P 16`; shared, it is paid once per
//! many batches. How many rows share a page depends on the data: writes spread over a big key
//! space dirty a page each, so the byte budget comes from timing the commits themselves (a
//! fixed 2 MiB gave 50 ms commits on a 100k-key space, where rows share pages and committing
//! less often saves work, and 90 ms stalls on a 2M-key space, p99 250 ms). The
//! WAL has every batch, so the pending ones need no durability of their own; when a batch
//! fails, the transaction (and the batches before it) is dropped and the store is marked
//! `stale` until the engine has replayed the lost batches from the log.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table, TableDefinition, WriteTransaction,
};

use super::cache::RowCache;
use super::chunk::{self, Chunk, Slot};
use super::meta;

const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
const EXPIRES: TableDefinition<&[u8], ()> = TableDefinition::new("expires");
const STATE: TableDefinition<&str, u64> = TableDefinition::new("state");
const SUB: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sub");
const GARBAGE: TableDefinition<u64, ()> = TableDefinition::new("garbage");
const FIELD_EXPIRES: TableDefinition<&[u8], ()> = TableDefinition::new("field_expires");
const DEAD_NAMESPACES: TableDefinition<u32, ()> = TableDefinition::new("dead_namespaces");
/// The vector member file's members and its applied LSN (`state`, as in the main file).
const VECTOR_MEMBERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("vector_members");
/// The bit of a collection version that marks a vector set's (see the module notes): far
/// above any version a counter reaches, and below the sign bit.
pub const VECTOR_VERSION: u64 = 1 << 62;

/// Whether a member key (`version · member`) belongs to a vector set in the vector file.
pub fn in_vector_file(skey: &[u8]) -> bool {
    skey.first()
        .is_some_and(|b| u64::from(*b) << 56 & VECTOR_VERSION != 0)
}
const NEXT_NAMESPACE: &str = "next_namespace";
/// Namespaces below this are the default ones (namespace n for database n).
const FIRST_FRESH_NAMESPACE: u32 = 1 << 16;
const APPLIED_LSN: &str = "applied_lsn";
/// Pending batches are committed before their commit is expected to take longer than this
/// (the time per byte of the last sizeable commits, times the bytes written since: keys and
/// values, plus `ROW_OVERHEAD` a row) ...
const COMMIT_STALL: Duration = Duration::from_millis(4);
const ROW_OVERHEAD: usize = 64;
/// ... or once the first of them is this old.
const COMMIT_AGE: Duration = Duration::from_millis(250);
/// Commits smaller than this are not timed: their fixed costs would inflate the rate.
const COMMIT_TIMED_BYTES: usize = 256 << 10;
/// The commit rate assumed until one is timed: 2 MiB in 4 ms.
const INITIAL_COMMIT_NS_PER_KIB: u64 = 2_000;
const NEXT_VERSION: &str = "next_version";
/// The layout of the tables: 2 since lists are stored in chunks (`kv::chunk`); 0 (absent)
/// before, when each list element had its own `version · seq` row.
const FORMAT: &str = "format";
const CURRENT_FORMAT: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Redb(#[from] redb::Error),
    #[error("storage: recovering from a failed write")]
    Stale,
    #[error("storage: {0}")]
    Other(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Redb(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

pub type StoreResult<T> = Result<T, StoreError>;

/// `db · key`, the key of the `meta` table.
pub fn meta_key(db: u32, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.len());
    k.extend_from_slice(&db.to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn expiry_key(deadline_ms: u64, db: u32, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + key.len());
    k.extend_from_slice(&deadline_ms.to_be_bytes());
    k.extend_from_slice(&db.to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn db_range(db: u32) -> (Vec<u8>, Vec<u8>) {
    (
        db.to_be_bytes().to_vec(),
        (u64::from(db) + 1).to_be_bytes()[4..].to_vec(),
    )
}

fn count_name(ns: u32) -> String {
    format!("keys:{ns}")
}

fn expires_name(ns: u32) -> String {
    format!("expires:{ns}")
}

fn ns_name(db: u32) -> String {
    format!("ns:{db}")
}

fn db_of_name(ns: u32) -> String {
    format!("db_of:{ns}")
}

/// The namespace of database `db` in a `state` table.
fn namespace_of(state: &impl ReadableTable<&'static str, u64>, db: u32) -> StoreResult<u32> {
    Ok(state
        .get(ns_name(db).as_str())?
        .map_or(db, |g| g.value() as u32))
}

/// The database that owns namespace `ns`, if it is alive.
fn database_of(state: &impl ReadableTable<&'static str, u64>, ns: u32) -> StoreResult<Option<u32>> {
    if let Some(db) = state.get(db_of_name(ns).as_str())? {
        return Ok(Some(db.value() as u32));
    }
    // A default namespace with no record is its own database's, unless that moved on.
    Ok((ns < FIRST_FRESH_NAMESPACE && namespace_of(state, ns)? == ns).then_some(ns))
}

/// The sizes of the store's caches, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct StoreCaches {
    /// redb's page cache of the main file.
    pub pages: usize,
    /// redb's page cache of the vector member file.
    pub vector_pages: usize,
    /// The write path's member cache.
    pub members: usize,
}

/// Commits the vector member file's transaction, then the main one (readers take the main
/// file's snapshot first, so none sees a collection header without the members it counts).
fn commit_both(
    txn: WriteTransaction,
    vector_txn: Option<WriteTransaction>,
    durable: bool,
) -> StoreResult<()> {
    if let Some(vector_txn) = vector_txn {
        commit(vector_txn, durable)?;
    }
    commit(txn, durable)
}

/// The KV store on redb.
pub struct KvStore {
    db: Database,
    /// Vector sets' members (see the module notes).
    vector_db: Database,
    pending: Mutex<Pending>,
    /// Member rows the write path looked up (see `WriteTables::member_get`).
    members: RowCache,
    /// A failed write dropped pending batches that were acknowledged: reads are refused until
    /// the engine has written them again from the log (`recovered`).
    stale: AtomicBool,
    /// What a commit takes per KiB written (see `COMMIT_STALL`); changed under `pending`.
    commit_ns_per_kib: AtomicU64,
}

/// The transaction the batches since the last commit share.
#[derive(Default)]
struct Pending {
    txn: Option<WriteTransaction>,
    /// The vector member file's transaction, if a pending batch wrote to it.
    vector_txn: Option<WriteTransaction>,
    /// Writes (batches) in `txn`, and the bytes they wrote (see `COMMIT_STALL`).
    writes: usize,
    bytes: usize,
    /// When the first pending batch was written.
    since: Option<Instant>,
}

thread_local! {
    /// This thread is inside `KvStore::write` (a read from there, such as a SQL statement's
    /// `kv_get`, must not wait for the pending transaction it is part of).
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as writing while alive.
struct WritingGuard;

impl WritingGuard {
    fn enter() -> WritingGuard {
        WRITING.with(|w| w.set(true));
        WritingGuard
    }
}

impl Drop for WritingGuard {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(false));
    }
}

fn lock(m: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn commit(mut txn: WriteTransaction, durable: bool) -> StoreResult<()> {
    let durability = if durable {
        Durability::Immediate
    } else {
        Durability::None
    };
    txn.set_durability(durability)?;
    txn.commit()?;
    Ok(())
}

impl KvStore {
    /// Opens the store in `dir` (`kv.redb` and `kv-vectors.redb`) with the sizes of its
    /// caches.
    pub fn open(dir: &Path, caches: StoreCaches) -> StoreResult<KvStore> {
        Self::init(
            Database::builder()
                .set_cache_size(caches.pages)
                .create(dir.join("kv.redb"))?,
            Database::builder()
                .set_cache_size(caches.vector_pages)
                .create(dir.join("kv-vectors.redb"))?,
            caches.members,
        )
    }

    /// Opens the store on simulated disks (power-cut tests).
    #[cfg(test)]
    pub fn open_simulated(disk: &SimRedbDisk, vector_disk: &SimRedbDisk) -> StoreResult<KvStore> {
        Self::init(
            Database::builder().create_with_backend(disk.backend())?,
            Database::builder()
                .set_cache_size(1 << 20)
                .create_with_backend(vector_disk.backend())?,
            1 << 20,
        )
    }

    fn init(db: Database, vector_db: Database, member_cache_bytes: usize) -> StoreResult<KvStore> {
        let mut txn = vector_db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        {
            txn.open_table(VECTOR_MEMBERS)?;
            txn.open_table(STATE)?;
        }
        txn.commit()?;
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        {
            txn.open_table(META)?;
            txn.open_table(EXPIRES)?;
            txn.open_table(STATE)?;
            txn.open_table(SUB)?;
            txn.open_table(GARBAGE)?;
            txn.open_table(FIELD_EXPIRES)?;
            txn.open_table(DEAD_NAMESPACES)?;
        }
        txn.commit()?;
        Ok(KvStore {
            db,
            vector_db,
            pending: Mutex::new(Pending::default()),
            members: RowCache::new(member_cache_bytes),
            stale: AtomicBool::new(false),
            commit_ns_per_kib: AtomicU64::new(INITIAL_COMMIT_NS_PER_KIB),
        })
    }

    /// Runs `f` on the pending transaction (a new one if none). When `f` fails nothing of it is
    /// kept, and neither is any pending batch (see `is_stale`). The transaction is committed
    /// (durably if asked) when `durable` or when it is due.
    pub fn write<R, E: From<StoreError>>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut WriteTables<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut pending = lock(&self.pending);
        let _writing = WritingGuard::enter();
        let txn = match pending.txn.take() {
            Some(txn) => txn,
            None => self.db.begin_write().map_err(StoreError::from)?,
        };
        let vector_txn = std::cell::OnceCell::new();
        if let Some(t) = pending.vector_txn.take() {
            let _ = vector_txn.set(t);
        }
        let vectors = VectorTables::new(&self.vector_db, &vector_txn);
        let outcome = Self::run(&txn, vectors, durable, &self.members, f);
        let vector_txn = vector_txn.into_inner();
        let (result, bytes) = match outcome {
            Ok(done) => done,
            Err(e) => {
                // Dropping the transactions aborts them, with the batches before this one (and
                // the member rows cached from them).
                drop(vector_txn);
                drop(txn);
                self.members.clear(0);
                if pending.writes > 0 {
                    self.stale.store(true, Ordering::SeqCst);
                }
                *pending = Pending::default();
                return Err(e);
            }
        };
        pending.writes += 1;
        pending.bytes += bytes;
        pending.since.get_or_insert_with(Instant::now);
        if durable || self.is_due(&pending) {
            let had_pending = pending.writes > 1;
            let written = std::mem::take(&mut *pending).bytes;
            let committed = if durable {
                commit_both(txn, vector_txn, true)
            } else {
                self.commit_timed(txn, vector_txn, written)
            };
            if let Err(e) = committed {
                self.members.clear(0);
                if had_pending {
                    self.stale.store(true, Ordering::SeqCst);
                }
                return Err(e.into());
            }
        } else {
            pending.txn = Some(txn);
            pending.vector_txn = vector_txn;
        }
        Ok(result)
    }

    /// `f` on the tables of `txn`, then the staged rows written: (its result, bytes written).
    fn run<'t, R, E: From<StoreError>>(
        txn: &'t WriteTransaction,
        vectors: VectorTables<'t>,
        durable: bool,
        members: &'t RowCache,
        f: impl FnOnce(&mut WriteTables<'t>) -> Result<R, E>,
    ) -> Result<(R, usize), E> {
        let mut tables = WriteTables {
            members,
            vectors,
            meta: txn.open_table(META).map_err(StoreError::from)?,
            expires: txn.open_table(EXPIRES).map_err(StoreError::from)?,
            state: txn.open_table(STATE).map_err(StoreError::from)?,
            sub: txn.open_table(SUB).map_err(StoreError::from)?,
            garbage: txn.open_table(GARBAGE).map_err(StoreError::from)?,
            field_expires: txn.open_table(FIELD_EXPIRES).map_err(StoreError::from)?,
            dead_namespaces: txn.open_table(DEAD_NAMESPACES).map_err(StoreError::from)?,
            namespaces: Vec::new(),
            staged: HashMap::default(),
            headers_read: HashMap::default(),
            chunks: HashMap::default(),
            written: 0,
            cache_behind: false,
        };
        if durable {
            // A durable write (a checkpoint) moves the vector file's LSN too.
            tables.vectors.open()?;
        }
        let result = f(&mut tables)?;
        tables.write_staged()?;
        tables.write_chunks()?;
        Ok((result, tables.written))
    }

    /// Commits the pending batches, if any (non-durably: the WAL has them).
    pub fn commit_pending(&self) -> StoreResult<()> {
        if WRITING.with(Cell::get) {
            return Ok(());
        }
        let mut pending = lock(&self.pending);
        self.commit_locked(&mut pending)
    }

    /// Commits the pending batches if they are due (the background thread's tick).
    pub fn commit_if_due(&self) -> StoreResult<()> {
        let mut pending = lock(&self.pending);
        if self.is_due(&pending) {
            self.commit_locked(&mut pending)?;
        }
        Ok(())
    }

    /// Whether the pending transaction should commit now (see `COMMIT_STALL`, `COMMIT_AGE`).
    fn is_due(&self, pending: &Pending) -> bool {
        let Some(since) = pending.since else {
            return false;
        };
        let expected_ns = (pending.bytes as u64 / 1024)
            .saturating_mul(self.commit_ns_per_kib.load(Ordering::Relaxed));
        expected_ns >= COMMIT_STALL.as_nanos() as u64 || since.elapsed() >= COMMIT_AGE
    }

    /// Commits `txn` (non-durably), which wrote `bytes`, and learns from how long it took.
    fn commit_timed(
        &self,
        txn: WriteTransaction,
        vector_txn: Option<WriteTransaction>,
        bytes: usize,
    ) -> StoreResult<()> {
        let started = Instant::now();
        commit_both(txn, vector_txn, false)?;
        if bytes >= COMMIT_TIMED_BYTES {
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let sample = took.saturating_mul(1024) / bytes as u64;
            let rate = &self.commit_ns_per_kib;
            // Halfway towards the new figure: one odd commit moves it only so far.
            rate.store(
                (rate.load(Ordering::Relaxed) + sample).div_ceil(2).max(1),
                Ordering::Relaxed,
            );
        }
        Ok(())
    }

    fn commit_locked(&self, pending: &mut Pending) -> StoreResult<()> {
        let taken = std::mem::take(pending);
        let Some(txn) = taken.txn else {
            return Ok(());
        };
        // Losing a commit loses the batches it held.
        self.commit_timed(txn, taken.vector_txn, taken.bytes)
            .inspect_err(|_| {
                self.members.clear(0);
                self.stale.store(true, Ordering::SeqCst);
            })
    }

    /// Whether a failed write dropped acknowledged batches; the caller replays them from the
    /// log (each pending batch is a logged record after the store's applied LSN), then calls
    /// `recovered`.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::SeqCst)
    }

    /// A batch reached the log but not the store (its write failed after the append): reads
    /// wait, as for dropped pending batches, until the engine has replayed it.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// The lost batches are written again: reads may go on.
    pub fn recovered(&self) {
        self.stale.store(false, Ordering::SeqCst);
    }

    /// The applied LSNs of the committed state of the main file and of the vector member
    /// file (a replay applies each operation only to the file that lacks it).
    pub fn applied_lsns(&self) -> StoreResult<AppliedLsns> {
        let applied = |db: &Database| -> StoreResult<u64> {
            let txn = db.begin_read()?;
            let state = txn.open_table(STATE)?;
            Ok(state.get(APPLIED_LSN)?.map_or(0, |g| g.value()))
        };
        Ok(AppliedLsns {
            main: applied(&self.db)?,
            vectors: applied(&self.vector_db)?,
        })
    }

    /// A consistent snapshot for reads, with every batch written so far (the pending ones are
    /// committed first). Inside a write it is the last committed state.
    pub fn read(&self) -> StoreResult<ReadTables> {
        if self.stale.load(Ordering::SeqCst) && !WRITING.with(Cell::get) {
            return Err(StoreError::Stale);
        }
        self.commit_pending()?;
        let txn = self.db.begin_read()?;
        // After the main file's: what that snapshot counts is all there (see `commit_both`).
        let vector_txn = self.vector_db.begin_read()?;
        let state = txn.open_table(STATE)?;
        let lsn = state.get(APPLIED_LSN)?.map_or(0, |g| g.value());
        // The databases not on their default namespace (usually none), read once per snapshot.
        let mut namespaces = Vec::new();
        for entry in state.range("ns:".."ns;")? {
            let (k, v) = entry?;
            if let Ok(db) = k.value()["ns:".len()..].parse::<u32>() {
                namespaces.push((db, v.value() as u32));
            }
        }
        Ok(ReadTables {
            meta: txn.open_table(META)?,
            sub: txn.open_table(SUB)?,
            vector_members: vector_txn.open_table(VECTOR_MEMBERS)?,
            state,
            namespaces,
            lsn,
        })
    }
}

/// What the two files have applied (see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedLsns {
    pub main: u64,
    pub vectors: u64,
}

impl AppliedLsns {
    /// Where a replay starts.
    pub fn oldest(self) -> u64 {
        self.main.min(self.vectors)
    }

    /// The newest record either file has applied (the WAL's next LSN goes above it).
    pub fn newest(self) -> u64 {
        self.main.max(self.vectors)
    }
}

/// The vector member file's tables in a write, opened when first needed.
pub(crate) struct VectorTables<'t> {
    db: &'t Database,
    txn: &'t std::cell::OnceCell<WriteTransaction>,
    tables: Option<OpenVectorTables<'t>>,
}

struct OpenVectorTables<'t> {
    members: Table<'t, &'static [u8], &'static [u8]>,
    state: Table<'t, &'static str, u64>,
}

impl<'t> VectorTables<'t> {
    fn new(db: &'t Database, txn: &'t std::cell::OnceCell<WriteTransaction>) -> Self {
        VectorTables {
            db,
            txn,
            tables: None,
        }
    }

    /// The file's tables, its transaction begun if it was not.
    fn open(&mut self) -> StoreResult<&mut OpenVectorTables<'t>> {
        if self.tables.is_none() {
            let txn = match self.txn.get() {
                Some(txn) => txn,
                None => {
                    let _ = self.txn.set(self.db.begin_write()?);
                    self.txn
                        .get()
                        .ok_or_else(|| StoreError::Other("vector transaction".into()))?
                }
            };
            self.tables = Some(OpenVectorTables {
                members: txn.open_table(VECTOR_MEMBERS)?,
                state: txn.open_table(STATE)?,
            });
        }
        self.tables
            .as_mut()
            .ok_or_else(|| StoreError::Other("vector tables".into()))
    }

    fn members(&mut self) -> StoreResult<&mut Table<'t, &'static [u8], &'static [u8]>> {
        Ok(&mut self.open()?.members)
    }
}

/// Read access to one snapshot.
pub struct ReadTables {
    meta: ReadOnlyTable<&'static [u8], &'static [u8]>,
    sub: ReadOnlyTable<&'static [u8], &'static [u8]>,
    vector_members: ReadOnlyTable<&'static [u8], &'static [u8]>,
    state: ReadOnlyTable<&'static str, u64>,
    /// (database, namespace) of the databases not on their default namespace.
    namespaces: Vec<(u32, u32)>,
    /// The LSN this snapshot has applied (tags the row cache's fills).
    pub lsn: u64,
}

impl std::fmt::Debug for ReadTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadTables")
    }
}

impl ReadTables {
    fn ns(&self, db: u32) -> u32 {
        self.namespaces
            .iter()
            .find(|(d, _)| *d == db)
            .map_or(db, |(_, ns)| *ns)
    }

    /// The raw metadata row of `key`, expired or not.
    pub fn get(&self, db: u32, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let ns = self.ns(db);
        Ok(self
            .meta
            .get(meta_key(ns, key).as_slice())?
            .map(|g| g.value().to_vec()))
    }

    pub fn key_count(&self, db: u32) -> StoreResult<u64> {
        let ns = self.ns(db);
        Ok(self
            .state
            .get(count_name(ns).as_str())?
            .map_or(0, |g| g.value()))
    }

    /// The value of one collection member's subkey.
    pub fn sub_get(&self, skey: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if in_vector_file(skey) {
            return sub_get(&self.vector_members, skey);
        }
        sub_get(&self.sub, skey)
    }

    /// Subkeys in `from..to`, ascending (or descending with `rev`), while `f` returns true.
    pub fn sub_scan(
        &self,
        from: &[u8],
        to: &[u8],
        rev: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        if in_vector_file(from) {
            return sub_scan(&self.vector_members, from, to, rev, f);
        }
        sub_scan(&self.sub, from, to, rev, f)
    }

    /// How many keys of `db` have a deadline.
    pub fn expires_count(&self, db: u32) -> StoreResult<u64> {
        let ns = self.ns(db);
        Ok(self
            .state
            .get(expires_name(ns).as_str())?
            .map_or(0, |g| g.value()))
    }

    /// Keys of `db` with their rows, in key order, starting at `from` (inclusive), while `f`
    /// returns true.
    pub fn scan(
        &self,
        db: u32,
        from: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let ns = self.ns(db);
        let (_, end) = db_range(ns);
        let start = meta_key(ns, from);
        for entry in self.meta.range(start.as_slice()..end.as_slice())? {
            let (k, v) = entry?;
            if !f(&k.value()[4..], v.value()) {
                break;
            }
        }
        Ok(())
    }

    /// Like `scan`, backwards: keys at or before `upto` (all keys of `db` when `None`), in
    /// descending order, while `f` returns true.
    pub fn scan_back(
        &self,
        db: u32,
        upto: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let ns = self.ns(db);
        let (start, end) = db_range(ns);
        let range = match upto {
            Some(key) => {
                let last = meta_key(ns, key);
                self.meta.range(start.as_slice()..=last.as_slice())?
            }
            None => self.meta.range(start.as_slice()..end.as_slice())?,
        };
        for entry in range.rev() {
            let (k, v) = entry?;
            if !f(&k.value()[4..], v.value()) {
                break;
            }
        }
        Ok(())
    }
}

fn sub_get(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    skey: &[u8],
) -> StoreResult<Option<Vec<u8>>> {
    Ok(table.get(skey)?.map(|g| g.value().to_vec()))
}

fn sub_scan(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    from: &[u8],
    to: &[u8],
    rev: bool,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> StoreResult<()> {
    if from >= to {
        return Ok(());
    }
    let range = table.range(from..to)?;
    if rev {
        for entry in range.rev() {
            let (k, v) = entry?;
            if !f(k.value(), v.value()) {
                break;
            }
        }
    } else {
        for entry in range {
            let (k, v) = entry?;
            if !f(k.value(), v.value()) {
                break;
            }
        }
    }
    Ok(())
}

/// Write access inside one transaction. Every change goes through `put` / `delete` /
/// `set_expire`, which keep the expiry index, the key counts and the garbage list in step.
///
/// Key rows changed in the transaction are staged in memory and written to the B-tree once,
/// when it ends (or before a whole-table operation): a key written by many commands of one
/// batch (a queue, a counter) costs one B-tree update instead of one per command.
pub struct WriteTables<'t> {
    /// The store's cache of member rows, kept at what the pending transaction holds: a member
    /// write updates a cached row at once, and dropping the transaction empties the cache.
    members: &'t RowCache,
    /// The vector member file's tables (see the module notes).
    vectors: VectorTables<'t>,
    meta: Table<'t, &'static [u8], &'static [u8]>,
    expires: Table<'t, &'static [u8], ()>,
    state: Table<'t, &'static str, u64>,
    sub: Table<'t, &'static [u8], &'static [u8]>,
    garbage: Table<'t, u64, ()>,
    field_expires: Table<'t, &'static [u8], ()>,
    dead_namespaces: Table<'t, u32, ()>,
    /// (database, namespace) of the databases this transaction used: a batch mostly uses one,
    /// and a scan of a few pairs beat a hash table (1.5% of `SADD -P 16`).
    namespaces: Vec<(u32, u32)>,
    staged: HashMap<Vec<u8>, Staged, foldhash::quality::RandomState>,
    /// Collection headers this batch read from the table and has not changed (staged rows
    /// come first): the commands of a batch on one collection (a pipeline of HSET, SADD,
    /// ZADD) look its header up once.
    headers_read: HashMap<Vec<u8>, Vec<u8>, foldhash::quality::RandomState>,
    /// List chunks read or changed in this transaction (see `kv::chunk`): each changed one is
    /// written once, when the transaction's batch ends or something reads its row (reads of
    /// other members leave them staged, so a pipeline mixing list and hash commands keeps
    /// one write per chunk).
    chunks: HashMap<[u8; 17], StagedChunk, foldhash::fast::RandomState>,
    /// Bytes written to the tables so far (what the pending transaction's size is judged by).
    written: usize,
    /// The table changed under the row cache in this batch (staged rows written before its
    /// end, FLUSHDB, SWAPDB), before the engine brings the cache up to date: the cache may
    /// hold rows older than the table's (see `get_cached`).
    cache_behind: bool,
}

/// A key row changed in this transaction: its row now (`None`: deleted), and whether the row
/// the table holds is to be collected when replaced (not when RENAME or MOVE took it over).
/// The table's row is only read when the staged one is written: one B-tree update per key.
struct Staged {
    row: Option<Vec<u8>>,
    collect_stored: bool,
}

/// A list chunk as this transaction sees it, and whether it differs from the table's row.
struct StagedChunk {
    chunk: Chunk,
    changed: bool,
}

/// What index and count upkeep needs of a row: (deadline, earliest field deadline, version).
fn row_summary(row: &[u8]) -> (u64, u64, Option<u64>) {
    (
        meta::expire_at(row),
        meta::field_deadline(row),
        meta::collection_version(row),
    )
}

impl<'t> WriteTables<'t> {
    pub fn get(&mut self, db: u32, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let mk = self.meta_key(db, key)?;
        self.current(&mk)
    }

    /// The row of `key` as this transaction sees it, from `cache` when the batch has not
    /// staged it. The engine keeps the cache at the latest row of every key it holds (each
    /// batch updates the cached keys it changed before the next batch runs), so for a key not
    /// staged it agrees with the table, and a hit spares a B-tree lookup; a miss stores the
    /// table's row there.
    pub fn get_cached(
        &mut self,
        db: u32,
        key: &[u8],
        cache: &RowCache,
    ) -> StoreResult<Option<Vec<u8>>> {
        let mk = self.meta_key(db, key)?;
        if let Some(staged) = self.staged.get(&mk) {
            return Ok(staged.row.clone());
        }
        if let Some(row) = self.headers_read.get(&mk) {
            return Ok(Some(row.clone()));
        }
        if self.cache_behind {
            return Ok(self.meta.get(mk.as_slice())?.map(|g| g.value().to_vec()));
        }
        if let Some(cached) = cache.peek(db, key) {
            return Ok(cached);
        }
        let row = self.meta.get(mk.as_slice())?.map(|g| g.value().to_vec());
        match row.as_deref() {
            // Unchanged by this batch so far: the latest row there is (strings only, as
            // readers cache them; a change later in the batch refreshes it).
            None => cache.store(db, key, None),
            Some(r) if meta::key_type(r) == Some(meta::KeyType::String) => {
                cache.store(db, key, Some(r))
            }
            Some(r) => {
                self.headers_read.insert(mk, r.to_vec());
            }
        }
        Ok(row)
    }

    /// The namespace of database `db`.
    fn ns(&mut self, db: u32) -> StoreResult<u32> {
        if let Some((_, ns)) = self.namespaces.iter().find(|(d, _)| *d == db) {
            return Ok(*ns);
        }
        let ns = namespace_of(&self.state, db)?;
        self.namespaces.push((db, ns));
        Ok(ns)
    }

    fn meta_key(&mut self, db: u32, key: &[u8]) -> StoreResult<Vec<u8>> {
        Ok(meta_key(self.ns(db)?, key))
    }

    /// Points database `db` at namespace `ns` (both directions).
    fn bind(&mut self, db: u32, ns: u32) -> StoreResult<()> {
        self.state.insert(ns_name(db).as_str(), u64::from(ns))?;
        self.state.insert(db_of_name(ns).as_str(), u64::from(db))?;
        self.namespaces.retain(|(d, _)| *d != db);
        self.namespaces.push((db, ns));
        Ok(())
    }

    /// The row of a `meta` key as this transaction sees it.
    fn current(&self, mk: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if let Some(staged) = self.staged.get(mk) {
            return Ok(staged.row.clone());
        }
        Ok(self.meta.get(mk)?.map(|g| g.value().to_vec()))
    }

    /// Writes the staged rows to the table, with the expiry indexes, the counts and the
    /// collection of replaced collections.
    ///
    /// Whole-table operations (FLUSHDB, SWAPDB) call it first, so it also marks the row cache
    /// as behind the table for the rest of the batch.
    fn write_staged(&mut self) -> StoreResult<()> {
        self.cache_behind = true;
        // Staged rows now in the table may be newer than what was read before them.
        self.headers_read.clear();
        if self.staged.is_empty() {
            return Ok(());
        }
        let mut staged: Vec<(Vec<u8>, Staged)> = self.staged.drain().collect();
        staged.sort_by(|a, b| a.0.cmp(&b.0));
        let mut deltas: HashMap<u32, (i64, i64)> = HashMap::new();
        let nonzero = |d: u64| (d != 0).then_some(d);
        for (mk, s) in staged {
            self.written += ROW_OVERHEAD + mk.len() + s.row.as_ref().map_or(0, Vec::len);
            let mut ns_bytes = [0u8; 4];
            ns_bytes.copy_from_slice(&mk[..4]);
            let ns = u32::from_be_bytes(ns_bytes);
            let key = &mk[4..];
            let old = match &s.row {
                Some(row) => self
                    .meta
                    .insert(mk.as_slice(), row.as_slice())?
                    .map(|g| row_summary(g.value())),
                None => self
                    .meta
                    .remove(mk.as_slice())?
                    .map(|g| row_summary(g.value())),
            };
            let new = s.row.as_deref().map(row_summary);
            let old_version = old.and_then(|o| o.2);
            if s.collect_stored && old_version.is_some() && old_version != new.and_then(|n| n.2) {
                self.collect_later(old_version)?;
            }
            for (index_is_fields, old_d, new_d) in [
                (
                    false,
                    old.and_then(|o| nonzero(o.0)),
                    new.and_then(|n| nonzero(n.0)),
                ),
                (
                    true,
                    old.and_then(|o| nonzero(o.1)),
                    new.and_then(|n| nonzero(n.1)),
                ),
            ] {
                if old_d == new_d {
                    continue;
                }
                let index = if index_is_fields {
                    &mut self.field_expires
                } else {
                    &mut self.expires
                };
                if let Some(d) = old_d {
                    index.remove(expiry_key(d, ns, key).as_slice())?;
                }
                if let Some(d) = new_d {
                    index.insert(expiry_key(d, ns, key).as_slice(), ())?;
                }
            }
            let delta = deltas.entry(ns).or_default();
            delta.0 += i64::from(new.is_some()) - i64::from(old.is_some());
            delta.1 +=
                i64::from(new.is_some_and(|n| n.0 != 0)) - i64::from(old.is_some_and(|o| o.0 != 0));
        }
        for (ns, (keys, expiring)) in deltas {
            if keys != 0 {
                self.add(&count_name(ns), keys)?;
            }
            if expiring != 0 {
                self.add(&expires_name(ns), expiring)?;
            }
        }
        Ok(())
    }

    /// Stores `row` for `key`.
    pub fn put(&mut self, db: u32, key: &[u8], row: &[u8]) -> StoreResult<()> {
        let mk = self.meta_key(db, key)?;
        let version = meta::collection_version(row);
        // The version this transaction staged before (`None`: the table's row stands, and is
        // dealt with when written).
        let staged_version = self
            .staged
            .get(&mk)
            .map(|st| st.row.as_deref().and_then(meta::collection_version));
        if let Some(Some(previous)) = staged_version {
            if Some(previous) != version {
                self.collect_later(Some(previous))?;
            }
        }
        if let Some(v) = version.filter(|v| staged_version != Some(Some(*v))) {
            // Replay meets versions the counter may not have reached: keep it ahead (of the
            // number, without a vector set's file bit, which would pass to every later
            // version and send all their members to the vector file).
            let number = v & !VECTOR_VERSION;
            if self.next_version_number()? <= number {
                self.state.insert(NEXT_VERSION, number + 1)?;
            }
        }
        match self.staged.get_mut(&mk) {
            Some(st) => st.row = Some(row.to_vec()),
            None => {
                self.staged.insert(
                    mk,
                    Staged {
                        row: Some(row.to_vec()),
                        collect_stored: true,
                    },
                );
            }
        }
        Ok(())
    }

    /// Removes `key` (its members, if a collection, are collected in the background).
    pub fn delete(&mut self, db: u32, key: &[u8]) -> StoreResult<()> {
        self.remove(db, key, true)
    }

    /// Removes `key`'s row but keeps its members: another row now owns them (RENAME, MOVE).
    pub fn forget(&mut self, db: u32, key: &[u8]) -> StoreResult<()> {
        self.remove(db, key, false)
    }

    fn remove(&mut self, db: u32, key: &[u8], collect: bool) -> StoreResult<()> {
        let mk = self.meta_key(db, key)?;
        match self.staged.get_mut(&mk) {
            Some(st) => {
                let previous = st.row.take();
                if collect {
                    let version = previous.as_deref().and_then(meta::collection_version);
                    self.collect_later(version)?;
                }
            }
            None => {
                self.staged.insert(
                    mk,
                    Staged {
                        row: None,
                        collect_stored: collect,
                    },
                );
            }
        }
        Ok(())
    }

    /// Sets (0 = removes) the expiry of an existing key; false if the key does not exist.
    pub fn set_expire(&mut self, db: u32, key: &[u8], expire_at_ms: u64) -> StoreResult<bool> {
        let Some(mut row) = self.get(db, key)? else {
            return Ok(false);
        };
        meta::set_expire_at(&mut row, expire_at_ms);
        self.put(db, key, &row)?;
        Ok(true)
    }

    /// Empties `db` in O(1): it gets a fresh namespace, and the old one goes to the collector.
    pub fn flush_db(&mut self, db: u32) -> StoreResult<()> {
        self.write_staged()?;
        let old = self.ns(db)?;
        let fresh = self
            .counter(NEXT_NAMESPACE)?
            .max(u64::from(FIRST_FRESH_NAMESPACE));
        self.state.insert(NEXT_NAMESPACE, fresh + 1)?;
        self.state.remove(db_of_name(old).as_str())?;
        self.bind(db, fresh as u32)?;
        self.state.remove(count_name(old).as_str())?;
        self.state.remove(expires_name(old).as_str())?;
        self.dead_namespaces.insert(old, ())?;
        Ok(())
    }

    /// Swaps the contents of two databases in O(1).
    pub fn swap_db(&mut self, a: u32, b: u32) -> StoreResult<()> {
        self.write_staged()?;
        let (ns_a, ns_b) = (self.ns(a)?, self.ns(b)?);
        self.bind(a, ns_b)?;
        self.bind(b, ns_a)?;
        Ok(())
    }

    /// Index entries (`deadline · ns · key`) at or before `now_ms` as (db, key), at most
    /// `limit`; entries of flushed namespaces are dropped on the way.
    fn due(
        &mut self,
        field_index: bool,
        now_ms: u64,
        limit: usize,
    ) -> StoreResult<Vec<(u32, Vec<u8>)>> {
        self.write_staged()?;
        let end = (now_ms + 1).to_be_bytes();
        let index = if field_index {
            &self.field_expires
        } else {
            &self.expires
        };
        let mut entries = Vec::new();
        for entry in index.range(..&end[..])?.take(limit) {
            entries.push(entry?.0.value().to_vec());
        }
        let mut out = Vec::new();
        for k in entries {
            let mut ns = [0u8; 4];
            ns.copy_from_slice(&k[8..12]);
            match database_of(&self.state, u32::from_be_bytes(ns))? {
                Some(db) => out.push((db, k[12..].to_vec())),
                None if field_index => {
                    self.field_expires.remove(k.as_slice())?;
                }
                None => {
                    self.expires.remove(k.as_slice())?;
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` keys whose deadline is at or before `now_ms`: (db, key).
    pub fn due_expiries(&mut self, now_ms: u64, limit: usize) -> StoreResult<Vec<(u32, Vec<u8>)>> {
        self.due(false, now_ms, limit)
    }

    /// Up to `limit` hashes with a field whose deadline is at or before `now_ms`: (db, key).
    pub fn due_field_expiries(
        &mut self,
        now_ms: u64,
        limit: usize,
    ) -> StoreResult<Vec<(u32, Vec<u8>)>> {
        self.due(true, now_ms, limit)
    }

    pub fn key_count(&mut self, db: u32) -> StoreResult<u64> {
        self.write_staged()?;
        let ns = self.ns(db)?;
        Ok(self
            .state
            .get(count_name(ns).as_str())?
            .map_or(0, |g| g.value()))
    }

    fn counter(&self, name: &str) -> StoreResult<u64> {
        Ok(self.state.get(name)?.map_or(0, |g| g.value()))
    }

    /// A vector set's version never used before: its members go to the vector member file.
    pub fn new_vector_version(&mut self) -> StoreResult<u64> {
        Ok(self.new_version()? | VECTOR_VERSION)
    }

    /// A collection version never used before in this store.
    pub fn new_version(&mut self) -> StoreResult<u64> {
        let v = self.next_version_number()?.max(1);
        self.state.insert(NEXT_VERSION, v + 1)?;
        Ok(v)
    }

    /// The counter of versions, without the vector file's bit, which a vector set's row used
    /// to pass to it (fixed since: stores that have it lose it here). Dropping the bit cannot
    /// reuse a version: the counter's number is still above every version's number.
    fn next_version_number(&self) -> StoreResult<u64> {
        Ok(self.counter(NEXT_VERSION)? & !VECTOR_VERSION)
    }

    fn collect_later(&mut self, version: Option<u64>) -> StoreResult<()> {
        if let Some(v) = version {
            self.garbage.insert(v, ())?;
        }
        Ok(())
    }

    /// A member row as this transaction sees it (a staged list chunk is written first).
    pub fn sub_get(&mut self, skey: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if in_vector_file(skey) {
            return sub_get(self.vectors.members()?, skey);
        }
        if <[u8; 17]>::try_from(skey).is_ok_and(|k| self.chunks.contains_key(&k)) {
            self.write_chunks()?;
        }
        sub_get(&self.sub, skey)
    }

    /// Member rows in `from..to` as this transaction sees them (staged list chunks in the
    /// range are written first).
    pub fn sub_scan(
        &mut self,
        from: &[u8],
        to: &[u8],
        rev: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        if in_vector_file(from) {
            return sub_scan(self.vectors.members()?, from, to, rev, f);
        }
        if self
            .chunks
            .keys()
            .any(|k| from <= k.as_slice() && k.as_slice() < to)
        {
            self.write_chunks()?;
        }
        sub_scan(&self.sub, from, to, rev, f)
    }

    /// The chunk holding list element `seq` of `version`, staged for changes.
    fn chunk_mut(&mut self, version: u64, seq: u64) -> StoreResult<&mut StagedChunk> {
        use std::collections::hash_map::Entry;
        Ok(match self.chunks.entry(chunk::chunk_key(version, seq)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let chunk = match self.sub.get(&e.key()[..])? {
                    Some(row) => Chunk::decode(row.value())
                        .ok_or_else(|| StoreError::Other("malformed list chunk".into()))?,
                    None => Chunk::default(),
                };
                e.insert(StagedChunk {
                    chunk,
                    changed: false,
                })
            }
        })
    }

    /// Sets list element `seq` of `version` (see `kv::chunk`).
    pub fn list_put(&mut self, version: u64, seq: u64, value: &[u8]) -> StoreResult<()> {
        let big = value.len() > chunk::INLINE_MAX;
        let staged = self.chunk_mut(version, seq)?;
        let slot = if big {
            Slot::OutOfLine
        } else {
            Slot::Inline(value.to_vec())
        };
        let before = staged.chunk.replace(chunk::slot_of(seq), slot);
        staged.changed = true;
        let big_key = chunk::big_key(version, seq);
        if big {
            self.written += ROW_OVERHEAD + big_key.len() + value.len();
            self.sub.insert(&big_key[..], value)?;
        } else if before == Slot::OutOfLine {
            self.sub.remove(&big_key[..])?;
        }
        Ok(())
    }

    /// Removes list element `seq` of `version` and returns it (`None`: there was none).
    pub fn list_take(&mut self, version: u64, seq: u64) -> StoreResult<Option<Vec<u8>>> {
        let staged = self.chunk_mut(version, seq)?;
        let before = staged.chunk.replace(chunk::slot_of(seq), Slot::Empty);
        staged.changed |= before != Slot::Empty;
        Ok(match before {
            Slot::Empty => None,
            Slot::Inline(v) => Some(v),
            Slot::OutOfLine => {
                let big_key = chunk::big_key(version, seq);
                let value = self.sub.remove(&big_key[..])?.map(|g| g.value().to_vec());
                Some(value.ok_or_else(|| StoreError::Other("missing list element".into()))?)
            }
        })
    }

    /// Brings a store written before list chunks to the current layout: every list element
    /// row `version · seq` becomes a slot of its chunk. Returns how many elements moved.
    pub fn upgrade_layout(&mut self) -> StoreResult<u64> {
        if self.counter(FORMAT)? >= CURRENT_FORMAT {
            return Ok(0);
        }
        let mut versions = Vec::new();
        for entry in self.meta.iter()? {
            let (_, row) = entry?;
            if meta::key_type(row.value()) == Some(meta::KeyType::List) {
                versions.extend(meta::collection_version(row.value()));
            }
        }
        let mut moved = 0;
        for version in versions {
            let (from, to) = (version.to_be_bytes(), (version + 1).to_be_bytes());
            let old: Vec<(u64, Vec<u8>)> = self
                .sub
                .extract_from_if(&from[..]..&to[..], |k, _| k.len() == 16)?
                .map(|entry| {
                    let (k, v) = entry?;
                    let mut seq = [0u8; 8];
                    seq.copy_from_slice(&k.value()[8..]);
                    Ok((u64::from_be_bytes(seq), v.value().to_vec()))
                })
                .collect::<StoreResult<_>>()?;
            for (seq, value) in old {
                self.list_put(version, seq, &value)?;
                moved += 1;
            }
        }
        self.write_chunks()?;
        self.state.insert(FORMAT, CURRENT_FORMAT)?;
        Ok(moved)
    }

    /// Writes the list chunks this transaction changed, in key order.
    fn write_chunks(&mut self) -> StoreResult<()> {
        if self.chunks.is_empty() {
            return Ok(());
        }
        let mut changed: Vec<([u8; 17], Chunk)> = self
            .chunks
            .drain()
            .filter(|(_, st)| st.changed)
            .map(|(k, st)| (k, st.chunk))
            .collect();
        changed.sort_unstable_by_key(|a| a.0);
        for (key, chunk) in changed {
            if chunk.is_empty() {
                self.written += ROW_OVERHEAD + key.len();
                self.sub.remove(&key[..])?;
            } else {
                let row = chunk.encode();
                self.written += ROW_OVERHEAD + key.len() + row.len();
                self.sub.insert(&key[..], row.as_slice())?;
            }
        }
        Ok(())
    }

    /// A hash, set, sorted-set or vector-set member row, from the member cache when it has
    /// it (a B-tree lookup in the write transaction builds and drops a tree handle and locks
    /// every page it reads: a tenth of `SADD -P 16`). A miss caches a member the table has;
    /// absent ones are not cached, so adding new members does not churn the cache. List rows
    /// never go through here: their chunks are written behind the cache's back.
    pub fn member_get(&mut self, skey: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if let Some(cached) = self.members.peek(0, skey) {
            return Ok(cached);
        }
        let row = if in_vector_file(skey) {
            sub_get(self.vectors.members()?, skey)?
        } else {
            sub_get(&self.sub, skey)?
        };
        if let Some(row) = &row {
            self.members.store(0, skey, Some(row));
        }
        Ok(row)
    }

    /// Brings a cached member row up to date with a write (rows not cached stay out: most
    /// members are written once and never looked up by a write again).
    fn member_changed(&self, skey: &[u8], row: Option<&[u8]>) {
        self.members.refresh([(0, skey, Some(row))], 0);
    }

    /// Stores a member row; true if it replaced one.
    pub fn sub_put(&mut self, skey: &[u8], value: &[u8]) -> StoreResult<bool> {
        self.written += ROW_OVERHEAD + skey.len() + value.len();
        self.member_changed(skey, Some(value));
        Ok(self.sub_table(skey)?.insert(skey, value)?.is_some())
    }

    /// The table a member key lives in (see the module notes).
    fn sub_table(
        &mut self,
        skey: &[u8],
    ) -> StoreResult<&mut Table<'t, &'static [u8], &'static [u8]>> {
        if in_vector_file(skey) {
            self.vectors.members()
        } else {
            Ok(&mut self.sub)
        }
    }

    /// Removes a member row and returns its value.
    pub fn sub_take(&mut self, skey: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.member_changed(skey, None);
        let old = self
            .sub_table(skey)?
            .remove(skey)?
            .map(|g| g.value().to_vec());
        if old.is_some() {
            self.written += ROW_OVERHEAD + skey.len();
        }
        Ok(old)
    }

    pub fn sub_delete(&mut self, skey: &[u8]) -> StoreResult<()> {
        self.written += ROW_OVERHEAD + skey.len();
        self.member_changed(skey, None);
        self.sub_table(skey)?.remove(skey)?;
        Ok(())
    }

    /// Removes up to `limit` keys of flushed namespaces and members of deleted collections;
    /// returns how many it removed.
    pub fn collect_garbage(&mut self, limit: usize) -> StoreResult<usize> {
        // A chunk staged under a collected version must not be written back after it.
        self.write_chunks()?;
        let mut removed = self.collect_namespaces(limit)?;
        while removed < limit {
            let Some(version) = self.garbage.first()?.map(|(k, _)| k.value()) else {
                break;
            };
            let from = version.to_be_bytes();
            let to = (version + 1).to_be_bytes();
            let mut n = 0;
            for entry in self
                .sub_table(&from)?
                .extract_from_if(&from[..]..&to[..], |_, _| true)?
                .take(limit - removed)
            {
                entry?;
                n += 1;
            }
            removed += n;
            if removed < limit {
                // The range ran out before the budget did: this version is done.
                self.garbage.remove(version)?;
            }
        }
        self.written += removed * ROW_OVERHEAD;
        Ok(removed)
    }

    /// Removes up to `limit` key rows of flushed namespaces, sending their collections'
    /// versions and their index entries the same way.
    fn collect_namespaces(&mut self, limit: usize) -> StoreResult<usize> {
        let mut removed = 0;
        while removed < limit {
            let Some(ns) = self.dead_namespaces.first()?.map(|(k, _)| k.value()) else {
                break;
            };
            let (from, to) = db_range(ns);
            let mut rows = Vec::new();
            for entry in self
                .meta
                .extract_from_if(from.as_slice()..to.as_slice(), |_, _| true)?
                .take(limit - removed)
            {
                let (k, v) = entry?;
                rows.push((k.value()[4..].to_vec(), v.value().to_vec()));
            }
            removed += rows.len();
            if removed < limit {
                self.dead_namespaces.remove(ns)?;
            }
            for (key, row) in rows {
                self.collect_later(meta::collection_version(&row))?;
                let deadline = meta::expire_at(&row);
                if deadline != 0 {
                    self.expires
                        .remove(expiry_key(deadline, ns, &key).as_slice())?;
                }
                let field_deadline = meta::field_deadline(&row);
                if field_deadline != 0 {
                    self.field_expires
                        .remove(expiry_key(field_deadline, ns, &key).as_slice())?;
                }
            }
        }
        Ok(removed)
    }

    /// Versions still waiting for the collector.
    pub fn garbage_len(&self) -> StoreResult<u64> {
        Ok(self.garbage.len()?)
    }

    fn add(&mut self, counter: &str, delta: i64) -> StoreResult<()> {
        let now = self.state.get(counter)?.map_or(0, |g| g.value());
        self.state
            .insert(counter, now.saturating_add_signed(delta))?;
        Ok(())
    }

    /// Records that the main file has applied the log up to `lsn`, and so has the vector
    /// member file if this transaction wrote to it (or is durable).
    pub fn set_applied_lsn(&mut self, lsn: u64) -> StoreResult<()> {
        self.state.insert(APPLIED_LSN, lsn)?;
        if let Some(vectors) = &mut self.vectors.tables {
            vectors.state.insert(APPLIED_LSN, lsn)?;
        }
        Ok(())
    }
}

/// A redb file in memory whose unsynced writes a simulated power cut loses.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub struct SimRedbDisk {
    /// (current bytes, bytes as of the last sync)
    state: std::sync::Arc<std::sync::Mutex<(Vec<u8>, Vec<u8>)>>,
    /// How many of the next writes and resizes fail.
    failing_writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[cfg(test)]
impl SimRedbDisk {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u8>, Vec<u8>)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn backend(&self) -> SimRedbBackend {
        SimRedbBackend(self.clone())
    }

    /// The disk as a power cut now would leave it: only synced bytes.
    pub fn power_cut_image(&self) -> SimRedbDisk {
        let durable = self.lock().1.clone();
        SimRedbDisk {
            state: std::sync::Arc::new(std::sync::Mutex::new((durable.clone(), durable))),
            failing_writes: Default::default(),
        }
    }

    /// The next `n` writes or resizes fail with an I/O error (a full or failing disk).
    pub fn fail_next_writes(&self, n: usize) {
        self.failing_writes.store(n, Ordering::SeqCst);
    }

    fn failing(&self) -> std::io::Result<()> {
        let failing = &self.failing_writes;
        match failing.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => Err(std::io::Error::other("simulated write failure")),
            Err(_) => Ok(()),
        }
    }
}

#[cfg(test)]
#[derive(Debug)]
struct SimRedbBackend(SimRedbDisk);

#[cfg(test)]
impl redb::StorageBackend for SimRedbBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.lock().0.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let state = self.0.lock();
        let start = offset as usize;
        let src = state
            .0
            .get(start..start + out.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.failing()?;
        self.0.lock().0.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        let mut state = self.0.lock();
        state.1 = state.0.clone();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.failing()?;
        let mut state = self.0.lock();
        let end = offset as usize + data.len();
        if state.0.len() < end {
            state.0.resize(end, 0);
        }
        state.0[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in `dir` with 1 MiB caches.
    fn open_small(dir: &Path) -> KvStore {
        let caches = StoreCaches {
            pages: 1 << 20,
            vector_pages: 1 << 20,
            members: 1 << 20,
        };
        KvStore::open(dir, caches).unwrap()
    }

    #[test]
    fn pending_batches_commit_before_the_expected_stall() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        let value = vec![b'v'; 1000];
        let write_rows = |from: usize, rows: usize| {
            store
                .write(false, |t| -> StoreResult<()> {
                    for i in from..from + rows {
                        t.put(0, format!("key{i}").as_bytes(), &value)?;
                    }
                    Ok(())
                })
                .unwrap();
        };
        let pending = || lock(&store.pending).txn.is_some();
        // Cheap commits: 300 KiB stays pending (well within COMMIT_STALL and COMMIT_AGE).
        store.commit_ns_per_kib.store(1, Ordering::Relaxed);
        write_rows(0, 300);
        assert!(pending());
        // Expensive ones (1 ms per KiB): the next few KiB make it due.
        store.commit_ns_per_kib.store(1_000_000, Ordering::Relaxed);
        write_rows(300, 5);
        assert!(!pending());
        // That commit wrote over COMMIT_TIMED_BYTES, so it was timed: the rate moved halfway
        // from 1 ms per KiB to what it took.
        let rate = store.commit_ns_per_kib.load(Ordering::Relaxed);
        assert!((500_000..1_000_000).contains(&rate), "{rate}");
        write_rows(305, 1);
        assert!(pending());
        store.commit_if_due().unwrap();
        assert!(pending(), "not due yet");
        std::thread::sleep(COMMIT_AGE);
        store.commit_if_due().unwrap();
        assert!(!pending(), "due by age");
    }

    #[test]
    fn upgrade_moves_list_element_rows_into_chunks_once() {
        use crate::kv::meta::{Collection, KeyType, LIST_ORIGIN};
        use crate::kv::types::{list, skey};
        use crate::kv::view::SnapshotView;
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        let big = vec![b'b'; 200];
        let elements = [b"first".to_vec(), big.clone(), b"third".to_vec()];
        let mut c = Collection::new(KeyType::List, 7);
        (c.head, c.tail, c.len) = (LIST_ORIGIN - 1, LIST_ORIGIN + 2, 3);
        let mut h = Collection::new(KeyType::Hash, 8);
        h.len = 1;
        let field = b"sixteen-byte-fld";
        store
            .write(false, |t| -> StoreResult<()> {
                // The layout before chunks: one `version · seq` row per element.
                t.put(0, b"l", &c.encode())?;
                for (i, e) in elements.iter().enumerate() {
                    t.sub_put(&skey(7, &(c.head + i as u64).to_be_bytes()), e)?;
                }
                t.put(0, b"h", &h.encode())?;
                t.sub_put(&skey(8, field), b"\0v")?;
                Ok(())
            })
            .unwrap();
        let moved = store.write(false, |t| t.upgrade_layout()).unwrap();
        assert_eq!(moved, 3);
        assert_eq!(store.write(false, |t| t.upgrade_layout()).unwrap(), 0);
        let r = store.read().unwrap();
        let mut view = SnapshotView {
            tables: &r,
            now_ms: 0,
        };
        assert_eq!(list::range(&mut view, &c, 0, 2, false).unwrap(), elements);
        assert_eq!(list::get(&mut view, &c, 1).unwrap(), Some(big));
        let mut rows = Vec::new();
        r.sub_scan(
            &7u64.to_be_bytes(),
            &9u64.to_be_bytes(),
            false,
            &mut |k, _| {
                rows.push(k.to_vec());
                true
            },
        )
        .unwrap();
        // Two chunks (the list straddles a chunk boundary), the long element's row, and the
        // hash field untouched.
        assert_eq!(
            rows,
            [
                chunk::chunk_key(7, c.head).to_vec(),
                chunk::chunk_key(7, c.head + 1).to_vec(),
                chunk::big_key(7, c.head + 1).to_vec(),
                skey(8, field),
            ]
        );
    }

    #[test]
    fn put_delete_expire_keep_index_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        store
            .write(false, |t| -> StoreResult<()> {
                t.put(0, b"a", &meta::string_row(b"1", 0))?;
                t.put(0, b"b", &meta::string_row(b"2", 500))?;
                t.put(0, b"b", &meta::string_row(b"3", 700))?;
                t.put(1, b"a", &meta::string_row(b"x", 0))?;
                assert_eq!(t.due_expiries(600, 10)?, vec![]);
                assert_eq!(t.due_expiries(700, 10)?, vec![(0, b"b".to_vec())]);
                assert!(t.set_expire(0, b"a", 100)?);
                assert_eq!(t.due_expiries(100, 10)?, vec![(0, b"a".to_vec())]);
                t.delete(0, b"a")?;
                t.delete(0, b"a")?;
                assert_eq!(t.key_count(0)?, 1);
                t.set_applied_lsn(42)?;
                Ok(())
            })
            .unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.lsn, 42);
        assert_eq!(
            r.expires_count(0).unwrap(),
            1,
            "only b still has a deadline"
        );
        assert_eq!(r.key_count(0).unwrap(), 1);
        assert_eq!(r.key_count(1).unwrap(), 1);
        store
            .write(false, |t| -> StoreResult<()> {
                t.flush_db(0)?;
                assert_eq!(t.due_expiries(u64::MAX - 1, 10)?, vec![]);
                Ok(())
            })
            .unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.key_count(0).unwrap(), 0);
        assert!(r.get(0, b"b").unwrap().is_none());
        assert!(
            r.get(1, b"a").unwrap().is_some(),
            "other databases are untouched"
        );
    }

    #[test]
    fn rows_changed_many_times_in_one_transaction_land_once_and_consistently() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        store
            .write(false, |t| -> StoreResult<()> {
                t.put(0, b"keep", &meta::string_row(b"1", 0))?;
                t.put(0, b"gone", &meta::string_row(b"1", 900))?;
                Ok(())
            })
            .unwrap();
        store
            .write(false, |t| -> StoreResult<()> {
                t.put(0, b"a", &meta::string_row(b"1", 500))?;
                t.put(0, b"a", &meta::string_row(b"2", 0))?;
                assert_eq!(t.get(0, b"a")?, Some(meta::string_row(b"2", 0)));
                t.delete(0, b"missing")?;
                t.put(0, b"c", &meta::string_row(b"x", 700))?;
                t.delete(0, b"c")?;
                t.delete(0, b"gone")?;
                assert!(t.get(0, b"gone")?.is_none());
                t.put(0, b"keep", &meta::string_row(b"1", 800))?;
                let mut h = meta::Collection::new(meta::KeyType::Hash, t.new_version()?);
                h.len = 1;
                t.put(0, b"h", &h.encode())?;
                let mut h2 = meta::Collection::new(meta::KeyType::Hash, t.new_version()?);
                h2.len = 1;
                // Replaced in the same transaction: the first version goes to the collector.
                t.put(0, b"h", &h2.encode())?;
                assert_eq!(t.garbage_len()?, 1);
                Ok(())
            })
            .unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.key_count(0).unwrap(), 3, "keep, a, h");
        assert_eq!(r.expires_count(0).unwrap(), 1, "only keep has a deadline");
        assert!(r.get(0, b"c").unwrap().is_none());
        store
            .write(false, |t| -> StoreResult<()> {
                assert_eq!(
                    t.due_expiries(u64::MAX - 1, 10)?,
                    vec![(0, b"keep".to_vec())]
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn writes_read_staged_rows_then_the_cache_then_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        let cache = RowCache::new(1 << 20);
        let row = |v: &[u8]| meta::string_row(v, 0);
        store
            .write(false, |t| -> StoreResult<()> {
                t.put(0, b"k", &row(b"table"))
            })
            .unwrap();
        // The cache has a newer row than the table (as after a batch the engine refreshed).
        cache.store(0, b"k", Some(&row(b"cached")));
        store
            .write(false, |t| -> StoreResult<()> {
                assert_eq!(t.get_cached(0, b"k", &cache)?, Some(row(b"cached")));
                assert_eq!(t.get_cached(0, b"other", &cache)?, None);
                assert_eq!(
                    cache.peek(0, b"other"),
                    Some(None),
                    "a miss stores the table's"
                );
                t.put(0, b"k", &row(b"staged"))?;
                assert_eq!(t.get_cached(0, b"k", &cache)?, Some(row(b"staged")));
                // After a FLUSHDB in the batch the key names a fresh namespace: the cache's
                // row of the old one must not answer.
                t.flush_db(0)?;
                assert_eq!(t.get_cached(0, b"k", &cache)?, None);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn batches_share_a_transaction_that_readers_commit_and_a_failure_drops() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        let put = |key: &[u8], lsn: u64| {
            store.write(false, |t| -> StoreResult<()> {
                t.put(0, key, &meta::string_row(b"v", 0))?;
                t.set_applied_lsn(lsn)
            })
        };
        put(b"a", 1).unwrap();
        put(b"b", 2).unwrap();
        assert_eq!(
            store.applied_lsns().unwrap().main,
            0,
            "both batches are pending"
        );
        let r = store.read().unwrap();
        assert_eq!(r.lsn, 2, "a reader commits what is pending");
        assert!(r.get(0, b"b").unwrap().is_some());
        drop(r);
        put(b"c", 3).unwrap();
        let failed = store.write(false, |t| -> StoreResult<()> {
            t.put(0, b"d", &meta::string_row(b"v", 0))?;
            Err(StoreError::Other("the log refused the batch".into()))
        });
        assert!(failed.is_err());
        assert!(
            store.is_stale(),
            "the pending batch of c was dropped with the failed one"
        );
        assert!(matches!(store.read(), Err(StoreError::Stale)));
        assert_eq!(store.applied_lsns().unwrap().main, 2);
        // The engine writes the lost batch again from its log, then reads go on.
        put(b"c", 3).unwrap();
        store.recovered();
        let r = store.read().unwrap();
        assert!(r.get(0, b"c").unwrap().is_some());
        assert!(r.get(0, b"d").unwrap().is_none());
        assert_eq!(r.key_count(0).unwrap(), 3);
        drop(r);
        // A failure with nothing pending loses nothing acknowledged.
        let failed = store.write(false, |_| -> StoreResult<()> {
            Err(StoreError::Other("refused".into()))
        });
        assert!(failed.is_err());
        assert!(!store.is_stale());
        // A durable write commits at once.
        store
            .write(true, |t| -> StoreResult<()> { t.set_applied_lsn(4) })
            .unwrap();
        assert_eq!(store.applied_lsns().unwrap().main, 4);
    }

    #[test]
    fn member_cache_follows_writes_and_forgets_a_dropped_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        let get = |skey: &[u8]| {
            store
                .write(false, |t| -> StoreResult<_> { t.member_get(skey) })
                .unwrap()
        };
        let put = |skey: &[u8], value: &[u8]| {
            store
                .write(false, |t| -> StoreResult<_> { t.sub_put(skey, value) })
                .unwrap()
        };
        assert_eq!(get(b"m"), None, "absent");
        put(b"m", b"1");
        assert_eq!(get(b"m").as_deref(), Some(&b"1"[..]), "read from the table");
        assert_eq!(
            store.members.peek(0, b"m"),
            Some(Some(b"1".to_vec())),
            "now cached"
        );
        put(b"m", b"2");
        assert_eq!(
            get(b"m").as_deref(),
            Some(&b"2"[..]),
            "a write updates the cached row"
        );
        store
            .write(false, |t| -> StoreResult<_> { t.sub_delete(b"m") })
            .unwrap();
        assert_eq!(get(b"m"), None, "a delete too");
        put(b"m", b"3");
        assert_eq!(get(b"m").as_deref(), Some(&b"3"[..]));
        store.commit_pending().unwrap();
        // A batch that fails after writing: its transaction is dropped, and the cached row it
        // wrote must go with it.
        let failed = store.write(false, |t| -> StoreResult<()> {
            t.sub_put(b"m", b"lost")?;
            assert_eq!(t.member_get(b"m")?.as_deref(), Some(&b"lost"[..]));
            Err(StoreError::Other("the log refused the batch".into()))
        });
        assert!(failed.is_err());
        assert_eq!(get(b"m").as_deref(), Some(&b"3"[..]));
    }

    #[test]
    fn flush_and_swap_are_namespace_moves_and_the_collector_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        store
            .write(false, |t| -> StoreResult<()> {
                t.put(0, b"a", &meta::string_row(b"1", 100))?;
                t.put(0, b"b", &meta::string_row(b"2", 0))?;
                let mut h = meta::Collection::new(meta::KeyType::Hash, t.new_version()?);
                h.len = 1;
                t.put(0, b"h", &h.encode())?;
                t.put(1, b"x", &meta::string_row(b"x", 200))?;
                t.swap_db(0, 1)?;
                assert_eq!(t.get(1, b"a")?, Some(meta::string_row(b"1", 100)));
                assert_eq!(t.get(0, b"x")?, Some(meta::string_row(b"x", 200)));
                assert!(t.get(0, b"a")?.is_none());
                // Expiry entries follow their keys to the other database.
                assert_eq!(
                    t.due_expiries(1000, 10)?,
                    vec![(1, b"a".to_vec()), (0, b"x".to_vec())]
                );
                t.flush_db(1)?;
                assert!(t.get(1, b"a")?.is_none());
                assert_eq!(t.key_count(1)?, 0);
                assert_eq!(t.key_count(0)?, 1);
                // The flushed key's expiry entry is dropped, not reported.
                assert_eq!(t.due_expiries(1000, 10)?, vec![(0, b"x".to_vec())]);
                t.put(1, b"a", &meta::string_row(b"new", 0))?;
                Ok(())
            })
            .unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.key_count(1).unwrap(), 1);
        assert_eq!(r.get(1, b"a").unwrap(), Some(meta::string_row(b"new", 0)));
        assert!(r.get(1, b"b").unwrap().is_none());
        drop(r);
        let removed = store
            .write(false, |t| -> StoreResult<usize> {
                let n = t.collect_garbage(100)?;
                assert_eq!(t.garbage_len()?, 0, "the hash's version was collected too");
                Ok(n)
            })
            .unwrap();
        assert_eq!(removed, 3, "a, b and h of the flushed namespace");
        let r = store.read().unwrap();
        assert_eq!(r.get(1, b"a").unwrap(), Some(meta::string_row(b"new", 0)));
        assert_eq!(r.get(0, b"x").unwrap(), Some(meta::string_row(b"x", 200)));
    }

    #[test]
    fn vector_set_members_live_in_the_vector_file_with_its_own_lsn() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_small(dir.path());
        let (vector_skey, hash_skey) = store
            .write(false, |t| -> StoreResult<_> {
                let vector = t.new_vector_version()?;
                // The set's row written (as replay also writes it) leaves later versions in
                // the main file.
                let row = meta::Collection::new(meta::KeyType::VectorSet, vector).encode();
                t.put(0, b"vset", &row)?;
                let hash = t.new_version()?;
                assert_eq!(vector & !VECTOR_VERSION, hash - 1, "one counter for both");
                // A counter that has the bit (as stores written before the fix may) loses it.
                t.state.insert(NEXT_VERSION, VECTOR_VERSION | 50)?;
                assert_eq!(t.new_version()?, 50);
                let vector_skey = [&vector.to_be_bytes()[..], b"elem"].concat();
                let hash_skey = [&hash.to_be_bytes()[..], b"field"].concat();
                assert!(in_vector_file(&vector_skey) && !in_vector_file(&hash_skey));
                t.sub_put(&vector_skey, b"vector row")?;
                t.sub_put(&hash_skey, b"hash row")?;
                t.set_applied_lsn(1)?;
                Ok((vector_skey, hash_skey))
            })
            .unwrap();
        // A batch that leaves the vector file alone moves only the main file's LSN.
        store
            .write(false, |t| -> StoreResult<()> {
                t.put(0, b"k", &meta::string_row(b"v", 0))?;
                t.set_applied_lsn(2)
            })
            .unwrap();
        let r = store.read().unwrap();
        assert_eq!(
            r.sub_get(&vector_skey).unwrap().as_deref(),
            Some(&b"vector row"[..])
        );
        assert_eq!(
            r.sub_get(&hash_skey).unwrap().as_deref(),
            Some(&b"hash row"[..])
        );
        drop(r);
        assert_eq!(
            store.applied_lsns().unwrap(),
            AppliedLsns {
                main: 2,
                vectors: 1
            }
        );
        // A durable write moves both.
        store.write(true, |t| t.set_applied_lsn(3)).unwrap();
        assert_eq!(
            store.applied_lsns().unwrap(),
            AppliedLsns {
                main: 3,
                vectors: 3
            }
        );
        drop(store);
        // Where each row is, file by file.
        let rows_in = |file: &str, table: TableDefinition<&[u8], &[u8]>| -> Vec<Vec<u8>> {
            let db = Database::open(dir.path().join(file)).unwrap();
            let txn = db.begin_read().unwrap();
            let table = txn.open_table(table).unwrap();
            table
                .iter()
                .unwrap()
                .map(|e| e.unwrap().0.value().to_vec())
                .collect()
        };
        assert_eq!(rows_in("kv-vectors.redb", VECTOR_MEMBERS), [vector_skey]);
        assert_eq!(rows_in("kv.redb", SUB), [hash_skey]);
    }
}
