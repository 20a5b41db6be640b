//! The command table (name, arity, flags, key positions, docs) and dispatch.
//!
//! A command is a struct implementing [`Command`]: `parse` turns the arguments into it (with
//! Redis's errors), `exec` runs it. A new command is one row in [`COMMANDS`] plus its struct in
//! the file of its family.

pub mod args;
pub mod blocking;
pub mod client;
pub mod errors;
pub mod hash;
pub mod info;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod scan;
pub mod server;
pub mod set;
pub mod sql;
pub mod string;
pub mod txn;
pub mod vector;
pub mod zset;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use bytes::Bytes;

pub use args::ArgCursor;
pub use errors::CmdError;

use crate::bus::Events;
use crate::conn::state::{ClientInfo, ClientState};
use crate::engine::WriteCtx;
use crate::kv::meta::{self, KeyType};
use crate::kv::view::KvView;
use crate::resp::Reply;
use crate::server::Shared;

/// What a command runs against: the server and the calling client.
pub struct Ctx<'a> {
    pub server: &'a Shared,
    pub client: &'a mut ClientState,
}

impl Ctx<'_> {
    /// What a write of this client needs to know about it.
    pub fn write_env(&self) -> WriteEnv {
        WriteEnv {
            db: self.client.db,
            databases: self.server.engine.databases(),
            client: self.client.info.id,
        }
    }

    /// The client's read snapshot, taken on first use in a batch of reads (the engine's shared
    /// one while it is current). A write drops it, and the connection drops it after every
    /// batch, so reads always see acknowledged writes and a snapshot never pins old pages for
    /// long.
    pub fn snapshot(&mut self) -> Result<&crate::kv::store::ReadTables, CmdError> {
        if self.client.snapshot.is_none() {
            self.client.snapshot = Some(self.server.engine.read()?);
        }
        self.client
            .snapshot
            .as_deref()
            .ok_or_else(|| CmdError::err("no snapshot"))
    }

    /// The raw row of one key for a single-key read: the row cache first, else the snapshot.
    /// (Multi-key reads use the snapshot alone, so they see one consistent state.)
    pub fn row(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        let engine = &self.server.engine;
        if let Some(cached) = engine.cache.get(db, key) {
            return Ok(cached);
        }
        let snapshot = self.snapshot()?;
        let row = snapshot.get(db, key)?;
        // Only strings (and absence) are cached: a collection's header must come from the same
        // snapshot as its members, and a cached header may be newer than the snapshot.
        if row
            .as_deref()
            .is_none_or(|r| meta::key_type(r) == Some(KeyType::String))
        {
            engine.cache.fill(db, key, row.as_deref(), snapshot.lsn);
        }
        Ok(row)
    }
}

impl Ctx<'_> {
    /// `row` unless it is past its deadline. A read that finds an expired key has it removed
    /// at once when someone listens (keyspace `expired` events, tracking invalidation), as
    /// Redis's lazy expiry does; otherwise active expiry collects it.
    fn unless_expired(
        &self,
        db: u32,
        key: &[u8],
        row: Option<Vec<u8>>,
        now: u64,
    ) -> Option<Vec<u8>> {
        match row {
            Some(r) if meta::is_expired(&r, now) => {
                let engine = &self.server.engine;
                if engine.bus.wants_key_events() || engine.bus.tracking.is_active() {
                    engine.expire_now(db, key);
                }
                None
            }
            row => row,
        }
    }
}

/// Reads on a connection: the row cache and the client's snapshot.
impl KvView for Ctx<'_> {
    fn now_ms(&self) -> u64 {
        let clock = &self.client.clock_ms;
        if clock.get() == 0 {
            clock.set(crate::engine::now_ms());
        }
        clock.get()
    }

    fn live_row(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        let now = KvView::now_ms(self);
        let row = self.snapshot()?.get(db, key)?;
        Ok(self.unless_expired(db, key, row, now))
    }

    fn live_row_cached(&mut self, db: u32, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        let now = KvView::now_ms(self);
        let row = self.row(db, key)?;
        Ok(self.unless_expired(db, key, row, now))
    }

    fn sub_get(&mut self, skey: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        Ok(self.snapshot()?.sub_get(skey)?)
    }

    fn sub_scan(
        &mut self,
        from: &[u8],
        to: &[u8],
        rev: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        Ok(self.snapshot()?.sub_scan(from, to, rev, f)?)
    }
}

/// A typed command: parse, then execute on the connection's thread (connection state,
/// server state).
pub trait Command: Sized {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError>;
    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError>;
}

/// A command that reads data: it runs against a [`KvView`], on the connection (snapshot and
/// row cache) or, queued in MULTI, inside the EXEC's batch.
pub trait ReadCommand: Sized {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError>;
    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError>;
}

/// What a write sees besides the engine: the caller's database and the server's shape.
#[derive(Debug, Clone, Copy)]
pub struct WriteEnv {
    pub db: u32,
    pub databases: u32,
    /// The calling client's id.
    pub client: u64,
}

/// A command that changes data: parsed on the connection's thread (so bad arguments fail at
/// once), applied in the engine's next batch, acknowledged once logged.
pub trait WriteCommand: Sized + Send + 'static {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError>;
    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError>;
    /// The keyspace events it raises (required, so no write command goes unheard); the write
    /// path combines them with what the command actually changed (`engine::notify`).
    fn events(&self, env: WriteEnv) -> Events;
}

/// Runs a write inside its batch with the write path's observation around it: whatever the
/// command changed is reported as keyspace events, by the one hook every write goes through.
pub fn apply_observed<C: WriteCommand>(
    command: C,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Reply, CmdError> {
    let events = w.observing().then(|| command.events(env));
    observed(events, env, w, |w| command.apply(env, w))
}

/// Runs `f` as one command of client `env.client`, reporting `events` (when observed).
pub fn observed<T>(
    events: Option<Events>,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
    f: impl FnOnce(&mut WriteCtx<'_, '_>) -> Result<T, CmdError>,
) -> Result<T, CmdError> {
    w.begin_command(env.client);
    let result = f(w);
    if let Some(events) = events {
        w.end_command(&events)?;
    }
    result
}

/// A command's result: ready now, or once the engine has logged and applied it.
pub enum Outcome {
    Ready(Reply),
    Pending(tokio::sync::oneshot::Receiver<Reply>),
    /// A write queued with its reply going to the client's reply box (`ClientState::replies`):
    /// the next reply there is its own.
    Queued,
    /// A blocking command: its first try, then possibly a wait (see `cmd::blocking`).
    Blocked(blocking::BlockedWait),
}

/// Runs a command for a client on its connection.
pub type ConnFn = fn(&mut Ctx<'_>, &mut ArgCursor<'_>) -> Result<Outcome, CmdError>;

/// Runs a queued command inside an EXEC's batch (data commands only).
pub type TxnFn = fn(&mut ArgCursor<'_>, WriteEnv, &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError>;

/// How a command runs: on its connection, and (for commands that read or write data) inside
/// a transaction's batch.
#[derive(Debug, Clone, Copy)]
pub struct Handler {
    pub conn: ConnFn,
    pub txn: Option<TxnFn>,
}

/// The handler of a connection command (state, server, no data).
pub const fn conn_cmd<C: Command>() -> Handler {
    Handler {
        conn: run::<C>,
        txn: None,
    }
}

/// The handler of a command that reads data.
pub const fn read_cmd<C: ReadCommand>() -> Handler {
    Handler {
        conn: run_read::<C>,
        txn: Some(txn_read::<C>),
    }
}

/// The handler of a command that may block its client.
pub const fn blocking_cmd<C: blocking::BlockingCommand>() -> Handler {
    Handler {
        conn: blocking::run_blocking::<C>,
        txn: Some(txn_write::<C>),
    }
}

/// The handler of a command that changes data.
pub const fn write_cmd<C: WriteCommand>() -> Handler {
    Handler {
        conn: run_write::<C>,
        txn: Some(txn_write::<C>),
    }
}

fn txn_read<C: ReadCommand>(
    args: &mut ArgCursor<'_>,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Reply, CmdError> {
    C::parse(args)?.read(env.db, w)
}

fn txn_write<C: WriteCommand>(
    args: &mut ArgCursor<'_>,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Reply, CmdError> {
    apply_observed(C::parse(args)?, env, w)
}

/// The table's handler for command type `C`.
pub fn run<C: Command>(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    Ok(Outcome::Ready(C::parse(args)?.exec(ctx)?))
}

/// The table's handler for read command type `C`.
pub fn run_read<C: ReadCommand>(
    ctx: &mut Ctx<'_>,
    args: &mut ArgCursor<'_>,
) -> Result<Outcome, CmdError> {
    let command = C::parse(args)?;
    let db = ctx.client.db;
    Ok(Outcome::Ready(command.read(db, ctx)?))
}

/// The table's handler for write command type `C`.
pub fn run_write<C: WriteCommand>(
    ctx: &mut Ctx<'_>,
    args: &mut ArgCursor<'_>,
) -> Result<Outcome, CmdError> {
    let command = C::parse(args)?;
    ctx.client.snapshot = None;
    let env = ctx.write_env();
    ctx.server.engine.submit_to(
        Box::new(move |w| apply_observed(command, env, w)),
        &ctx.client.replies,
    )?;
    Ok(Outcome::Queued)
}

/// Command flags, named as COMMAND reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const LOADING: Flags = Flags(1 << 6);
    pub const STALE: Flags = Flags(1 << 7);
    pub const FAST: Flags = Flags(1 << 8);
    pub const NO_AUTH: Flags = Flags(1 << 9);
    pub const ALLOW_BUSY: Flags = Flags(1 << 10);
    pub const NO_MULTI: Flags = Flags(1 << 11);

    const NAMES: [(Flags, &'static str); 12] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::ALLOW_BUSY, "allow_busy"),
        (Flags::NO_MULTI, "no_multi"),
    ];

    pub const fn or(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(f, _)| self.has(*f))
            .map(|(_, n)| n)
    }
}

/// Where the keys are: Redis's (first, last, step); last < 0 counts from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPositions {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

pub const NO_KEYS: KeyPositions = KeyPositions {
    first: 0,
    last: 0,
    step: 0,
};

/// One row of the command table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name (for a subcommand, the part after `|`).
    pub name: &'static str,
    /// Exact argument count including the name when > 0, minimum when < 0.
    pub arity: i32,
    pub flags: Flags,
    pub keys: KeyPositions,
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The keys of a call, by the key positions.
    pub fn key_indexes(&self, argc: usize) -> Vec<usize> {
        let KeyPositions { first, last, step } = self.keys;
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let last = if last < 0 {
            argc as i64 + i64::from(last)
        } else {
            i64::from(last)
        };
        let last = last.min(argc as i64 - 1);
        (i64::from(first)..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

#[allow(clippy::too_many_arguments)]
const fn command(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: KeyPositions,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group,
        summary,
        since,
        handler: Some(handler),
        subcommands: &[],
    }
}

const fn container(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: Flags::NONE,
        keys: NO_KEYS,
        group,
        summary,
        since,
        handler: None,
        subcommands,
    }
}

use server as s;

const CONN: &str = "connection";
const SRV: &str = "server";
const F_LS: Flags = Flags::LOADING.or(Flags::STALE);
const F_LSF: Flags = F_LS.or(Flags::FAST);
const F_ADMIN: Flags = Flags::ADMIN.or(Flags::NOSCRIPT).or(F_LS);
const F_R: Flags = Flags::READONLY;
const F_WD: Flags = Flags::WRITE.or(Flags::DENYOOM);
const STR: &str = "string";
const GEN: &str = "generic";
const HASH: &str = "hash";
const TXN: &str = "transactions";
const LIST: &str = "list";
const SET: &str = "set";
const ZSET: &str = "sorted-set";
const PUBSUB: &str = "pubsub";
/// Redis 8 serves vector sets from a built-in module: COMMAND reports them in this group.
const MODULE: &str = "module";
/// Luma's SQL engine (SQL.*); EXEC runs a transaction holding these on the SQL writer.
pub const SQL: &str = "sql";
const F_PUBSUB: Flags = Flags::PUBSUB.or(F_LS);
const KEY_ALL_1: KeyPositions = key_range(1, -1, 1);
const fn key_range(first: i32, last: i32, step: i32) -> KeyPositions {
    KeyPositions { first, last, step }
}
const KEY1: KeyPositions = key_range(1, 1, 1);
const KEYS2: KeyPositions = key_range(1, 2, 1);
const ALL_KEYS: KeyPositions = key_range(1, -1, 1);
const KEY2ND: KeyPositions = key_range(2, 2, 1);
const PAIRS: KeyPositions = key_range(1, -1, 2);
/// Keys counted by a `numkeys` argument: found by the command itself (Redis reports 0 0 0).
const NUMKEYS: KeyPositions = NO_KEYS;

#[rustfmt::skip]
/// Every command Luma serves.
pub static COMMANDS: &[CommandSpec] = &[
    command("ping", -1, F_LSF, NO_KEYS, CONN, "1.0.0", "Returns the server's liveliness response.", conn_cmd::<s::Ping>()),
    command("echo", 2, F_LSF, NO_KEYS, CONN, "1.0.0", "Returns the given string.", conn_cmd::<s::Echo>()),
    command("quit", -1, Flags::NO_AUTH.or(F_LSF).or(Flags::ALLOW_BUSY), NO_KEYS, CONN, "1.0.0", "Closes the connection.", conn_cmd::<s::Quit>()),
    command("reset", 1, Flags::NO_AUTH.or(F_LSF).or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.2.0", "Resets the connection.", conn_cmd::<s::Reset>()),
    command("select", 2, F_LSF, NO_KEYS, CONN, "1.0.0", "Changes the selected database.", conn_cmd::<s::Select>()),
    command("auth", -2, Flags::NO_AUTH.or(F_LSF).or(Flags::NOSCRIPT), NO_KEYS, CONN, "1.0.0", "Authenticates the connection.", conn_cmd::<s::Auth>()),
    command("hello", -1, Flags::NO_AUTH.or(F_LSF).or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.0.0", "Handshakes with the Redis server.", conn_cmd::<s::Hello>()),
    container("client", CONN, "2.4.0", "A container for client connection commands.", &[
        command("id", 2, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "5.0.0", "Returns the unique client ID of the connection.", conn_cmd::<s::ClientId>()),
        command("setname", 3, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "2.6.9", "Sets the connection name.", conn_cmd::<s::ClientSetName>()),
        command("getname", 2, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "2.6.9", "Returns the name of the connection.", conn_cmd::<s::ClientGetName>()),
        command("setinfo", 4, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "7.2.0", "Sets information specific to the client or connection.", conn_cmd::<s::ClientSetInfo>()),
        command("info", 2, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.2.0", "Returns information about the connection.", conn_cmd::<s::ClientInfoCmd>()),
        command("list", -2, F_ADMIN, NO_KEYS, CONN, "2.4.0", "Lists open connections.", conn_cmd::<s::ClientList>()),
        command("kill", -3, F_ADMIN, NO_KEYS, CONN, "2.4.0", "Terminates open connections.", conn_cmd::<s::ClientKill>()),
        command("reply", 3, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "3.2.0", "Instructs the server whether to reply to commands.", conn_cmd::<s::ClientReply>()),
        command("no-evict", 3, F_ADMIN, NO_KEYS, CONN, "7.0.0", "Sets the client eviction mode of the connection.", conn_cmd::<s::ClientNoEvict>()),
        command("no-touch", 3, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", conn_cmd::<s::ClientNoTouch>()),
        command("tracking", -3, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.0.0", "Controls server-assisted client-side caching for the connection.", conn_cmd::<client::ClientTracking>()),
        command("caching", 3, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.0.0", "Instructs the server whether to track the keys in the next request.", conn_cmd::<client::ClientCaching>()),
        command("getredir", 2, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.0.0", "Returns the client ID to which the connection's tracking notifications are redirected.", conn_cmd::<client::ClientGetRedir>()),
        command("trackinginfo", 2, F_LS.or(Flags::NOSCRIPT), NO_KEYS, CONN, "6.2.0", "Returns information about server-assisted client-side caching for the connection.", conn_cmd::<client::ClientTrackingInfo>()),
        command("help", 2, F_LS, NO_KEYS, CONN, "5.0.0", "Returns helpful text about the different subcommands.", conn_cmd::<s::ClientHelp>()),
    ]),
    command("subscribe", -2, F_PUBSUB, NO_KEYS, PUBSUB, "2.0.0", "Listens for messages published to channels.", conn_cmd::<pubsub::Subscribe<false>>()),
    command("unsubscribe", -1, F_PUBSUB, NO_KEYS, PUBSUB, "2.0.0", "Stops listening to messages posted to channels.", conn_cmd::<pubsub::Unsubscribe<false>>()),
    command("psubscribe", -2, F_PUBSUB, NO_KEYS, PUBSUB, "2.0.0", "Listens for messages published to channels that match one or more patterns.", conn_cmd::<pubsub::PSubscribe>()),
    command("punsubscribe", -1, F_PUBSUB, NO_KEYS, PUBSUB, "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", conn_cmd::<pubsub::PUnsubscribe>()),
    command("ssubscribe", -2, F_PUBSUB, KEY_ALL_1, PUBSUB, "7.0.0", "Listens for messages published to shard channels.", conn_cmd::<pubsub::Subscribe<true>>()),
    command("sunsubscribe", -1, F_PUBSUB, KEY_ALL_1, PUBSUB, "7.0.0", "Stops listening to messages posted to shard channels.", conn_cmd::<pubsub::Unsubscribe<true>>()),
    command("publish", 3, F_PUBSUB.or(Flags::FAST), NO_KEYS, PUBSUB, "2.0.0", "Posts a message to a channel.", conn_cmd::<pubsub::Publish<false>>()),
    command("spublish", 3, F_PUBSUB.or(Flags::FAST), KEY1, PUBSUB, "7.0.0", "Post a message to a shard channel", conn_cmd::<pubsub::Publish<true>>()),
    container("pubsub", PUBSUB, "2.8.0", "A container for Pub/Sub commands.", &[
        command("channels", -2, F_PUBSUB, NO_KEYS, PUBSUB, "2.8.0", "Returns the active channels.", conn_cmd::<pubsub::Channels<false>>()),
        command("numsub", -2, F_PUBSUB, NO_KEYS, PUBSUB, "2.8.0", "Returns a count of subscribers to channels.", conn_cmd::<pubsub::NumSub<false>>()),
        command("numpat", 2, F_PUBSUB, NO_KEYS, PUBSUB, "2.8.0", "Returns a count of unique pattern subscriptions.", conn_cmd::<pubsub::NumPat>()),
        command("shardchannels", -2, F_PUBSUB, NO_KEYS, PUBSUB, "7.0.0", "Returns the active shard channels.", conn_cmd::<pubsub::Channels<true>>()),
        command("shardnumsub", -2, F_PUBSUB, NO_KEYS, PUBSUB, "7.0.0", "Returns the count of subscribers of shard channels.", conn_cmd::<pubsub::NumSub<true>>()),
        command("help", 2, F_LS, NO_KEYS, PUBSUB, "6.2.0", "Returns helpful text about the different subcommands.", conn_cmd::<pubsub::PubSubHelp>()),
    ]),
    command("info", -1, F_LS, NO_KEYS, SRV, "1.0.0", "Returns information and statistics about the server.", conn_cmd::<s::Info>()),
    container("config", SRV, "2.0.0", "A container for server configuration commands.", &[
        command("get", -3, F_ADMIN, NO_KEYS, SRV, "2.0.0", "Returns the effective values of configuration parameters.", conn_cmd::<s::ConfigGet>()),
        command("set", -4, F_ADMIN, NO_KEYS, SRV, "2.0.0", "Sets configuration parameters in-flight.", conn_cmd::<s::ConfigSet>()),
        command("resetstat", 2, F_ADMIN, NO_KEYS, SRV, "2.0.0", "Resets the server's statistics.", conn_cmd::<s::ConfigResetStat>()),
        command("rewrite", 2, F_ADMIN, NO_KEYS, SRV, "2.8.0", "Persists the effective configuration to file.", conn_cmd::<s::ConfigRewrite>()),
        command("help", 2, F_LS, NO_KEYS, SRV, "5.0.0", "Returns helpful text about the different subcommands.", conn_cmd::<s::ConfigHelp>()),
    ]),
    CommandSpec { subcommands: COMMAND_SUBCOMMANDS, ..command("command", -1, F_LS, NO_KEYS, SRV, "2.8.13", "Returns detailed information about all commands.", conn_cmd::<s::CommandAll>()) },
    command("time", 1, F_LSF, NO_KEYS, SRV, "2.6.0", "Returns the server time.", conn_cmd::<s::Time>()),
    command("lastsave", 1, F_LSF, NO_KEYS, SRV, "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", conn_cmd::<s::LastSave>()),
    command("shutdown", -1, F_ADMIN.or(Flags::NO_MULTI).or(Flags::ALLOW_BUSY), NO_KEYS, SRV, "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", conn_cmd::<s::Shutdown>()),
    command("cluster", -2, Flags::NONE, NO_KEYS, "cluster", "3.0.0", "A container for Redis Cluster commands.", conn_cmd::<s::Cluster>()),
    container("module", SRV, "4.0.0", "A container for module commands.", &[
        command("list", 2, F_ADMIN, NO_KEYS, SRV, "4.0.0", "Returns all loaded modules.", conn_cmd::<s::ModuleList>()),
        command("load", -3, F_ADMIN, NO_KEYS, SRV, "4.0.0", "Loads a module.", conn_cmd::<s::ModuleLoad>()),
        command("help", 2, F_LS, NO_KEYS, SRV, "5.0.0", "Returns helpful text about the different subcommands.", conn_cmd::<s::ModuleHelp>()),
    ]),
    command("dbsize", 1, Flags::READONLY.or(Flags::FAST), NO_KEYS, SRV, "1.0.0", "Returns the number of keys in the database.", conn_cmd::<keys::DbSize>()),
    command("flushdb", -1, Flags::WRITE, NO_KEYS, SRV, "1.0.0", "Removes all keys from the current database.", write_cmd::<keys::FlushDb>()),
    command("flushall", -1, Flags::WRITE, NO_KEYS, SRV, "1.0.0", "Removes all keys from all databases.", write_cmd::<keys::FlushAll>()),
    command("save", 1, F_ADMIN.or(Flags::NO_MULTI), NO_KEYS, SRV, "1.0.0", "Synchronously saves the database(s) to disk.", conn_cmd::<s::Save>()),
    command("bgsave", -1, F_ADMIN.or(Flags::NO_MULTI), NO_KEYS, SRV, "1.0.0", "Asynchronously saves the database(s) to disk.", conn_cmd::<s::BgSave>()),
    // Strings
    command("get", 2, F_R.or(Flags::FAST), KEY1, STR, "1.0.0", "Returns the string value of a key.", read_cmd::<string::Get>()),
    command("set", -3, F_WD, KEY1, STR, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", write_cmd::<string::Set>()),
    command("setnx", 3, F_WD.or(Flags::FAST), KEY1, STR, "1.0.0", "Set the string value of a key only when the key doesn't exist.", write_cmd::<string::SetNx>()),
    command("setex", 4, F_WD, KEY1, STR, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", write_cmd::<string::SetEx<1000>>()),
    command("psetex", 4, F_WD, KEY1, STR, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", write_cmd::<string::SetEx<1>>()),
    command("mget", -2, F_R.or(Flags::FAST), ALL_KEYS, STR, "1.0.0", "Atomically returns the string values of one or more keys.", read_cmd::<string::MGet>()),
    command("mset", -3, F_WD, PAIRS, STR, "1.0.1", "Atomically creates or modifies the string values of one or more keys.", write_cmd::<string::MSet>()),
    command("msetnx", -3, F_WD, PAIRS, STR, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", write_cmd::<string::MSetNx>()),
    command("getset", 3, F_WD.or(Flags::FAST), KEY1, STR, "1.0.0", "Returns the previous string value of a key after setting it to a new value.", write_cmd::<string::GetSet>()),
    command("getdel", 2, Flags::WRITE.or(Flags::FAST), KEY1, STR, "6.2.0", "Returns the string value of a key after deleting the key.", write_cmd::<string::GetDel>()),
    command("getex", -2, Flags::WRITE.or(Flags::FAST), KEY1, STR, "6.2.0", "Returns the string value of a key after setting its expiration time.", write_cmd::<string::GetEx>()),
    command("append", 3, F_WD.or(Flags::FAST), KEY1, STR, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", write_cmd::<string::Append>()),
    command("strlen", 2, F_R.or(Flags::FAST), KEY1, STR, "2.2.0", "Returns the length of a string value.", read_cmd::<string::StrLen>()),
    command("incr", 2, F_WD.or(Flags::FAST), KEY1, STR, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", write_cmd::<string::Incr<{ string::INCR }>>()),
    command("decr", 2, F_WD.or(Flags::FAST), KEY1, STR, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", write_cmd::<string::Incr<{ string::DECR }>>()),
    command("incrby", 3, F_WD.or(Flags::FAST), KEY1, STR, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", write_cmd::<string::Incr<{ string::INCRBY }>>()),
    command("decrby", 3, F_WD.or(Flags::FAST), KEY1, STR, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", write_cmd::<string::Incr<{ string::DECRBY }>>()),
    command("incrbyfloat", 3, F_WD.or(Flags::FAST), KEY1, STR, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", write_cmd::<string::IncrByFloat>()),
    command("getrange", 4, F_R, KEY1, STR, "2.4.0", "Returns a substring of the string stored at a key.", read_cmd::<string::GetRange>()),
    command("setrange", 4, F_WD, KEY1, STR, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", write_cmd::<string::SetRange>()),
    command("lcs", -3, F_R, KEYS2, STR, "7.0.0", "Finds the longest common substring.", conn_cmd::<string::Lcs>()),
    // Keys
    command("del", -2, Flags::WRITE, ALL_KEYS, GEN, "1.0.0", "Deletes one or more keys.", write_cmd::<keys::Del>()),
    command("unlink", -2, Flags::WRITE.or(Flags::FAST), ALL_KEYS, GEN, "4.0.0", "Asynchronously deletes one or more keys.", write_cmd::<keys::Del>()),
    command("exists", -2, F_R.or(Flags::FAST), ALL_KEYS, GEN, "1.0.0", "Determines whether one or more keys exist.", read_cmd::<keys::Exists>()),
    command("touch", -2, F_R.or(Flags::FAST), ALL_KEYS, GEN, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", read_cmd::<keys::Exists>()),
    command("type", 2, F_R.or(Flags::FAST), KEY1, GEN, "1.0.0", "Determines the type of value stored at a key.", read_cmd::<keys::Type>()),
    command("expire", -3, Flags::WRITE.or(Flags::FAST), KEY1, GEN, "1.0.0", "Sets the expiration time of a key in seconds.", write_cmd::<keys::Expire<1000, false>>()),
    command("pexpire", -3, Flags::WRITE.or(Flags::FAST), KEY1, GEN, "2.6.0", "Sets the expiration time of a key in milliseconds.", write_cmd::<keys::Expire<1, false>>()),
    command("expireat", -3, Flags::WRITE.or(Flags::FAST), KEY1, GEN, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", write_cmd::<keys::Expire<1000, true>>()),
    command("pexpireat", -3, Flags::WRITE.or(Flags::FAST), KEY1, GEN, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", write_cmd::<keys::Expire<1, true>>()),
    command("ttl", 2, F_R.or(Flags::FAST), KEY1, GEN, "1.0.0", "Returns the expiration time in seconds of a key.", read_cmd::<keys::Ttl<1000, false>>()),
    command("pttl", 2, F_R.or(Flags::FAST), KEY1, GEN, "2.6.0", "Returns the expiration time in milliseconds of a key.", read_cmd::<keys::Ttl<1, false>>()),
    command("expiretime", 2, F_R.or(Flags::FAST), KEY1, GEN, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", read_cmd::<keys::Ttl<1000, true>>()),
    command("pexpiretime", 2, F_R.or(Flags::FAST), KEY1, GEN, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", read_cmd::<keys::Ttl<1, true>>()),
    command("persist", 2, Flags::WRITE.or(Flags::FAST), KEY1, GEN, "2.2.0", "Removes the expiration time of a key.", write_cmd::<keys::Persist>()),
    command("keys", 2, F_R, NO_KEYS, GEN, "1.0.0", "Returns all key names that match a pattern.", conn_cmd::<keys::Keys>()),
    command("rename", 3, Flags::WRITE, KEYS2, GEN, "1.0.0", "Renames a key and overwrites the destination.", write_cmd::<keys::Rename<false>>()),
    command("renamenx", 3, Flags::WRITE.or(Flags::FAST), KEYS2, GEN, "1.0.0", "Renames a key only when the target key name doesn't exist.", write_cmd::<keys::Rename<true>>()),
    command("copy", -3, F_WD, KEYS2, GEN, "6.2.0", "Copies the value of a key to a new key.", write_cmd::<keys::Copy>()),
    command("move", 3, Flags::WRITE.or(Flags::FAST), KEY1, GEN, "1.0.0", "Moves a key to another database.", write_cmd::<keys::Move>()),
    command("swapdb", 3, Flags::WRITE.or(Flags::FAST), NO_KEYS, SRV, "4.0.0", "Swaps two Redis databases.", write_cmd::<keys::SwapDb>()),
    command("scan", -2, F_R, NO_KEYS, GEN, "2.8.0", "Iterates over the key names in the database.", conn_cmd::<scan::Scan>()),
    command("randomkey", 1, F_R, NO_KEYS, GEN, "1.0.0", "Returns a random key name from the database.", conn_cmd::<scan::RandomKey>()),
    container("object", GEN, "2.2.3", "A container for object introspection commands.", &[
        command("encoding", 3, F_R, KEY2ND, GEN, "2.2.3", "Returns the internal encoding of a Redis object.", conn_cmd::<scan::ObjectEncoding>()),
        command("refcount", 3, F_R, KEY2ND, GEN, "2.2.3", "Returns the reference count of a value of a key.", conn_cmd::<scan::ObjectRefCount>()),
        command("idletime", 3, F_R, KEY2ND, GEN, "2.2.3", "Returns the time since the last access to a Redis object.", conn_cmd::<scan::ObjectIdleTime>()),
        command("freq", 3, F_R, KEY2ND, GEN, "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.", conn_cmd::<scan::ObjectFreq>()),
        command("help", 2, F_LS, NO_KEYS, GEN, "6.2.0", "Returns helpful text about the different subcommands.", conn_cmd::<scan::ObjectHelp>()),
    ]),
    container("memory", SRV, "4.0.0", "A container for memory diagnostics commands.", &[
        command("usage", -3, F_R, KEY2ND, SRV, "4.0.0", "Estimates the memory usage of a key.", conn_cmd::<scan::MemoryUsage>()),
        command("help", 2, F_LS, NO_KEYS, SRV, "4.0.0", "Returns helpful text about the different subcommands.", conn_cmd::<scan::MemoryHelp>()),
    ]),
    command("hset", -4, F_WD.or(Flags::FAST), KEY1, HASH, "2.0.0", "Creates or modifies the value of a field in a hash.", write_cmd::<hash::HSet<false>>()),
    command("hmset", -4, F_WD.or(Flags::FAST), KEY1, HASH, "2.0.0", "Sets the values of multiple fields.", write_cmd::<hash::HSet<true>>()),
    command("hsetnx", 4, F_WD.or(Flags::FAST), KEY1, HASH, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", write_cmd::<hash::HSetNx>()),
    command("hget", 3, F_R.or(Flags::FAST), KEY1, HASH, "2.0.0", "Returns the value of a field in a hash.", read_cmd::<hash::HGet>()),
    command("hmget", -3, F_R.or(Flags::FAST), KEY1, HASH, "2.0.0", "Returns the values of all fields in a hash.", read_cmd::<hash::HMGet>()),
    command("hgetall", 2, F_R, KEY1, HASH, "2.0.0", "Returns all fields and values in a hash.", read_cmd::<hash::HGetAll<{ hash::ALL }>>()),
    command("hkeys", 2, F_R, KEY1, HASH, "2.0.0", "Returns all fields in a hash.", read_cmd::<hash::HGetAll<{ hash::KEYS }>>()),
    command("hvals", 2, F_R, KEY1, HASH, "2.0.0", "Returns all values in a hash.", read_cmd::<hash::HGetAll<{ hash::VALUES }>>()),
    command("hdel", -3, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", write_cmd::<hash::HDel>()),
    command("hexists", 3, F_R.or(Flags::FAST), KEY1, HASH, "2.0.0", "Determines whether a field exists in a hash.", read_cmd::<hash::HExists>()),
    command("hlen", 2, F_R.or(Flags::FAST), KEY1, HASH, "2.0.0", "Returns the number of fields in a hash.", read_cmd::<hash::HLen>()),
    command("hstrlen", 3, F_R.or(Flags::FAST), KEY1, HASH, "3.2.0", "Returns the length of the value of a field.", read_cmd::<hash::HStrLen>()),
    command("hincrby", 4, F_WD.or(Flags::FAST), KEY1, HASH, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", write_cmd::<hash::HIncrBy>()),
    command("hincrbyfloat", 4, F_WD.or(Flags::FAST), KEY1, HASH, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", write_cmd::<hash::HIncrByFloat>()),
    command("hrandfield", -2, F_R, KEY1, HASH, "6.2.0", "Returns one or more random fields from a hash.", read_cmd::<hash::HRandField>()),
    command("hscan", -3, F_R, KEY1, HASH, "2.8.0", "Iterates over fields and values of a hash.", conn_cmd::<hash::HScan>()),
    command("hexpire", -6, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", write_cmd::<hash::HExpire<1000, false>>()),
    command("hpexpire", -6, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "7.4.0", "Set expiry for hash field using relative time to expire (milliseconds)", write_cmd::<hash::HExpire<1, false>>()),
    command("hexpireat", -6, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (seconds)", write_cmd::<hash::HExpire<1000, true>>()),
    command("hpexpireat", -6, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", write_cmd::<hash::HExpire<1, true>>()),
    command("httl", -5, F_R.or(Flags::FAST), KEY1, HASH, "7.4.0", "Returns the TTL in seconds of a hash field.", read_cmd::<hash::HTtl<1000, false>>()),
    command("hpttl", -5, F_R.or(Flags::FAST), KEY1, HASH, "7.4.0", "Returns the TTL in milliseconds of a hash field.", read_cmd::<hash::HTtl<1, false>>()),
    command("hexpiretime", -5, F_R.or(Flags::FAST), KEY1, HASH, "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", read_cmd::<hash::HTtl<1000, true>>()),
    command("hpexpiretime", -5, F_R.or(Flags::FAST), KEY1, HASH, "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", read_cmd::<hash::HTtl<1, true>>()),
    command("hpersist", -5, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "7.4.0", "Removes the expiration time for each specified field", write_cmd::<hash::HPersist>()),
    command("hgetdel", -5, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "8.0.0", "Returns the value of a field and deletes it from the hash.", write_cmd::<hash::HGetDel>()),
    command("hgetex", -5, Flags::WRITE.or(Flags::FAST), KEY1, HASH, "8.0.0", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", write_cmd::<hash::HGetEx>()),
    command("hsetex", -6, F_WD.or(Flags::FAST), KEY1, HASH, "8.0.0", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", write_cmd::<hash::HSetEx>()),
    command("lpush", -3, F_WD.or(Flags::FAST), KEY1, LIST, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", write_cmd::<list::Push<true, false>>()),
    command("rpush", -3, F_WD.or(Flags::FAST), KEY1, LIST, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", write_cmd::<list::Push<false, false>>()),
    command("lpushx", -3, F_WD.or(Flags::FAST), KEY1, LIST, "2.2.0", "Prepends one or more elements to a list only when the list exists.", write_cmd::<list::Push<true, true>>()),
    command("rpushx", -3, F_WD.or(Flags::FAST), KEY1, LIST, "2.2.0", "Appends an element to a list only when the list exists.", write_cmd::<list::Push<false, true>>()),
    command("lpop", -2, Flags::WRITE.or(Flags::FAST), KEY1, LIST, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", write_cmd::<list::Pop<true>>()),
    command("rpop", -2, Flags::WRITE.or(Flags::FAST), KEY1, LIST, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", write_cmd::<list::Pop<false>>()),
    command("lrange", 4, F_R, KEY1, LIST, "1.0.0", "Returns a range of elements from a list.", read_cmd::<list::LRange>()),
    command("llen", 2, F_R.or(Flags::FAST), KEY1, LIST, "1.0.0", "Returns the length of a list.", read_cmd::<list::LLen>()),
    command("lindex", 3, F_R, KEY1, LIST, "1.0.0", "Returns an element from a list by its index.", read_cmd::<list::LIndex>()),
    command("lset", 4, F_WD, KEY1, LIST, "1.0.0", "Sets the value of an element in a list by its index.", write_cmd::<list::LSet>()),
    command("lrem", 4, Flags::WRITE, KEY1, LIST, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", write_cmd::<list::LRem>()),
    command("ltrim", 4, Flags::WRITE, KEY1, LIST, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", write_cmd::<list::LTrim>()),
    command("linsert", 5, F_WD, KEY1, LIST, "2.2.0", "Inserts an element before or after another element in a list.", write_cmd::<list::LInsert>()),
    command("lpos", -3, F_R, KEY1, LIST, "6.0.6", "Returns the index of matching elements in a list.", read_cmd::<list::LPos>()),
    command("lmove", 5, F_WD, KEYS2, LIST, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", write_cmd::<list::LMove>()),
    command("rpoplpush", 3, F_WD, KEYS2, LIST, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", write_cmd::<list::RPopLPush>()),
    command("lmpop", -4, Flags::WRITE, NUMKEYS, LIST, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", write_cmd::<list::LMPop>()),
    command("zadd", -4, F_WD.or(Flags::FAST), KEY1, ZSET, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", write_cmd::<zset::ZAdd>()),
    command("zincrby", 4, F_WD.or(Flags::FAST), KEY1, ZSET, "1.2.0", "Increments the score of a member in a sorted set.", write_cmd::<zset::ZIncrBy>()),
    command("zrem", -3, Flags::WRITE.or(Flags::FAST), KEY1, ZSET, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", write_cmd::<zset::ZRem>()),
    command("zcard", 2, F_R.or(Flags::FAST), KEY1, ZSET, "1.2.0", "Returns the number of members in a sorted set.", read_cmd::<zset::ZCard>()),
    command("zscore", 3, F_R.or(Flags::FAST), KEY1, ZSET, "1.2.0", "Returns the score of a member in a sorted set.", read_cmd::<zset::ZScore>()),
    command("zmscore", -3, F_R.or(Flags::FAST), KEY1, ZSET, "6.2.0", "Returns the score of one or more members in a sorted set.", read_cmd::<zset::ZMScore>()),
    command("zrank", -3, F_R.or(Flags::FAST), KEY1, ZSET, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", read_cmd::<zset::ZRank<false>>()),
    command("zrevrank", -3, F_R.or(Flags::FAST), KEY1, ZSET, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", read_cmd::<zset::ZRank<true>>()),
    command("zcount", 4, F_R.or(Flags::FAST), KEY1, ZSET, "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", read_cmd::<zset::ZCount<{ zset::SCORE }>>()),
    command("zlexcount", 4, F_R.or(Flags::FAST), KEY1, ZSET, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", read_cmd::<zset::ZCount<{ zset::LEX }>>()),
    command("zrange", -4, F_R, KEY1, ZSET, "1.2.0", "Returns members in a sorted set within a range of indexes.", read_cmd::<zset::ZRange>()),
    command("zrangestore", -5, F_WD, KEYS2, ZSET, "6.2.0", "Stores a range of members from sorted set in a key.", write_cmd::<zset::ZRangeStore>()),
    command("zrevrange", -4, F_R, KEY1, ZSET, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", read_cmd::<zset::ZRangeLegacy<{ zset::RANK }, true>>()),
    command("zrangebyscore", -4, F_R, KEY1, ZSET, "1.0.5", "Returns members in a sorted set within a range of scores.", read_cmd::<zset::ZRangeLegacy<{ zset::SCORE }, false>>()),
    command("zrevrangebyscore", -4, F_R, KEY1, ZSET, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", read_cmd::<zset::ZRangeLegacy<{ zset::SCORE }, true>>()),
    command("zrangebylex", -4, F_R, KEY1, ZSET, "2.8.9", "Returns members in a sorted set within a lexicographical range.", read_cmd::<zset::ZRangeLegacy<{ zset::LEX }, false>>()),
    command("zrevrangebylex", -4, F_R, KEY1, ZSET, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", read_cmd::<zset::ZRangeLegacy<{ zset::LEX }, true>>()),
    command("zremrangebyrank", 4, Flags::WRITE, KEY1, ZSET, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", write_cmd::<zset::ZRemRange<{ zset::RANK }>>()),
    command("zremrangebyscore", 4, Flags::WRITE, KEY1, ZSET, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", write_cmd::<zset::ZRemRange<{ zset::SCORE }>>()),
    command("zremrangebylex", 4, Flags::WRITE, KEY1, ZSET, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", write_cmd::<zset::ZRemRange<{ zset::LEX }>>()),
    command("zpopmin", -2, Flags::WRITE.or(Flags::FAST), KEY1, ZSET, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", write_cmd::<zset::ZPop<false>>()),
    command("zpopmax", -2, Flags::WRITE.or(Flags::FAST), KEY1, ZSET, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", write_cmd::<zset::ZPop<true>>()),
    command("zmpop", -4, Flags::WRITE, NUMKEYS, ZSET, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", write_cmd::<zset::ZMPop>()),
    command("zunion", -3, F_R, NUMKEYS, ZSET, "6.2.0", "Returns the union of multiple sorted sets.", read_cmd::<zset::ZCombine<0>>()),
    command("zinter", -3, F_R, NUMKEYS, ZSET, "6.2.0", "Returns the intersect of multiple sorted sets.", read_cmd::<zset::ZCombine<1>>()),
    command("zdiff", -3, F_R, NUMKEYS, ZSET, "6.2.0", "Returns the difference between multiple sorted sets.", read_cmd::<zset::ZCombine<2>>()),
    command("zunionstore", -4, F_WD, KEY1, ZSET, "2.0.0", "Stores the union of multiple sorted sets in a key.", write_cmd::<zset::ZCombineStore<0>>()),
    command("zinterstore", -4, F_WD, KEY1, ZSET, "2.0.0", "Stores the intersect of multiple sorted sets in a key.", write_cmd::<zset::ZCombineStore<1>>()),
    command("zdiffstore", -4, F_WD, KEY1, ZSET, "6.2.0", "Stores the difference of multiple sorted sets in a key.", write_cmd::<zset::ZCombineStore<2>>()),
    command("zintercard", -3, F_R, NUMKEYS, ZSET, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", read_cmd::<zset::ZInterCard>()),
    command("zrandmember", -2, F_R, KEY1, ZSET, "6.2.0", "Returns one or more random members from a sorted set.", read_cmd::<zset::ZRandMember>()),
    command("zscan", -3, F_R, KEY1, ZSET, "2.8.0", "Iterates over members and scores of a sorted set.", conn_cmd::<zset::ZScan>()),
    command("multi", 1, F_LSF.or(Flags::NOSCRIPT).or(Flags::ALLOW_BUSY), NO_KEYS, TXN, "1.2.0", "Starts a transaction.", conn_cmd::<txn::Multi>()),
    command("exec", 1, Flags::NOSCRIPT.or(F_LS), NO_KEYS, TXN, "1.2.0", "Executes all commands in a transaction.", Handler { conn: txn::run_exec, txn: None }),
    command("discard", 1, F_LSF.or(Flags::NOSCRIPT).or(Flags::ALLOW_BUSY), NO_KEYS, TXN, "2.0.0", "Discards a transaction.", conn_cmd::<txn::Discard>()),
    command("watch", -2, F_LSF.or(Flags::NOSCRIPT).or(Flags::ALLOW_BUSY), ALL_KEYS, TXN, "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", conn_cmd::<txn::Watch>()),
    command("unwatch", 1, F_LSF.or(Flags::NOSCRIPT).or(Flags::ALLOW_BUSY), NO_KEYS, TXN, "2.2.0", "Forgets about watched keys of a transaction.", conn_cmd::<txn::Unwatch>()),
    command("blpop", -3, Flags::WRITE.or(Flags::NOSCRIPT), key_range(1, -2, 1), LIST, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking_cmd::<blocking::BPop<true>>()),
    command("brpop", -3, Flags::WRITE.or(Flags::NOSCRIPT), key_range(1, -2, 1), LIST, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking_cmd::<blocking::BPop<false>>()),
    command("blmove", 6, F_WD.or(Flags::NOSCRIPT), KEYS2, LIST, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blocking_cmd::<blocking::BLMove<false>>()),
    command("brpoplpush", 4, F_WD.or(Flags::NOSCRIPT), KEYS2, LIST, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", blocking_cmd::<blocking::BLMove<true>>()),
    command("blmpop", -5, Flags::WRITE, NUMKEYS, LIST, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blocking_cmd::<blocking::BLMPop>()),
    command("bzpopmin", -3, Flags::WRITE.or(Flags::FAST), key_range(1, -2, 1), ZSET, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", blocking_cmd::<blocking::BZPop<false>>()),
    command("bzpopmax", -3, Flags::WRITE.or(Flags::FAST), key_range(1, -2, 1), ZSET, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", blocking_cmd::<blocking::BZPop<true>>()),
    command("bzmpop", -5, Flags::WRITE, NUMKEYS, ZSET, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", blocking_cmd::<blocking::BZMPop>()),
    command("sadd", -3, F_WD.or(Flags::FAST), KEY1, SET, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", write_cmd::<set::SAdd>()),
    command("srem", -3, Flags::WRITE.or(Flags::FAST), KEY1, SET, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", write_cmd::<set::SRem>()),
    command("smembers", 2, F_R, KEY1, SET, "1.0.0", "Returns all members of a set.", read_cmd::<set::SMembers>()),
    command("sismember", 3, F_R.or(Flags::FAST), KEY1, SET, "1.0.0", "Determines whether a member belongs to a set.", read_cmd::<set::SIsMember>()),
    command("smismember", -3, F_R.or(Flags::FAST), KEY1, SET, "6.2.0", "Determines whether multiple members belong to a set.", read_cmd::<set::SMIsMember>()),
    command("scard", 2, F_R.or(Flags::FAST), KEY1, SET, "1.0.0", "Returns the number of members in a set.", read_cmd::<set::SCard>()),
    command("spop", -2, Flags::WRITE.or(Flags::FAST), KEY1, SET, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", write_cmd::<set::SPop>()),
    command("srandmember", -2, F_R, KEY1, SET, "1.0.0", "Get one or multiple random members from a set", read_cmd::<set::SRandMember>()),
    command("smove", 4, Flags::WRITE.or(Flags::FAST), KEYS2, SET, "1.0.0", "Moves a member from one set to another.", write_cmd::<set::SMove>()),
    command("sinter", -2, F_R, ALL_KEYS, SET, "1.0.0", "Returns the intersect of multiple sets.", read_cmd::<set::SCombine<0>>()),
    command("sunion", -2, F_R, ALL_KEYS, SET, "1.0.0", "Returns the union of multiple sets.", read_cmd::<set::SCombine<1>>()),
    command("sdiff", -2, F_R, ALL_KEYS, SET, "1.0.0", "Returns the difference of multiple sets.", read_cmd::<set::SCombine<2>>()),
    command("sinterstore", -3, F_WD, ALL_KEYS, SET, "1.0.0", "Stores the intersect of multiple sets in a key.", write_cmd::<set::SCombineStore<0>>()),
    command("sunionstore", -3, F_WD, ALL_KEYS, SET, "1.0.0", "Stores the union of multiple sets in a key.", write_cmd::<set::SCombineStore<1>>()),
    command("sdiffstore", -3, F_WD, ALL_KEYS, SET, "1.0.0", "Stores the difference of multiple sets in a key.", write_cmd::<set::SCombineStore<2>>()),
    command("sintercard", -3, F_R, NUMKEYS, SET, "7.0.0", "Returns the number of members of the intersect of multiple sets.", read_cmd::<set::SInterCard>()),
    command("sscan", -3, F_R, KEY1, SET, "2.6.0", "Iterates over members of a set.", conn_cmd::<set::SScan>()),
    command("vadd", -5, F_WD, KEY1, MODULE, "8.0.0", "Adds an element with its vector (and optional JSON attributes) to a vector set, creating the set. Luma: METRIC COSINE|L2|IP and INDEX VAMANA|IVF|FLAT choose the metric and index when the set is created.", vector::indexed_write_cmd::<vector::VAdd>()),
    command("vrem", 3, Flags::WRITE, KEY1, MODULE, "8.0.0", "Removes an element from a vector set.", vector::indexed_write_cmd::<vector::VRem>()),
    command("vsetattr", 4, Flags::WRITE, KEY1, MODULE, "8.0.0", "Sets or removes (empty string) the JSON attributes of an element.", vector::indexed_write_cmd::<vector::VSetAttr>()),
    command("sql.exec", -2, F_WD.or(Flags::NOSCRIPT), NO_KEYS, SQL, "0.1.0", "Luma: runs SQL statements (DDL and DML) as one transaction, logged in the WAL.", Handler { conn: sql::run_exec, txn: Some(sql::txn_exec) }),
    command("sql.query", -2, F_R.or(Flags::NOSCRIPT), NO_KEYS, SQL, "0.1.0", "Luma: runs a read-only SQL query and returns its rows.", Handler { conn: sql::run_query, txn: Some(sql::txn_query) }),
    command("sql.tables", 1, F_R, NO_KEYS, SQL, "0.1.0", "Luma: lists the SQL tables.", Handler { conn: sql::run_tables, txn: None }),
    command("sql.schema", -1, F_R, NO_KEYS, SQL, "0.1.0", "Luma: returns the CREATE statements of the SQL schema, or of one table.", Handler { conn: sql::run_schema, txn: None }),
    command("vsim", -4, F_R, KEY1, MODULE, "8.0.0", "Returns the elements most similar to a vector or to an element, optionally filtered by their attributes.", Handler { conn: vector::run_vsim, txn: None }),
    command("vsearch", -4, F_R, KEY1, MODULE, "8.0.0", "Luma: the same as VSIM (the design's name for vector search).", Handler { conn: vector::run_vsim, txn: None }),
    command("vcard", 2, F_R.or(Flags::FAST), KEY1, MODULE, "8.0.0", "Returns the number of elements in a vector set.", read_cmd::<vector::VCard>()),
    command("vdim", 2, F_R.or(Flags::FAST), KEY1, MODULE, "8.0.0", "Returns the dimension of the vectors in a vector set.", read_cmd::<vector::VDim>()),
    command("vismember", 3, F_R.or(Flags::FAST), KEY1, MODULE, "8.2.0", "Tells whether an element is in a vector set.", read_cmd::<vector::VIsMember>()),
    command("vgetattr", 3, F_R.or(Flags::FAST), KEY1, MODULE, "8.0.0", "Returns the JSON attributes of an element.", read_cmd::<vector::VGetAttr>()),
    command("vrange", -4, F_R, KEY1, MODULE, "8.4.0", "Returns elements in a lexicographical range.", read_cmd::<vector::VRange>()),
    command("vemb", -3, F_R, KEY1, MODULE, "8.0.0", "Returns the vector of an element, as stored (RAW: the stored codes).", Handler { conn: vector::run_vemb, txn: None }),
    command("vlinks", -3, F_R, KEY1, MODULE, "8.0.0", "Returns the graph neighbours of an element.", Handler { conn: vector::run_vlinks, txn: None }),
    command("vinfo", 2, F_R, KEY1, MODULE, "8.0.0", "Returns information about a vector set.", Handler { conn: vector::run_vinfo, txn: None }),
    command("vrandmember", -2, F_R, KEY1, MODULE, "8.0.0", "Returns random elements of a vector set.", Handler { conn: vector::run_vrandmember, txn: None }),
];

/// COMMAND is both a command (bare `COMMAND`) and a container of these.
const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    command(
        "count",
        2,
        F_LS,
        NO_KEYS,
        SRV,
        "2.8.13",
        "Returns a count of commands.",
        conn_cmd::<s::CommandCount>(),
    ),
    command(
        "info",
        -2,
        F_LS,
        NO_KEYS,
        SRV,
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        conn_cmd::<s::CommandInfo>(),
    ),
    command(
        "docs",
        -2,
        F_LS,
        NO_KEYS,
        SRV,
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        conn_cmd::<s::CommandDocs>(),
    ),
    command(
        "getkeys",
        -3,
        F_LS,
        NO_KEYS,
        SRV,
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
        conn_cmd::<s::CommandGetKeys>(),
    ),
    command(
        "list",
        -2,
        F_LS,
        NO_KEYS,
        SRV,
        "7.0.0",
        "Returns a list of command names.",
        conn_cmd::<s::CommandList>(),
    ),
    command(
        "help",
        2,
        F_LS,
        NO_KEYS,
        SRV,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        conn_cmd::<s::CommandHelp>(),
    ),
];

/// One resolved command: its row, its full name (`config|get`) and its statistics slot.
#[derive(Debug)]
pub struct Entry {
    pub spec: &'static CommandSpec,
    pub full_name: String,
    pub id: usize,
    pub subcommands: Vec<usize>,
    pub is_sub: bool,
}

impl Entry {
    /// The name arity errors quote: Redis's module commands (vector sets) keep the
    /// upper-case name they were registered with.
    fn arity_name(&self) -> String {
        if self.spec.group == MODULE {
            self.full_name.to_ascii_uppercase()
        } else {
            self.full_name.clone()
        }
    }
}

/// The command table indexed for dispatch.
#[derive(Debug)]
pub struct CommandTable {
    pub entries: Vec<Entry>,
    top: HashMap<&'static str, usize, BuildHasherDefault<Fnv1a>>,
}

impl CommandTable {
    fn build() -> CommandTable {
        let mut entries: Vec<Entry> = Vec::new();
        let mut top = HashMap::default();
        for spec in COMMANDS.iter() {
            let parent = entries.len();
            top.insert(spec.name, parent);
            entries.push(Entry {
                spec,
                full_name: spec.name.to_string(),
                id: parent,
                subcommands: Vec::new(),
                is_sub: false,
            });
            for sub in spec.subcommands {
                let id = entries.len();
                entries.push(Entry {
                    spec: sub,
                    full_name: format!("{}|{}", spec.name, sub.name),
                    id,
                    subcommands: Vec::new(),
                    is_sub: true,
                });
                entries[parent].subcommands.push(id);
            }
        }
        CommandTable { entries, top }
    }

    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.is_sub)
    }

    pub fn lookup(&self, name: &[u8]) -> Option<&Entry> {
        let mut lower = [0u8; 32];
        let lower = lower.get_mut(..name.len())?;
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let name = std::str::from_utf8(lower).ok()?;
        self.top.get(name).map(|&i| &self.entries[i])
    }

    /// Finds the entry for a call and checks its arity (Redis's order: existence, arity).
    pub fn resolve(&self, args: &[Bytes]) -> Result<(&Entry, usize), CmdError> {
        self.resolve_hinted(args, None)
    }

    /// [`resolve`](Self::resolve), trying the entry `hint` (the client's previous command)
    /// first: a pipeline mostly repeats one command, and comparing its name is cheaper than
    /// hashing (the table lookup was 4% of `SADD -P 16`).
    pub fn resolve_hinted(
        &self,
        args: &[Bytes],
        hint: Option<usize>,
    ) -> Result<(&Entry, usize), CmdError> {
        let name = args.first().map(|a| &a[..]).unwrap_or_default();
        let entry = hint
            .and_then(|i| self.entries.get(i))
            .filter(|e| !e.is_sub && e.spec.name.as_bytes().eq_ignore_ascii_case(name))
            .or_else(|| self.lookup(name))
            .ok_or_else(|| CmdError::unknown_command(name, args.get(1..).unwrap_or_default()))?;
        if entry.subcommands.is_empty() || (entry.spec.handler.is_some() && args.len() == 1) {
            if !entry.spec.arity_ok(args.len()) {
                return Err(CmdError::WrongArity(entry.arity_name()));
            }
            return Ok((entry, 1));
        }
        let Some(sub_name) = args.get(1) else {
            return Err(CmdError::WrongArity(entry.full_name.clone()));
        };
        let sub = entry
            .subcommands
            .iter()
            .map(|&i| &self.entries[i])
            .find(|e| sub_name.eq_ignore_ascii_case(e.spec.name.as_bytes()))
            .ok_or_else(|| CmdError::unknown_subcommand(entry.spec.name, sub_name))?;
        if !sub.spec.arity_ok(args.len()) {
            return Err(CmdError::WrongArity(sub.full_name.clone()));
        }
        Ok((sub, 2))
    }
}

/// FNV-1a: the table's keys are fixed at build time, so a keyed hash buys nothing here, and
/// SipHash showed up in profiles of the dispatch path.
#[derive(Default)]
pub struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The process-wide command table.
pub fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(CommandTable::build)
}

/// Does this request change data (so it may run behind earlier writes of the same client)?
pub fn is_write(args: &[Bytes], client: &ClientInfo) -> bool {
    table()
        .resolve_hinted(args, client.last_command())
        .is_ok_and(|(e, _)| e.spec.flags.has(Flags::WRITE))
}

/// Runs one request for a client: resolve, check auth, execute. Returns the outcome and, when
/// the command ran, its table id (the caller accounts its time: see `conn`).
pub fn execute(ctx: &mut Ctx<'_>, args: &[Bytes]) -> (Outcome, Option<usize>) {
    let metrics = &ctx.server.metrics;
    let fail = |e: CmdError| Outcome::Ready(Reply::Error(e.to_resp_text()));
    let (entry, depth) = match table().resolve_hinted(args, ctx.client.info.last_command()) {
        Ok(found) => found,
        Err(e) => {
            metrics.count_error();
            // A command refused while queuing dooms the transaction.
            ctx.client.multi_failed |= ctx.client.multi.is_some();
            return (fail(e), None);
        }
    };
    if !ctx.client.authenticated && !entry.spec.flags.has(Flags::NO_AUTH) {
        metrics.command(entry.id).rejected();
        metrics.count_error();
        ctx.client.multi_failed |= ctx.client.multi.is_some();
        return (fail(CmdError::NoAuth), None);
    }
    if ctx.client.protocol == crate::resp::Protocol::Resp2
        && ctx.client.pubsub.subscribed()
        && !pubsub::allowed_while_subscribed(&entry.full_name)
    {
        metrics.command(entry.id).rejected();
        metrics.count_error();
        return (
            fail(CmdError::Other(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                entry.full_name
            ))),
            None,
        );
    }
    if ctx.client.multi.is_some() && !args.first().is_some_and(|n| txn::runs_inside_multi(n)) {
        let reply = txn::queue(ctx, entry.spec.flags, args);
        return (Outcome::Ready(reply), None);
    }
    ctx.client.info.set_last_command(entry.id);
    let Some(handler) = entry.spec.handler else {
        return (fail(CmdError::WrongArity(entry.full_name.clone())), None);
    };
    let mut cursor = ArgCursor::new(args, depth);
    let outcome = match (handler.conn)(ctx, &mut cursor) {
        Ok(outcome) => outcome,
        Err(e) => fail(e),
    };
    if ctx.client.pubsub.tracking.is_some() && entry.spec.flags.has(Flags::READONLY) {
        client::track_read(ctx, entry.spec, args);
    }
    if matches!(&outcome, Outcome::Ready(r) if r.is_error()) {
        metrics.count_error();
    }
    (outcome, Some(entry.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect()
    }

    #[test]
    fn resolve_checks_existence_then_arity() {
        let t = table();
        assert_eq!(t.resolve(&args(&["PiNg"])).unwrap().0.full_name, "ping");
        assert_eq!(
            t.resolve(&args(&["echo"])).unwrap_err(),
            CmdError::WrongArity("echo".into())
        );
        assert_eq!(
            t.resolve(&args(&["config"])).unwrap_err(),
            CmdError::WrongArity("config".into())
        );
        assert_eq!(
            t.resolve(&args(&["config", "get"])).unwrap_err(),
            CmdError::WrongArity("config|get".into())
        );
        assert!(matches!(
            t.resolve(&args(&["config", "nope"])).unwrap_err(),
            CmdError::UnknownSubcommand { .. }
        ));
        let (e, depth) = t.resolve(&args(&["COMMAND", "count"])).unwrap();
        assert_eq!((e.full_name.as_str(), depth), ("command|count", 2));
        let (e, depth) = t.resolve(&args(&["command"])).unwrap();
        assert_eq!((e.full_name.as_str(), depth), ("command", 1));
    }

    #[test]
    fn a_hint_is_only_taken_when_it_names_the_command() {
        let t = table();
        let get = t.resolve(&args(&["get", "k"])).unwrap().0.id;
        let config_get = t.resolve(&args(&["config", "get", "x"])).unwrap().0.id;
        for hint in [None, Some(get), Some(config_get), Some(usize::MAX)] {
            let found = |a: &[&str]| {
                t.resolve_hinted(&args(a), hint)
                    .map(|(e, _)| e.full_name.clone())
            };
            assert_eq!(found(&["GeT", "k"]).unwrap(), "get");
            assert_eq!(found(&["set", "k", "v"]).unwrap(), "set");
            assert_eq!(found(&["config", "get", "x"]).unwrap(), "config|get");
            assert_eq!(
                found(&["get"]).unwrap_err(),
                CmdError::WrongArity("get".into())
            );
            assert!(found(&["gets", "k"]).is_err());
        }
    }

    #[test]
    fn key_positions() {
        let spec = CommandSpec {
            keys: KeyPositions {
                first: 1,
                last: -1,
                step: 2,
            },
            ..*t_spec()
        };
        assert_eq!(spec.key_indexes(6), vec![1, 3, 5]);
        assert_eq!(t_spec().key_indexes(3), Vec::<usize>::new());
    }

    fn t_spec() -> &'static CommandSpec {
        &COMMANDS[0]
    }
}
