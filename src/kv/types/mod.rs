//! Collections stored as subkeys: the operations of each Redis type over a [`KvView`] (reads)
//! and a [`WriteCtx`] (writes). No RESP here: commands in `cmd/` shape the replies.
//!
//! Every member of a collection is one entry of the `sub` table keyed
//! `version u64 BE · member encoding`; the key's row (a [`Collection`] header) holds the
//! version, the member count and, for lists, the sequence range. A member operation is one
//! B-tree lookup or update: O(log n) whatever the collection's size.

pub mod hash;
pub mod list;
pub mod set;
pub mod vset;
pub mod zset;

use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::{self, Collection, KeyType};
use crate::kv::view::KvView;

/// `version · member`
pub fn skey(version: u64, member: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + member.len());
    k.extend_from_slice(&version.to_be_bytes());
    k.extend_from_slice(member);
    k
}

/// The member part of a subkey.
pub fn member_of(skey: &[u8]) -> &[u8] {
    skey.get(8..).unwrap_or_default()
}

/// The subkey range holding every member of `version`: `[version, version + 1)`.
pub fn all_members(version: u64) -> ([u8; 8], [u8; 8]) {
    (version.to_be_bytes(), (version + 1).to_be_bytes())
}

/// The subkeys holding one entry per member: all of them, but for a sorted set only its
/// by-member half.
pub fn member_span(c: &Collection) -> (Vec<u8>, Vec<u8>) {
    match c.kind {
        KeyType::ZSet => zset::member_span(c.version),
        _ => {
            let (lo, hi) = all_members(c.version);
            (lo.to_vec(), hi.to_vec())
        }
    }
}

/// The member name in a subkey of [`member_span`].
pub fn member_name(kind: KeyType, skey: &[u8]) -> &[u8] {
    let skip = if kind == KeyType::ZSet { 9 } else { 8 };
    skey.get(skip..).unwrap_or_default()
}

/// The live collection at `key` if it has type `kind`; WRONGTYPE for another type.
pub fn load(
    view: &mut dyn KvView,
    db: u32,
    key: &[u8],
    kind: KeyType,
) -> Result<Option<Collection>, CmdError> {
    match view.live_row(db, key)? {
        None => Ok(None),
        Some(row) => match Collection::decode(&row) {
            Some(c) if c.kind == kind => Ok(Some(c)),
            _ if meta::key_type(&row).is_some() => Err(CmdError::WrongType),
            _ => Err(CmdError::err("corrupt key metadata")),
        },
    }
}

/// The live collection at `key`, or a new empty one (not stored until [`save`]).
pub fn load_or_new(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    kind: KeyType,
) -> Result<Collection, CmdError> {
    match load(w, db, key, kind)? {
        Some(c) => Ok(c),
        None => Ok(Collection::new(kind, w.new_version(kind)?)),
    }
}

/// Stores the header if a change altered it (count, list ends, or a new collection); an
/// emptied collection is deleted, as in Redis. `before` is the header as loaded (`None`: new).
pub fn save_changed(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    before: Option<&Collection>,
    c: &Collection,
) -> Result<(), CmdError> {
    if before == Some(c) {
        return Ok(());
    }
    save(w, db, key, c)
}

/// Stores the header after a change; an emptied collection is deleted, as in Redis.
pub fn save(w: &mut WriteCtx<'_, '_>, db: u32, key: &[u8], c: &Collection) -> Result<(), CmdError> {
    if c.len == 0 {
        w.delete(db, key)?;
        Ok(())
    } else {
        w.put_row(db, key, &c.encode())
    }
}

/// Every member subkey and value of a collection, in subkey order.
pub fn scan_all(
    view: &mut dyn KvView,
    version: u64,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), CmdError> {
    let (from, to) = all_members(version);
    view.sub_scan(&from, &to, false, f)
}

/// Copies every member of collection `from` to a new version (COPY); returns the new
/// version.
pub fn copy_members(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    from: &Collection,
) -> Result<u64, CmdError> {
    let to = w.new_version(from.kind)?;
    let from = from.version;
    let mut entries = Vec::new();
    scan_all(w, from, &mut |k, v| {
        entries.push((member_of(k).to_vec(), v.to_vec()));
        true
    })?;
    for (member, value) in entries {
        w.put_sub(db, key, skey(to, &member), value)?;
    }
    Ok(to)
}
