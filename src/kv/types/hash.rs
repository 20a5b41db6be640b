//! Hashes: one subkey per field, `version · field → 0x00 · value`. The leading byte leaves room
//! for a per-field deadline.

use super::{load, member_of, scan_all, skey};
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::view::KvView;

const PLAIN: u8 = 0;

fn encode(value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + value.len());
    v.push(PLAIN);
    v.extend_from_slice(value);
    v
}

/// The value in a field's stored bytes.
pub fn value_of(raw: &[u8]) -> &[u8] {
    raw.get(1..).unwrap_or_default()
}

/// The live hash at `key` (WRONGTYPE for other types).
pub fn load_hash(
    view: &mut dyn KvView,
    db: u32,
    key: &[u8],
) -> Result<Option<Collection>, CmdError> {
    load(view, db, key, KeyType::Hash)
}

pub fn get(
    view: &mut dyn KvView,
    c: &Collection,
    field: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(view
        .sub_get(&skey(c.version, field))?
        .map(|raw| value_of(&raw).to_vec()))
}

/// Sets `field`; true if it is new (the caller saves `c`).
pub fn set(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    field: &[u8],
    value: &[u8],
) -> Result<bool, CmdError> {
    let k = skey(c.version, field);
    let new = c.len == 0 || w.sub_get(&k)?.is_none();
    w.put_sub(db, key, k, encode(value))?;
    if new {
        c.len += 1;
    }
    Ok(new)
}

/// Removes `field`; true if it was there (the caller saves `c`).
pub fn del(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    field: &[u8],
) -> Result<bool, CmdError> {
    let k = skey(c.version, field);
    if w.sub_get(&k)?.is_none() {
        return Ok(false);
    }
    w.del_sub(db, key, k)?;
    c.len -= 1;
    Ok(true)
}

/// Every (field, value) in field order, while `f` returns true.
pub fn for_each(
    view: &mut dyn KvView,
    c: &Collection,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), CmdError> {
    scan_all(view, c.version, &mut |k, v| f(member_of(k), value_of(v)))
}
