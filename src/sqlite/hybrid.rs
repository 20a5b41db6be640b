//! SQL's windows onto the other engines: the `vsearch(set, query, k [, filter])` table-valued
//! function, and the scalar functions `kv_get(key)`, `kv_hget(key, field)` and
//! `publish(channel, message)`, registered on every connection.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::vtab::{
    self, Filters, IndexConstraintOp, IndexInfo, Module, VTab, VTabConfig, VTabConnection,
    VTabCursor,
};
use rusqlite::{ffi, Connection};

use super::conn::ConnState;

/// One vector-search result row.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    pub element: Vec<u8>,
    pub score: f64,
    pub attributes: Option<Vec<u8>>,
}

/// What the SQL functions need from the rest of the server.
pub trait Host: Send + Sync + 'static {
    /// The string at `key` in database `db` (an error for other types).
    fn kv_get(&self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// A hash field.
    fn kv_hget(&self, db: u32, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// Publishes on a channel; the number of receivers.
    fn publish(&self, channel: &[u8], message: &[u8]) -> i64;
    /// The `k` elements of vector set `key` nearest to `query` (VSIM's scores), optionally
    /// filtered by a VSIM FILTER expression. Missing set: no rows.
    fn vsearch(
        &self,
        db: u32,
        key: &[u8],
        query: &[f32],
        k: usize,
        filter: Option<&str>,
    ) -> Result<Vec<VectorHit>, String>;
}

/// Bytes or text as a key.
fn key_arg(ctx: &Context<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    match ctx.get_raw(i) {
        ValueRef::Text(t) | ValueRef::Blob(t) => Ok(t.to_vec()),
        ValueRef::Integer(n) => Ok(n.to_string().into_bytes()),
        ValueRef::Real(r) => Ok(r.to_string().into_bytes()),
        ValueRef::Null => Err(rusqlite::Error::UserFunctionError(
            "a key may not be NULL".into(),
        )),
    }
}

/// A stored value back as TEXT when it is UTF-8, else as a BLOB.
fn text_or_blob(value: Option<Vec<u8>>) -> Value {
    match value {
        None => Value::Null,
        Some(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Value::Text(text),
            Err(e) => Value::Blob(e.into_bytes()),
        },
    }
}

fn user_error(e: String) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(e.into())
}

pub fn register(
    conn: &Connection,
    host: Arc<dyn Host>,
    state: Arc<ConnState>,
) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8;
    let (h, s) = (host.clone(), state.clone());
    conn.create_scalar_function("kv_get", 1, flags, move |ctx| {
        let key = key_arg(ctx, 0)?;
        let db = s.db.load(Ordering::Relaxed);
        h.kv_get(db, &key).map(text_or_blob).map_err(user_error)
    })?;
    let (h, s) = (host.clone(), state.clone());
    conn.create_scalar_function("kv_hget", 2, flags, move |ctx| {
        let key = key_arg(ctx, 0)?;
        let field = key_arg(ctx, 1)?;
        let db = s.db.load(Ordering::Relaxed);
        h.kv_hget(db, &key, &field)
            .map(text_or_blob)
            .map_err(user_error)
    })?;
    let h = host.clone();
    // Direct only: a view or trigger never publishes behind the caller's back.
    conn.create_scalar_function(
        "publish",
        2,
        flags | FunctionFlags::SQLITE_DIRECTONLY,
        move |ctx| {
            let channel = key_arg(ctx, 0)?;
            let message = key_arg(ctx, 1)?;
            Ok(h.publish(&channel, &message))
        },
    )?;
    const MODULE: Module<'static, VSearchTab> = Module::eponymous_only_module();
    conn.create_module(c"vsearch", &MODULE, Some(Aux { host, state }))
}

/// The module's shared context.
pub struct Aux {
    host: Arc<dyn Host>,
    state: Arc<ConnState>,
}

// Columns: element, score, attributes, then the hidden arguments set, query, k, filter.
const COL_SET: c_int = 3;
const COL_FILTER: c_int = 6;

#[repr(C)]
pub struct VSearchTab {
    base: ffi::sqlite3_vtab,
    host: Arc<dyn Host>,
    state: Arc<ConnState>,
}

// SAFETY: `base` is the first field and the struct is `repr(C)`, as SQLite's virtual-table
// interface requires.
unsafe impl<'vtab> VTab<'vtab> for VSearchTab {
    type Aux = Aux;
    type Cursor = VSearchCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Aux>,
        _module: &[u8],
        _database: &[u8],
        _table: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let aux = aux.ok_or_else(|| rusqlite::Error::ModuleError("vsearch: no host".into()))?;
        db.config(VTabConfig::DirectOnly)?;
        Ok((
            Cow::Borrowed(
                c"CREATE TABLE x(element TEXT, score REAL, attributes TEXT, \
                  \"set\" HIDDEN, query HIDDEN, k HIDDEN, filter HIDDEN)",
            ),
            VSearchTab {
                base: ffi::sqlite3_vtab::default(),
                host: aux.host.clone(),
                state: aux.state.clone(),
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // Arguments arrive as equality constraints on the hidden columns; idx_num has a bit
        // per argument given, and they are passed to `filter` in column order.
        let mut slots: [Option<usize>; 4] = [None; 4];
        let mut unusable = false;
        for (i, c) in info.constraints().enumerate() {
            let col = c.column();
            if !(COL_SET..=COL_FILTER).contains(&col) {
                continue;
            }
            if !c.is_usable() {
                unusable = true;
            } else if c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ {
                slots[(col - COL_SET) as usize] = Some(i);
            }
        }
        let mut idx_num = 0;
        let mut argv = 0;
        for (bit, slot) in slots.iter().enumerate() {
            if let Some(i) = slot {
                argv += 1;
                idx_num |= 1 << bit;
                let mut usage = info.constraint_usage(*i);
                usage.set_argv_index(argv);
                usage.set_omit(true);
            }
        }
        if idx_num & 0b111 != 0b111 {
            if unusable {
                return Ok(false);
            }
            info.set_estimated_cost(1e12);
        } else {
            info.set_estimated_cost(10.0);
            info.set_estimated_rows(10);
        }
        info.set_idx_num(idx_num);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<VSearchCursor<'vtab>> {
        Ok(VSearchCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            host: self.host.clone(),
            state: self.state.clone(),
            hits: Vec::new(),
            pos: 0,
            _tab: PhantomData,
        })
    }
}

#[repr(C)]
pub struct VSearchCursor<'vtab> {
    base: ffi::sqlite3_vtab_cursor,
    host: Arc<dyn Host>,
    state: Arc<ConnState>,
    hits: Vec<VectorHit>,
    pos: usize,
    _tab: PhantomData<&'vtab VSearchTab>,
}

fn module_error(why: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::ModuleError(format!("vsearch: {}", why.into()))
}

/// A query vector: an FP32 blob (little-endian) or a JSON array of numbers.
pub fn parse_query(value: Value) -> Result<Vec<f32>, String> {
    match value {
        Value::Blob(b) => {
            if b.is_empty() || b.len() % 4 != 0 {
                return Err("an FP32 query blob must hold a whole number of 4-byte floats".into());
            }
            Ok(b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
        Value::Text(t) => {
            let parsed: Vec<f64> = serde_json::from_str(&t)
                .map_err(|_| "the query must be an FP32 blob or a JSON array of numbers")?;
            if parsed.is_empty() {
                return Err("the query vector is empty".into());
            }
            Ok(parsed.into_iter().map(|x| x as f32).collect())
        }
        _ => Err("the query must be an FP32 blob or a JSON array of numbers".into()),
    }
}

// SAFETY: `base` is the first field and the struct is `repr(C)`.
unsafe impl VTabCursor for VSearchCursor<'_> {
    fn filter(
        &mut self,
        idx_num: c_int,
        _idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        if idx_num & 0b111 != 0b111 {
            return Err(module_error(
                "usage: vsearch(set, query, k [, filter]) (set, query and k are required)",
            ));
        }
        let set = match args.get::<Value>(0)? {
            Value::Text(t) => t.into_bytes(),
            Value::Blob(b) => b,
            _ => return Err(module_error("the set must be a key name")),
        };
        let query = parse_query(args.get::<Value>(1)?).map_err(module_error)?;
        let k = match args.get::<Value>(2)? {
            Value::Integer(k) if k > 0 => k as usize,
            Value::Text(t) => t
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|k| *k > 0)
                .ok_or_else(|| module_error("k must be a positive integer"))?,
            _ => return Err(module_error("k must be a positive integer")),
        };
        let filter = if idx_num & 0b1000 != 0 {
            match args.get::<Value>(3)? {
                Value::Text(t) => Some(t),
                Value::Null => None,
                _ => return Err(module_error("the filter must be text")),
            }
        } else {
            None
        };
        let db = self.state.db.load(Ordering::Relaxed);
        self.hits = self
            .host
            .vsearch(db, &set, &query, k, filter.as_deref())
            .map_err(module_error)?;
        self.pos = 0;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.pos += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.pos >= self.hits.len()
    }

    fn column(&self, ctx: &mut vtab::Context, i: c_int) -> rusqlite::Result<()> {
        let Some(hit) = self.hits.get(self.pos) else {
            return ctx.set_result(Value::Null);
        };
        match i {
            0 => ctx.set_result(text_or_blob(Some(hit.element.clone()))),
            1 => ctx.set_result(hit.score),
            2 => ctx.set_result(text_or_blob(hit.attributes.clone())),
            _ => ctx.set_result(Value::Null),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.pos as i64 + 1)
    }
}
