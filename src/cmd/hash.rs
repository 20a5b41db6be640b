//! Hash commands: HSET HSETNX HMSET HGET HMGET HGETALL HDEL HEXISTS HLEN HSTRLEN HKEYS HVALS
//! HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, and field expiry: HEXPIRE HPEXPIRE HEXPIREAT
//! HPEXPIREAT HTTL HPTTL HEXPIRETIME HPEXPIRETIME HPERSIST HGETEX HSETEX HGETDEL.

use crate::bus::keyspace::{class, Event, Events, KeyRole};
use bytes::Bytes;

use super::args::is_keyword;
use super::scan::{check_random_count, random_pick, MemberScan};
use super::string::{add_decimal_texts, human_float, parse_float};
use super::{ArgCursor, CmdError, ReadCommand, WriteCommand, WriteEnv};
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::types::{self, hash};
use crate::kv::view::KvView;
use crate::resp::codec::parse_i64;
use crate::resp::{Reply, OK};

fn bulk(b: &[u8]) -> Reply {
    Reply::bulk(b.to_vec())
}

/// A field's (deadline, value) if it is live; a field past its deadline reads as missing
/// with no deadline (HINCRBY starts it over from 0, without a TTL, as Redis does).
fn live_field(
    view: &mut dyn KvView,
    c: &Collection,
    field: &[u8],
) -> Result<(u64, Option<Vec<u8>>), CmdError> {
    let now = view.now_ms();
    Ok(match hash::get_raw(view, c, field)? {
        Some((deadline, value)) if !hash::is_past(deadline, now) => (deadline, Some(value)),
        _ => (0, None),
    })
}

/// `HSET key field value [field value ...]` and `HMSET` (which answers OK).
pub struct HSet<const HMSET: bool> {
    key: Bytes,
    pairs: Vec<(Bytes, Bytes)>,
}

impl<const HMSET: bool> WriteCommand for HSet<HMSET> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hset", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let pairs = args.pairs(if HMSET { "hmset" } else { "hset" })?;
        Ok(HSet { key, pairs })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = types::load_or_new(w, env.db, &self.key, KeyType::Hash)?;
        let before = c;
        let mut added = 0;
        for (f, v) in &self.pairs {
            added += i64::from(hash::set(w, env.db, &self.key, &mut c, f, v)?);
        }
        // Overwritten fields leave the header as it was: no write for it.
        types::save_changed(w, env.db, &self.key, Some(&before), &c)?;
        Ok(if HMSET { OK } else { Reply::Int(added) })
    }
}

/// `HSETNX key field value`
pub struct HSetNx(Bytes, Bytes, Bytes);

impl WriteCommand for HSetNx {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hset", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HSetNx(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = types::load_or_new(w, env.db, &self.0, KeyType::Hash)?;
        if c.len > 0 && hash::get(w, &c, &self.1)?.is_some() {
            return Ok(Reply::Int(0));
        }
        hash::set(w, env.db, &self.0, &mut c, &self.1, &self.2)?;
        types::save(w, env.db, &self.0, &c)?;
        Ok(Reply::Int(1))
    }
}

/// `HGET key field`
pub struct HGet(Bytes, Bytes);

impl ReadCommand for HGet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HGet(args.next_bytes()?.clone(), args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = hash::load_hash(view, db, &self.0)? else {
            return Ok(Reply::Nil);
        };
        Ok(hash::get(view, &c, &self.1)?.map_or(Reply::Nil, Reply::bulk))
    }
}

/// `HMGET key field [field ...]`
pub struct HMGet(Bytes, Vec<Bytes>);

impl ReadCommand for HMGet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HMGet(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let c = hash::load_hash(view, db, &self.0)?;
        let mut out = Vec::with_capacity(self.1.len());
        for f in &self.1 {
            out.push(match &c {
                Some(c) => hash::get(view, c, f)?.map_or(Reply::Nil, Reply::bulk),
                None => Reply::Nil,
            });
        }
        Ok(Reply::Array(out))
    }
}

/// `HGETALL key`, `HKEYS key`, `HVALS key`
pub struct HGetAll<const PART: u8>(Bytes);

pub const ALL: u8 = 0;
pub const KEYS: u8 = 1;
pub const VALUES: u8 = 2;

impl<const PART: u8> ReadCommand for HGetAll<PART> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HGetAll(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = hash::load_hash(view, db, &self.0)? else {
            return Ok(if PART == ALL {
                Reply::Map(Vec::new())
            } else {
                Reply::Array(Vec::new())
            });
        };
        let mut pairs = Vec::new();
        let mut items = Vec::new();
        hash::for_each(view, &c, &mut |f, v| {
            match PART {
                ALL => pairs.push((bulk(f), bulk(v))),
                KEYS => items.push(bulk(f)),
                _ => items.push(bulk(v)),
            }
            true
        })?;
        Ok(if PART == ALL {
            Reply::Map(pairs)
        } else {
            Reply::Array(items)
        })
    }
}

/// `HDEL key field [field ...]`
pub struct HDel(Bytes, Vec<Bytes>);

impl WriteCommand for HDel {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hdel", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HDel(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = hash::load_hash(w, env.db, &self.0)? else {
            return Ok(Reply::Int(0));
        };
        let mut removed = 0;
        for f in &self.1 {
            removed += i64::from(hash::del(w, env.db, &self.0, &mut c, f)?);
        }
        if removed > 0 {
            types::save(w, env.db, &self.0, &c)?;
        }
        Ok(Reply::Int(removed))
    }
}

/// `HEXISTS key field`
pub struct HExists(Bytes, Bytes);

impl ReadCommand for HExists {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HExists(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let found = match hash::load_hash(view, db, &self.0)? {
            Some(c) => hash::get(view, &c, &self.1)?.is_some(),
            None => false,
        };
        Ok(Reply::Int(i64::from(found)))
    }
}

/// `HLEN key`
pub struct HLen(Bytes);

impl ReadCommand for HLen {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HLen(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let len = hash::load_hash(view, db, &self.0)?.map_or(0, |c| c.len);
        Ok(Reply::Int(len as i64))
    }
}

/// `HSTRLEN key field`
pub struct HStrLen(Bytes, Bytes);

impl ReadCommand for HStrLen {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HStrLen(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let len = match hash::load_hash(view, db, &self.0)? {
            Some(c) => hash::get(view, &c, &self.1)?.map_or(0, |v| v.len()),
            None => 0,
        };
        Ok(Reply::Int(len as i64))
    }
}

/// `HINCRBY key field increment`
pub struct HIncrBy(Bytes, Bytes, i64);

impl WriteCommand for HIncrBy {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hincrby", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(HIncrBy(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
            args.next_i64()?,
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = types::load_or_new(w, env.db, &self.0, KeyType::Hash)?;
        let before = c;
        let (deadline, value) = live_field(w, &c, &self.1)?;
        let current = match value {
            Some(v) => {
                parse_i64(&v).ok_or_else(|| CmdError::err("hash value is not an integer"))?
            }
            None => 0,
        };
        let next = current
            .checked_add(self.2)
            .ok_or_else(|| CmdError::err("increment or decrement would overflow"))?;
        let text = next.to_string();
        hash::set_with_deadline(
            w,
            env.db,
            &self.0,
            &mut c,
            &self.1,
            text.as_bytes(),
            deadline,
        )?;
        types::save_changed(w, env.db, &self.0, Some(&before), &c)?;
        Ok(Reply::Int(next))
    }
}

/// `HINCRBYFLOAT key field increment`
pub struct HIncrByFloat {
    key: Bytes,
    field: Bytes,
    by: f64,
    by_text: Bytes,
}

impl WriteCommand for HIncrByFloat {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hincrbyfloat", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let field = args.next_bytes()?.clone();
        let by_text = args.next_bytes()?.clone();
        let by =
            parse_float(&by_text).ok_or_else(|| CmdError::err("value is not a valid float"))?;
        if !by.is_finite() {
            return Err(CmdError::err("value is NaN or Infinity"));
        }
        Ok(HIncrByFloat {
            key,
            field,
            by,
            by_text,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = types::load_or_new(w, env.db, &self.key, KeyType::Hash)?;
        let before = c;
        let (deadline, value) = live_field(w, &c, &self.field)?;
        let value = value.unwrap_or_else(|| b"0".to_vec());
        let current =
            parse_float(&value).ok_or_else(|| CmdError::err("hash value is not a float"))?;
        let next = current + self.by;
        if !next.is_finite() {
            return Err(CmdError::err("increment would produce NaN or Infinity"));
        }
        let text = add_decimal_texts(&value, &self.by_text).unwrap_or_else(|| human_float(next));
        hash::set_with_deadline(
            w,
            env.db,
            &self.key,
            &mut c,
            &self.field,
            text.as_bytes(),
            deadline,
        )?;
        types::save_changed(w, env.db, &self.key, Some(&before), &c)?;
        Ok(Reply::bulk(text))
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]`
pub struct HRandField {
    key: Bytes,
    count: Option<i64>,
    with_values: bool,
}

impl ReadCommand for HRandField {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let count = args.optional_i64()?;
        let with_values = args.eat("WITHVALUES");
        args.finish()?;
        check_random_count(count, with_values)?;
        Ok(HRandField {
            key,
            count,
            with_values,
        })
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let c = hash::load_hash(view, db, &self.key)?;
        let Some(c) = c else {
            return Ok(match self.count {
                None => Reply::Nil,
                Some(_) => Reply::Array(Vec::new()),
            });
        };
        let now = view.now_ms();
        let picked: Vec<_> = random_pick(view, &c, self.count.unwrap_or(1))?
            .into_iter()
            .filter(|(_, raw)| !hash::is_past(hash::decode(raw).0, now))
            .collect();
        let Some(_) = self.count else {
            return Ok(picked
                .into_iter()
                .next()
                .map_or(Reply::Nil, |(f, _)| Reply::bulk(f)));
        };
        let picked = picked.into_iter().map(|(f, v)| (Reply::bulk(f), v));
        Ok(if self.with_values {
            Reply::Pairs(picked.map(|(f, v)| (f, bulk(hash::value_of(&v)))).collect())
        } else {
            Reply::Array(picked.map(|(f, _)| f).collect())
        })
    }
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]`
pub type HScan = MemberScan<{ KeyType::Hash as u8 }>;

// ------------------------------------------------------------------ field expiry (Redis 7.4+)

/// The latest deadline a hash field may have (Redis's `HFE_MAX_ABS_TIME_MSEC`).
const MAX_FIELD_DEADLINE_MS: u64 = ((1 << 48) - 1) >> 2;

/// A field deadline given as a time argument: relative or absolute, in `unit_ms`.
#[derive(Debug, Clone, Copy)]
struct FieldTime {
    ms: u64,
    absolute: bool,
}

impl FieldTime {
    fn parse(arg: &[u8], unit_ms: u64, absolute: bool, command: &str) -> Result<Self, CmdError> {
        let n = parse_i64(arg).ok_or(CmdError::NotInteger)?;
        let n = u64::try_from(n).map_err(|_| CmdError::err("invalid expire time, must be >= 0"))?;
        let out_of_range = || CmdError::err(format!("invalid expire time in '{command}' command"));
        let ms = n.checked_mul(unit_ms).ok_or_else(out_of_range)?;
        let base = if absolute { 0 } else { crate::engine::now_ms() };
        if ms.saturating_add(base) > MAX_FIELD_DEADLINE_MS {
            return Err(out_of_range());
        }
        Ok(FieldTime { ms, absolute })
    }

    /// The deadline at the batch's clock (never 0: a past deadline stays past).
    fn deadline(self, now: u64) -> u64 {
        if self.absolute {
            self.ms.max(1)
        } else {
            now + self.ms
        }
    }
}

/// `FIELDS numfields field ...` right after the key (HTTL, HPERSIST, HGETDEL …).
fn parse_fields_exact(args: &mut ArgCursor<'_>) -> Result<Vec<Bytes>, CmdError> {
    if !args.eat("FIELDS") {
        return Err(CmdError::err(
            "Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = parse_i64(args.next_bytes()?)
        .filter(|n| *n > 0 && *n <= i64::from(i32::MAX))
        .ok_or_else(|| CmdError::err("Number of fields must be a positive integer"))?;
    if n as usize != args.remaining() {
        return Err(CmdError::err(
            "The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(args.rest().to_vec())
}

/// Reads `numfields` then that many items (`per` arguments each) after a FIELDS keyword.
fn take_fields(
    args: &mut ArgCursor<'_>,
    per: usize,
    bad_count: &str,
) -> Result<Vec<Bytes>, CmdError> {
    let n = parse_i64(args.next_bytes()?)
        .filter(|n| *n > 0 && *n <= i64::from(i32::MAX))
        .ok_or_else(|| CmdError::err(bad_count))? as usize;
    if n.saturating_mul(per) > args.remaining() {
        return Err(CmdError::err("wrong number of arguments"));
    }
    let mut out = Vec::with_capacity(n * per);
    for _ in 0..n * per {
        out.push(args.next_bytes()?.clone());
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldCondition {
    Nx,
    Xx,
    Gt,
    Lt,
}

/// `HEXPIRE`, `HPEXPIRE`, `HEXPIREAT`, `HPEXPIREAT key time [NX | XX | GT | LT] FIELDS
/// numfields field ...`
pub struct HExpire<const UNIT_MS: u64, const ABSOLUTE: bool> {
    key: Bytes,
    time: FieldTime,
    condition: Option<FieldCondition>,
    fields: Option<Vec<Bytes>>,
}

impl<const UNIT_MS: u64, const ABSOLUTE: bool> WriteCommand for HExpire<UNIT_MS, ABSOLUTE> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hexpire", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let name = match (UNIT_MS, ABSOLUTE) {
            (1000, false) => "hexpire",
            (1, false) => "hpexpire",
            (1000, true) => "hexpireat",
            _ => "hpexpireat",
        };
        let key = args.next_bytes()?.clone();
        let time = FieldTime::parse(args.next_bytes()?, UNIT_MS, ABSOLUTE, name)?;
        let (mut condition, mut fields) = (None, None);
        while !args.is_empty() {
            if args.eat("FIELDS") {
                if fields.is_some() {
                    return Err(CmdError::err("FIELDS keyword specified multiple times"));
                }
                if args.remaining() < 2 {
                    return Err(CmdError::err(
                        "FIELDS requires at least numfields and one field argument",
                    ));
                }
                fields = Some(take_fields(
                    args,
                    1,
                    "Parameter `numFields` should be greater than 0",
                )?);
                continue;
            }
            let arg = args.next_bytes()?;
            let c = [
                ("NX", FieldCondition::Nx),
                ("XX", FieldCondition::Xx),
                ("GT", FieldCondition::Gt),
                ("LT", FieldCondition::Lt),
            ]
            .into_iter()
            .find(|(n, _)| arg.eq_ignore_ascii_case(n.as_bytes()))
            .map(|(_, c)| c)
            .ok_or_else(|| {
                CmdError::err(format!(
                    "unknown argument: {}",
                    String::from_utf8_lossy(arg)
                ))
            })?;
            if condition.is_some_and(|old| old != c) {
                return Err(CmdError::err("Multiple condition flags specified"));
            }
            condition = Some(c);
        }
        Ok(HExpire {
            key,
            time,
            condition,
            fields,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(fields) = self.fields else {
            return Ok(Reply::Array(Vec::new()));
        };
        let Some(mut c) = hash::load_hash(w, env.db, &self.key)? else {
            return Ok(Reply::Array(vec![Reply::Int(-2); fields.len()]));
        };
        let before = c;
        let new = self.time.deadline(w.now_ms);
        let mut out = Vec::with_capacity(fields.len());
        for field in &fields {
            // A field past its deadline but not yet removed still counts, as in Redis.
            let Some((old, value)) = hash::get_raw(w, &c, field)? else {
                out.push(Reply::Int(-2));
                continue;
            };
            let refused = match self.condition {
                Some(FieldCondition::Nx) => old != 0,
                Some(FieldCondition::Xx) => old == 0,
                Some(FieldCondition::Gt) => old == 0 || old >= new,
                Some(FieldCondition::Lt) => old != 0 && old <= new,
                None => false,
            };
            if refused {
                out.push(Reply::Int(0));
            } else if new <= w.now_ms {
                hash::del(w, env.db, &self.key, &mut c, field)?;
                out.push(Reply::Int(2));
            } else {
                hash::set_with_deadline(w, env.db, &self.key, &mut c, field, &value, new)?;
                out.push(Reply::Int(1));
            }
        }
        types::save_changed(w, env.db, &self.key, Some(&before), &c)?;
        Ok(Reply::Array(out))
    }
}

/// `HTTL`, `HPTTL`, `HEXPIRETIME`, `HPEXPIRETIME key FIELDS numfields field ...`
pub struct HTtl<const UNIT_MS: u64, const ABSOLUTE: bool>(Bytes, Vec<Bytes>);

impl<const UNIT_MS: u64, const ABSOLUTE: bool> ReadCommand for HTtl<UNIT_MS, ABSOLUTE> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(HTtl(key, parse_fields_exact(args)?))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = hash::load_hash(view, db, &self.0)? else {
            return Ok(Reply::Array(vec![Reply::Int(-2); self.1.len()]));
        };
        let now = view.now_ms();
        let mut out = Vec::with_capacity(self.1.len());
        for field in &self.1 {
            out.push(Reply::Int(match hash::get_raw(view, &c, field)? {
                Some((d, _)) if hash::is_past(d, now) => -2,
                None => -2,
                Some((0, _)) => -1,
                // Seconds round up, as Redis's (exp + 999) / 1000 does.
                Some((d, _)) if ABSOLUTE => d.div_ceil(UNIT_MS) as i64,
                Some((d, _)) => (d - now).div_ceil(UNIT_MS) as i64,
            }));
        }
        Ok(Reply::Array(out))
    }
}

/// `HPERSIST key FIELDS numfields field ...`
pub struct HPersist(Bytes, Vec<Bytes>);

impl WriteCommand for HPersist {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hpersist", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(HPersist(key, parse_fields_exact(args)?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = hash::load_hash(w, env.db, &self.0)? else {
            return Ok(Reply::Array(vec![Reply::Int(-2); self.1.len()]));
        };
        let mut out = Vec::with_capacity(self.1.len());
        for field in &self.1 {
            out.push(Reply::Int(match live_field(w, &c, field)? {
                (_, None) => -2,
                (0, Some(_)) => -1,
                (_, Some(value)) => {
                    hash::set(w, env.db, &self.0, &mut c, field, &value)?;
                    1
                }
            }));
        }
        // The earliest deadline may now be early: harmless, the expiry cycle recomputes it.
        Ok(Reply::Array(out))
    }
}

/// `HGETDEL key FIELDS numfields field ...`
pub struct HGetDel(Bytes, Vec<Bytes>);

impl WriteCommand for HGetDel {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("hdel", class::HASH))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(HGetDel(key, parse_fields_exact(args)?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = hash::load_hash(w, env.db, &self.0)? else {
            return Ok(Reply::Array(vec![Reply::Nil; self.1.len()]));
        };
        let before = c;
        let mut out = Vec::with_capacity(self.1.len());
        for field in &self.1 {
            let (_, value) = live_field(w, &c, field)?;
            hash::del(w, env.db, &self.0, &mut c, field)?;
            out.push(value.map_or(Reply::Nil, Reply::bulk));
        }
        types::save_changed(w, env.db, &self.0, Some(&before), &c)?;
        Ok(Reply::Array(out))
    }
}

/// The expiry option of HGETEX / HSETEX.
#[derive(Debug, Clone, Copy)]
enum FieldExpiry {
    At(FieldTime),
    Persist,
    KeepTtl,
}

/// Reads `EX | PX | EXAT | PXAT value` if `arg` is one of them.
fn parse_field_expiry(
    arg: &[u8],
    args: &mut ArgCursor<'_>,
    current: &Option<FieldExpiry>,
    conflict: &str,
    command: &str,
) -> Result<Option<FieldExpiry>, CmdError> {
    let Some((unit, absolute)) = [
        ("EX", (1000, false)),
        ("PX", (1, false)),
        ("EXAT", (1000, true)),
        ("PXAT", (1, true)),
    ]
    .into_iter()
    .find(|(n, _)| arg.eq_ignore_ascii_case(n.as_bytes()))
    .map(|(_, k)| k) else {
        return Ok(None);
    };
    if current.is_some() {
        return Err(CmdError::err(conflict));
    }
    if args.is_empty() {
        return Err(CmdError::err("missing expire time"));
    }
    let time = FieldTime::parse(args.next_bytes()?, unit, absolute, command)?;
    Ok(Some(FieldExpiry::At(time)))
}

/// `HGETEX key [EX seconds | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST] FIELDS numfields
/// field ...`
pub struct HGetEx {
    key: Bytes,
    expiry: Option<FieldExpiry>,
    fields: Vec<Bytes>,
}

const GETEX_CONFLICT: &str = "Only one of EX, PX, EXAT, PXAT or PERSIST arguments can be specified";
const SETEX_CONFLICT: &str = "Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified";

impl WriteCommand for HGetEx {
    fn events(&self, _env: WriteEnv) -> Events {
        match &self.expiry {
            None => Events::Silent,
            Some(FieldExpiry::Persist) => Events::Each(Event::new("hpersist", class::HASH)),
            Some(_) => Events::Each(Event::new("hexpire", class::HASH)),
        }
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let (mut expiry, mut fields) = (None, None);
        while !args.is_empty() {
            let arg = args.next_bytes()?;
            if is_keyword(arg, "FIELDS") {
                if args.is_empty() {
                    return Err(CmdError::WrongArity("hgetex".into()));
                }
                fields = Some(take_fields(args, 1, "invalid number of fields")?);
            } else if is_keyword(arg, "PERSIST") {
                if expiry.is_some() {
                    return Err(CmdError::err(GETEX_CONFLICT));
                }
                expiry = Some(FieldExpiry::Persist);
            } else if let Some(e) =
                parse_field_expiry(arg, args, &expiry, GETEX_CONFLICT, "hgetex")?
            {
                expiry = Some(e);
            } else if ["KEEPTTL", "FXX", "FNX"].iter().any(|k| is_keyword(arg, k)) {
                return Err(CmdError::err("unknown argument"));
            } else {
                return Err(CmdError::err(format!(
                    "unknown argument: {}",
                    String::from_utf8_lossy(arg)
                )));
            }
        }
        let fields = fields.ok_or_else(|| CmdError::WrongArity("hgetex".into()))?;
        Ok(HGetEx {
            key,
            expiry,
            fields,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = hash::load_hash(w, env.db, &self.key)? else {
            return Ok(Reply::Array(vec![Reply::Nil; self.fields.len()]));
        };
        let before = c;
        let now = w.now_ms;
        let mut out = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let (deadline, value) = live_field(w, &c, field)?;
            if let Some(v) = &value {
                match self.expiry {
                    Some(FieldExpiry::At(t)) if t.deadline(now) <= now => {
                        hash::del(w, env.db, &self.key, &mut c, field)?;
                    }
                    Some(FieldExpiry::At(t)) => {
                        let d = t.deadline(now);
                        hash::set_with_deadline(w, env.db, &self.key, &mut c, field, v, d)?;
                    }
                    Some(FieldExpiry::Persist) if deadline != 0 => {
                        hash::set(w, env.db, &self.key, &mut c, field, v)?;
                    }
                    _ => {}
                }
            }
            out.push(value.map_or(Reply::Nil, Reply::bulk));
        }
        types::save_changed(w, env.db, &self.key, Some(&before), &c)?;
        Ok(Reply::Array(out))
    }
}

/// `HSETEX key [FNX | FXX] [EX seconds | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL]
/// FIELDS numfields field value ...`
pub struct HSetEx {
    key: Bytes,
    /// Some(true) = FNX (none may exist), Some(false) = FXX (all must exist).
    condition: Option<bool>,
    expiry: Option<FieldExpiry>,
    pairs: Vec<Bytes>,
}

impl WriteCommand for HSetEx {
    fn events(&self, _env: WriteEnv) -> Events {
        let mut roles = vec![KeyRole::new(&self.key, Event::new("hset", class::HASH))];
        if matches!(self.expiry, Some(FieldExpiry::At(_))) {
            roles.push(KeyRole::new(&self.key, Event::new("hexpire", class::HASH)));
        }
        Events::Keys(roles)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let (mut condition, mut expiry, mut pairs) = (None, None, None);
        while !args.is_empty() {
            let arg = args.next_bytes()?;
            if is_keyword(arg, "FIELDS") {
                if args.is_empty() {
                    return Err(CmdError::WrongArity("hsetex".into()));
                }
                pairs = Some(take_fields(args, 2, "invalid number of fields")?);
            } else if is_keyword(arg, "FNX") || is_keyword(arg, "FXX") {
                if condition.is_some() {
                    return Err(CmdError::err(
                        "Only one of FXX or FNX arguments can be specified",
                    ));
                }
                condition = Some(is_keyword(arg, "FNX"));
            } else if is_keyword(arg, "KEEPTTL") {
                if expiry.is_some() {
                    return Err(CmdError::err(SETEX_CONFLICT));
                }
                expiry = Some(FieldExpiry::KeepTtl);
            } else if let Some(e) =
                parse_field_expiry(arg, args, &expiry, SETEX_CONFLICT, "hsetex")?
            {
                expiry = Some(e);
            } else if is_keyword(arg, "PERSIST") {
                return Err(CmdError::err("unknown argument"));
            } else {
                return Err(CmdError::err(format!(
                    "unknown argument: {}",
                    String::from_utf8_lossy(arg)
                )));
            }
        }
        let pairs = pairs.ok_or_else(|| CmdError::WrongArity("hsetex".into()))?;
        Ok(HSetEx {
            key,
            condition,
            expiry,
            pairs,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let existing = hash::load_hash(w, env.db, &self.key)?;
        if existing.is_none() && self.condition == Some(false) {
            return Ok(Reply::Int(0));
        }
        let mut c = match existing {
            Some(c) => c,
            None => Collection::new(KeyType::Hash, w.new_version(KeyType::Hash)?),
        };
        if let Some(none_may_exist) = self.condition {
            for pair in self.pairs.chunks_exact(2) {
                let exists = live_field(w, &c, &pair[0])?.1.is_some();
                if exists == none_may_exist {
                    return Ok(Reply::Int(0));
                }
            }
        }
        let now = w.now_ms;
        for pair in self.pairs.chunks_exact(2) {
            let (field, value) = (&pair[0], &pair[1]);
            let deadline = match self.expiry {
                None | Some(FieldExpiry::Persist) => 0,
                Some(FieldExpiry::KeepTtl) => live_field(w, &c, field)?.0,
                Some(FieldExpiry::At(t)) => t.deadline(now),
            };
            if hash::is_past(deadline, now) {
                // Set and gone at once, as Redis does with a deadline in the past.
                hash::del(w, env.db, &self.key, &mut c, field)?;
            } else {
                hash::set_with_deadline(w, env.db, &self.key, &mut c, field, value, deadline)?;
            }
        }
        types::save_changed(w, env.db, &self.key, existing.as_ref(), &c)?;
        Ok(Reply::Int(1))
    }
}
