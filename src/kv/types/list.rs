//! Lists: elements at the consecutive sequences `head..tail` of the key's header, stored 32
//! to a row (`kv::chunk`). Pushes and pops at either end and access by index are single
//! lookups; inserting or removing in the middle shifts the elements after the change (O(n),
//! as in Redis).

use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::chunk::{self, RawSlot, SLOTS};
use crate::kv::meta::{Collection, LIST_ORIGIN};
use crate::kv::view::KvView;

fn malformed() -> CmdError {
    CmdError::err("malformed list chunk")
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
    w.list_put(db, key, c.version, seq, value)?;
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
    let value = w.list_take(db, key, c.version, seq)?.unwrap_or_default();
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
    let seq = c.head + index;
    let Some(row) = view.sub_get(&chunk::chunk_key(c.version, seq))? else {
        return Ok(None);
    };
    match chunk::parse(&row).ok_or_else(malformed)?[chunk::slot_of(seq)] {
        RawSlot::Empty => Ok(None),
        RawSlot::Inline(v) => Ok(Some(v.to_vec())),
        RawSlot::OutOfLine => view.sub_get(&chunk::big_key(c.version, seq)),
    }
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
    w.list_put(db, key, c.version, c.head + index, value)
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

/// Calls `f` with each element from `start` to `stop` (in range), chunk by chunk, without
/// copying inline elements.
pub fn range_each(
    view: &mut dyn KvView,
    c: &Collection,
    start: u64,
    stop: u64,
    rev: bool,
    f: &mut dyn FnMut(&[u8]),
) -> Result<(), CmdError> {
    if start > stop || start >= c.len {
        return Ok(());
    }
    let (first, last) = (c.head + start, c.head + stop.min(c.len - 1));
    let (first_id, last_id) = (first / SLOTS, last / SLOTS);
    for i in 0..=last_id - first_id {
        let id = if rev { last_id - i } else { first_id + i };
        let base = id * SLOTS;
        let Some(row) = view.sub_get(&chunk::chunk_key(c.version, base))? else {
            continue;
        };
        let slots = chunk::parse(&row).ok_or_else(malformed)?;
        let (lo, hi) = (first.max(base), last.min(base + SLOTS - 1));
        for j in 0..=hi - lo {
            let seq = if rev { hi - j } else { lo + j };
            match slots[chunk::slot_of(seq)] {
                RawSlot::Empty => {}
                RawSlot::Inline(v) => f(v),
                RawSlot::OutOfLine => {
                    if let Some(v) = view.sub_get(&chunk::big_key(c.version, seq))? {
                        f(&v);
                    }
                }
            }
        }
    }
    Ok(())
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
        w.list_put(db, key, c.version, first + i as u64, e)?;
    }
    for seq in new_tail..c.tail {
        w.list_take(db, key, c.version, seq)?;
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
        w.list_take(db, key, c.version, seq)?;
    }
    (c.head, c.tail) = if keep_from == keep_to {
        (LIST_ORIGIN, LIST_ORIGIN)
    } else {
        (keep_from, keep_to)
    };
    c.len = c.tail - c.head;
    Ok(())
}
