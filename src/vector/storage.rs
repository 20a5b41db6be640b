//! The node file: every element's full-precision vector and adjacency list in fixed-size,
//! 64-byte-aligned records after a 4 KiB header. The vectors are read with positioned reads
//! (`pread`) only where full precision is needed (re-ranking, VEMB, start-up), so they live in
//! the OS page cache, which the kernel may evict, and never in the process's RSS. What the
//! index's memory budget allows is held in RAM as well: first the adjacency lists, which every
//! hop of a walk reads (written back to their records at each `sync`), then, where the index
//! wants one (see [`Budget`]), a copy of the vectors. Past the budget the vectors, then the
//! lists, are read from the file at each use (DiskANN's layout: then only the codes are in
//! RAM).
//! Opening is one sequential read of the file, not a rebuild.
//!
//! Why not `mmap`: every mapped page a walk touches counts in RSS (100k × 128 dims: 70 MiB of
//! file-backed RSS after a few thousand searches, 1.4× the raw vectors), and capping it with
//! MADV_DONTNEED turned reads into minor faults (3,700 → 1,300 QPS, RSS not lower, as the
//! kernel maps pages around each fault). A 512-byte `pread` costs about 1 µs here, and a
//! search reads only the few vectors it re-ranks.
//!
//! Layout (little-endian): header `LUMAVEC1`, dim u32, degree u32, record u32, len u64;
//! record i at 4096 + i·record: `dim` f32, then the neighbour count u32 and `degree` u32 ids.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::VectorError;

const MAGIC: &[u8; 8] = b"LUMAVEC1";
const HEADER: usize = 4096;
/// Bytes read at a time by sequential passes (start-up, exact scans).
const SCAN_CHUNK: usize = 4 << 20;

#[derive(Debug)]
pub struct NodeFile {
    file: File,
    dim: usize,
    degree: usize,
    record: usize,
    len: usize,
    /// The adjacency lists in RAM; `None`: read from the file at each use.
    lists: Option<Lists>,
    /// A copy of the vectors in RAM (row-major); `None`: read from the file.
    vectors: Option<Vec<f32>>,
    /// What may be held in RAM; what passes it is read from the file from then on.
    budget: Budget,
}

/// What a node file may hold in RAM: up to `bytes` of adjacency lists and then, if
/// `vector_copy`, of a copy of the vectors (wanted only where the index's codes cannot give
/// the vectors back for building, as BIN's sign bits cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub bytes: usize,
    pub vector_copy: bool,
}

impl Budget {
    /// Everything in RAM (building, tests).
    pub const ALL: Budget = Budget {
        bytes: usize::MAX,
        vector_copy: true,
    };
}

#[derive(Debug, Default)]
struct Lists {
    /// `degree` slots per element, the first `counts[id]` in use.
    ids: Vec<u32>,
    counts: Vec<u16>,
    /// Elements whose list changed since the last `sync`, one bit each (atomic so that a
    /// checkpoint under a shared lock can take them).
    dirty: Vec<AtomicU64>,
}

fn io(e: std::io::Error) -> VectorError {
    VectorError::Io(e.to_string())
}

fn f32s_from_le(bytes: &[u8], out: &mut [f32]) {
    for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl NodeFile {
    /// Creates (or truncates) the file at `path` for vectors of `dim` and `degree` neighbours.
    pub fn create(path: &Path, dim: usize, degree: usize) -> Result<NodeFile, VectorError> {
        if degree > u16::MAX as usize {
            return Err(VectorError::Parameter("graph degree too large".into()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        let f = NodeFile {
            file,
            dim,
            degree,
            record: (dim * 4 + 4 + degree * 4).next_multiple_of(64),
            len: 0,
            lists: Some(Lists::default()),
            vectors: Some(Vec::new()),
            budget: Budget::ALL,
        };
        f.write_header()?;
        Ok(f)
    }

    /// Opens an existing node file, keeping its first `slots` records (`None`: all that its
    /// header counts), reading them in one sequential pass: the adjacency lists (then the
    /// vectors) into RAM as far as `budget` bytes allow, each vector handed to `visit` (to
    /// rebuild what is derived from it, such as codes).
    pub fn open(
        path: &Path,
        slots: Option<usize>,
        budget: Budget,
        mut visit: impl FnMut(u32, &[f32]),
    ) -> Result<NodeFile, VectorError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        let mut header = [0u8; 28];
        file.read_exact_at(&mut header, 0)
            .map_err(|_| VectorError::Corrupt("not a Luma vector file".into()))?;
        if &header[..8] != MAGIC {
            return Err(VectorError::Corrupt("not a Luma vector file".into()));
        }
        let (dim, degree, record) = (
            u32_at(&header, 8) as usize,
            u32_at(&header, 12) as usize,
            u32_at(&header, 16) as usize,
        );
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[20..28]);
        let counted = u64::from_le_bytes(len_bytes) as usize;
        if dim == 0
            || degree > u16::MAX as usize
            || record < dim * 4 + 4 + degree * 4
            || record % 64 != 0
        {
            return Err(VectorError::Corrupt("bad vector file header".into()));
        }
        let on_disk = (file.metadata().map_err(io)?.len() as usize).saturating_sub(HEADER) / record;
        let len = slots.unwrap_or(counted);
        if len > counted.min(on_disk) {
            return Err(VectorError::Corrupt(
                "vector file shorter than its count".into(),
            ));
        }
        let (in_ram, vectors_in_ram) = fitting(len, dim, degree, budget);
        let mut vectors = Vec::with_capacity(if vectors_in_ram { len * dim } else { 0 });
        let mut lists = Lists {
            ids: Vec::with_capacity(if in_ram { len * degree } else { 0 }),
            counts: Vec::with_capacity(if in_ram { len } else { 0 }),
            dirty: dirty_bits(if in_ram { len } else { 0 }),
        };
        let mut stale = Vec::new();
        let mut vector = vec![0f32; dim];
        let mut list = Vec::with_capacity(degree);
        scan_file(&file, record, 0, len, |id, bytes| {
            f32s_from_le(&bytes[..dim * 4], &mut vector);
            visit(id, &vector);
            if vectors_in_ram {
                vectors.extend_from_slice(&vector);
            }
            let count = (u32_at(bytes, dim * 4) as usize).min(degree);
            // Links to records past the kept ones (written after the checkpoint) are dropped,
            // and the list rewritten: those ids will name other elements.
            list.clear();
            list.extend(
                (0..count)
                    .map(|i| u32_at(bytes, dim * 4 + 4 + i * 4))
                    .filter(|&n| (n as usize) < len && n != id),
            );
            if in_ram {
                lists.ids.extend_from_slice(&list);
                lists.ids.resize(lists.ids.len() + degree - list.len(), 0);
                lists.counts.push(list.len() as u16);
                if list.len() != count {
                    mark(&mut lists.dirty, id);
                }
            } else if list.len() != count {
                stale.push((id, list.clone()));
            }
        })?;
        let f = NodeFile {
            file,
            dim,
            degree,
            record,
            len,
            lists: in_ram.then_some(lists),
            vectors: vectors_in_ram.then_some(vectors),
            budget,
        };
        for (id, list) in stale {
            f.write_list(id, &list)?;
        }
        if len != counted {
            f.write_header()?;
        }
        Ok(f)
    }

    /// Sets what may be kept in RAM.
    pub fn set_budget(&mut self, budget: Budget) -> Result<(), VectorError> {
        self.budget = budget;
        self.fit_budget()
    }

    /// Leaves to the file what outgrew the budget: the vectors' copy first, then the lists.
    fn fit_budget(&mut self) -> Result<(), VectorError> {
        let (lists_fit, vectors_fit) = fitting(self.len, self.dim, self.degree, self.budget);
        if !vectors_fit {
            self.vectors = None;
        }
        if !lists_fit && self.lists.is_some() {
            self.write_dirty_lists()?;
            self.lists = None;
        }
        Ok(())
    }

    /// Whether the lists are held in RAM.
    pub fn lists_in_ram(&self) -> bool {
        self.lists.is_some()
    }

    /// Whether a copy of the vectors is held in RAM.
    pub fn vectors_in_ram(&self) -> bool {
        self.vectors.is_some()
    }

    fn write_header(&self) -> Result<(), VectorError> {
        let mut h = [0u8; 28];
        h[..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&(self.dim as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(self.degree as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(self.record as u32).to_le_bytes());
        h[20..28].copy_from_slice(&(self.len as u64).to_le_bytes());
        self.file.write_all_at(&h, 0).map_err(io)
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

    fn offset(&self, id: u32) -> u64 {
        (HEADER + id as usize * self.record) as u64
    }

    /// Reads the full-precision vector of element `id` (< len) into `out` (`dim` long).
    pub fn read_vector(&self, id: u32, out: &mut [f32]) -> Result<(), VectorError> {
        let i = id as usize;
        if i >= self.len || out.len() != self.dim {
            return Err(VectorError::Corrupt(format!("no vector record {id}")));
        }
        if let Some(v) = &self.vectors {
            out.copy_from_slice(&v[i * self.dim..(i + 1) * self.dim]);
            return Ok(());
        }
        let mut bytes = vec![0u8; self.dim * 4];
        self.file
            .read_exact_at(&mut bytes, self.offset(id))
            .map_err(io)?;
        f32s_from_le(&bytes, out);
        Ok(())
    }

    /// Element `id`'s vector, borrowed, while the vectors are held in RAM.
    #[inline]
    pub fn vector_in_ram(&self, id: u32) -> Option<&[f32]> {
        let i = id as usize;
        self.vectors
            .as_ref()
            .and_then(|v| v.get(i * self.dim..(i + 1) * self.dim))
    }

    /// Calls `f` with every vector from `from` on, in id order, reading the file sequentially.
    pub fn scan_vectors(
        &self,
        from: u32,
        mut f: impl FnMut(u32, &[f32]),
    ) -> Result<(), VectorError> {
        if let Some(v) = &self.vectors {
            for (i, row) in v.chunks_exact(self.dim).enumerate().skip(from as usize) {
                f(i as u32, row);
            }
            return Ok(());
        }
        let mut vector = vec![0f32; self.dim];
        scan_file(
            &self.file,
            self.record,
            from as usize,
            self.len,
            |id, bytes| {
                f32s_from_le(&bytes[..self.dim * 4], &mut vector);
                f(id, &vector);
            },
        )
    }

    /// The neighbour ids of element `id`: borrowed from RAM, or read from the file (an
    /// unreadable list reads as empty: the walk goes around it, and the error surfaces at the
    /// next checkpoint).
    #[inline]
    pub fn neighbors(&self, id: u32) -> Cow<'_, [u32]> {
        let i = id as usize;
        match &self.lists {
            Some(l) => match l.counts.get(i) {
                Some(&count) => {
                    Cow::Borrowed(&l.ids[i * self.degree..i * self.degree + count as usize])
                }
                None => Cow::Borrowed(&[]),
            },
            None => Cow::Owned(self.read_list(id).unwrap_or_default()),
        }
    }

    fn read_list(&self, id: u32) -> Result<Vec<u32>, VectorError> {
        if id as usize >= self.len {
            return Ok(Vec::new());
        }
        let mut bytes = vec![0u8; 4 + self.degree * 4];
        self.file
            .read_exact_at(&mut bytes, self.offset(id) + (self.dim * 4) as u64)
            .map_err(io)?;
        let count = (u32_at(&bytes, 0) as usize).min(self.degree);
        Ok((0..count).map(|i| u32_at(&bytes, 4 + i * 4)).collect())
    }

    fn write_list(&self, id: u32, list: &[u32]) -> Result<(), VectorError> {
        let mut bytes = Vec::with_capacity(4 + list.len() * 4);
        bytes.extend_from_slice(&(list.len() as u32).to_le_bytes());
        for n in list {
            bytes.extend_from_slice(&n.to_le_bytes());
        }
        self.file
            .write_all_at(&bytes, self.offset(id) + (self.dim * 4) as u64)
            .map_err(io)
    }

    /// Starts loading element `id`'s neighbour list into the cache (lists in RAM).
    #[inline]
    pub fn prefetch_neighbors(&self, id: u32) {
        let i = id as usize;
        if let Some(l) = &self.lists {
            if i < self.len {
                // The list's count, then every cache line its slots span.
                let (Some(count), Some(list)) = (
                    l.counts.get(i),
                    l.ids.get(i * self.degree..(i + 1) * self.degree),
                ) else {
                    return;
                };
                super::distance::prefetch(count);
                // All the slots: reading the count first would wait for it.
                super::distance::prefetch_slice(list);
            }
        }
    }

    /// Replaces element `id`'s list (cut at the degree). With the lists in the file, the write
    /// goes straight there; a failed write leaves the old list (the graph stays walkable).
    pub fn set_neighbors(&mut self, id: u32, ids: &[u32]) {
        let i = id as usize;
        if i >= self.len {
            return;
        }
        let count = ids.len().min(self.degree);
        match &mut self.lists {
            Some(l) => {
                l.ids[i * self.degree..i * self.degree + count].copy_from_slice(&ids[..count]);
                l.counts[i] = count as u16;
                mark(&mut l.dirty, id);
            }
            None => {
                if let Err(e) = self.write_list(id, &ids[..count]) {
                    tracing::warn!("vector node file: list of {id} not written: {e}");
                }
            }
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
        let id = u32::try_from(self.len)
            .map_err(|_| VectorError::Parameter("too many elements".into()))?;
        let mut record = vec![0u8; self.record];
        for (b, x) in record.chunks_exact_mut(4).zip(v) {
            b.copy_from_slice(&x.to_le_bytes());
        }
        self.file
            .write_all_at(&record, self.offset(id))
            .map_err(io)?;
        self.len += 1;
        if let Some(vectors) = &mut self.vectors {
            vectors.extend_from_slice(v);
        }
        if let Some(l) = &mut self.lists {
            l.ids.resize(self.len * self.degree, 0);
            l.counts.push(0);
            if l.dirty.len() * 64 < self.len {
                l.dirty.push(AtomicU64::new(0));
            }
        }
        self.fit_budget()?;
        Ok(id)
    }

    /// Makes room in RAM for exactly `capacity` elements.
    pub fn reserve_exact(&mut self, capacity: usize) {
        let more = capacity.saturating_sub(self.len);
        if let Some(v) = &mut self.vectors {
            v.reserve_exact(more * self.dim);
        }
        if let Some(l) = &mut self.lists {
            l.ids.reserve_exact(more * self.degree);
            l.counts.reserve_exact(more);
        }
    }

    /// Writes the lists changed since the last sync and the header to their records, then
    /// makes the file durable (a checkpoint).
    pub fn sync(&self) -> Result<(), VectorError> {
        self.write_dirty_lists()?;
        self.write_header()?;
        self.file.sync_data().map_err(io)
    }

    fn write_dirty_lists(&self) -> Result<(), VectorError> {
        let Some(l) = &self.lists else {
            return Ok(());
        };
        for (w, word) in l.dirty.iter().enumerate() {
            let mut bits = word.swap(0, Ordering::AcqRel);
            let taken = bits;
            while bits != 0 {
                let id = (w * 64 + bits.trailing_zeros() as usize) as u32;
                bits &= bits - 1;
                if let Err(e) = self.write_list(id, &self.neighbors(id)) {
                    // Not written: the next sync tries again.
                    word.fetch_or(taken, Ordering::AcqRel);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Bytes of the file.
    pub fn file_bytes(&self) -> usize {
        HEADER + self.len * self.record
    }

    /// Bytes held in RAM (the lists and vectors kept there).
    pub fn memory_bytes(&self) -> usize {
        let lists = self.lists.as_ref().map_or(0, |l| {
            l.ids.capacity() * 4 + l.counts.capacity() * 2 + l.dirty.capacity() * 8
        });
        lists + self.vectors.as_ref().map_or(0, |v| v.capacity() * 4)
    }
}

/// Whether `len` elements' lists, and then also a copy of their vectors, fit `budget`.
fn fitting(len: usize, dim: usize, degree: usize, budget: Budget) -> (bool, bool) {
    let lists = len.saturating_mul(degree * 4 + 2);
    let vectors = len.saturating_mul(dim * 4);
    (
        lists <= budget.bytes,
        budget.vector_copy && lists.saturating_add(vectors) <= budget.bytes,
    )
}

fn dirty_bits(len: usize) -> Vec<AtomicU64> {
    (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

fn mark(dirty: &mut [AtomicU64], id: u32) {
    if let Some(w) = dirty.get_mut(id as usize / 64) {
        *w.get_mut() |= 1 << (id % 64);
    }
}

/// Reads records `from..to` of a node file in large sequential chunks, calling `f` with each
/// record's id and bytes.
fn scan_file(
    file: &File,
    record: usize,
    from: usize,
    to: usize,
    mut f: impl FnMut(u32, &[u8]),
) -> Result<(), VectorError> {
    let per_chunk = (SCAN_CHUNK / record).max(1);
    let mut buf = vec![0u8; per_chunk.min(to.saturating_sub(from)) * record];
    let mut id = from;
    while id < to {
        let n = per_chunk.min(to - id);
        let bytes = &mut buf[..n * record];
        file.read_exact_at(bytes, (HEADER + id * record) as u64)
            .map_err(io)?;
        for (i, r) in bytes.chunks_exact(record).enumerate() {
            f((id + i) as u32, r);
        }
        id += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.luma");
        let mut f = NodeFile::create(&path, 3, 4).unwrap();
        for i in 0..3000u32 {
            let id = f.push(&[i as f32, -1.0, 0.5]).unwrap();
            f.set_neighbors(id, &[i + 1, i + 2, i + 3, i + 4, i + 5]);
        }
        assert!(matches!(f.push(&[1.0]), Err(VectorError::Dimension { .. })));
        let mut v = [0f32; 3];
        f.read_vector(2999, &mut v).unwrap();
        assert_eq!(v, [2999.0, -1.0, 0.5]);
        assert!(f.read_vector(3000, &mut v).is_err());
        f.sync().unwrap();
        drop(f);
        let mut seen = Vec::new();
        let f = NodeFile::open(&path, None, Budget::ALL, |id, v| seen.push((id, v[0]))).unwrap();
        assert_eq!(f.len(), 3000);
        assert_eq!(seen.len(), 3000);
        assert!(seen.iter().all(|&(id, x)| x == id as f32));
        // The list was cut at the degree.
        assert_eq!(*f.neighbors(7), [8, 9, 10, 11]);
        // Links past the last record are dropped.
        assert_eq!(*f.neighbors(2998), [2999]);
        let mut scanned = 0;
        f.scan_vectors(1000, |id, v| {
            assert_eq!(v[0], id as f32);
            scanned += 1;
        })
        .unwrap();
        assert_eq!(scanned, 2000);
    }

    #[test]
    fn opening_at_a_checkpoint_drops_later_records_and_links_to_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.luma");
        let mut f = NodeFile::create(&path, 2, 4).unwrap();
        for i in 0..10u32 {
            f.push(&[i as f32, 0.0]).unwrap();
        }
        f.set_neighbors(2, &[1, 8, 3]);
        f.sync().unwrap();
        drop(f);
        let mut f = NodeFile::open(&path, Some(5), Budget::ALL, |_, _| {}).unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(*f.neighbors(2), [1, 3]);
        // Id 5 now names a new element; the stale link to 8 is gone from the file too.
        for i in 0..5u32 {
            f.push(&[100.0 + i as f32, 0.0]).unwrap();
        }
        f.sync().unwrap();
        drop(f);
        let f = NodeFile::open(&path, None, Budget::ALL, |_, _| {}).unwrap();
        assert_eq!(*f.neighbors(2), [1, 3]);
        let mut v = [0f32; 2];
        f.read_vector(8, &mut v).unwrap();
        assert_eq!(v, [103.0, 0.0]);
        assert!(NodeFile::open(&path, Some(11), Budget::ALL, |_, _| {}).is_err());
    }

    #[test]
    fn what_passes_the_budget_is_read_from_the_file_with_the_same_results() {
        const SMALL: Budget = Budget {
            bytes: 16,
            vector_copy: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.luma");
        let mut f = NodeFile::create(&path, 2, 4).unwrap();
        // A record's list takes 4·4 + 2 bytes, its vector 8: 10 of both fit 260 bytes.
        f.set_budget(Budget {
            bytes: 260,
            vector_copy: true,
        })
        .unwrap();
        for i in 0..10u32 {
            let id = f.push(&[i as f32, 0.0]).unwrap();
            f.set_neighbors(id, &[(i + 1) % 10, (i + 2) % 10]);
        }
        assert!(f.lists_in_ram() && f.vectors_in_ram());
        // The 11th: the vectors leave RAM, the lists still fit.
        f.push(&[10.0, 0.0]).unwrap();
        assert!(f.lists_in_ram() && !f.vectors_in_ram());
        let mut v = [0f32; 2];
        f.read_vector(3, &mut v).unwrap();
        assert_eq!(v, [3.0, 0.0]);
        for i in 11..15u32 {
            f.push(&[i as f32, 0.0]).unwrap();
        }
        assert!(!f.lists_in_ram());
        assert_eq!(f.memory_bytes(), 0);
        // The lists written while in RAM read back from the file, and new ones go there.
        assert_eq!(*f.neighbors(3), [4, 5]);
        f.set_neighbors(10, &[0, 1, 2, 3, 4, 5]);
        assert_eq!(*f.neighbors(10), [0, 1, 2, 3]);
        f.sync().unwrap();
        drop(f);
        // Reopened: in the file under a small budget, in RAM under a large one.
        let f = NodeFile::open(&path, None, SMALL, |_, _| {}).unwrap();
        assert!(!f.lists_in_ram() && !f.vectors_in_ram());
        assert_eq!(*f.neighbors(9), [0, 1]);
        f.read_vector(14, &mut v).unwrap();
        assert_eq!(v, [14.0, 0.0]);
        // A checkpoint before element 10: the link to it is dropped from the file as well.
        drop(f);
        let f = NodeFile::open(&path, Some(10), SMALL, |_, _| {}).unwrap();
        assert_eq!(*f.neighbors(9), [0, 1]);
        drop(f);
        // That open cut the count at the checkpoint.
        let f = NodeFile::open(&path, None, Budget::ALL, |_, _| {}).unwrap();
        assert!(f.lists_in_ram() && f.vectors_in_ram());
        assert_eq!(f.len(), 10);
        assert_eq!(*f.neighbors(9), [0, 1]);
        let mut seen = 0;
        f.scan_vectors(4, |id, v| {
            assert_eq!(v[0], id as f32);
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, 6);
        drop(f);
        // Without a vector copy, however large the budget, only the lists are held.
        let mut f = NodeFile::open(
            &path,
            None,
            Budget {
                bytes: usize::MAX,
                vector_copy: false,
            },
            |_, _| {},
        )
        .unwrap();
        assert!(f.lists_in_ram() && !f.vectors_in_ram());
        f.read_vector(7, &mut v).unwrap();
        assert_eq!(v, [7.0, 0.0]);
        f.set_budget(Budget::ALL).unwrap();
        f.push(&[10.0, 0.0]).unwrap();
        assert!(
            f.lists_in_ram() && !f.vectors_in_ram(),
            "a dropped copy is not rebuilt"
        );
    }

    #[test]
    fn a_file_that_is_not_ours_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, vec![7u8; 8192]).unwrap();
        assert!(matches!(
            NodeFile::open(&path, None, Budget::ALL, |_, _| {}),
            Err(VectorError::Corrupt(_))
        ));
        std::fs::write(&path, b"LUMA").unwrap();
        assert!(NodeFile::open(&path, None, Budget::ALL, |_, _| {}).is_err());
    }
}
