//! Core: owns the write-ahead log and the engines, and runs every write on one engine thread.
//!
//! A write command is parsed on its connection's thread, then sent here as a closure. The
//! engine thread takes all waiting writes as one batch: each runs against one redb write
//! transaction through [`WriteCtx`] (which records its operations), the batch's records are
//! appended to the WAL (fsynced under `always`), the transaction commits without fsync, and
//! only then are the replies released. One fsync and one commit cover a whole group of clients.
//! Reads run on the connection threads against redb snapshots and see every acknowledged write.

pub mod file;
pub mod record;
pub mod wal;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::cmd::CmdError;
use crate::config::AppendFsync;
use crate::kv::cache::RowCache;
use crate::kv::meta;
use crate::kv::store::{KvStore, ReadTables, StoreError, WriteTables};
use crate::resp::Reply;
use file::{FsDir, WalDir};
use record::Op;
use wal::{Lsn, RecoveryReport, Wal, WalError};

/// How often the engine thread looks for expired keys, and how many it removes per look.
const EXPIRY_TICK: Duration = Duration::from_millis(100);
const EXPIRY_BATCH: usize = 200;
/// The most writes one batch (one transaction, one WAL append) takes.
const MAX_BATCH: usize = 4096;
/// Replay commits every this many records.
const REPLAY_CHUNK: usize = 10_000;
/// A checkpoint runs when the WAL grows past this, or every `CHECKPOINT_INTERVAL` with changes.
const CHECKPOINT_WAL_BYTES: u64 = 256 * 1024 * 1024;
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

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

/// A write to run on the engine thread.
pub type WriteFn = Box<dyn FnOnce(&mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> + Send>;

enum Request {
    Write {
        f: WriteFn,
        reply: oneshot::Sender<Reply>,
    },
    Checkpoint {
        done: Option<oneshot::Sender<Reply>>,
    },
    SetFsync(AppendFsync),
}

/// Figures for INFO persistence.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub last_lsn: AtomicU64,
    pub checkpoint_lsn: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub last_checkpoint_unix: AtomicU64,
    pub checkpoints: AtomicU64,
    pub expired_keys: AtomicU64,
    pub wal_write_errors: AtomicU64,
    pub changes_since_checkpoint: AtomicU64,
    pub torn_tail_bytes: AtomicU64,
    pub replayed_records: AtomicU64,
    /// Write batches run and writes in them (group-commit effectiveness).
    pub batches: AtomicU64,
    pub batched_writes: AtomicU64,
}

/// The engines behind the commands.
pub struct Engine {
    databases: u32,
    store: Arc<KvStore>,
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub stats: Arc<EngineStats>,
    pub cache: Arc<RowCache>,
}

/// Where and how the engine keeps its files.
pub struct EngineOptions<'a> {
    pub dir: &'a Path,
    pub databases: u32,
    pub appendfsync: AppendFsync,
    pub cache_bytes: usize,
    /// Budget of the in-memory row cache in front of the store (0 disables it).
    pub row_cache_bytes: usize,
    /// Truncate a corrupt WAL at the first bad record instead of refusing to start.
    pub wal_repair: bool,
    /// The WAL's folder; `None` = `<dir>/wal` on the real file system.
    pub wal_dir: Option<Arc<dyn WalDir>>,
    /// Where the store lives.
    pub store: StoreLocation,
}

/// The KV store's file: `<dir>/kv.redb`, or a simulated disk in tests.
#[derive(Debug, Clone, Default)]
pub enum StoreLocation {
    #[default]
    File,
    #[cfg(test)]
    Simulated(crate::kv::store::SimRedbDisk),
}

impl Engine {
    /// Opens the store and the WAL, replays the records the store has not applied, and starts
    /// the engine thread.
    pub fn open(options: EngineOptions<'_>) -> Result<Engine, EngineError> {
        let store = Arc::new(match &options.store {
            StoreLocation::File => {
                KvStore::open(&options.dir.join("kv.redb"), options.cache_bytes)?
            }
            #[cfg(test)]
            StoreLocation::Simulated(disk) => KvStore::open_simulated(disk)?,
        });
        let applied = store.read()?.applied_lsn()?;
        let wal_dir: Arc<dyn WalDir> = match options.wal_dir {
            Some(dir) => dir,
            None => Arc::new(FsDir::open(options.dir.join("wal")).map_err(WalError::from)?),
        };
        let mut wal = Wal::open(wal_dir, options.appendfsync, applied, options.wal_repair)?;
        let stats = Arc::new(EngineStats::default());
        let started = Instant::now();
        let replayed = replay(&store, &wal, applied)?;
        let RecoveryReport {
            torn_tail_bytes, ..
        } = wal.report.clone();
        if replayed > 0 || torn_tail_bytes > 0 {
            tracing::info!(
                "WAL recovery: {replayed} records replayed after LSN {applied} in {:?}{}",
                started.elapsed(),
                if torn_tail_bytes > 0 {
                    format!(", torn tail of {torn_tail_bytes} bytes cut")
                } else {
                    String::new()
                }
            );
        }
        stats.replayed_records.store(replayed, Ordering::Relaxed);
        stats
            .torn_tail_bytes
            .store(torn_tail_bytes, Ordering::Relaxed);
        stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
        stats.checkpoint_lsn.store(applied, Ordering::Relaxed);
        stats.wal_bytes.store(wal.size(), Ordering::Relaxed);
        stats
            .last_checkpoint_unix
            .store(now_ms() / 1000, Ordering::Relaxed);
        // Records replayed but not yet durable in the store: make them so, then drop the log.
        checkpoint(&store, &mut wal, &stats)?;
        let (tx, rx) = mpsc::channel();
        let thread_store = store.clone();
        let cache = Arc::new(RowCache::new(options.row_cache_bytes));
        let thread_cache = cache.clone();
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("luma-engine".into())
            .spawn(move || engine_loop(thread_store, thread_cache, wal, rx, thread_stats))
            .map_err(|e| EngineError::Other(e.to_string()))?;
        Ok(Engine {
            databases: options.databases,
            store,
            requests: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            stats,
            cache,
        })
    }

    pub fn databases(&self) -> u32 {
        self.databases
    }

    /// A consistent snapshot for reads.
    pub fn read(&self) -> Result<ReadTables, CmdError> {
        Ok(self.store.read()?)
    }

    /// Number of keys in database `db` (keys past their deadline count until removed, as in
    /// Redis).
    pub fn dbsize(&self, db: u32) -> u64 {
        self.store.read().and_then(|r| r.key_count(db)).unwrap_or(0)
    }

    /// (keys, keys with a deadline) of every non-empty database, for INFO keyspace.
    pub fn keyspace(&self) -> Vec<(u32, u64, u64)> {
        let Ok(r) = self.store.read() else {
            return Vec::new();
        };
        (0..self.databases)
            .filter_map(|db| {
                let keys = r.key_count(db).ok()?;
                (keys > 0).then(|| (db, keys, r.expires_count(db).unwrap_or(0)))
            })
            .collect()
    }

    fn send(&self, request: Request) -> Result<(), CmdError> {
        let guard = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => tx
                .send(request)
                .map_err(|_| CmdError::err("server is shutting down")),
            None => Err(CmdError::err("server is shutting down")),
        }
    }

    /// Queues a write; the receiver yields its reply once it is logged and applied.
    pub fn submit(&self, f: WriteFn) -> Result<oneshot::Receiver<Reply>, CmdError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Write { f, reply })?;
        Ok(rx)
    }

    /// Makes the store durable and trims the WAL (SAVE / BGSAVE / shutdown); the receiver gets
    /// OK or the error.
    pub fn checkpoint(&self) -> Result<oneshot::Receiver<Reply>, CmdError> {
        let (done, rx) = oneshot::channel();
        self.send(Request::Checkpoint { done: Some(done) })?;
        Ok(rx)
    }

    pub fn set_appendfsync(&self, policy: AppendFsync) {
        let _ = self.send(Request::SetFsync(policy));
    }

    /// Finishes queued writes, checkpoints and stops the engine thread.
    pub fn close(&self) {
        let _ = self.send(Request::Checkpoint { done: None });
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}

/// Applies the records after `applied`, a chunk per transaction.
fn replay(store: &KvStore, wal: &Wal, applied: Lsn) -> Result<u64, EngineError> {
    let mut chunk: Vec<(Lsn, Vec<Op>)> = Vec::new();
    let flush = |chunk: &mut Vec<(Lsn, Vec<Op>)>| -> Result<(), EngineError> {
        let Some(last) = chunk.last().map(|(lsn, _)| *lsn) else {
            return Ok(());
        };
        store.write(false, |t| -> Result<(), EngineError> {
            for (_, ops) in chunk.iter() {
                for op in ops {
                    apply_op(t, op)?;
                }
            }
            t.set_applied_lsn(last)?;
            Ok(())
        })?;
        chunk.clear();
        Ok(())
    };
    let mut failure: Option<EngineError> = None;
    let count = wal.replay(applied, |lsn, payload| {
        let ops = record::decode(payload).map_err(|e| e.to_string())?;
        chunk.push((lsn, ops));
        if chunk.len() >= REPLAY_CHUNK {
            if let Err(e) = flush(&mut chunk) {
                let text = e.to_string();
                failure = Some(e);
                return Err(text);
            }
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let count = count?;
    flush(&mut chunk)?;
    Ok(count)
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
        Op::FlushDb { db } => t.flush_db(*db)?,
        Op::SwapDb { a, b } => {
            let rows_a = t.all_rows(*a)?;
            let rows_b = t.all_rows(*b)?;
            t.flush_db(*a)?;
            t.flush_db(*b)?;
            for (k, v) in rows_a {
                t.put(*b, &k, &v)?;
            }
            for (k, v) in rows_b {
                t.put(*a, &k, &v)?;
            }
        }
    }
    Ok(())
}

/// What a write command sees on the engine thread: reads and changes inside the batch's
/// transaction. Every change is recorded for the WAL here, and only here.
pub struct WriteCtx<'a, 't> {
    tables: &'a mut WriteTables<'t>,
    ops: Vec<Op>,
    /// The batch's clock (unix ms): one time for every write of the batch.
    pub now_ms: u64,
    expired: u64,
}

impl WriteCtx<'_, '_> {
    fn apply(&mut self, op: Op) -> Result<(), CmdError> {
        apply_op(self.tables, &op)?;
        self.ops.push(op);
        Ok(())
    }

    /// The live row of `key`; a key past its deadline is removed (and logged) first.
    pub fn get(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        let Some(row) = self.tables.get(db, key)? else {
            return Ok(None);
        };
        if meta::is_expired(&row, self.now_ms) {
            self.apply(Op::Delete {
                db,
                key: key.to_vec(),
            })?;
            self.expired += 1;
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

    pub fn key_count(&self, db: u32) -> Result<u64, CmdError> {
        Ok(self.tables.key_count(db)?)
    }
}

fn checkpoint(store: &KvStore, wal: &mut Wal, stats: &EngineStats) -> Result<(), EngineError> {
    wal.sync()?;
    let lsn = wal.last_lsn();
    store.write(true, |t| -> Result<(), EngineError> {
        if t.applied_lsn()? < lsn {
            t.set_applied_lsn(lsn)?;
        }
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

fn engine_loop(
    store: Arc<KvStore>,
    cache: Arc<RowCache>,
    mut wal: Wal,
    rx: mpsc::Receiver<Request>,
    stats: Arc<EngineStats>,
) {
    let mut last_expiry = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut batch: Vec<(WriteFn, oneshot::Sender<Reply>)> = Vec::new();
    let mut checkpoint_waiters: Vec<Option<oneshot::Sender<Reply>>> = Vec::new();
    loop {
        let sync_due = wal.sync_if_due().unwrap_or_else(|e| {
            tracing::error!("WAL fsync failed: {e}");
            Duration::from_secs(1)
        });
        let wait = sync_due.min(EXPIRY_TICK.saturating_sub(last_expiry.elapsed()));
        let mut disconnected = false;
        match rx.recv_timeout(wait) {
            Ok(request) => {
                let mut next = Some(request);
                while let Some(request) = next.take() {
                    match request {
                        Request::Write { f, reply } => batch.push((f, reply)),
                        Request::Checkpoint { done } => checkpoint_waiters.push(done),
                        Request::SetFsync(policy) => wal.set_policy(policy),
                    }
                    if batch.len() < MAX_BATCH {
                        next = rx.try_recv().ok();
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => disconnected = true,
        }
        if !batch.is_empty() {
            run_batch(&store, &cache, &mut wal, &stats, &mut batch);
        }
        if last_expiry.elapsed() >= EXPIRY_TICK {
            expire_cycle(&store, &cache, &mut wal, &stats);
            last_expiry = Instant::now();
        }
        let changed = stats.changes_since_checkpoint.load(Ordering::Relaxed) > 0;
        let due = wal.size() > CHECKPOINT_WAL_BYTES
            || (changed && last_checkpoint.elapsed() > CHECKPOINT_INTERVAL);
        if due || !checkpoint_waiters.is_empty() || disconnected {
            let reply = match checkpoint(&store, &mut wal, &stats) {
                Ok(()) => crate::resp::OK,
                Err(e) => {
                    tracing::error!("checkpoint failed: {e}");
                    Reply::Error(format!("ERR checkpoint failed: {e}"))
                }
            };
            last_checkpoint = Instant::now();
            for waiter in checkpoint_waiters.drain(..).flatten() {
                let _ = waiter.send(reply.clone());
            }
        }
        if disconnected {
            return;
        }
    }
}

/// Runs a batch of writes in one transaction and one WAL append; releases the replies after.
fn run_batch(
    store: &KvStore,
    cache: &RowCache,
    wal: &mut Wal,
    stats: &EngineStats,
    batch: &mut Vec<(WriteFn, oneshot::Sender<Reply>)>,
) {
    let now = now_ms();
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats
        .batched_writes
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut replies: Vec<(oneshot::Sender<Reply>, Reply)> = Vec::with_capacity(batch.len());
    let mut expired = 0;
    let mut changed: Vec<Op> = Vec::new();
    let result = store.write(false, |tables| -> Result<(), EngineError> {
        let mut payloads: Vec<Vec<u8>> = Vec::new();
        for (f, reply_tx) in batch.drain(..) {
            let mut ctx = WriteCtx {
                tables,
                ops: Vec::new(),
                now_ms: now,
                expired: 0,
            };
            let reply = match f(&mut ctx) {
                Ok(reply) => reply,
                Err(e) => Reply::Error(e.to_resp_text()),
            };
            expired += ctx.expired;
            if !ctx.ops.is_empty() {
                payloads.push(record::encode(&ctx.ops));
                changed.append(&mut ctx.ops);
            }
            replies.push((reply_tx, reply));
        }
        if !payloads.is_empty() {
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            wal.append(&refs)?;
            tables.set_applied_lsn(wal.last_lsn())?;
            stats
                .changes_since_checkpoint
                .fetch_add(payloads.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            // Committed: stale cached rows go before any reply tells a client it is done.
            invalidate(cache, &changed, wal.last_lsn());
            stats.expired_keys.fetch_add(expired, Ordering::Relaxed);
            stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
            stats.wal_bytes.store(wal.size(), Ordering::Relaxed);
            for (tx, reply) in replies {
                let _ = tx.send(reply);
            }
        }
        Err(e) => {
            // Nothing of the batch was applied: every client hears it failed.
            stats.wal_write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!("write batch failed, nothing applied: {e}");
            let text = format!("ERR write failed, nothing was changed: {e}");
            for (tx, _) in replies {
                let _ = tx.send(Reply::Error(text.clone()));
            }
        }
    }
}

/// Removes up to `EXPIRY_BATCH` keys whose deadline passed, logging their deletion.
fn expire_cycle(store: &KvStore, cache: &RowCache, wal: &mut Wal, stats: &EngineStats) {
    let now = now_ms();
    let mut removed: Vec<Op> = Vec::new();
    let result = store.write(false, |t| -> Result<u64, EngineError> {
        let due = t.due_expiries(now, EXPIRY_BATCH)?;
        if due.is_empty() {
            return Ok(0);
        }
        let ops: Vec<Op> = due
            .into_iter()
            .map(|(db, key)| Op::Delete { db, key })
            .collect();
        for op in &ops {
            apply_op(t, op)?;
        }
        wal.append(&[&record::encode(&ops)])?;
        t.set_applied_lsn(wal.last_lsn())?;
        let n = ops.len() as u64;
        removed = ops;
        Ok(n)
    });
    invalidate(cache, &removed, wal.last_lsn());
    match result {
        Ok(n) => {
            stats.expired_keys.fetch_add(n, Ordering::Relaxed);
            if n > 0 {
                stats
                    .changes_since_checkpoint
                    .fetch_add(1, Ordering::Relaxed);
                stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
            }
        }
        Err(e) => tracing::warn!("active expiry: {e}"),
    }
}

/// Drops from the row cache every key `ops` changed (all of it for whole-database changes).
fn invalidate(cache: &RowCache, ops: &[Op], lsn: Lsn) {
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
        Op::PutRow { db, key, .. } | Op::Delete { db, key } | Op::SetExpire { db, key, .. } => {
            Some((*db, key.as_slice()))
        }
        Op::FlushDb { .. } | Op::SwapDb { .. } => None,
    });
    cache.invalidate(keys, lsn);
}

#[cfg(test)]
mod tests;
