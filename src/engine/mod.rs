//! Core: owns the write-ahead log and the engines, and runs every write in batches.
//!
//! A write command is parsed on its connection's event loop, then queued here as a closure.
//! The first write of an event-loop turn schedules a flush task that yields once, so every
//! connection served in that turn queues its writes first; the flush then runs them as one
//! batch: each against one redb write transaction through [`WriteCtx`] (which records its
//! operations), the batch's records appended to the WAL in one write (fsynced under `always`),
//! the transaction committed without fsync, and only then the replies released. One fsync and
//! one commit cover a whole group of clients, with no thread hop on the way (measured on 2
//! cores: SET at one request in flight per client went from 0.61 to 0.76 of Redis against a
//! dedicated engine thread). Deep pipelines are the exception: once the queued writes are
//! expected to take `HANDOFF_BATCH` (at what writes recently cost), the writer thread runs
//! the batch, and while it is busy takes every later one, so the event loop keeps reading
//! and answering connections meanwhile (`SET -P 16`: 0.54 to 0.86 of Redis, `INCR -P 16`
//! 0.39 to 0.62). A background thread does the `everysec` fsync, active expiry and
//! checkpoints. Reads run on the connection threads against redb snapshots and the row cache,
//! and see every acknowledged write.

pub mod blocking;
pub mod file;
pub mod notify;
pub mod observe;
pub mod pool;
pub mod record;
pub mod replies;
pub mod sql;
pub mod vectors;
pub mod wal;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::bus::keyspace::{self, Events, KeyEvent};
use crate::bus::Bus;

use crate::cmd::CmdError;
use crate::config::AppendFsync;
use crate::kv::cache::RowCache;
use crate::kv::meta::{self, KeyType};
use crate::kv::store::{
    in_vector_file, AppliedLsns, KvStore, ReadTables, StoreCaches, StoreError, WriteTables,
};
use crate::kv::view::KvView;
use crate::resp::Reply;
use blocking::Waiters;
use file::{FsDir, WalDir};
use notify::KeyEffect;
use observe::{changed_keys, Observers};
use record::Op;
use replies::{ReplyBox, ReplyTo};
use sql::{EngineHost, SqlEngine};
use vectors::Vectors;
use wal::{Lsn, RecoveryReport, Wal, WalError};

use crate::sqlite::{self, SqlStats, Writer};

/// How often the background thread looks for expired keys, and how many it removes per look.
const EXPIRY_TICK: Duration = Duration::from_millis(100);
const EXPIRY_BATCH: usize = 200;
/// Hashes whose expired fields the cycle removes per tick.
const FIELD_EXPIRY_BATCH: usize = 20;
/// Members of deleted collections removed per tick (deleting a big key costs the caller O(1);
/// this is the background half).
const GARBAGE_BATCH: usize = 20_000;
/// Replay commits every this many records.
const REPLAY_CHUNK: usize = 10_000;
/// A checkpoint runs when the WAL grows past this, or every `CHECKPOINT_INTERVAL` with changes.
const CHECKPOINT_WAL_BYTES: u64 = 256 * 1024 * 1024;
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);
/// A queue expected to take this long as one batch is handed to the writer thread at once:
/// the event loop goes on reading and answering its connections while the batch runs (deep
/// pipelines of costly writes), where a short or cheap queue runs on the event loop itself,
/// sparing the thread hop (one request in flight per client; cheap writes such as SPOP on an
/// empty set or RPUSH ran 5-12% slower handed off at `-P 16`).
const HANDOFF_BATCH: Duration = Duration::from_millis(1);
/// ... but never below this many writes.
const HANDOFF_MIN_WRITES: u64 = 64;
/// How often freed memory is handed back to the OS (see `memory::release_freed`).
const RELEASE_FREED_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("engine: {0}")]
    Other(String),
}

impl From<StoreError> for CmdError {
    fn from(e: StoreError) -> Self {
        CmdError::err(e)
    }
}

impl From<EngineError> for CmdError {
    fn from(e: EngineError) -> Self {
        CmdError::err(e)
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A write to run in the next batch.
pub type WriteFn = Box<dyn FnOnce(&mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> + Send>;

/// Figures for INFO persistence.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub last_lsn: AtomicU64,
    /// LSN of the last record the KV store committed (SQL-only records leave it behind
    /// `last_lsn`): read snapshots at or past it have every acknowledged KV write.
    pub kv_lsn: AtomicU64,
    pub checkpoint_lsn: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub last_checkpoint_unix: AtomicU64,
    pub checkpoints: AtomicU64,
    pub expired_keys: AtomicU64,
    /// Hash fields removed by active expiry (INFO's `expired_subkeys`).
    pub expired_fields: AtomicU64,
    pub wal_write_errors: AtomicU64,
    pub changes_since_checkpoint: AtomicU64,
    pub torn_tail_bytes: AtomicU64,
    pub replayed_records: AtomicU64,
    /// Write batches run and writes in them (group-commit effectiveness).
    pub batches: AtomicU64,
    pub batched_writes: AtomicU64,
    /// Batches the writer thread ran (deep pipelines), not an event loop.
    pub writer_thread_batches: AtomicU64,
    /// Deleted collections whose members are still being collected, and members collected.
    pub garbage_versions: AtomicU64,
    pub collected_members: AtomicU64,
}

/// The engines behind the commands.
pub struct Engine {
    databases: u32,
    inner: Arc<Inner>,
    background: Mutex<Option<JoinHandle<()>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    pub stats: Arc<EngineStats>,
    pub cache: Arc<RowCache>,
    pub observers: Arc<Observers>,
    pub waiters: Arc<Waiters>,
    /// Pub/sub, keyspace notifications and client tracking.
    pub bus: Arc<Bus>,
    /// The vector sets' indexes.
    pub vectors: Arc<Vectors>,
    /// The SQL engine.
    pub sql: SqlEngine,
}

/// What the connection threads and the background thread share.
struct Inner {
    store: Arc<KvStore>,
    cache: Arc<RowCache>,
    observers: Arc<Observers>,
    waiters: Arc<Waiters>,
    bus: Arc<Bus>,
    vectors: Arc<Vectors>,
    /// The SQL database's file (its commits are made durable before the WAL is cut).
    sql_path: std::path::PathBuf,
    databases: u32,
    stats: Arc<EngineStats>,
    /// The WAL; `None` once the engine is closed. Held while a batch or a duty runs.
    wal: Mutex<Option<Wal>>,
    /// Writes waiting for the next batch.
    queue: Mutex<Vec<(WriteFn, ReplyTo)>>,
    /// A flush of `queue` is already scheduled on the submitting runtime.
    flush_scheduled: AtomicBool,
    /// The thread that runs big batches off the event loop and the batches an event loop
    /// found the log busy for (see `Engine::enqueue`).
    writer_thread: std::sync::OnceLock<std::thread::Thread>,
    /// The writer thread is between a wake-up and its next park.
    writer_busy: AtomicBool,
    /// What a write has recently cost in a batch, in nanoseconds (see `HANDOFF_BATCH`).
    write_cost_ns: AtomicU64,
    /// The snapshot readers share until the next commit (see `Engine::read`); dropped at each
    /// commit so it never pins pages a writer wants back.
    snapshot: Mutex<Option<Arc<ReadTables>>>,
    /// BGSAVE asked for a checkpoint; the background thread runs it.
    checkpoint_requested: AtomicBool,
    stopping: AtomicBool,
    /// Test hook: the next this many active-expiry batches fail after their log append, as a
    /// store that cannot take them would.
    #[cfg(test)]
    expiry_faults: std::sync::atomic::AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where and how the engine keeps its files.
pub struct EngineOptions<'a> {
    pub dir: &'a Path,
    pub databases: u32,
    pub appendfsync: AppendFsync,
    pub cache_bytes: usize,
    /// Budget of the in-memory row cache in front of the store (0 disables it).
    pub row_cache_bytes: usize,
    /// Page cache of the vector member file (see `kv::store`).
    pub vector_member_cache_bytes: usize,
    /// Truncate a corrupt WAL at the first bad record instead of refusing to start.
    pub wal_repair: bool,
    /// RAM each vector graph may hold beyond its codes (`VamanaParams::memory_budget`).
    pub vector_graph_bytes: usize,
    /// The WAL's folder; `None` = `<dir>/wal` on the real file system.
    pub wal_dir: Option<Arc<dyn WalDir>>,
    /// Where the store lives.
    pub store: StoreLocation,
}

/// The KV store's files: `<dir>/kv.redb` and `<dir>/kv-vectors.redb`, or simulated disks in
/// tests (the main file's, the vector member file's).
#[derive(Debug, Clone, Default)]
pub enum StoreLocation {
    #[default]
    File,
    #[cfg(test)]
    Simulated(crate::kv::store::SimRedbDisk, crate::kv::store::SimRedbDisk),
}

impl Engine {
    /// Opens the store and the WAL, replays the records the store has not applied, and starts
    /// the background thread.
    pub fn open(options: EngineOptions<'_>) -> Result<Engine, EngineError> {
        let store = Arc::new(match &options.store {
            StoreLocation::File => KvStore::open(
                options.dir,
                StoreCaches {
                    pages: options.cache_bytes,
                    vector_pages: options.vector_member_cache_bytes,
                    // The write path's member cache takes a quarter more beside the row cache.
                    members: options.row_cache_bytes / 4,
                },
            )?,
            #[cfg(test)]
            StoreLocation::Simulated(disk, vector_disk) => {
                KvStore::open_simulated(disk, vector_disk)?
            }
        });
        let applied = store.applied_lsns()?;
        let bus = Arc::new(Bus::default());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let vectors = Arc::new(Vectors::new(
            &options.dir.join("vectors"),
            threads,
            options.vector_graph_bytes,
        ));
        let host: Arc<dyn sqlite::Host> = Arc::new(EngineHost {
            store: store.clone(),
            vectors: vectors.clone(),
            bus: bus.clone(),
        });
        let sql_path = sqlite::database_path(options.dir);
        let mut sql_writer =
            Writer::open(&sql_path, host.clone()).map_err(|e| EngineError::Other(e.to_string()))?;
        let sql_applied = sql_writer.applied_lsn;
        let wal_dir: Arc<dyn WalDir> = match options.wal_dir {
            Some(dir) => dir,
            None => Arc::new(FsDir::open(options.dir.join("wal")).map_err(WalError::from)?),
        };
        let mut wal = Wal::open(
            wal_dir,
            options.appendfsync,
            applied.newest().max(sql_applied),
            options.wal_repair,
        )?;
        let stats = Arc::new(EngineStats::default());
        let sql_stats = Arc::new(SqlStats::default());
        let started = Instant::now();
        let replayed = replay(&store, &mut sql_writer, &wal, applied, &sql_stats)?;
        let RecoveryReport {
            torn_tail_bytes, ..
        } = wal.report.clone();
        if replayed > 0 || torn_tail_bytes > 0 {
            tracing::info!(
                "WAL recovery: {replayed} records replayed after LSN {} in {:?}{}",
                applied.oldest(),
                started.elapsed(),
                if torn_tail_bytes > 0 {
                    format!(", torn tail of {torn_tail_bytes} bytes cut")
                } else {
                    String::new()
                }
            );
        }
        stats.replayed_records.store(replayed, Ordering::Relaxed);
        let upgraded = store.write(false, |t| t.upgrade_layout())?;
        if upgraded > 0 {
            tracing::info!("storage layout upgraded: {upgraded} list elements moved into chunks");
        }
        stats
            .torn_tail_bytes
            .store(torn_tail_bytes, Ordering::Relaxed);
        stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
        stats.kv_lsn.store(wal.last_lsn(), Ordering::Relaxed);
        stats.checkpoint_lsn.store(applied.main, Ordering::Relaxed);
        stats.wal_bytes.store(wal.size(), Ordering::Relaxed);
        stats
            .last_checkpoint_unix
            .store(now_ms() / 1000, Ordering::Relaxed);
        // Records replayed but not yet durable in the store: make them so, then drop the log.
        sql_stats
            .applied_lsn
            .store(sql_writer.applied_lsn, Ordering::Relaxed);
        checkpoint(&store, &mut wal, &stats, &sql_path)?;
        let cache = Arc::new(RowCache::new(options.row_cache_bytes));
        let observers = Arc::new(Observers::default());
        let waiters = Arc::new(Waiters::default());
        let started = Instant::now();
        let (reopened, built) = vectors
            .load_all(&store.read()?, options.databases)
            .map_err(EngineError::Other)?;
        if reopened + built > 0 {
            let (_, elements, _) = vectors.stats();
            tracing::info!(
                "vector sets: {reopened} reopened from checkpoints, {built} built, {elements} \
                 elements, in {:?}",
                started.elapsed()
            );
        }
        let inner = Arc::new(Inner {
            store,
            cache: cache.clone(),
            observers: observers.clone(),
            waiters: waiters.clone(),
            bus: bus.clone(),
            vectors: vectors.clone(),
            sql_path: sql_path.clone(),
            databases: options.databases,
            snapshot: Mutex::new(None),
            stats: stats.clone(),
            wal: Mutex::new(Some(wal)),
            queue: Mutex::new(Vec::new()),
            flush_scheduled: AtomicBool::new(false),
            writer_thread: std::sync::OnceLock::new(),
            writer_busy: AtomicBool::new(false),
            write_cost_ns: AtomicU64::new(0),
            checkpoint_requested: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            #[cfg(test)]
            expiry_faults: Default::default(),
        });
        let sql = sql::start(&inner, sql_writer, host, sql_path, sql_stats, threads)
            .map_err(|e| EngineError::Other(e.to_string()))?;
        let duties = inner.clone();
        let background = std::thread::Builder::new()
            .name("luma-engine".into())
            .spawn(move || background_duties(duties))
            .map_err(|e| EngineError::Other(e.to_string()))?;
        let writing = inner.clone();
        let writer_thread = std::thread::Builder::new()
            .name("luma-writer".into())
            .spawn(move || run_writer_thread(writing))
            .map_err(|e| EngineError::Other(e.to_string()))?;
        let _ = inner.writer_thread.set(writer_thread.thread().clone());
        Ok(Engine {
            databases: options.databases,
            inner,
            background: Mutex::new(Some(background)),
            writer_thread: Mutex::new(Some(writer_thread)),
            stats,
            cache,
            observers,
            waiters,
            bus,
            vectors,
            sql,
        })
    }

    pub fn databases(&self) -> u32 {
        self.databases
    }

    /// A consistent snapshot for reads that has every acknowledged write: the shared one while
    /// no commit has made it stale, else a fresh one that becomes the shared one. (Opening a
    /// redb read transaction per read batch: LRANGE 0 99 at -P 16 went from ~83k to ~93k/s.)
    ///
    /// A fresh one commits the store's pending batches, which waits for a batch being written:
    /// the shared one's lock is not held meanwhile.
    pub fn read(&self) -> Result<Arc<ReadTables>, CmdError> {
        let committed = self.inner.stats.kv_lsn.load(Ordering::SeqCst);
        if let Some(s) = lock(&self.inner.snapshot)
            .as_ref()
            .filter(|s| s.lsn >= committed)
        {
            return Ok(s.clone());
        }
        let fresh = Arc::new(self.inner.store.read()?);
        let mut shared = lock(&self.inner.snapshot);
        if shared.as_ref().is_none_or(|s| s.lsn < fresh.lsn) {
            *shared = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// Number of keys in database `db` (keys past their deadline count until removed, as in
    /// Redis).
    pub fn dbsize(&self, db: u32) -> u64 {
        self.inner
            .store
            .read()
            .and_then(|r| r.key_count(db))
            .unwrap_or(0)
    }

    /// (keys, keys with a deadline) of every non-empty database, for INFO keyspace.
    pub fn keyspace(&self) -> Vec<(u32, u64, u64)> {
        let Ok(r) = self.inner.store.read() else {
            return Vec::new();
        };
        (0..self.databases)
            .filter_map(|db| {
                let keys = r.key_count(db).ok()?;
                (keys > 0).then(|| (db, keys, r.expires_count(db).unwrap_or(0)))
            })
            .collect()
    }

    /// Removes `key` if it is past its deadline, in the next batch (a read found it expired;
    /// the removal reports `expired` like any lazy expiry). Nobody waits for it.
    pub fn expire_now(&self, db: u32, key: &[u8]) {
        let key = key.to_vec();
        let _ = self.submit(Box::new(move |w| {
            w.get(db, &key)?;
            Ok(Reply::Nil)
        }));
    }

    /// Queues a write; the receiver yields its reply once it is logged and applied.
    ///
    /// Inside a runtime the queue is flushed by a task that first yields, so every connection
    /// of this event-loop turn adds its writes before the one batch runs (group commit without
    /// a thread hop, as Redis batches a turn's writes before one fsync). Outside a runtime
    /// (tools, tests) the write runs at once.
    pub fn submit(&self, f: WriteFn) -> Result<oneshot::Receiver<Reply>, CmdError> {
        let (reply, rx) = oneshot::channel();
        self.enqueue(f, ReplyTo::Once(reply))?;
        Ok(rx)
    }

    /// Queues a write whose reply goes to `replies` (a connection's box, in queue order).
    pub fn submit_to(&self, f: WriteFn, replies: &Arc<ReplyBox>) -> Result<(), CmdError> {
        self.enqueue(f, ReplyTo::Box(replies.clone()))
    }

    fn enqueue(&self, f: WriteFn, reply: ReplyTo) -> Result<(), CmdError> {
        if self.inner.stopping.load(Ordering::SeqCst) {
            return Err(CmdError::err("server is shutting down"));
        }
        let queued = {
            let mut queue = lock(&self.inner.queue);
            queue.push((f, reply));
            queue.len()
        };
        if queued as u64 == self.inner.handoff_length() {
            self.inner.wake_writer();
        }
        // Mostly a flush is already on its way: a plain load spares the locked exchange. The
        // queue's lock orders this load after the flush's reset of the flag, so a write pushed
        // after a flush took the queue always schedules the next one.
        if !self.inner.flush_scheduled.load(Ordering::SeqCst)
            && !self.inner.flush_scheduled.swap(true, Ordering::SeqCst)
        {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let inner = self.inner.clone();
                    runtime.spawn(async move {
                        tokio::task::yield_now().await;
                        inner.flush_or_hand_off();
                    });
                }
                Err(_) => self.inner.flush(),
            }
        }
        Ok(())
    }

    /// A checkpoint now (SAVE): the store made durable, the WAL trimmed.
    pub fn checkpoint(&self) -> Reply {
        self.inner.flush();
        let reply = match lock(&self.inner.wal).as_mut() {
            Some(wal) => self.inner.checkpoint_reply(wal),
            None => Reply::Error("ERR server is shutting down".into()),
        };
        self.inner.vectors.checkpoint_all();
        reply
    }

    /// A checkpoint soon, on the background thread (BGSAVE).
    pub fn request_checkpoint(&self) {
        self.inner
            .checkpoint_requested
            .store(true, Ordering::SeqCst);
        if let Some(thread) = lock(&self.background).as_ref() {
            thread.thread().unpark();
        }
    }

    pub fn set_appendfsync(&self, policy: AppendFsync) {
        if let Some(wal) = lock(&self.inner.wal).as_mut() {
            wal.set_policy(policy);
        }
    }

    /// Runs the queued writes, checkpoints and closes the log.
    pub fn close(&self) {
        // SQL writes already queued finish first: they need the log.
        self.sql.close();
        self.inner.stopping.store(true, Ordering::SeqCst);
        for thread in [
            lock(&self.background).take(),
            lock(&self.writer_thread).take(),
        ]
        .into_iter()
        .flatten()
        {
            thread.thread().unpark();
            let _ = thread.join();
        }
        self.inner.flush();
        if let Some(mut wal) = lock(&self.inner.wal).take() {
            self.inner.checkpoint_reply(&mut wal);
        }
        self.inner.vectors.checkpoint_all();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    /// The event loop's flush: runs the queued writes as one batch, unless the writer thread
    /// is running batches; then it takes them after its current one, and the event loop goes
    /// on serving its connections instead of waiting for the log.
    fn flush_or_hand_off(&self) {
        self.flush_scheduled.store(false, Ordering::SeqCst);
        if self.writer_busy.load(Ordering::SeqCst) {
            self.wake_writer();
        } else {
            self.run_queue(lock(&self.wal));
        }
    }

    /// The queue length at which the writer thread takes over (see `HANDOFF_BATCH`).
    fn handoff_length(&self) -> u64 {
        let cost = self.write_cost_ns.load(Ordering::Relaxed).max(1);
        (HANDOFF_BATCH.as_nanos() as u64 / cost).max(HANDOFF_MIN_WRITES)
    }

    fn wake_writer(&self) {
        if let Some(thread) = self.writer_thread.get() {
            thread.unpark();
        }
    }

    /// Runs every queued write as one batch.
    fn flush(&self) {
        self.flush_scheduled.store(false, Ordering::SeqCst);
        self.run_queue(lock(&self.wal));
    }

    /// Runs the queue as one batch under `guard` (the WAL's lock); `false` if it was empty.
    fn run_queue(&self, mut guard: std::sync::MutexGuard<'_, Option<Wal>>) -> bool {
        // The queue is taken under the WAL lock, so batches reach the log in queue order even
        // when several threads flush (a client's writes never overtake each other).
        let mut batch = std::mem::take(&mut *lock(&self.queue));
        if batch.is_empty() {
            return false;
        }
        match guard.as_mut() {
            Some(wal) => {
                let (started, writes) = (Instant::now(), batch.len() as u64);
                run_batch(self, wal, &mut batch, None);
                // Batches of one tell little (fixed costs); the rest move the figure halfway.
                if writes > 1 {
                    let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    let cost = &self.write_cost_ns;
                    let old = cost.load(Ordering::Relaxed);
                    cost.store((old + took / writes).div_ceil(2), Ordering::Relaxed);
                }
            }
            None => replies::deliver(
                batch
                    .into_iter()
                    .map(|(_, to)| (to, Reply::Error("ERR server is shutting down".into()))),
            ),
        }
        true
    }

    fn checkpoint_reply(&self, wal: &mut Wal) -> Reply {
        match checkpoint(&self.store, wal, &self.stats, &self.sql_path) {
            Ok(()) => crate::resp::OK,
            Err(e) => {
                tracing::error!("checkpoint failed: {e}");
                Reply::Error(format!("ERR checkpoint failed: {e}"))
            }
        }
    }
}

/// The writer thread: runs the queue whenever woken, until it is empty (an unpark while a
/// batch runs leaves the token, so writes queued meanwhile are never left behind).
fn run_writer_thread(inner: Arc<Inner>) {
    while !inner.stopping.load(Ordering::SeqCst) {
        std::thread::park();
        inner.writer_busy.store(true, Ordering::SeqCst);
        while !lock(&inner.queue).is_empty() {
            // A panicking batch must not take the thread down: event loops would go on
            // handing it their queues (on an event loop, the runtime catches a task's panic).
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inner.run_queue(lock(&inner.wal))
            }));
            match ran {
                Ok(true) => {
                    inner
                        .stats
                        .writer_thread_batches
                        .fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(_) => tracing::error!("a write batch panicked on the writer thread"),
            }
        }
        inner.writer_busy.store(false, Ordering::SeqCst);
    }
}

/// The background thread: `everysec` fsyncs, active expiry, checkpoints when due or asked.
fn background_duties(inner: Arc<Inner>) {
    let mut last_expiry = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut vectors_due = false;
    let mut last_collect = Instant::now();
    while !inner.stopping.load(Ordering::SeqCst) {
        if last_collect.elapsed() >= RELEASE_FREED_EVERY {
            crate::memory::release_freed();
            last_collect = Instant::now();
        }
        let mut wait = EXPIRY_TICK.saturating_sub(last_expiry.elapsed());
        let mut sync_job = None;
        {
            let mut guard = lock(&inner.wal);
            let Some(wal) = guard.as_mut() else { return };
            match wal.everysec_sync_job() {
                Ok((job, until_next)) => {
                    wait = wait.min(until_next);
                    sync_job = job;
                }
                Err(e) => tracing::error!("WAL fsync failed: {e}"),
            }
            if let Err(e) = inner.store.commit_if_due() {
                tracing::error!("committing the store: {e}");
                restore_lost_batches(&inner.store, wal);
            }
            if last_expiry.elapsed() >= EXPIRY_TICK {
                expire_cycle(&inner, wal);
                collect_garbage(&inner.store, wal, &inner.stats);
                if inner.vectors.sweep_wanted() {
                    if let Ok(r) = inner.store.read() {
                        inner.vectors.sweep(&r, inner.databases);
                    }
                }
                last_expiry = Instant::now();
            }
            let changed = inner.stats.changes_since_checkpoint.load(Ordering::Relaxed) > 0;
            let due = wal.size() > CHECKPOINT_WAL_BYTES
                || (changed && last_checkpoint.elapsed() > CHECKPOINT_INTERVAL)
                || inner.checkpoint_requested.swap(false, Ordering::SeqCst);
            if due {
                inner.checkpoint_reply(wal);
                last_checkpoint = Instant::now();
                vectors_due = true;
            }
        }
        // The vector graphs' checkpoint runs without the log's lock too.
        if std::mem::take(&mut vectors_due) {
            inner.vectors.checkpoint_all();
        }
        // The `everysec` fsync runs without the log's lock: writes go on meanwhile.
        if let Some(job) = sync_job {
            if let Err(e) = job() {
                tracing::error!("WAL fsync failed: {e}");
                if let Some(wal) = lock(&inner.wal).as_mut() {
                    wal.mark_unsynced();
                }
            }
        }
        std::thread::park_timeout(wait.max(Duration::from_millis(1)));
    }
}

/// Applies the records each engine has not: KV operations after the store's LSN, a chunk per
/// transaction; SQL changes after SQLite's, in one SQLite transaction.
fn replay(
    store: &KvStore,
    sql: &mut Writer,
    wal: &Wal,
    applied: AppliedLsns,
    sql_stats: &SqlStats,
) -> Result<u64, EngineError> {
    let sql_applied = sql.applied_lsn;
    let mut chunk: Vec<(Lsn, Vec<Op>)> = Vec::new();
    let flush = |chunk: &mut Vec<(Lsn, Vec<Op>)>| -> Result<(), EngineError> {
        apply_records(store, chunk, applied)?;
        chunk.clear();
        Ok(())
    };
    let mut failure: Option<EngineError> = None;
    let mut sql_last: Option<Lsn> = None;
    let mut sql_records = 0;
    let count = wal.replay(applied.oldest().min(sql_applied), |lsn, payload| {
        let ops = record::decode(payload).map_err(|e| e.to_string())?;
        if lsn > sql_applied {
            for op in &ops {
                if let Op::Sql { changes } = op {
                    sql.replay(changes)
                        .map_err(|e| format!("SQL record {lsn}: {e}"))?;
                    sql_last = Some(lsn);
                    sql_records += 1;
                }
            }
        }
        if lsn > applied.oldest() {
            chunk.push((lsn, ops));
            if chunk.len() >= REPLAY_CHUNK {
                if let Err(e) = flush(&mut chunk) {
                    let text = e.to_string();
                    failure = Some(e);
                    return Err(text);
                }
            }
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let count = count?;
    flush(&mut chunk)?;
    if let Some(lsn) = sql_last {
        sql.finish_replay(lsn)
            .map_err(|e| EngineError::Other(e.to_string()))?;
    }
    sql_stats
        .replayed_records
        .store(sql_records, Ordering::Relaxed);
    Ok(count)
}

/// Applies logged records to the store in one write, with the last one's LSN (replay at
/// start-up and after a failed write share this): each operation only if the file it
/// belongs to has not applied its record.
fn apply_records(
    store: &KvStore,
    records: &[(Lsn, Vec<Op>)],
    applied: AppliedLsns,
) -> Result<(), EngineError> {
    let Some(last) = records.last().map(|(lsn, _)| *lsn) else {
        return Ok(());
    };
    store.write(false, |t| -> Result<(), EngineError> {
        for (lsn, ops) in records {
            for op in ops {
                let in_vectors = match op {
                    Op::PutSub { skey, .. } | Op::DelSub { skey } => in_vector_file(skey),
                    _ => false,
                };
                let file_applied = if in_vectors {
                    applied.vectors
                } else {
                    applied.main
                };
                if *lsn > file_applied {
                    apply_op(t, op)?;
                }
            }
        }
        t.set_applied_lsn(last)?;
        Ok(())
    })
}

/// Applies one logged operation (replay and live writes share this).
fn apply_op(t: &mut WriteTables<'_>, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::PutRow { db, key, row } => {
            t.put(*db, key, row)?;
        }
        Op::Delete { db, key } => {
            t.delete(*db, key)?;
        }
        Op::SetExpire {
            db,
            key,
            expire_at_ms,
        } => {
            t.set_expire(*db, key, *expire_at_ms)?;
        }
        Op::Forget { db, key } => {
            t.forget(*db, key)?;
        }
        Op::PutSub { skey, value, .. } => {
            t.sub_put(skey, value)?;
        }
        Op::DelSub { skey } => t.sub_delete(skey)?,
        Op::ListPut {
            version,
            seq,
            value,
        } => t.list_put(*version, *seq, value)?,
        Op::ListDel { version, seq } => {
            t.list_take(*version, *seq)?;
        }
        Op::FlushDb { db } => t.flush_db(*db)?,
        Op::SwapDb { a, b } => t.swap_db(*a, *b)?,
        Op::Sql { .. } => {}
    }
    Ok(())
}

/// What a write command sees in its batch: reads and changes inside the batch's
/// transaction. Every change is recorded for the WAL here, and only here.
pub struct WriteCtx<'a, 't> {
    tables: &'a mut WriteTables<'t>,
    /// The row cache: it has the latest row of the keys it holds (see `refresh_cache`).
    cache: &'a RowCache,
    ops: Vec<Op>,
    /// Keys whose collection members changed (their rows may not have: observers need them).
    touched: Vec<(u32, Vec<u8>)>,
    /// The batch's clock (unix ms): one time for every write of the batch.
    pub now_ms: u64,
    expired: u64,
    /// What the current command did to which keys, while anyone listens for keyspace events.
    observed: Option<Observed>,
    /// The client whose command runs (0 = the server): tracking's NOLOOP skips it.
    origin: u64,
    /// The SQL writer, in batches the SQL engine runs (its transaction is open).
    sql: Option<&'a mut Writer>,
}

/// Keyspace-event bookkeeping of a write (see `notify`).
#[derive(Debug, Default)]
struct Observed {
    /// Keys the current command touched, with their state before it.
    effects: Vec<KeyEffect>,
    /// Events of the write so far, published once its batch commits.
    events: Vec<KeyEvent>,
}

impl<'a, 't> WriteCtx<'a, 't> {
    fn new(
        tables: &'a mut WriteTables<'t>,
        cache: &'a RowCache,
        now_ms: u64,
        observe: bool,
        sql: Option<&'a mut Writer>,
    ) -> Self {
        WriteCtx {
            sql,
            tables,
            cache,
            ops: Vec::new(),
            touched: Vec::new(),
            now_ms,
            expired: 0,
            observed: observe.then(Observed::default),
            origin: 0,
        }
    }
}

impl WriteCtx<'_, '_> {
    fn apply(&mut self, op: Op) -> Result<(), CmdError> {
        match &op {
            Op::PutRow { db, key, .. }
            | Op::Delete { db, key }
            | Op::SetExpire { db, key, .. }
            | Op::Forget { db, key } => self.note_key(*db, key)?,
            _ => {}
        }
        self.log(op)
    }

    /// Applies and records `op` without noting its key (lazy expiry reports itself).
    fn log(&mut self, op: Op) -> Result<(), CmdError> {
        apply_op(self.tables, &op)?;
        self.ops.push(op);
        Ok(())
    }

    /// Whether this write reports keyspace events (someone may hear them).
    pub fn observing(&self) -> bool {
        self.observed.is_some()
    }

    /// A command starts, for client `origin`.
    pub fn begin_command(&mut self, origin: u64) {
        self.origin = origin;
        if let Some(o) = &mut self.observed {
            o.effects.clear();
        }
    }

    /// The command ended: its effects and declared `events` become notifications.
    pub fn end_command(&mut self, events: &Events) -> Result<(), CmdError> {
        let Some(mut observed) = self.observed.take() else {
            return Ok(());
        };
        for e in &mut observed.effects {
            let row = self.tables.get_cached(e.db, &e.key, self.cache)?;
            e.exists_after = row.is_some();
            e.deadline_after = row.as_deref().map_or(0, meta::expire_at);
        }
        notify::derive(&observed.effects, events, &mut observed.events);
        observed.effects.clear();
        self.observed = Some(observed);
        Ok(())
    }

    /// Records `key`'s state before the current command first changes it.
    fn note_key(&mut self, db: u32, key: &[u8]) -> Result<(), CmdError> {
        let Some(observed) = &self.observed else {
            return Ok(());
        };
        if observed
            .effects
            .iter()
            .rev()
            .any(|e| e.db == db && e.key == key)
        {
            return Ok(());
        }
        let row = self.tables.get_cached(db, key, self.cache)?;
        let live = row.filter(|r| !meta::is_expired(r, self.now_ms));
        let Some(observed) = &mut self.observed else {
            return Ok(());
        };
        observed.effects.push(KeyEffect {
            db,
            key: key.to_vec(),
            existed: live.is_some(),
            deadline_before: live.as_deref().map_or(0, meta::expire_at),
            exists_after: false,
            deadline_after: 0,
        });
        Ok(())
    }

    fn report(&mut self, db: u32, key: &[u8], event: keyspace::Event) {
        if let Some(observed) = &mut self.observed {
            observed.events.push(KeyEvent {
                db,
                key: Bytes::copy_from_slice(key),
                event,
            });
        }
    }

    /// The live row of `key`; a key past its deadline is removed (and logged) first.
    pub fn get(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        let Some(row) = self.tables.get_cached(db, key, self.cache)? else {
            return Ok(None);
        };
        if meta::is_expired(&row, self.now_ms) {
            self.log(Op::Delete {
                db,
                key: key.to_vec(),
            })?;
            self.expired += 1;
            self.report(db, key, keyspace::EXPIRED);
            return Ok(None);
        }
        Ok(Some(row))
    }

    pub fn put_string(
        &mut self,
        db: u32,
        key: &[u8],
        value: &[u8],
        expire_at_ms: u64,
    ) -> Result<(), CmdError> {
        self.put_row(db, key, &meta::string_row(value, expire_at_ms))
    }

    /// Stores a whole metadata row (RENAME, COPY, MOVE keep type and deadline this way).
    pub fn put_row(&mut self, db: u32, key: &[u8], row: &[u8]) -> Result<(), CmdError> {
        self.apply(Op::PutRow {
            db,
            key: key.to_vec(),
            row: row.to_vec(),
        })
    }

    /// Deletes a live key; false if there was none.
    pub fn delete(&mut self, db: u32, key: &[u8]) -> Result<bool, CmdError> {
        if self.get(db, key)?.is_none() {
            return Ok(false);
        }
        self.apply(Op::Delete {
            db,
            key: key.to_vec(),
        })?;
        Ok(true)
    }

    /// Sets the deadline of a live key (0 = persist); false if there is no such key.
    pub fn set_expire(&mut self, db: u32, key: &[u8], expire_at_ms: u64) -> Result<bool, CmdError> {
        if self.get(db, key)?.is_none() {
            return Ok(false);
        }
        self.apply(Op::SetExpire {
            db,
            key: key.to_vec(),
            expire_at_ms,
        })?;
        Ok(true)
    }

    pub fn flush_db(&mut self, db: u32) -> Result<(), CmdError> {
        self.apply(Op::FlushDb { db })
    }

    /// Empties databases `0..databases` (one record: all or nothing).
    pub fn flush_all(&mut self, databases: u32) -> Result<(), CmdError> {
        for db in 0..databases {
            if self.tables.key_count(db)? > 0 {
                self.flush_db(db)?;
            }
        }
        Ok(())
    }

    pub fn swap_db(&mut self, a: u32, b: u32) -> Result<(), CmdError> {
        self.apply(Op::SwapDb { a, b })
    }

    /// Removes `key`'s row, keeping its collection members for the row that now owns them.
    pub fn forget(&mut self, db: u32, key: &[u8]) -> Result<(), CmdError> {
        self.apply(Op::Forget {
            db,
            key: key.to_vec(),
        })
    }

    /// A vector set element's generation: a number never used before (see `vset::Element`).
    pub fn new_element_gen(&mut self) -> Result<u64, CmdError> {
        Ok(self.tables.new_version()?)
    }

    /// A version never used before, for a collection of `kind` (a vector set's keeps its
    /// members in the vector member file: see `kv::store::VECTOR_VERSION`).
    pub fn new_version(&mut self, kind: KeyType) -> Result<u64, CmdError> {
        Ok(if kind == KeyType::VectorSet {
            self.tables.new_vector_version()?
        } else {
            self.tables.new_version()?
        })
    }

    /// Sets a member subkey of `key`'s collection; true if it replaced one (the B-tree
    /// insert tells, so a caller needs no lookup first).
    pub fn put_sub(
        &mut self,
        db: u32,
        key: &[u8],
        skey: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<bool, CmdError> {
        self.put_sub_logging(db, key, skey, value, None)
    }

    /// Sets a member subkey and logs `side` with it for the observers (not stored); true if
    /// it replaced one.
    pub fn put_sub_with(
        &mut self,
        db: u32,
        key: &[u8],
        skey: Vec<u8>,
        value: Vec<u8>,
        side: Vec<u8>,
    ) -> Result<bool, CmdError> {
        self.put_sub_logging(db, key, skey, value, Some(side))
    }

    fn put_sub_logging(
        &mut self,
        db: u32,
        key: &[u8],
        skey: Vec<u8>,
        value: Vec<u8>,
        side: Option<Vec<u8>>,
    ) -> Result<bool, CmdError> {
        self.touch(db, key)?;
        let replaced = self.tables.sub_put(&skey, &value)?;
        self.ops.push(Op::PutSub { skey, value, side });
        Ok(replaced)
    }

    /// Removes a member subkey of `key`'s collection.
    pub fn del_sub(&mut self, db: u32, key: &[u8], skey: Vec<u8>) -> Result<(), CmdError> {
        self.touch(db, key)?;
        self.log(Op::DelSub { skey })
    }

    /// Removes a member subkey and returns its value, in one B-tree pass; `None` (nothing
    /// changed, nothing logged) if there was none.
    pub fn take_sub(
        &mut self,
        db: u32,
        key: &[u8],
        skey: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, CmdError> {
        let Some(value) = self.tables.sub_take(&skey)? else {
            return Ok(None);
        };
        // Removing a member leaves the key's row as it was: noting it now is as before.
        self.touch(db, key)?;
        self.ops.push(Op::DelSub { skey });
        Ok(Some(value))
    }

    /// Sets element `seq` of the list at `key` (collection `version`).
    pub fn list_put(
        &mut self,
        db: u32,
        key: &[u8],
        version: u64,
        seq: u64,
        value: &[u8],
    ) -> Result<(), CmdError> {
        self.touch(db, key)?;
        self.tables.list_put(version, seq, value)?;
        self.ops.push(Op::ListPut {
            version,
            seq,
            value: value.to_vec(),
        });
        Ok(())
    }

    /// Removes element `seq` of the list at `key` and returns it; `None` (nothing changed,
    /// nothing logged) if there was none.
    pub fn list_take(
        &mut self,
        db: u32,
        key: &[u8],
        version: u64,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, CmdError> {
        let Some(value) = self.tables.list_take(version, seq)? else {
            return Ok(None);
        };
        self.touch(db, key)?;
        self.ops.push(Op::ListDel { version, seq });
        Ok(Some(value))
    }

    fn touch(&mut self, db: u32, key: &[u8]) -> Result<(), CmdError> {
        if self
            .touched
            .last()
            .is_none_or(|(d, k)| *d != db || k != key)
        {
            self.note_key(db, key)?;
            self.touched.push((db, key.to_vec()));
        }
        Ok(())
    }

    pub fn key_count(&mut self, db: u32) -> Result<u64, CmdError> {
        Ok(self.tables.key_count(db)?)
    }

    /// Logs a SQL write's changes (already applied to the SQL engine's open transaction).
    pub fn log_sql(&mut self, changes: Vec<u8>) {
        if !changes.is_empty() {
            self.ops.push(Op::Sql { changes });
        }
    }

    fn sql_writer(&mut self) -> Result<&mut Writer, CmdError> {
        self.sql
            .as_deref_mut()
            .ok_or_else(|| CmdError::err("SQL is not available in this write"))
    }

    /// SQL.EXEC inside this write (MULTI/EXEC): applied, logged with the write's record.
    pub fn sql_exec(&mut self, req: &sqlite::Request) -> Result<Reply, CmdError> {
        let writer = self.sql_writer()?;
        let req = sqlite::Request {
            limits: writer.limits,
            ..req.clone()
        };
        let (outcome, changes) = writer
            .exec(&req, sqlite::Capturing::Own)
            .map_err(|e| CmdError::Other(e.resp_text()))?;
        self.log_sql(changes);
        Ok(outcome.reply())
    }

    /// SQL.QUERY inside this write: sees the transaction's own SQL writes.
    pub fn sql_query(&mut self, req: &sqlite::Request) -> Result<sqlite::exec::Rows, CmdError> {
        let writer = self.sql_writer()?;
        let req = sqlite::Request {
            limits: writer.limits,
            ..req.clone()
        };
        writer
            .query(&req)
            .map_err(|e| CmdError::Other(e.resp_text()))
    }
}

/// Reads inside a batch (the queued reads of MULTI/EXEC) see the batch's own writes.
impl KvView for WriteCtx<'_, '_> {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn live_row(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        self.get(db, key)
    }

    fn sub_get(&mut self, skey: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        Ok(self.tables.sub_get(skey)?)
    }

    fn member_get(&mut self, skey: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        Ok(self.tables.member_get(skey)?)
    }

    fn sub_scan(
        &mut self,
        from: &[u8],
        to: &[u8],
        rev: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        Ok(self.tables.sub_scan(from, to, rev, f)?)
    }
}

fn checkpoint(
    store: &KvStore,
    wal: &mut Wal,
    stats: &EngineStats,
    sql_path: &Path,
) -> Result<(), EngineError> {
    wal.sync()?;
    // Every SQL commit so far happened under the log's lock: once SQLite's files are synced,
    // the records behind them are no longer needed.
    sql::sync_files(sql_path).map_err(|e| EngineError::Other(format!("syncing SQL files: {e}")))?;
    let lsn = wal.last_lsn();
    // Both files (a durable write opens the vector member file's transaction too).
    store.write(true, |t| -> Result<(), EngineError> {
        t.set_applied_lsn(lsn)?;
        Ok(())
    })?;
    wal.truncate_through(lsn)?;
    stats.checkpoint_lsn.store(lsn, Ordering::Relaxed);
    stats
        .last_checkpoint_unix
        .store(now_ms() / 1000, Ordering::Relaxed);
    stats.checkpoints.fetch_add(1, Ordering::Relaxed);
    stats.changes_since_checkpoint.store(0, Ordering::Relaxed);
    stats.wal_bytes.store(wal.size(), Ordering::Relaxed);
    Ok(())
}

/// Runs a batch of writes in one transaction and one WAL append; releases the replies after.
/// With the SQL writer (batches of the SQL engine), its open transaction commits right after
/// the append, with the batch's last LSN.
fn run_batch(
    inner: &Inner,
    wal: &mut Wal,
    batch: &mut Vec<(WriteFn, ReplyTo)>,
    mut sql: Option<(&mut Writer, &SqlStats)>,
) {
    let (store, cache, stats) = (&inner.store, &inner.cache, &inner.stats);
    let now = now_ms();
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats
        .batched_writes
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut replies: Vec<(ReplyTo, Reply)> = Vec::with_capacity(batch.len());
    let mut out = BatchOut::default();
    let observe = inner.bus.wants_key_events();
    if sql.is_some() {
        // SQL statements read the KV engine through snapshots: the batches before this one
        // must be in them.
        if let Err(e) = store.commit_pending() {
            tracing::error!("committing the store: {e}");
            restore_lost_batches(store, wal);
        }
    }
    // Set once the batch is in the log: from then on it happened, whatever fails after.
    let mut logged = false;
    let result = store.write(false, |tables| -> Result<(), EngineError> {
        for (f, reply_tx) in batch.drain(..) {
            let writer = sql.as_mut().map(|(w, _)| &mut **w);
            let mut ctx = WriteCtx::new(tables, cache, now, observe, writer);
            let reply = match f(&mut ctx) {
                Ok(reply) => reply,
                Err(e) => Reply::Error(e.to_resp_text()),
            };
            replies.push((reply_tx, reply));
            let ready = settle_write(inner, ctx, &mut out);
            let ready_keys = ready.iter().map(|(db, k)| (*db, k.as_slice()));
            if !ready.is_empty() && inner.waiters.any_waiting_on(ready_keys) {
                // Clients blocked on what this write touched take their turn now, as writes
                // of this batch: their pops are logged and observed like any other.
                inner.waiters.serve(
                    ready,
                    &mut |attempt| {
                        let mut ctx = WriteCtx::new(tables, cache, now, observe, None);
                        let result = attempt(&mut ctx);
                        let ready = settle_write(inner, ctx, &mut out);
                        (result, ready)
                    },
                    &mut replies,
                );
            }
        }
        if sql.as_ref().is_some_and(|(w, _)| w.lost_txn()) {
            // SQLite dropped the transaction under a write of this batch (an interrupted
            // statement in a MULTI): nothing may be logged.
            return Err(EngineError::Other(
                "a SQL statement rolled back its transaction".into(),
            ));
        }
        if !out.payloads.is_empty() {
            let refs: Vec<&[u8]> = out.payloads.iter().map(Vec::as_slice).collect();
            wal.append(&refs)?;
            logged = true;
            // The log has the batch: the cached rows it changed are brought up to date now,
            // while the write path's reads of them are still in the CPU cache (after the
            // B-tree updates below, the refresh missed again: 7% of INCR -P 16's writer). A
            // failure past this point loses nothing the cache now shows: the store replays
            // the logged batches (`restore_lost_batches`) and refuses reads until then.
            refresh_cache(cache, &out.changed, wal.last_lsn());
            tables.set_applied_lsn(wal.last_lsn())?;
            if let Some((writer, _)) = &mut sql {
                writer
                    .commit(wal.last_lsn())
                    .map_err(|e| EngineError::Other(e.to_string()))?;
            }
            stats
                .changes_since_checkpoint
                .fetch_add(out.payloads.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = &result {
        if logged {
            // The log has the batch but the store does not: it is replayed from the log now
            // (or, if the store cannot take it, at the next start), so it did happen, and its
            // clients get their replies. Answering "nothing was changed" here was wrong: the
            // next start applied it anyway.
            tracing::error!("write batch logged but not stored ({e}): replaying it");
            store.mark_stale();
            restore_lost_batches(store, wal);
            if let Some((writer, sql_stats)) = sql {
                // SQLite may lack it too (its commit failed, or came after the failure).
                sql::catch_up_with_log(writer, wal, sql_stats);
            }
        }
    }
    match result {
        Err(e) if !logged => {
            // Nothing of the batch was applied: every client hears it failed.
            restore_lost_batches(store, wal);
            stats.wal_write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!("write batch failed, nothing applied: {e}");
            let text = format!("ERR write failed, nothing was changed: {e}");
            replies::deliver(
                replies
                    .into_iter()
                    .map(|(to, _)| (to, Reply::Error(text.clone()))),
            );
        }
        _ => {
            // Committed, or logged and replayed (and the cache refreshed, above): the batch's
            // notifications go before any reply tells a client it is done.
            lock(&inner.snapshot).take();
            inner.vectors.observe(&out.changed);
            out.publish(&inner.bus);
            stats.expired_keys.fetch_add(out.expired, Ordering::Relaxed);
            stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
            stats.kv_lsn.store(wal.last_lsn(), Ordering::SeqCst);
            stats.wal_bytes.store(wal.size(), Ordering::Relaxed);
            replies::deliver(replies);
        }
    }
}

/// What the writes of a batch leave to do once it commits.
#[derive(Default)]
struct BatchOut {
    /// WAL payloads, one per write.
    payloads: Vec<Vec<u8>>,
    /// Every operation (for the row cache).
    changed: Vec<Op>,
    expired: u64,
    /// Keyspace events to publish.
    events: Vec<KeyEvent>,
    /// Keys each client changed, for client-side caching invalidation.
    invalidated: Vec<(u64, Vec<Bytes>)>,
    /// A whole database changed (FLUSHDB, FLUSHALL, SWAPDB): every tracking client hears it.
    flushed: bool,
}

impl BatchOut {
    /// Notifies the bus of what the committed batch did.
    fn publish(&mut self, bus: &Bus) {
        if !self.events.is_empty() {
            bus.notify(&self.events);
        }
        if self.flushed {
            bus.invalidate_all();
        }
        for (origin, keys) in &self.invalidated {
            bus.invalidate(keys, *origin);
        }
    }
}

/// Ends one write of a batch: its changes go to the observers, as a WAL payload to `out`, and
/// to the bus's bookkeeping. Returns the keys it changed when clients are blocked (none
/// otherwise).
fn settle_write(inner: &Inner, ctx: WriteCtx<'_, '_>, out: &mut BatchOut) -> Vec<(u32, Vec<u8>)> {
    let WriteCtx {
        mut ops,
        touched,
        expired: n,
        observed,
        origin,
        ..
    } = ctx;
    out.expired += n;
    inner.observers.changed(&ops, &touched);
    if let Some(mut observed) = observed {
        out.events.append(&mut observed.events);
    }
    if !ops.is_empty() && inner.bus.tracking.is_active() {
        let (keys, whole_db) = observe::all_changed_keys(&ops, &touched);
        out.flushed |= whole_db;
        if !keys.is_empty() {
            out.invalidated.push((origin, keys));
        }
    }
    let ready = if inner.waiters.is_empty() {
        Vec::new()
    } else {
        changed_keys(&ops, &touched)
    };
    if !ops.is_empty() {
        out.payloads.push(record::encode(&ops));
        out.changed.append(&mut ops);
    }
    ready
}

/// Removes up to `EXPIRY_BATCH` keys whose deadline passed, logging their deletion.
fn expire_cycle(inner: &Inner, wal: &mut Wal) {
    let (store, cache, stats) = (&inner.store, &inner.cache, &inner.stats);
    let now = now_ms();
    let mut removed: Vec<Op> = Vec::new();
    let mut events: Vec<KeyEvent> = Vec::new();
    let mut invalidated: Vec<Bytes> = Vec::new();
    let result = store.write(false, |t| -> Result<(u64, u64), EngineError> {
        let due = t.due_expiries(now, EXPIRY_BATCH)?;
        let mut ops: Vec<Op> = due
            .into_iter()
            .map(|(db, key)| Op::Delete { db, key })
            .collect();
        for op in &ops {
            apply_op(t, op)?;
        }
        let keys = ops.len() as u64;
        let observe = inner.bus.wants_key_events();
        if observe {
            for op in &ops {
                if let Op::Delete { db, key } = op {
                    events.push(KeyEvent {
                        db: *db,
                        key: Bytes::copy_from_slice(key),
                        event: keyspace::EXPIRED,
                    });
                }
            }
        }
        // Hash fields past their deadline, a bounded number of hashes per tick.
        let hashes = t.due_field_expiries(now, FIELD_EXPIRY_BATCH)?;
        let mut fields = 0;
        let mut touched = Vec::new();
        if !hashes.is_empty() {
            let mut ctx = WriteCtx::new(t, cache, now, observe, None);
            for (db, key) in hashes {
                ctx.begin_command(0);
                let n = crate::kv::types::hash::expire_fields(&mut ctx, db, &key)
                    .map_err(|e| EngineError::Other(e.to_string()))?;
                if n > 0 {
                    ctx.end_command(&Events::Each(keyspace::HEXPIRED))
                        .map_err(|e| EngineError::Other(e.to_string()))?;
                }
                fields += n;
            }
            if let Some(mut observed) = ctx.observed.take() {
                events.append(&mut observed.events);
            }
            ops.append(&mut ctx.ops);
            touched = ctx.touched;
        }
        if ops.is_empty() {
            return Ok((0, 0));
        }
        inner.observers.changed(&ops, &touched);
        if inner.bus.tracking.is_active() {
            invalidated = observe::all_changed_keys(&ops, &touched).0;
        }
        wal.append(&[&record::encode(&ops)])?;
        // Logged: the expiries happened, whatever fails after (see `run_batch`).
        removed = ops;
        #[cfg(test)]
        if inner
            .expiry_faults
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(EngineError::Other("injected store failure".into()));
        }
        t.set_applied_lsn(wal.last_lsn())?;
        Ok((keys, fields))
    });
    if let (Err(e), false) = (&result, removed.is_empty()) {
        tracing::error!("active expiry logged but not stored ({e}): replaying it");
        store.mark_stale();
    }
    refresh_cache(cache, &removed, wal.last_lsn());
    if !removed.is_empty() {
        lock(&inner.snapshot).take();
        inner.vectors.observe(&removed);
    }
    if let Err(e) = &result {
        tracing::warn!("active expiry: {e}");
        restore_lost_batches(store, wal);
    }
    if result.is_err() && removed.is_empty() {
        return;
    }
    inner.bus.notify(&events);
    inner.bus.invalidate(&invalidated, 0);
    if let Ok((keys, fields)) = result {
        stats.expired_keys.fetch_add(keys, Ordering::Relaxed);
        stats.expired_fields.fetch_add(fields, Ordering::Relaxed);
    }
    if !removed.is_empty() {
        stats
            .changes_since_checkpoint
            .fetch_add(1, Ordering::Relaxed);
        stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
        stats.kv_lsn.store(wal.last_lsn(), Ordering::SeqCst);
    }
}

/// Removes a bounded number of members of deleted collections. Not logged: the members are
/// unreachable, and a crash brings back the garbage list together with them.
fn collect_garbage(store: &KvStore, wal: &Wal, stats: &EngineStats) {
    match store.write(false, |t| -> Result<(usize, u64), StoreError> {
        Ok((t.collect_garbage(GARBAGE_BATCH)?, t.garbage_len()?))
    }) {
        Ok((removed, pending)) => {
            stats
                .collected_members
                .fetch_add(removed as u64, Ordering::Relaxed);
            stats.garbage_versions.store(pending, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::warn!("collecting deleted members: {e}");
            restore_lost_batches(store, wal);
        }
    }
}

/// After a failed write dropped the store's pending batches (see `KvStore::write`), writes
/// them again from the log: every record after the store's committed LSN. Until that is done
/// the store refuses reads; if it cannot be done they stay refused (a restart replays).
fn restore_lost_batches(store: &KvStore, wal: &Wal) {
    if !store.is_stale() {
        return;
    }
    let redo = || -> Result<u64, EngineError> {
        let applied = store.applied_lsns()?;
        let mut records: Vec<(Lsn, Vec<Op>)> = Vec::new();
        wal.replay(applied.oldest(), |lsn, payload| {
            records.push((lsn, record::decode(payload).map_err(|e| e.to_string())?));
            Ok(())
        })?;
        apply_records(store, &records, applied)?;
        Ok(records.len() as u64)
    };
    match redo() {
        Ok(n) => {
            tracing::warn!("a failed write dropped uncommitted batches: {n} records written again");
            store.recovered();
        }
        Err(e) => tracing::error!(
            "a failed write dropped uncommitted batches and replaying them failed ({e}); \
             reads are refused until a restart replays the log"
        ),
    }
}

/// Brings the row cache up to date with what `ops` changed (committed at `lsn`): cached keys
/// get their new string row (or are known gone), so the next write or read of the key finds
/// it there; other changes drop the key (everything for whole-database changes).
fn refresh_cache(cache: &RowCache, ops: &[Op], lsn: Lsn) {
    if ops.is_empty() {
        return;
    }
    if ops
        .iter()
        .any(|op| matches!(op, Op::FlushDb { .. } | Op::SwapDb { .. }))
    {
        cache.clear(lsn);
        return;
    }
    let keys = ops.iter().filter_map(|op| match op {
        // Only strings are cached: a collection's header must come from the same snapshot as
        // its members.
        Op::PutRow { db, key, row } => {
            let now = (meta::key_type(row) == Some(KeyType::String)).then_some(Some(&row[..]));
            Some((*db, key.as_slice(), now))
        }
        Op::Delete { db, key } | Op::Forget { db, key } => Some((*db, key.as_slice(), Some(None))),
        Op::SetExpire { db, key, .. } => Some((*db, key.as_slice(), None)),
        // Members are never cached.
        Op::PutSub { .. }
        | Op::DelSub { .. }
        | Op::ListPut { .. }
        | Op::ListDel { .. }
        | Op::FlushDb { .. }
        | Op::SwapDb { .. }
        | Op::Sql { .. } => None,
    });
    cache.refresh(keys, lsn);
}

#[cfg(test)]
mod tests;
