//! A connection's side of the bus: its subscriptions, its mailbox, its tracking settings,
//! and how delivered messages are shaped for its protocol (push frames in RESP3, arrays in
//! RESP2).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::bus::tracking::TrackingMode;
use crate::bus::{Bus, ChannelKind, Mailbox, Message};
use crate::resp::{Protocol, Reply};

/// `CLIENT CACHING yes|no` given for the next command (OPTIN / OPTOUT modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachingHint {
    None,
    Yes,
    No,
}

/// The client's tracking settings (CLIENT TRACKING ON …).
#[derive(Debug, Clone)]
pub struct ClientTracking {
    pub mode: TrackingMode,
    pub caching: CachingHint,
}

#[derive(Debug)]
pub struct PubSub {
    pub mailbox: Arc<Mailbox>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub shard_channels: HashSet<Bytes>,
    pub tracking: Option<ClientTracking>,
    /// Whether the bus counts this client as subscribed.
    counted: bool,
}

impl PubSub {
    pub fn new(mailbox: Arc<Mailbox>) -> Self {
        PubSub {
            mailbox,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            tracking: None,
            counted: false,
        }
    }

    /// The count SUBSCRIBE/PSUBSCRIBE replies carry: channels plus patterns.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client is in Redis's "subscribed" state (any kind of subscription).
    pub fn subscribed(&self) -> bool {
        self.count() + self.shard_channels.len() > 0
    }

    /// Keeps the bus's count of subscribed clients right after (un)subscribing.
    pub fn recount(&mut self, bus: &Bus) {
        let subscribed = self.subscribed();
        if subscribed != self.counted {
            self.counted = subscribed;
            bus.client_subscribed(subscribed);
        }
    }

    pub fn set(&mut self, kind: ChannelKind) -> &mut HashSet<Bytes> {
        match kind {
            ChannelKind::Global => &mut self.channels,
            ChannelKind::Shard => &mut self.shard_channels,
        }
    }

    /// Leaves every channel and pattern and stops tracking (disconnect, RESET).
    pub fn leave_all(&mut self, bus: &Bus) {
        let id = self.mailbox.id();
        for channel in self.channels.drain() {
            bus.unsubscribe(ChannelKind::Global, &channel, id);
        }
        for channel in self.shard_channels.drain() {
            bus.unsubscribe(ChannelKind::Shard, &channel, id);
        }
        for pattern in self.patterns.drain() {
            bus.punsubscribe(&pattern, id);
        }
        if self.tracking.take().is_some() {
            bus.tracking.disable(id);
        }
        self.recount(bus);
    }

    /// Appends `message` for this connection; false if it cannot be shown (an invalidation
    /// for a RESP2 client that is not subscribed: Redis drops those too).
    pub fn encode(&self, message: &Message, proto: Protocol, out: &mut BytesMut) -> bool {
        let frame = match message {
            Message::Frame(frame) => {
                if proto == Protocol::Resp3 {
                    out.extend_from_slice(b">");
                    out.extend_from_slice(frame.get(1..).unwrap_or_default());
                } else {
                    out.extend_from_slice(frame);
                }
                return true;
            }
            Message::Invalidate(keys) => {
                let keys = match keys {
                    Some(keys) => Reply::Array(keys.iter().cloned().map(Reply::Bulk).collect()),
                    None => Reply::Nil,
                };
                if proto == Protocol::Resp3 {
                    vec![Reply::Bulk(Bytes::from_static(b"invalidate")), keys]
                } else if self.subscribed() {
                    vec![
                        Reply::Bulk(Bytes::from_static(b"message")),
                        Reply::Bulk(Bytes::from_static(b"__redis__:invalidate")),
                        keys,
                    ]
                } else {
                    return false;
                }
            }
        };
        Reply::Push(frame).encode(proto, out);
        true
    }
}
