//! The unified write-ahead log: segment files of framed records, appended in groups, fsynced per
//! `appendfsync`, scanned and repaired at start-up.
//!
//! Frame (little endian): `len: u32` (payload bytes) · `crc: u32` (CRC32C of lsn and payload) ·
//! `lsn: u64` · `payload`. Segments are named after their first LSN (`00000000000000000001.wal`),
//! so their order and LSN ranges are known without reading them. LSNs increase by one per record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file::{SegmentFile, SyncJob, WalDir};
use crate::config::AppendFsync;

pub type Lsn = u64;

pub const FRAME_HEADER: usize = 16;
/// A segment is closed and a new one started once it holds this much.
pub const DEFAULT_SEGMENT_LIMIT: u64 = 64 * 1024 * 1024;
/// Refuse records larger than this (a bulk is at most 512 MB, a record holds a few).
const MAX_RECORD: usize = 2 * 1024 * 1024 * 1024 - 1;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("WAL I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "WAL corrupt in {segment} at byte {offset}: {reason}; refusing to start over it \
         (start with --wal-repair yes to truncate the log there)"
    )]
    Corrupt {
        segment: String,
        offset: u64,
        reason: String,
    },
    #[error("WAL record of {0} bytes is too large")]
    TooLarge(usize),
}

/// What start-up found in the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub first_lsn: Option<Lsn>,
    pub last_lsn: Option<Lsn>,
    pub records: u64,
    /// Bytes cut from the end of the last segment (a write torn by a crash).
    pub torn_tail_bytes: u64,
    /// Bytes dropped by an explicit repair of a corrupt log.
    pub repaired_bytes: u64,
}

/// Appends one frame for `payload` to `out`.
pub fn encode_frame(out: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    let mut crc = crc32c::crc32c(&lsn.to_le_bytes());
    crc = crc32c::crc32c_append(crc, payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
}

/// One parsed frame, or why the bytes at this offset are not one.
enum Parsed<'a> {
    Frame {
        lsn: Lsn,
        payload: &'a [u8],
        len: usize,
    },
    /// Not enough bytes for the frame the header announces (or for a header).
    Incomplete,
    Bad(&'static str),
}

fn parse_frame(data: &[u8]) -> Parsed<'_> {
    if data.len() < FRAME_HEADER {
        return Parsed::Incomplete;
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let len = word(0) as usize;
    let crc = word(4);
    let mut lsn_bytes = [0u8; 8];
    lsn_bytes.copy_from_slice(&data[8..16]);
    let lsn = u64::from_le_bytes(lsn_bytes);
    let Some(payload) = data.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Parsed::Incomplete;
    };
    let actual = crc32c::crc32c_append(crc32c::crc32c(&lsn_bytes), payload);
    if actual != crc {
        return Parsed::Bad("checksum mismatch");
    }
    Parsed::Frame {
        lsn,
        payload,
        len: FRAME_HEADER + len,
    }
}

fn segment_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}.wal")
}

fn segment_first_lsn(name: &str) -> Option<Lsn> {
    name.strip_suffix(".wal")?.parse().ok()
}

/// The log, open for appending.
pub struct Wal {
    dir: Arc<dyn WalDir>,
    /// (name, first LSN) of every segment, oldest first; the last one is being appended to.
    segments: Vec<(String, Lsn)>,
    current: Option<Box<dyn SegmentFile>>,
    current_len: u64,
    total_len: u64,
    next_lsn: Lsn,
    policy: AppendFsync,
    segment_limit: u64,
    unsynced: bool,
    last_sync: Instant,
    frame_buf: Vec<u8>,
    pub report: RecoveryReport,
}

impl Wal {
    /// Opens the log, validating every segment. A torn last record is cut off; a corrupt record
    /// elsewhere is an error unless `repair` is set, which truncates the log there.
    /// `applied_lsn` is the highest LSN every engine already holds (new records continue after
    /// the larger of it and the log's end).
    pub fn open(
        dir: Arc<dyn WalDir>,
        policy: AppendFsync,
        applied_lsn: Lsn,
        repair: bool,
    ) -> Result<Wal, WalError> {
        let mut names = dir.list()?;
        names.retain(|n| segment_first_lsn(n).is_some());
        let mut report = RecoveryReport::default();
        let mut segments = Vec::new();
        let mut total_len = 0;
        let mut expected: Option<Lsn> = None;
        let mut cut_after: Option<usize> = None;
        for (index, name) in names.iter().enumerate() {
            let is_last = index + 1 == names.len();
            let data = dir.read(name)?;
            let first = segment_first_lsn(name).unwrap_or(0);
            let mut offset = 0usize;
            let mut problem: Option<&'static str> = None;
            while offset < data.len() {
                match parse_frame(&data[offset..]) {
                    Parsed::Frame { lsn, len, .. } => {
                        let want = expected.unwrap_or(first);
                        if lsn != want {
                            problem = Some("LSN out of sequence");
                            break;
                        }
                        report.first_lsn.get_or_insert(lsn);
                        report.last_lsn = Some(lsn);
                        report.records += 1;
                        expected = Some(lsn + 1);
                        offset += len;
                    }
                    Parsed::Incomplete => {
                        problem = Some("incomplete record");
                        break;
                    }
                    Parsed::Bad(why) => {
                        problem = Some(why);
                        break;
                    }
                }
            }
            if let Some(reason) = problem {
                let rest = (data.len() - offset) as u64;
                // A torn write leaves a prefix of the last frames: nothing valid after it.
                let torn = is_last && !valid_frame_follows(&data[offset..]);
                if torn {
                    tracing::warn!(
                        "WAL: cutting a torn record of {rest} bytes at the end of {name} \
                         (offset {offset})"
                    );
                    dir.truncate(name, offset as u64)?;
                    report.torn_tail_bytes += rest;
                } else if repair {
                    let later: u64 = names[index + 1..]
                        .iter()
                        .map(|n| dir.len(n).unwrap_or(0))
                        .sum();
                    tracing::warn!(
                        "WAL repair: truncating {name} at byte {offset} ({reason}), dropping \
                         {} later segments",
                        names.len() - index - 1
                    );
                    dir.truncate(name, offset as u64)?;
                    report.repaired_bytes += rest + later;
                    cut_after = Some(index);
                } else {
                    return Err(WalError::Corrupt {
                        segment: name.clone(),
                        offset: offset as u64,
                        reason: reason.to_string(),
                    });
                }
            }
            total_len += offset as u64;
            segments.push((name.clone(), first));
            if cut_after.is_some() {
                break;
            }
        }
        if let Some(index) = cut_after {
            for name in &names[index + 1..] {
                dir.remove(name)?;
            }
            dir.sync_dir()?;
        }
        let log_next = expected.unwrap_or(1);
        let next_lsn = log_next.max(applied_lsn + 1);
        let mut wal = Wal {
            dir,
            segments,
            current: None,
            current_len: 0,
            total_len,
            next_lsn,
            policy,
            segment_limit: DEFAULT_SEGMENT_LIMIT,
            unsynced: false,
            last_sync: Instant::now(),
            frame_buf: Vec::new(),
            report,
        };
        wal.open_tail(log_next)?;
        Ok(wal)
    }

    /// Calls `apply` for every record with an LSN above `after`, in order.
    pub fn replay(
        &self,
        after: Lsn,
        mut apply: impl FnMut(Lsn, &[u8]) -> Result<(), String>,
    ) -> Result<u64, WalError> {
        let mut applied = 0;
        for (index, (name, first)) in self.segments.iter().enumerate() {
            let next_first = self.segments.get(index + 1).map(|(_, f)| *f);
            if next_first.is_some_and(|n| n <= after + 1) {
                continue; // every record of this segment is already applied
            }
            let data = self.dir.read(name)?;
            let mut offset = 0;
            while let Parsed::Frame { lsn, payload, len } = parse_frame(&data[offset..]) {
                if lsn > after {
                    apply(lsn, payload).map_err(|reason| WalError::Corrupt {
                        segment: name.clone(),
                        offset: offset as u64,
                        reason,
                    })?;
                    applied += 1;
                }
                offset += len;
            }
            let _ = first;
        }
        Ok(applied)
    }

    /// At open: keep appending to the last segment if numbering continues there, else start
    /// a new one named for `next_lsn`.
    fn open_tail(&mut self, log_next: Lsn) -> Result<(), WalError> {
        match self.segments.last() {
            Some((name, _)) if log_next == self.next_lsn => {
                self.current = Some(self.dir.open_append(name)?);
                self.current_len = self.dir.len(name)?;
                Ok(())
            }
            _ => self.rotate(),
        }
    }

    /// Closes the current segment (durably) and starts one named for `next_lsn`.
    fn rotate(&mut self) -> Result<(), WalError> {
        if let Some(mut old) = self.current.take() {
            old.sync()?;
        }
        let name = segment_name(self.next_lsn);
        let file = self.dir.open_append(&name)?;
        if self.segments.last().is_none_or(|(n, _)| *n != name) {
            self.segments.push((name, self.next_lsn));
        }
        self.dir.sync_dir()?;
        self.current = Some(file);
        self.current_len = 0;
        Ok(())
    }

    /// Appends one record per payload; returns the LSN of the first. Under `always` the records
    /// are durable when this returns; otherwise they are written (to the OS).
    pub fn append(&mut self, payloads: &[&[u8]]) -> Result<Lsn, WalError> {
        if self.current_len >= self.segment_limit {
            self.rotate()?;
        }
        let first = self.next_lsn;
        self.frame_buf.clear();
        for (i, payload) in payloads.iter().enumerate() {
            if payload.len() > MAX_RECORD {
                return Err(WalError::TooLarge(payload.len()));
            }
            encode_frame(&mut self.frame_buf, first + i as u64, payload);
        }
        let current = match self.current.as_mut() {
            Some(c) => c,
            None => return Err(WalError::Io(std::io::Error::other("WAL is closed"))),
        };
        if let Err(e) = current.append(&self.frame_buf) {
            // Undo a partial write so later records do not follow garbage; if even that fails,
            // close the log: appending after garbage would read as corruption at restart.
            if current.truncate(self.current_len).is_err() {
                self.current = None;
            }
            return Err(e.into());
        }
        self.next_lsn += payloads.len() as u64;
        let written = self.frame_buf.len() as u64;
        self.current_len += written;
        self.total_len += written;
        self.unsynced = true;
        if self.policy == AppendFsync::Always {
            self.sync()?;
        }
        Ok(first)
    }

    /// fsyncs what was appended.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if self.unsynced {
            if let Some(current) = self.current.as_mut() {
                current.sync()?;
            }
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Under `everysec`, once a second: an fsync of what was appended, to run without holding
    /// the log (appends go on meanwhile). Also returns how long until the next one is due.
    pub fn everysec_sync_job(&mut self) -> Result<(Option<SyncJob>, Duration), WalError> {
        let second = Duration::from_secs(1);
        if self.policy != AppendFsync::EverySec {
            return Ok((None, second));
        }
        let since = self.last_sync.elapsed();
        if since < second {
            return Ok((None, second - since));
        }
        self.last_sync = Instant::now();
        if !self.unsynced {
            return Ok((None, second));
        }
        let job = match self.current.as_ref() {
            Some(current) => current.sync_job()?,
            None => return Ok((None, second)),
        };
        self.unsynced = false;
        Ok((Some(job), second))
    }

    /// A deferred fsync failed: what it covered is unsynced again.
    pub fn mark_unsynced(&mut self) {
        self.unsynced = true;
    }

    pub fn set_policy(&mut self, policy: AppendFsync) {
        self.policy = policy;
    }

    /// Deletes the segments whose records all have LSNs at or below `durable_lsn` (every engine
    /// holds them durably). The segment being appended to is first closed if it qualifies.
    pub fn truncate_through(&mut self, durable_lsn: Lsn) -> Result<u64, WalError> {
        if self.next_lsn <= durable_lsn + 1 && self.current_len > 0 {
            self.rotate()?;
        }
        let mut removed = 0;
        while self.segments.len() > 1 {
            let next_first = self.segments[1].1;
            if next_first > durable_lsn + 1 {
                break;
            }
            let (name, _) = self.segments.remove(0);
            let size = self.dir.len(&name).unwrap_or(0);
            self.dir.remove(&name)?;
            self.total_len = self.total_len.saturating_sub(size);
            removed += 1;
        }
        if removed > 0 {
            self.dir.sync_dir()?;
        }
        Ok(removed)
    }

    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    pub fn last_lsn(&self) -> Lsn {
        self.next_lsn - 1
    }

    /// Bytes of log on disk.
    pub fn size(&self) -> u64 {
        self.total_len
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    #[cfg(test)]
    fn set_segment_limit(&mut self, limit: u64) {
        self.segment_limit = limit;
    }
}

/// Is there a whole valid frame anywhere after the first byte of `rest`? (Then the damage is
/// in the middle of the log, not a torn tail.)
fn valid_frame_follows(rest: &[u8]) -> bool {
    (1..rest.len().saturating_sub(FRAME_HEADER - 1)).any(|start| {
        matches!(parse_frame(&rest[start..]), Parsed::Frame { len, .. } if len > FRAME_HEADER)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::file::SimDisk;

    fn open(disk: &SimDisk, policy: AppendFsync) -> Wal {
        Wal::open(Arc::new(disk.clone()), policy, 0, false).unwrap()
    }

    fn records(wal: &Wal) -> Vec<(Lsn, Vec<u8>)> {
        let mut out = Vec::new();
        wal.replay(0, |lsn, p| {
            out.push((lsn, p.to_vec()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn append_and_replay_in_order() {
        let disk = SimDisk::new();
        let mut wal = open(&disk, AppendFsync::Always);
        assert_eq!(wal.append(&[b"a", b"bb"]).unwrap(), 1);
        assert_eq!(wal.append(&[b"ccc"]).unwrap(), 3);
        drop(wal);
        let wal = open(&disk, AppendFsync::Always);
        assert_eq!(
            records(&wal),
            vec![
                (1, b"a".to_vec()),
                (2, b"bb".to_vec()),
                (3, b"ccc".to_vec())
            ]
        );
        assert_eq!(wal.next_lsn(), 4);
        assert_eq!(wal.report.records, 3);
    }

    #[test]
    fn always_is_durable_at_return_everysec_and_no_are_not() {
        for (policy, survives) in [
            (AppendFsync::Always, true),
            (AppendFsync::EverySec, false),
            (AppendFsync::No, false),
        ] {
            let disk = SimDisk::new();
            let mut wal = open(&disk, policy);
            wal.append(&[b"x"]).unwrap();
            disk.power_cut();
            let wal = open(&disk, policy);
            assert_eq!(records(&wal).len(), usize::from(survives), "{policy:?}");
        }
    }

    #[test]
    fn cut_at_every_byte_recovers_whole_records() {
        let disk = SimDisk::new();
        let mut wal = open(&disk, AppendFsync::Always);
        for i in 0..5u8 {
            wal.append(&[&vec![i; 10 + i as usize]]).unwrap();
        }
        drop(wal);
        let name = disk.list().unwrap()[0].clone();
        let full = disk.read(&name).unwrap();
        // Frame boundaries: after each frame.
        let mut ends = vec![0];
        for i in 0..5usize {
            ends.push(ends[i] + FRAME_HEADER + 10 + i);
        }
        for cut in 0..=full.len() {
            let disk = SimDisk::new();
            disk.set_contents(&name, full[..cut].to_vec());
            let wal = open(&disk, AppendFsync::Always);
            let whole = ends.iter().filter(|&&e| e > 0 && e <= cut).count();
            assert_eq!(records(&wal).len(), whole, "cut at {cut}");
            assert_eq!(wal.next_lsn(), whole as u64 + 1);
            assert_eq!(
                disk.read(&name).unwrap().len(),
                ends[whole],
                "torn tail cut at {cut}"
            );
        }
    }

    #[test]
    fn zero_filled_tail_is_torn_not_corrupt() {
        let disk = SimDisk::new();
        let mut wal = open(&disk, AppendFsync::Always);
        wal.append(&[b"keep"]).unwrap();
        drop(wal);
        let name = disk.list().unwrap()[0].clone();
        let mut data = disk.read(&name).unwrap();
        data.extend_from_slice(&[0u8; 4096]);
        disk.set_contents(&name, data);
        let wal = open(&disk, AppendFsync::Always);
        assert_eq!(records(&wal).len(), 1);
        assert_eq!(wal.report.torn_tail_bytes, 4096);
    }

    #[test]
    fn corruption_in_the_middle_refuses_then_repairs() {
        let disk = SimDisk::new();
        let mut wal = open(&disk, AppendFsync::Always);
        for _ in 0..3 {
            wal.append(&[b"0123456789"]).unwrap();
        }
        drop(wal);
        let name = disk.list().unwrap()[0].clone();
        let mut data = disk.read(&name).unwrap();
        data[FRAME_HEADER + 3] ^= 0xff; // payload of record 1
        disk.set_contents(&name, data);
        let err = Wal::open(Arc::new(disk.clone()), AppendFsync::Always, 0, false).err();
        assert!(
            matches!(err, Some(WalError::Corrupt { offset: 0, .. })),
            "{err:?}"
        );
        let wal = Wal::open(Arc::new(disk.clone()), AppendFsync::Always, 0, true).unwrap();
        assert_eq!(records(&wal).len(), 0);
        assert_eq!(wal.next_lsn(), 1);
        assert!(wal.report.repaired_bytes > 0);
    }

    #[test]
    fn segments_rotate_and_truncate_below_durable_lsn() {
        let disk = SimDisk::new();
        let mut wal = open(&disk, AppendFsync::No);
        wal.set_segment_limit(100);
        for _ in 0..20 {
            wal.append(&[&[7u8; 40]]).unwrap();
        }
        assert!(wal.segment_count() > 5);
        let on_disk = |disk: &SimDisk| -> u64 {
            let names = disk.list().unwrap();
            names
                .iter()
                .map(|n| disk.read(n).unwrap().len() as u64)
                .sum()
        };
        assert_eq!(wal.size(), on_disk(&disk));
        wal.truncate_through(10).unwrap();
        assert_eq!(wal.size(), on_disk(&disk), "size counts what is left");
        let left = records(&wal);
        assert!(
            left.first().is_some_and(|(lsn, _)| *lsn <= 11),
            "record 11 must remain"
        );
        assert_eq!(left.last().map(|r| r.0), Some(20));
        wal.truncate_through(20).unwrap();
        assert_eq!(records(&wal).len(), 0);
        assert_eq!(wal.size(), on_disk(&disk));
        drop(wal);
        // After a full truncation the engines' LSN tells where numbering continues.
        let mut wal = Wal::open(Arc::new(disk.clone()), AppendFsync::No, 20, false).unwrap();
        assert_eq!(wal.append(&[b"next"]).unwrap(), 21);
    }

    #[test]
    fn full_disk_is_an_error_not_a_panic() {
        let disk = SimDisk::new();
        let mut wal = open(&disk, AppendFsync::Always);
        disk.set_fail_appends(true);
        assert!(matches!(wal.append(&[b"x"]), Err(WalError::Io(_))));
        disk.set_fail_appends(false);
        assert_eq!(wal.append(&[b"y"]).unwrap(), 1);
    }
}
