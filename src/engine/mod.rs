//! Core: owns the write-ahead log and the engines. Until the WAL and the KV engine land, the
//! keyspace has no command that writes to it, so every database is empty.

pub mod file;
pub mod wal;

/// The engines behind the commands.
#[derive(Debug)]
pub struct Engine {
    databases: u32,
}

impl Engine {
    pub fn open(databases: u32) -> Self {
        Engine { databases }
    }

    pub fn databases(&self) -> u32 {
        self.databases
    }

    /// Number of keys in database `db`.
    pub fn dbsize(&self, _db: u32) -> u64 {
        0
    }

    /// Removes every key of database `db`.
    pub fn flush_db(&self, _db: u32) {}

    /// Removes every key of every database.
    pub fn flush_all(&self) {}

    /// Closes the engines cleanly at shutdown.
    pub fn close(&self) {}
}
