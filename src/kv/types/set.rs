//! Sets: one subkey per member, `version · member → ()`.

use super::{member_of, scan_all, skey};
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::Collection;
use crate::kv::view::KvView;

pub fn contains(view: &mut dyn KvView, c: &Collection, member: &[u8]) -> Result<bool, CmdError> {
    Ok(view.member_get(&skey(c.version, member))?.is_some())
}

/// Adds `member`; true if it is new (the caller saves `c`).
pub fn add(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    member: &[u8],
) -> Result<bool, CmdError> {
    let k = skey(c.version, member);
    if c.len > 0 && w.member_get(&k)?.is_some() {
        return Ok(false);
    }
    w.put_sub(db, key, k, Vec::new())?;
    c.len += 1;
    Ok(true)
}

/// Removes `member`; true if it was there (the caller saves `c`).
pub fn remove(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    member: &[u8],
) -> Result<bool, CmdError> {
    if w.take_sub(db, key, skey(c.version, member))?.is_none() {
        return Ok(false);
    }
    c.len -= 1;
    Ok(true)
}

/// Every member in byte order, collected.
pub fn members(view: &mut dyn KvView, c: &Collection) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::with_capacity(c.len.min(1 << 16) as usize);
    scan_all(view, c.version, &mut |k, _| {
        out.push(member_of(k).to_vec());
        true
    })?;
    Ok(out)
}

/// Members in byte order starting at `from` (inclusive), at most `limit`.
pub fn members_from(
    view: &mut dyn KvView,
    c: &Collection,
    from: &[u8],
    limit: usize,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::new();
    let start = skey(c.version, from);
    let end = (c.version + 1).to_be_bytes();
    view.sub_scan(&start, &end, false, &mut |k, _| {
        out.push(member_of(k).to_vec());
        out.len() < limit
    })?;
    Ok(out)
}
