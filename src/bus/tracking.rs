//! Client-side caching (CLIENT TRACKING): which clients read which keys, and the invalidation
//! messages a change sends them.
//!
//! As in Redis, the table is keyed by key name alone (not database), a key's readers are
//! forgotten once it is invalidated (they must read it again to hear about it again), and
//! broadcast clients hear about every key under one of their prefixes without any table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::mailbox::{Mailbox, Message, OutputLimit};

/// How one client tracks.
#[derive(Debug, Clone)]
pub struct TrackingMode {
    /// Where invalidations go: the client itself or its REDIRECT target.
    pub target: Arc<Mailbox>,
    /// The REDIRECT client id (0 = none).
    pub redirect: u64,
    /// `Some(prefixes)` in BCAST mode (an empty list means every key).
    pub bcast: Option<Vec<Bytes>>,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

#[derive(Debug, Default)]
struct Table {
    clients: HashMap<u64, TrackingMode>,
    /// key → ids of the clients that read it since its last invalidation.
    readers: HashMap<Bytes, Vec<u64>>,
}

#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on (0 lets the write path skip all of this).
    active: AtomicUsize,
    table: Mutex<Table>,
}

impl Tracking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Turns tracking on (or changes its mode) for client `id`.
    pub fn enable(&self, id: u64, mode: TrackingMode) {
        let mut t = self.lock();
        if t.clients.insert(id, mode).is_none() {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Turns tracking off for client `id` (its remembered reads go with the next invalidation).
    pub fn disable(&self, id: u64) {
        let mut t = self.lock();
        if t.clients.remove(&id).is_some() {
            self.active.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Client `id` read `keys`.
    pub fn remember<'k>(&self, id: u64, keys: impl IntoIterator<Item = &'k Bytes>) {
        let mut t = self.lock();
        for key in keys {
            // Copied, not sliced from the read buffer (which it would pin).
            let readers = t.readers.entry(Bytes::copy_from_slice(key)).or_default();
            if !readers.contains(&id) {
                readers.push(id);
            }
        }
    }

    /// Number of keys in the tracking table (INFO `tracking_total_keys`).
    pub fn tracked_keys(&self) -> usize {
        self.lock().readers.len()
    }

    pub fn tracking_clients(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// `keys` changed, by client `origin` (0 = the server itself, e.g. expiry).
    pub fn invalidate(&self, keys: &[Bytes], origin: u64, limit: OutputLimit, now_ms: u64) {
        let mut t = self.lock();
        let Table { clients, readers } = &mut *t;
        for key in keys {
            if let Some(ids) = readers.remove(key) {
                for id in ids {
                    if let Some(mode) = clients.get(&id) {
                        if !(mode.noloop && id == origin) && mode.bcast.is_none() {
                            send(mode, key, limit, now_ms);
                        }
                    }
                }
            }
            for (id, mode) in clients.iter() {
                let Some(prefixes) = &mode.bcast else {
                    continue;
                };
                if mode.noloop && *id == origin {
                    continue;
                }
                if prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p)) {
                    send(mode, key, limit, now_ms);
                }
            }
        }
    }

    /// Every key changed (FLUSHDB, FLUSHALL): every tracking client hears it once.
    pub fn invalidate_all(&self, limit: OutputLimit, now_ms: u64) {
        let mut t = self.lock();
        t.readers.clear();
        for mode in t.clients.values() {
            mode.target
                .deliver(Message::Invalidate(None), limit, now_ms);
        }
    }
}

fn send(mode: &TrackingMode, key: &Bytes, limit: OutputLimit, now_ms: u64) {
    mode.target
        .deliver(Message::Invalidate(Some(vec![key.clone()])), limit, now_ms);
}
