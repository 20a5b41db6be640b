//! Keyspace commands: DBSIZE FLUSHDB FLUSHALL (the rest of the family arrives with the KV engine).

use super::{ArgCursor, CmdError, Command, Ctx};
use crate::resp::{Reply, OK};

/// `DBSIZE`
pub struct DbSize;

impl Command for DbSize {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(DbSize)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(Reply::Int(ctx.server.engine.dbsize(ctx.client.db) as i64))
    }
}

/// The optional `ASYNC | SYNC` of FLUSHDB and FLUSHALL.
fn parse_flush_mode(args: &mut ArgCursor<'_>) -> Result<bool, CmdError> {
    let asynchronous = if args.is_empty() {
        false
    } else {
        args.next_choice(&[("ASYNC", true), ("SYNC", false)])?
    };
    args.finish()?;
    Ok(asynchronous)
}

/// `FLUSHDB [ASYNC | SYNC]`
pub struct FlushDb {
    #[allow(dead_code)] // both modes are synchronous until the KV engine collects in background
    asynchronous: bool,
}

impl Command for FlushDb {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(FlushDb {
            asynchronous: parse_flush_mode(args)?,
        })
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.server.engine.flush_db(ctx.client.db);
        Ok(OK)
    }
}

/// `FLUSHALL [ASYNC | SYNC]`
pub struct FlushAll {
    #[allow(dead_code)] // both modes are synchronous until the KV engine collects in background
    asynchronous: bool,
}

impl Command for FlushAll {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(FlushAll {
            asynchronous: parse_flush_mode(args)?,
        })
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.server.engine.flush_all();
        Ok(OK)
    }
}
