//! Lists: one subkey per element, `version · seq u64 BE → element`, with the elements at the
//! consecutive sequences `head..tail` of the key's header. Pushes and pops at either end and
//! access by index are single lookups; inserting or removing in the middle shifts the elements
//! after the change (O(n), as in Redis).

use super::skey;
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, LIST_ORIGIN};
use crate::kv::view::KvView;

fn seq_key(version: u64, seq: u64) -> Vec<u8> {
    skey(version, &seq.to_be_bytes())
}

/// Appends at the head (`left`) or the tail (the caller saves `c`).
pub fn push(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    left: bool,
    value: &[u8],
) -> Result<(), CmdError> {
    if c.len == 0 {
        (c.head, c.tail) = (LIST_ORIGIN, LIST_ORIGIN);
    }
    let seq = if left {
        c.head -= 1;
        c.head
    } else {
        c.tail += 1;
        c.tail - 1
    };
    w.put_sub(db, key, seq_key(c.version, seq), value.to_vec())?;
    c.len += 1;
    Ok(())
}

/// Removes and returns the first (`left`) or last element (the caller saves `c`).
pub fn pop(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    left: bool,
) -> Result<Option<Vec<u8>>, CmdError> {
    if c.len == 0 {
        return Ok(None);
    }
    let seq = if left { c.head } else { c.tail - 1 };
    let k = seq_key(c.version, seq);
    let value = w.take_sub(db, key, k)?.unwrap_or_default();
    if left {
        c.head += 1;
    } else {
        c.tail -= 1;
    }
    c.len -= 1;
    Ok(Some(value))
}

/// The element at `index` (0-based from the head, already normalised and in range).
pub fn get(view: &mut dyn KvView, c: &Collection, index: u64) -> Result<Option<Vec<u8>>, CmdError> {
    if index >= c.len {
        return Ok(None);
    }
    view.sub_get(&seq_key(c.version, c.head + index))
}

/// Replaces the element at `index` (in range).
pub fn set(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &Collection,
    index: u64,
    value: &[u8],
) -> Result<(), CmdError> {
    w.put_sub(db, key, seq_key(c.version, c.head + index), value.to_vec())?;
    Ok(())
}

/// Elements `start..=stop` (normalised, `start <= stop < len`), head to tail or reversed.
pub fn range(
    view: &mut dyn KvView,
    c: &Collection,
    start: u64,
    stop: u64,
    rev: bool,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::with_capacity((stop - start + 1).min(1 << 16) as usize);
    range_each(view, c, start, stop, rev, &mut |v| out.push(v.to_vec()))?;
    Ok(out)
}

/// Calls `f` with each element from `start` to `stop` (in range), without copying them.
pub fn range_each(
    view: &mut dyn KvView,
    c: &Collection,
    start: u64,
    stop: u64,
    rev: bool,
    f: &mut dyn FnMut(&[u8]),
) -> Result<(), CmdError> {
    let from = seq_key(c.version, c.head + start);
    let to = seq_key(c.version, c.head + stop + 1);
    view.sub_scan(&from, &to, rev, &mut |_, v| {
        f(v);
        true
    })
}

/// Every element, head to tail.
pub fn all(view: &mut dyn KvView, c: &Collection) -> Result<Vec<Vec<u8>>, CmdError> {
    if c.len == 0 {
        return Ok(Vec::new());
    }
    range(view, c, 0, c.len - 1, false)
}

/// Replaces the elements from `pos` to the end with `tail_elements` (LINSERT, LREM).
pub fn rewrite_from(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    pos: u64,
    tail_elements: &[Vec<u8>],
) -> Result<(), CmdError> {
    let first = c.head + pos;
    let new_tail = first + tail_elements.len() as u64;
    for (i, e) in tail_elements.iter().enumerate() {
        w.put_sub(db, key, seq_key(c.version, first + i as u64), e.clone())?;
    }
    for seq in new_tail..c.tail {
        w.del_sub(db, key, seq_key(c.version, seq))?;
    }
    c.tail = new_tail;
    c.len = c.tail - c.head;
    Ok(())
}

/// Keeps only `start..=stop` (normalised; `start > stop` empties the list).
pub fn trim(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    start: u64,
    stop: u64,
) -> Result<(), CmdError> {
    let (keep_from, keep_to) = if start > stop || start >= c.len {
        (c.tail, c.tail)
    } else {
        (c.head + start, c.head + stop.min(c.len - 1) + 1)
    };
    for seq in (c.head..keep_from).chain(keep_to..c.tail) {
        w.del_sub(db, key, seq_key(c.version, seq))?;
    }
    (c.head, c.tail) = if keep_from == keep_to {
        (LIST_ORIGIN, LIST_ORIGIN)
    } else {
        (keep_from, keep_to)
    };
    c.len = c.tail - c.head;
    Ok(())
}
