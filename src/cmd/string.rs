//! String commands: GET SET SETNX SETEX PSETEX MGET MSET MSETNX GETSET GETDEL GETEX APPEND
//! STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE.

use crate::bus::keyspace::{self, class, Event, Events, KeyRole};
use bytes::Bytes;

use super::args::is_keyword;
use super::{ArgCursor, CmdError, Command, Ctx, ReadCommand, WriteCommand, WriteEnv};
use crate::engine::{now_ms, WriteCtx};
use crate::kv::meta::{self, KeyType};
use crate::kv::view::KvView;
use crate::resp::codec::parse_i64;
use crate::resp::{Reply, OK};

/// Largest string Redis allows (and so SETRANGE/APPEND may build).
const MAX_STRING: usize = 512 * 1024 * 1024;

/// The value of a live string key (a single-key read: the row cache may answer).
pub fn read_string(
    view: &mut dyn KvView,
    db: u32,
    key: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    let row = view.live_row_cached(db, key)?;
    live_string(row, view.now_ms())
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

/// A live string inside a write batch: (value, deadline); WRONGTYPE for other types.
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

/// The timing options of SET and GETEX, read as Redis reads them: an option may repeat (the
/// last value wins), different ones conflict, and values are checked once all are read.
#[derive(Default)]
struct ExpiryOptions {
    /// ((unit ms, absolute), value argument)
    given: Option<((i64, bool), Bytes)>,
    keep_ttl: bool,
    persist: bool,
}

impl ExpiryOptions {
    /// Takes `opt` (and its value) if it is a timing option allowed here.
    fn take(
        &mut self,
        opt: &[u8],
        args: &mut ArgCursor<'_>,
        allow_keep_ttl: bool,
        allow_persist: bool,
    ) -> Result<bool, CmdError> {
        let kind = [
            ("EX", (1000, false)),
            ("PX", (1, false)),
            ("EXAT", (1000, true)),
            ("PXAT", (1, true)),
        ]
        .into_iter()
        .find(|(name, _)| is_keyword(opt, name))
        .map(|(_, kind)| kind);
        if let Some(kind) = kind {
            let conflicts = self.keep_ttl
                || self.persist
                || self.given.as_ref().is_some_and(|(k, _)| *k != kind);
            if conflicts || args.is_empty() {
                return Err(CmdError::Syntax);
            }
            self.given = Some((kind, args.next_bytes()?.clone()));
            return Ok(true);
        }
        if allow_keep_ttl && is_keyword(opt, "KEEPTTL") && self.given.is_none() {
            self.keep_ttl = true;
            return Ok(true);
        }
        if allow_persist && is_keyword(opt, "PERSIST") && self.given.is_none() {
            self.persist = true;
            return Ok(true);
        }
        Ok(false)
    }

    fn expiry(&self, command: &str) -> Result<Option<Expiry>, CmdError> {
        self.given
            .as_ref()
            .map(|((unit, absolute), arg)| Expiry::parse(arg, *unit, *absolute, command))
            .transpose()
    }
}

/// `GET key`
pub struct Get(Bytes);

impl ReadCommand for Get {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Get(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        Ok(read_string(view, db, &self.0)?.map_or(Reply::Nil, Reply::bulk))
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ts-ms | KEEPTTL]`
/// SET's events: `set`, then `expire` when it was given a deadline (not for KEEPTTL).
fn set_events(key: &Bytes, with_deadline: bool) -> Events {
    let mut roles = vec![KeyRole::new(key, Event::new("set", class::STRING))];
    if with_deadline {
        roles.push(KeyRole::new(key, keyspace::EXPIRE));
    }
    Events::Keys(roles)
}

pub struct Set {
    key: Bytes,
    value: Bytes,
    condition: Option<bool>, // Some(true) = NX, Some(false) = XX
    get: bool,
    expiry: Option<Expiry>,
    keep_ttl: bool,
}

impl WriteCommand for Set {
    fn events(&self, _env: WriteEnv) -> Events {
        set_events(&self.key, self.expiry.is_some())
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let value = args.next_bytes()?.clone();
        let (mut condition, mut get, mut timing) = (None, false, ExpiryOptions::default());
        while !args.is_empty() {
            let opt = args.next_bytes()?;
            if is_keyword(opt, "NX") && condition != Some(false) {
                condition = Some(true);
            } else if is_keyword(opt, "XX") && condition != Some(true) {
                condition = Some(false);
            } else if is_keyword(opt, "GET") {
                get = true;
            } else if !timing.take(opt, args, true, false)? {
                return Err(CmdError::Syntax);
            }
        }
        let (expiry, keep_ttl) = (timing.expiry("set")?, timing.keep_ttl);
        Ok(Set {
            key,
            value,
            condition,
            get,
            expiry,
            keep_ttl,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        if !self.get && self.condition.is_none() && !self.keep_ttl {
            // A plain SET needs nothing of the old value: no lookup.
            let deadline = self.expiry.map_or(0, |e| e.deadline(w.now_ms));
            w.put_string(env.db, &self.key, &self.value, deadline)?;
            return Ok(OK);
        }
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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("set", class::STRING))
    }

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
    fn events(&self, _env: WriteEnv) -> Events {
        set_events(&self.key, true)
    }

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

impl ReadCommand for MGet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MGet(args.rest().to_vec()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let now = view.now_ms();
        let mut out = Vec::with_capacity(self.0.len());
        for key in &self.0 {
            let value = live_string(view.live_row(db, key)?, now).unwrap_or(None);
            out.push(value.map_or(Reply::Nil, Reply::bulk));
        }
        Ok(Reply::Array(out))
    }
}

/// `MSET key value [key value ...]`
pub struct MSet(Vec<(Bytes, Bytes)>);

impl WriteCommand for MSet {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("set", class::STRING))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MSet(args.pairs("mset")?))
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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("set", class::STRING))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MSetNx(args.pairs("msetnx")?))
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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("set", class::STRING))
    }

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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::EachOrDel(keyspace::DEL)
    }

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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::ExpiryOnly
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let mut timing = ExpiryOptions::default();
        while !args.is_empty() {
            let opt = args.next_bytes()?;
            if !timing.take(opt, args, false, true)? {
                return Err(CmdError::Syntax);
            }
        }
        let change = if timing.persist {
            Some(None)
        } else {
            timing.expiry("getex")?.map(Some)
        };
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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("append", class::STRING))
    }

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

impl ReadCommand for StrLen {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(StrLen(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        Ok(Reply::Int(
            read_string(view, db, &self.0)?.map_or(0, |v| v.len() as i64),
        ))
    }
}

/// Which of the integer increments a command is.
pub const INCR: u8 = 0;
pub const DECR: u8 = 1;
pub const INCRBY: u8 = 2;
pub const DECRBY: u8 = 3;

/// `INCR key`, `DECR key`, `INCRBY key increment`, `DECRBY key decrement`; `by` is the signed
/// increment.
pub struct Incr<const KIND: u8> {
    key: Bytes,
    by: i64,
}

impl<const KIND: u8> WriteCommand for Incr<KIND> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("incrby", class::STRING))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let by = match KIND {
            INCR => 1,
            DECR => -1,
            INCRBY => args.next_i64()?,
            _ => args
                .next_i64()?
                .checked_neg()
                .ok_or_else(|| CmdError::err("decrement would overflow"))?,
        };
        Ok(Incr { key, by })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let (value, deadline) = get_string(w, env.db, &self.key)?.unwrap_or((b"0".to_vec(), 0));
        let current = parse_i64(&value).ok_or(CmdError::NotInteger)?;
        let next = current
            .checked_add(self.by)
            .ok_or_else(|| CmdError::err("increment or decrement would overflow"))?;
        w.put_string(env.db, &self.key, next.to_string().as_bytes(), deadline)?;
        Ok(Reply::Int(next))
    }
}

/// A float the way Redis reads one with `strtod`: no spaces, no NaN, hex floats (`0x1.8p1`)
/// accepted, and a range error (a finite number too large for a double, or a non-zero one that
/// rounds to zero) refused.
pub(crate) fn parse_float(arg: &[u8]) -> Option<f64> {
    let value = parse_float_unchecked(arg)?;
    let text = std::str::from_utf8(arg).ok()?;
    let body = text.trim_start_matches(['+', '-']);
    let literal_inf = body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity");
    if value.is_infinite() && !literal_inf {
        return None;
    }
    if value == 0.0 && has_nonzero_digit(body) {
        return None;
    }
    Some(value)
}

/// A float as `strtold` reads it, out-of-range values kept as ±infinity (the blocking
/// timeouts read theirs so, then reject what overflows); `None` for NaN and non-numbers.
pub(crate) fn parse_float_unchecked(arg: &[u8]) -> Option<f64> {
    // Integer scores (counters, millisecond timestamps) are most of what clients send: below
    // 2^53 they are exact doubles, so the general parser is skipped.
    if let Some(n) = crate::resp::codec::parse_i64(arg).filter(|n| n.unsigned_abs() < 1 << 53) {
        return Some(n as f64);
    }
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let value = match parse_hex_float(text) {
        Some(v) => v,
        None => text.parse::<f64>().ok()?,
    };
    (!value.is_nan()).then_some(value)
}

/// Does the mantissa of a float's text (sign removed) have a non-zero digit?
fn has_nonzero_digit(body: &str) -> bool {
    let hex = body.starts_with("0x") || body.starts_with("0X");
    let (digits, exponent_mark) = if hex {
        (&body[2..], ['p', 'P'])
    } else {
        (body, ['e', 'E'])
    };
    let mantissa = digits.split(exponent_mark).next().unwrap_or_default();
    mantissa
        .chars()
        .any(|c| c.is_ascii_hexdigit() && c != '0' && (hex || c.is_ascii_digit()))
}

/// A C99 hex float (`[+-]0x<hex>[.<hex>][p[+-]<dec>]`), as `strtod` reads it.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    let (mantissa, exponent) = match rest.find(['p', 'P']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int_part.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let value = value * 2f64.powi(exponent);
    Some(if negative { -value } else { value })
}

/// `INCRBYFLOAT key increment`
pub struct IncrByFloat {
    key: Bytes,
    by: f64,
    by_text: Vec<u8>,
}

impl WriteCommand for IncrByFloat {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("incrbyfloat", class::STRING))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let by_text = args.next_bytes()?.to_vec();
        let by =
            parse_float(&by_text).ok_or_else(|| CmdError::err("value is not a valid float"))?;
        Ok(IncrByFloat { key, by, by_text })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let (value, deadline) = get_string(w, env.db, &self.key)?.unwrap_or((b"0".to_vec(), 0));
        let current =
            parse_float(&value).ok_or_else(|| CmdError::err("value is not a valid float"))?;
        let next = current + self.by;
        if !next.is_finite() {
            return Err(CmdError::err("increment would produce NaN or Infinity"));
        }
        let text = add_decimal_texts(&value, &self.by_text).unwrap_or_else(|| human_float(next));
        w.put_string(env.db, &self.key, text.as_bytes(), deadline)?;
        Ok(Reply::bulk(text))
    }
}

/// Digits after the point Redis prints for INCRBYFLOAT (`%.17Lf`, then trailing zeros cut).
const FLOAT_DECIMALS: u32 = 17;

/// An exact decimal `mantissa × 10^-scale`. Redis adds INCRBYFLOAT operands in `long double`,
/// which for the short decimals clients send gives the decimal answer (0.1 + 0.2 = 0.3); exact
/// decimal arithmetic reproduces that where an f64 would print 0.30000000000000004.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn parse_decimal(text: &[u8]) -> Option<Decimal> {
    let text = std::str::from_utf8(text).ok()?;
    let (number, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match number.as_bytes().first()? {
        b'-' => (true, &number[1..]),
        b'+' => (false, &number[1..]),
        _ => (false, number),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all = [int_part, frac_part].concat();
    if all.is_empty() || !all.bytes().all(|b| b.is_ascii_digit()) || all.len() > 36 {
        return None;
    }
    let mut mantissa: i128 = all.parse().ok()?;
    if negative {
        mantissa = -mantissa;
    }
    let scale = frac_part.len() as i32 - exponent;
    if scale < 0 {
        mantissa = mantissa.checked_mul(pow10(scale.unsigned_abs())?)?;
        return Some(Decimal { mantissa, scale: 0 });
    }
    (scale <= 36).then_some(Decimal {
        mantissa,
        scale: scale as u32,
    })
}

/// `a + b` printed as Redis prints INCRBYFLOAT results, if both are decimals that fit.
pub(crate) fn add_decimal_texts(a: &[u8], b: &[u8]) -> Option<String> {
    let (a, b) = (parse_decimal(a)?, parse_decimal(b)?);
    let scale = a.scale.max(b.scale);
    let a_m = a.mantissa.checked_mul(pow10(scale - a.scale)?)?;
    let b_m = b.mantissa.checked_mul(pow10(scale - b.scale)?)?;
    let mut sum = Decimal {
        mantissa: a_m.checked_add(b_m)?,
        scale,
    };
    if sum.scale > FLOAT_DECIMALS {
        // Round half away from zero to 17 decimals, as printf does for these values.
        let div = pow10(sum.scale - FLOAT_DECIMALS)?;
        let (q, r) = (sum.mantissa / div, sum.mantissa % div);
        let bump = if r.abs() * 2 >= div { r.signum() } else { 0 };
        sum = Decimal {
            mantissa: q + bump,
            scale: FLOAT_DECIMALS,
        };
    }
    let div = pow10(sum.scale)?;
    let (int_part, frac_part) = (sum.mantissa / div, (sum.mantissa % div).abs());
    let sign = if sum.mantissa < 0 && int_part == 0 {
        "-"
    } else {
        ""
    };
    let frac = format!("{frac_part:0width$}", width = sum.scale as usize);
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    })
}

/// `%.17f` with trailing zeros cut: the fallback for values outside `Decimal`'s range.
pub(crate) fn human_float(value: f64) -> String {
    let text = format!("{value:.17}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`
pub struct Lcs {
    a: Bytes,
    b: Bytes,
    len_only: bool,
    idx: bool,
    min_match_len: u64,
    with_match_len: bool,
}

impl Command for Lcs {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut lcs = Lcs {
            a: args.next_bytes()?.clone(),
            b: args.next_bytes()?.clone(),
            len_only: false,
            idx: false,
            min_match_len: 0,
            with_match_len: false,
        };
        while !args.is_empty() {
            if args.eat("LEN") {
                lcs.len_only = true;
            } else if args.eat("IDX") {
                lcs.idx = true;
            } else if args.eat("WITHMATCHLEN") {
                lcs.with_match_len = true;
            } else if args.eat("MINMATCHLEN") {
                lcs.min_match_len = args.next_i64()?.max(0) as u64;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        if lcs.len_only && lcs.idx {
            return Err(CmdError::err(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(lcs)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let not_string = |e: CmdError| match e {
            CmdError::WrongType => CmdError::err("The specified keys must contain string values"),
            other => other,
        };
        // Both keys from one snapshot (not the row cache): one consistent state.
        let (db, now) = (ctx.client.db, now_ms());
        let snapshot = ctx.snapshot()?;
        let a = live_string(snapshot.get(db, &self.a)?, now).map_err(not_string)?;
        let b = live_string(snapshot.get(db, &self.b)?, now).map_err(not_string)?;
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
        if cells.saturating_mul(4) > ctx.server.config().proto_max_bulk_len {
            return Err(CmdError::err(
                "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ));
        }
        Ok(self.reply(&a, &b))
    }
}

impl Lcs {
    /// Redis's dynamic programme and backward walk, emitting matches from the end.
    fn reply(&self, a: &[u8], b: &[u8]) -> Reply {
        let (alen, blen) = (a.len(), b.len());
        let width = blen + 1;
        let mut dp = vec![0u32; (alen + 1) * width];
        for i in 1..=alen {
            for j in 1..=blen {
                dp[i * width + j] = if a[i - 1] == b[j - 1] {
                    dp[(i - 1) * width + j - 1] + 1
                } else {
                    dp[(i - 1) * width + j].max(dp[i * width + j - 1])
                };
            }
        }
        let len = dp[alen * width + blen] as usize;
        if self.len_only {
            return Reply::Int(len as i64);
        }
        let mut common = vec![0u8; len];
        let mut matches = Vec::new();
        let (mut i, mut j, mut k) = (alen, blen, len);
        let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[k - 1] = a[i - 1];
                if a_start == alen {
                    (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
                } else if a_start == i && b_start == j {
                    a_start -= 1;
                    b_start -= 1;
                } else {
                    emit = true;
                }
                if a_start == 0 || b_start == 0 {
                    emit = true;
                }
                k -= 1;
                i -= 1;
                j -= 1;
            } else {
                if dp[(i - 1) * width + j] > dp[i * width + j - 1] {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = a_start != alen;
            }
            if emit {
                let match_len = (a_end - a_start + 1) as u64;
                if self.min_match_len == 0 || match_len >= self.min_match_len {
                    let range = |s: usize, e: usize| {
                        Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)])
                    };
                    let mut entry = vec![range(a_start, a_end), range(b_start, b_end)];
                    if self.with_match_len {
                        entry.push(Reply::Int(match_len as i64));
                    }
                    matches.push(Reply::Array(entry));
                }
                a_start = alen;
            }
        }
        if self.idx {
            Reply::Map(vec![
                (Reply::bulk_str("matches"), Reply::Array(matches)),
                (Reply::bulk_str("len"), Reply::Int(len as i64)),
            ])
        } else {
            Reply::bulk(common)
        }
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

impl ReadCommand for GetRange {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(GetRange {
            key: args.next_bytes()?.clone(),
            start: args.next_i64()?,
            end: args.next_i64()?,
        })
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let value = read_string(view, db, &self.key)?.unwrap_or_default();
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
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("setrange", class::STRING))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let offset = args.next_i64()?;
        if offset < 0 {
            return Err(CmdError::err("offset is out of range"));
        }
        let value = args.next_bytes()?.clone();
        let offset = offset as usize;
        // An empty value only reports the length: Redis answers it before any size check.
        if !value.is_empty() && offset.saturating_add(value.len()) > MAX_STRING {
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
    #[test]
    fn floats_parse_as_strtod_reads_them() {
        use super::parse_float as f;
        assert_eq!(f(b"1.5"), Some(1.5));
        assert_eq!(f(b"-0x1.8p1"), Some(-3.0));
        assert_eq!(f(b"0x10"), Some(16.0));
        assert_eq!(f(b"inf"), Some(f64::INFINITY));
        assert_eq!(f(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(f(b"0"), Some(0.0));
        assert_eq!(f(b"0e10"), Some(0.0));
        for bad in [
            &b"1e400"[..],
            b"-1e400",
            b"1e-400",
            b"0x",
            b"nan",
            b" 1",
            b"1 ",
            b"",
            b"abc",
        ] {
            assert_eq!(f(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(super::parse_float_unchecked(b"1e400"), Some(f64::INFINITY));
    }

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
    fn lcs_matches_the_redis_docs_example() {
        let lcs = |idx, with_len, min| Lcs {
            a: Bytes::new(),
            b: Bytes::new(),
            len_only: false,
            idx,
            min_match_len: min,
            with_match_len: with_len,
        };
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        assert_eq!(lcs(false, false, 0).reply(a, b), Reply::bulk("mytext"));
        let range = |s, e| Reply::Array(vec![Reply::Int(s), Reply::Int(e)]);
        let expected = Reply::Map(vec![
            (
                Reply::bulk_str("matches"),
                Reply::Array(vec![
                    Reply::Array(vec![range(4, 7), range(5, 8)]),
                    Reply::Array(vec![range(2, 3), range(0, 1)]),
                ]),
            ),
            (Reply::bulk_str("len"), Reply::Int(6)),
        ]);
        assert_eq!(lcs(true, false, 0).reply(a, b), expected);
        let only_long = lcs(true, true, 4).reply(a, b);
        let Reply::Map(fields) = only_long else {
            panic!("map")
        };
        assert_eq!(
            fields[0].1,
            Reply::Array(vec![Reply::Array(vec![
                range(4, 7),
                range(5, 8),
                Reply::Int(4)
            ])])
        );
    }

    #[test]
    fn incrbyfloat_prints_like_redis() {
        let add = |a: &str, b: &str| add_decimal_texts(a.as_bytes(), b.as_bytes()).unwrap();
        assert_eq!(add("0.1", "0.2"), "0.3");
        assert_eq!(add("10.50", "0.1"), "10.6");
        assert_eq!(add("5.0e3", "2.0e2"), "5200");
        assert_eq!(add("0", "1e20"), "100000000000000000000");
        assert_eq!(add("0", "0.00001"), "0.00001");
        assert_eq!(add("1", "-1.5"), "-0.5");
        assert_eq!(add("3", "-3"), "0");
        assert_eq!(add("0", "0.123456789012345678901"), "0.12345678901234568");
        assert_eq!(human_float(1e300).len(), 301);
        assert_eq!(human_float(-0.0), "0");
    }

    #[test]
    fn integer_fast_path_agrees_with_the_general_parser() {
        let edge = (1i64 << 53) - 1;
        for n in [
            0,
            1,
            -1,
            42,
            -1_732_700_000_000,
            edge,
            -edge,
            edge + 1,
            i64::MAX,
            i64::MIN,
        ] {
            let text = n.to_string();
            assert_eq!(
                parse_float(text.as_bytes()),
                text.parse::<f64>().ok(),
                "{text}"
            );
        }
        // Forms string2ll refuses go to the general parser, as strtod reads them.
        assert_eq!(parse_float(b"007"), Some(7.0));
        assert_eq!(
            parse_float(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_float(b"+5"), Some(5.0));
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
