//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN …) and their wake-up.
//!
//! A blocking command first tries at once, inside its batch; if there is nothing to take it
//! registers a waiter there, so no write can slip between the try and the registration. After
//! every write of a batch the engine looks for waiters on the keys the write touched and
//! serves them, oldest first per key (Redis's order), inside the same batch: a waiter's pop is
//! logged like any write, and what it pushes (BLMOVE) can wake the next waiter in turn.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::replies::ReplyTo;
use super::WriteCtx;
use crate::cmd::CmdError;
use crate::resp::Reply;

/// Tries to serve a waiter: `Some(reply)` once it took something.
pub type Attempt = Box<dyn FnMut(&mut WriteCtx<'_, '_>) -> AttemptResult + Send>;

/// A key: (database, name).
pub type Key = (u32, Vec<u8>);

/// What an attempt gave: a reply once it took something.
pub type AttemptResult = Result<Option<Reply>, CmdError>;

struct Waiter {
    keys: Vec<(u32, Vec<u8>)>,
    attempt: Attempt,
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    waiters: HashMap<u64, Waiter>,
    /// Per key, the ids of its waiters, oldest first.
    queues: HashMap<(u32, Vec<u8>), VecDeque<u64>>,
}

/// The blocked clients of a server.
#[derive(Default)]
pub struct Waiters {
    count: AtomicUsize,
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Waiters({})", self.count.load(Ordering::Relaxed))
    }
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many clients are blocked (INFO's `blocked_clients`).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a waiter on `keys`; returns its id.
    pub fn register(
        &self,
        keys: Vec<(u32, Vec<u8>)>,
        attempt: Attempt,
        reply: oneshot::Sender<Reply>,
    ) -> u64 {
        let mut r = self.lock();
        r.next_id += 1;
        let id = r.next_id;
        for k in &keys {
            r.queues.entry(k.clone()).or_default().push_back(id);
        }
        r.waiters.insert(
            id,
            Waiter {
                keys,
                attempt,
                reply,
            },
        );
        self.count.fetch_add(1, Ordering::Relaxed);
        id
    }

    /// Removes a waiter that timed out or went away; false if it was served meanwhile.
    pub fn cancel(&self, id: u64) -> bool {
        let mut r = self.lock();
        match r.waiters.remove(&id) {
            Some(w) => {
                unqueue(&mut r, id, &w.keys);
                self.count.fetch_sub(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Serves the waiters of `ready` keys, oldest first, then those of the keys their own
    /// writes touched. Each served waiter's changes go to `served` (to be logged and observed
    /// by the caller), its reply to `replies` (sent once the batch is committed).
    pub fn serve(
        &self,
        ready: Vec<(u32, Vec<u8>)>,
        w: &mut dyn FnMut(&mut Attempt) -> (AttemptResult, Vec<Key>),
        replies: &mut Vec<(ReplyTo, Reply)>,
    ) {
        if self.is_empty() {
            return;
        }
        let mut ready: VecDeque<(u32, Vec<u8>)> = ready.into();
        let mut r = self.lock();
        while let Some(key) = ready.pop_front() {
            // Every waiter of this key gets a try, oldest first, until one finds nothing.
            let ids: Vec<u64> = r
                .queues
                .get(&key)
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default();
            for id in ids {
                let Some(waiter) = r.waiters.get_mut(&id) else {
                    continue;
                };
                let (result, touched) = w(&mut waiter.attempt);
                match result {
                    Ok(Some(reply)) => {
                        if let Some(waiter) = r.waiters.remove(&id) {
                            unqueue(&mut r, id, &waiter.keys);
                            self.count.fetch_sub(1, Ordering::Relaxed);
                            replies.push((ReplyTo::Once(waiter.reply), reply));
                        }
                        ready.extend(touched.into_iter().filter(|k| *k != key));
                    }
                    // Nothing there (or not a list any more): the rest keep waiting.
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    /// Are any clients blocked on one of these keys?
    pub fn any_waiting_on<'k>(&self, mut keys: impl Iterator<Item = (u32, &'k [u8])>) -> bool {
        if self.is_empty() {
            return false;
        }
        let r = self.lock();
        keys.any(|(db, k)| r.queues.contains_key(&(db, k.to_vec())))
    }
}

fn unqueue(r: &mut Registry, id: u64, keys: &[(u32, Vec<u8>)]) {
    for k in keys {
        if let Some(q) = r.queues.get_mut(k) {
            q.retain(|x| *x != id);
            if q.is_empty() {
                r.queues.remove(k);
            }
        }
    }
}
