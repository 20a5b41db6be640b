//! Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER
//! SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SINTERCARD SSCAN.

use crate::bus::keyspace::{class, Event, Events, KeyRole};
use std::collections::HashSet;

use bytes::Bytes;

use super::scan::{check_random_count, random_pick, MemberScan};
use super::{ArgCursor, CmdError, ReadCommand, WriteCommand, WriteEnv};
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::types::{self, set};
use crate::kv::view::KvView;
use crate::resp::Reply;

fn load_set(view: &mut dyn KvView, db: u32, key: &[u8]) -> Result<Option<Collection>, CmdError> {
    types::load(view, db, key, KeyType::Set)
}

fn members_reply(members: Vec<Vec<u8>>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::bulk).collect())
}

/// `SADD key member [member ...]`
pub struct SAdd(Bytes, Vec<Bytes>);

impl WriteCommand for SAdd {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("sadd", class::SET))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SAdd(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = types::load_or_new(w, env.db, &self.0, KeyType::Set)?;
        let mut added = 0;
        for m in &self.1 {
            added += i64::from(set::add(w, env.db, &self.0, &mut c, m)?);
        }
        if added > 0 {
            types::save(w, env.db, &self.0, &c)?;
        }
        Ok(Reply::Int(added))
    }
}

/// `SREM key member [member ...]`
pub struct SRem(Bytes, Vec<Bytes>);

impl WriteCommand for SRem {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("srem", class::SET))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SRem(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_set(w, env.db, &self.0)? else {
            return Ok(Reply::Int(0));
        };
        let mut removed = 0;
        for m in &self.1 {
            removed += i64::from(set::remove(w, env.db, &self.0, &mut c, m)?);
        }
        if removed > 0 {
            types::save(w, env.db, &self.0, &c)?;
        }
        Ok(Reply::Int(removed))
    }
}

/// `SMEMBERS key`
pub struct SMembers(Bytes);

impl ReadCommand for SMembers {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SMembers(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        Ok(match load_set(view, db, &self.0)? {
            Some(c) => members_reply(set::members(view, &c)?),
            None => Reply::Set(Vec::new()),
        })
    }
}

/// `SISMEMBER key member`
pub struct SIsMember(Bytes, Bytes);

impl ReadCommand for SIsMember {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SIsMember(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let found = match load_set(view, db, &self.0)? {
            Some(c) => set::contains(view, &c, &self.1)?,
            None => false,
        };
        Ok(Reply::Int(i64::from(found)))
    }
}

/// `SMISMEMBER key member [member ...]`
pub struct SMIsMember(Bytes, Vec<Bytes>);

impl ReadCommand for SMIsMember {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SMIsMember(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let c = load_set(view, db, &self.0)?;
        let mut out = Vec::with_capacity(self.1.len());
        for m in &self.1 {
            let found = match &c {
                Some(c) => set::contains(view, c, m)?,
                None => false,
            };
            out.push(Reply::Int(i64::from(found)));
        }
        Ok(Reply::Array(out))
    }
}

/// `SCARD key`
pub struct SCard(Bytes);

impl ReadCommand for SCard {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SCard(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let len = load_set(view, db, &self.0)?.map_or(0, |c| c.len);
        Ok(Reply::Int(len as i64))
    }
}

/// `SPOP key [count]`
pub struct SPop(Bytes, Option<u64>);

impl WriteCommand for SPop {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("spop", class::SET))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(SPop(key, args.optional_count()?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_set(w, env.db, &self.0)? else {
            return Ok(match self.1 {
                None => Reply::Nil,
                Some(_) => Reply::Set(Vec::new()),
            });
        };
        let want = self.1.unwrap_or(1).min(c.len) as i64;
        let picked = random_pick(w, &c, want)?;
        let mut out = Vec::with_capacity(picked.len());
        for (m, _) in picked {
            set::remove(w, env.db, &self.0, &mut c, &m)?;
            out.push(m);
        }
        types::save(w, env.db, &self.0, &c)?;
        Ok(match self.1 {
            None => out.pop().map_or(Reply::Nil, Reply::bulk),
            Some(_) => members_reply(out),
        })
    }
}

/// `SRANDMEMBER key [count]`
pub struct SRandMember(Bytes, Option<i64>);

impl ReadCommand for SRandMember {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let count = args.optional_i64()?;
        args.finish()?;
        check_random_count(count, false)?;
        Ok(SRandMember(key, count))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = load_set(view, db, &self.0)? else {
            return Ok(match self.1 {
                None => Reply::Nil,
                Some(_) => Reply::Array(Vec::new()),
            });
        };
        let picked = random_pick(view, &c, self.1.unwrap_or(1))?;
        let mut members = picked.into_iter().map(|(m, _)| Reply::bulk(m));
        Ok(match self.1 {
            None => members.next().unwrap_or(Reply::Nil),
            Some(_) => Reply::Array(members.collect()),
        })
    }
}

/// `SMOVE source destination member`
pub struct SMove(Bytes, Bytes, Bytes);

impl WriteCommand for SMove {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Keys(vec![
            KeyRole::new(&self.0, Event::new("srem", class::SET)),
            KeyRole::new(&self.1, Event::new("sadd", class::SET)),
        ])
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SMove(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let src = load_set(w, env.db, &self.0)?;
        let dst = load_set(w, env.db, &self.1)?;
        let Some(mut src) = src else {
            return Ok(Reply::Int(0));
        };
        if self.0 == self.1 {
            return Ok(Reply::Int(i64::from(set::contains(w, &src, &self.2)?)));
        }
        if !set::remove(w, env.db, &self.0, &mut src, &self.2)? {
            return Ok(Reply::Int(0));
        }
        types::save(w, env.db, &self.0, &src)?;
        let mut dst = match dst {
            Some(d) => d,
            None => Collection::new(KeyType::Set, w.new_version(KeyType::Set)?),
        };
        if set::add(w, env.db, &self.1, &mut dst, &self.2)? {
            types::save(w, env.db, &self.1, &dst)?;
        }
        Ok(Reply::Int(1))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// The result of SINTER / SUNION / SDIFF over `keys`, in Redis's order of checks: SINTER stops
/// at the first missing key; the others check every key's type.
fn combine(
    view: &mut dyn KvView,
    db: u32,
    keys: &[Bytes],
    op: SetOp,
    limit: usize,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut sets = Vec::with_capacity(keys.len());
    for key in keys {
        match load_set(view, db, key)? {
            Some(c) => sets.push(Some(c)),
            None if op == SetOp::Inter => return Ok(Vec::new()),
            None => sets.push(None),
        }
    }
    match op {
        SetOp::Inter => {
            let mut sets: Vec<Collection> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|c| c.len);
            let Some((smallest, rest)) = sets.split_first() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for m in set::members(view, smallest)? {
                let mut everywhere = true;
                for c in rest {
                    if !set::contains(view, c, &m)? {
                        everywhere = false;
                        break;
                    }
                }
                if everywhere {
                    out.push(m);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            Ok(out)
        }
        SetOp::Union => {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for c in sets.iter().flatten() {
                for m in set::members(view, c)? {
                    if seen.insert(m.clone()) {
                        out.push(m);
                    }
                }
            }
            Ok(out)
        }
        SetOp::Diff => {
            let Some(Some(first)) = sets.first().copied() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for m in set::members(view, &first)? {
                let mut elsewhere = false;
                for c in sets[1..].iter().flatten() {
                    if set::contains(view, c, &m)? {
                        elsewhere = true;
                        break;
                    }
                }
                if !elsewhere {
                    out.push(m);
                }
            }
            Ok(out)
        }
    }
}

const OPS: [SetOp; 3] = [SetOp::Inter, SetOp::Union, SetOp::Diff];

/// `SINTER`, `SUNION`, `SDIFF key [key ...]` (OP indexes `OPS`)
pub struct SCombine<const OP: usize>(Vec<Bytes>);

impl<const OP: usize> ReadCommand for SCombine<OP> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SCombine(args.rest().to_vec()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        Ok(members_reply(combine(
            view,
            db,
            &self.0,
            OPS[OP],
            usize::MAX,
        )?))
    }
}

/// `SINTERSTORE`, `SUNIONSTORE`, `SDIFFSTORE destination key [key ...]`
pub struct SCombineStore<const OP: usize>(Bytes, Vec<Bytes>);

impl<const OP: usize> WriteCommand for SCombineStore<OP> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::EachOrDel(SET_STORE_EVENTS[OP])
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(SCombineStore(
            args.next_bytes()?.clone(),
            args.rest().to_vec(),
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let members = combine(w, env.db, &self.1, OPS[OP], usize::MAX)?;
        store_set(w, env.db, &self.0, &members)?;
        Ok(Reply::Int(members.len() as i64))
    }
}

/// Replaces `key` with a set of `members` (deletes it when there are none).
pub fn store_set(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    members: &[Vec<u8>],
) -> Result<(), CmdError> {
    let mut c = Collection::new(KeyType::Set, w.new_version(KeyType::Set)?);
    for m in members {
        set::add(w, db, key, &mut c, m)?;
    }
    if c.len == 0 {
        w.delete(db, key)?;
        return Ok(());
    }
    types::save(w, db, key, &c)
}

/// How a `numkeys` command words its errors (each family of Redis's has its own).
#[derive(Clone, Copy)]
pub enum NumKeys {
    /// SINTERCARD, ZINTERCARD.
    Card,
    /// LMPOP, ZMPOP and their blocking forms.
    Pop,
    /// ZUNION, ZINTER, ZDIFF and their STORE forms (the command's name for the error).
    Algebra(&'static str),
}

/// Parses `numkeys key [key ...]` as Redis's multi-key commands do.
pub fn parse_numkeys(args: &mut ArgCursor<'_>, style: NumKeys) -> Result<Vec<Bytes>, CmdError> {
    let n = args.next_i64()?;
    if n <= 0 {
        return Err(match style {
            NumKeys::Algebra(name) => CmdError::err(format!(
                "at least 1 input key is needed for '{name}' command"
            )),
            _ => CmdError::err("numkeys should be greater than 0"),
        });
    }
    if n as u64 > args.remaining() as u64 {
        return Err(match style {
            NumKeys::Card => CmdError::err("Number of keys can't be greater than number of args"),
            _ => CmdError::Syntax,
        });
    }
    let mut keys = Vec::with_capacity(n as usize);
    for _ in 0..n {
        keys.push(args.next_bytes()?.clone());
    }
    Ok(keys)
}

/// Parses an optional `LIMIT n` (0 = no limit).
pub fn parse_limit(args: &mut ArgCursor<'_>) -> Result<usize, CmdError> {
    let mut limit = 0;
    while !args.is_empty() {
        if !args.eat("LIMIT") {
            return Err(CmdError::Syntax);
        }
        let n = args.next_i64()?;
        if n < 0 {
            return Err(CmdError::err("LIMIT can't be negative"));
        }
        limit = n as usize;
    }
    Ok(limit)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
pub struct SInterCard(Vec<Bytes>, usize);

impl ReadCommand for SInterCard {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let keys = parse_numkeys(args, NumKeys::Card)?;
        Ok(SInterCard(keys, parse_limit(args)?))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let limit = if self.1 == 0 { usize::MAX } else { self.1 };
        Ok(Reply::Int(
            combine(view, db, &self.0, SetOp::Inter, limit)?.len() as i64,
        ))
    }
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
pub type SScan = MemberScan<{ KeyType::Set as u8 }>;

/// Events of SINTERSTORE, SUNIONSTORE, SDIFFSTORE (by their `OP`).
const SET_STORE_EVENTS: [Event; 3] = [
    Event::new("sinterstore", class::SET),
    Event::new("sunionstore", class::SET),
    Event::new("sdiffstore", class::SET),
];
