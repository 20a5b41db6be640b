//! `KvView`: what a read sees of the KV engine, whether it runs on a connection (against a
//! snapshot and the row cache) or inside a write batch (against the batch's transaction, as
//! the reads of a MULTI/EXEC do).

use crate::cmd::CmdError;

/// Read access to keys and collection members at one point in time.
pub trait KvView {
    /// The clock the view judges expiry by (unix ms).
    fn now_ms(&self) -> u64;

    /// The row of `key` if it exists and has not expired, from the view's one consistent
    /// state (what multi-key reads and collections use).
    fn live_row(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError>;

    /// Like `live_row` for a read of a single key, which may come from the row cache (it can
    /// be newer than the view's snapshot, never older than what the client saw).
    fn live_row_cached(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        self.live_row(db, key)
    }

    /// One collection member's subkey.
    fn sub_get(&mut self, skey: &[u8]) -> Result<Option<Vec<u8>>, CmdError>;

    /// One hash, set, sorted-set or vector-set member's subkey (not a list's): inside a write
    /// batch it may come from the store's member cache.
    fn member_get(&mut self, skey: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        self.sub_get(skey)
    }

    /// Member subkeys in `from..to` (descending with `rev`), while `f` returns true.
    fn sub_scan(
        &mut self,
        from: &[u8],
        to: &[u8],
        rev: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), CmdError>;
}

/// Reads against a store snapshot alone (no row cache, no lazy expiry): for readers outside a
/// connection, such as SQL's `kv_get` and `vsearch`.
pub struct SnapshotView<'a> {
    pub tables: &'a crate::kv::store::ReadTables,
    pub now_ms: u64,
}

impl KvView for SnapshotView<'_> {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn live_row(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        Ok(self
            .tables
            .get(db, key)
            .map_err(CmdError::err)?
            .filter(|row| !crate::kv::meta::is_expired(row, self.now_ms)))
    }

    fn sub_get(&mut self, skey: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        self.tables.sub_get(skey).map_err(CmdError::err)
    }

    fn sub_scan(
        &mut self,
        from: &[u8],
        to: &[u8],
        rev: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        self.tables
            .sub_scan(from, to, rev, f)
            .map_err(CmdError::err)
    }
}
