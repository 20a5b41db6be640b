//! Running SQL: the writer (statements captured as changesets inside savepoints of one open
//! transaction) and read-only queries (on a reader, or on the writer inside MULTI/EXEC).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fallible_iterator::FallibleIterator;
use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{ffi, Batch, Statement, ToSql};

use super::changes::{self, Capture, Change};
use super::conn::{sqlite_err, Conn, SEEN_CREATE_TABLE, SEEN_SCHEMA, SEEN_SELECT, STATE_TABLE};
use super::{Host, Limits, Param, Params, Request, SqlError};
use crate::resp::Reply;

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Null => ValueRef::Null,
            Param::Int(i) => ValueRef::Integer(*i),
            Param::Real(r) => ValueRef::Real(*r),
            Param::Text(t) => ValueRef::Text(t.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// What SQL.EXEC answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Rows inserted, updated or deleted by the statements (not by triggers).
    pub changes: u64,
    /// Rowid of the last row the statements inserted (0 if none).
    pub last_insert_rowid: i64,
}

impl ExecOutcome {
    pub fn reply(&self) -> Reply {
        Reply::Map(vec![
            (Reply::bulk("changes"), Reply::Int(self.changes as i64)),
            (
                Reply::bulk("last_insert_rowid"),
                Reply::Int(self.last_insert_rowid),
            ),
        ])
    }
}

/// A query's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Maps SQLite's errors, naming the guard that stopped a statement.
fn failure(conn: &Conn, e: rusqlite::Error, limits: &Limits) -> SqlError {
    if let Some(why) = conn.state.take_refusal() {
        return SqlError::Refused(why);
    }
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            SqlError::Timeout(u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX))
        }
        rusqlite::Error::MultipleStatement => {
            SqlError::Refused("SQL.QUERY takes one statement".into())
        }
        _ => sqlite_err(e),
    }
}

/// Binds `params` to the statement's parameters: by name when they came as pairs, else by
/// number (SQLite numbers named parameters too).
fn bind(stmt: &mut Statement<'_>, params: &Params) -> Result<(), SqlError> {
    for i in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(i).map(str::to_string);
        let value = match params {
            Params::Named(pairs) => name
                .as_deref()
                .and_then(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v)),
            Params::Positional(values) => values.get(i - 1),
            Params::None => None,
        };
        let Some(value) = value else {
            let name = name.unwrap_or_else(|| format!("?{i}"));
            return Err(SqlError::Refused(format!(
                "no value given for parameter {name} (PARAMS n value … or PARAMS n :name value …)"
            )));
        };
        stmt.raw_bind_parameter(i, value).map_err(sqlite_err)?;
    }
    Ok(())
}

/// Prepares the next statement of `batch`, with the authorizer's verdict.
fn next_statement<'c>(
    conn: &'c Conn,
    batch: &mut Batch<'c, '_>,
    limits: &Limits,
) -> Result<Option<(Statement<'c>, u32)>, SqlError> {
    conn.state.seen.store(0, Ordering::Relaxed);
    conn.state.take_refusal();
    match batch.next() {
        Ok(Some(stmt)) => Ok(Some((stmt, conn.state.seen.load(Ordering::Relaxed)))),
        Ok(None) => Ok(None),
        Err(e) => Err(failure(conn, e, limits)),
    }
}

/// Steps a bound statement to its end, its rows discarded.
fn run_to_end(conn: &Conn, stmt: &mut Statement<'_>, limits: &Limits) -> Result<(), SqlError> {
    let mut rows = stmt.raw_query();
    loop {
        match rows.next() {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(()),
            Err(e) => return Err(failure(conn, e, limits)),
        }
    }
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(text) => Value::Text(text.to_string()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Runs one read-only statement and collects its rows within the limits.
pub fn query(conn: &Conn, req: &Request) -> Result<Rows, SqlError> {
    let limits = &req.limits;
    conn.state.db.store(req.db, Ordering::Relaxed);
    conn.state.take_refusal();
    // Cached: clients repeat the same queries with other parameters (a point select's
    // parse and plan cost about as much as running it).
    let mut stmt = conn
        .conn
        .prepare_cached(&req.sql)
        .map_err(|e| failure(conn, e, limits))?;
    if !stmt.readonly() {
        return Err(SqlError::Refused(
            "SQL.QUERY only reads: use SQL.EXEC for statements that change data".into(),
        ));
    }
    bind(&mut stmt, &req.params)?;
    let _clock = conn.state.arm(limits.timeout);
    // Columns are read once the statement has run: the first step re-prepares it if the
    // schema changed since (another connection's ALTER TABLE), and the columns with it.
    let names =
        |stmt: &Statement<'_>| -> Vec<String> { stmt.column_names().map(String::from).collect() };
    let mut columns: Option<Vec<String>> = None;
    let mut out = Vec::new();
    let mut bytes: u64 = 0;
    let mut rows = stmt.raw_query();
    let result = loop {
        match rows.next() {
            Ok(Some(row)) => {
                if out.len() as u64 >= limits.max_rows {
                    break Err(SqlError::TooManyRows(limits.max_rows));
                }
                let width = columns.get_or_insert_with(|| names(row.as_ref())).len();
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    match row.get_ref(i) {
                        Ok(v) => values.push(owned(v)),
                        Err(e) => return Err(sqlite_err(e)),
                    }
                }
                bytes += values.iter().map(super::value::size_of).sum::<u64>();
                if bytes > limits.max_bytes {
                    break Err(SqlError::TooLarge(limits.max_bytes));
                }
                out.push(values);
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(failure(conn, e, limits)),
        }
    };
    drop(rows);
    let out = Rows {
        columns: columns.unwrap_or_else(|| names(&stmt)),
        rows: out,
    };
    result.map(|()| out)
}

/// Starts a session on the writer's connection; the session's own statements (schema lookups,
/// row reads) pass the authorizer. Every capture is dropped before the connection: the
/// writer's field order, or a local of a method borrowing the writer.
fn start_capture(conn: &Conn) -> Result<Capture, SqlError> {
    conn.state.internal.store(true, Ordering::Relaxed);
    // SAFETY: see above; the writer's connection is used by its thread only.
    let capture = unsafe { Capture::start(&conn.conn) };
    conn.state.internal.store(false, Ordering::Relaxed);
    capture
}

/// Ends a capture, logging its changeset if anything changed.
fn push_rows(conn: &Conn, mut capture: Capture, log: &mut Vec<Change>) -> Result<(), SqlError> {
    conn.state.internal.store(true, Ordering::Relaxed);
    let set = capture.take();
    conn.state.internal.store(false, Ordering::Relaxed);
    let set = set?;
    if !set.is_empty() {
        log.push(Change::Rows(set));
    }
    Ok(())
}

/// SQLite WAL pages past which the writer checkpoints SQLite's own log (its default
/// auto-checkpoint threshold).
const SQLITE_CHECKPOINT_PAGES: i64 = 1000;

/// How a write's row changes are captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capturing {
    /// A session of its own: the write's record holds its changes (MULTI, replay order).
    Own,
    /// The group's shared session (plain SQL.EXECs): a session costs more to open and read
    /// than a small insert costs to run, so consecutive writes share one, and their changes go
    /// into the record of whichever write closes it (`finish_shared`, or a schema statement).
    Shared,
}

/// The writer connection and its open transaction.
pub struct Writer {
    /// The group's shared session (declared before `conn`: dropped first).
    shared: Option<Capture>,
    conn: Conn,
    /// Limits of the SQL commands queued in the MULTI/EXEC that runs (set from the settings
    /// when the EXEC was sent).
    pub limits: Limits,
    /// Pages in SQLite's own WAL after the last commit (from the WAL hook). Its automatic
    /// checkpoint would run inside the commit, under Luma's log lock; the writer runs it after
    /// releasing the lock instead (`checkpoint_if_due`).
    wal_pages: Arc<std::sync::atomic::AtomicI64>,
    in_txn: bool,
    /// LSN of the last record committed to SQLite (stored in `_luma_state`).
    pub applied_lsn: u64,
    /// Commits still to fail, as a full disk would fail them (tests of what follows).
    #[cfg(test)]
    pub commit_faults: Arc<std::sync::atomic::AtomicUsize>,
}

const APPLIED_KEY: &str = "applied_lsn";

impl Writer {
    pub fn open(path: &Path, host: Arc<dyn Host>) -> Result<Writer, SqlError> {
        let mut conn = Conn::open_writer(path, host)?;
        let wal_pages = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let pages = wal_pages.clone();
        conn.conn
            .wal_hook(Some(
                move |_: &mut rusqlite::hooks::Wal, n: std::ffi::c_int| {
                    pages.store(i64::from(n), Ordering::Relaxed);
                    Ok(())
                },
            ))
            .map_err(sqlite_err)?;
        let applied_lsn = conn
            .conn
            .query_row(
                &format!("SELECT v FROM {STATE_TABLE} WHERE k = ?1"),
                [APPLIED_KEY],
                |r| r.get::<_, i64>(0),
            )
            .map_or(0, |v| u64::try_from(v).unwrap_or(0));
        Ok(Writer {
            shared: None,
            conn,
            limits: Limits::default(),
            wal_pages,
            in_txn: false,
            applied_lsn,
            #[cfg(test)]
            commit_faults: Arc::default(),
        })
    }

    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// Whether SQLite ended the open transaction on its own (it rolls a whole transaction
    /// back when a write is interrupted or fails with ON CONFLICT ROLLBACK).
    pub fn lost_txn(&self) -> bool {
        self.in_txn && self.conn.conn.is_autocommit()
    }

    /// Whether a transaction is open (nothing run since the last commit or rollback).
    pub fn in_txn(&self) -> bool {
        self.in_txn
    }

    fn begin(&mut self) -> Result<(), SqlError> {
        if !self.in_txn {
            self.conn.internal("BEGIN IMMEDIATE")?;
            self.in_txn = true;
        }
        Ok(())
    }

    /// Runs one SQL.EXEC (one or more statements) inside the open transaction, as a savepoint:
    /// all its statements apply or none. Returns its outcome and its logged form (with
    /// `Capturing::Shared`, what the shared session had to hand over, often nothing).
    pub fn exec(
        &mut self,
        req: &Request,
        capturing: Capturing,
    ) -> Result<(ExecOutcome, Vec<u8>), SqlError> {
        if capturing == Capturing::Own {
            // Changes before this write belong to the writes before it.
            let before = self.finish_shared()?;
            let (outcome, own) = self.exec_once(req, false)?;
            return Ok((outcome, [before, own].concat()));
        }
        if self.shared.is_none() {
            self.shared = Some(start_capture(&self.conn)?);
        }
        match self.exec_once(req, true) {
            Err(SqlError::NeedsOwnCapture) => {
                // A schema statement: the writes before this one are logged ahead of it, and
                // this one runs again with sessions of its own around its schema statements.
                self.exec(req, Capturing::Own)
            }
            done => done,
        }
    }

    /// Hands over the shared session's changes (encoded), ending it.
    pub fn finish_shared(&mut self) -> Result<Vec<u8>, SqlError> {
        let Some(capture) = self.shared.take() else {
            return Ok(Vec::new());
        };
        let mut log = Vec::new();
        push_rows(&self.conn, capture, &mut log)?;
        Ok(changes::encode(&log))
    }

    fn exec_once(
        &mut self,
        req: &Request,
        shared: bool,
    ) -> Result<(ExecOutcome, Vec<u8>), SqlError> {
        self.begin()?;
        self.conn.internal("SAVEPOINT luma_write")?;
        self.conn.state.db.store(req.db, Ordering::Relaxed);
        let clock = self.conn.state.arm(req.limits.timeout);
        let result = self.run_statements(req, shared);
        drop(clock);
        match result {
            Ok(done) => {
                self.conn.internal("RELEASE luma_write")?;
                Ok(done)
            }
            Err(e) => {
                if self.lost_txn() {
                    // SQLite rolled the whole transaction back (an interrupt, ON CONFLICT
                    // ROLLBACK, I/O): the caller must redo what the group had done in it.
                    self.in_txn = false;
                    self.shared = None;
                } else {
                    self.conn
                        .internal("ROLLBACK TO luma_write; RELEASE luma_write")?;
                }
                Err(e)
            }
        }
    }

    /// Runs the statements; with `shared`, under the shared session, and a schema statement
    /// stops with `NeedsOwnCapture` before it runs.
    fn run_statements(
        &self,
        req: &Request,
        shared: bool,
    ) -> Result<(ExecOutcome, Vec<u8>), SqlError> {
        let conn = &self.conn;
        let limits = &req.limits;
        // SAFETY: the connection is live and used by this thread only.
        unsafe { ffi::sqlite3_set_last_insert_rowid(conn.conn.handle(), 0) };
        let mut log: Vec<Change> = Vec::new();
        let mut changed = 0u64;
        let mut capture = if shared {
            None
        } else {
            Some(start_capture(conn)?)
        };
        let mut batch = Batch::new(&conn.conn, &req.sql);
        while let Some((mut stmt, seen)) = next_statement(conn, &mut batch, limits)? {
            if seen & SEEN_SCHEMA == 0 {
                bind(&mut stmt, &req.params)?;
                run_to_end(conn, &mut stmt, limits)?;
                if !stmt.readonly() {
                    changed += conn.conn.changes();
                }
                continue;
            }
            if seen & SEEN_CREATE_TABLE != 0 && seen & SEEN_SELECT != 0 {
                return Err(SqlError::Refused(
                    "CREATE TABLE … AS SELECT is not supported (its rows could not be \
                     logged): create the table, then INSERT … SELECT"
                        .into(),
                ));
            }
            if shared {
                return Err(SqlError::NeedsOwnCapture);
            }
            bind(&mut stmt, &req.params)?;
            // Schema statements are logged as text between the changesets around them.
            if let Some(before) = capture.take() {
                push_rows(conn, before, &mut log)?;
            }
            let text = stmt.expanded_sql().unwrap_or_default();
            run_to_end(conn, &mut stmt, limits)?;
            log.push(Change::Schema(text));
            capture = Some(start_capture(conn)?);
        }
        if let Some(last) = capture.take() {
            push_rows(conn, last, &mut log)?;
        }
        let outcome = ExecOutcome {
            changes: changed,
            last_insert_rowid: conn.conn.last_insert_rowid(),
        };
        Ok((outcome, changes::encode(&log)))
    }

    /// A read inside the open transaction (SQL.QUERY queued in MULTI sees the EXEC's writes).
    pub fn query(&mut self, req: &Request) -> Result<Rows, SqlError> {
        query(&self.conn, req)
    }

    /// Commits the open transaction as the effect of WAL record `lsn`.
    pub fn commit(&mut self, lsn: u64) -> Result<(), SqlError> {
        if !self.in_txn {
            return Ok(());
        }
        if self.lost_txn() {
            self.in_txn = false;
            return Err(SqlError::Internal(
                "the SQL transaction was rolled back before it could commit".into(),
            ));
        }
        let result = self.injected_fault().map_or_else(
            || {
                self.conn.internal(&format!(
                    "INSERT OR REPLACE INTO {STATE_TABLE}(k, v) VALUES ('{APPLIED_KEY}', {lsn}); \
                     COMMIT"
                ))
            },
            Err,
        );
        if result.is_err() {
            self.rollback();
        }
        result?;
        self.in_txn = false;
        self.applied_lsn = lsn;
        Ok(())
    }

    #[cfg(test)]
    fn injected_fault(&self) -> Option<SqlError> {
        let faults = &self.commit_faults;
        let left = faults.load(Ordering::SeqCst);
        (left > 0).then(|| {
            faults.store(left - 1, Ordering::SeqCst);
            SqlError::Internal("disk I/O error (injected)".into())
        })
    }

    #[cfg(not(test))]
    fn injected_fault(&self) -> Option<SqlError> {
        None
    }

    /// Copies SQLite's WAL back into the database once it has grown past the threshold
    /// (passive: readers are never waited for; what they still use is copied next time).
    pub fn checkpoint_if_due(&mut self) {
        if self.in_txn || self.wal_pages.load(Ordering::Relaxed) < SQLITE_CHECKPOINT_PAGES {
            return;
        }
        match self
            .conn
            .conn
            .wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE)
        {
            Ok((log, done)) if done >= log => self.wal_pages.store(0, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => tracing::warn!("SQLite checkpoint: {e}"),
        }
    }

    /// Drops the open transaction (its batch was not logged).
    pub fn rollback(&mut self) {
        self.shared = None;
        if self.lost_txn() {
            self.in_txn = false;
        }
        if self.in_txn {
            if let Err(e) = self.conn.internal("ROLLBACK") {
                tracing::error!("SQL rollback failed: {e}");
            }
            self.in_txn = false;
        }
    }

    /// Replay: applies the logged changes of record `lsn` (triggers and foreign-key actions
    /// off, see `changes::apply`), in the open replay transaction.
    pub fn replay(&mut self, changes: &[u8]) -> Result<(), SqlError> {
        if !self.in_txn {
            self.conn.internal("PRAGMA foreign_keys=OFF")?;
            self.conn
                .conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)
                .map_err(sqlite_err)?;
            self.begin()?;
        }
        self.conn.state.internal.store(true, Ordering::Relaxed);
        let result = changes::decode(changes).and_then(|c| changes::apply(&self.conn.conn, &c));
        self.conn.state.internal.store(false, Ordering::Relaxed);
        result
    }

    /// Ends a replay: commits through `lsn` and turns triggers and foreign keys back on
    /// (whether or not the commit worked: the writer goes on serving writes).
    pub fn finish_replay(&mut self, lsn: u64) -> Result<(), SqlError> {
        if !self.in_txn {
            return Ok(());
        }
        let committed = self.commit(lsn);
        let restored = self.end_replay_mode();
        committed.and(restored)
    }

    /// Drops a replay that failed part-way (its transaction, then the replay settings).
    pub fn abandon_replay(&mut self) {
        self.rollback();
        if let Err(e) = self.end_replay_mode() {
            tracing::error!("SQL writer: restoring triggers and foreign keys failed: {e}");
        }
    }

    fn end_replay_mode(&mut self) -> Result<(), SqlError> {
        self.conn
            .conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, true)
            .map_err(sqlite_err)?;
        self.conn.internal("PRAGMA foreign_keys=ON")
    }
}
