//! Hashes: one subkey per field, `version · field → 0x00 · value` or, for a field with a
//! deadline (HEXPIRE and friends), `0x01 · deadline u64 LE · value`.
//!
//! A field past its deadline reads as missing. Writes that meet one remove it, and the active
//! expiry cycle removes the rest: the header's `head` holds the earliest field deadline (early
//! is harmless, late never happens), which puts the hash in the store's field-expiry index.
//! HLEN counts fields not yet removed, as Redis's does.

use super::{load, member_of, save, scan_all, skey};
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::view::KvView;

const PLAIN: u8 = 0;
const WITH_DEADLINE: u8 = 1;

fn encode(value: &[u8], deadline: u64) -> Vec<u8> {
    if deadline == 0 {
        let mut v = Vec::with_capacity(1 + value.len());
        v.push(PLAIN);
        v.extend_from_slice(value);
        return v;
    }
    let mut v = Vec::with_capacity(9 + value.len());
    v.push(WITH_DEADLINE);
    v.extend_from_slice(&deadline.to_le_bytes());
    v.extend_from_slice(value);
    v
}

/// (deadline, value) of a field's stored bytes.
pub fn decode(raw: &[u8]) -> (u64, &[u8]) {
    match raw.first() {
        Some(&WITH_DEADLINE) if raw.len() >= 9 => {
            let mut d = [0u8; 8];
            d.copy_from_slice(&raw[1..9]);
            (u64::from_le_bytes(d), &raw[9..])
        }
        _ => (0, raw.get(1..).unwrap_or_default()),
    }
}

/// The value in a field's stored bytes.
pub fn value_of(raw: &[u8]) -> &[u8] {
    decode(raw).1
}

/// Is a field with this deadline past it at `now`?
pub fn is_past(deadline: u64, now: u64) -> bool {
    deadline != 0 && deadline <= now
}

/// The live hash at `key` (WRONGTYPE for other types).
pub fn load_hash(
    view: &mut dyn KvView,
    db: u32,
    key: &[u8],
) -> Result<Option<Collection>, CmdError> {
    load(view, db, key, KeyType::Hash)
}

/// A field as stored, past its deadline or not: (deadline, value).
pub fn get_raw(
    view: &mut dyn KvView,
    c: &Collection,
    field: &[u8],
) -> Result<Option<(u64, Vec<u8>)>, CmdError> {
    Ok(view.member_get(&skey(c.version, field))?.map(|raw| {
        let (deadline, value) = decode(&raw);
        (deadline, value.to_vec())
    }))
}

/// A live field's value.
pub fn get(
    view: &mut dyn KvView,
    c: &Collection,
    field: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    let now = view.now_ms();
    Ok(get_raw(view, c, field)?
        .filter(|(deadline, _)| !is_past(*deadline, now))
        .map(|(_, value)| value))
}

/// Sets `field` with a deadline (0 = none); true if the field was not stored before (a field
/// past its deadline still counts as stored, as in Redis). The caller saves `c`.
pub fn set_with_deadline(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    field: &[u8],
    value: &[u8],
    deadline: u64,
) -> Result<bool, CmdError> {
    let k = skey(c.version, field);
    let new = !w.put_sub(db, key, k, encode(value, deadline))?;
    if new {
        c.len += 1;
    }
    if deadline != 0 && (c.head == 0 || deadline < c.head) {
        c.head = deadline;
    }
    Ok(new)
}

/// Sets `field` without a deadline (HSET clears a field's TTL).
pub fn set(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    field: &[u8],
    value: &[u8],
) -> Result<bool, CmdError> {
    set_with_deadline(w, db, key, c, field, value, 0)
}

/// Removes `field`; true if it was stored (the caller saves `c`).
pub fn del(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    field: &[u8],
) -> Result<bool, CmdError> {
    if w.take_sub(db, key, skey(c.version, field))?.is_none() {
        return Ok(false);
    }
    c.len -= 1;
    Ok(true)
}

/// Every live (field, value) in field order, while `f` returns true.
pub fn for_each(
    view: &mut dyn KvView,
    c: &Collection,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), CmdError> {
    let now = view.now_ms();
    scan_all(view, c.version, &mut |k, v| {
        let (deadline, value) = decode(v);
        is_past(deadline, now) || f(member_of(k), value)
    })
}

/// Removes the fields of `key` whose deadline has passed and recomputes the earliest deadline
/// (the active expiry cycle); deletes the hash if nothing is left. Returns the fields removed.
pub fn expire_fields(w: &mut WriteCtx<'_, '_>, db: u32, key: &[u8]) -> Result<u64, CmdError> {
    let Some(mut c) = load_hash(w, db, key)? else {
        return Ok(0);
    };
    let now = w.now_ms;
    let (mut past, mut earliest) = (Vec::new(), 0u64);
    scan_all(w, c.version, &mut |k, v| {
        let (deadline, _) = decode(v);
        if is_past(deadline, now) {
            past.push(member_of(k).to_vec());
        } else if deadline != 0 && (earliest == 0 || deadline < earliest) {
            earliest = deadline;
        }
        true
    })?;
    for field in &past {
        del(w, db, key, &mut c, field)?;
    }
    c.head = earliest;
    save(w, db, key, &c)?;
    Ok(past.len() as u64)
}
