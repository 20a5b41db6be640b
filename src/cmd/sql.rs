//! SQL.EXEC SQL.QUERY SQL.TABLES SQL.SCHEMA: Luma's SQL engine (`sqlite`) over RESP.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{ArgCursor, CmdError, Ctx, Outcome, WriteEnv};
use crate::bus::ChannelKind;
use crate::engine::sql::SqlWrite;
use crate::engine::WriteCtx;
use crate::resp::Reply;
use crate::sqlite::exec::{self, Rows};
use crate::sqlite::{Limits, Params, Request};

/// How SQL.QUERY shapes its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `[[column …], [value …] …]`
    Resp,
    /// One JSON document: an array of objects keyed by column.
    Json,
}

/// The limits of the current settings.
pub fn limits(ctx: &Ctx<'_>) -> Limits {
    let config = ctx.server.config();
    Limits {
        timeout: Duration::from_millis(config.sql_timeout_ms),
        max_rows: config.sql_max_rows,
        max_bytes: config.sql_max_reply_bytes,
    }
}

/// `sql [PARAMS n p1 … pn | PARAMS JSON doc]` and the options after it (`extra` handles those
/// it knows).
fn parse_request(
    args: &mut ArgCursor<'_>,
    db: u32,
    mut extra: impl FnMut(&mut ArgCursor<'_>) -> Result<bool, CmdError>,
) -> Result<Request, CmdError> {
    let sql = String::from_utf8(args.next_bytes()?.to_vec())
        .map_err(|_| CmdError::err("SQL text must be UTF-8"))?;
    // SQLite stops reading at a NUL: `DELETE FROM t\0 WHERE …` would delete every row.
    if sql.contains('\0') {
        return Err(CmdError::err("SQL text may not contain NUL bytes"));
    }
    let mut params = Params::None;
    while !args.is_empty() {
        if args.eat("PARAMS") {
            if args.remaining() >= 2 && args.eat("JSON") {
                params = Params::from_json(args.next_bytes()?).map_err(CmdError::err)?;
                continue;
            }
            let n = args.next_i64()?;
            let n = usize::try_from(n)
                .ok()
                .filter(|n| *n <= args.remaining())
                .ok_or_else(|| {
                    CmdError::err("PARAMS count must match the number of values that follow")
                })?;
            let values: Vec<Bytes> = (0..n)
                .map(|_| args.next_bytes().cloned())
                .collect::<Result<_, _>>()?;
            params = Params::from_args(&values);
        } else if !extra(args)? {
            return Err(CmdError::err("syntax error"));
        }
    }
    Ok(Request {
        sql,
        params,
        db,
        limits: Limits::default(),
    })
}

/// `SQL.EXEC sql [PARAMS n p1 … pn | PARAMS JSON doc]`
pub fn run_exec(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let mut req = parse_request(args, ctx.client.db, |_| Ok(false))?;
    req.limits = limits(ctx);
    ctx.client.snapshot = None;
    Ok(Outcome::Pending(
        ctx.server.engine.sql.write(SqlWrite::Exec(req))?,
    ))
}

/// SQL.EXEC queued in MULTI: runs in the EXEC's batch, on the SQL writer.
pub fn txn_exec(
    args: &mut ArgCursor<'_>,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Reply, CmdError> {
    let req = parse_request(args, env.db, |_| Ok(false))?;
    w.sql_exec(&req)
}

/// `SQL.QUERY sql [PARAMS n p1 … pn | PARAMS JSON doc] [FORMAT RESP|JSON] [PUBLISH channel]`
struct SqlQuery {
    req: Request,
    format: Format,
    publish: Option<Bytes>,
}

impl SqlQuery {
    fn parse(args: &mut ArgCursor<'_>, db: u32) -> Result<SqlQuery, CmdError> {
        let mut format = Format::Resp;
        let mut publish = None;
        let req = parse_request(args, db, |args| {
            if args.remaining() >= 2 && args.eat("FORMAT") {
                format = args.next_choice(&[("RESP", Format::Resp), ("JSON", Format::Json)])?;
                Ok(true)
            } else if args.remaining() >= 2 && args.eat("PUBLISH") {
                publish = Some(args.next_bytes()?.clone());
                Ok(true)
            } else {
                Ok(false)
            }
        })?;
        Ok(SqlQuery {
            req,
            format,
            publish,
        })
    }

    fn shape(&self, rows: Rows) -> Reply {
        match self.format {
            Format::Resp => rows.into_reply(),
            Format::Json => Reply::bulk(rows.into_json().to_string()),
        }
    }

    /// The audit event PUBLISH sends: what ran, how many parameters, rows, time.
    fn event(&self, rows: Option<usize>, error: Option<&str>, took: Duration) -> Bytes {
        let mut event = serde_json::json!({
            "command": "SQL.QUERY",
            "sql": self.req.sql,
            "params": self.req.params.len(),
            "db": self.req.db,
            "time_ms": took.as_secs_f64() * 1000.0,
        });
        match (rows, error) {
            (Some(n), _) => event["rows"] = n.into(),
            (None, Some(e)) => event["error"] = e.into(),
            _ => {}
        }
        Bytes::from(event.to_string())
    }
}

pub fn run_query(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let mut query = SqlQuery::parse(args, ctx.client.db)?;
    query.req.limits = limits(ctx);
    let engine = &ctx.server.engine;
    let bus = engine.bus.clone();
    let stats = engine.sql.stats.clone();
    let rx = engine.sql.read(move |conn| {
        let started = Instant::now();
        stats.queries.fetch_add(1, Ordering::Relaxed);
        let result = exec::query(conn, &query.req);
        let took = started.elapsed();
        if let Some(channel) = &query.publish {
            let event = match &result {
                Ok(rows) => query.event(Some(rows.rows.len()), None, took),
                Err(e) => query.event(None, Some(&e.to_string()), took),
            };
            bus.publish(ChannelKind::Global, channel, &event);
        }
        match result {
            Ok(rows) => {
                stats
                    .rows_returned
                    .fetch_add(rows.rows.len() as u64, Ordering::Relaxed);
                query.shape(rows)
            }
            Err(e) => {
                stats.count_error(&e);
                Reply::Error(e.resp_text())
            }
        }
    })?;
    Ok(Outcome::Pending(rx))
}

/// SQL.QUERY queued in MULTI: reads the transaction's own SQL writes.
pub fn txn_query(
    args: &mut ArgCursor<'_>,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Reply, CmdError> {
    let query = SqlQuery::parse(args, env.db)?;
    let rows = w.sql_query(&query.req)?;
    Ok(query.shape(rows))
}

/// Runs one of Luma's introspection queries on a reader; `f` shapes the rows.
fn introspect(
    ctx: &mut Ctx<'_>,
    sql: &str,
    params: Params,
    f: impl FnOnce(Rows) -> Reply + Send + 'static,
) -> Result<Outcome, CmdError> {
    let req = Request {
        sql: sql.to_string(),
        params,
        db: ctx.client.db,
        limits: limits(ctx),
    };
    let rx = ctx.server.engine.sql.read(move |conn| {
        exec::query(conn, &req).map_or_else(|e| Reply::Error(e.resp_text()), f)
    })?;
    Ok(Outcome::Pending(rx))
}

/// User objects only: SQLite's own and Luma's bookkeeping are left out.
const USER_OBJECTS: &str =
    "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_luma\\_%' ESCAPE '\\'";

/// The one column of an introspection query, as a flat array.
fn first_column(rows: Rows) -> Reply {
    Reply::Array(
        rows.rows
            .into_iter()
            .flatten()
            .map(crate::sqlite::value::to_reply)
            .collect(),
    )
}

/// `SQL.TABLES`: the tables' names, sorted.
pub fn run_tables(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    args.finish()?;
    let sql = format!(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND {USER_OBJECTS} ORDER BY name"
    );
    introspect(ctx, &sql, Params::None, first_column)
}

/// `SQL.SCHEMA [table]`: the CREATE statements of every object (or of one table and its
/// indexes and triggers).
pub fn run_schema(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let table = if args.is_empty() {
        None
    } else {
        Some(args.next_string()?)
    };
    args.finish()?;
    let filter = if table.is_some() {
        " AND tbl_name = ?1"
    } else {
        ""
    };
    let sql = format!(
        "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND {USER_OBJECTS}{filter} \
         ORDER BY type <> 'table', tbl_name, name"
    );
    let params = match &table {
        Some(t) => Params::Positional(vec![crate::sqlite::Param::Text(t.clone())]),
        None => Params::None,
    };
    introspect(ctx, &sql, params, move |rows| {
        if rows.rows.is_empty() {
            if let Some(t) = table {
                return Reply::Error(format!("ERR SQL error: no such table: {t}"));
            }
        }
        first_column(rows)
    })
}
