//! List chunks: a list's elements grouped [`SLOTS`] to a row of the `sub` table, so pushes and
//! pops rewrite one small row per batch instead of inserting or removing a B-tree entry each.
//!
//! Element `seq` of list version `v` is slot `seq % SLOTS` of chunk `seq / SLOTS`, stored at
//! `v · 0x00 · chunk (u64 BE)`. A chunk row is: present slots (u32 LE bitmap), out-of-line
//! slots (u32 LE bitmap), then each present inline element in slot order as length (u32 LE)
//! and bytes. An element longer than [`INLINE_MAX`] lives in its own row `v · 0x01 · seq
//! (u64 BE)`, so a chunk row stays near 4 KiB and a push of a big element rewrites little
//! more than it writes (Redis's quicklist bounds its nodes the same way, at 8 KiB).

/// Elements per chunk.
pub const SLOTS: u64 = 32;
/// Longest element kept inside its chunk row.
pub const INLINE_MAX: usize = 128;

const CHUNK_TAG: u8 = 0;
const BIG_TAG: u8 = 1;

/// The row key of the chunk holding `seq`.
pub fn chunk_key(version: u64, seq: u64) -> [u8; 17] {
    tagged_key(version, CHUNK_TAG, seq / SLOTS)
}

/// The row key of an out-of-line element.
pub fn big_key(version: u64, seq: u64) -> [u8; 17] {
    tagged_key(version, BIG_TAG, seq)
}

fn tagged_key(version: u64, tag: u8, n: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&version.to_be_bytes());
    k[8] = tag;
    k[9..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The slot of `seq` in its chunk.
pub fn slot_of(seq: u64) -> usize {
    (seq % SLOTS) as usize
}

/// How many elements a row of a list's version holds: a chunk's present slots (its
/// out-of-line elements included), 0 for an out-of-line element's own row.
pub fn elements_in(row_key: &[u8], row: &[u8]) -> u64 {
    match (row_key.get(8), row.get(..4)) {
        (Some(&CHUNK_TAG), Some(present)) => u64::from(
            u32::from_le_bytes([present[0], present[1], present[2], present[3]]).count_ones(),
        ),
        _ => 0,
    }
}

/// One slot of a stored chunk row, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawSlot<'a> {
    Empty,
    Inline(&'a [u8]),
    OutOfLine,
}

/// The slots of a chunk row; `None` if the row is malformed.
pub fn parse(row: &[u8]) -> Option<[RawSlot<'_>; SLOTS as usize]> {
    let mut slots = [RawSlot::Empty; SLOTS as usize];
    let present = u32::from_le_bytes(row.get(..4)?.try_into().ok()?);
    let big = u32::from_le_bytes(row.get(4..8)?.try_into().ok()?);
    if big & !present != 0 {
        return None;
    }
    let mut pos = 8;
    for (i, slot) in slots.iter_mut().enumerate() {
        let bit = 1u32 << i;
        if present & bit == 0 {
            continue;
        }
        if big & bit != 0 {
            *slot = RawSlot::OutOfLine;
            continue;
        }
        let len = u32::from_le_bytes(row.get(pos..pos + 4)?.try_into().ok()?) as usize;
        pos += 4;
        let end = pos.checked_add(len)?;
        *slot = RawSlot::Inline(row.get(pos..end)?);
        pos = end;
    }
    (pos == row.len()).then_some(slots)
}

/// One slot of a chunk being changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Slot {
    #[default]
    Empty,
    Inline(Vec<u8>),
    OutOfLine,
}

/// A chunk decoded for changes (a write batch keeps the chunks it changes this way and encodes
/// each once when the batch ends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    slots: [Slot; SLOTS as usize],
}

impl Chunk {
    /// `None` if the row is malformed.
    pub fn decode(row: &[u8]) -> Option<Chunk> {
        let raw = parse(row)?;
        let mut chunk = Chunk::default();
        for (slot, raw) in chunk.slots.iter_mut().zip(raw) {
            *slot = match raw {
                RawSlot::Empty => Slot::Empty,
                RawSlot::Inline(v) => Slot::Inline(v.to_vec()),
                RawSlot::OutOfLine => Slot::OutOfLine,
            };
        }
        Some(chunk)
    }

    pub fn encode(&self) -> Vec<u8> {
        let (mut present, mut big, mut len) = (0u32, 0u32, 8);
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Empty => {}
                Slot::Inline(v) => {
                    present |= 1 << i;
                    len += 4 + v.len();
                }
                Slot::OutOfLine => {
                    present |= 1 << i;
                    big |= 1 << i;
                }
            }
        }
        let mut row = Vec::with_capacity(len);
        row.extend_from_slice(&present.to_le_bytes());
        row.extend_from_slice(&big.to_le_bytes());
        for slot in &self.slots {
            if let Slot::Inline(v) = slot {
                row.extend_from_slice(&(v.len() as u32).to_le_bytes());
                row.extend_from_slice(v);
            }
        }
        row
    }

    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| *s == Slot::Empty)
    }

    /// Puts `slot` in place `i`, returning what was there.
    pub fn replace(&mut self, i: usize, slot: Slot) -> Slot {
        std::mem::replace(&mut self.slots[i % SLOTS as usize], slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_malformed_ones_are_refused() {
        let mut c = Chunk::default();
        assert!(c.is_empty());
        c.replace(0, Slot::Inline(b"first".to_vec()));
        c.replace(5, Slot::OutOfLine);
        c.replace(31, Slot::Inline(Vec::new()));
        let row = c.encode();
        assert_eq!(row.capacity(), row.len());
        assert_eq!(Chunk::decode(&row), Some(c.clone()));
        let raw = parse(&row).unwrap();
        assert_eq!(raw[0], RawSlot::Inline(b"first"));
        assert_eq!(raw[1], RawSlot::Empty);
        assert_eq!(raw[5], RawSlot::OutOfLine);
        assert_eq!(raw[31], RawSlot::Inline(b""));
        for cut in 0..row.len() {
            assert!(parse(&row[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = row.clone();
        longer.push(0);
        assert!(parse(&longer).is_none());
        // An out-of-line slot that is not present.
        let mut bad = row.clone();
        bad[4..8].copy_from_slice(&(1u32 << 7).to_le_bytes());
        assert!(parse(&bad).is_none());
        assert_eq!(elements_in(&chunk_key(1, 0), &row), 3);
        assert_eq!(elements_in(&big_key(1, 5), b"a big element"), 0);
        assert_eq!(c.replace(5, Slot::Empty), Slot::OutOfLine);
    }

    #[test]
    fn keys_order_chunks_by_position_and_keep_big_elements_apart() {
        assert_eq!(chunk_key(7, 64), chunk_key(7, 95));
        assert!(chunk_key(7, 95) < chunk_key(7, 96));
        assert!(chunk_key(7, u64::MAX) < big_key(7, 0));
        assert!(big_key(7, u64::MAX) < chunk_key(8, 0));
        assert_eq!(slot_of(1 << 63), 0);
        assert_eq!(slot_of((1 << 63) - 1), 31);
    }
}
