//! SCAN, HSCAN/SSCAN/ZSCAN, RANDOMKEY, OBJECT and MEMORY USAGE: walking and describing the
//! keyspace, and random picks from collections.
//!
//! Keys sit in key order in the store, so a SCAN cursor stands for "resume at this key". The
//! cursor number a client sees is an id in a bounded table of resume points: a key present for
//! the whole scan is returned (it lies after the resume point or was already passed), as Redis
//! guarantees. An unknown or evicted cursor restarts at the beginning (duplicates are allowed).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

use super::args::is_keyword;
use super::server::help_reply;
use super::{ArgCursor, CmdError, Command, Ctx};
use crate::bus::glob::glob_match;
use crate::engine::now_ms;
use crate::kv::chunk;
use crate::kv::meta::{self, Collection, KeyType};
use crate::kv::types::{self, hash, zset};
use crate::kv::view::KvView;
use crate::resp::codec::parse_i64;
use crate::resp::reply::format_double;
use crate::resp::Reply;

/// Live cursors kept; the oldest is forgotten past this.
const MAX_CURSORS: usize = 64 * 1024;

#[derive(Debug, Default)]
struct CursorTable {
    next_id: u64,
    resume: HashMap<u64, (u32, Vec<u8>)>,
    order: VecDeque<u64>,
}

/// Resume points of SCAN cursors, per server.
#[derive(Debug, Default)]
pub struct ScanCursors(Mutex<CursorTable>);

impl ScanCursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, CursorTable> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where cursor `id` resumes in `db` (empty = from the start).
    fn resume_point(&self, id: u64, db: u32) -> Vec<u8> {
        match self.lock().resume.get(&id) {
            Some((cursor_db, key)) if *cursor_db == db => key.clone(),
            _ => Vec::new(),
        }
    }

    fn save(&self, db: u32, key: Vec<u8>) -> u64 {
        let mut t = self.lock();
        t.next_id += 1;
        let id = t.next_id;
        t.resume.insert(id, (db, key));
        t.order.push_back(id);
        while t.order.len() > MAX_CURSORS {
            if let Some(old) = t.order.pop_front() {
                t.resume.remove(&old);
            }
        }
        id
    }
}

/// Takes `MATCH pattern` or `COUNT n` (n ≥ 1) if next; false if neither is.
fn take_scan_option(
    args: &mut ArgCursor<'_>,
    pattern: &mut Option<Bytes>,
    count: &mut usize,
) -> Result<bool, CmdError> {
    if args.eat("MATCH") {
        *pattern = Some(args.next_bytes()?.clone());
    } else if args.eat("COUNT") {
        let n = args.next_i64()?;
        if n < 1 {
            return Err(CmdError::Syntax);
        }
        *count = usize::try_from(n).unwrap_or(usize::MAX);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
pub struct Scan {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    kind: Option<Bytes>,
}

impl Command for Scan {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut scan = Scan {
            cursor: args.next_cursor()?,
            pattern: None,
            count: 10,
            kind: None,
        };
        while !args.is_empty() {
            if take_scan_option(args, &mut scan.pattern, &mut scan.count)? {
                continue;
            } else if args.eat("TYPE") {
                scan.kind = Some(args.next_bytes()?.clone());
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(scan)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let db = ctx.client.db;
        let from = if self.cursor == 0 {
            Vec::new()
        } else {
            ctx.server.scan_cursors.resume_point(self.cursor, db)
        };
        let now = now_ms();
        let (mut visited, mut keys, mut resume) = (0usize, Vec::new(), None);
        ctx.snapshot()?.scan(db, &from, |key, row| {
            if visited == self.count {
                resume = Some(key.to_vec());
                return false;
            }
            visited += 1;
            let type_ok = self
                .kind
                .as_ref()
                .is_none_or(|k| meta::key_type(row).is_some_and(|t| is_keyword(k, t.name())));
            let pattern_ok = self.pattern.as_ref().is_none_or(|p| glob_match(p, key));
            if type_ok && pattern_ok && !meta::is_expired(row, now) {
                keys.push(Reply::bulk(key.to_vec()));
            }
            true
        })?;
        let next = resume.map_or(0, |key| ctx.server.scan_cursors.save(db, key));
        Ok(Reply::Array(vec![
            Reply::bulk(next.to_string()),
            Reply::Array(keys),
        ]))
    }
}

/// `RANDOMKEY`: a live key near a random point between the first and last keys.
///
/// The store keeps keys in order, not in a hash table, so the point is drawn uniformly between
/// the first and the last key (as 64-bit prefixes) and the key just after or just before it is
/// taken, each half the time: every key can come out, keys next to wide gaps more often.
pub struct RandomKey;

impl Command for RandomKey {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(RandomKey)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let db = ctx.client.db;
        let now = now_ms();
        let snapshot = ctx.snapshot()?;
        let mut first = None;
        snapshot.scan(db, b"", |key, _| {
            first = Some(prefix64(key));
            false
        })?;
        let mut last = None;
        snapshot.scan_back(db, None, |key, _| {
            last = Some(prefix64(key));
            false
        })?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Reply::Nil);
        };
        for _ in 0..16 {
            let r = random_u64();
            let point = first + r % (last - first).saturating_add(1).max(1);
            let point = point.to_be_bytes();
            let mut found = None;
            let mut take = |key: &[u8], row: &[u8]| {
                if meta::is_expired(row, now) {
                    return true;
                }
                found = Some(key.to_vec());
                false
            };
            if r & (1 << 63) == 0 {
                snapshot.scan(db, &point, &mut take)?;
            } else {
                snapshot.scan_back(db, Some(&point), &mut take)?;
            }
            if let Some(key) = found {
                return Ok(Reply::bulk(key));
            }
        }
        // Mostly expired keys around the random points: take the first live key, if any.
        let mut found = None;
        snapshot.scan(db, b"", |key, row| {
            if meta::is_expired(row, now) {
                return true;
            }
            found = Some(key.to_vec());
            false
        })?;
        Ok(found.map_or(Reply::Nil, Reply::bulk))
    }
}

/// The first 8 bytes of a key as a big-endian number (shorter keys padded with zeros).
fn prefix64(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Redis's encoding names for a string value.
fn string_encoding(value: &[u8]) -> &'static str {
    if value.len() <= 20 && parse_i64(value).is_some() {
        "int"
    } else if value.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// `OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ key` and `OBJECT HELP`
pub struct Object {
    sub: ObjectSub,
    key: Bytes,
}

#[derive(Clone, Copy)]
enum ObjectSub {
    Encoding,
    RefCount,
    IdleTime,
    Freq,
}

impl Object {
    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let db = ctx.client.db;
        let Some(row) = ctx.live_row_cached(db, &self.key)? else {
            return Ok(Reply::Nil);
        };
        Ok(match self.sub {
            ObjectSub::Encoding => Reply::bulk_str(match meta::key_type(&row) {
                Some(KeyType::String) => string_encoding(meta::payload(&row)),
                // Members are always subkeys: the names of Redis's large encodings.
                Some(KeyType::Hash | KeyType::Set) => "hashtable",
                Some(KeyType::List) => "quicklist",
                Some(KeyType::ZSet) => "skiplist",
                // A module type in Redis: its objects report the raw encoding.
                Some(KeyType::VectorSet) | None => "raw",
            }),
            ObjectSub::RefCount => Reply::Int(1),
            // Access times are not tracked yet: every key reads as just used.
            ObjectSub::IdleTime => Reply::Int(0),
            ObjectSub::Freq => {
                return Err(CmdError::err(
                    "An LFU maxmemory policy is not selected, access frequency not tracked. \
                     Please note that when switching between policies at runtime LRU and LFU \
                     data will take some time to adjust.",
                ))
            }
        })
    }
}

macro_rules! object_sub {
    ($name:ident, $sub:expr) => {
        /// An `OBJECT` subcommand.
        pub struct $name(Object);

        impl Command for $name {
            fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
                Ok($name(Object {
                    sub: $sub,
                    key: args.next_bytes()?.clone(),
                }))
            }

            fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
                self.0.exec(ctx)
            }
        }
    };
}

object_sub!(ObjectEncoding, ObjectSub::Encoding);
object_sub!(ObjectRefCount, ObjectSub::RefCount);
object_sub!(ObjectIdleTime, ObjectSub::IdleTime);
object_sub!(ObjectFreq, ObjectSub::Freq);

/// `OBJECT HELP`
pub struct ObjectHelp;

impl Command for ObjectHelp {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ObjectHelp)
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(help_reply(
            "OBJECT",
            &[
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
            ],
        ))
    }
}

/// `MEMORY USAGE key [SAMPLES count]`: the bytes the key's row takes in the store, plus the
/// per-entry overhead of the B-tree (an estimate, as Redis's is).
/// Collections estimate from `SAMPLES` members (Redis's default 5; 0 = all of them).
pub struct MemoryUsage(Bytes, u64);

const DEFAULT_SAMPLES: u64 = 5;

/// Bytes of B-tree bookkeeping per entry (offsets, lengths), an estimate.
const ENTRY_OVERHEAD: usize = 16;

impl Command for MemoryUsage {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let mut samples = DEFAULT_SAMPLES;
        if !args.is_empty() {
            if !args.eat("SAMPLES") {
                return Err(CmdError::Syntax);
            }
            // Negative counts read as "all", as Redis's unsigned cast does.
            samples = u64::try_from(args.next_i64()?).unwrap_or(0);
            args.finish()?;
        }
        Ok(MemoryUsage(key, samples))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let db = ctx.client.db;
        let Some(row) = ctx.live_row_cached(db, &self.0)? else {
            return Ok(Reply::Nil);
        };
        let mut bytes = (4 + self.0.len() + row.len() + ENTRY_OVERHEAD) as u64;
        if let Some(c) = Collection::decode(&row) {
            // Members: the average of the first `samples` subkeys, times the count.
            let (lo, hi) = types::member_span(&c);
            let limit = if self.1 == 0 { u64::MAX } else { self.1 };
            let (mut seen, mut sampled) = (0u64, 0u64);
            ctx.sub_scan(&lo, &hi, false, &mut |k, v| {
                // A list's rows are chunks of elements (and its long elements' own rows).
                seen += match c.kind {
                    KeyType::List => chunk::elements_in(k, v),
                    _ => 1,
                };
                sampled += (k.len() + v.len() + ENTRY_OVERHEAD) as u64;
                seen < limit
            })?;
            // Sorted sets keep a second (score-ordered) entry per member.
            let per_member = if c.kind == KeyType::ZSet { 2 } else { 1 };
            if let Some(average) = sampled.checked_div(seen) {
                bytes += average * c.len * per_member;
            }
        }
        Ok(Reply::Int(bytes as i64))
    }
}

/// `MEMORY HELP`
pub struct MemoryHelp;

impl Command for MemoryHelp {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(MemoryHelp)
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(help_reply(
            "MEMORY",
            &[
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value.",
            ],
        ))
    }
}

/// A small fast generator (splitmix64) seeded from the clock and the process's hash keys.
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}

/// Members picked at random: (member, stored value).
pub type Picks = Vec<(Vec<u8>, Vec<u8>)>;

impl Rng {
    pub fn new() -> Rng {
        Rng(random_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The most members a negative count may ask for (with repeats). Redis has no bound and
/// spends as long as asked building the reply; Luma refuses beyond this.
const MAX_REPEATED_PICKS: u64 = 1 << 24;

/// Checks the count of SRANDMEMBER / HRANDFIELD / ZRANDMEMBER: Redis's range limits (half the
/// range, a quarter with values or scores, which double the reply), and Luma's bound on
/// repeats.
pub fn check_random_count(count: Option<i64>, with_values: bool) -> Result<(), CmdError> {
    let Some(n) = count else { return Ok(()) };
    let out_of_range = n < -(i64::MAX / 2)
        || (with_values && !(-(i64::MAX / 4)..=i64::MAX / 2).contains(&n))
        || (n < 0 && n.unsigned_abs() > MAX_REPEATED_PICKS);
    if out_of_range {
        return Err(CmdError::err("value is out of range"));
    }
    Ok(())
}

/// Collections up to this size are sampled exactly (all members read, uniform choice).
const EXACT_SAMPLE_LEN: u64 = 4096;

/// Random members of a collection as (member, stored value), Redis's count convention:
/// `count > 0` distinct members (at most all), `count < 0` `|count|` members with repeats.
///
/// Small collections are sampled uniformly. Large ones pick members next to random points
/// drawn between the first and last member (past their common prefix): O(log n) a pick, close
/// to uniform when members spread evenly, biased toward members after wide gaps otherwise.
pub fn random_pick(view: &mut dyn KvView, c: &Collection, count: i64) -> Result<Picks, CmdError> {
    let (lo, hi) = types::member_span(c);
    let want = count.unsigned_abs();
    let name = |k: &[u8]| types::member_name(c.kind, k).to_vec();
    let mut rng = Rng::new();
    if c.len <= EXACT_SAMPLE_LEN || (count > 0 && want.saturating_mul(2) >= c.len) {
        let mut all = Vec::with_capacity(c.len as usize);
        view.sub_scan(&lo, &hi, false, &mut |k, v| {
            all.push((name(k), v.to_vec()));
            true
        })?;
        if all.is_empty() {
            return Ok(all);
        }
        if count >= 0 {
            let n = (want as usize).min(all.len());
            for i in 0..n {
                let j = i + rng.below((all.len() - i) as u64) as usize;
                all.swap(i, j);
            }
            all.truncate(n);
            return Ok(all);
        }
        let mut out = Vec::with_capacity(want.min(1 << 16) as usize);
        for _ in 0..want {
            out.push(all[rng.below(all.len() as u64) as usize].clone());
        }
        return Ok(out);
    }
    let mut edge = |rev: bool| -> Result<Vec<u8>, CmdError> {
        let mut found = Vec::new();
        view.sub_scan(&lo, &hi, rev, &mut |k, _| {
            found = k.to_vec();
            false
        })?;
        Ok(found)
    };
    let (first, last) = (edge(false)?, edge(true)?);
    let common = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
    let (base, top) = (prefix64(&first[common..]), prefix64(&last[common..]));
    let mut out = Vec::with_capacity(want.min(1 << 16) as usize);
    let mut seen = std::collections::HashSet::new();
    let mut attempts = 0u64;
    while (out.len() as u64) < want && attempts < want.saturating_mul(16) {
        attempts += 1;
        let point = base + rng.below((top - base).saturating_add(1));
        let mut probe = first[..common].to_vec();
        probe.extend_from_slice(&point.to_be_bytes());
        let mut found = None;
        view.sub_scan(&probe.max(lo.clone()), &hi, false, &mut |k, v| {
            found = Some((name(k), v.to_vec()));
            false
        })?;
        if found.is_none() {
            view.sub_scan(&lo, &hi, true, &mut |k, v| {
                found = Some((name(k), v.to_vec()));
                false
            })?;
        }
        let Some(pick) = found else { break };
        if count > 0 && !seen.insert(pick.0.clone()) {
            continue;
        }
        out.push(pick);
    }
    Ok(out)
}

/// `HSCAN`, `SSCAN`, `ZSCAN key cursor [MATCH pattern] [COUNT count]` (HSCAN also takes
/// NOVALUES). The cursor resumes at a member, as SCAN's resumes at a key.
pub struct MemberScan<const KIND: u8> {
    key: Bytes,
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    no_values: bool,
}

/// Member cursors share SCAN's table under database numbers of their own.
const MEMBER_CURSOR_DB: u32 = 1 << 31;

impl<const KIND: u8> Command for MemberScan<KIND> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let mut scan = MemberScan {
            key,
            cursor: args.next_cursor()?,
            pattern: None,
            count: 10,
            no_values: false,
        };
        while !args.is_empty() {
            if take_scan_option(args, &mut scan.pattern, &mut scan.count)? {
                continue;
            } else if KIND == KeyType::Hash as u8 && args.eat("NOVALUES") {
                scan.no_values = true;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(scan)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let kind = match KIND {
            k if k == KeyType::Hash as u8 => KeyType::Hash,
            k if k == KeyType::Set as u8 => KeyType::Set,
            _ => KeyType::ZSet,
        };
        let db = ctx.client.db;
        let empty = || Reply::Array(vec![Reply::bulk_str("0"), Reply::Array(Vec::new())]);
        let Some(c) = types::load(ctx, db, &self.key, kind)? else {
            return Ok(empty());
        };
        let (lo, hi) = types::member_span(&c);
        let cursor_db = MEMBER_CURSOR_DB | db;
        let resume = match self.cursor {
            0 => Vec::new(),
            id => ctx.server.scan_cursors.resume_point(id, cursor_db),
        };
        // A resume point of another version (the key was replaced) restarts the scan.
        let from = if resume.starts_with(&lo) { resume } else { lo };
        let (mut visited, mut items, mut next) = (0usize, Vec::new(), None);
        let now = now_ms();
        ctx.sub_scan(&from, &hi, false, &mut |k, v| {
            if visited == self.count {
                next = Some(k.to_vec());
                return false;
            }
            visited += 1;
            let member = types::member_name(kind, k);
            let live = kind != KeyType::Hash || !hash::is_past(hash::decode(v).0, now);
            if live && self.pattern.as_ref().is_none_or(|p| glob_match(p, member)) {
                items.push(Reply::bulk(member.to_vec()));
                match kind {
                    KeyType::Hash if !self.no_values => {
                        items.push(Reply::bulk(hash::value_of(v).to_vec()))
                    }
                    KeyType::ZSet => items.push(Reply::bulk(format_double(zset::score_of(v)))),
                    _ => {}
                }
            }
            true
        })?;
        let next = next.map_or(0, |k| ctx.server.scan_cursors.save(cursor_db, k));
        Ok(Reply::Array(vec![
            Reply::bulk(next.to_string()),
            Reply::Array(items),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_like_redis() {
        assert_eq!(string_encoding(b"12345"), "int");
        assert_eq!(string_encoding(b"hello"), "embstr");
        assert_eq!(string_encoding(&[b'x'; 45]), "raw");
    }

    #[test]
    fn cursor_table_is_bounded() {
        let cursors = ScanCursors::default();
        let first = cursors.save(0, b"a".to_vec());
        assert_eq!(cursors.resume_point(first, 0), b"a");
        assert_eq!(
            cursors.resume_point(first, 1),
            b"",
            "another database starts over"
        );
        for i in 0..MAX_CURSORS {
            cursors.save(0, i.to_string().into_bytes());
        }
        assert_eq!(
            cursors.resume_point(first, 0),
            b"",
            "the oldest cursor was forgotten"
        );
    }
}
