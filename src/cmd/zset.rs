//! Sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT
//! ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX
//! ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZUNION ZINTER ZDIFF
//! (and their STORE forms) ZINTERCARD ZRANDMEMBER ZSCAN.

use crate::bus::keyspace::{class, Event, Events};
use std::collections::HashMap;
use std::ops::Bound;

use bytes::Bytes;

use super::list::{clamp, parse_mpop_count};
use super::scan::{check_random_count, random_pick, MemberScan};
use super::set::{parse_limit, parse_numkeys, NumKeys};
use super::{ArgCursor, CmdError, ReadCommand, WriteCommand, WriteEnv};
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::types::{self, set, zset};
use crate::kv::view::KvView;
use crate::resp::Reply;

fn load_zset(view: &mut dyn KvView, db: u32, key: &[u8]) -> Result<Option<Collection>, CmdError> {
    types::load(view, db, key, KeyType::ZSet)
}

fn not_float() -> CmdError {
    CmdError::err("value is not a valid float")
}

/// Members with scores as a reply: flat in RESP2, pairs in RESP3 (or members only).
fn scored_reply(items: Vec<(Vec<u8>, f64)>, with_scores: bool) -> Reply {
    if with_scores {
        Reply::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Reply::bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(items.into_iter().map(|(m, _)| Reply::bulk(m)).collect())
    }
}

// ------------------------------------------------------------------ ranges

/// A score interval end: `1.5`, `(1.5`, `-inf`, `+inf`.
fn parse_score_bound(arg: &[u8]) -> Result<Bound<f64>, CmdError> {
    let err = || CmdError::err("min or max is not a float");
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let v = super::string::parse_float(text).ok_or_else(err)?;
    Ok(if exclusive {
        Bound::Excluded(v)
    } else {
        Bound::Included(v)
    })
}

/// A lexical interval end: `[a`, `(a`, `-`, `+`.
#[derive(Debug, Clone)]
enum Lex {
    Min,
    Max,
    In(Vec<u8>),
    Ex(Vec<u8>),
}

fn parse_lex_bound(arg: &[u8]) -> Result<Lex, CmdError> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Ok(Lex::Min),
        Some(b'+') if arg.len() == 1 => Ok(Lex::Max),
        Some(b'[') => Ok(Lex::In(arg[1..].to_vec())),
        Some(b'(') => Ok(Lex::Ex(arg[1..].to_vec())),
        _ => Err(CmdError::err("min or max not valid string range item")),
    }
}

fn above_min(m: &[u8], min: &Lex) -> bool {
    match min {
        Lex::Min => true,
        Lex::Max => false,
        Lex::In(v) => m >= v.as_slice(),
        Lex::Ex(v) => m > v.as_slice(),
    }
}

fn below_max(m: &[u8], max: &Lex) -> bool {
    match max {
        Lex::Max => true,
        Lex::Min => false,
        Lex::In(v) => m <= v.as_slice(),
        Lex::Ex(v) => m < v.as_slice(),
    }
}

fn score_above(s: f64, min: Bound<f64>) -> bool {
    match min {
        Bound::Included(v) => s >= v,
        Bound::Excluded(v) => s > v,
        Bound::Unbounded => true,
    }
}

fn score_below(s: f64, max: Bound<f64>) -> bool {
    match max {
        Bound::Included(v) => s <= v,
        Bound::Excluded(v) => s < v,
        Bound::Unbounded => true,
    }
}

/// Which members a range command selects.
#[derive(Debug, Clone)]
enum Selection {
    Rank(i64, i64),
    Score { min: Bound<f64>, max: Bound<f64> },
    Lex { min: Lex, max: Lex },
}

#[derive(Debug, Clone)]
struct Range {
    sel: Selection,
    rev: bool,
    /// LIMIT offset count (count < 0: all).
    limit: Option<(i64, i64)>,
}

impl Range {
    /// Reads `start stop` as ranks, scores or lex bounds; with `rev`, `start` is the upper end
    /// for scores and lex (as ZRANGE … REV and the ZREV…BY… commands take them).
    fn bounds(kind: u8, start: &[u8], stop: &[u8], rev: bool) -> Result<Selection, CmdError> {
        let (lo, hi) = if rev { (stop, start) } else { (start, stop) };
        Ok(match kind {
            BY_RANK => Selection::Rank(
                crate::resp::codec::parse_i64(start).ok_or(CmdError::NotInteger)?,
                crate::resp::codec::parse_i64(stop).ok_or(CmdError::NotInteger)?,
            ),
            BY_SCORE => Selection::Score {
                min: parse_score_bound(lo)?,
                max: parse_score_bound(hi)?,
            },
            _ => Selection::Lex {
                min: parse_lex_bound(lo)?,
                max: parse_lex_bound(hi)?,
            },
        })
    }

    /// The selected (member, score) pairs, in reply order.
    fn select(
        &self,
        view: &mut dyn KvView,
        c: &Collection,
    ) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
        let (offset, count) = self.limit.unwrap_or((0, -1));
        if offset < 0 {
            return Ok(Vec::new());
        }
        let mut skip = offset as u64;
        let count = if count < 0 { u64::MAX } else { count as u64 };
        let mut out = Vec::new();
        if count == 0 {
            return Ok(out);
        }
        match &self.sel {
            Selection::Rank(start, stop) => {
                let Some((a, b)) = clamp(*start, *stop, c.len) else {
                    return Ok(out);
                };
                return zset::by_rank(view, c, a, b, self.rev);
            }
            Selection::Score { min, max } => {
                let (min, max) = (*min, *max);
                let start = if self.rev { max } else { min };
                zset::walk(view, c, self.rev, start, &mut |m, s| {
                    let inside = if self.rev {
                        score_above(s, min)
                    } else {
                        score_below(s, max)
                    };
                    if !inside {
                        return false;
                    }
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    out.push((m.to_vec(), s));
                    (out.len() as u64) < count
                })?;
            }
            Selection::Lex { min, max } => {
                zset::walk(view, c, self.rev, Bound::Unbounded, &mut |m, s| {
                    let (started, inside) = if self.rev {
                        (below_max(m, max), above_min(m, min))
                    } else {
                        (above_min(m, min), below_max(m, max))
                    };
                    if !started {
                        return true;
                    }
                    if !inside {
                        return false;
                    }
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    out.push((m.to_vec(), s));
                    (out.len() as u64) < count
                })?;
            }
        }
        Ok(out)
    }
}

const BY_RANK: u8 = 0;
const BY_SCORE: u8 = 1;
const BY_LEX: u8 = 2;

/// ZRANGE's options after `start stop`: `[BYSCORE | BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]` (`store`: ZRANGESTORE, which has no WITHSCORES).
fn parse_zrange(args: &mut ArgCursor<'_>, store: bool) -> Result<(Range, bool), CmdError> {
    let start = args.next_bytes()?.clone();
    let stop = args.next_bytes()?.clone();
    let (mut kind, mut rev, mut limit, mut with_scores) = (BY_RANK, false, None, false);
    while !args.is_empty() {
        if args.eat("BYSCORE") {
            kind = BY_SCORE;
        } else if args.eat("BYLEX") {
            kind = BY_LEX;
        } else if args.eat("REV") {
            rev = true;
        } else if args.eat("LIMIT") {
            limit = Some((args.next_i64()?, args.next_i64()?));
        } else if !store && args.eat("WITHSCORES") {
            with_scores = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if limit.is_some() && kind == BY_RANK {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == BY_LEX {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let sel = Range::bounds(kind, &start, &stop, rev)?;
    Ok((Range { sel, rev, limit }, with_scores))
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub struct ZRange {
    key: Bytes,
    range: Range,
    with_scores: bool,
}

impl ReadCommand for ZRange {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let (range, with_scores) = parse_zrange(args, false)?;
        Ok(ZRange {
            key,
            range,
            with_scores,
        })
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let items = match load_zset(view, db, &self.key)? {
            Some(c) => self.range.select(view, &c)?,
            None => Vec::new(),
        };
        Ok(scored_reply(items, self.with_scores))
    }
}

/// The legacy range commands: `ZREVRANGE key start stop [WITHSCORES]`,
/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`, `ZREVRANGEBYSCORE key max min
/// …`, `ZRANGEBYLEX key min max [LIMIT offset count]`, `ZREVRANGEBYLEX key max min …`.
pub struct ZRangeLegacy<const KIND: u8, const REV: bool>(ZRange);

impl<const KIND: u8, const REV: bool> ReadCommand for ZRangeLegacy<KIND, REV> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let start = args.next_bytes()?.clone();
        let stop = args.next_bytes()?.clone();
        let (mut limit, mut with_scores) = (None, false);
        while !args.is_empty() {
            if KIND != BY_LEX && args.eat("WITHSCORES") {
                with_scores = true;
            } else if KIND != BY_RANK && args.eat("LIMIT") {
                limit = Some((args.next_i64()?, args.next_i64()?));
            } else {
                return Err(CmdError::Syntax);
            }
        }
        let sel = Range::bounds(KIND, &start, &stop, REV)?;
        Ok(ZRangeLegacy(ZRange {
            key,
            range: Range {
                sel,
                rev: REV,
                limit,
            },
            with_scores,
        }))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        self.0.read(db, view)
    }
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
pub struct ZRangeStore {
    dst: Bytes,
    src: Bytes,
    range: Range,
}

impl WriteCommand for ZRangeStore {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::EachOrDel(Event::new("zrangestore", class::ZSET))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let dst = args.next_bytes()?.clone();
        let src = args.next_bytes()?.clone();
        let (range, _) = parse_zrange(args, true)?;
        Ok(ZRangeStore { dst, src, range })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let items = match load_zset(w, env.db, &self.src)? {
            Some(c) => self.range.select(w, &c)?,
            None => Vec::new(),
        };
        store_zset(w, env.db, &self.dst, &items)?;
        Ok(Reply::Int(items.len() as i64))
    }
}

/// Replaces `key` with a sorted set of `items` (deletes it when there are none).
fn store_zset(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    items: &[(Vec<u8>, f64)],
) -> Result<(), CmdError> {
    if items.is_empty() {
        w.delete(db, key)?;
        return Ok(());
    }
    let mut c = Collection::new(KeyType::ZSet, w.new_version(KeyType::ZSet)?);
    for (m, s) in items {
        zset::insert(w, db, key, &mut c, m, *s)?;
    }
    types::save(w, db, key, &c)
}

// ------------------------------------------------------------------ writes

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
pub struct ZAdd {
    key: Bytes,
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
    pairs: Vec<(f64, Bytes)>,
}

impl WriteCommand for ZAdd {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(if self.incr {
            Event::new("zincr", class::ZSET)
        } else {
            Event::new("zadd", class::ZSET)
        })
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let mut z = ZAdd {
            key,
            nx: false,
            xx: false,
            gt: false,
            lt: false,
            ch: false,
            incr: false,
            pairs: Vec::new(),
        };
        loop {
            if args.eat("NX") {
                z.nx = true;
            } else if args.eat("XX") {
                z.xx = true;
            } else if args.eat("GT") {
                z.gt = true;
            } else if args.eat("LT") {
                z.lt = true;
            } else if args.eat("CH") {
                z.ch = true;
            } else if args.eat("INCR") {
                z.incr = true;
            } else {
                break;
            }
        }
        let rest = args.rest();
        if rest.is_empty() || !rest.len().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        if z.nx && z.xx {
            return Err(CmdError::err(
                "XX and NX options at the same time are not compatible",
            ));
        }
        if (z.nx && (z.gt || z.lt)) || (z.gt && z.lt) {
            return Err(CmdError::err(
                "GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        if z.incr && rest.len() > 2 {
            return Err(CmdError::err(
                "INCR option supports a single increment-element pair",
            ));
        }
        for pair in rest.chunks_exact(2) {
            let score = super::string::parse_float(&pair[0]).ok_or_else(not_float)?;
            z.pairs.push((score, pair[1].clone()));
        }
        Ok(z)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let existing = load_zset(w, env.db, &self.key)?;
        if existing.is_none() && self.xx {
            return Ok(if self.incr { Reply::Nil } else { Reply::Int(0) });
        }
        let mut c = match existing {
            Some(c) => c,
            None => Collection::new(KeyType::ZSet, w.new_version(KeyType::ZSet)?),
        };
        let before = existing;
        let (mut added, mut changed) = (0, 0);
        let mut incr_result = None;
        for (score, member) in &self.pairs {
            let old = if c.len == 0 {
                None
            } else {
                zset::score(w, &c, member)?
            };
            let new = match (old, self.incr) {
                (Some(o), true) => o + score,
                _ => *score,
            };
            if new.is_nan() {
                return Err(CmdError::err("resulting score is not a number (NaN)"));
            }
            let allowed = match old {
                None => !self.xx,
                Some(o) => !(self.nx || (self.gt && new <= o) || (self.lt && new >= o)),
            };
            if !allowed {
                continue;
            }
            incr_result = Some(new);
            match old {
                None => added += 1,
                Some(o) if o != new => changed += 1,
                Some(_) => continue,
            }
            zset::insert(w, env.db, &self.key, &mut c, member, new)?;
        }
        if added + changed > 0 {
            types::save_changed(w, env.db, &self.key, before.as_ref(), &c)?;
        }
        Ok(if self.incr {
            incr_result.map_or(Reply::Nil, Reply::Double)
        } else if self.ch {
            Reply::Int(added + changed)
        } else {
            Reply::Int(added)
        })
    }
}

/// `ZINCRBY key increment member`
pub struct ZIncrBy(Bytes, f64, Bytes);

impl WriteCommand for ZIncrBy {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("zincr", class::ZSET))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let by = args.next_f64("value is not a valid float")?;
        Ok(ZIncrBy(key, by, args.next_bytes()?.clone()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let mut c = types::load_or_new(w, env.db, &self.0, KeyType::ZSet)?;
        let before = c;
        let old = if c.len == 0 {
            None
        } else {
            zset::score(w, &c, &self.2)?
        };
        let new = old.unwrap_or(0.0) + self.1;
        if new.is_nan() {
            return Err(CmdError::err("resulting score is not a number (NaN)"));
        }
        zset::insert(w, env.db, &self.0, &mut c, &self.2, new)?;
        types::save_changed(w, env.db, &self.0, Some(&before), &c)?;
        Ok(Reply::Double(new))
    }
}

/// `ZREM key member [member ...]`
pub struct ZRem(Bytes, Vec<Bytes>);

impl WriteCommand for ZRem {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("zrem", class::ZSET))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ZRem(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_zset(w, env.db, &self.0)? else {
            return Ok(Reply::Int(0));
        };
        let mut removed = 0;
        for m in &self.1 {
            removed += i64::from(zset::remove(w, env.db, &self.0, &mut c, m)?);
        }
        if removed > 0 {
            types::save(w, env.db, &self.0, &c)?;
        }
        Ok(Reply::Int(removed))
    }
}

/// `ZREMRANGEBYRANK key start stop`, `ZREMRANGEBYSCORE key min max`, `ZREMRANGEBYLEX key min
/// max`
pub struct ZRemRange<const KIND: u8>(Bytes, Range);

impl<const KIND: u8> WriteCommand for ZRemRange<KIND> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(ZREMRANGE_EVENTS[KIND as usize])
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let start = args.next_bytes()?.clone();
        let stop = args.next_bytes()?.clone();
        let sel = Range::bounds(KIND, &start, &stop, false)?;
        Ok(ZRemRange(
            key,
            Range {
                sel,
                rev: false,
                limit: None,
            },
        ))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = load_zset(w, env.db, &self.0)? else {
            return Ok(Reply::Int(0));
        };
        let items = self.1.select(w, &c)?;
        for (m, _) in &items {
            zset::remove(w, env.db, &self.0, &mut c, m)?;
        }
        if !items.is_empty() {
            types::save(w, env.db, &self.0, &c)?;
        }
        Ok(Reply::Int(items.len() as i64))
    }
}

/// Pops up to `count` lowest (or highest, `max`) members and saves the set.
pub fn pop_scored(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    max: bool,
    count: u64,
) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    if count == 0 || c.len == 0 {
        return Ok(Vec::new());
    }
    let items = zset::by_rank(w, c, 0, count.min(c.len) - 1, max)?;
    for (m, _) in &items {
        zset::remove(w, db, key, c, m)?;
    }
    types::save(w, db, key, c)?;
    Ok(items)
}

/// `ZPOPMIN` / `ZPOPMAX key [count]`
pub struct ZPop<const MAX: bool>(Bytes, Option<u64>);

impl<const MAX: bool> WriteCommand for ZPop<MAX> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(zset_pop_event(MAX))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        Ok(ZPop(key, args.optional_count()?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let items = match load_zset(w, env.db, &self.0)? {
            Some(mut c) => pop_scored(w, env.db, &self.0, &mut c, MAX, self.1.unwrap_or(1))?,
            None => Vec::new(),
        };
        Ok(match self.1 {
            // Without a count the reply is one flat [member, score] in both protocols.
            None => Reply::Array(
                items
                    .into_iter()
                    .flat_map(|(m, s)| [Reply::bulk(m), Reply::Double(s)])
                    .collect(),
            ),
            Some(_) => scored_reply(items, true),
        })
    }
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`
pub struct ZMPop {
    pub keys: Vec<Bytes>,
    pub max: bool,
    pub count: u64,
}

impl ZMPop {
    pub fn parse_args(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let keys = parse_numkeys(args, NumKeys::Pop)?;
        let max = args.next_choice(&[("MIN", false), ("MAX", true)])?;
        let count = parse_mpop_count(args)?;
        Ok(ZMPop { keys, max, count })
    }

    /// Pops from the first non-empty sorted set: `Some([key, [[member, score], ...]])`.
    pub fn try_pop(&self, db: u32, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        for key in &self.keys {
            if let Some(mut c) = load_zset(w, db, key)? {
                let items = pop_scored(w, db, key, &mut c, self.max, self.count)?;
                return Ok(Some(Reply::Array(vec![
                    Reply::bulk(key.clone()),
                    Reply::Array(
                        items
                            .into_iter()
                            .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]))
                            .collect(),
                    ),
                ])));
            }
        }
        Ok(None)
    }
}

impl WriteCommand for ZMPop {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(zset_pop_event(self.max))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Self::parse_args(args)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        Ok(self.try_pop(env.db, w)?.unwrap_or(Reply::NilArray))
    }
}

// ------------------------------------------------------------------ reads

/// `ZCARD key`
pub struct ZCard(Bytes);

impl ReadCommand for ZCard {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ZCard(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        Ok(Reply::Int(
            load_zset(view, db, &self.0)?.map_or(0, |c| c.len) as i64,
        ))
    }
}

/// `ZSCORE key member`
pub struct ZScore(Bytes, Bytes);

impl ReadCommand for ZScore {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ZScore(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = load_zset(view, db, &self.0)? else {
            return Ok(Reply::Nil);
        };
        Ok(zset::score(view, &c, &self.1)?.map_or(Reply::Nil, Reply::Double))
    }
}

/// `ZMSCORE key member [member ...]`
pub struct ZMScore(Bytes, Vec<Bytes>);

impl ReadCommand for ZMScore {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ZMScore(args.next_bytes()?.clone(), args.rest().to_vec()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let c = load_zset(view, db, &self.0)?;
        let mut out = Vec::with_capacity(self.1.len());
        for m in &self.1 {
            out.push(match &c {
                Some(c) => zset::score(view, c, m)?.map_or(Reply::Nil, Reply::Double),
                None => Reply::Nil,
            });
        }
        Ok(Reply::Array(out))
    }
}

/// `ZRANK` / `ZREVRANK key member [WITHSCORE]`
pub struct ZRank<const REV: bool>(Bytes, Bytes, bool);

impl<const REV: bool> ReadCommand for ZRank<REV> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let member = args.next_bytes()?.clone();
        let with_score = args.eat("WITHSCORE");
        args.finish()?;
        Ok(ZRank(key, member, with_score))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let found = match load_zset(view, db, &self.0)? {
            Some(c) => zset::rank(view, &c, &self.1, REV)?,
            None => None,
        };
        Ok(match found {
            None if self.2 => Reply::NilArray,
            None => Reply::Nil,
            Some((rank, score)) if self.2 => {
                Reply::Array(vec![Reply::Int(rank as i64), Reply::Double(score)])
            }
            Some((rank, _)) => Reply::Int(rank as i64),
        })
    }
}

/// `ZCOUNT key min max` and `ZLEXCOUNT key min max`
pub struct ZCount<const KIND: u8>(Bytes, Range);

impl<const KIND: u8> ReadCommand for ZCount<KIND> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let start = args.next_bytes()?.clone();
        let stop = args.next_bytes()?.clone();
        let sel = Range::bounds(KIND, &start, &stop, false)?;
        Ok(ZCount(
            key,
            Range {
                sel,
                rev: false,
                limit: None,
            },
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let n = match load_zset(view, db, &self.0)? {
            Some(c) => self.1.select(view, &c)?.len(),
            None => 0,
        };
        Ok(Reply::Int(n as i64))
    }
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`
pub struct ZRandMember {
    key: Bytes,
    count: Option<i64>,
    with_scores: bool,
}

impl ReadCommand for ZRandMember {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let count = args.optional_i64()?;
        let with_scores = args.eat("WITHSCORES");
        args.finish()?;
        check_random_count(count, with_scores)?;
        Ok(ZRandMember {
            key,
            count,
            with_scores,
        })
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = load_zset(view, db, &self.key)? else {
            return Ok(match self.count {
                None => Reply::Nil,
                Some(_) => Reply::Array(Vec::new()),
            });
        };
        let picked = random_pick(view, &c, self.count.unwrap_or(1))?;
        let items: Vec<(Vec<u8>, f64)> = picked
            .into_iter()
            .map(|(m, v)| (m, zset::score_of(&v)))
            .collect();
        Ok(match self.count {
            None => items
                .into_iter()
                .next()
                .map_or(Reply::Nil, |(m, _)| Reply::bulk(m)),
            Some(_) => scored_reply(items, self.with_scores),
        })
    }
}

// ------------------------------------------------------------------ set algebra

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ZOp {
    Union,
    Inter,
    Diff,
}

const ZOPS: [ZOp; 3] = [ZOp::Union, ZOp::Inter, ZOp::Diff];

/// Members with scores.
type Scored = Vec<(Vec<u8>, f64)>;

/// The inputs and options of ZUNION / ZINTER / ZDIFF (and STORE forms).
struct Algebra {
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
}

impl Algebra {
    fn parse(args: &mut ArgCursor<'_>, op: ZOp, store: bool) -> Result<Algebra, CmdError> {
        let name = match (op, store) {
            (ZOp::Union, false) => "zunion",
            (ZOp::Inter, false) => "zinter",
            (ZOp::Diff, false) => "zdiff",
            (ZOp::Union, true) => "zunionstore",
            (ZOp::Inter, true) => "zinterstore",
            (ZOp::Diff, true) => "zdiffstore",
        };
        let keys = parse_numkeys(args, NumKeys::Algebra(name))?;
        let mut a = Algebra {
            weights: vec![1.0; keys.len()],
            keys,
            aggregate: Aggregate::Sum,
            with_scores: false,
        };
        while !args.is_empty() {
            // WEIGHTS needs one weight per key, else it reads as a syntax error.
            if op != ZOp::Diff && args.remaining() > a.keys.len() && args.eat("WEIGHTS") {
                for w in a.weights.iter_mut() {
                    *w = args
                        .next_bytes()
                        .ok()
                        .and_then(|b| super::string::parse_float(b))
                        .ok_or_else(|| CmdError::err("weight value is not a float"))?;
                }
            } else if op != ZOp::Diff && args.eat("AGGREGATE") {
                a.aggregate = args.next_choice(&[
                    ("SUM", Aggregate::Sum),
                    ("MIN", Aggregate::Min),
                    ("MAX", Aggregate::Max),
                ])?;
            } else if !store && args.eat("WITHSCORES") {
                a.with_scores = true;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(a)
    }

    /// Every input as (member, score) pairs; sets count with score 1. `None` for a missing key.
    fn inputs(&self, view: &mut dyn KvView, db: u32) -> Result<Vec<Option<Scored>>, CmdError> {
        let mut out = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            let Some(row) = view.live_row(db, key)? else {
                out.push(None);
                continue;
            };
            let c = Collection::decode(&row).ok_or(CmdError::WrongType)?;
            out.push(Some(match c.kind {
                KeyType::ZSet => zset::by_rank(view, &c, 0, c.len.saturating_sub(1), false)?,
                KeyType::Set => set::members(view, &c)?
                    .into_iter()
                    .map(|m| (m, 1.0))
                    .collect(),
                _ => return Err(CmdError::WrongType),
            }));
        }
        Ok(out)
    }

    fn combine(&self, op: ZOp, inputs: Vec<Option<Scored>>) -> Scored {
        let agg = |a: f64, b: f64| match self.aggregate {
            Aggregate::Sum => {
                let s = a + b;
                // inf + -inf: Redis takes 0.
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
            Aggregate::Min => a.min(b),
            Aggregate::Max => a.max(b),
        };
        let weighted = |s: f64, w: f64| {
            let v = s * w;
            if v.is_nan() {
                0.0
            } else {
                v
            }
        };
        let mut result: Vec<(Vec<u8>, f64)> = match op {
            ZOp::Union => {
                let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
                for (input, w) in inputs.into_iter().zip(&self.weights) {
                    for (m, s) in input.into_iter().flatten() {
                        let v = weighted(s, *w);
                        acc.entry(m).and_modify(|e| *e = agg(*e, v)).or_insert(v);
                    }
                }
                acc.into_iter().collect()
            }
            ZOp::Inter => {
                if inputs.iter().any(Option::is_none) {
                    return Vec::new();
                }
                let mut inputs: Vec<(HashMap<Vec<u8>, f64>, f64)> = inputs
                    .into_iter()
                    .flatten()
                    .zip(self.weights.iter().copied())
                    .map(|(i, w)| (i.into_iter().collect(), w))
                    .collect();
                let Some((first, w0)) = (!inputs.is_empty()).then(|| inputs.remove(0)) else {
                    return Vec::new();
                };
                first
                    .into_iter()
                    .filter_map(|(m, s)| {
                        let mut v = weighted(s, w0);
                        for (other, w) in &inputs {
                            v = agg(v, weighted(*other.get(&m)?, *w));
                        }
                        Some((m, v))
                    })
                    .collect()
            }
            ZOp::Diff => {
                let mut it = inputs.into_iter();
                let Some(Some(first)) = it.next() else {
                    return Vec::new();
                };
                let others: Vec<HashMap<Vec<u8>, f64>> =
                    it.flatten().map(|i| i.into_iter().collect()).collect();
                first
                    .into_iter()
                    .filter(|(m, _)| others.iter().all(|o| !o.contains_key(m)))
                    .collect()
            }
        };
        result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        result
    }
}

/// `ZUNION`, `ZINTER`, `ZDIFF numkeys key [key ...] [WEIGHTS …] [AGGREGATE …] [WITHSCORES]`
pub struct ZCombine<const OP: usize>(Algebra);

impl<const OP: usize> ReadCommand for ZCombine<OP> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ZCombine(Algebra::parse(args, ZOPS[OP], false)?))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let inputs = self.0.inputs(view, db)?;
        let result = self.0.combine(ZOPS[OP], inputs);
        Ok(scored_reply(result, self.0.with_scores))
    }
}

/// `ZUNIONSTORE`, `ZINTERSTORE`, `ZDIFFSTORE destination numkeys key [key ...] …`
pub struct ZCombineStore<const OP: usize>(Bytes, Algebra);

impl<const OP: usize> WriteCommand for ZCombineStore<OP> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::EachOrDel(ZSET_STORE_EVENTS[OP])
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let dst = args.next_bytes()?.clone();
        Ok(ZCombineStore(dst, Algebra::parse(args, ZOPS[OP], true)?))
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let inputs = self.1.inputs(w, env.db)?;
        let result = self.1.combine(ZOPS[OP], inputs);
        store_zset(w, env.db, &self.0, &result)?;
        Ok(Reply::Int(result.len() as i64))
    }
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
pub struct ZInterCard(Algebra, usize);

impl ReadCommand for ZInterCard {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let keys = parse_numkeys(args, NumKeys::Card)?;
        let limit = parse_limit(args)?;
        Ok(ZInterCard(
            Algebra {
                weights: vec![1.0; keys.len()],
                keys,
                aggregate: Aggregate::Sum,
                with_scores: false,
            },
            limit,
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let inputs = self.0.inputs(view, db)?;
        let n = self.0.combine(ZOp::Inter, inputs).len();
        Ok(Reply::Int(
            if self.1 == 0 { n } else { n.min(self.1) } as i64
        ))
    }
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
pub type ZScan = MemberScan<{ KeyType::ZSet as u8 }>;

pub const RANK: u8 = BY_RANK;
pub const SCORE: u8 = BY_SCORE;
pub const LEX: u8 = BY_LEX;

/// `zpopmin` or `zpopmax`.
pub fn zset_pop_event(max: bool) -> Event {
    if max {
        Event::new("zpopmax", class::ZSET)
    } else {
        Event::new("zpopmin", class::ZSET)
    }
}

/// Events of ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE (by their `OP`).
const ZSET_STORE_EVENTS: [Event; 3] = [
    Event::new("zunionstore", class::ZSET),
    Event::new("zinterstore", class::ZSET),
    Event::new("zdiffstore", class::ZSET),
];

/// Events of ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX (by their `KIND`).
const ZREMRANGE_EVENTS: [Event; 3] = [
    Event::new("zremrangebyrank", class::ZSET),
    Event::new("zremrangebyscore", class::ZSET),
    Event::new("zremrangebylex", class::ZSET),
];
