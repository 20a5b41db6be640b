//! Where a queued write's reply goes: a one-off channel, or the reply box of its connection.
//!
//! A connection's pipelined writes run in the order it queued them, so their replies can share
//! one in-order box with one wake-up per batch instead of a channel each (a channel's
//! allocation, send and poll were about a tenth of `SADD -P 16`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use tokio::sync::oneshot;

use crate::resp::Reply;

/// Replies to one connection's queued writes, in the order they were queued.
#[derive(Debug, Default)]
pub struct ReplyBox {
    inner: Mutex<Queued>,
}

/// The replies, and the waker of the connection waiting for the next one: both under one
/// lock, so a delivery either lands before the wait looks or finds the waker (a `Notify`
/// registered and removed a waiter per wait).
#[derive(Debug, Default)]
struct Queued {
    replies: VecDeque<Reply>,
    waiting: Option<Waker>,
}

impl ReplyBox {
    /// The reply to the oldest write not answered yet, once it is there (one waiter at a
    /// time: the connection).
    pub async fn next(&self) -> Reply {
        std::future::poll_fn(|cx| {
            let mut queued = self.lock();
            if let Some(reply) = queued.replies.pop_front() {
                return Poll::Ready(reply);
            }
            keep_waker(&mut queued.waiting, cx.waker());
            Poll::Pending
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Stores `waker` in a one-waiter slot (kept if it already wakes the same task).
pub fn keep_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// The destination of a queued write's reply.
#[derive(Debug)]
pub enum ReplyTo {
    Once(oneshot::Sender<Reply>),
    Box(Arc<ReplyBox>),
}

/// Sends the replies of a batch, in order; each box gets its run of replies under one lock and
/// one wake-up.
pub fn deliver(replies: impl IntoIterator<Item = (ReplyTo, Reply)>) {
    let mut replies = replies.into_iter().peekable();
    while let Some((to, reply)) = replies.next() {
        match to {
            ReplyTo::Once(tx) => {
                let _ = tx.send(reply);
            }
            ReplyTo::Box(b) => {
                let mut queued = b.lock();
                queued.replies.push_back(reply);
                while let Some((_, next)) =
                    replies.next_if(|(to, _)| matches!(to, ReplyTo::Box(n) if Arc::ptr_eq(n, &b)))
                {
                    queued.replies.push_back(next);
                }
                let waiting = queued.waiting.take();
                drop(queued);
                if let Some(waker) = waiting {
                    waker.wake();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_arrive_in_order_across_boxes_and_channels() {
        let (a, b) = (Arc::new(ReplyBox::default()), Arc::new(ReplyBox::default()));
        let (tx, rx) = oneshot::channel();
        let waiting = tokio::spawn({
            let a = a.clone();
            async move { (a.next().await, a.next().await, a.next().await) }
        });
        tokio::task::yield_now().await;
        deliver([
            (ReplyTo::Box(a.clone()), Reply::Int(1)),
            (ReplyTo::Box(a.clone()), Reply::Int(2)),
            (ReplyTo::Box(b.clone()), Reply::Int(10)),
            (ReplyTo::Once(tx), Reply::Int(20)),
        ]);
        deliver([(ReplyTo::Box(a.clone()), Reply::Int(3))]);
        assert_eq!(
            waiting.await.unwrap(),
            (Reply::Int(1), Reply::Int(2), Reply::Int(3))
        );
        assert_eq!(b.next().await, Reply::Int(10));
        assert_eq!(rx.await.unwrap(), Reply::Int(20));
    }
}
