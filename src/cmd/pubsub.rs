//! SUBSCRIBE PSUBSCRIBE SSUBSCRIBE, their UNSUBSCRIBE forms, PUBLISH SPUBLISH and PUBSUB.

use bytes::Bytes;

use super::{ArgCursor, CmdError, Command, Ctx};
use crate::bus::ChannelKind;
use crate::resp::Reply;

/// Whether `args` is a command whose confirmation must precede the messages it lets in.
pub fn is_subscribe(args: &[Bytes]) -> bool {
    args.first().is_some_and(|name| {
        [&b"subscribe"[..], b"psubscribe", b"ssubscribe"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
    })
}

/// The commands a RESP2 connection may send while subscribed.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "ssubscribe"
            | "psubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn confirmation(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::Bulk(Bytes::from_static(kind.as_bytes())),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

/// `SUBSCRIBE channel [channel ...]` / `SSUBSCRIBE shardchannel [shardchannel ...]`
pub struct Subscribe<const SHARD: bool>(Vec<Bytes>);

impl<const SHARD: bool> Command for Subscribe<SHARD> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Subscribe(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let (kind, reply_kind) = if SHARD {
            (ChannelKind::Shard, "ssubscribe")
        } else {
            (ChannelKind::Global, "subscribe")
        };
        let bus = &ctx.server.engine.bus;
        let ps = &mut ctx.client.pubsub;
        let mut frames = Vec::with_capacity(self.0.len());
        for channel in self.0 {
            // Copied: a name sliced from the read buffer would pin all of it for as long as
            // the subscription lives.
            let channel = Bytes::copy_from_slice(&channel);
            if ps.set(kind).insert(channel.clone()) {
                bus.subscribe(kind, &channel, &ps.mailbox);
            }
            let count = if SHARD {
                ps.shard_channels.len()
            } else {
                ps.count()
            };
            frames.push(confirmation(reply_kind, Some(channel), count));
        }
        ps.recount(bus);
        Ok(Reply::Frames(frames))
    }
}

/// `UNSUBSCRIBE [channel ...]` / `SUNSUBSCRIBE [shardchannel ...]`: none named = all.
pub struct Unsubscribe<const SHARD: bool>(Vec<Bytes>);

impl<const SHARD: bool> Command for Unsubscribe<SHARD> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Unsubscribe(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let (kind, reply_kind) = if SHARD {
            (ChannelKind::Shard, "sunsubscribe")
        } else {
            (ChannelKind::Global, "unsubscribe")
        };
        let bus = &ctx.server.engine.bus;
        let ps = &mut ctx.client.pubsub;
        let id = ps.mailbox.id();
        let channels = if self.0.is_empty() {
            ps.set(kind).iter().cloned().collect()
        } else {
            self.0
        };
        if channels.is_empty() {
            let count = if SHARD {
                ps.shard_channels.len()
            } else {
                ps.count()
            };
            return Ok(Reply::Frames(vec![confirmation(reply_kind, None, count)]));
        }
        let mut frames = Vec::with_capacity(channels.len());
        for channel in channels {
            if ps.set(kind).remove(&channel) {
                bus.unsubscribe(kind, &channel, id);
            }
            let count = if SHARD {
                ps.shard_channels.len()
            } else {
                ps.count()
            };
            frames.push(confirmation(reply_kind, Some(channel), count));
        }
        ps.recount(bus);
        Ok(Reply::Frames(frames))
    }
}

/// `PSUBSCRIBE pattern [pattern ...]`
pub struct PSubscribe(Vec<Bytes>);

impl Command for PSubscribe {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(PSubscribe(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let bus = &ctx.server.engine.bus;
        let ps = &mut ctx.client.pubsub;
        let mut frames = Vec::with_capacity(self.0.len());
        for pattern in self.0 {
            let pattern = Bytes::copy_from_slice(&pattern);
            if ps.patterns.insert(pattern.clone()) {
                bus.psubscribe(&pattern, &ps.mailbox);
            }
            frames.push(confirmation("psubscribe", Some(pattern), ps.count()));
        }
        ps.recount(bus);
        Ok(Reply::Frames(frames))
    }
}

/// `PUNSUBSCRIBE [pattern ...]`: none named = all.
pub struct PUnsubscribe(Vec<Bytes>);

impl Command for PUnsubscribe {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(PUnsubscribe(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let bus = &ctx.server.engine.bus;
        let ps = &mut ctx.client.pubsub;
        let id = ps.mailbox.id();
        let patterns: Vec<Bytes> = if self.0.is_empty() {
            ps.patterns.iter().cloned().collect()
        } else {
            self.0
        };
        if patterns.is_empty() {
            return Ok(Reply::Frames(vec![confirmation(
                "punsubscribe",
                None,
                ps.count(),
            )]));
        }
        let mut frames = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            if ps.patterns.remove(&pattern) {
                bus.punsubscribe(&pattern, id);
            }
            frames.push(confirmation("punsubscribe", Some(pattern), ps.count()));
        }
        ps.recount(bus);
        Ok(Reply::Frames(frames))
    }
}

/// `PUBLISH channel message` / `SPUBLISH shardchannel message`: the number of receivers.
pub struct Publish<const SHARD: bool>(Bytes, Bytes);

impl<const SHARD: bool> Command for Publish<SHARD> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Publish(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let kind = if SHARD {
            ChannelKind::Shard
        } else {
            ChannelKind::Global
        };
        let receivers = ctx.server.engine.bus.publish(kind, &self.0, &self.1);
        ctx.client.fanned_out |= receivers > 0;
        Ok(Reply::Int(receivers as i64))
    }
}

/// `PUBSUB CHANNELS [pattern]` / `PUBSUB SHARDCHANNELS [pattern]`
pub struct Channels<const SHARD: bool>(Option<Bytes>);

impl<const SHARD: bool> Command for Channels<SHARD> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let pattern = (!args.is_empty())
            .then(|| args.next_bytes().cloned())
            .transpose()?;
        Ok(Channels(pattern))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let kind = if SHARD {
            ChannelKind::Shard
        } else {
            ChannelKind::Global
        };
        let channels = ctx.server.engine.bus.channels(kind, self.0.as_deref());
        Ok(Reply::Array(
            channels.into_iter().map(Reply::Bulk).collect(),
        ))
    }
}

/// `PUBSUB NUMSUB [channel ...]` / `PUBSUB SHARDNUMSUB [shardchannel ...]`: a flat array of
/// channel, count pairs (in RESP3 too, as Redis sends it).
pub struct NumSub<const SHARD: bool>(Vec<Bytes>);

impl<const SHARD: bool> Command for NumSub<SHARD> {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(NumSub(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let kind = if SHARD {
            ChannelKind::Shard
        } else {
            ChannelKind::Global
        };
        let bus = &ctx.server.engine.bus;
        let mut out = Vec::with_capacity(self.0.len() * 2);
        for channel in self.0 {
            let n = bus.numsub(kind, &channel);
            out.push(Reply::Bulk(channel));
            out.push(Reply::Int(n as i64));
        }
        Ok(Reply::Array(out))
    }
}

/// `PUBSUB NUMPAT`
pub struct NumPat;

impl Command for NumPat {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(NumPat)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(Reply::Int(ctx.server.engine.bus.numpat() as i64))
    }
}

/// `PUBSUB HELP`
pub struct PubSubHelp;

impl Command for PubSubHelp {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(PubSubHelp)
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(super::server::help_reply(
            "PUBSUB",
            &[
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ],
        ))
    }
}
