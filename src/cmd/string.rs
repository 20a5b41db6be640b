//! String commands: GET SET SETNX SETEX PSETEX MGET MSET MSETNX GETSET GETDEL GETEX APPEND
//! STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE.

use bytes::Bytes;

use super::args::is_keyword;
use super::{ArgCursor, CmdError, Command, Ctx, WriteCommand, WriteEnv};
use crate::engine::{now_ms, WriteCtx};
use crate::kv::meta::{self, KeyType};
use crate::resp::codec::parse_i64;
use crate::resp::reply::format_double;
use crate::resp::{Reply, OK};

/// Largest string Redis allows (and so SETRANGE/APPEND may build).
const MAX_STRING: usize = 512 * 1024 * 1024;

/// The value of a live string key read from a snapshot (connection thread).
pub fn read_string(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let row = ctx.server.engine.read()?.get(ctx.client.db, key)?;
    live_string(row, now_ms())
}

fn live_string(row: Option<Vec<u8>>, now: u64) -> Result<Option<Vec<u8>>, CmdError> {
    match row {
        Some(row) if !meta::is_expired(&row, now) => match meta::key_type(&row) {
            Some(KeyType::String) => Ok(Some(meta::payload(&row).to_vec())),
            _ => Err(CmdError::WrongType),
        },
        _ => Ok(None),
    }
}

/// A live string on the engine thread: (value, deadline); WRONGTYPE for other types.
fn get_string(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
) -> Result<Option<(Vec<u8>, u64)>, CmdError> {
    match w.get(db, key)? {
        None => Ok(None),
        Some(row) if meta::key_type(&row) == Some(KeyType::String) => {
            Ok(Some((meta::payload(&row).to_vec(), meta::expire_at(&row))))
        }
        Some(_) => Err(CmdError::WrongType),
    }
}

fn invalid_expire(command: &str) -> CmdError {
    CmdError::err(format!("invalid expire time in '{command}' command"))
}

/// An expiry given as EX/PX/EXAT/PXAT, kept relative until the engine's clock applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Milliseconds from now.
    In(u64),
    /// Absolute unix milliseconds.
    At(u64),
}

impl Expiry {
    pub fn deadline(self, now_ms: u64) -> u64 {
        match self {
            Expiry::In(ms) => now_ms.saturating_add(ms),
            Expiry::At(ms) => ms.max(1),
        }
    }

    /// Parses the number after EX/PX/EXAT/PXAT (`unit_ms` = 1000 for seconds).
    fn parse(arg: &[u8], unit_ms: i64, absolute: bool, command: &str) -> Result<Self, CmdError> {
        let n = parse_i64(arg).ok_or(CmdError::NotInteger)?;
        if n <= 0 {
            return Err(invalid_expire(command));
        }
        let ms = n
            .checked_mul(unit_ms)
            .ok_or_else(|| invalid_expire(command))?;
        if !absolute && ms.checked_add(now_ms() as i64).is_none() {
            return Err(invalid_expire(command));
        }
        Ok(if absolute {
            Expiry::At(ms as u64)
        } else {
            Expiry::In(ms as u64)
        })
    }
}

/// `GET key`
pub struct Get(Bytes);

impl Command for Get {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Get(args.next_bytes()?.clone()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(read_string(ctx, &self.0)?.map_or(Reply::Nil, Reply::bulk))
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ts-ms | KEEPTTL]`
pub struct Set {
    key: Bytes,
    value: Bytes,
    condition: Option<bool>, // Some(true) = NX, Some(false) = XX
    get: bool,
    expiry: Option<Expiry>,
    keep_ttl: bool,
}

impl WriteCommand for Set {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut set = Set {
            key: args.next_bytes()?.clone(),
            value: args.next_bytes()?.clone(),
            condition: None,
            get: false,
            expiry: None,
            keep_ttl: false,
        };
        while !args.is_empty() {
            let opt = args.next_bytes()?;
            let timed = |s: &Set| s.expiry.is_some() || s.keep_ttl;
            if is_keyword(opt, "NX") && set.condition.is_none() {
                set.condition = Some(true);
            } else if is_keyword(opt, "XX") && set.condition.is_none() {
                set.condition = Some(false);
            } else if is_keyword(opt, "GET") {
                set.get = true;
            } else if is_keyword(opt, "KEEPTTL") && !timed(&set) {
                set.keep_ttl = true;
            } else if !timed(&set) && !args.is_empty() {
                let (unit, absolute) = if is_keyword(opt, "EX") {
                    (1000, false)
                } else if is_keyword(opt, "PX") {
                    (1, false)
                } else if is_keyword(opt, "EXAT") {
                    (1000, true)
                } else if is_keyword(opt, "PXAT") {
                    (1, true)
                } else {
                    return Err(CmdError::Syntax);
                };
                set.expiry = Some(Expiry::parse(args.next_bytes()?, unit, absolute, "set")?);
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(set)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let old = if self.get {
            get_string(w, env.db, &self.key)?
        } else {
            w.get(env.db, &self.key)?
                .map(|row| (Vec::new(), meta::expire_at(&row)))
        };
        let reply_old = || {
            if self.get {
                old.as_ref()
                    .map_or(Reply::Nil, |(v, _)| Reply::bulk(v.clone()))
            } else {
                Reply::Nil
            }
        };
        match self.condition {
            Some(true) if old.is_some() => return Ok(reply_old()),
            Some(false) if old.is_none() => return Ok(reply_old()),
            _ => {}
        }
        let deadline = match (self.expiry, self.keep_ttl) {
            (Some(e), _) => e.deadline(w.now_ms),
            (None, true) => old.as_ref().map_or(0, |(_, d)| *d),
            (None, false) => 0,
        };
        w.put_string(env.db, &self.key, &self.value, deadline)?;
        Ok(if self.get { reply_old() } else { OK })
    }
}

/// `SETNX key value`
pub struct SetNx(Bytes, Bytes);

impl WriteCommand for SetNx {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SetNx(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        if w.get(env.db, &self.0)?.is_some() {
            return Ok(Reply::Int(0));
        }
        w.put_string(env.db, &self.0, &self.1, 0)?;
        Ok(Reply::Int(1))
    }
}

/// `SETEX key seconds value` and `PSETEX key milliseconds value`
pub struct SetEx<const UNIT_MS: i64> {
    key: Bytes,
    expiry: Expiry,
    value: Bytes,
}

impl<const UNIT_MS: i64> WriteCommand for SetEx<UNIT_MS> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let name = if UNIT_MS == 1 { "psetex" } else { "setex" };
        let expiry = Expiry::parse(args.next_bytes()?, UNIT_MS, false, name)?;
        Ok(SetEx {
            key,
            expiry,
            value: args.next_bytes()?.clone(),
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let deadline = self.expiry.deadline(w.now_ms);
        w.put_string(env.db, &self.key, &self.value, deadline)?;
        Ok(OK)
    }
}

/// `MGET key [key ...]`
pub struct MGet(Vec<Bytes>);

impl Command for MGet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MGet(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let snapshot = ctx.server.engine.read()?;
        let now = now_ms();
        let mut out = Vec::with_capacity(self.0.len());
        for key in &self.0 {
            let value = live_string(snapshot.get(ctx.client.db, key)?, now).unwrap_or(None);
            out.push(value.map_or(Reply::Nil, Reply::bulk));
        }
        Ok(Reply::Array(out))
    }
}

/// Key/value pairs of MSET and MSETNX.
fn parse_pairs(args: &mut ArgCursor<'_>, name: &str) -> Result<Vec<(Bytes, Bytes)>, CmdError> {
    if !args.remaining().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.into()));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        pairs.push((args.next_bytes()?.clone(), args.next_bytes()?.clone()));
    }
    Ok(pairs)
}

/// `MSET key value [key value ...]`
pub struct MSet(Vec<(Bytes, Bytes)>);

impl WriteCommand for MSet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MSet(parse_pairs(args, "mset")?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        for (k, v) in &self.0 {
            w.put_string(env.db, k, v, 0)?;
        }
        Ok(OK)
    }
}

/// `MSETNX key value [key value ...]`
pub struct MSetNx(Vec<(Bytes, Bytes)>);

impl WriteCommand for MSetNx {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MSetNx(parse_pairs(args, "msetnx")?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        for (k, _) in &self.0 {
            if w.get(env.db, k)?.is_some() {
                return Ok(Reply::Int(0));
            }
        }
        for (k, v) in &self.0 {
            w.put_string(env.db, k, v, 0)?;
        }
        Ok(Reply::Int(1))
    }
}

/// `GETSET key value`
pub struct GetSet(Bytes, Bytes);

impl WriteCommand for GetSet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(GetSet(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let old = get_string(w, env.db, &self.0)?;
        w.put_string(env.db, &self.0, &self.1, 0)?;
        Ok(old.map_or(Reply::Nil, |(v, _)| Reply::bulk(v)))
    }
}

/// `GETDEL key`
pub struct GetDel(Bytes);

impl WriteCommand for GetDel {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(GetDel(args.next_bytes()?.clone()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let old = get_string(w, env.db, &self.0)?;
        if old.is_some() {
            w.delete(env.db, &self.0)?;
        }
        Ok(old.map_or(Reply::Nil, |(v, _)| Reply::bulk(v)))
    }
}

/// `GETEX key [EX s | PX ms | EXAT ts | PXAT ts-ms | PERSIST]`
pub struct GetEx {
    key: Bytes,
    change: Option<Option<Expiry>>, // Some(None) = PERSIST
}

impl WriteCommand for GetEx {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let mut change = None;
        while !args.is_empty() {
            let opt = args.next_bytes()?;
            if change.is_some() {
                return Err(CmdError::Syntax);
            }
            if is_keyword(opt, "PERSIST") {
                change = Some(None);
                continue;
            }
            let (unit, absolute) = match () {
                _ if is_keyword(opt, "EX") => (1000, false),
                _ if is_keyword(opt, "PX") => (1, false),
                _ if is_keyword(opt, "EXAT") => (1000, true),
                _ if is_keyword(opt, "PXAT") => (1, true),
                _ => return Err(CmdError::Syntax),
            };
            if args.is_empty() {
                return Err(CmdError::Syntax);
            }
            change = Some(Some(Expiry::parse(
                args.next_bytes()?,
                unit,
                absolute,
                "getex",
            )?));
        }
        Ok(GetEx { key, change })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some((value, _)) = get_string(w, env.db, &self.key)? else {
            return Ok(Reply::Nil);
        };
        match self.change {
            None => {}
            Some(None) => {
                w.set_expire(env.db, &self.key, 0)?;
            }
            Some(Some(expiry)) => {
                let deadline = expiry.deadline(w.now_ms);
                if deadline <= w.now_ms {
                    w.delete(env.db, &self.key)?;
                } else {
                    w.set_expire(env.db, &self.key, deadline)?;
                }
            }
        }
        Ok(Reply::bulk(value))
    }
}

/// `APPEND key value`
pub struct Append(Bytes, Bytes);

impl WriteCommand for Append {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Append(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let (mut value, deadline) = get_string(w, env.db, &self.0)?.unwrap_or_default();
        if value.len() + self.1.len() > MAX_STRING {
            return Err(CmdError::err(
                "string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        value.extend_from_slice(&self.1);
        w.put_string(env.db, &self.0, &value, deadline)?;
        Ok(Reply::Int(value.len() as i64))
    }
}

/// `STRLEN key`
pub struct StrLen(Bytes);

impl Command for StrLen {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(StrLen(args.next_bytes()?.clone()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(Reply::Int(
            read_string(ctx, &self.0)?.map_or(0, |v| v.len() as i64),
        ))
    }
}

/// `INCR`, `DECR`, `INCRBY`, `DECRBY`: `by` is the (signed) increment.
pub struct IncrBy {
    key: Bytes,
    by: i64,
}

impl IncrBy {
    fn apply_increment(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let (value, deadline) = get_string(w, env.db, &self.key)?.unwrap_or((b"0".to_vec(), 0));
        let current = parse_i64(&value).ok_or(CmdError::NotInteger)?;
        let next = current
            .checked_add(self.by)
            .ok_or_else(|| CmdError::err("increment or decrement would overflow"))?;
        w.put_string(env.db, &self.key, next.to_string().as_bytes(), deadline)?;
        Ok(Reply::Int(next))
    }
}

/// `INCR key`
pub struct Incr(IncrBy);
/// `DECR key`
pub struct Decr(IncrBy);
/// `INCRBY key increment`
pub struct IncrByCmd(IncrBy);
/// `DECRBY key decrement`
pub struct DecrBy(IncrBy);

impl WriteCommand for Incr {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Incr(IncrBy {
            key: args.next_bytes()?.clone(),
            by: 1,
        }))
    }
    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        self.0.apply_increment(env, w)
    }
}

impl WriteCommand for Decr {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Decr(IncrBy {
            key: args.next_bytes()?.clone(),
            by: -1,
        }))
    }
    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        self.0.apply_increment(env, w)
    }
}

impl WriteCommand for IncrByCmd {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(IncrByCmd(IncrBy {
            key,
            by: args.next_i64()?,
        }))
    }
    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        self.0.apply_increment(env, w)
    }
}

impl WriteCommand for DecrBy {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let by = args.next_i64()?;
        let by = by
            .checked_neg()
            .ok_or_else(|| CmdError::err("decrement would overflow"))?;
        Ok(DecrBy(IncrBy { key, by }))
    }
    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        self.0.apply_increment(env, w)
    }
}

/// A float the way Redis reads one (`strtold`, no spaces, no NaN).
fn parse_float(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// `INCRBYFLOAT key increment`
pub struct IncrByFloat {
    key: Bytes,
    by: f64,
}

impl WriteCommand for IncrByFloat {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let by = parse_float(args.next_bytes()?)
            .ok_or_else(|| CmdError::err("value is not a valid float"))?;
        Ok(IncrByFloat { key, by })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let (value, deadline) = get_string(w, env.db, &self.key)?.unwrap_or((b"0".to_vec(), 0));
        let current =
            parse_float(&value).ok_or_else(|| CmdError::err("value is not a valid float"))?;
        let next = current + self.by;
        if !next.is_finite() {
            return Err(CmdError::err("increment would produce NaN or Infinity"));
        }
        let text = format_double(next);
        w.put_string(env.db, &self.key, text.as_bytes(), deadline)?;
        Ok(Reply::bulk(text))
    }
}

/// Redis's index clamping for GETRANGE: negative counts from the end.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let (mut s, mut e) = (start, end);
    if s < 0 {
        s += len;
    }
    if e < 0 {
        e += len;
    }
    s = s.max(0);
    e = e.max(0).min(len - 1);
    if len == 0 || s > e || (start < 0 && end < 0 && start > end) {
        return None;
    }
    Some((s as usize, e as usize))
}

/// `GETRANGE key start end`
pub struct GetRange {
    key: Bytes,
    start: i64,
    end: i64,
}

impl Command for GetRange {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(GetRange {
            key: args.next_bytes()?.clone(),
            start: args.next_i64()?,
            end: args.next_i64()?,
        })
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let value = read_string(ctx, &self.key)?.unwrap_or_default();
        Ok(match clamp_range(self.start, self.end, value.len()) {
            Some((s, e)) => Reply::bulk(value[s..=e].to_vec()),
            None => Reply::bulk(Bytes::new()),
        })
    }
}

/// `SETRANGE key offset value`
pub struct SetRange {
    key: Bytes,
    offset: usize,
    value: Bytes,
}

impl WriteCommand for SetRange {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let offset = args.next_i64()?;
        if offset < 0 {
            return Err(CmdError::err("offset is out of range"));
        }
        let value = args.next_bytes()?.clone();
        let offset = offset as usize;
        if offset.saturating_add(value.len()) > MAX_STRING {
            return Err(CmdError::err(
                "string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        Ok(SetRange { key, offset, value })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let existing = get_string(w, env.db, &self.key)?;
        if self.value.is_empty() {
            return Ok(Reply::Int(existing.map_or(0, |(v, _)| v.len() as i64)));
        }
        let (mut value, deadline) = existing.unwrap_or_default();
        let end = self.offset + self.value.len();
        if value.len() < end {
            value.resize(end, 0);
        }
        value[self.offset..end].copy_from_slice(&self.value);
        w.put_string(env.db, &self.key, &value, deadline)?;
        Ok(Reply::Int(value.len() as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_clamps_like_redis() {
        assert_eq!(clamp_range(0, 3, 10), Some((0, 3)));
        assert_eq!(clamp_range(-3, -1, 10), Some((7, 9)));
        assert_eq!(clamp_range(0, -1, 10), Some((0, 9)));
        assert_eq!(clamp_range(10, 100, 10), None);
        assert_eq!(clamp_range(5, 2, 10), None);
        assert_eq!(clamp_range(-100, 2, 10), Some((0, 2)));
        assert_eq!(clamp_range(0, 0, 0), None);
    }

    #[test]
    fn floats_parse_like_strtold() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-5e3"), Some(-5000.0));
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b"abc"), None);
    }
}
