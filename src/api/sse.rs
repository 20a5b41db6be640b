//! Subscriptions over HTTP: `GET|POST /subscribe/<channel>` and `/psubscribe/<pattern>` answer
//! a text/event-stream in the form `@upstash/redis`'s `subscribe()` reads: `data:
//! subscribe,<channel>,1`, then `data: message,<channel>,<payload>` (or `data:
//! pmessage,<pattern>,<channel>,<payload>`) per message, and a `: keepalive` comment every
//! 15 seconds. The subscription ends when the client goes away (it aborts the request).
//! Keyspace notifications arrive like any message.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;

use super::command::percent_decode;
use super::command::{check_token, max_clients};
use super::{ApiError, AppState};
use crate::bus::mailbox::{Mailbox, Message};
use crate::bus::ChannelKind;
use crate::server::Shared;

/// How often an idle stream gets a comment line (proxies close silent connections).
const KEEPALIVE: Duration = Duration::from_secs(15);

enum Target {
    Channel(Bytes),
    Pattern(Bytes),
}

/// One subscription, as a stream of event-stream chunks; leaves the bus when dropped.
struct Subscription {
    shared: Arc<Shared>,
    info: Arc<crate::conn::state::ClientInfo>,
    /// Resolves when the client is killed.
    killed: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    mailbox: Arc<Mailbox>,
    inbox: UnboundedReceiver<Message>,
    target: Target,
    first: Option<Bytes>,
    keepalive: tokio::time::Interval,
}

/// The parts of a RESP2 array of bulk strings (the bus's message frames).
fn frame_parts(frame: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = frame;
    fn line(r: &[u8]) -> Option<(&[u8], &[u8])> {
        let i = r.iter().position(|&b| b == b'\r')?;
        Some((&r[..i], r.get(i + 2..)?))
    }
    let Some((_, after_count)) = line(rest) else {
        return parts;
    };
    rest = after_count;
    while let Some((head, after)) = line(rest) {
        let Some(len) = std::str::from_utf8(head.get(1..).unwrap_or_default())
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
        else {
            break;
        };
        let Some(data) = after.get(..len) else { break };
        parts.push(data);
        rest = after.get(len + 2..).unwrap_or_default();
    }
    parts
}

fn event(parts: &[&[u8]]) -> Bytes {
    let mut out = b"data: ".to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl futures_core::Stream for Subscription {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        // Killed (CLIENT KILL, or past the pub/sub output-buffer limit): the stream ends.
        if self.info.is_killed() || self.killed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        loop {
            match self.inbox.poll_recv(cx) {
                Poll::Ready(Some(Message::Frame(frame))) => {
                    let soft = self.shared.engine.bus.output_limit().soft;
                    self.mailbox.written(frame.len(), soft);
                    return Poll::Ready(Some(Ok(event(&frame_parts(&frame)))));
                }
                // Client-side caching invalidations are not for this stream.
                Poll::Ready(Some(Message::Invalidate(_))) => continue,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        if self.keepalive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Bytes::from_static(b": keepalive\n\n"))));
        }
        Poll::Pending
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let bus = &self.shared.engine.bus;
        let id = self.mailbox.id();
        match &self.target {
            Target::Channel(c) => bus.unsubscribe(ChannelKind::Global, c, id),
            Target::Pattern(p) => bus.punsubscribe(p, id),
        }
        self.shared.clients.unregister(id);
    }
}

fn open(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    peer: std::net::SocketAddr,
    prefix: &str,
    pattern: bool,
) -> Result<Response, ApiError> {
    let shared = &state.shared;
    check_token(state, headers, uri)?;
    let name = Bytes::from(percent_decode(
        uri.path()
            .strip_prefix(prefix)
            .unwrap_or_default()
            .as_bytes(),
    ));
    if name.is_empty() {
        return Err(ApiError::bad_request("ERR no channel"));
    }
    let max = shared.config().maxclients;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let info = shared
        .clients
        .register(peer, local, -1, max)
        .ok_or_else(max_clients)?;
    let (mailbox, inbox) = Mailbox::new(info.clone());
    info.set_mailbox(&mailbox);
    let bus = &shared.engine.bus;
    let (target, kind) = if pattern {
        bus.psubscribe(&name, &mailbox);
        (Target::Pattern(name.clone()), &b"psubscribe"[..])
    } else {
        bus.subscribe(ChannelKind::Global, &name, &mailbox);
        (Target::Channel(name.clone()), &b"subscribe"[..])
    };
    let start = tokio::time::Instant::now() + KEEPALIVE;
    let stream = Subscription {
        shared: shared.clone(),
        info: info.clone(),
        killed: {
            let info = info.clone();
            Box::pin(async move { info.killed().await })
        },
        mailbox,
        inbox,
        target,
        first: Some(event(&[kind, &name, b"1"])),
        keepalive: tokio::time::interval_at(start, KEEPALIVE),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `/subscribe/<channel>`
pub async fn subscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    open(&state, &headers, &uri, peer, "/subscribe/", false)
}

/// `/psubscribe/<pattern>`
pub async fn psubscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    open(&state, &headers, &uri, peer, "/psubscribe/", true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_events() {
        let Message::Frame(f) = Message::frame(&[b"message", b"ch", b"a,b"]) else {
            unreachable!()
        };
        assert_eq!(&event(&frame_parts(&f))[..], b"data: message,ch,a,b\n\n");
        let Message::Frame(f) = Message::frame(&[b"pmessage", b"c*", b"ch", b""]) else {
            unreachable!()
        };
        assert_eq!(&event(&frame_parts(&f))[..], b"data: pmessage,c*,ch,\n\n");
    }
}
