//! Keyspace commands: DEL UNLINK EXISTS TYPE TOUCH EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
//! EXPIRETIME PEXPIRETIME PERSIST KEYS RENAME RENAMENX COPY MOVE SWAPDB DBSIZE FLUSHDB FLUSHALL.

use crate::bus::keyspace::{self, class, Event, Events, KeyRole};
use bytes::Bytes;

use super::args::is_keyword;
use super::{ArgCursor, CmdError, Command, Ctx, ReadCommand, WriteCommand, WriteEnv};
use crate::bus::glob::glob_match;
use crate::engine::{now_ms, WriteCtx};
use crate::kv::meta::{self, Collection};
use crate::kv::types;
use crate::kv::view::KvView;
use crate::resp::codec::parse_i64;
use crate::resp::{Reply, OK};

fn parse_db_index(arg: &[u8], databases: u32) -> Result<u32, CmdError> {
    let n = parse_i64(arg).ok_or(CmdError::NotInteger)?;
    if n < 0 || n >= i64::from(databases) {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(n as u32)
}

/// `DEL key [key ...]` and `UNLINK key [key ...]`
pub struct Del(Vec<Bytes>);

impl WriteCommand for Del {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::EachOrDel(keyspace::DEL)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Del(args.rest().to_vec()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut removed = 0;
        for key in &self.0 {
            if w.delete(env.db, key)? {
                removed += 1;
            }
        }
        Ok(Reply::Int(removed))
    }
}

/// `EXISTS key [key ...]` (a key named twice counts twice) and `TOUCH key [key ...]`.
pub struct Exists(Vec<Bytes>);

impl ReadCommand for Exists {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Exists(args.rest().to_vec()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let mut count = 0;
        for key in &self.0 {
            if view.live_row(db, key)?.is_some() {
                count += 1;
            }
        }
        Ok(Reply::Int(count))
    }
}

/// `TYPE key`
pub struct Type(Bytes);

impl ReadCommand for Type {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Type(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let name = view
            .live_row_cached(db, &self.0)?
            .and_then(|row| meta::key_type(&row))
            .map_or("none", |t| t.name());
        Ok(Reply::Status(name))
    }
}

/// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT key n [NX | XX | GT | LT]`
pub struct Expire<const UNIT_MS: i64, const ABSOLUTE: bool> {
    key: Bytes,
    /// Relative milliseconds, or absolute unix milliseconds when `ABSOLUTE`.
    ms: i64,
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl<const UNIT_MS: i64, const ABSOLUTE: bool> Expire<UNIT_MS, ABSOLUTE> {
    fn invalid() -> CmdError {
        let name = match (UNIT_MS, ABSOLUTE) {
            (1000, false) => "expire",
            (1, false) => "pexpire",
            (1000, true) => "expireat",
            _ => "pexpireat",
        };
        CmdError::err(format!("invalid expire time in '{name}' command"))
    }
}

impl<const UNIT_MS: i64, const ABSOLUTE: bool> WriteCommand for Expire<UNIT_MS, ABSOLUTE> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::EachOrDel(keyspace::EXPIRE)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let amount = args.next_i64()?;
        let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
        while !args.is_empty() {
            let arg = args.next_bytes()?;
            match () {
                _ if is_keyword(arg, "NX") => nx = true,
                _ if is_keyword(arg, "XX") => xx = true,
                _ if is_keyword(arg, "GT") => gt = true,
                _ if is_keyword(arg, "LT") => lt = true,
                _ => {
                    return Err(CmdError::err(format!(
                        "Unsupported option {}",
                        String::from_utf8_lossy(arg)
                    )))
                }
            }
        }
        if nx && (xx || gt || lt) {
            return Err(CmdError::err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if gt && lt {
            return Err(CmdError::err(
                "GT and LT options at the same time are not compatible",
            ));
        }
        // Like Redis, an overflowing time is an error before the key is even looked at.
        let ms = amount.checked_mul(UNIT_MS).ok_or_else(Self::invalid)?;
        if !ABSOLUTE && ms.checked_add(now_ms() as i64).is_none() {
            return Err(Self::invalid());
        }
        Ok(Expire {
            key,
            ms,
            nx,
            xx,
            gt,
            lt,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(row) = w.get(env.db, &self.key)? else {
            return Ok(Reply::Int(0));
        };
        let base = if ABSOLUTE { 0 } else { w.now_ms as i64 };
        let deadline = base.checked_add(self.ms).ok_or_else(Self::invalid)?;
        let current = meta::expire_at(&row) as i64; // 0 = no deadline
                                                    // Redis's checks, each on its own: no deadline counts as infinitely late.
        let refused = (self.nx && current != 0)
            || (self.xx && current == 0)
            || (self.gt && (current == 0 || deadline <= current))
            || (self.lt && current != 0 && deadline >= current);
        if refused {
            return Ok(Reply::Int(0));
        }
        if deadline <= w.now_ms as i64 {
            w.delete(env.db, &self.key)?;
        } else {
            w.set_expire(env.db, &self.key, deadline as u64)?;
        }
        Ok(Reply::Int(1))
    }
}

/// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME key`
pub struct Ttl<const UNIT_MS: u64, const ABSOLUTE: bool>(Bytes);

impl<const UNIT_MS: u64, const ABSOLUTE: bool> ReadCommand for Ttl<UNIT_MS, ABSOLUTE> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Ttl(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let now = view.now_ms();
        let Some(row) = view.live_row_cached(db, &self.0)? else {
            return Ok(Reply::Int(-2));
        };
        let deadline = meta::expire_at(&row);
        if deadline == 0 {
            return Ok(Reply::Int(-1));
        }
        // Redis rounds seconds to the nearest (UNIT_MS / 2 is 0 for milliseconds).
        let ms = if ABSOLUTE {
            deadline
        } else {
            deadline.saturating_sub(now)
        };
        let value = (ms + UNIT_MS / 2) / UNIT_MS;
        Ok(Reply::Int(value as i64))
    }
}

/// `PERSIST key`
pub struct Persist(Bytes);

impl WriteCommand for Persist {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(keyspace::PERSIST)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Persist(args.next_bytes()?.clone()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        match w.get(env.db, &self.0)? {
            Some(row) if meta::expire_at(&row) != 0 => {
                w.set_expire(env.db, &self.0, 0)?;
                Ok(Reply::Int(1))
            }
            _ => Ok(Reply::Int(0)),
        }
    }
}

/// `KEYS pattern`
pub struct Keys(Bytes);

impl Command for Keys {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Keys(args.next_bytes()?.clone()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let now = now_ms();
        let mut out = Vec::new();
        let db = ctx.client.db;
        ctx.snapshot()?.scan(db, b"", |key, row| {
            if !meta::is_expired(row, now) && glob_match(&self.0, key) {
                out.push(Reply::bulk(key.to_vec()));
            }
            true
        })?;
        Ok(Reply::Array(out))
    }
}

/// `RENAME key newkey` and `RENAMENX key newkey`
pub struct Rename<const NX: bool>(Bytes, Bytes);

impl<const NX: bool> WriteCommand for Rename<NX> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Keys(vec![
            KeyRole::moved(&self.0, Event::new("rename_from", class::GENERIC)),
            KeyRole::new(&self.1, Event::new("rename_to", class::GENERIC)),
        ])
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Rename(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(row) = w.get(env.db, &self.0)? else {
            return Err(CmdError::err("no such key"));
        };
        if NX {
            if w.get(env.db, &self.1)?.is_some() {
                return Ok(Reply::Int(0));
            }
        } else if self.0 == self.1 {
            return Ok(OK);
        }
        if self.0 != self.1 {
            // The members stay where they are: only the row moves.
            w.put_row(env.db, &self.1, &row)?;
            w.forget(env.db, &self.0)?;
        }
        Ok(if NX { Reply::Int(1) } else { OK })
    }
}

/// `COPY source destination [DB destination-db] [REPLACE]`
pub struct Copy {
    source: Bytes,
    destination: Bytes,
    db: Option<Bytes>,
    replace: bool,
}

impl WriteCommand for Copy {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Keys(vec![KeyRole::new(
            &self.destination,
            Event::new("copy_to", class::GENERIC),
        )])
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut copy = Copy {
            source: args.next_bytes()?.clone(),
            destination: args.next_bytes()?.clone(),
            db: None,
            replace: false,
        };
        while !args.is_empty() {
            if args.eat("REPLACE") {
                copy.replace = true;
            } else if args.eat("DB") {
                copy.db = Some(args.next_bytes()?.clone());
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(copy)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let target = match &self.db {
            Some(arg) => parse_db_index(arg, env.databases)?,
            None => env.db,
        };
        if target == env.db && self.source == self.destination {
            return Err(CmdError::err("source and destination objects are the same"));
        }
        let Some(row) = w.get(env.db, &self.source)? else {
            return Ok(Reply::Int(0));
        };
        if w.get(target, &self.destination)?.is_some() && !self.replace {
            return Ok(Reply::Int(0));
        }
        let row = match Collection::decode(&row) {
            Some(mut c) => {
                c.version = types::copy_members(w, target, &self.destination, &c)?;
                c.encode()
            }
            None => row,
        };
        w.put_row(target, &self.destination, &row)?;
        Ok(Reply::Int(1))
    }
}

/// `MOVE key db`
pub struct Move(Bytes, Bytes);

impl WriteCommand for Move {
    fn events(&self, env: WriteEnv) -> Events {
        match std::str::from_utf8(&self.1)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
        {
            Some(target) => Events::Keys(vec![
                KeyRole::moved(&self.0, Event::new("move_from", class::GENERIC)).in_db(env.db),
                KeyRole::new(&self.0, Event::new("move_to", class::GENERIC)).in_db(target),
            ]),
            None => Events::Silent,
        }
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Move(args.next_bytes()?.clone(), args.next_bytes()?.clone()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let target = parse_db_index(&self.1, env.databases)?;
        if target == env.db {
            return Err(CmdError::err("source and destination objects are the same"));
        }
        let Some(row) = w.get(env.db, &self.0)? else {
            return Ok(Reply::Int(0));
        };
        if w.get(target, &self.0)?.is_some() {
            return Ok(Reply::Int(0));
        }
        w.put_row(target, &self.0, &row)?;
        w.forget(env.db, &self.0)?;
        Ok(Reply::Int(1))
    }
}

/// `SWAPDB index1 index2`
pub struct SwapDb(i64, i64);

impl WriteCommand for SwapDb {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Silent
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        // Both indexes are parsed before either is range-checked, as in Redis.
        let a = args
            .next_i64()
            .map_err(|_| CmdError::err("invalid first DB index"))?;
        let b = args
            .next_i64()
            .map_err(|_| CmdError::err("invalid second DB index"))?;
        Ok(SwapDb(a, b))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let in_range = |n: i64| (0..i64::from(env.databases)).contains(&n);
        if !in_range(self.0) || !in_range(self.1) {
            return Err(CmdError::DbIndexOutOfRange);
        }
        if self.0 != self.1 {
            w.swap_db(self.0 as u32, self.1 as u32)?;
        }
        Ok(OK)
    }
}

/// `DBSIZE`
pub struct DbSize;

impl Command for DbSize {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(DbSize)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(Reply::Int(ctx.server.engine.dbsize(ctx.client.db) as i64))
    }
}

/// The optional `ASYNC | SYNC` of FLUSHDB and FLUSHALL. Both run in the engine's order of
/// writes; the caller is answered once the flush is logged.
fn parse_flush_mode(args: &mut ArgCursor<'_>) -> Result<(), CmdError> {
    if !args.is_empty() {
        args.next_choice(&[("ASYNC", ()), ("SYNC", ())])?;
    }
    args.finish()
}

/// `FLUSHDB [ASYNC | SYNC]`
pub struct FlushDb;

impl WriteCommand for FlushDb {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Silent
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        parse_flush_mode(args)?;
        Ok(FlushDb)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        w.flush_db(env.db)?;
        Ok(OK)
    }
}

/// `FLUSHALL [ASYNC | SYNC]`
pub struct FlushAll;

impl WriteCommand for FlushAll {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Silent
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        parse_flush_mode(args)?;
        Ok(FlushAll)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        w.flush_all(env.databases)?;
        Ok(OK)
    }
}
