//! Per-connection state: the task-local `ClientState` and the shared `ClientInfo` that
//! CLIENT LIST/KILL and INFO read from other connections.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Poll, Waker};
use std::time::Instant;

use bytes::Bytes;

use crate::bus::Mailbox;
use crate::resp::Protocol;

/// `CLIENT REPLY` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Set by `CLIENT REPLY SKIP`: its own reply is not sent, nor the next command's.
    SkipNext,
    /// Skip the reply of this command only.
    Skip,
}

/// What the connection does once the current reply is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterReply {
    Continue,
    Close,
    /// Close, and shut the whole server down.
    Shutdown,
}

/// The part of a client other connections can see (CLIENT LIST, CLIENT KILL, INFO).
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i32,
    pub created: Instant,
    /// Milliseconds since `created` of the last command.
    last_active_ms: AtomicU64,
    db: AtomicU32,
    proto: AtomicU8,
    /// Id (index in the command table) of the last command, +1; 0 = none yet.
    last_command: AtomicUsize,
    name: Mutex<Option<Bytes>>,
    lib_name: Mutex<Option<Bytes>>,
    lib_ver: Mutex<Option<Bytes>>,
    killed: AtomicBool,
    /// The server is shutting down: the connection closes once its replies are out.
    stopping: AtomicBool,
    /// The connection task's waker while it waits for a kill or a stop. All its waits run in
    /// its one task, so one slot serves them (a `Notify` per wait registered and removed a
    /// waiter for every request).
    waiting: Mutex<Option<Waker>>,
    /// The connection's mailbox, for messages other clients address to it (tracking REDIRECT).
    mailbox: OnceLock<Weak<Mailbox>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ClientInfo {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i32) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            db: AtomicU32::new(0),
            proto: AtomicU8::new(2),
            last_command: AtomicUsize::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            killed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            waiting: Mutex::new(None),
            mailbox: OnceLock::new(),
        }
    }

    pub fn touch(&self, now: Instant) {
        let ms = u64::try_from(now.saturating_duration_since(self.created).as_millis())
            .unwrap_or(u64::MAX);
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    pub fn idle_secs(&self) -> u64 {
        let now = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    pub fn set_last_command(&self, id: usize) {
        self.last_command.store(id + 1, Ordering::Relaxed);
    }

    pub fn last_command(&self) -> Option<usize> {
        self.last_command.load(Ordering::Relaxed).checked_sub(1)
    }

    pub fn set_db(&self, db: u32) {
        self.db.store(db, Ordering::Relaxed);
    }

    pub fn db(&self) -> u32 {
        self.db.load(Ordering::Relaxed)
    }

    pub fn set_proto(&self, p: Protocol) {
        self.proto.store(p.number() as u8, Ordering::Relaxed);
    }

    pub fn proto(&self) -> u8 {
        self.proto.load(Ordering::Relaxed)
    }

    pub fn name(&self) -> Option<Bytes> {
        lock(&self.name).clone()
    }

    pub fn set_name(&self, name: Option<Bytes>) {
        *lock(&self.name) = name;
    }

    pub fn set_lib_name(&self, v: Bytes) {
        *lock(&self.lib_name) = Some(v);
    }

    pub fn set_lib_ver(&self, v: Bytes) {
        *lock(&self.lib_ver) = Some(v);
    }

    pub fn lib_name(&self) -> Option<Bytes> {
        lock(&self.lib_name).clone()
    }

    pub fn lib_ver(&self) -> Option<Bytes> {
        lock(&self.lib_ver).clone()
    }

    /// Asks the connection to close (CLIENT KILL).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Asks the connection to close after its replies (server shutdown).
    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake();
    }

    fn wake(&self) {
        if let Some(waker) = lock(&self.waiting).take() {
            waker.wake();
        }
    }

    pub fn set_mailbox(&self, mailbox: &Arc<Mailbox>) {
        let _ = self.mailbox.set(Arc::downgrade(mailbox));
    }

    pub fn mailbox(&self) -> Option<Arc<Mailbox>> {
        self.mailbox.get().and_then(Weak::upgrade)
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves once the client is killed (at once if it already was).
    pub fn killed(&self) -> impl Future<Output = ()> + '_ {
        self.until(|| self.is_killed())
    }

    /// Resolves once the client is killed or the server stops.
    pub fn closing(&self) -> impl Future<Output = ()> + '_ {
        self.until(|| self.is_killed() || self.stopping.load(Ordering::SeqCst))
    }

    fn until<'a>(&'a self, done: impl Fn() -> bool + 'a) -> impl Future<Output = ()> + 'a {
        std::future::poll_fn(move |cx| {
            // Checked under the slot's lock, which `wake` takes after setting its flag: a
            // kill either is seen here or finds the waker stored.
            let mut waiting = lock(&self.waiting);
            if done() {
                return Poll::Ready(());
            }
            crate::engine::replies::keep_waker(&mut waiting, cx.waker());
            Poll::Pending
        })
    }
}

/// A connection's private state, owned by its task.
#[derive(Debug)]
pub struct ClientState {
    pub info: Arc<ClientInfo>,
    pub protocol: Protocol,
    pub authenticated: bool,
    pub user: String,
    pub db: u32,
    pub reply_mode: ReplyMode,
    pub after_reply: AfterReply,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Read snapshot shared by the reads of one batch (see `Ctx::snapshot`).
    pub snapshot: Option<Arc<crate::kv::store::ReadTables>>,
    /// Commands queued since MULTI (`None` outside a transaction).
    pub multi: Option<Vec<Vec<bytes::Bytes>>>,
    /// A command was refused while queuing: EXEC must abort.
    pub multi_failed: bool,
    /// WATCHed keys: (db, key, deadline when watched).
    pub watched: Vec<(u32, Vec<u8>, u64)>,
    /// Raised by the write path when a watched key changes.
    pub watch_dirty: Arc<std::sync::atomic::AtomicBool>,
    /// Subscriptions, mailbox and client tracking.
    pub pubsub: super::pubsub::PubSub,
    /// This batch published to someone: its replies wait for the receivers' turn (see
    /// `conn::Connection::run`).
    pub fanned_out: bool,
    /// EXEC is answering its queued connection commands (VSIM then runs on the caller's
    /// thread, as Redis runs it inside MULTI).
    pub in_exec: bool,
    /// The clock (unix ms) the reads of this batch of commands judge deadlines by, read once
    /// as Redis reads its clock once per turn (0: not read yet; reset by the connection).
    pub clock_ms: std::cell::Cell<u64>,
    /// Replies to this client's queued writes (`Outcome::Queued`), in order.
    pub replies: Arc<crate::engine::replies::ReplyBox>,
}

impl ClientState {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool, mailbox: Arc<Mailbox>) -> Self {
        ClientState {
            pubsub: super::pubsub::PubSub::new(mailbox),
            in_exec: false,
            clock_ms: std::cell::Cell::new(0),
            fanned_out: false,
            info,
            protocol: Protocol::Resp2,
            authenticated,
            user: "default".into(),
            db: 0,
            reply_mode: ReplyMode::On,
            after_reply: AfterReply::Continue,
            no_evict: false,
            no_touch: false,
            snapshot: None,
            multi: None,
            multi_failed: false,
            watched: Vec::new(),
            watch_dirty: Arc::default(),
            replies: Arc::default(),
        }
    }

    pub fn set_protocol(&mut self, p: Protocol) {
        self.protocol = p;
        self.info.set_proto(p);
    }

    pub fn select(&mut self, db: u32) {
        self.db = db;
        self.info.set_db(db);
    }
}

/// All connected clients, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// Set (under `clients`' lock) at shutdown: clients registered later start stopped.
    stopping: AtomicBool,
}

impl ClientRegistry {
    /// Registers a new connection unless `max` clients are already connected.
    pub fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        fd: i32,
        max: u64,
    ) -> Option<Arc<ClientInfo>> {
        let mut clients = lock(&self.clients);
        if clients.len() as u64 >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo::new(id, addr, laddr, fd));
        if self.stopping.load(Ordering::SeqCst) {
            info.stop();
        }
        clients.insert(id, info.clone());
        Some(info)
    }

    /// Asks every connection, present and future, to close after its replies (shutdown).
    pub fn stop_all(&self) {
        let clients = lock(&self.clients);
        self.stopping.store(true, Ordering::SeqCst);
        for info in clients.values() {
            info.stop();
        }
    }

    pub fn unregister(&self, id: u64) {
        lock(&self.clients).remove(&id);
    }

    pub fn len(&self) -> usize {
        lock(&self.clients).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the connected clients, in id order.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        lock(&self.clients).values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        lock(&self.clients).get(&id).cloned()
    }
}
