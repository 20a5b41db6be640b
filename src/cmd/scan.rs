//! SCAN, RANDOMKEY, OBJECT and MEMORY USAGE: walking and describing the keyspace.
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
use crate::kv::meta::{self, KeyType};
use crate::resp::codec::parse_i64;
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

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
pub struct Scan {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    kind: Option<Bytes>,
}

impl Command for Scan {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let cursor = args.next_bytes()?;
        let cursor = std::str::from_utf8(cursor)
            .ok()
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or_else(|| CmdError::err("invalid cursor"))?;
        let mut scan = Scan {
            cursor,
            pattern: None,
            count: 10,
            kind: None,
        };
        while !args.is_empty() {
            if args.eat("MATCH") {
                scan.pattern = Some(args.next_bytes()?.clone());
            } else if args.eat("COUNT") {
                let n = args.next_i64()?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                scan.count = usize::try_from(n).unwrap_or(usize::MAX);
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

/// The live row of `key` in the client's snapshot.
fn live_row(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let db = ctx.client.db;
    let row = ctx.row(db, key)?;
    Ok(row.filter(|r| !meta::is_expired(r, now_ms())))
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
        let Some(row) = live_row(ctx, &self.key)? else {
            return Ok(Reply::Nil);
        };
        Ok(match self.sub {
            ObjectSub::Encoding => Reply::bulk_str(match meta::key_type(&row) {
                Some(KeyType::String) => string_encoding(meta::payload(&row)),
                None => "raw",
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
pub struct MemoryUsage(Bytes);

/// Bytes of B-tree bookkeeping per entry (offsets, lengths), an estimate.
const ENTRY_OVERHEAD: usize = 16;

impl Command for MemoryUsage {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        if !args.is_empty() {
            if !args.eat("SAMPLES") {
                return Err(CmdError::Syntax);
            }
            args.next_i64()?;
            args.finish()?;
        }
        Ok(MemoryUsage(key))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(match live_row(ctx, &self.0)? {
            Some(row) => Reply::Int((4 + self.0.len() + row.len() + ENTRY_OVERHEAD) as i64),
            None => Reply::Nil,
        })
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
