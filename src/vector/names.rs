//! A vector set's element names and the write (gen) each slot holds: one byte arena of
//! entries (the name's length, the name, the gen, the numbers as LEB128), found by slot through
//! a 32-bit offset and by name through a hash table of slot ids. Per element this is the
//! name's bytes plus about 15 bytes at a million elements (offset 4, the two numbers 4, the
//! table's slot and control byte 5 at its usual load); a `u64` start, `u32` length and
//! `u64` gen per slot took 20 instead of 8 of those.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Where each slot's entry starts in the arena: 32-bit offsets while the arena is below
/// 4 GiB, as it nearly always is, and 64-bit ones past that. The largest value of each width
/// marks a slot without an entry.
#[derive(Debug)]
enum Starts {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for Starts {
    fn default() -> Starts {
        Starts::Narrow(Vec::new())
    }
}

impl Starts {
    fn len(&self) -> usize {
        match self {
            Starts::Narrow(s) => s.len(),
            Starts::Wide(s) => s.len(),
        }
    }

    /// Slot `i`'s entry offset; `None`: no entry, or no such slot.
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            Starts::Narrow(s) => s
                .get(i)
                .filter(|&&at| at != u32::MAX)
                .map(|&at| at as usize),
            Starts::Wide(s) => s
                .get(i)
                .filter(|&&at| at != u64::MAX)
                .map(|&at| at as usize),
        }
    }

    /// Sets slot `i`'s entry offset (`i` < `len`), widening every offset if `at` needs it.
    fn set(&mut self, i: usize, at: Option<usize>) {
        if let (Starts::Narrow(s), Some(at)) = (&*self, at) {
            if at >= u32::MAX as usize {
                let wide = s
                    .iter()
                    .map(|&x| if x == u32::MAX { u64::MAX } else { x as u64 })
                    .collect();
                *self = Starts::Wide(wide);
            }
        }
        match self {
            Starts::Narrow(s) => s[i] = at.map_or(u32::MAX, |at| at as u32),
            Starts::Wide(s) => s[i] = at.map_or(u64::MAX, |at| at as u64),
        }
    }

    /// Grows to `len` slots, the new ones without an entry.
    fn grow(&mut self, len: usize) {
        match self {
            Starts::Narrow(s) if s.len() < len => s.resize(len, u32::MAX),
            Starts::Wide(s) if s.len() < len => s.resize(len, u64::MAX),
            _ => {}
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Starts::Narrow(s) => s.capacity() * 4,
            Starts::Wide(s) => s.capacity() * 8,
        }
    }
}

fn push_leb128(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push(x as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// The number at `at` and the offset after it.
fn read_leb128(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(at)?;
        at += 1;
        x |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some((x, at));
        }
    }
    None
}

/// An entry of the arena: the name, the gen, and the entry's length in bytes.
struct Entry<'a> {
    name: &'a [u8],
    gen: u64,
    len: usize,
}

/// Slot `id`'s entry (split out of `Names` so that the table's rehash can read it while the
/// table is borrowed).
fn entry<'a>(arena: &'a [u8], starts: &Starts, id: u32) -> Option<Entry<'a>> {
    let start = starts.get(id as usize)?;
    let (name_len, name_at) = read_leb128(arena, start)?;
    let name_end = name_at.checked_add(usize::try_from(name_len).ok()?)?;
    let name = arena.get(name_at..name_end)?;
    let (gen, end) = read_leb128(arena, name_end)?;
    Some(Entry {
        name,
        gen,
        len: end - start,
    })
}

#[derive(Default)]
pub struct Names {
    /// The live slots' entries (and removed ones' until the next compaction).
    arena: Vec<u8>,
    starts: Starts,
    /// Slot ids of the live names, hashed by name.
    table: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    /// Bytes of `arena` no live entry uses.
    garbage: usize,
}

impl Names {
    /// `slots` slots, none with a name.
    pub fn with_slots(slots: usize) -> Names {
        let mut names = Names::default();
        names.starts.grow(slots);
        names
    }

    /// Live names.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Slots handed out so far, with or without a name.
    pub fn slots(&self) -> usize {
        self.starts.len()
    }

    /// The name in slot `id`.
    pub fn name(&self, id: u32) -> Option<&[u8]> {
        entry(&self.arena, &self.starts, id).map(|e| e.name)
    }

    /// The write that put slot `id`'s element there.
    pub fn gen(&self, id: u32) -> Option<u64> {
        entry(&self.arena, &self.starts, id).map(|e| e.gen)
    }

    pub fn is_live(&self, id: u32) -> bool {
        self.starts.get(id as usize).is_some()
    }

    /// The slot holding `name`.
    pub fn id_of(&self, name: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |&id| self.name(id) == Some(name))
            .copied()
    }

    /// Puts `name`, written by `gen`, in slot `id` (growing the slots up to it). The caller
    /// has removed any other slot's copy of `name` and the slot's previous name.
    pub fn insert(&mut self, id: u32, name: &[u8], gen: u64) {
        let i = id as usize;
        self.starts.grow(i + 1);
        self.remove(id);
        let start = self.arena.len();
        push_leb128(&mut self.arena, name.len() as u64);
        self.arena.extend_from_slice(name);
        push_leb128(&mut self.arena, gen);
        self.starts.set(i, Some(start));
        let hash = self.hasher.hash_one(name);
        let (arena, starts, hasher) = (&self.arena, &self.starts, &self.hasher);
        self.table.insert_unique(hash, id, |&other| {
            hasher.hash_one(entry(arena, starts, other).map_or(&[][..], |e| e.name))
        });
    }

    /// Removes slot `id`'s name; false if it had none.
    pub fn remove(&mut self, id: u32) -> bool {
        let Some(Entry { name, len, .. }) = entry(&self.arena, &self.starts, id) else {
            return false;
        };
        let hash = self.hasher.hash_one(name);
        if let Ok(found) = self.table.find_entry(hash, |&other| other == id) {
            found.remove();
        }
        self.garbage += len;
        self.starts.set(id as usize, None);
        // Removed entries' bytes are reclaimed once they are most of the arena.
        if self.garbage > 4096 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
        true
    }

    /// Rewrites the arena with the live entries only.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for i in 0..self.starts.len() {
            if let Some(e) = entry(&self.arena, &self.starts, i as u32) {
                let start = self.starts.get(i).unwrap_or_default();
                let at = arena.len();
                arena.extend_from_slice(&self.arena[start..start + e.len]);
                self.starts.set(i, Some(at));
            }
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// Ids of the live names, ascending.
    pub fn live_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.starts.len() as u32).filter(|&id| self.is_live(id))
    }

    /// Bytes of RAM held.
    pub fn memory_bytes(&self) -> usize {
        self.arena.capacity()
            + self.starts.memory_bytes()
            // A table slot: a u32 and a control byte.
            + self.table.capacity() * 5
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_by_name_and_by_slot_through_removals_and_compactions() {
        let mut names = Names::default();
        let name = |i: u32| format!("element-{i}").into_bytes();
        for i in 0..10_000u32 {
            names.insert(i, &name(i), u64::from(i) << 20);
        }
        assert_eq!(names.len(), 10_000);
        // Removing most names compacts the arena; the rest keep their slots.
        for i in (0..10_000u32).filter(|i| i % 10 != 0) {
            assert!(names.remove(i));
        }
        assert!(!names.remove(1), "a removed name is gone");
        assert_eq!(names.len(), 1_000);
        // Compacted: removed entries' bytes are at most half the arena.
        let live: usize = names
            .live_ids()
            .filter_map(|id| entry(&names.arena, &names.starts, id))
            .map(|e| e.len)
            .sum();
        assert_eq!(names.arena.len() - names.garbage, live);
        assert!(
            names.arena.len() <= 2 * live,
            "{} {live}",
            names.arena.len()
        );
        for i in 0..10_000u32 {
            let live = i % 10 == 0;
            assert_eq!(names.id_of(&name(i)), live.then_some(i));
            assert_eq!(names.name(i), live.then_some(&name(i)[..]));
            assert_eq!(names.gen(i), live.then_some(u64::from(i) << 20));
        }
        // A slot reused with another name, and an empty name.
        names.insert(20, b"", 0);
        names.insert(30, b"renamed", u64::MAX);
        assert_eq!(names.id_of(b""), Some(20));
        assert_eq!(names.id_of(&name(30)), None);
        assert_eq!(names.id_of(b"renamed"), Some(30));
        assert_eq!(names.name(20), Some(&b""[..]));
        assert_eq!((names.gen(20), names.gen(30)), (Some(0), Some(u64::MAX)));
        assert_eq!(
            names.live_ids().take(4).collect::<Vec<_>>(),
            [0, 10, 20, 30]
        );
        assert_eq!(names.slots(), 10_000);
        assert_eq!(Names::with_slots(5).live_ids().count(), 0);
    }

    #[test]
    fn offsets_widen_past_four_gib_and_keep_every_slot() {
        let mut starts = Starts::default();
        starts.grow(3);
        starts.set(0, Some(7));
        starts.set(2, Some(u32::MAX as usize - 1));
        assert!(matches!(starts, Starts::Narrow(_)));
        starts.set(1, Some(u32::MAX as usize + 9));
        assert!(matches!(starts, Starts::Wide(_)));
        assert_eq!(
            (0..4).map(|i| starts.get(i)).collect::<Vec<_>>(),
            [
                Some(7),
                Some(u32::MAX as usize + 9),
                Some(u32::MAX as usize - 1),
                None
            ]
        );
        starts.set(0, None);
        starts.grow(5);
        assert_eq!(
            (starts.get(0), starts.get(4), starts.len()),
            (None, None, 5)
        );
    }

    #[test]
    fn leb128_numbers_round_trip_and_a_cut_one_is_refused() {
        for x in [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = vec![9];
            push_leb128(&mut out, x);
            assert_eq!(read_leb128(&out, 1), Some((x, out.len())), "{x}");
            assert_eq!(read_leb128(&out[..out.len() - 1], 1), None, "{x}");
        }
    }
}
