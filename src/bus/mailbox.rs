//! A client's mailbox: the messages published to it, waiting for its connection to write them,
//! with the byte accounting behind `client-output-buffer-limit pubsub`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::conn::state::ClientInfo;

/// Something delivered to a client outside any reply of its own.
#[derive(Debug, Clone)]
pub enum Message {
    /// A pub/sub message (`message`, `pmessage`, `smessage`), encoded once by the publisher
    /// for every receiver as a RESP2 array; RESP3 receivers send it with a push header.
    Frame(Bytes),
    /// Client-side caching: these keys changed (`None` = everything, after a flush).
    Invalidate(Option<Vec<Bytes>>),
}

impl Message {
    /// The frame of a pub/sub message: `*N` then each part as a bulk string.
    pub fn frame(parts: &[&[u8]]) -> Message {
        let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
        out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
        for part in parts {
            out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        Message::Frame(Bytes::from(out))
    }

    /// Bytes it stands for in the output buffer (what the limits count).
    pub fn size(&self) -> usize {
        match self {
            Message::Frame(frame) => frame.len(),
            Message::Invalidate(keys) => {
                32 + keys
                    .as_ref()
                    .map_or(0, |k| k.iter().map(|k| k.len() + 16).sum())
            }
        }
    }
}

/// The output-buffer limit of subscribers (Redis's `client-output-buffer-limit pubsub`):
/// a client whose unsent messages exceed `hard` bytes, or `soft` bytes for `soft_secs`
/// seconds in a row, is disconnected. 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl OutputLimit {
    /// Redis's default for pub/sub clients: `32mb 8mb 60`.
    pub const PUBSUB_DEFAULT: OutputLimit = OutputLimit {
        hard: 32 * 1024 * 1024,
        soft: 8 * 1024 * 1024,
        soft_secs: 60,
    };
}

impl Default for OutputLimit {
    fn default() -> Self {
        OutputLimit::PUBSUB_DEFAULT
    }
}

/// The sending side of one client's mailbox; the connection holds the receiver.
#[derive(Debug)]
pub struct Mailbox {
    pub client: Arc<ClientInfo>,
    tx: mpsc::UnboundedSender<Message>,
    /// Bytes delivered and not yet written to the socket.
    pending: AtomicUsize,
    /// Unix ms since which `pending` has been above the soft limit (0 = it is not).
    soft_since_ms: AtomicU64,
    closed: AtomicBool,
}

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// The client is past its output limit: it is being disconnected and gets nothing more.
    Overflow,
    /// The client had already been disconnected.
    Closed,
}

impl Mailbox {
    pub fn new(client: Arc<ClientInfo>) -> (Arc<Mailbox>, mpsc::UnboundedReceiver<Message>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mailbox = Mailbox {
            client,
            tx,
            pending: AtomicUsize::new(0),
            soft_since_ms: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        };
        (Arc::new(mailbox), rx)
    }

    pub fn id(&self) -> u64 {
        self.client.id
    }

    /// Queues `message` unless that takes the client past `limit` (checked before queuing,
    /// so a client that never reads holds at most one limit's worth).
    pub fn deliver(&self, message: Message, limit: OutputLimit, now_ms: u64) -> Delivery {
        if self.closed.load(Ordering::Relaxed) {
            return Delivery::Closed;
        }
        let size = message.size();
        let pending = (self.pending.fetch_add(size, Ordering::Relaxed) + size) as u64;
        let over_hard = limit.hard > 0 && pending > limit.hard;
        let over_soft = limit.soft > 0 && pending > limit.soft && {
            let since = self.soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                self.soft_since_ms.store(now_ms.max(1), Ordering::Relaxed);
                false
            } else {
                now_ms.saturating_sub(since) >= limit.soft_secs.saturating_mul(1000)
            }
        };
        if over_hard || over_soft {
            self.pending.fetch_sub(size, Ordering::Relaxed);
            if !self.closed.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    self.client.id
                );
                self.client.kill();
                return Delivery::Overflow;
            }
            return Delivery::Closed;
        }
        if self.tx.send(message).is_err() {
            self.pending.fetch_sub(size, Ordering::Relaxed);
            return Delivery::Closed;
        }
        Delivery::Queued
    }

    /// The connection wrote `bytes` worth of messages out.
    pub fn written(&self, bytes: usize, soft_limit: u64) {
        let before = self.pending.fetch_sub(bytes, Ordering::Relaxed);
        if (before.saturating_sub(bytes) as u64) <= soft_limit {
            self.soft_since_ms.store(0, Ordering::Relaxed);
        }
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}
