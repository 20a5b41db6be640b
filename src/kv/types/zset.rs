//! Sorted sets: two subkeys per member, `version · 0x00 · member → score` (lookup by member)
//! and `version · 0x01 · sortable(score) · member → ()` (order by score, then member bytes, as
//! Redis orders). Rank queries walk the score index: O(rank) rather than Redis's O(log n).

use std::ops::Bound;

use super::skey;
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::Collection;
use crate::kv::view::KvView;

const BY_MEMBER: u8 = 0;
const BY_SCORE: u8 = 1;

/// A score as bytes that sort as the numbers do (-0 sorts as 0).
pub fn sortable(score: f64) -> [u8; 8] {
    let s = if score == 0.0 { 0.0 } else { score };
    let bits = s.to_bits();
    let v = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    v.to_be_bytes()
}

fn unsortable(b: &[u8]) -> f64 {
    let mut a = [0u8; 8];
    if let Some(src) = b.get(..8) {
        a.copy_from_slice(src);
    }
    let v = u64::from_be_bytes(a);
    let bits = if v >> 63 == 1 { v & !(1 << 63) } else { !v };
    f64::from_bits(bits)
}

fn member_key(version: u64, member: &[u8]) -> Vec<u8> {
    let mut k = skey(version, &[BY_MEMBER]);
    k.extend_from_slice(member);
    k
}

fn index_key(version: u64, score: f64, member: &[u8]) -> Vec<u8> {
    let mut k = skey(version, &[BY_SCORE]);
    k.extend_from_slice(&sortable(score));
    k.extend_from_slice(member);
    k
}

/// The by-member subkey range of a version.
pub fn member_span(version: u64) -> (Vec<u8>, Vec<u8>) {
    (skey(version, &[BY_MEMBER]), skey(version, &[BY_MEMBER + 1]))
}

/// The score stored in a by-member entry.
pub fn score_of(value: &[u8]) -> f64 {
    unsortable(value)
}

/// The index subkey range `[lo, hi)` of a version.
fn index_span(version: u64) -> (Vec<u8>, Vec<u8>) {
    (skey(version, &[BY_SCORE]), skey(version, &[BY_SCORE + 1]))
}

/// (member, score) of an index subkey.
fn index_entry(k: &[u8]) -> (Vec<u8>, f64) {
    let rest = k.get(9..).unwrap_or_default();
    (rest.get(8..).unwrap_or_default().to_vec(), unsortable(rest))
}

pub fn score(
    view: &mut dyn KvView,
    c: &Collection,
    member: &[u8],
) -> Result<Option<f64>, CmdError> {
    Ok(view
        .member_get(&member_key(c.version, member))?
        .map(|v| unsortable(&v)))
}

/// Sets `member`'s score; returns its previous score (the caller saves `c`).
pub fn insert(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    member: &[u8],
    new_score: f64,
) -> Result<Option<f64>, CmdError> {
    let old = if c.len == 0 {
        None
    } else {
        score(w, c, member)?
    };
    match old {
        Some(s) if s.to_bits() == new_score.to_bits() => return Ok(old),
        Some(s) => w.del_sub(db, key, index_key(c.version, s, member))?,
        None => c.len += 1,
    }
    w.put_sub(
        db,
        key,
        member_key(c.version, member),
        sortable(new_score).to_vec(),
    )?;
    w.put_sub(db, key, index_key(c.version, new_score, member), Vec::new())?;
    Ok(old)
}

/// Removes `member`; true if it was there (the caller saves `c`).
pub fn remove(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    member: &[u8],
) -> Result<bool, CmdError> {
    let Some(s) = score(w, c, member)? else {
        return Ok(false);
    };
    w.del_sub(db, key, member_key(c.version, member))?;
    w.del_sub(db, key, index_key(c.version, s, member))?;
    c.len -= 1;
    Ok(true)
}

/// Walks members in score order (descending with `rev`) from the first at or past `start`
/// (a score bound in walking direction), while `f` returns true.
pub fn walk(
    view: &mut dyn KvView,
    c: &Collection,
    rev: bool,
    start: Bound<f64>,
    f: &mut dyn FnMut(&[u8], f64) -> bool,
) -> Result<(), CmdError> {
    let (lo, hi) = index_span(c.version);
    let bound_key = |s: f64, after: bool| {
        let mut k = skey(c.version, &[BY_SCORE]);
        let b = sortable(s);
        if after {
            // Just past every member with this score.
            let next = u64::from_be_bytes(b).wrapping_add(1);
            if next == 0 {
                return hi.clone();
            }
            k.extend_from_slice(&next.to_be_bytes());
        } else {
            k.extend_from_slice(&b);
        }
        k
    };
    let (from, to) = match (rev, start) {
        (false, Bound::Unbounded) | (true, Bound::Unbounded) => (lo.clone(), hi.clone()),
        (false, Bound::Included(s)) => (bound_key(s, false), hi.clone()),
        (false, Bound::Excluded(s)) => (bound_key(s, true), hi.clone()),
        (true, Bound::Included(s)) => (lo.clone(), bound_key(s, true)),
        (true, Bound::Excluded(s)) => (lo.clone(), bound_key(s, false)),
    };
    view.sub_scan(&from, &to, rev, &mut |k, _| {
        let (m, s) = index_entry(k);
        f(&m, s)
    })
}

/// 0-based rank of `member` in ascending order (or descending with `rev`), with its score.
pub fn rank(
    view: &mut dyn KvView,
    c: &Collection,
    member: &[u8],
    rev: bool,
) -> Result<Option<(u64, f64)>, CmdError> {
    let Some(s) = score(view, c, member)? else {
        return Ok(None);
    };
    let target = index_key(c.version, s, member);
    let (lo, hi) = index_span(c.version);
    let mut n = 0u64;
    let (from, to) = if rev {
        let mut after = target.clone();
        after.push(0);
        (after, hi)
    } else {
        (lo, target)
    };
    view.sub_scan(&from, &to, false, &mut |_, _| {
        n += 1;
        true
    })?;
    Ok(Some((n, s)))
}

/// Members by rank `start..=stop` (normalised, in range), ascending or descending.
pub fn by_rank(
    view: &mut dyn KvView,
    c: &Collection,
    start: u64,
    stop: u64,
    rev: bool,
) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    let mut out = Vec::with_capacity((stop - start + 1).min(1 << 16) as usize);
    let mut i = 0u64;
    walk(view, c, rev, Bound::Unbounded, &mut |m, s| {
        if i >= start {
            out.push((m.to_vec(), s));
        }
        i += 1;
        i <= stop
    })?;
    Ok(out)
}
