//! What the WAL holds for a SQL write: schema statements and changesets, in order; capturing
//! them (SQLite's session extension) and applying them again on replay.

use std::ffi::{c_int, c_void};
use std::ptr;

use rusqlite::{ffi, Connection};

use super::conn::sqlite_err;
use super::SqlError;

/// One step of a logged SQL write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A schema statement's text, run again on replay.
    Schema(String),
    /// A changeset: the rows the statements between two schema statements changed.
    Rows(Vec<u8>),
}

/// Encodes the changes of one write (tag, u32 length, bytes; per change).
pub fn encode(changes: &[Change]) -> Vec<u8> {
    let mut out = Vec::new();
    for change in changes {
        let (tag, bytes) = match change {
            Change::Schema(sql) => (1u8, sql.as_bytes()),
            Change::Rows(set) => (2u8, set.as_slice()),
        };
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Decodes what `encode` wrote.
pub fn decode(mut data: &[u8]) -> Result<Vec<Change>, SqlError> {
    let bad = || SqlError::Internal("damaged SQL record".into());
    let mut changes = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        let (len, rest) = rest.split_at_checked(4).ok_or_else(bad)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (bytes, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
        changes.push(match tag {
            1 => Change::Schema(String::from_utf8(bytes.to_vec()).map_err(|_| bad())?),
            2 => Change::Rows(bytes.to_vec()),
            _ => return Err(bad()),
        });
        data = rest;
    }
    Ok(changes)
}

/// Applies logged changes (replay). Triggers and foreign-key actions are off on the replaying
/// connection: what they did is in the changesets already. A conflict means the database
/// differs from what the log expects; the logged row wins.
pub fn apply(conn: &Connection, changes: &[Change]) -> Result<(), SqlError> {
    for change in changes {
        match change {
            Change::Schema(sql) => conn.execute_batch(sql).map_err(sqlite_err)?,
            Change::Rows(set) => apply_changeset(conn, set)?,
        }
    }
    Ok(())
}

/// SQLite's conflict callback: the logged row replaces what is there; a change whose row is
/// missing (or breaks a constraint) is skipped.
unsafe extern "C" fn on_conflict(
    _ctx: *mut c_void,
    conflict: c_int,
    _iter: *mut ffi::sqlite3_changeset_iter,
) -> c_int {
    match conflict {
        ffi::SQLITE_CHANGESET_DATA | ffi::SQLITE_CHANGESET_CONFLICT => {
            ffi::SQLITE_CHANGESET_REPLACE
        }
        _ => ffi::SQLITE_CHANGESET_OMIT,
    }
}

fn apply_changeset(conn: &Connection, set: &[u8]) -> Result<(), SqlError> {
    let len =
        c_int::try_from(set.len()).map_err(|_| SqlError::Internal("changeset too large".into()))?;
    // SAFETY: the connection is live and used by this thread only; SQLite only reads the
    // `len` bytes of the changeset (the API takes a mutable pointer but does not write); the
    // callback ignores its context pointer.
    let rc = unsafe {
        ffi::sqlite3changeset_apply(
            conn.handle(),
            len,
            set.as_ptr().cast_mut().cast::<c_void>(),
            None,
            Some(on_conflict),
            ptr::null_mut(),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(SqlError::Internal(format!(
            "applying a logged changeset: {}",
            ffi::Error::new(rc)
        )))
    }
}

/// A session recording every row change of the connection's main database, rowid tables
/// included, from its creation until `take`. A changeset is the net effect since the session
/// began: changes undone by a rollback to a savepoint leave nothing in it.
pub struct Capture {
    raw: *mut ffi::sqlite3_session,
}

// SAFETY: a session is only used together with its connection (rusqlite's `Connection` is
// `Send`): the writer moves both to its thread, and nothing shares either.
unsafe impl Send for Capture {}

fn check(rc: c_int) -> Result<(), SqlError> {
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(SqlError::Internal(format!(
            "session: {}",
            ffi::Error::new(rc)
        )))
    }
}

impl Capture {
    /// Starts a session on `conn`.
    ///
    /// # Safety
    /// The capture must be dropped before `conn` is closed, and used only on the thread that
    /// uses `conn`.
    pub unsafe fn start(conn: &Connection) -> Result<Capture, SqlError> {
        let mut raw: *mut ffi::sqlite3_session = ptr::null_mut();
        // SAFETY: `conn.handle()` is the live connection, which outlives the session (the
        // caller's promise); the schema name is a NUL-terminated literal.
        check(unsafe { ffi::sqlite3session_create(conn.handle(), c"main".as_ptr(), &mut raw) })?;
        let capture = Capture { raw };
        let mut rowid: c_int = 1;
        // SAFETY: `raw` is the session just created; the option reads one int through the
        // pointer, which lives for the call.
        check(unsafe {
            ffi::sqlite3session_object_config(
                capture.raw,
                ffi::SQLITE_SESSION_OBJCONFIG_ROWID,
                (&mut rowid as *mut c_int).cast::<c_void>(),
            )
        })?;
        // SAFETY: a null table name attaches every table of the database.
        check(unsafe { ffi::sqlite3session_attach(capture.raw, ptr::null()) })?;
        Ok(capture)
    }

    /// The changeset recorded so far (empty when nothing changed).
    pub fn take(&mut self) -> Result<Vec<u8>, SqlError> {
        let mut len: c_int = 0;
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: `raw` is live; SQLite allocates the output, which is copied and freed here.
        check(unsafe { ffi::sqlite3session_changeset(self.raw, &mut len, &mut data) })?;
        if data.is_null() {
            return Ok(Vec::new());
        }
        let len = usize::try_from(len).unwrap_or(0);
        // SAFETY: SQLite returned `len` readable bytes at `data`.
        let out = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec();
        // SAFETY: `data` came from SQLite's allocator and is freed once.
        unsafe { ffi::sqlite3_free(data) };
        Ok(out)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by sqlite3session_create and is deleted exactly once,
        // while its connection is still open (`start`'s contract).
        unsafe { ffi::sqlite3session_delete(self.raw) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip() {
        let changes = vec![
            Change::Schema("CREATE TABLE t(x)".into()),
            Change::Rows(vec![1, 2, 3]),
            Change::Rows(Vec::new()),
        ];
        assert_eq!(decode(&encode(&changes)).unwrap(), changes);
        assert!(decode(&[2, 9, 0, 0, 0, 1]).is_err());
        assert!(decode(&[7, 0, 0, 0, 0]).is_err());
    }

    /// Runs `statements` under a capture on a database with `schema`, and applies the
    /// changeset to a second one with the same schema, as replay does: (source, copy).
    fn captured_and_replayed(schema: &str, statements: &str) -> (Connection, Connection) {
        let source = Connection::open_in_memory().unwrap();
        let copy = Connection::open_in_memory().unwrap();
        source.execute_batch(schema).unwrap();
        copy.execute_batch(schema).unwrap();
        // SAFETY: dropped below, before `source`.
        let mut capture = unsafe { Capture::start(&source) }.unwrap();
        source.execute_batch(statements).unwrap();
        let set = capture.take().unwrap();
        drop(capture);
        copy.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
            false,
        )
        .unwrap();
        apply(&copy, &[Change::Rows(set)]).unwrap();
        (source, copy)
    }

    /// A changeset captured on one database, applied to a copy, gives the same rows: rowid
    /// tables, defaults computed at insert time and trigger effects included.
    #[test]
    fn captured_changes_replay_exactly() {
        let schema = "CREATE TABLE plain(a, b);
                      CREATE TABLE keyed(id INTEGER PRIMARY KEY, t TEXT DEFAULT (random()));
                      CREATE TABLE audit(n INTEGER PRIMARY KEY AUTOINCREMENT, what);
                      CREATE TRIGGER log AFTER INSERT ON keyed BEGIN
                        INSERT INTO audit(what) VALUES ('keyed ' || new.id); END;";
        let (source, copy) = captured_and_replayed(
            schema,
            "INSERT INTO plain VALUES (1, 'one'), (2, randomblob(4));
             INSERT INTO keyed(id) VALUES (10), (11);
             UPDATE plain SET b = 'two' WHERE a = 2;
             DELETE FROM keyed WHERE id = 11;",
        );
        let dump = |c: &Connection| -> Vec<String> {
            let mut rows = Vec::new();
            for table in ["plain", "keyed", "audit"] {
                let mut s = c
                    .prepare(&format!("SELECT rowid, * FROM {table} ORDER BY rowid"))
                    .unwrap();
                let n = s.column_count();
                let mut q = s.query([]).unwrap();
                while let Some(r) = q.next().unwrap() {
                    let cells: Vec<String> = (0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect();
                    rows.push(format!("{table}: {}", cells.join(",")));
                }
            }
            rows
        };
        let expected = dump(&source);
        assert_eq!(expected.len(), 2 + 1 + 2, "{expected:?}");
        assert_eq!(dump(&copy), expected);
    }

    /// Full-text tables keep their index in shadow tables, which the session captures like any
    /// table: a replayed copy answers MATCH queries the same.
    #[test]
    fn full_text_tables_replay() {
        let schema = "CREATE VIRTUAL TABLE notes USING fts5(body)";
        let (source, copy) = captured_and_replayed(
            schema,
            "INSERT INTO notes(body) VALUES ('the quick brown fox'), ('lazy dogs sleep');
             DELETE FROM notes WHERE rowid = 2;
             INSERT INTO notes(body) VALUES ('quick thinking');",
        );
        let matches = |c: &Connection, q: &str| -> Vec<i64> {
            let mut s = c
                .prepare("SELECT rowid FROM notes WHERE notes MATCH ?1 ORDER BY rowid")
                .unwrap();
            s.query_map([q], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        for q in ["quick", "dogs", "fox OR thinking"] {
            assert_eq!(matches(&copy, q), matches(&source, q), "{q}");
        }
        assert_eq!(matches(&copy, "quick"), [1, 2]);
    }
}
