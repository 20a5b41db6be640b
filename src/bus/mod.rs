//! The event bus: channel and pattern subscriptions, PUBLISH fan-out to client mailboxes,
//! keyspace notifications and client-tracking invalidation.
//!
//! PUBLISH runs on the publisher's connection: it looks the channel up, matches the patterns
//! that can match (see `patterns`), and queues one message per subscriber in that
//! subscriber's [`Mailbox`]; each subscriber's own connection task writes its mailbox out.
//! So a slow subscriber never slows the publisher or the others; it only fills its own
//! mailbox until `client-output-buffer-limit pubsub` disconnects it. Messages from one
//! publisher reach each subscriber in publish order (one queue per subscriber, filled in
//! order).

pub mod glob;
pub mod keyspace;
pub mod mailbox;
pub mod patterns;
pub mod tracking;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

pub use keyspace::{Event, Events, KeyEvent};
pub use mailbox::{Delivery, Mailbox, Message, OutputLimit};
use patterns::Patterns;
use tracking::Tracking;

type Subscribers = HashMap<Bytes, Vec<Arc<Mailbox>>>;

/// Channels a client is subscribed to, of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// SUBSCRIBE / PUBLISH.
    Global,
    /// SSUBSCRIBE / SPUBLISH (on one node, the same thing in its own namespace).
    Shard,
}

impl ChannelKind {
    pub fn message(self) -> &'static str {
        match self {
            ChannelKind::Global => "message",
            ChannelKind::Shard => "smessage",
        }
    }
}

/// Counters for INFO.
#[derive(Debug, Default)]
pub struct BusStats {
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    pub output_limit_disconnections: AtomicU64,
    pub keyspace_events: AtomicU64,
}

#[derive(Debug)]
pub struct Bus {
    channels: RwLock<Subscribers>,
    shard_channels: RwLock<Subscribers>,
    patterns: RwLock<Patterns>,
    /// Subscriptions of every kind (0 lets PUBLISH and keyspace events return at once).
    subscriptions: AtomicUsize,
    /// Clients with at least one subscription (INFO `pubsub_clients`).
    subscribed_clients: AtomicUsize,
    notify_flags: AtomicU32,
    limit: Mutex<OutputLimit>,
    pub tracking: Tracking,
    pub stats: BusStats,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            channels: RwLock::default(),
            shard_channels: RwLock::default(),
            patterns: RwLock::default(),
            subscriptions: AtomicUsize::new(0),
            subscribed_clients: AtomicUsize::new(0),
            notify_flags: AtomicU32::new(0),
            limit: Mutex::new(OutputLimit::default()),
            tracking: Tracking::default(),
            stats: BusStats::default(),
        }
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Bus {
    fn table(&self, kind: ChannelKind) -> &RwLock<Subscribers> {
        match kind {
            ChannelKind::Global => &self.channels,
            ChannelKind::Shard => &self.shard_channels,
        }
    }

    pub fn output_limit(&self) -> OutputLimit {
        *self.limit.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_output_limit(&self, limit: OutputLimit) {
        *self.limit.lock().unwrap_or_else(|p| p.into_inner()) = limit;
    }

    pub fn notify_flags(&self) -> u32 {
        self.notify_flags.load(Ordering::Relaxed)
    }

    pub fn set_notify_flags(&self, flags: u32) {
        self.notify_flags.store(flags, Ordering::Relaxed);
    }

    /// Whether the write path should work out which keys changed how: someone may hear it.
    pub fn wants_key_events(&self) -> bool {
        self.notify_flags() != 0 && self.subscriptions.load(Ordering::Relaxed) > 0
    }

    /// Adds `mailbox` to `channel` (the caller knows it was not subscribed yet).
    pub fn subscribe(&self, kind: ChannelKind, channel: &Bytes, mailbox: &Arc<Mailbox>) {
        write(self.table(kind))
            .entry(channel.clone())
            .or_default()
            .push(mailbox.clone());
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unsubscribe(&self, kind: ChannelKind, channel: &Bytes, id: u64) {
        let mut table = write(self.table(kind));
        if let Some(subs) = table.get_mut(channel) {
            let before = subs.len();
            subs.retain(|m| m.id() != id);
            self.subscriptions
                .fetch_sub(before - subs.len(), Ordering::Relaxed);
            if subs.is_empty() {
                table.remove(channel);
            }
        }
    }

    pub fn psubscribe(&self, pattern: &Bytes, mailbox: &Arc<Mailbox>) {
        write(&self.patterns).add(pattern.clone(), mailbox.clone());
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn punsubscribe(&self, pattern: &Bytes, id: u64) {
        write(&self.patterns).remove(pattern, id);
        self.subscriptions.fetch_sub(1, Ordering::Relaxed);
    }

    /// PUBLISH / SPUBLISH: queues `payload` for every subscriber of `channel` (and, for global
    /// channels, of every matching pattern). Returns the number of receivers, as Redis counts
    /// them (a client subscribed twice, by channel and by pattern, counts twice).
    pub fn publish(&self, kind: ChannelKind, channel: &Bytes, payload: &Bytes) -> usize {
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        if self.subscriptions.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let limit = self.output_limit();
        let now = crate::engine::now_ms();
        let mut receivers = 0;
        let mut overflows = 0;
        // One encoding per message, shared by every receiver.
        let mut deliver_all = |subscribers: &[Arc<Mailbox>], message: Message| {
            for mailbox in subscribers {
                receivers += 1;
                if mailbox.deliver(message.clone(), limit, now) == Delivery::Overflow {
                    overflows += 1;
                }
            }
        };
        if let Some(subs) = read(self.table(kind)).get(channel) {
            deliver_all(
                subs,
                Message::frame(&[kind.message().as_bytes(), channel, payload]),
            );
        }
        if kind == ChannelKind::Global {
            let patterns = read(&self.patterns);
            if !patterns.is_empty() {
                patterns.matching(channel, |p| {
                    deliver_all(
                        &p.subscribers,
                        Message::frame(&[b"pmessage", &p.pattern, channel, payload]),
                    );
                });
            }
        }
        self.stats
            .delivered
            .fetch_add(receivers as u64, Ordering::Relaxed);
        if overflows > 0 {
            self.stats
                .output_limit_disconnections
                .fetch_add(overflows, Ordering::Relaxed);
        }
        receivers
    }

    /// Publishes committed keyspace events to the channels `notify-keyspace-events` enables.
    pub fn notify(&self, events: &[KeyEvent]) {
        let flags = self.notify_flags();
        for e in events {
            if flags & e.event.class == 0 {
                continue;
            }
            self.stats.keyspace_events.fetch_add(1, Ordering::Relaxed);
            let event = Bytes::from_static(e.event.name.as_bytes());
            if flags & keyspace::class::KEYSPACE != 0 {
                let mut channel = format!("__keyspace@{}__:", e.db).into_bytes();
                channel.extend_from_slice(&e.key);
                self.publish(ChannelKind::Global, &Bytes::from(channel), &event);
            }
            if flags & keyspace::class::KEYEVENT != 0 {
                let channel = format!("__keyevent@{}__:{}", e.db, e.event.name);
                self.publish(ChannelKind::Global, &Bytes::from(channel), &e.key);
            }
        }
    }

    pub fn subscribed_clients(&self) -> usize {
        self.subscribed_clients.load(Ordering::Relaxed)
    }

    /// A client entered (true) or left (false) the subscribed state.
    pub fn client_subscribed(&self, subscribed: bool) {
        if subscribed {
            self.subscribed_clients.fetch_add(1, Ordering::Relaxed);
        } else {
            self.subscribed_clients.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Active channels (with at least one subscriber) matching `pattern` (all if `None`).
    pub fn channels(&self, kind: ChannelKind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        read(self.table(kind))
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::glob_match(p, c)))
            .cloned()
            .collect()
    }

    /// Subscribers of `channel` (patterns not counted), as PUBSUB NUMSUB reports.
    pub fn numsub(&self, kind: ChannelKind, channel: &[u8]) -> usize {
        read(self.table(kind)).get(channel).map_or(0, Vec::len)
    }

    /// Distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        read(&self.patterns).len()
    }

    /// (channels, shard channels, patterns) for INFO.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            read(&self.channels).len(),
            read(&self.shard_channels).len(),
            self.numpat(),
        )
    }

    /// Client-side caching: `keys` changed by client `origin`.
    pub fn invalidate(&self, keys: &[Bytes], origin: u64) {
        if self.tracking.is_active() {
            self.tracking
                .invalidate(keys, origin, self.output_limit(), crate::engine::now_ms());
        }
    }

    pub fn invalidate_all(&self) {
        if self.tracking.is_active() {
            self.tracking
                .invalidate_all(self.output_limit(), crate::engine::now_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::state::ClientInfo;

    fn mailbox(id: u64) -> (Arc<Mailbox>, tokio::sync::mpsc::UnboundedReceiver<Message>) {
        let addr = "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!());
        Mailbox::new(Arc::new(ClientInfo::new(id, addr, addr, -1)))
    }

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers_in_order() {
        let bus = Bus::default();
        let (m1, mut rx1) = mailbox(1);
        let (m2, mut rx2) = mailbox(2);
        bus.subscribe(ChannelKind::Global, &b("news.tech"), &m1);
        bus.psubscribe(&b("news.*"), &m1);
        bus.psubscribe(&b("*"), &m2);
        bus.psubscribe(&b("sport.*"), &m2);
        assert_eq!(
            bus.publish(ChannelKind::Global, &b("news.tech"), &b("a")),
            3
        );
        assert_eq!(
            bus.publish(ChannelKind::Global, &b("news.tech"), &b("b")),
            3
        );
        assert_eq!(bus.publish(ChannelKind::Shard, &b("news.tech"), &b("c")), 0);
        let mut got = Vec::new();
        while let Ok(m) = rx1.try_recv() {
            got.push(m);
        }
        assert_eq!(got.len(), 4);
        let frame = |m: &Message| match m {
            Message::Frame(f) => String::from_utf8_lossy(f).into_owned(),
            Message::Invalidate(_) => String::new(),
        };
        let message = |parts: &[&str]| {
            let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
            frame(&Message::frame(&parts))
        };
        assert_eq!(frame(&got[0]), message(&["message", "news.tech", "a"]));
        assert_eq!(
            frame(&got[1]),
            message(&["pmessage", "news.*", "news.tech", "a"])
        );
        assert_eq!(frame(&got[2]), message(&["message", "news.tech", "b"]));
        assert_eq!(
            frame(&got[0]),
            "*3\r\n$7\r\nmessage\r\n$9\r\nnews.tech\r\n$1\r\na\r\n"
        );
        assert!(rx2.try_recv().is_ok());
        bus.punsubscribe(&b("*"), 2);
        assert_eq!(bus.publish(ChannelKind::Global, &b("other"), &b("x")), 0);
        assert_eq!(bus.numpat(), 2);
        bus.unsubscribe(ChannelKind::Global, &b("news.tech"), 1);
        assert_eq!(bus.numsub(ChannelKind::Global, b"news.tech"), 0);
        assert!(bus.channels(ChannelKind::Global, None).is_empty());
    }

    #[test]
    fn a_subscriber_past_the_hard_limit_is_cut_off_without_growing() {
        let bus = Bus::default();
        bus.set_output_limit(OutputLimit {
            hard: 1000,
            soft: 0,
            soft_secs: 0,
        });
        let (m, _rx) = mailbox(7);
        bus.subscribe(ChannelKind::Global, &b("c"), &m);
        let payload = Bytes::from(vec![b'x'; 100]);
        for _ in 0..100 {
            bus.publish(ChannelKind::Global, &b("c"), &payload);
        }
        assert!(m.pending_bytes() <= 1000);
        assert!(m.client.is_killed());
        assert_eq!(
            bus.stats
                .output_limit_disconnections
                .load(Ordering::Relaxed),
            1
        );
    }
}
