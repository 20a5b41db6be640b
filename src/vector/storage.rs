//! The node file: every element's full-precision vector and adjacency list in fixed-size,
//! 64-byte-aligned records after a 4 KiB header, read and written through `memmap2`. The
//! navigation codes stay in RAM (`quant`); this file is only touched for the hops of a walk
//! and the final re-rank, and opening it is an mmap, not a rebuild.
//!
//! Layout (little-endian): header `LUMAVEC1`, dim u32, degree u32, record u32, len u64;
//! record i at 4096 + i·record: `dim` f32, then the neighbour count u32 and `degree` u32 ids.

use std::fs::{File, OpenOptions};
use std::path::Path;

use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::{Advice, MmapMut, UncheckedAdvice};

use super::VectorError;

const MAGIC: &[u8; 8] = b"LUMAVEC1";
const HEADER: usize = 4096;

/// Mapped bytes a process may keep resident before the mapping is dropped from its page
/// tables (see `NodeFile::note_reads`); 0 = no cap. Off by default: a cap below a search's
/// working set turns its reads into minor faults (100k × 96 with a 16 MiB cap: 6,500 → 1,050
/// QPS at L = 100), so it is for indexes larger than RAM.
pub const DEFAULT_RESIDENT_BUDGET: usize = 0;

#[derive(Debug)]
pub struct NodeFile {
    file: File,
    map: MmapMut,
    dim: usize,
    degree: usize,
    record: usize,
    len: usize,
    capacity: usize,
    /// Records read since the resident size was last looked at.
    reads: AtomicUsize,
    resident_budget: usize,
}

fn io(e: std::io::Error) -> VectorError {
    VectorError::Io(e.to_string())
}

/// Resident file-backed memory of this process (the "shared" field of /proc/self/statm).
fn resident_file_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(2)?.parse().ok()?;
    Some(pages * 4096)
}

impl NodeFile {
    /// Creates (or truncates) the file at `path` for vectors of `dim` and `degree` neighbours.
    pub fn create(path: &Path, dim: usize, degree: usize) -> Result<NodeFile, VectorError> {
        let record = (dim * 4 + 4 + degree * 4).next_multiple_of(64);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        let capacity = 1024;
        file.set_len((HEADER + capacity * record) as u64)
            .map_err(io)?;
        // SAFETY: the file is ours (just created, opened read-write); nothing else maps or
        // truncates it while this mapping lives.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        let mut f = NodeFile {
            file,
            map,
            dim,
            degree,
            record,
            len: 0,
            capacity,
            reads: AtomicUsize::new(0),
            resident_budget: DEFAULT_RESIDENT_BUDGET,
        };
        f.write_header();
        Ok(f)
    }

    /// Maps an existing node file.
    pub fn open(path: &Path) -> Result<NodeFile, VectorError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        // SAFETY: as in `create`: the file belongs to this index alone.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(VectorError::Corrupt("not a Luma vector file".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes([map[o], map[o + 1], map[o + 2], map[o + 3]]);
        let (dim, degree, record) = (u32_at(8) as usize, u32_at(12) as usize, u32_at(16) as usize);
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&map[20..28]);
        let len = u64::from_le_bytes(len_bytes) as usize;
        if dim == 0 || record < dim * 4 + 4 + degree * 4 || record % 64 != 0 {
            return Err(VectorError::Corrupt("bad vector file header".into()));
        }
        let capacity = (map.len() - HEADER) / record;
        if len > capacity {
            return Err(VectorError::Corrupt(
                "vector file shorter than its count".into(),
            ));
        }
        Ok(NodeFile {
            file,
            map,
            dim,
            degree,
            record,
            len,
            capacity,
            reads: AtomicUsize::new(0),
            resident_budget: DEFAULT_RESIDENT_BUDGET,
        })
    }

    fn write_header(&mut self) {
        self.map[..8].copy_from_slice(MAGIC);
        self.map[8..12].copy_from_slice(&(self.dim as u32).to_le_bytes());
        self.map[12..16].copy_from_slice(&(self.degree as u32).to_le_bytes());
        self.map[16..20].copy_from_slice(&(self.record as u32).to_le_bytes());
        self.map[20..28].copy_from_slice(&(self.len as u64).to_le_bytes());
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn degree(&self) -> usize {
        self.degree
    }

    fn offset(&self, id: u32) -> usize {
        HEADER + id as usize * self.record
    }

    /// The full-precision vector of element `id` (< len).
    #[inline]
    pub fn vector(&self, id: u32) -> &[f32] {
        let at = self.offset(id);
        let bytes = &self.map[at..at + self.dim * 4];
        // SAFETY: the mapping is page-aligned and records start at 4096 + i·record with
        // record a multiple of 64, so `bytes` is 4-byte aligned; it holds exactly `dim`
        // f32 values (any bit pattern is a valid f32), and it lives as long as `&self`.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), self.dim) }
    }

    /// The neighbour ids of element `id`.
    #[inline]
    pub fn neighbors(&self, id: u32) -> &[u32] {
        let at = self.offset(id) + self.dim * 4;
        let count = u32::from_le_bytes([
            self.map[at],
            self.map[at + 1],
            self.map[at + 2],
            self.map[at + 3],
        ]) as usize;
        let count = count.min(self.degree);
        let bytes = &self.map[at + 4..at + 4 + count * 4];
        // SAFETY: 4-byte aligned as in `vector` (dim·4 + 4 is a multiple of 4), `count`
        // u32 values inside the record, borrowed for the life of `&self`.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u32>(), count) }
    }

    /// Turns read-ahead off for serving: walks read records in no useful order, and read-ahead
    /// would make a whole 128 KiB window resident for every record touched. (Not during a
    /// build: its sequential writes gain from the kernel mapping pages in batches; measured
    /// 100k x 128 builds went from ~5,000 to ~3,300 points/s with read-ahead off.)
    pub fn advise_random(&self) {
        let _ = self.map.advise(Advice::Random);
    }

    /// Caps the mapped bytes kept resident by reads (0 = no cap).
    pub fn set_resident_budget(&mut self, bytes: usize) {
        self.resident_budget = bytes;
    }

    /// A search read `records` records. Once reads since the last look could have made a
    /// quarter of the budget resident (a page each), the process's resident file-backed pages
    /// are looked at (`/proc/self/statm`); past the budget, the whole mapping is released from
    /// the process's page tables: the pages stay in the OS page cache (the next touch is a
    /// minor fault) but no longer count in RSS, so an index larger than RAM serves with a
    /// bounded RSS. A file within the budget is never released.
    pub fn note_reads(&self, records: usize) {
        if self.resident_budget == 0 || self.map.len() <= self.resident_budget {
            return;
        }
        let reads = self.reads.fetch_add(records, Ordering::Relaxed) + records;
        if reads * 4096 < self.resident_budget / 4 {
            return;
        }
        self.reads.store(0, Ordering::Relaxed);
        if resident_file_bytes().is_some_and(|b| b > self.resident_budget) {
            // SAFETY: a MAP_SHARED file mapping: MADV_DONTNEED only unmaps the pages from this
            // process; their contents (dirty ones included) stay in the page cache and come
            // back on the next access, so no data is lost and concurrent readers just fault.
            let _ = unsafe { self.map.unchecked_advise(UncheckedAdvice::DontNeed) };
        }
    }

    /// Starts loading element `id`'s neighbour list into the cache.
    #[inline]
    pub fn prefetch_neighbors(&self, id: u32) {
        if (id as usize) < self.len {
            let at = self.offset(id) + self.dim * 4;
            super::distance::prefetch(self.map[at..].as_ptr());
            if self.degree > 15 {
                super::distance::prefetch(self.map[at + 64..].as_ptr());
            }
        }
    }

    pub fn set_neighbors(&mut self, id: u32, ids: &[u32]) {
        let count = ids.len().min(self.degree);
        let at = self.offset(id) + self.dim * 4;
        self.map[at..at + 4].copy_from_slice(&(count as u32).to_le_bytes());
        for (i, n) in ids[..count].iter().enumerate() {
            let o = at + 4 + i * 4;
            self.map[o..o + 4].copy_from_slice(&n.to_le_bytes());
        }
    }

    /// Appends an element with no neighbours yet; returns its id.
    pub fn push(&mut self, v: &[f32]) -> Result<u32, VectorError> {
        if v.len() != self.dim {
            return Err(VectorError::Dimension {
                expected: self.dim,
                got: v.len(),
            });
        }
        if self.len == self.capacity {
            self.grow(self.capacity * 2)?;
        }
        let id = self.len as u32;
        let at = self.offset(id);
        for (i, x) in v.iter().enumerate() {
            self.map[at + i * 4..at + i * 4 + 4].copy_from_slice(&x.to_le_bytes());
        }
        self.len += 1;
        self.set_neighbors(id, &[]);
        self.map[20..28].copy_from_slice(&(self.len as u64).to_le_bytes());
        Ok(id)
    }

    /// Forgets every record from `len` on (records a checkpoint did not cover).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.map[20..28].copy_from_slice(&(len as u64).to_le_bytes());
        }
    }

    /// Makes room for `capacity` records (one remap).
    pub fn reserve(&mut self, capacity: usize) -> Result<(), VectorError> {
        if capacity > self.capacity {
            self.grow(capacity)?;
        }
        Ok(())
    }

    fn grow(&mut self, capacity: usize) -> Result<(), VectorError> {
        self.map.flush_async().map_err(io)?;
        self.file
            .set_len((HEADER + capacity * self.record) as u64)
            .map_err(io)?;
        // SAFETY: as in `create`; the old mapping is replaced (and unmapped) here while
        // `&mut self` guarantees no slice into it is alive.
        self.map = unsafe { MmapMut::map_mut(&self.file) }.map_err(io)?;
        self.capacity = capacity;
        Ok(())
    }

    /// Writes every change to disk (a checkpoint).
    pub fn sync(&self) -> Result<(), VectorError> {
        self.map.flush().map_err(io)
    }

    /// Bytes of the file.
    pub fn file_bytes(&self) -> usize {
        HEADER + self.capacity * self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_growth_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.luma");
        let mut f = NodeFile::create(&path, 3, 4).unwrap();
        for i in 0..3000u32 {
            let id = f.push(&[i as f32, -1.0, 0.5]).unwrap();
            f.set_neighbors(id, &[i, i + 1, i + 2, i + 3, i + 4]);
        }
        assert!(matches!(f.push(&[1.0]), Err(VectorError::Dimension { .. })));
        f.sync().unwrap();
        drop(f);
        let f = NodeFile::open(&path).unwrap();
        assert_eq!(f.len(), 3000);
        assert_eq!(f.vector(2999), [2999.0, -1.0, 0.5]);
        // The list was cut at the degree.
        assert_eq!(f.neighbors(7), [7, 8, 9, 10]);
    }

    #[test]
    fn a_file_that_is_not_ours_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, vec![7u8; 8192]).unwrap();
        assert!(matches!(
            NodeFile::open(&path),
            Err(VectorError::Corrupt(_))
        ));
    }
}

#[cfg(test)]
mod residency_tests {
    use super::*;

    fn rss_file_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("RssFile:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    #[test]
    fn reads_past_the_budget_release_the_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = NodeFile::create(&dir.path().join("v"), 256, 32).unwrap();
        let v = vec![0.5f32; 256];
        for _ in 0..40_000 {
            f.push(&v).unwrap();
        }
        let sum: f32 = (0..40_000u32).map(|i| f.vector(i)[0]).sum();
        assert_eq!(sum, 20_000.0);
        let before = rss_file_kib();
        f.set_resident_budget(4 * 1024 * 1024);
        f.note_reads(1024);
        let after = rss_file_kib();
        eprintln!("RssFile {before} KiB -> {after} KiB");
        assert!(
            after + 20_000 < before,
            "RssFile {before} KiB -> {after} KiB"
        );
        // The data is still there.
        assert_eq!(f.vector(39_999)[255], 0.5);
    }
}
