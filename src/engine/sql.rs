//! The SQL engine inside the core: its writer thread, which logs SQL writes in the unified
//! WAL (see `sqlite` for why and how), its readers, and what SQL may read of the others.
//!
//! The writer thread takes the SQL writes waiting for it as one group. Plain SQL.EXECs run
//! first, each in its own savepoint of one open SQLite transaction, outside the log's lock;
//! then the group becomes one engine batch under the lock: the changesets are logged (a MULTI
//! holding SQL runs there, in order, KV and SQL writes sharing its record), the SQLite
//! transaction commits with the batch's last LSN, the KV transaction commits, and the
//! replies go out. One fsync (`appendfsync always`) and one SQLite commit cover the group.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::record::{self, Op};
use super::replies::ReplyTo;
use super::wal::Wal;
use super::{lock, run_batch, Inner, WriteFn};
use crate::bus::{Bus, ChannelKind};
use crate::cmd::CmdError;
use crate::kv::store::KvStore;
use crate::kv::types::{hash, vset};
use crate::kv::view::SnapshotView;
use crate::resp::Reply;
use crate::sqlite::hybrid::VectorHit;
use crate::sqlite::{self, Capturing, Host, Readers, Request, SqlStats, Writer};
use crate::vector::filter::Filter;
use crate::vector::set::Query;

use super::vectors::Vectors;

/// Most SQL writes in one group.
const MAX_GROUP: usize = 256;
/// Search effort of `vsearch()` (VSIM's default EF; raised to k when k is larger).
const VSEARCH_EF: usize = 100;
/// How long `vsearch()` waits for a set's index to catch up with acknowledged writes.
const CATCH_UP_WAIT: Duration = Duration::from_secs(10);

/// What SQL commands hear while SQLite lacks logged writes (see `SqlStats::behind_log`).
const BEHIND_LOG: &str = "SQL engine unavailable: a failed commit left it behind the log; \
                          it replays the log before the next SQL write (or at restart)";

/// A SQL write waiting for the writer thread.
pub enum SqlWrite {
    /// SQL.EXEC on its own.
    Exec(Request),
    /// A MULTI/EXEC holding SQL commands: runs whole in the group's batch, its SQL under
    /// these limits.
    Txn(WriteFn, sqlite::Limits),
}

struct SqlJob {
    write: SqlWrite,
    reply: oneshot::Sender<Reply>,
}

/// The SQL engine's handles: the writer thread's queue, the readers, the counters.
pub struct SqlEngine {
    pub readers: Readers,
    queue: Mutex<Option<mpsc::Sender<SqlJob>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub stats: Arc<SqlStats>,
    pub path: PathBuf,
    /// The writer's injected commit failures (see `Writer::commit_faults`).
    #[cfg(test)]
    pub commit_faults: Arc<std::sync::atomic::AtomicUsize>,
}

impl SqlEngine {
    /// Queues a write for the writer thread; the receiver yields its reply once logged.
    pub fn write(&self, write: SqlWrite) -> Result<oneshot::Receiver<Reply>, CmdError> {
        let (reply, rx) = oneshot::channel();
        let queue = lock(&self.queue);
        let sent = queue
            .as_ref()
            .map(|q| q.send(SqlJob { write, reply }).is_ok());
        if sent != Some(true) {
            return Err(CmdError::err("server is shutting down"));
        }
        Ok(rx)
    }

    /// Runs `f` on a reader connection.
    pub fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&sqlite::conn::Conn) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, CmdError> {
        if self.stats.behind_log.load(Ordering::SeqCst) {
            return Err(CmdError::err(BEHIND_LOG));
        }
        self.readers
            .run(f)
            .map_err(|e| CmdError::Other(e.resp_text()))
    }

    /// Lets the queued writes finish, then stops the writer and the readers.
    pub fn close(&self) {
        lock(&self.queue).take();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
        self.readers.close();
    }

    /// Size of the database's files (main file and SQLite's WAL).
    pub fn file_bytes(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        size(&self.path) + size(&wal_file(&self.path))
    }
}

fn wal_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Makes every committed SQLite transaction durable (checkpoints call it before the unified
/// WAL is cut: SQLite runs with `synchronous=NORMAL`, so its commits are not fsynced).
pub fn sync_files(db: &Path) -> std::io::Result<()> {
    for path in [wal_file(db), db.to_path_buf()] {
        match std::fs::File::open(&path) {
            Ok(f) => f.sync_all()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts the writer thread (with the connection replay used) and the readers.
pub(super) fn start(
    inner: &Arc<Inner>,
    writer: Writer,
    host: Arc<dyn Host>,
    path: PathBuf,
    stats: Arc<SqlStats>,
    readers: usize,
) -> Result<SqlEngine, sqlite::SqlError> {
    let readers = Readers::start(&path, host, readers)?;
    #[cfg(test)]
    let commit_faults = writer.commit_faults.clone();
    let (tx, rx) = mpsc::channel::<SqlJob>();
    let duties = inner.clone();
    let thread_stats = stats.clone();
    let thread = std::thread::Builder::new()
        .name("luma-sql-writer".into())
        .spawn(move || writer_loop(&duties, writer, &rx, &thread_stats))
        .map_err(|e| sqlite::SqlError::Internal(e.to_string()))?;
    Ok(SqlEngine {
        readers,
        queue: Mutex::new(Some(tx)),
        thread: Mutex::new(Some(thread)),
        stats,
        path,
        #[cfg(test)]
        commit_faults,
    })
}

fn writer_loop(inner: &Inner, mut writer: Writer, rx: &mpsc::Receiver<SqlJob>, stats: &SqlStats) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if stats.behind_log.load(Ordering::SeqCst) {
            let caught_up = lock(&inner.wal)
                .as_ref()
                .is_some_and(|wal| catch_up_with_log(&mut writer, wal, stats));
            if !caught_up {
                for job in jobs {
                    let _ = job.reply.send(Reply::Error(format!("ERR {BEHIND_LOG}")));
                }
                continue;
            }
        }
        stats.write_groups.fetch_add(1, Ordering::Relaxed);
        stats
            .grouped_writes
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        // Plain SQL.EXECs up to the first transaction run now, outside the log's lock; what
        // follows a transaction runs after it, in the batch, so no client's writes reorder.
        let split = jobs
            .iter()
            .position(|j| matches!(j.write, SqlWrite::Txn(..)))
            .unwrap_or(jobs.len());
        let rest = jobs.split_off(split);
        let plain = run_plain(&mut writer, jobs, stats);
        let mut guard = lock(&inner.wal);
        let Some(wal) = guard.as_mut() else {
            for reply in plain
                .into_iter()
                .map(|p| p.reply)
                .chain(rest.into_iter().map(|j| j.reply))
            {
                let _ = reply.send(Reply::Error("ERR server is shutting down".into()));
            }
            continue;
        };
        if rest.is_empty() {
            log_plain(inner, wal, plain, &mut writer, stats);
        } else {
            let mut batch: Vec<(WriteFn, ReplyTo)> = plain
                .into_iter()
                .map(
                    |Plain {
                         outcome,
                         log,
                         reply,
                     }| {
                        let write: WriteFn = Box::new(move |w| {
                            w.log_sql(log);
                            Ok(outcome.reply())
                        });
                        (write, ReplyTo::Once(reply))
                    },
                )
                .collect();
            for SqlJob { write, reply } in rest {
                batch.push(match write {
                    SqlWrite::Exec(req) => {
                        stats.execs.fetch_add(1, Ordering::Relaxed);
                        (Box::new(move |w| w.sql_exec(&req)), ReplyTo::Once(reply))
                    }
                    SqlWrite::Txn(f, limits) => {
                        writer.limits = limits;
                        (f, ReplyTo::Once(reply))
                    }
                });
            }
            run_batch(inner, wal, &mut batch, Some((&mut writer, stats)));
        }
        drop(guard);
        // Nothing logged (or the batch failed): nothing of the group may stay.
        writer.rollback();
        writer.checkpoint_if_due();
        stats
            .applied_lsn
            .store(writer.applied_lsn, Ordering::Relaxed);
    }
}

/// A plain SQL.EXEC that ran: its reply and what its record holds.
struct Plain {
    outcome: sqlite::ExecOutcome,
    log: Vec<u8>,
    reply: oneshot::Sender<Reply>,
}

/// Runs plain SQL.EXECs in savepoints of the open transaction. A failing one answers its
/// error at once; if SQLite rolled the whole transaction back with it, the ones before it
/// (not yet acknowledged) run again.
fn run_plain(writer: &mut Writer, jobs: Vec<SqlJob>, stats: &SqlStats) -> Vec<Plain> {
    let mut pending: Vec<(Request, oneshot::Sender<Reply>)> = jobs
        .into_iter()
        .filter_map(|j| match j.write {
            SqlWrite::Exec(req) => Some((req, j.reply)),
            SqlWrite::Txn(..) => None,
        })
        .collect();
    stats
        .execs
        .fetch_add(pending.len() as u64, Ordering::Relaxed);
    loop {
        let mut done = Vec::with_capacity(pending.len());
        let mut queue = pending.into_iter();
        let mut lost = false;
        for (req, reply) in queue.by_ref() {
            match writer.exec(&req, Capturing::Shared) {
                Ok(result) => done.push((req, reply, result)),
                Err(e) => {
                    stats.count_error(&e);
                    let _ = reply.send(Reply::Error(e.resp_text()));
                    if !writer.in_txn() && !done.is_empty() {
                        lost = true;
                        break;
                    }
                }
            }
        }
        if lost {
            pending = done
                .into_iter()
                .map(|(req, reply, _)| (req, reply))
                .chain(queue)
                .collect();
            continue;
        }
        // The shared session's changes go into the last write's record (the group's records
        // are appended and acknowledged together).
        let rest = match writer.finish_shared() {
            Ok(rest) => rest,
            Err(e) => {
                tracing::error!("SQL writer: reading the group's changes failed: {e}");
                writer.rollback();
                for (_, reply, _) in done {
                    let _ = reply.send(Reply::Error(e.resp_text()));
                }
                return Vec::new();
            }
        };
        if let Some((_, _, (_, log))) = done.last_mut() {
            log.extend_from_slice(&rest);
        }
        return done
            .into_iter()
            .map(|(_, reply, (outcome, log))| {
                stats
                    .rows_changed
                    .fetch_add(outcome.changes, Ordering::Relaxed);
                Plain {
                    outcome,
                    log,
                    reply,
                }
            })
            .collect();
    }
}

/// Logs a group of plain SQL writes: their records appended in one write (fsynced under
/// `always`), the SQLite transaction committed with the last LSN, the replies sent. No KV
/// transaction: the KV store has nothing to apply, and replay skips these records for it.
fn log_plain(
    inner: &Inner,
    wal: &mut Wal,
    plain: Vec<Plain>,
    writer: &mut Writer,
    sql_stats: &SqlStats,
) {
    let payloads: Vec<Vec<u8>> = plain
        .iter()
        .filter(|p| !p.log.is_empty())
        .map(|p| {
            record::encode(&[Op::Sql {
                changes: p.log.clone(),
            }])
        })
        .collect();
    let appended = if payloads.is_empty() {
        Ok(())
    } else {
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        wal.append(&refs).map(drop)
    };
    let stats = &inner.stats;
    if let Err(e) = appended {
        stats.wal_write_errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!("SQL write group failed, nothing applied: {e}");
        writer.rollback();
        let text = format!("ERR write failed, nothing was changed: {e}");
        for p in plain {
            let _ = p.reply.send(Reply::Error(text.clone()));
        }
        return;
    }
    if !payloads.is_empty() {
        if let Err(e) = writer.commit(wal.last_lsn()) {
            // The log has the group, so it happened: SQLite gets it from the log.
            tracing::error!("SQL write group logged but not committed ({e}): replaying it");
            catch_up_with_log(writer, wal, sql_stats);
        }
        stats
            .changes_since_checkpoint
            .fetch_add(payloads.len() as u64, Ordering::Relaxed);
        stats.last_lsn.store(wal.last_lsn(), Ordering::Relaxed);
        stats.wal_bytes.store(wal.size(), Ordering::Relaxed);
    }
    for p in plain {
        let _ = p.reply.send(p.outcome.reply());
    }
}

/// Brings SQLite up to the log after a commit failed once its records were logged: the open
/// transaction is dropped and every SQL change logged after the writer's applied LSN is
/// applied again, as at start-up. Answering such writes "nothing was changed" would be wrong
/// (the next start applies them); leaving SQLite without them would hide acknowledged writes
/// from reads. If the replay fails too, SQL is refused (`behind_log`) until one works.
pub(super) fn catch_up_with_log(writer: &mut Writer, wal: &Wal, stats: &SqlStats) -> bool {
    writer.rollback();
    let mut last = None;
    let replayed = wal
        .replay(writer.applied_lsn, |lsn, payload| {
            for op in record::decode(payload).map_err(|e| e.to_string())? {
                if let Op::Sql { changes } = op {
                    writer.replay(&changes).map_err(|e| e.to_string())?;
                    last = Some(lsn);
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
        .and_then(|_| match last {
            Some(lsn) => writer.finish_replay(lsn).map_err(|e| e.to_string()),
            None => Ok(()),
        });
    match replayed {
        Ok(()) => {
            stats.catch_ups.fetch_add(1, Ordering::Relaxed);
            stats.behind_log.store(false, Ordering::SeqCst);
            true
        }
        Err(e) => {
            writer.abandon_replay();
            stats.behind_log.store(true, Ordering::SeqCst);
            tracing::error!("SQL writer: replaying logged writes failed ({e}); SQL is refused");
            false
        }
    }
}

/// What SQL reads of the KV and vector engines, and how it publishes.
pub(super) struct EngineHost {
    pub store: Arc<KvStore>,
    pub vectors: Arc<Vectors>,
    pub bus: Arc<Bus>,
}

fn text(e: impl std::fmt::Display) -> String {
    let s = e.to_string();
    s.strip_prefix("ERR ").map(str::to_string).unwrap_or(s)
}

impl Host for EngineHost {
    fn kv_get(&self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let tables = self.store.read().map_err(text)?;
        let mut view = SnapshotView {
            tables: &tables,
            now_ms: super::now_ms(),
        };
        crate::cmd::string::read_string(&mut view, db, key).map_err(|e| text(e.to_resp_text()))
    }

    fn kv_hget(&self, db: u32, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let tables = self.store.read().map_err(text)?;
        let mut view = SnapshotView {
            tables: &tables,
            now_ms: super::now_ms(),
        };
        let Some(c) = hash::load_hash(&mut view, db, key).map_err(|e| text(e.to_resp_text()))?
        else {
            return Ok(None);
        };
        hash::get(&mut view, &c, field).map_err(|e| text(e.to_resp_text()))
    }

    fn publish(&self, channel: &[u8], message: &[u8]) -> i64 {
        let channel = bytes::Bytes::copy_from_slice(channel);
        let message = bytes::Bytes::copy_from_slice(message);
        self.bus.publish(ChannelKind::Global, &channel, &message) as i64
    }

    fn vsearch(
        &self,
        db: u32,
        key: &[u8],
        query: &[f32],
        k: usize,
        filter: Option<&str>,
    ) -> Result<Vec<VectorHit>, String> {
        let c = {
            let tables = self.store.read().map_err(text)?;
            let mut view = SnapshotView {
                tables: &tables,
                now_ms: super::now_ms(),
            };
            vset::load_vset(&mut view, db, key).map_err(|e| text(e.to_resp_text()))?
        };
        let Some(c) = c else {
            return Ok(Vec::new());
        };
        let handle = self
            .vectors
            .get(c.version)
            .ok_or("vector set index is not loaded")?;
        // Searches see every acknowledged write, as VSIM's do.
        let started = Instant::now();
        while !handle.is_caught_up() {
            if started.elapsed() > CATCH_UP_WAIT {
                return Err("vector index is still catching up; try again".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let filter = filter.map(Filter::parse).transpose().map_err(text)?;
        let set = handle.read();
        let config = set.config();
        if query.len() != config.dim && !(config.projected() && query.len() == config.input_dim) {
            return Err(format!(
                "Vector dimension mismatch - got {} but set has {}",
                query.len(),
                config.dim
            ));
        }
        let q = Query {
            count: k,
            ef: VSEARCH_EF.max(k),
            epsilon: 2.0,
            filter_ef: k.saturating_mul(100),
            truth: false,
        };
        let matches = filter
            .as_ref()
            .map(|f| move |attrs: Option<&[u8]>| f.matches(attrs));
        let matches: Option<crate::vector::set::AttrFilter<'_>> = match &matches {
            Some(f) => Some(f),
            None => None,
        };
        let hits = set.search(query, &q, matches).map_err(text)?;
        Ok(hits
            .iter()
            .map(|h| VectorHit {
                element: set.name(h.id).unwrap_or_default().to_vec(),
                score: h.score,
                attributes: set.attrs(h.id).map(<[u8]>::to_vec),
            })
            .collect())
    }
}
