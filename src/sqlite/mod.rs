//! The SQL engine: an embedded SQLite (bundled) in WAL mode, one writer and a pool of readers.
//!
//! **Durability through Luma's log.** SQLite runs with `synchronous=NORMAL`: its own commits
//! are not fsynced. What makes an acknowledged SQL write durable is the record Luma's unified
//! WAL holds for it, so a write is logged before its SQLite transaction commits, and the
//! SQLite transaction stores the record's LSN in `_luma_state` (same transaction as the data).
//! At start-up the records after that LSN are applied again; before the WAL is truncated at a
//! checkpoint, SQLite's own files are fsynced.
//!
//! **What is logged: row changes, not statements.** Each SQL.EXEC runs under a SQLite session
//! (the session extension, with rowid tables tracked too), and its record holds the
//! changeset the statements produced: the rows as they ended up, whatever `random()`,
//! `CURRENT_TIMESTAMP` defaults, triggers or `kv_get()` computed. Replay applies the
//! changesets with triggers and foreign-key actions off (their effects are in the changeset
//! already), so it is deterministic without forbidding any function in writes. Schema
//! statements (CREATE, DROP, ALTER, ANALYZE …) are logged as their text, in order between
//! the changesets, and run again on replay; `CREATE TABLE … AS SELECT` is refused because its
//! rows would come from the query a second time (create the table, then INSERT … SELECT).
//!
//! **Threads.** The writer connection lives on its own thread (`engine::sql`), which runs
//! each group of SQL writes in one SQLite transaction, one savepoint per write, and logs
//! them in one WAL append (group commit, as for KV writes). Readers are read-only
//! connections on a pool of threads sized to the cores, so reads never wait for the writer
//! (WAL mode) and no event loop ever runs SQL.
//!
//! **Guards.** An authorizer refuses ATTACH, `load_extension`, transaction statements (a
//! command is already one transaction) and every PRAGMA but read-only introspection; a
//! progress handler stops statements past `sql-timeout`; replies stop at `sql-max-rows` and
//! `sql-max-reply-bytes`.

pub mod changes;
pub mod conn;
pub mod exec;
pub mod hybrid;
pub mod pool;
pub mod value;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

pub use exec::{Capturing, ExecOutcome, Writer};
pub use hybrid::Host;
pub use pool::Readers;

/// The SQL engine's errors; all reach clients as `ERR SQL …` lines.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// SQLite refused or failed a statement (syntax, constraint, missing table …).
    #[error("SQL error: {0}")]
    Sqlite(String),
    /// A guard refused the statement.
    #[error("SQL error: {0}")]
    Refused(String),
    #[error("SQL statement exceeded sql-timeout ({0} ms) and was stopped")]
    Timeout(u64),
    #[error("SQL result exceeds sql-max-rows ({0} rows)")]
    TooManyRows(u64),
    #[error("SQL result exceeds sql-max-reply-bytes ({0} bytes)")]
    TooLarge(u64),
    #[error("SQL engine: {0}")]
    Internal(String),
    /// Inside the writer only: a write under the group's shared session reached a schema
    /// statement and must run again with sessions of its own.
    #[error("SQL engine: schema statement under a shared session")]
    NeedsOwnCapture,
}

impl SqlError {
    /// The RESP error line.
    pub fn resp_text(&self) -> String {
        format!("ERR {self}")
    }
}

/// Per-request limits, from the settings of the moment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_rows: u64,
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(5),
            max_rows: 100_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A parameter value. RESP arguments arrive as bytes: UTF-8 ones bind as TEXT (SQLite's
/// column affinity turns `'42'` into an integer for an INTEGER column), others as BLOB. The
/// HTTP API's JSON parameters keep their JSON type.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Bytes),
}

impl Param {
    pub fn from_arg(arg: &Bytes) -> Param {
        match std::str::from_utf8(arg) {
            Ok(text) => Param::Text(text.to_string()),
            Err(_) => Param::Blob(arg.clone()),
        }
    }
}

/// The parameters of a statement: by position (`?1`, `?`) or by name (`:name`, `@name`,
/// `$name`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Params {
    #[default]
    None,
    Positional(Vec<Param>),
    Named(Vec<(String, Param)>),
}

impl Params {
    /// `PARAMS n p1 … pn`: name/value pairs when `n` is even and every other token is a
    /// parameter name (`:a 1 :b 2`), values by position otherwise.
    pub fn from_args(values: &[Bytes]) -> Params {
        let is_name = |b: &Bytes| {
            b.len() > 1 && matches!(b[0], b':' | b'@' | b'$') && std::str::from_utf8(b).is_ok()
        };
        if !values.is_empty()
            && values.len().is_multiple_of(2)
            && values.iter().step_by(2).all(is_name)
        {
            Params::Named(
                values
                    .chunks_exact(2)
                    .map(|p| {
                        (
                            String::from_utf8_lossy(&p[0]).into_owned(),
                            Param::from_arg(&p[1]),
                        )
                    })
                    .collect(),
            )
        } else if values.is_empty() {
            Params::None
        } else {
            Params::Positional(values.iter().map(Param::from_arg).collect())
        }
    }

    /// `PARAMS JSON doc`: an array binds by position, an object by name (`{":id": 7}`); JSON
    /// types are kept (null, integers, reals, strings; booleans as 1/0, arrays and objects as
    /// their JSON text).
    pub fn from_json(doc: &[u8]) -> Result<Params, String> {
        let value: serde_json::Value =
            serde_json::from_slice(doc).map_err(|e| format!("PARAMS JSON is not JSON: {e}"))?;
        let param = |v: serde_json::Value| match v {
            serde_json::Value::Null => Param::Null,
            serde_json::Value::Bool(b) => Param::Int(i64::from(b)),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Param::Int(i),
                None => Param::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Param::Text(s),
            other => Param::Text(other.to_string()),
        };
        match value {
            serde_json::Value::Array(values) => {
                Ok(Params::Positional(values.into_iter().map(param).collect()))
            }
            serde_json::Value::Object(map) => Ok(Params::Named(
                map.into_iter()
                    .map(|(k, v)| {
                        let name = if k.starts_with([':', '@', '$']) {
                            k
                        } else {
                            format!(":{k}")
                        };
                        (name, param(v))
                    })
                    .collect(),
            )),
            _ => Err("PARAMS JSON must be an array or an object".into()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Params::None => 0,
            Params::Positional(v) => v.len(),
            Params::Named(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One SQL request: text, parameters, the client's database (for `kv_get` and `vsearch`).
#[derive(Debug, Clone)]
pub struct Request {
    pub sql: String,
    pub params: Params,
    pub db: u32,
    pub limits: Limits,
}

/// Counters for INFO `sql` and `/metrics`.
#[derive(Debug, Default)]
pub struct SqlStats {
    pub queries: AtomicU64,
    pub execs: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub rows_returned: AtomicU64,
    pub rows_changed: AtomicU64,
    /// LSN of the last record the SQL engine committed.
    pub applied_lsn: AtomicU64,
    /// SQL write groups (SQLite transactions) and the writes in them.
    pub write_groups: AtomicU64,
    pub grouped_writes: AtomicU64,
    pub replayed_records: AtomicU64,
    /// A commit failed after its records were logged and replaying them failed too: SQLite
    /// lacks writes the log has, so SQL reads and writes are refused until the writer has
    /// replayed them (it tries again before each write; a restart replays them as well).
    pub behind_log: AtomicBool,
    /// Times the writer replayed logged records after a failed commit.
    pub catch_ups: AtomicU64,
}

impl SqlStats {
    pub fn count_error(&self, e: &SqlError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if matches!(e, SqlError::Timeout(_)) {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where the SQL database lives: `<dir>/sql/luma.db` (with SQLite's `-wal` and `-shm`).
pub fn database_path(dir: &std::path::Path) -> PathBuf {
    dir.join("sql").join("luma.db")
}
