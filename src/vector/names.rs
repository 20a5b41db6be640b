//! A vector set's element names: every name in one byte arena, found by name through a hash
//! table of slot ids. Per element this holds the name's bytes and about 18 bytes; a map of
//! reference-counted names held about 100 (an allocation per name, a fat pointer per slot,
//! a 24-byte map entry).

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// `lens` value of a slot without a live name.
const EMPTY: u32 = u32::MAX;

#[derive(Default)]
pub struct Names {
    /// The live names' bytes (and removed ones' until the next compaction).
    arena: Vec<u8>,
    /// Per slot: where its name starts in `arena`, and its length (`EMPTY`: no name).
    starts: Vec<u64>,
    lens: Vec<u32>,
    /// Slot ids of the live names, hashed by name.
    table: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    /// Bytes of `arena` no live name uses.
    garbage: usize,
}

impl Names {
    /// `slots` slots, none with a name.
    pub fn with_slots(slots: usize) -> Names {
        Names {
            starts: vec![0; slots],
            lens: vec![EMPTY; slots],
            ..Names::default()
        }
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
        self.lens.len()
    }

    /// The name in slot `id`.
    pub fn name(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        let len = *self.lens.get(i)?;
        if len == EMPTY {
            return None;
        }
        let start = self.starts[i] as usize;
        self.arena.get(start..start + len as usize)
    }

    pub fn is_live(&self, id: u32) -> bool {
        self.lens.get(id as usize).is_some_and(|&l| l != EMPTY)
    }

    /// The slot holding `name`.
    pub fn id_of(&self, name: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |&id| self.name(id) == Some(name))
            .copied()
    }

    /// Puts `name` in slot `id` (growing the slots up to it). The caller has removed any
    /// other slot's copy of `name` and the slot's previous name.
    pub fn insert(&mut self, id: u32, name: &[u8]) {
        let i = id as usize;
        if self.lens.len() <= i {
            self.starts.resize(i + 1, 0);
            self.lens.resize(i + 1, EMPTY);
        }
        self.remove(id);
        self.starts[i] = self.arena.len() as u64;
        // Names are bulk strings, far below 4 GiB (proto-max-bulk-len).
        self.lens[i] = u32::try_from(name.len()).unwrap_or(EMPTY - 1);
        self.arena.extend_from_slice(name);
        let hash = self.hasher.hash_one(name);
        let (arena, starts, lens, hasher) = (&self.arena, &self.starts, &self.lens, &self.hasher);
        self.table.insert_unique(hash, id, |&other| {
            let (s, l) = (
                starts[other as usize] as usize,
                lens[other as usize] as usize,
            );
            hasher.hash_one(&arena[s..s + l])
        });
    }

    /// Removes slot `id`'s name; false if it had none.
    pub fn remove(&mut self, id: u32) -> bool {
        let Some(name) = self.name(id) else {
            return false;
        };
        let hash = self.hasher.hash_one(name);
        if let Ok(entry) = self.table.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.garbage += self.lens[id as usize] as usize;
        self.lens[id as usize] = EMPTY;
        // Removed names' bytes are reclaimed once they are most of the arena.
        if self.garbage > 4096 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
        true
    }

    /// Rewrites the arena with the live names only.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for (start, &len) in self.starts.iter_mut().zip(&self.lens) {
            if len != EMPTY {
                let s = *start as usize;
                *start = arena.len() as u64;
                arena.extend_from_slice(&self.arena[s..s + len as usize]);
            }
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// Ids of the live names, ascending.
    pub fn live_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.lens.len() as u32).filter(|&id| self.is_live(id))
    }

    /// Bytes of RAM held.
    pub fn memory_bytes(&self) -> usize {
        self.arena.capacity()
            + self.starts.capacity() * 8
            + self.lens.capacity() * 4
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
            names.insert(i, &name(i));
        }
        assert_eq!(names.len(), 10_000);
        // Removing most names compacts the arena; the rest keep their slots.
        for i in (0..10_000u32).filter(|i| i % 10 != 0) {
            assert!(names.remove(i));
        }
        assert!(!names.remove(1), "a removed name is gone");
        assert_eq!(names.len(), 1_000);
        assert!(
            names.arena.len() < 20_000,
            "compacted: {}",
            names.arena.len()
        );
        for i in 0..10_000u32 {
            let live = i % 10 == 0;
            assert_eq!(names.id_of(&name(i)), live.then_some(i));
            assert_eq!(names.name(i), live.then_some(&name(i)[..]));
        }
        // A slot reused with another name, and an empty name.
        names.insert(20, b"");
        names.insert(30, b"renamed");
        assert_eq!(names.id_of(b""), Some(20));
        assert_eq!(names.id_of(&name(30)), None);
        assert_eq!(names.id_of(b"renamed"), Some(30));
        assert_eq!(names.name(20), Some(&b""[..]));
        assert_eq!(
            names.live_ids().take(4).collect::<Vec<_>>(),
            [0, 10, 20, 30]
        );
        assert_eq!(names.slots(), 10_000);
        assert_eq!(Names::with_slots(5).live_ids().count(), 0);
    }
}
