//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! Commands sent after MULTI are checked (existence, arity) and queued. EXEC runs the queued
//! data commands as one write in the engine's batch, against the batch's transaction: they see
//! each other's writes, no other client's write lands between them, and their changes form one
//! WAL record (after a crash the transaction is there whole or not at all). A command that
//! fails at run time answers its error and the others still apply, as in Redis. Connection
//! commands (PING, INFO, CONFIG …) queued in a transaction answer at EXEC, before the data
//! commands run; SELECT changes the database of the commands after it.
//!
//! WATCH registers the keys with the engine's observers, which raise the client's flag when a
//! write (or expiry, FLUSHDB, SWAPDB) changes one; EXEC checks the flag inside the batch, so a
//! change queued just before it in the same batch is seen too.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{table, ArgCursor, CmdError, Command, Ctx, Flags, Outcome, TxnFn, WriteEnv};
use crate::kv::meta;
use crate::kv::view::KvView;
use crate::resp::{Reply, OK};

/// Is this command (by name) one that runs at once even inside MULTI?
pub fn runs_inside_multi(name: &[u8]) -> bool {
    ["exec", "discard", "multi", "watch", "quit", "reset"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Queues a command sent after MULTI; refusals make EXEC abort.
pub fn queue(ctx: &mut Ctx<'_>, flags: Flags, args: &[Bytes]) -> Reply {
    if flags.has(Flags::NO_MULTI) {
        ctx.client.multi_failed = true;
        return Reply::Error("ERR Command not allowed inside a transaction".into());
    }
    if let Some(queued) = ctx.client.multi.as_mut() {
        queued.push(args.to_vec());
    }
    Reply::Status("QUEUED")
}

/// Drops the client's watches (EXEC, DISCARD, UNWATCH, RESET, disconnect).
pub fn unwatch_all(ctx: &mut Ctx<'_>) {
    let client = &mut *ctx.client;
    if client.watched.is_empty() {
        return;
    }
    let id = client.info.id;
    ctx.server.engine.observers.unwatch(
        id,
        client.watched.iter().map(|(db, k, _)| (*db, k.as_slice())),
    );
    client.watched.clear();
    client.watch_dirty.store(false, Ordering::SeqCst);
}

/// `MULTI`
pub struct Multi;

impl Command for Multi {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Multi)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        if ctx.client.multi.is_some() {
            return Err(CmdError::err("MULTI calls can not be nested"));
        }
        ctx.client.multi = Some(Vec::new());
        ctx.client.multi_failed = false;
        Ok(OK)
    }
}

/// `DISCARD`
pub struct Discard;

impl Command for Discard {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Discard)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        if ctx.client.multi.take().is_none() {
            return Err(CmdError::err("DISCARD without MULTI"));
        }
        ctx.client.multi_failed = false;
        unwatch_all(ctx);
        Ok(OK)
    }
}

/// `WATCH key [key ...]`
pub struct Watch(Vec<Bytes>);

impl Command for Watch {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Watch(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        if ctx.client.multi.is_some() {
            return Err(CmdError::err("WATCH inside MULTI is not allowed"));
        }
        let db = ctx.client.db;
        for key in &self.0 {
            if ctx
                .client
                .watched
                .iter()
                .any(|(d, k, _)| *d == db && k == key.as_ref())
            {
                continue;
            }
            let deadline = ctx.live_row(db, key)?.map_or(0, |r| meta::expire_at(&r));
            let (id, flag) = (ctx.client.info.id, ctx.client.watch_dirty.clone());
            ctx.server.engine.observers.watch(id, &flag, db, key);
            ctx.client.watched.push((db, key.to_vec(), deadline));
        }
        Ok(OK)
    }
}

/// `UNWATCH`
pub struct Unwatch;

impl Command for Unwatch {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Unwatch)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        unwatch_all(ctx);
        Ok(OK)
    }
}

/// One queued command, ready to run in the EXEC batch.
enum Step {
    /// A data command: runs against the batch's transaction.
    Data(TxnFn, Vec<Bytes>, usize, WriteEnv),
    /// A connection command, already answered.
    Answered(Reply),
}

/// The queued commands of an EXEC as steps, answering connection commands now; and whether
/// any is a SQL command (the transaction then runs on the SQL writer).
fn plan(ctx: &mut Ctx<'_>, queued: Vec<Vec<Bytes>>) -> (Vec<Step>, bool) {
    let databases = ctx.server.engine.databases();
    let mut steps = Vec::with_capacity(queued.len());
    let mut uses_sql = false;
    for args in queued {
        let step = match table().resolve(&args) {
            Err(e) => Step::Answered(Reply::Error(e.to_resp_text())),
            Ok((entry, depth)) => match entry.spec.handler {
                Some(super::Handler { txn: Some(txn), .. }) if entry.spec.group == super::SQL => {
                    uses_sql = true;
                    Step::Data(txn, args.clone(), depth, ctx.write_env())
                }
                Some(h) => match h.txn {
                    Some(txn) => Step::Data(
                        txn,
                        args.clone(),
                        depth,
                        WriteEnv {
                            databases,
                            ..ctx.write_env()
                        },
                    ),
                    None => {
                        let mut cursor = ArgCursor::new(&args, depth);
                        ctx.client.in_exec = true;
                        let outcome = (h.conn)(ctx, &mut cursor);
                        ctx.client.in_exec = false;
                        Step::Answered(match outcome {
                            Ok(Outcome::Ready(reply)) => reply,
                            // Never a queued write: data commands run through their
                            // transaction handler above.
                            Ok(Outcome::Pending(_) | Outcome::Blocked(_) | Outcome::Queued) => {
                                Reply::Error("ERR command not supported in MULTI".into())
                            }
                            Err(e) => Reply::Error(e.to_resp_text()),
                        })
                    }
                },
                None => Step::Answered(Reply::Error(
                    CmdError::WrongArity(entry.full_name.clone()).to_resp_text(),
                )),
            },
        };
        steps.push(step);
    }
    (steps, uses_sql)
}

/// `EXEC`: answers at once (abort) or once the transaction's batch has run.
pub fn run_exec(ctx: &mut Ctx<'_>, _args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let Some(queued) = ctx.client.multi.take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    let failed = std::mem::take(&mut ctx.client.multi_failed);
    let now = crate::engine::now_ms();
    let expired = ctx
        .client
        .watched
        .iter()
        .any(|(_, _, deadline)| *deadline != 0 && *deadline <= now);
    let dirty = ctx.client.watch_dirty.clone();
    let watching = !ctx.client.watched.is_empty();
    let aborted = expired || dirty.load(Ordering::SeqCst);
    if failed {
        unwatch_all(ctx);
        return Err(CmdError::Other(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    if aborted {
        unwatch_all(ctx);
        return Ok(Outcome::Ready(Reply::NilArray));
    }
    let (steps, uses_sql) = plan(ctx, queued);
    ctx.client.snapshot = None;
    // The watches end inside the batch, after the last check: a change queued ahead of this
    // EXEC in the same batch has raised the flag by then. Later WATCHes get a fresh flag.
    let watched = std::mem::take(&mut ctx.client.watched);
    ctx.client.watch_dirty = Default::default();
    let (observers, id) = (ctx.server.engine.observers.clone(), ctx.client.info.id);
    let run: crate::engine::WriteFn = Box::new(move |w| {
        observers.unwatch(id, watched.iter().map(|(db, k, _)| (*db, k.as_slice())));
        if watching && dirty.load(Ordering::SeqCst) {
            return Ok(Reply::NilArray);
        }
        let mut replies = Vec::with_capacity(steps.len());
        for step in steps {
            replies.push(match step {
                Step::Answered(reply) => reply,
                Step::Data(txn, args, depth, env) => {
                    let mut cursor = ArgCursor::new(&args, depth);
                    txn(&mut cursor, env, w).unwrap_or_else(|e| Reply::Error(e.to_resp_text()))
                }
            });
        }
        Ok(Reply::Array(replies))
    });
    let engine = &ctx.server.engine;
    let rx = if uses_sql {
        let limits = super::sql::limits(ctx);
        let engine = &ctx.server.engine;
        engine
            .sql
            .write(crate::engine::sql::SqlWrite::Txn(run, limits))?
    } else {
        engine.submit(run)?
    };
    Ok(Outcome::Pending(rx))
}
