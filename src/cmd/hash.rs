//! Hash commands: HSET HSETNX HMSET HGET HMGET HGETALL HDEL HEXISTS HLEN HSTRLEN HKEYS HVALS
//! HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.

use bytes::Bytes;

use super::scan::{random_pick, MemberScan};
use super::string::{add_decimal_texts, human_float, parse_float};
use super::{ArgCursor, CmdError, ReadCommand, WriteCommand, WriteEnv};
use crate::engine::WriteCtx;
use crate::kv::meta::KeyType;
use crate::kv::types::{self, hash};
use crate::kv::view::KvView;
use crate::resp::codec::parse_i64;
use crate::resp::{Reply, OK};

fn bulk(b: &[u8]) -> Reply {
    Reply::bulk(b.to_vec())
}

/// `HSET key field value [field value ...]` and `HMSET` (which answers OK).
pub struct HSet<const HMSET: bool> {
    key: Bytes,
    pairs: Vec<(Bytes, Bytes)>,
}

impl<const HMSET: bool> WriteCommand for HSet<HMSET> {
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
        let current = match hash::get(w, &c, &self.1)? {
            Some(v) => {
                parse_i64(&v).ok_or_else(|| CmdError::err("hash value is not an integer"))?
            }
            None => 0,
        };
        let next = current
            .checked_add(self.2)
            .ok_or_else(|| CmdError::err("increment or decrement would overflow"))?;
        hash::set(
            w,
            env.db,
            &self.0,
            &mut c,
            &self.1,
            next.to_string().as_bytes(),
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
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let field = args.next_bytes()?.clone();
        let by_text = args.next_bytes()?.clone();
        let by =
            parse_float(&by_text).ok_or_else(|| CmdError::err("value is not a valid float"))?;
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
        let value = hash::get(w, &c, &self.field)?.unwrap_or_else(|| b"0".to_vec());
        let current =
            parse_float(&value).ok_or_else(|| CmdError::err("hash value is not a float"))?;
        let next = current + self.by;
        if !next.is_finite() {
            return Err(CmdError::err("increment would produce NaN or Infinity"));
        }
        let text = add_decimal_texts(&value, &self.by_text).unwrap_or_else(|| human_float(next));
        hash::set(w, env.db, &self.key, &mut c, &self.field, text.as_bytes())?;
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
        let count = if args.is_empty() {
            None
        } else {
            Some(args.next_i64()?)
        };
        let with_values = args.eat("WITHVALUES");
        args.finish()?;
        if let Some(n) = count {
            if n < -(i64::MAX / 2) || (with_values && n < -(i64::MAX / 4)) {
                return Err(CmdError::err("value is out of range"));
            }
        }
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
        let picked = random_pick(view, &c, self.count.unwrap_or(1))?;
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
