//! The observers of the write path. Every change to a key passes [`Observers::changed`] once,
//! right after the write that made it (inside its batch, before the batch commits): WATCH is
//! served here, and keyspace events and client-tracking invalidation join it. Commands never
//! call observers themselves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::record::Op;

type Watchers = Vec<(u64, Arc<AtomicBool>)>;

/// Keys watched by clients (WATCH), each with the flags to raise when it changes.
#[derive(Debug, Default)]
pub struct Observers {
    watched_keys: AtomicUsize,
    watches: Mutex<HashMap<(u32, Vec<u8>), Watchers>>,
}

impl Observers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u32, Vec<u8>), Watchers>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Client `client` watches `key`: any change to it raises `dirty`.
    pub fn watch(&self, client: u64, dirty: &Arc<AtomicBool>, db: u32, key: &[u8]) {
        let mut map = self.lock();
        let watchers = map.entry((db, key.to_vec())).or_default();
        if !watchers.iter().any(|(id, _)| *id == client) {
            watchers.push((client, dirty.clone()));
            self.watched_keys.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets client `client`'s watches on `keys`.
    pub fn unwatch<'k>(&self, client: u64, keys: impl IntoIterator<Item = (u32, &'k [u8])>) {
        let mut map = self.lock();
        for (db, key) in keys {
            let k = (db, key.to_vec());
            if let Some(watchers) = map.get_mut(&k) {
                let before = watchers.len();
                watchers.retain(|(id, _)| *id != client);
                self.watched_keys
                    .fetch_sub(before - watchers.len(), Ordering::Relaxed);
                if watchers.is_empty() {
                    map.remove(&k);
                }
            }
        }
    }

    /// Reports one write's changes: the operations it logged and the collections whose
    /// members it changed.
    pub fn changed(&self, ops: &[Op], touched: &[(u32, Vec<u8>)]) {
        if self.watched_keys.load(Ordering::Relaxed) == 0 {
            return;
        }
        let map = self.lock();
        let raise = |db: u32, key: &[u8]| {
            if let Some(watchers) = map.get(&(db, key.to_vec())) {
                for (_, flag) in watchers {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        };
        let raise_db = |db: u32| {
            for ((d, _), watchers) in map.iter() {
                if *d == db {
                    for (_, flag) in watchers {
                        flag.store(true, Ordering::SeqCst);
                    }
                }
            }
        };
        for op in ops {
            match op {
                Op::PutRow { db, key, .. }
                | Op::Delete { db, key }
                | Op::Forget { db, key }
                | Op::SetExpire { db, key, .. } => raise(*db, key),
                Op::FlushDb { db } => raise_db(*db),
                Op::SwapDb { a, b } => {
                    raise_db(*a);
                    raise_db(*b);
                }
                Op::PutSub { .. }
                | Op::DelSub { .. }
                | Op::ListPut { .. }
                | Op::ListDel { .. }
                | Op::Sql { .. } => {}
            }
        }
        for (db, key) in touched {
            raise(*db, key);
        }
    }
}

/// The keys one write changed (whole-database operations excepted).
pub fn changed_keys(ops: &[Op], touched: &[(u32, Vec<u8>)]) -> Vec<(u32, Vec<u8>)> {
    let mut keys: Vec<(u32, Vec<u8>)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::PutRow { db, key, .. } | Op::SetExpire { db, key, .. } => Some((*db, key.clone())),
            _ => None,
        })
        .collect();
    keys.extend(touched.iter().cloned());
    keys.sort();
    keys.dedup();
    keys
}

/// Every key one write changed, for client-side caching; true too if a whole database changed.
pub fn all_changed_keys(ops: &[Op], touched: &[(u32, Vec<u8>)]) -> (Vec<bytes::Bytes>, bool) {
    let mut whole_db = false;
    let mut keys: Vec<bytes::Bytes> = Vec::new();
    for op in ops {
        match op {
            Op::PutRow { key, .. }
            | Op::Delete { key, .. }
            | Op::Forget { key, .. }
            | Op::SetExpire { key, .. } => keys.push(bytes::Bytes::copy_from_slice(key)),
            Op::FlushDb { .. } | Op::SwapDb { .. } => whole_db = true,
            Op::PutSub { .. }
            | Op::DelSub { .. }
            | Op::ListPut { .. }
            | Op::ListDel { .. }
            | Op::Sql { .. } => {}
        }
    }
    keys.extend(
        touched
            .iter()
            .map(|(_, k)| bytes::Bytes::copy_from_slice(k)),
    );
    keys.sort();
    keys.dedup();
    (keys, whole_db)
}
