//! List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LRANGE LLEN LINDEX LSET LREM LTRIM
//! LINSERT LPOS LMOVE RPOPLPUSH LMPOP.

use crate::bus::keyspace::{class, Event, Events, KeyRole};
use bytes::Bytes;

use super::set::{parse_numkeys, NumKeys};
use super::{ArgCursor, CmdError, ReadCommand, WriteCommand, WriteEnv};
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::types::{self, list};
use crate::kv::view::KvView;
use crate::resp::reply::BulkArray;
use crate::resp::{Reply, OK};

pub fn load_list(
    view: &mut dyn KvView,
    db: u32,
    key: &[u8],
) -> Result<Option<Collection>, CmdError> {
    types::load(view, db, key, KeyType::List)
}

/// Redis's index normalisation for a range over `len` elements: `None` when it is empty.
pub fn clamp(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as u64, stop as u64))
}

/// `LPUSH` / `RPUSH` (and the `X` forms, which need an existing list) `key element ...`
pub struct Push<const LEFT: bool, const EXISTING: bool>(Bytes, Vec<Bytes>);

impl<const LEFT: bool, const EXISTING: bool> WriteCommand for Push<LEFT, EXISTING> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(if LEFT {
            Event::new("lpush", class::LIST)
        } else {
            Event::new("rpush", class::LIST)
        })
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Push(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = if EXISTING {
            match load_list(w, env.db, &self.0)? {
                Some(c) => c,
                None => return Ok(Reply::Int(0)),
            }
        } else {
            types::load_or_new(w, env.db, &self.0, KeyType::List)?
        };
        for e in &self.1 {
            list::push(w, env.db, &self.0, &mut c, LEFT, e)?;
        }
        types::save(w, env.db, &self.0, &c)?;
        Ok(Reply::Int(c.len as i64))
    }
}

/// `LPOP` / `RPOP key [count]`
pub struct Pop<const LEFT: bool>(Bytes, Option<u64>);

impl<const LEFT: bool> WriteCommand for Pop<LEFT> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(list_pop_event(LEFT))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(Pop(key, args.optional_count()?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_list(w, env.db, &self.0)? else {
            return Ok(match self.1 {
                None => Reply::Nil,
                Some(_) => Reply::NilArray,
            });
        };
        let Some(count) = self.1 else {
            let value = list::pop(w, env.db, &self.0, &mut c, LEFT)?;
            types::save(w, env.db, &self.0, &c)?;
            return Ok(value.map_or(Reply::Nil, Reply::bulk));
        };
        let out = pop_many(w, env.db, &self.0, &mut c, LEFT, count)?;
        Ok(Reply::Array(out.into_iter().map(Reply::bulk).collect()))
    }
}

/// Pops up to `count` elements from one end and saves the list.
pub fn pop_many(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    left: bool,
    count: u64,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::with_capacity(count.min(c.len) as usize);
    for _ in 0..count.min(c.len) {
        if let Some(v) = list::pop(w, db, key, c, left)? {
            out.push(v);
        }
    }
    types::save(w, db, key, c)?;
    Ok(out)
}

/// `LRANGE key start stop`
pub struct LRange(Bytes, i64, i64);

impl ReadCommand for LRange {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LRange(
            args.next_bytes()?.clone(),
            args.next_i64()?,
            args.next_i64()?,
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = load_list(view, db, &self.0)? else {
            return Ok(Reply::Array(Vec::new()));
        };
        let Some((start, stop)) = clamp(self.1, self.2, c.len) else {
            return Ok(Reply::Array(Vec::new()));
        };
        let mut items = BulkArray::default();
        list::range_each(view, &c, start, stop, false, &mut |v| items.push(v))?;
        Ok(items.finish())
    }
}

/// `LLEN key`
pub struct LLen(Bytes);

impl ReadCommand for LLen {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LLen(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        Ok(Reply::Int(
            load_list(view, db, &self.0)?.map_or(0, |c| c.len) as i64,
        ))
    }
}

/// A list index (negative from the tail) as a position, if in range.
fn position(index: i64, len: u64) -> Option<u64> {
    let i = if index < 0 { index + len as i64 } else { index };
    (i >= 0 && (i as u64) < len).then_some(i as u64)
}

/// `LINDEX key index`
pub struct LIndex(Bytes, i64);

impl ReadCommand for LIndex {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LIndex(args.next_bytes()?.clone(), args.next_i64()?))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = load_list(view, db, &self.0)? else {
            return Ok(Reply::Nil);
        };
        let Some(pos) = position(self.1, c.len) else {
            return Ok(Reply::Nil);
        };
        Ok(list::get(view, &c, pos)?.map_or(Reply::Nil, Reply::bulk))
    }
}

/// `LSET key index element`
pub struct LSet(Bytes, i64, Bytes);

impl WriteCommand for LSet {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("lset", class::LIST))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LSet(
            args.next_bytes()?.clone(),
            args.next_i64()?,
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(c) = load_list(w, env.db, &self.0)? else {
            return Err(CmdError::err("no such key"));
        };
        let Some(pos) = position(self.1, c.len) else {
            return Err(CmdError::err("index out of range"));
        };
        list::set(w, env.db, &self.0, &c, pos, &self.2)?;
        Ok(OK)
    }
}

/// `LREM key count element`
pub struct LRem(Bytes, i64, Bytes);

impl WriteCommand for LRem {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("lrem", class::LIST))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LRem(
            args.next_bytes()?.clone(),
            args.next_i64()?,
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_list(w, env.db, &self.0)? else {
            return Ok(Reply::Int(0));
        };
        let mut items = list::all(w, &c)?;
        let limit = if self.1 == 0 {
            usize::MAX
        } else {
            self.1.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        let mut keep = vec![true; items.len()];
        let order: Box<dyn Iterator<Item = usize>> = if self.1 < 0 {
            Box::new((0..items.len()).rev())
        } else {
            Box::new(0..items.len())
        };
        for i in order {
            if removed == limit {
                break;
            }
            if items[i] == self.2.as_ref() {
                keep[i] = false;
                removed += 1;
            }
        }
        if removed == 0 {
            return Ok(Reply::Int(0));
        }
        let first = keep.iter().position(|k| !k).unwrap_or(0);
        let mut rest = Vec::with_capacity(items.len() - first);
        for (i, item) in items.drain(..).enumerate().skip(first) {
            if keep[i] {
                rest.push(item);
            }
        }
        list::rewrite_from(w, env.db, &self.0, &mut c, first as u64, &rest)?;
        types::save(w, env.db, &self.0, &c)?;
        Ok(Reply::Int(removed as i64))
    }
}

/// `LTRIM key start stop`
pub struct LTrim(Bytes, i64, i64);

impl WriteCommand for LTrim {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("ltrim", class::LIST))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LTrim(
            args.next_bytes()?.clone(),
            args.next_i64()?,
            args.next_i64()?,
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_list(w, env.db, &self.0)? else {
            return Ok(OK);
        };
        let (start, stop) = clamp(self.1, self.2, c.len).unwrap_or((1, 0));
        list::trim(w, env.db, &self.0, &mut c, start, stop)?;
        types::save(w, env.db, &self.0, &c)?;
        Ok(OK)
    }
}

/// `LINSERT key BEFORE | AFTER pivot element`
pub struct LInsert {
    key: Bytes,
    after: bool,
    pivot: Bytes,
    element: Bytes,
}

impl WriteCommand for LInsert {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("linsert", class::LIST))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let after = args.next_choice(&[("BEFORE", false), ("AFTER", true)])?;
        Ok(LInsert {
            key,
            after,
            pivot: args.next_bytes()?.clone(),
            element: args.next_bytes()?.clone(),
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_list(w, env.db, &self.key)? else {
            return Ok(Reply::Int(0));
        };
        let items = list::all(w, &c)?;
        let Some(at) = items.iter().position(|e| *e == self.pivot.as_ref()) else {
            return Ok(Reply::Int(-1));
        };
        let insert_at = if self.after { at + 1 } else { at };
        let mut rest = Vec::with_capacity(items.len() - insert_at + 1);
        rest.push(self.element.to_vec());
        rest.extend(items.into_iter().skip(insert_at));
        list::rewrite_from(w, env.db, &self.key, &mut c, insert_at as u64, &rest)?;
        types::save(w, env.db, &self.key, &c)?;
        Ok(Reply::Int(c.len as i64))
    }
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub struct LPos {
    key: Bytes,
    element: Bytes,
    rank: i64,
    count: Option<u64>,
    max_len: u64,
}

impl ReadCommand for LPos {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut pos = LPos {
            key: args.next_bytes()?.clone(),
            element: args.next_bytes()?.clone(),
            rank: 1,
            count: None,
            max_len: 0,
        };
        while !args.is_empty() {
            if args.eat("RANK") {
                let rank = args.next_i64()?;
                if rank == 0 {
                    return Err(CmdError::err(
                        "RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    ));
                }
                if rank == i64::MIN {
                    return Err(CmdError::err("value is out of range"));
                }
                pos.rank = rank;
            } else if args.eat("COUNT") {
                let n = args.next_i64()?;
                pos.count =
                    Some(u64::try_from(n).map_err(|_| CmdError::err("COUNT can't be negative"))?);
            } else if args.eat("MAXLEN") {
                let n = args.next_i64()?;
                pos.max_len =
                    u64::try_from(n).map_err(|_| CmdError::err("MAXLEN can't be negative"))?;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(pos)
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let c = load_list(view, db, &self.key)?;
        let none = || match self.count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Nil,
        };
        let Some(c) = c else { return Ok(none()) };
        let rev = self.rank < 0;
        let want = match self.count {
            Some(0) => u64::MAX,
            Some(n) => n,
            None => 1,
        };
        let (mut skip, mut found, mut scanned) = (self.rank.unsigned_abs() - 1, Vec::new(), 0u64);
        let (start, stop) = (0, c.len.saturating_sub(1));
        if c.len > 0 {
            let items = list::range(view, &c, start, stop, rev)?;
            for item in items {
                if self.max_len != 0 && scanned == self.max_len {
                    break;
                }
                let index = if rev { c.len - 1 - scanned } else { scanned };
                scanned += 1;
                if item == self.element.as_ref() {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    found.push(Reply::Int(index as i64));
                    if found.len() as u64 == want {
                        break;
                    }
                }
            }
        }
        Ok(match self.count {
            Some(_) => Reply::Array(found),
            None => found.into_iter().next().unwrap_or(Reply::Nil),
        })
    }
}

/// Moves one element from an end of `src` to an end of `dst` (LMOVE and its relatives).
pub fn move_element(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Vec<u8>>, CmdError> {
    let Some(mut s) = load_list(w, db, src)? else {
        return Ok(None);
    };
    // Redis checks the destination's type before it pops.
    let d = load_list(w, db, dst)?;
    let Some(value) = list::pop(w, db, src, &mut s, from_left)? else {
        return Ok(None);
    };
    if src == dst {
        // Rotation: back onto the same list, saved once (an emptied header must not be
        // deleted in between, its version would go to the collector).
        list::push(w, db, src, &mut s, to_left, &value)?;
        types::save(w, db, src, &s)?;
        return Ok(Some(value));
    }
    types::save(w, db, src, &s)?;
    let mut d = match d {
        Some(d) => d,
        None => Collection::new(KeyType::List, w.new_version(KeyType::List)?),
    };
    list::push(w, db, dst, &mut d, to_left, &value)?;
    types::save(w, db, dst, &d)?;
    Ok(Some(value))
}

/// `LEFT` or `RIGHT`
pub fn parse_side(args: &mut ArgCursor<'_>) -> Result<bool, CmdError> {
    args.next_choice(&[("LEFT", true), ("RIGHT", false)])
}

/// `LMOVE source destination LEFT | RIGHT LEFT | RIGHT`
pub struct LMove {
    pub src: Bytes,
    pub dst: Bytes,
    pub from_left: bool,
    pub to_left: bool,
}

impl WriteCommand for LMove {
    fn events(&self, _env: WriteEnv) -> Events {
        list_move_events(&self.src, &self.dst, self.from_left, self.to_left)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(LMove {
            src: args.next_bytes()?.clone(),
            dst: args.next_bytes()?.clone(),
            from_left: parse_side(args)?,
            to_left: parse_side(args)?,
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let moved = move_element(
            w,
            env.db,
            &self.src,
            &self.dst,
            self.from_left,
            self.to_left,
        )?;
        Ok(moved.map_or(Reply::Nil, Reply::bulk))
    }
}

/// `RPOPLPUSH source destination`
pub struct RPopLPush(Bytes, Bytes);

impl WriteCommand for RPopLPush {
    fn events(&self, _env: WriteEnv) -> Events {
        list_move_events(&self.0, &self.1, false, true)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(RPopLPush(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let moved = move_element(w, env.db, &self.0, &self.1, false, true)?;
        Ok(moved.map_or(Reply::Nil, Reply::bulk))
    }
}

/// `LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]`
pub struct LMPop {
    pub keys: Vec<Bytes>,
    pub left: bool,
    pub count: u64,
}

/// Parses `[COUNT count]` of the *MPOP commands (count > 0).
pub fn parse_mpop_count(args: &mut ArgCursor<'_>) -> Result<u64, CmdError> {
    let mut count = None;
    while !args.is_empty() {
        if count.is_some() || !args.eat("COUNT") {
            return Err(CmdError::Syntax);
        }
        let n = args.next_i64()?;
        if n <= 0 {
            return Err(CmdError::err("count should be greater than 0"));
        }
        count = Some(n as u64);
    }
    Ok(count.unwrap_or(1))
}

impl LMPop {
    pub fn parse_args(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let keys = parse_numkeys(args, NumKeys::Pop)?;
        let left = parse_side(args)?;
        let count = parse_mpop_count(args)?;
        Ok(LMPop { keys, left, count })
    }

    /// Pops from the first non-empty list: `Some([key, [elements]])`.
    pub fn try_pop(&self, db: u32, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        for key in &self.keys {
            if let Some(mut c) = load_list(w, db, key)? {
                let out = pop_many(w, db, key, &mut c, self.left, self.count)?;
                return Ok(Some(Reply::Array(vec![
                    Reply::bulk(key.clone()),
                    Reply::Array(out.into_iter().map(Reply::bulk).collect()),
                ])));
            }
        }
        Ok(None)
    }
}

impl WriteCommand for LMPop {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(list_pop_event(self.left))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Self::parse_args(args)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        Ok(self.try_pop(env.db, w)?.unwrap_or(Reply::NilArray))
    }
}

/// `lpop` or `rpop`.
pub fn list_pop_event(left: bool) -> Event {
    if left {
        Event::new("lpop", class::LIST)
    } else {
        Event::new("rpop", class::LIST)
    }
}

/// LMOVE's events, in Redis's order: the push onto `dst`, then the pop from `src` (both on
/// one key when they are the same list).
pub fn list_move_events(src: &Bytes, dst: &Bytes, from_left: bool, to_left: bool) -> Events {
    let push = if to_left {
        Event::new("lpush", class::LIST)
    } else {
        Event::new("rpush", class::LIST)
    };
    Events::Keys(vec![
        KeyRole::new(dst, push),
        KeyRole::new(src, list_pop_event(from_left)),
    ])
}
