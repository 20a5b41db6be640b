//! Opening SQLite connections: pragmas, the authorizer that guards them, the statement clock.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{Connection, OpenFlags};

use super::hybrid::{self, Host};
use super::SqlError;

/// The statement being prepared created or dropped schema objects.
pub const SEEN_SCHEMA: u32 = 1;
/// … had a SELECT in it.
pub const SEEN_SELECT: u32 = 1 << 1;
/// … created a table.
pub const SEEN_CREATE_TABLE: u32 = 1 << 2;

/// Introspection PRAGMAs that may take an argument (a table or index name, a limit).
const PRAGMAS_WITH_ARG: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
];
/// PRAGMAs that may be read (never set).
const PRAGMAS_READ: &[&str] = &[
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "compile_options",
    "page_count",
    "page_size",
    "freelist_count",
    "data_version",
    "user_version",
    "schema_version",
    "application_id",
    "foreign_keys",
    "encoding",
    "journal_mode",
    "synchronous",
];

/// Tables Luma keeps for itself in the user's database.
pub const STATE_TABLE: &str = "_luma_state";

/// What the connection's hooks share with the code running statements on it.
#[derive(Default)]
pub struct ConnState {
    /// Luma's own statements (transactions, bookkeeping) pass the authorizer unchecked.
    pub internal: AtomicBool,
    /// `SEEN_*` bits of the statement last prepared.
    pub seen: AtomicU32,
    /// Why the authorizer refused the statement last prepared (SQLite only says "not
    /// authorized").
    pub refusal: Mutex<Option<String>>,
    /// `clock_ms()` past which the running statement is stopped (0 = no limit).
    pub deadline_ms: AtomicU64,
    /// The calling client's database, for `kv_get`, `kv_hget` and `vsearch`.
    pub db: AtomicU32,
}

impl ConnState {
    /// Starts the clock of statements allowed to run `limit`, until the guard drops.
    pub fn arm(&self, limit: Duration) -> Armed<'_> {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        self.deadline_ms
            .store(clock_ms().saturating_add(ms.max(1)), Ordering::Relaxed);
        Armed(self)
    }

    pub fn take_refusal(&self) -> Option<String> {
        self.refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// A running clock (see `ConnState::arm`); stopped when dropped, so Luma's own statements
/// after it are never cut short.
pub struct Armed<'a>(&'a ConnState);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.0.deadline_ms.store(0, Ordering::Relaxed);
    }
}

/// Milliseconds on a monotonic clock (since the first call).
pub fn clock_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A connection with its hooks' shared state.
pub struct Conn {
    pub conn: Connection,
    pub state: Arc<ConnState>,
}

pub fn sqlite_err(e: rusqlite::Error) -> SqlError {
    SqlError::Sqlite(match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg,
        other => other.to_string(),
    })
}

impl Conn {
    /// The writer: creates the database if needed, WAL mode, `synchronous=NORMAL`.
    pub fn open_writer(path: &Path, host: Arc<dyn Host>) -> Result<Conn, SqlError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SqlError::Internal(e.to_string()))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite_err)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
             CREATE TABLE IF NOT EXISTS {STATE_TABLE}(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
        ))
        .map_err(sqlite_err)?;
        Conn::finish(conn, host)
    }

    /// A reader: read-only, never blocked by the writer (WAL mode).
    pub fn open_reader(path: &Path, host: Arc<dyn Host>) -> Result<Conn, SqlError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite_err)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(sqlite_err)?;
        Conn::finish(conn, host)
    }

    fn finish(mut conn: Connection, host: Arc<dyn Host>) -> Result<Conn, SqlError> {
        // Defensive mode: no writable_schema tricks that could corrupt the file.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
            .map_err(sqlite_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sqlite_err)?;
        let state = Arc::new(ConnState::default());
        let auth_state = state.clone();
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            authorize(&auth_state, ctx)
        }))
        .map_err(sqlite_err)?;
        let clock = state.clone();
        conn.progress_handler(
            1000,
            Some(move || {
                let deadline = clock.deadline_ms.load(Ordering::Relaxed);
                deadline != 0 && clock_ms() > deadline
            }),
        )
        .map_err(sqlite_err)?;
        hybrid::register(&conn, host, state.clone()).map_err(sqlite_err)?;
        Ok(Conn { conn, state })
    }

    /// Runs Luma's own SQL (bookkeeping, transactions) past the authorizer.
    pub fn internal(&self, sql: &str) -> Result<(), SqlError> {
        self.state.internal.store(true, Ordering::Relaxed);
        let result = self.conn.execute_batch(sql).map_err(sqlite_err);
        self.state.internal.store(false, Ordering::Relaxed);
        result
    }
}

fn authorize(state: &ConnState, ctx: AuthContext<'_>) -> Authorization {
    if state.internal.load(Ordering::Relaxed) {
        return Authorization::Allow;
    }
    let seen = |bits: u32| {
        state.seen.fetch_or(bits, Ordering::Relaxed);
    };
    let refuse = |why: String| {
        *state.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        Authorization::Deny
    };
    let own = |table: &str| table.starts_with("_luma_");
    match ctx.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            refuse("ATTACH and DETACH are not allowed".into())
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => refuse(
            "transaction statements are not allowed: each SQL.EXEC runs as one transaction \
             (and MULTI/EXEC groups several)"
                .into(),
        ),
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => {
            let name = pragma_name.to_ascii_lowercase();
            let allowed = PRAGMAS_WITH_ARG.contains(&name.as_str())
                || (pragma_value.is_none() && PRAGMAS_READ.contains(&name.as_str()));
            if allowed {
                Authorization::Allow
            } else {
                refuse(format!(
                    "PRAGMA {pragma_name} is not allowed: Luma manages durability and the \
                     file, only read-only introspection PRAGMAs are accepted"
                ))
            }
        }
        AuthAction::Function {
            function_name: "load_extension",
        } => refuse("load_extension is not allowed".into()),
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::DropTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
        | AuthAction::CreateIndex { table_name, .. }
        | AuthAction::CreateTrigger { table_name, .. }
            if own(table_name) =>
        {
            refuse(format!("{table_name} is Luma's own table"))
        }
        AuthAction::CreateTable { .. } => {
            seen(SEEN_SCHEMA | SEEN_CREATE_TABLE);
            Authorization::Allow
        }
        AuthAction::CreateIndex { .. }
        | AuthAction::CreateTrigger { .. }
        | AuthAction::CreateView { .. }
        | AuthAction::CreateVtable { .. }
        | AuthAction::CreateTempIndex { .. }
        | AuthAction::CreateTempTable { .. }
        | AuthAction::CreateTempTrigger { .. }
        | AuthAction::CreateTempView { .. }
        | AuthAction::DropIndex { .. }
        | AuthAction::DropTable { .. }
        | AuthAction::DropTrigger { .. }
        | AuthAction::DropView { .. }
        | AuthAction::DropVtable { .. }
        | AuthAction::DropTempIndex { .. }
        | AuthAction::DropTempTable { .. }
        | AuthAction::DropTempTrigger { .. }
        | AuthAction::DropTempView { .. }
        | AuthAction::AlterTable { .. }
        | AuthAction::Reindex { .. }
        | AuthAction::Analyze { .. } => {
            seen(SEEN_SCHEMA);
            Authorization::Allow
        }
        AuthAction::Select => {
            seen(SEEN_SELECT);
            Authorization::Allow
        }
        _ => Authorization::Allow,
    }
}
