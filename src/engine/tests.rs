//! Power-cut tests: the WAL and the store both on simulated disks that lose every byte not yet
//! fsynced; a "cut" takes the image such a loss would leave, and the engine must reopen from it
//! with every acknowledged write present and nothing corrupt.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::kv::store::SimRedbDisk;
use crate::resp::OK;

struct Disks {
    wal: SimDisk,
    kv: SimRedbDisk,
    vectors: SimRedbDisk,
    /// The engine's folder: SQLite's database (on the real disk) and the vector files.
    dir: Arc<tempfile::TempDir>,
}

use file::SimDisk;

impl Disks {
    fn new() -> Disks {
        Disks {
            wal: SimDisk::new(),
            kv: SimRedbDisk::default(),
            vectors: SimRedbDisk::default(),
            dir: Arc::new(tempfile::tempdir().expect("temporary folder")),
        }
    }

    fn open(&self, policy: AppendFsync) -> Engine {
        Engine::open(EngineOptions {
            dir: self.dir.path(),
            databases: 16,
            appendfsync: policy,
            cache_bytes: 1 << 20,
            row_cache_bytes: 1 << 20,
            vector_member_cache_bytes: 1 << 20,
            wal_repair: false,
            vector_graph_bytes: crate::vector::vamana::DEFAULT_MEMORY_BUDGET,
            wal_dir: Some(Arc::new(self.wal.clone())),
            store: StoreLocation::Simulated(self.kv.clone(), self.vectors.clone()),
        })
        .expect("engine opens without corruption")
    }

    /// What a power cut now would leave on both disks.
    fn power_cut_image(&self) -> Disks {
        Disks {
            wal: self.wal.power_cut_image(),
            kv: self.kv.power_cut_image(),
            vectors: self.vectors.power_cut_image(),
            dir: self.dir.clone(),
        }
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:06}").into_bytes()
}

fn put(engine: &Engine, i: usize) -> oneshot::Receiver<Reply> {
    engine
        .submit(Box::new(move |w| {
            w.put_string(0, &key(i), format!("value-{i}").as_bytes(), 0)?;
            Ok(OK)
        }))
        .unwrap()
}

/// Number of keys `0..` present with their right values; asserts they form a prefix.
fn surviving_prefix(engine: &Engine, upper: usize) -> usize {
    let snapshot = engine.read().unwrap();
    let present: Vec<bool> = (0..upper)
        .map(|i| {
            snapshot
                .get(0, &key(i))
                .unwrap()
                .is_some_and(|row| meta::payload(&row) == format!("value-{i}").as_bytes())
        })
        .collect();
    let prefix = present.iter().take_while(|p| **p).count();
    assert!(
        present[prefix..].iter().all(|p| !p),
        "surviving writes are not a prefix"
    );
    prefix
}

/// Writes keys one after another from a thread, counting acknowledgements.
fn start_writer(
    engine: Arc<Engine>,
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let reply = put(&engine, i).blocking_recv().unwrap();
            assert_eq!(reply, OK);
            i += 1;
            acked.store(i, Ordering::SeqCst);
        }
        i
    })
}

fn wait_for(acked: &AtomicUsize, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::SeqCst) < at_least {
        assert!(Instant::now() < deadline, "writer stalled");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn always_power_cut_loses_no_acknowledged_write() {
    let disks = Disks::new();
    let engine = Arc::new(disks.open(AppendFsync::Always));
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(engine.clone(), acked.clone(), stop.clone());
    let mut cuts = Vec::new();
    for round in 1..=5 {
        wait_for(&acked, round * 40);
        // Every write counted here was acknowledged before the image is taken.
        let acknowledged = acked.load(Ordering::SeqCst);
        cuts.push((acknowledged, disks.power_cut_image()));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    for (acknowledged, image) in cuts {
        let engine = image.open(AppendFsync::Always);
        let survived = surviving_prefix(&engine, written + 1);
        assert!(
            survived >= acknowledged,
            "lost acknowledged writes: {survived} < {acknowledged}"
        );
    }
}

#[test]
fn always_replies_only_after_the_fsync() {
    let disks = Disks::new();
    disks.wal.set_fsync_delay(Duration::from_millis(20));
    let engine = disks.open(AppendFsync::Always);
    for i in 0..5 {
        assert_eq!(put(&engine, i).blocking_recv().unwrap(), OK);
        // Cut the power the moment the reply arrives: the write must be there.
        let image = disks.power_cut_image();
        let reopened = image.open(AppendFsync::Always);
        assert_eq!(surviving_prefix(&reopened, 10), i + 1);
    }
}

#[test]
fn everysec_loses_at_most_about_a_second() {
    let disks = Disks::new();
    let engine = Arc::new(disks.open(AppendFsync::EverySec));
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Acknowledgement count sampled over time, to know what was acknowledged when.
    let writer = start_writer(engine.clone(), acked.clone(), stop.clone());
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_millis(3500) {
        samples.push((Instant::now(), acked.load(Ordering::SeqCst)));
        std::thread::sleep(Duration::from_millis(20));
    }
    let image = disks.power_cut_image();
    let cut_at = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    // Writes acknowledged two seconds before the cut are covered by an fsync (one a second).
    let old_enough = samples
        .iter()
        .filter(|(t, _)| cut_at.duration_since(*t) >= Duration::from_secs(2))
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    assert!(old_enough > 0, "the writer made no progress");
    let reopened = image.open(AppendFsync::EverySec);
    let survived = surviving_prefix(&reopened, written + 1);
    assert!(
        survived >= old_enough,
        "lost more than a second: {survived} < {old_enough}"
    );
}

#[test]
fn power_cuts_during_checkpoints_recover_consistently() {
    let disks = Disks::new();
    let engine = Arc::new(disks.open(AppendFsync::Always));
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(engine.clone(), acked.clone(), stop.clone());
    let checkpointer = {
        let engine = engine.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut done = 0;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(engine.checkpoint(), OK);
                done += 1;
            }
            done
        })
    };
    let mut cuts = Vec::new();
    for round in 1..=8 {
        wait_for(&acked, round * 30);
        let acknowledged = acked.load(Ordering::SeqCst);
        cuts.push((acknowledged, disks.power_cut_image()));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(checkpointer.join().unwrap() > 0);
    for (acknowledged, image) in cuts {
        let reopened = image.open(AppendFsync::Always);
        let survived = surviving_prefix(&reopened, written + 1);
        assert!(survived >= acknowledged, "{survived} < {acknowledged}");
        // A second recovery from the recovered state changes nothing (replay is idempotent).
        drop(reopened);
        let again = image.open(AppendFsync::Always);
        assert_eq!(surviving_prefix(&again, written + 1), survived);
    }
}

#[test]
fn failed_wal_write_changes_nothing_and_the_engine_recovers() {
    let disks = Disks::new();
    let engine = disks.open(AppendFsync::Always);
    assert_eq!(put(&engine, 0).blocking_recv().unwrap(), OK);
    disks.wal.set_fail_appends(true);
    let reply = put(&engine, 1).blocking_recv().unwrap();
    assert!(
        matches!(&reply, Reply::Error(e) if e.starts_with("ERR write failed")),
        "{reply:?}"
    );
    assert_eq!(
        surviving_prefix(&engine, 3),
        1,
        "the failed write must not be visible"
    );
    disks.wal.set_fail_appends(false);
    assert_eq!(put(&engine, 1).blocking_recv().unwrap(), OK);
    assert_eq!(surviving_prefix(&engine, 3), 2);
    drop(engine);
    let image = disks.power_cut_image();
    assert_eq!(surviving_prefix(&image.open(AppendFsync::Always), 3), 2);
}

#[test]
fn a_write_that_fails_after_its_log_append_is_not_reported_undone() {
    let disks = Disks::new();
    let engine = disks.open(AppendFsync::Always);
    assert_eq!(put(&engine, 0).blocking_recv().unwrap(), OK);
    // Nothing pending: the failing batch is alone in its store transaction.
    assert_eq!(engine.checkpoint(), OK);
    disks.kv.fail_next_writes(usize::MAX);
    // A value larger than the store's 1 MiB cache: storing it writes pages to the disk
    // while the batch runs, after its log append.
    let big = vec![b'x'; 3 << 20];
    let reply = engine
        .submit(Box::new(move |w| {
            w.put_string(0, b"big", &big, 0)?;
            Ok(OK)
        }))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(reply, OK, "the batch is in the log, so it happened");
    assert!(
        engine.read().is_err(),
        "the store could not take the batch: reads wait for a replay"
    );
    drop(engine);
    let reopened = disks.power_cut_image().open(AppendFsync::Always);
    assert_eq!(surviving_prefix(&reopened, 2), 1);
    let row = reopened.read().unwrap().get(0, b"big").unwrap();
    assert_eq!(row.map(|r| meta::payload(&r).len()), Some(3 << 20));
}

#[test]
fn an_active_expiry_whose_store_update_fails_after_its_log_append_is_replayed() {
    let disks = Disks::new();
    let engine = disks.open(AppendFsync::Always);
    // Every expiry batch fails after its append: only the replay from the log can delete.
    engine
        .inner
        .expiry_faults
        .store(usize::MAX, Ordering::SeqCst);
    let deadline = now_ms() + 50;
    let reply = engine
        .submit(Box::new(move |w| {
            w.put_string(0, b"brief", b"v", deadline)?;
            w.put_string(0, b"kept", b"v", 0)?;
            Ok(OK)
        }))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(reply, OK);
    // The background thread expires the key; its store update fails after the log append,
    // and the store gets the delete from the log at once (the row itself, past reads' TTL
    // check, is gone).
    let gone = |engine: &Engine| {
        engine
            .read()
            .is_ok_and(|r| r.get(0, b"brief").unwrap().is_none())
    };
    let waited = Instant::now();
    while !gone(&engine) {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the logged expiry never reached the store"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let left = engine.inner.expiry_faults.swap(0, Ordering::SeqCst);
    assert!(left < usize::MAX, "no expiry batch failed");
    let r = engine.read().unwrap();
    assert!(r.get(0, b"kept").unwrap().is_some());
    drop(r);
    drop(engine);
    let reopened = disks.power_cut_image().open(AppendFsync::Always);
    let r = reopened.read().unwrap();
    assert!(r.get(0, b"brief").unwrap().is_none());
    assert!(r.get(0, b"kept").unwrap().is_some());
}

#[test]
fn appendfsync_changes_take_effect_at_run_time() {
    let disks = Disks::new();
    let engine = disks.open(AppendFsync::No);
    assert_eq!(put(&engine, 0).blocking_recv().unwrap(), OK);
    assert_eq!(
        surviving_prefix(&disks.power_cut_image().open(AppendFsync::No), 2),
        0
    );
    // CONFIG SET appendfsync always: from now on every reply waits for its fsync.
    engine.set_appendfsync(AppendFsync::Always);
    assert_eq!(put(&engine, 1).blocking_recv().unwrap(), OK);
    assert_eq!(
        surviving_prefix(&disks.power_cut_image().open(AppendFsync::Always), 2),
        2
    );
}

fn sql_request(text: &str) -> crate::sqlite::Request {
    crate::sqlite::Request {
        sql: text.to_string(),
        params: crate::sqlite::Params::None,
        db: 0,
        limits: crate::sqlite::Limits::default(),
    }
}

/// SQL.EXEC of `text` on its own (a plain write of the SQL writer's group).
fn sql_exec(engine: &Engine, text: &str) -> Reply {
    let write = sql::SqlWrite::Exec(sql_request(text));
    engine.sql.write(write).unwrap().blocking_recv().unwrap()
}

/// SQL.EXEC of `text` after a SET of `key` in one MULTI/EXEC (one engine batch).
fn sql_exec_in_multi(engine: &Engine, key: &'static [u8], text: &str) -> Reply {
    let req = sql_request(text);
    let write: WriteFn = Box::new(move |w| {
        w.put_string(0, key, b"set beside SQL", 0)?;
        w.sql_exec(&req)
    });
    let txn = sql::SqlWrite::Txn(write, crate::sqlite::Limits::default());
    engine.sql.write(txn).unwrap().blocking_recv().unwrap()
}

/// The ids in table `t`, read through the SQL readers.
fn sql_ids(engine: &Engine) -> Result<Vec<i64>, CmdError> {
    let req = sql_request("SELECT id FROM t ORDER BY id");
    let rows = engine
        .sql
        .read(move |conn| crate::sqlite::exec::query(conn, &req))?
        .blocking_recv()
        .unwrap()
        .unwrap();
    Ok(rows
        .rows
        .iter()
        .map(|r| match r[0] {
            rusqlite::types::Value::Integer(id) => id,
            ref other => panic!("id {other:?}"),
        })
        .collect())
}

fn one_row_changed(rowid: i64) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("changes"), Reply::Int(1)),
        (Reply::bulk("last_insert_rowid"), Reply::Int(rowid)),
    ])
}

#[test]
fn a_sql_write_whose_commit_fails_after_its_log_append_is_replayed_into_sqlite() {
    let disks = Disks::new();
    let engine = disks.open(AppendFsync::Always);
    let faults = engine.sql.commit_faults.clone();
    let created = sql_exec(&engine, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    assert!(matches!(created, Reply::Map(_)), "{created:?}");

    // A plain SQL.EXEC whose SQLite commit fails once its record is in the log: it happened
    // (the log has it), and SQLite gets it from the log before the reply.
    faults.store(1, Ordering::SeqCst);
    assert_eq!(
        sql_exec(&engine, "INSERT INTO t VALUES (1, 'a')"),
        one_row_changed(1)
    );
    assert_eq!(sql_ids(&engine).unwrap(), [1]);

    // The same inside a MULTI beside a KV write: both engines have the batch afterwards.
    faults.store(1, Ordering::SeqCst);
    assert_eq!(
        sql_exec_in_multi(&engine, b"beside-2", "INSERT INTO t VALUES (2, 'b')"),
        one_row_changed(2)
    );
    assert_eq!(sql_ids(&engine).unwrap(), [1, 2]);
    assert!(engine
        .read()
        .unwrap()
        .get(0, b"beside-2")
        .unwrap()
        .is_some());

    // The replay fails too: the write still happened, but SQL is refused until SQLite has
    // it, which the next SQL write brings about once commits work again.
    faults.store(2, Ordering::SeqCst);
    assert_eq!(
        sql_exec(&engine, "INSERT INTO t VALUES (3, 'c')"),
        one_row_changed(3)
    );
    let refused = sql_ids(&engine).expect_err("SQLite lacks an acknowledged write");
    assert!(
        refused.to_resp_text().contains("behind the log"),
        "{refused:?}"
    );
    assert!(engine.sql.stats.behind_log.load(Ordering::SeqCst));
    assert_eq!(
        sql_exec(&engine, "INSERT INTO t VALUES (4, 'd')"),
        one_row_changed(4)
    );
    assert_eq!(sql_ids(&engine).unwrap(), [1, 2, 3, 4]);
    assert_eq!(engine.sql.stats.catch_ups.load(Ordering::SeqCst), 3);
    drop(engine);

    // Nothing twice, nothing lost, after a power cut under `always`.
    let reopened = disks.power_cut_image().open(AppendFsync::Always);
    assert_eq!(sql_ids(&reopened).unwrap(), [1, 2, 3, 4]);
    assert!(reopened
        .read()
        .unwrap()
        .get(0, b"beside-2")
        .unwrap()
        .is_some());
}

/// Member `i` of a vector set (its version carries `VECTOR_VERSION`: the vector member file).
fn vector_member(i: usize) -> Vec<u8> {
    let mut skey = (crate::kv::store::VECTOR_VERSION | 7)
        .to_be_bytes()
        .to_vec();
    skey.extend_from_slice(format!("m{i}").as_bytes());
    skey
}

fn put_member(engine: &Engine, i: usize) -> Reply {
    engine
        .submit(Box::new(move |w| {
            w.put_sub(0, b"set", vector_member(i), format!("row-{i}").into_bytes())?;
            Ok(OK)
        }))
        .unwrap()
        .blocking_recv()
        .unwrap()
}

/// The vector members `0..upper` present (their rows checked).
fn members_present(engine: &Engine, upper: usize) -> Vec<usize> {
    let snapshot = engine.read().unwrap();
    (0..upper)
        .filter(|&i| {
            let row = snapshot.sub_get(&vector_member(i)).unwrap();
            row.is_some_and(|r| r == format!("row-{i}").as_bytes())
        })
        .collect()
}

#[test]
fn vector_members_and_keys_survive_a_power_cut_between_the_two_files_commits() {
    let disks = Disks::new();
    let engine = disks.open(AppendFsync::Always);
    assert_eq!(put(&engine, 0).blocking_recv().unwrap(), OK);
    assert_eq!(put_member(&engine, 0), OK);
    assert_eq!(put_member(&engine, 1), OK);
    assert_eq!(engine.checkpoint(), OK);
    // After the checkpoint: a member added, one removed, a key written.
    assert_eq!(put_member(&engine, 2), OK);
    let removed = engine
        .submit(Box::new(|w| {
            w.del_sub(0, b"set", vector_member(0))?;
            Ok(OK)
        }))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(removed, OK);
    assert_eq!(put(&engine, 1).blocking_recv().unwrap(), OK);
    // A read commits the pending batches (not durably): the checkpoint's own write is all
    // that makes the vector file durable then.
    assert_eq!(members_present(&engine, 3), [1, 2]);
    let before = disks.power_cut_image();
    // The next checkpoint commits the vector member file, then the main one: a cut may fall
    // between the two (and with either one behind, replay must end in the same state).
    assert_eq!(engine.checkpoint(), OK);
    let after = disks.power_cut_image();
    for (name, image) in [
        ("no checkpoint", before.power_cut_image()),
        (
            "vector file committed, main file not",
            Disks {
                wal: before.wal.power_cut_image(),
                kv: before.kv.power_cut_image(),
                vectors: after.vectors.power_cut_image(),
                dir: disks.dir.clone(),
            },
        ),
        (
            "main file committed, vector file not",
            Disks {
                wal: before.wal.power_cut_image(),
                kv: after.kv.power_cut_image(),
                vectors: before.vectors.power_cut_image(),
                dir: disks.dir.clone(),
            },
        ),
        ("both committed", after.power_cut_image()),
    ] {
        let reopened = image.open(AppendFsync::Always);
        assert_eq!(members_present(&reopened, 3), [1, 2], "{name}");
        assert_eq!(surviving_prefix(&reopened, 3), 2, "{name}");
    }
}
