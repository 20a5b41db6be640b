//! One task per connection: read what is there, run every complete command in it, write all
//! replies of that read with one flush.

pub mod pubsub;
pub mod state;

use std::collections::VecDeque;
use std::future::pending;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::bus::{Mailbox, Message};

use crate::cmd::blocking::BlockedWait;
use crate::cmd::{self, Ctx, Outcome};
use crate::metrics::Metrics as M;
use crate::resp::{DecodeLimits, Decoded, Reply, RequestDecoder};
use crate::server::Shared;
use state::{AfterReply, ClientInfo, ClientState, ReplyMode};

/// First read size; it doubles while reads fill the buffer (deep pipelines, big values).
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 256 * 1024;
/// Buffers larger than this are given back once drained, so idle clients stay small.
const KEEP_BUFFER: usize = 64 * 1024;
/// Delivered messages encoded per write: keeps a subscriber's buffer reused, not regrown.
const DRAIN_BYTES: usize = 48 * 1024;

fn shutting_down() -> Reply {
    Reply::Error("ERR server is shutting down".to_string())
}

/// Serves one client until it leaves, is killed, times out or the server stops.
pub async fn serve(stream: TcpStream, info: Arc<ClientInfo>, shared: Arc<Shared>) {
    let id = info.id;
    let authenticated = shared.config().requirepass.is_empty();
    let (mailbox, inbox) = Mailbox::new(info.clone());
    info.set_mailbox(&mailbox);
    let mut conn = Connection {
        stream,
        state: ClientState::new(info, authenticated, mailbox),
        inbox,
        inbox_bytes: 0,
        decoder: RequestDecoder::new(),
        rbuf: BytesMut::new(),
        wbuf: BytesMut::new(),
        read_size: MIN_READ,
        executed: Vec::new(),
        pending: VecDeque::new(),
        peer_gone: false,
        shared: shared.clone(),
    };
    if let Err(e) = conn.run().await {
        tracing::debug!("client {id} closed: {e}");
    }
    cmd::txn::unwatch_all(&mut Ctx {
        server: &shared,
        client: &mut conn.state,
    });
    conn.state.pubsub.leave_all(&shared.engine.bus);
    shared.clients.unregister(id);
}

struct Connection {
    stream: TcpStream,
    state: ClientState,
    /// Messages for this client from the bus (pub/sub, tracking invalidations).
    inbox: UnboundedReceiver<Message>,
    /// Bytes of messages taken from the inbox and not yet written out.
    inbox_bytes: usize,
    decoder: RequestDecoder,
    rbuf: BytesMut,
    wbuf: BytesMut,
    read_size: usize,
    /// Commands run in the current batch, with whether they failed (for INFO commandstats).
    executed: Vec<(usize, bool)>,
    /// Replies waiting behind a write the engine has not acknowledged yet, in order.
    pending: VecDeque<(Outcome, Option<usize>)>,
    /// The client closed its end while blocked.
    peer_gone: bool,
    shared: Arc<Shared>,
}

/// The settings a batch needs, read under one lock.
struct BatchLimits {
    idle_timeout_secs: u64,
    query_buffer_limit: u64,
    max_bulk_len: i64,
}

impl BatchLimits {
    fn read(shared: &Shared) -> Self {
        let config = shared.config();
        BatchLimits {
            idle_timeout_secs: config.timeout_secs,
            query_buffer_limit: config.client_query_buffer_limit,
            max_bulk_len: i64::try_from(config.proto_max_bulk_len).unwrap_or(i64::MAX),
        }
    }
}

impl Connection {
    async fn run(&mut self) -> io::Result<()> {
        let info = self.state.info.clone();
        loop {
            if self.rbuf.is_empty() && self.rbuf.capacity() > KEEP_BUFFER {
                // Nothing pending: a client that sent something big gives its buffer back.
                self.rbuf = BytesMut::new();
                self.read_size = MIN_READ;
            }
            let limits = BatchLimits::read(&self.shared);
            // As in Redis, a subscriber waiting for messages is never idle.
            let idle_timeout = if self.state.pubsub.subscribed() {
                0
            } else {
                limits.idle_timeout_secs
            };
            let idle = async {
                if idle_timeout == 0 {
                    pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_secs(idle_timeout)).await
                }
            };
            tokio::select! {
                biased;
                _ = info.closing() => return Ok(()),
                _ = idle => {
                    tracing::debug!("Closing idle client {}", info.id);
                    return Ok(());
                }
                message = self.inbox.recv() => {
                    if let Some(message) = message {
                        self.take_message(&message);
                        self.drain_inbox();
                        self.write_out().await?;
                    }
                    continue;
                }
                ready = self.stream.readable() => ready?,
            }
            if info.is_killed() {
                return Ok(());
            }
            let want = self
                .decoder
                .reserve_hint(self.rbuf.len())
                .max(self.read_size);
            self.rbuf.reserve(want);
            let room = self.rbuf.capacity() - self.rbuf.len();
            match self.stream.try_read_buf(&mut self.rbuf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    if n == room {
                        self.read_size = (self.read_size * 2).min(MAX_READ);
                    }
                    M::add(&self.shared.metrics.net_input_bytes, n as u64);
                    M::add(&self.shared.metrics.reads_processed, 1);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
            let batch_started = Instant::now();
            info.touch(batch_started);
            self.state.clock_ms.set(0);
            if (self.rbuf.len() + self.decoder.pending_bytes()) as u64 > limits.query_buffer_limit {
                tracing::warn!(
                    "Closing client {} that reached max query buffer length",
                    info.id
                );
                M::add(&self.shared.metrics.query_buffer_limit_disconnections, 1);
                return Ok(());
            }
            let keep_open = self.process_input(limits.max_bulk_len).await;
            self.account_batch(batch_started);
            if std::mem::take(&mut self.state.fanned_out) {
                // The subscribers this batch woke write their messages before the publisher
                // hears back, as in Redis: a publisher waiting for its reply cannot outrun
                // the fan-out and pile messages up in the mailboxes.
                tokio::task::yield_now().await;
            }
            self.drain_inbox();
            self.write_out().await?;
            if !keep_open || self.peer_gone {
                return Ok(());
            }
        }
    }

    /// Writes `wbuf` out (a kill interrupts a write to a client that does not read), then
    /// tells the mailbox its messages are gone.
    async fn write_out(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let info = self.state.info.clone();
            if info.is_killed() {
                return Err(io::Error::other("killed"));
            }
            // Most writes fit the socket buffer at once; only a full one waits (and can be
            // interrupted).
            let done = match self.stream.try_write(&self.wbuf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            if done < self.wbuf.len() {
                let rest = &self.wbuf[done..];
                tokio::select! {
                    written = self.stream.write_all(rest) => written?,
                    _ = info.killed() => return Err(io::Error::other("killed")),
                }
            }
            M::add(
                &self.shared.metrics.net_output_bytes,
                self.wbuf.len() as u64,
            );
            M::add(&self.shared.metrics.writes_processed, 1);
            self.wbuf.clear();
        }
        if self.inbox_bytes > 0 {
            let soft = self.shared.engine.bus.output_limit().soft;
            self.state.pubsub.mailbox.written(self.inbox_bytes, soft);
            self.inbox_bytes = 0;
        }
        if self.wbuf.capacity() > KEEP_BUFFER {
            self.wbuf = BytesMut::new();
        }
        Ok(())
    }

    /// Encodes one delivered message into `wbuf`.
    fn take_message(&mut self, message: &Message) {
        self.inbox_bytes += message.size();
        self.state
            .pubsub
            .encode(message, self.state.protocol, &mut self.wbuf);
    }

    /// Encodes the messages waiting in the inbox, up to about `DRAIN_BYTES` per write (none
    /// while replies are still pending, so messages never overtake the replies of commands run
    /// before them).
    fn drain_inbox(&mut self) {
        if !self.pending.is_empty() {
            return;
        }
        while self.wbuf.len() < DRAIN_BYTES {
            let Ok(message) = self.inbox.try_recv() else {
                break;
            };
            self.take_message(&message);
        }
    }

    /// Runs every complete command in the read buffer, encoding replies into `wbuf` in order.
    /// Writes go to the engine and are awaited together (so a pipeline of writes shares one
    /// WAL group); any other command first waits for the writes before it.
    /// Returns false when the connection must close once `wbuf` is flushed.
    async fn process_input(&mut self, max_bulk_len: i64) -> bool {
        let mut processed = 0u64;
        let keep_open = loop {
            let limits = DecodeLimits {
                max_bulk_len,
                authenticated: self.state.authenticated,
            };
            match self.decoder.decode(&mut self.rbuf, limits) {
                Ok(Decoded::Command(args)) => {
                    processed += 1;
                    if !self.pending.is_empty() && !cmd::is_write(&args, &self.state.info) {
                        self.settle().await;
                    }
                    self.drain_inbox();
                    let (outcome, ran) = {
                        let mut ctx = Ctx {
                            server: &self.shared,
                            client: &mut self.state,
                        };
                        cmd::execute(&mut ctx, &args)
                    };
                    if let Some(id) = ran {
                        let failed = matches!(&outcome, Outcome::Ready(r) if r.is_error());
                        self.executed.push((id, failed));
                    }
                    // What the command delivered to this very client (PUBLISH to a channel it
                    // listens on) goes before its reply, as in Redis; a subscription's
                    // confirmation goes before anything that arrives on it.
                    if !cmd::pubsub::is_subscribe(&args) {
                        self.drain_inbox();
                    }
                    match std::mem::replace(&mut self.state.after_reply, AfterReply::Continue) {
                        AfterReply::Continue => self.queue_outcome(outcome, ran),
                        AfterReply::Close => {
                            self.queue_outcome(outcome, ran);
                            break false;
                        }
                        AfterReply::Shutdown => {
                            // Like Redis, a successful SHUTDOWN answers by closing.
                            self.shared.request_shutdown();
                            break false;
                        }
                    }
                    if self.state.info.is_killed() {
                        break false;
                    }
                }
                Ok(Decoded::Empty) => {}
                Ok(Decoded::NeedMore) => break true,
                Err(e) => {
                    tracing::debug!("Protocol error from client {}: {e}", self.state.info.id);
                    M::add(&self.shared.metrics.protocol_error_disconnections, 1);
                    self.shared.metrics.count_error();
                    self.queue_outcome(Outcome::Ready(Reply::Error(format!("ERR {e}"))), None);
                    break false;
                }
            }
        };
        self.settle().await;
        self.state.snapshot = None;
        M::add(&self.shared.metrics.commands_processed, processed);
        keep_open
    }

    /// Encodes `outcome`'s reply now, or queues it behind the replies still awaited. `ran` is
    /// the command's table id (its stats count a failure known only once the reply comes).
    fn queue_outcome(&mut self, outcome: Outcome, ran: Option<usize>) {
        match outcome {
            Outcome::Ready(reply) if self.pending.is_empty() => self.queue_reply(&reply),
            other => self.pending.push_back((other, ran)),
        }
    }

    /// Waits for the queued writes and encodes every queued reply, in order.
    async fn settle(&mut self) {
        // Time passes while writes are waited for: reads after them read the clock again.
        self.state.clock_ms.set(0);
        while let Some((outcome, ran)) = self.pending.pop_front() {
            let reply = match outcome {
                Outcome::Ready(reply) => {
                    self.queue_reply(&reply);
                    continue;
                }
                Outcome::Pending(rx) => rx.await.unwrap_or_else(|_| shutting_down()),
                Outcome::Queued => self.state.replies.next().await,
                Outcome::Blocked(wait) => self.wait_blocked(wait).await,
            };
            if reply.is_error() {
                // A write's error is known only now (`execute` counted the immediate ones).
                self.shared.metrics.count_error();
                if let Some(id) = ran {
                    self.shared.metrics.command(id).failed();
                }
            }
            self.queue_reply(&reply);
        }
    }

    /// A blocking command's reply: its first try's, or the waiter's once served, or nil at the
    /// timeout. A client that goes away (or is killed) while blocked leaves the queue, so no
    /// element is popped for it afterwards.
    async fn wait_blocked(&mut self, wait: BlockedWait) -> Reply {
        let first = wait.first.await.unwrap_or_else(|_| shutting_down());
        let id = wait.waiter.load(Ordering::SeqCst);
        if id == 0 {
            return first;
        }
        let info = self.state.info.clone();
        let mut reply = wait.reply;
        let timeout = async {
            match wait.timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => pending::<()>().await,
            }
        };
        tokio::pin!(timeout);
        loop {
            tokio::select! {
                served = &mut reply => return served.unwrap_or_else(|_| shutting_down()),
                _ = &mut timeout => break,
                _ = info.closing() => break,
                ready = self.stream.readable() => {
                    if ready.is_err() {
                        self.peer_gone = true;
                        break;
                    }
                    // Keep what the client pipelines behind the blocking command; stop on EOF.
                    self.rbuf.reserve(MIN_READ);
                    match self.stream.try_read_buf(&mut self.rbuf) {
                        Ok(0) => {
                            self.peer_gone = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => {
                            self.peer_gone = true;
                            break;
                        }
                    }
                }
            }
        }
        if wait.waiters.cancel(id) {
            Reply::NilArray
        } else {
            // Served just as the wait ended: the reply is on its way.
            reply.await.unwrap_or_else(|_| shutting_down())
        }
    }

    /// Charges the batch's time to the commands it ran. One clock read pair per batch, not per
    /// command: exact for a lone command, the batch average for each command of a pipeline.
    fn account_batch(&mut self, started: Instant) {
        if self.executed.is_empty() {
            return;
        }
        let share = started.elapsed() / self.executed.len() as u32;
        // A pipeline mostly repeats one command: each run of equal calls is one update of
        // the shared counters (their atomic adds were 2.5% of `SADD -P 16`).
        let mut calls = self.executed.drain(..).peekable();
        while let Some(call) = calls.next() {
            let mut count = 1;
            while calls.next_if_eq(&call).is_some() {
                count += 1;
            }
            let (id, failed) = call;
            self.shared.metrics.command(id).called(share, count, failed);
        }
    }

    /// Encodes a reply unless CLIENT REPLY OFF/SKIP says otherwise.
    fn queue_reply(&mut self, reply: &Reply) {
        match self.state.reply_mode {
            ReplyMode::On => reply.encode(self.state.protocol, &mut self.wbuf),
            ReplyMode::Off => {}
            ReplyMode::SkipNext => self.state.reply_mode = ReplyMode::Skip,
            ReplyMode::Skip => self.state.reply_mode = ReplyMode::On,
        }
    }
}
