//! Blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP.
//!
//! Each is a [`BlockingCommand`]: one `attempt` that takes what is there. On a connection the
//! attempt runs in the engine's batch and, if it finds nothing, leaves a waiter there (see
//! `engine::blocking`); the connection then waits for the waiter's reply, the timeout, or the
//! client going away. Inside MULTI the attempt runs once and a miss answers nil at once, as in
//! Redis.

use crate::bus::keyspace::Events;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::list::{load_list, move_element, parse_side, LMPop};
use super::zset::{pop_scored, ZMPop};
use super::{ArgCursor, CmdError, Ctx, Outcome, WriteCommand, WriteEnv};
use crate::engine::blocking::Waiters;
use crate::engine::WriteCtx;
use crate::kv::meta::KeyType;
use crate::kv::types::{self, list};
use crate::resp::Reply;

/// A command that may wait for data on its keys.
pub trait BlockingCommand: WriteCommand + Clone {
    /// The keys to wait on.
    fn wait_keys(&self) -> &[Bytes];
    /// How long to wait; `None` = for ever.
    fn timeout(&self) -> Option<Duration>;
    /// Takes what is there: `Some(reply)`, or `None` when every key is empty.
    fn attempt(&self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError>;
}

/// Parses a blocking timeout in seconds (fractions allowed; 0 = for ever). Redis turns the
/// seconds into a signed count of milliseconds, so a timeout too large for one (infinity
/// included) comes out negative and is refused as such.
fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = super::string::parse_float_unchecked(arg)
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    if ms.is_nan() || ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::err("timeout is negative"));
    }
    // Redis keeps whole milliseconds.
    let ms = ms as u64;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// `key [key ...] timeout`, as BLPOP, BRPOP, BZPOPMIN and BZPOPMAX take them.
fn parse_keys_then_timeout(
    args: &mut ArgCursor<'_>,
) -> Result<(Vec<Bytes>, Option<Duration>), CmdError> {
    let rest = args.rest();
    let (timeout, keys) = rest.split_last().ok_or(CmdError::Syntax)?;
    Ok((keys.to_vec(), parse_timeout(timeout)?))
}

/// What a blocked connection waits for after its first try.
pub struct BlockedWait {
    /// The batch's answer to the first try (the reply itself unless a waiter was left).
    pub first: oneshot::Receiver<Reply>,
    /// The waiter's id once registered (0: the first try answered).
    pub waiter: Arc<AtomicU64>,
    pub reply: oneshot::Receiver<Reply>,
    pub timeout: Option<Duration>,
    pub waiters: Arc<Waiters>,
}

/// The table's connection handler for blocking command `C`.
pub fn run_blocking<C: BlockingCommand>(
    ctx: &mut Ctx<'_>,
    args: &mut ArgCursor<'_>,
) -> Result<Outcome, CmdError> {
    let command = C::parse(args)?;
    ctx.client.snapshot = None;
    let env = ctx.write_env();
    let timeout = command.timeout();
    let waiters = ctx.server.engine.waiters.clone();
    let waiter = Arc::new(AtomicU64::new(0));
    let (reply_tx, reply_rx) = oneshot::channel();
    let (registry, registered) = (waiters.clone(), waiter.clone());
    let first = ctx.server.engine.submit(Box::new(move |w| {
        if let Some(reply) = attempt_observed(&command, env, w)? {
            return Ok(reply);
        }
        let keys = command
            .wait_keys()
            .iter()
            .map(|k| (env.db, k.to_vec()))
            .collect();
        let id = registry.register(
            keys,
            Box::new(move |w| attempt_observed(&command, env, w)),
            reply_tx,
        );
        registered.store(id, Ordering::SeqCst);
        Ok(Reply::NilArray)
    }))?;
    Ok(Outcome::Blocked(BlockedWait {
        first,
        waiter,
        reply: reply_rx,
        timeout,
        waiters,
    }))
}

/// One try of a blocking command, observed like any write (a served BLPOP raises `lpop`).
fn attempt_observed<C: BlockingCommand>(
    command: &C,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Option<Reply>, CmdError> {
    let events = w.observing().then(|| command.events(env));
    super::observed(events, env, w, |w| command.attempt(env, w))
}

macro_rules! apply_once {
    () => {
        /// Inside MULTI (and as a plain write) a blocking command tries once.
        fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
            Ok(self.attempt(env, w)?.unwrap_or(Reply::NilArray))
        }
    };
}

/// `BLPOP` / `BRPOP key [key ...] timeout`
#[derive(Clone)]
pub struct BPop<const LEFT: bool> {
    keys: Vec<Bytes>,
    timeout: Option<Duration>,
}

impl<const LEFT: bool> WriteCommand for BPop<LEFT> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(super::list::list_pop_event(LEFT))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let (keys, timeout) = parse_keys_then_timeout(args)?;
        Ok(BPop { keys, timeout })
    }

    apply_once!();
}

impl<const LEFT: bool> BlockingCommand for BPop<LEFT> {
    fn wait_keys(&self) -> &[Bytes] {
        &self.keys
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn attempt(&self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        for key in &self.keys {
            if let Some(mut c) = load_list(w, env.db, key)? {
                if let Some(v) = list::pop(w, env.db, key, &mut c, LEFT)? {
                    types::save(w, env.db, key, &c)?;
                    return Ok(Some(Reply::Array(vec![
                        Reply::bulk(key.clone()),
                        Reply::bulk(v),
                    ])));
                }
            }
        }
        Ok(None)
    }
}

/// `BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout` and
/// `BRPOPLPUSH source destination timeout`
#[derive(Clone)]
pub struct BLMove<const RPOPLPUSH: bool> {
    keys: [Bytes; 1],
    dst: Bytes,
    from_left: bool,
    to_left: bool,
    timeout: Option<Duration>,
}

impl<const RPOPLPUSH: bool> WriteCommand for BLMove<RPOPLPUSH> {
    fn events(&self, _env: WriteEnv) -> Events {
        super::list::list_move_events(&self.keys[0], &self.dst, self.from_left, self.to_left)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let src = args.next_bytes()?.clone();
        let dst = args.next_bytes()?.clone();
        let (from_left, to_left) = if RPOPLPUSH {
            (false, true)
        } else {
            (parse_side(args)?, parse_side(args)?)
        };
        Ok(BLMove {
            keys: [src],
            dst,
            from_left,
            to_left,
            timeout: parse_timeout(args.next_bytes()?)?,
        })
    }

    apply_once!();
}

impl<const RPOPLPUSH: bool> BlockingCommand for BLMove<RPOPLPUSH> {
    fn wait_keys(&self) -> &[Bytes] {
        &self.keys
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn attempt(&self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        let moved = move_element(
            w,
            env.db,
            &self.keys[0],
            &self.dst,
            self.from_left,
            self.to_left,
        )?;
        Ok(moved.map(Reply::bulk))
    }
}

/// `BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]`
#[derive(Clone)]
pub struct BLMPop {
    pop: Arc<LMPop>,
    timeout: Option<Duration>,
}

impl WriteCommand for BLMPop {
    fn events(&self, _env: WriteEnv) -> Events {
        self.pop.events(_env)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let timeout = parse_timeout(args.next_bytes()?)?;
        Ok(BLMPop {
            pop: Arc::new(LMPop::parse_args(args)?),
            timeout,
        })
    }

    apply_once!();
}

impl BlockingCommand for BLMPop {
    fn wait_keys(&self) -> &[Bytes] {
        &self.pop.keys
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn attempt(&self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        self.pop.try_pop(env.db, w)
    }
}

/// `BZPOPMIN` / `BZPOPMAX key [key ...] timeout`
#[derive(Clone)]
pub struct BZPop<const MAX: bool> {
    keys: Vec<Bytes>,
    timeout: Option<Duration>,
}

impl<const MAX: bool> WriteCommand for BZPop<MAX> {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(super::zset::zset_pop_event(MAX))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let (keys, timeout) = parse_keys_then_timeout(args)?;
        Ok(BZPop { keys, timeout })
    }

    apply_once!();
}

impl<const MAX: bool> BlockingCommand for BZPop<MAX> {
    fn wait_keys(&self) -> &[Bytes] {
        &self.keys
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn attempt(&self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        for key in &self.keys {
            if let Some(mut c) = types::load(w, env.db, key, KeyType::ZSet)? {
                if let Some((m, s)) = pop_scored(w, env.db, key, &mut c, MAX, 1)?.pop() {
                    return Ok(Some(Reply::Array(vec![
                        Reply::bulk(key.clone()),
                        Reply::bulk(m),
                        Reply::Double(s),
                    ])));
                }
            }
        }
        Ok(None)
    }
}

/// `BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]`
#[derive(Clone)]
pub struct BZMPop {
    pop: Arc<ZMPop>,
    timeout: Option<Duration>,
}

impl WriteCommand for BZMPop {
    fn events(&self, _env: WriteEnv) -> Events {
        self.pop.events(_env)
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let timeout = parse_timeout(args.next_bytes()?)?;
        Ok(BZMPop {
            pop: Arc::new(ZMPop::parse_args(args)?),
            timeout,
        })
    }

    apply_once!();
}

impl BlockingCommand for BZMPop {
    fn wait_keys(&self) -> &[Bytes] {
        &self.pop.keys
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn attempt(&self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Option<Reply>, CmdError> {
        self.pop.try_pop(env.db, w)
    }
}
