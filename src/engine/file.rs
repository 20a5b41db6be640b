//! The WAL's file layer: a small trait with a real implementation and a fault-injecting one that
//! drops every byte not yet fsynced at a simulated power cut.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A WAL segment open for appending.
pub trait SegmentFile: Send {
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file back to `len` bytes (undoing a failed, possibly partial, append).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// An fsync of this file that can run on another thread, while appends go on.
    fn sync_job(&self) -> io::Result<SyncJob>;
}

/// A deferred fsync (see `SegmentFile::sync_job`).
pub type SyncJob = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// The folder of WAL segments.
pub trait WalDir: Send + Sync {
    /// Segment names, sorted.
    fn list(&self) -> io::Result<Vec<String>>;
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// A segment's length in bytes (without reading it: segments run to 64 MiB).
    fn len(&self, name: &str) -> io::Result<u64>;
    /// Opens (creating if needed) a segment for appending at its end.
    fn open_append(&self, name: &str) -> io::Result<Box<dyn SegmentFile>>;
    /// Cuts a segment to `len` bytes, durably (torn-tail repair).
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Makes creations and removals of segments durable.
    fn sync_dir(&self) -> io::Result<()>;
}

/// Segments as files in a real folder.
pub struct FsDir {
    path: PathBuf,
}

impl FsDir {
    pub fn open(path: PathBuf) -> io::Result<FsDir> {
        std::fs::create_dir_all(&path)?;
        Ok(FsDir { path })
    }
}

struct FsSegment(File);

impl SegmentFile for FsSegment {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_job(&self) -> io::Result<SyncJob> {
        // A duplicated descriptor: its fsync covers the same file.
        let file = self.0.try_clone()?;
        Ok(Box::new(move || file.sync_data()))
    }
}

impl WalDir for FsDir {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wal") {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        File::open(self.path.join(name))?.read_to_end(&mut data)?;
        Ok(data)
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        Ok(std::fs::metadata(self.path.join(name))?.len())
    }

    fn open_append(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join(name))?;
        Ok(Box::new(FsSegment(file)))
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.path.join(name))?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }
}

/// One simulated file: what is durable, and what only sits in the "page cache".
#[derive(Debug, Default, Clone)]
struct SimFile {
    durable: Vec<u8>,
    pending: Vec<u8>,
}

#[derive(Debug, Default)]
struct SimState {
    files: BTreeMap<String, SimFile>,
    /// Files created or removed since the last directory sync: a power cut undoes those.
    durable_names: Vec<String>,
    fsync_delay: Duration,
    fsyncs: u64,
    fail_appends: bool,
}

/// A simulated disk for tests: `power_cut` drops every byte (and every file creation) that was
/// not fsynced, as a power loss would.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<SimState>>,
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loses everything not yet durable.
    pub fn power_cut(&self) {
        let mut state = self.lock();
        let durable_names = state.durable_names.clone();
        state.files.retain(|name, _| durable_names.contains(name));
        for file in state.files.values_mut() {
            file.pending.clear();
        }
    }

    /// The disk as a power cut now would leave it: synced bytes of files whose creation was
    /// synced.
    pub fn power_cut_image(&self) -> SimDisk {
        let state = self.lock();
        let files = state
            .files
            .iter()
            .filter(|(name, _)| state.durable_names.contains(name))
            .map(|(name, f)| {
                (
                    name.clone(),
                    SimFile {
                        durable: f.durable.clone(),
                        pending: Vec::new(),
                    },
                )
            })
            .collect();
        SimDisk {
            state: Arc::new(Mutex::new(SimState {
                files,
                durable_names: state.durable_names.clone(),
                ..SimState::default()
            })),
        }
    }

    /// Every fsync takes this long (tests check no reply outruns its fsync).
    pub fn set_fsync_delay(&self, delay: Duration) {
        self.lock().fsync_delay = delay;
    }

    /// Makes appends fail as on a full disk.
    pub fn set_fail_appends(&self, fail: bool) {
        self.lock().fail_appends = fail;
    }

    pub fn fsyncs(&self) -> u64 {
        self.lock().fsyncs
    }

    /// Durable bytes of all segments, concatenated in name order.
    pub fn durable_bytes(&self) -> usize {
        self.lock().files.values().map(|f| f.durable.len()).sum()
    }

    /// Replaces a segment's content (durably), e.g. to cut or corrupt it.
    pub fn set_contents(&self, name: &str, data: Vec<u8>) {
        let mut state = self.lock();
        state.files.insert(
            name.to_string(),
            SimFile {
                durable: data,
                pending: Vec::new(),
            },
        );
        if !state.durable_names.iter().any(|n| n == name) {
            state.durable_names.push(name.to_string());
        }
    }
}

struct SimSegment {
    disk: SimDisk,
    name: String,
}

impl SegmentFile for SimSegment {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut state = self.disk.lock();
        if state.fail_appends {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "simulated full disk",
            ));
        }
        state
            .files
            .entry(self.name.clone())
            .or_default()
            .pending
            .extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let delay = self.disk.lock().fsync_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut state = self.disk.lock();
        state.fsyncs += 1;
        if let Some(file) = state.files.get_mut(&self.name) {
            let pending = std::mem::take(&mut file.pending);
            file.durable.extend_from_slice(&pending);
        }
        Ok(())
    }

    fn sync_job(&self) -> io::Result<SyncJob> {
        let mut segment = SimSegment {
            disk: self.disk.clone(),
            name: self.name.clone(),
        };
        Ok(Box::new(move || segment.sync()))
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.disk.lock();
        if let Some(file) = state.files.get_mut(&self.name) {
            let len = len as usize;
            if len <= file.durable.len() {
                file.durable.truncate(len);
                file.pending.clear();
            } else {
                file.pending.truncate(len - file.durable.len());
            }
        }
        Ok(())
    }
}

impl WalDir for SimDisk {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().files.keys().cloned().collect())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let state = self.lock();
        let file = state
            .files
            .get(name)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let mut data = file.durable.clone();
        data.extend_from_slice(&file.pending);
        Ok(data)
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        let state = self.lock();
        let file = state
            .files
            .get(name)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok((file.durable.len() + file.pending.len()) as u64)
    }

    fn open_append(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        self.lock().files.entry(name.to_string()).or_default();
        Ok(Box::new(SimSegment {
            disk: self.clone(),
            name: name.to_string(),
        }))
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(file) = state.files.get_mut(name) {
            file.durable.extend(std::mem::take(&mut file.pending));
            file.durable.truncate(len as usize);
        }
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.lock().files.remove(name);
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut state = self.lock();
        state.durable_names = state.files.keys().cloned().collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_cut_drops_unsynced_bytes_and_files() {
        let disk = SimDisk::new();
        let mut a = disk.open_append("a.wal").unwrap();
        disk.sync_dir().unwrap();
        a.append(b"durable").unwrap();
        a.sync().unwrap();
        a.append(b"lost").unwrap();
        let mut b = disk.open_append("b.wal").unwrap();
        b.append(b"x").unwrap();
        b.sync().unwrap();
        assert_eq!(disk.len("a.wal").unwrap(), 11);
        disk.power_cut();
        assert_eq!(disk.read("a.wal").unwrap(), b"durable");
        assert_eq!(disk.len("a.wal").unwrap(), 7);
        assert!(
            disk.read("b.wal").is_err(),
            "a file whose creation was not synced is lost"
        );
    }
}
