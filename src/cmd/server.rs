//! Connection and server commands: PING ECHO QUIT RESET SELECT AUTH HELLO INFO CONFIG COMMAND
//! TIME LASTSAVE SHUTDOWN CLUSTER MODULE.

use bytes::Bytes;

use super::args::is_keyword;
use super::errors::{CmdError, AUTH_NOT_CONFIGURED, NOAUTH_HELLO};
use super::{table, ArgCursor, Command, Ctx, Entry};
use crate::config::ConfigError;
use crate::conn::state::{AfterReply, ReplyMode};
use crate::resp::{Protocol, Reply, OK};
use crate::server::REDIS_COMPAT_VERSION;

pub use super::client::*;
pub use super::info::Info;

/// `PING [message]`
pub struct Ping(Option<Bytes>);

impl Command for Ping {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let message = if args.is_empty() {
            None
        } else {
            Some(args.next_bytes()?.clone())
        };
        args.finish()
            .map_err(|_| CmdError::WrongArity("ping".into()))?;
        Ok(Ping(message))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        // A subscribed RESP2 connection can only take pub/sub frames: PING answers as one.
        if ctx.client.protocol == Protocol::Resp2 && ctx.client.pubsub.subscribed() {
            return Ok(Reply::Array(vec![
                Reply::bulk_str("pong"),
                Reply::Bulk(self.0.unwrap_or_default()),
            ]));
        }
        Ok(match self.0 {
            None => Reply::Status("PONG"),
            Some(message) => Reply::Bulk(message),
        })
    }
}

/// `ECHO message`
pub struct Echo(Bytes);

impl Command for Echo {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Echo(args.next_bytes()?.clone()))
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(Reply::Bulk(self.0))
    }
}

/// `QUIT`: reply OK, then close.
pub struct Quit;

impl Command for Quit {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        args.rest();
        Ok(Quit)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.client.after_reply = AfterReply::Close;
        Ok(OK)
    }
}

/// `RESET`: back to a fresh connection's state.
pub struct Reset;

impl Command for Reset {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Reset)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        super::txn::unwatch_all(ctx);
        ctx.client.pubsub.leave_all(&ctx.server.engine.bus);
        let client = &mut *ctx.client;
        client.multi = None;
        client.multi_failed = false;
        client.set_protocol(Protocol::Resp2);
        client.select(0);
        client.reply_mode = ReplyMode::On;
        client.no_evict = false;
        client.no_touch = false;
        client.user = "default".into();
        client.authenticated = ctx.server.config().requirepass.is_empty();
        Ok(Reply::Status("RESET"))
    }
}

/// `SELECT index`
pub struct Select(i64);

impl Command for Select {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Select(args.next_i64()?))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let databases = i64::from(ctx.server.engine.databases());
        if !(0..databases).contains(&self.0) {
            return Err(CmdError::DbIndexOutOfRange);
        }
        ctx.client.select(self.0 as u32);
        Ok(OK)
    }
}

/// Checks credentials against the default user (the only user until ACLs exist).
fn authenticate(ctx: &mut Ctx<'_>, user: Option<&Bytes>, pass: &Bytes) -> Result<(), CmdError> {
    let requirepass = ctx.server.config().requirepass.clone();
    let ok = match user {
        None if requirepass.is_empty() => {
            return Err(CmdError::Other(AUTH_NOT_CONFIGURED.into()));
        }
        None => pass[..] == *requirepass.as_bytes(),
        Some(u) if is_keyword(u, "default") => {
            // With no password set the default user is `nopass`: any password is accepted.
            requirepass.is_empty() || pass[..] == *requirepass.as_bytes()
        }
        Some(_) => false,
    };
    if !ok {
        return Err(CmdError::WrongPass);
    }
    ctx.client.authenticated = true;
    ctx.client.user = "default".into();
    Ok(())
}

/// `AUTH [username] password`
pub struct Auth {
    user: Option<Bytes>,
    pass: Bytes,
}

impl Command for Auth {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        match args.remaining() {
            1 => Ok(Auth {
                user: None,
                pass: args.next_bytes()?.clone(),
            }),
            2 => {
                let user = Some(args.next_bytes()?.clone());
                Ok(Auth {
                    user,
                    pass: args.next_bytes()?.clone(),
                })
            }
            _ => Err(CmdError::Syntax),
        }
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        authenticate(ctx, self.user.as_ref(), &self.pass)?;
        Ok(OK)
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
pub struct Hello {
    version: Option<i64>,
    auth: Option<(Bytes, Bytes)>,
    setname: Option<Bytes>,
}

impl Command for Hello {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut hello = Hello {
            version: None,
            auth: None,
            setname: None,
        };
        if args.is_empty() {
            return Ok(hello);
        }
        hello.version =
            Some(args.next_i64().map_err(|_| {
                CmdError::err("Protocol version is not an integer or out of range")
            })?);
        while !args.is_empty() {
            let option = args.next_bytes()?;
            let syntax = || {
                CmdError::err(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                ))
            };
            if is_keyword(option, "AUTH") && args.remaining() >= 2 {
                let user = args.next_bytes()?.clone();
                hello.auth = Some((user, args.next_bytes()?.clone()));
            } else if is_keyword(option, "SETNAME") && !args.is_empty() {
                hello.setname = Some(args.next_bytes()?.clone());
            } else {
                return Err(syntax());
            }
        }
        Ok(hello)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let protocol = match self.version {
            None => ctx.client.protocol,
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => {
                return Err(CmdError::Other(
                    "NOPROTO unsupported protocol version".into(),
                ))
            }
        };
        if let Some((user, pass)) = &self.auth {
            authenticate(ctx, Some(user), pass)?;
        }
        if !ctx.client.authenticated {
            return Err(CmdError::Other(NOAUTH_HELLO.into()));
        }
        if let Some(name) = &self.setname {
            super::client::validate_name(name)?;
            ctx.client
                .info
                .set_name((!name.is_empty()).then(|| name.clone()));
        }
        ctx.client.set_protocol(protocol);
        let modules = crate::cmd::server::loaded_modules();
        Ok(Reply::Map(vec![
            (Reply::bulk_str("server"), Reply::bulk_str("redis")),
            (
                Reply::bulk_str("version"),
                Reply::bulk_str(REDIS_COMPAT_VERSION),
            ),
            (Reply::bulk_str("proto"), Reply::Int(protocol.number())),
            (Reply::bulk_str("id"), Reply::Int(ctx.client.info.id as i64)),
            (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
            (Reply::bulk_str("role"), Reply::bulk_str("master")),
            (Reply::bulk_str("modules"), modules),
        ]))
    }
}

/// Shared by HELP subcommands: Redis's `addReplyHelp` layout.
pub fn help_reply(container: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::StatusOwned(format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    out.extend(lines.iter().map(|l| Reply::StatusOwned(l.to_string())));
    out.push(Reply::Status("HELP"));
    out.push(Reply::Status("    Print this help."));
    Reply::Array(out)
}

/// Defines a command that takes no arguments beyond its name.
macro_rules! no_args_command {
    ($(#[$doc:meta])* $name:ident, |$ctx:ident| $body:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl Command for $name {
            fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
                Ok($name)
            }

            fn exec(self, $ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
                $body
            }
        }
    };
}
pub(crate) use no_args_command;

/// `CONFIG GET pattern [pattern ...]`
pub struct ConfigGet(Vec<Bytes>);

impl Command for ConfigGet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ConfigGet(args.rest().to_vec()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let patterns: Vec<&[u8]> = self.0.iter().map(|p| &p[..]).collect();
        let pairs = ctx.server.config().matching(&patterns);
        Ok(Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::bulk_str(k), Reply::bulk(v)))
                .collect(),
        ))
    }
}

/// `CONFIG SET parameter value [parameter value ...]`
pub struct ConfigSet(Vec<(String, String)>);

impl Command for ConfigSet {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        if !args.remaining().is_multiple_of(2) {
            return Err(CmdError::WrongArity("config|set".into()));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        while !args.is_empty() {
            let name = args.next_string()?.to_ascii_lowercase();
            let value = args.next_string()?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(CmdError::err(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - duplicate \
                     parameter"
                )));
            }
            pairs.push((name, value));
        }
        Ok(ConfigSet(pairs))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.server
            .set_config(&self.0)
            .map_err(|(name, e)| match e {
                ConfigError::Unknown(_) => CmdError::err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                )),
                other => CmdError::err(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - {other}"
                )),
            })?;
        Ok(OK)
    }
}

no_args_command!(
    /// `CONFIG RESETSTAT`
    ConfigResetStat,
    |ctx| {
        ctx.server.metrics.reset();
        Ok(OK)
    }
);

no_args_command!(
    /// `CONFIG REWRITE`: writes the effective settings back into the config file.
    ConfigRewrite,
    |ctx| {
        let config = ctx.server.config().clone();
        let Some(path) = config.config_file.clone() else {
            return Err(CmdError::err("The server is running without a config file"));
        };
        crate::config::rewrite_file(&config, &path)
            .map_err(|e| CmdError::err(format!("Rewriting config file: {e}")))?;
        Ok(OK)
    }
);

no_args_command!(
    /// `CONFIG HELP`
    ConfigHelp,
    |_ctx| Ok(help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
);

/// COMMAND's reply for one command (Redis 7 layout, ten fields).
fn command_info(entry: &Entry) -> Reply {
    let spec = entry.spec;
    let t = table();
    let mut categories: Vec<&'static str> = Vec::new();
    let flags = spec.flags;
    use super::Flags;
    if flags.has(Flags::WRITE) {
        categories.push("@write");
    }
    if flags.has(Flags::READONLY) {
        categories.push("@read");
    }
    if flags.has(Flags::ADMIN) {
        categories.extend(["@admin", "@dangerous"]);
    }
    categories.push(if flags.has(Flags::FAST) {
        "@fast"
    } else {
        "@slow"
    });
    if spec.group == "connection" {
        categories.push("@connection");
    }
    if spec.keys.first > 0 {
        categories.push("@keyspace");
    }
    Reply::Array(vec![
        Reply::bulk(entry.full_name.clone()),
        Reply::Int(i64::from(spec.arity)),
        Reply::Set(flags.names().map(Reply::Status).collect()),
        Reply::Int(i64::from(spec.keys.first)),
        Reply::Int(i64::from(spec.keys.last)),
        Reply::Int(i64::from(spec.keys.step)),
        Reply::Set(categories.into_iter().map(Reply::Status).collect()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(
            entry
                .subcommands
                .iter()
                .map(|&i| command_info(&t.entries[i]))
                .collect(),
        ),
    ])
}

/// COMMAND DOCS's map for one command.
fn command_docs(entry: &Entry) -> Reply {
    let spec = entry.spec;
    let mut fields = vec![
        (Reply::bulk_str("summary"), Reply::bulk_str(spec.summary)),
        (Reply::bulk_str("since"), Reply::bulk_str(spec.since)),
        (Reply::bulk_str("group"), Reply::bulk_str(spec.group)),
    ];
    if !entry.subcommands.is_empty() {
        let t = table();
        let subs = entry
            .subcommands
            .iter()
            .map(|&i| {
                (
                    Reply::bulk(t.entries[i].full_name.clone()),
                    command_docs(&t.entries[i]),
                )
            })
            .collect();
        fields.push((Reply::bulk_str("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(fields)
}

no_args_command!(
    /// `COMMAND`
    CommandAll,
    |_ctx| Ok(Reply::Array(table().top_level().map(command_info).collect()))
);

no_args_command!(
    /// `COMMAND COUNT`
    CommandCount,
    |_ctx| Ok(Reply::Int(table().top_level().count() as i64))
);

/// `COMMAND INFO [command-name ...]`
pub struct CommandInfo(Vec<Bytes>);

impl Command for CommandInfo {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(CommandInfo(args.rest().to_vec()))
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let t = table();
        if self.0.is_empty() {
            return Ok(Reply::Array(t.top_level().map(command_info).collect()));
        }
        Ok(Reply::Array(
            self.0
                .iter()
                .map(|name| lookup_full(name).map_or(Reply::NilArray, command_info))
                .collect(),
        ))
    }
}

/// Finds `get` or `config|get`.
fn lookup_full(name: &[u8]) -> Option<&'static Entry> {
    let t = table();
    let lower = name.to_ascii_lowercase();
    let text = std::str::from_utf8(&lower).ok()?;
    t.entries.iter().find(|e| e.full_name == text)
}

/// `COMMAND DOCS [command-name ...]`
pub struct CommandDocs(Vec<Bytes>);

impl Command for CommandDocs {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(CommandDocs(args.rest().to_vec()))
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let entries: Vec<&Entry> = if self.0.is_empty() {
            table().top_level().collect()
        } else {
            self.0.iter().filter_map(|n| lookup_full(n)).collect()
        };
        Ok(Reply::Map(
            entries
                .into_iter()
                .map(|e| (Reply::bulk(e.full_name.clone()), command_docs(e)))
                .collect(),
        ))
    }
}

/// `COMMAND GETKEYS command [arg ...]`
pub struct CommandGetKeys(Vec<Bytes>);

impl Command for CommandGetKeys {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(CommandGetKeys(args.rest().to_vec()))
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let (entry, _) = table().resolve(&self.0).map_err(|e| match e {
            CmdError::WrongArity(_) => {
                CmdError::err("Invalid number of arguments specified for command")
            }
            _ => CmdError::err("Invalid command specified"),
        })?;
        let keys = entry.spec.key_indexes(self.0.len());
        if keys.is_empty() {
            return Err(CmdError::err("The command has no key arguments"));
        }
        Ok(Reply::Array(
            keys.into_iter()
                .map(|i| Reply::Bulk(self.0[i].clone()))
                .collect(),
        ))
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`
pub struct CommandList(Option<(Bytes, Bytes)>);

impl Command for CommandList {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        if args.is_empty() {
            return Ok(CommandList(None));
        }
        if !args.eat("FILTERBY") || args.remaining() != 2 {
            return Err(CmdError::Syntax);
        }
        let kind = args.next_bytes()?.clone();
        Ok(CommandList(Some((kind, args.next_bytes()?.clone()))))
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let t = table();
        let names = t.entries.iter().filter(|e| match &self.0 {
            None => true,
            Some((kind, value)) if is_keyword(kind, "PATTERN") => {
                crate::bus::glob::glob_match_nocase(value, e.full_name.as_bytes())
            }
            Some((kind, value)) if is_keyword(kind, "ACLCAT") => {
                let Reply::Array(fields) = command_info(e) else {
                    return false;
                };
                matches!(&fields[6], Reply::Set(cats) if cats.iter().any(|c| matches!(c,
                    Reply::Status(s) if s.as_bytes()[1..].eq_ignore_ascii_case(value))))
            }
            Some(_) => false,
        });
        Ok(Reply::Array(
            names.map(|e| Reply::bulk(e.full_name.clone())).collect(),
        ))
    }
}

no_args_command!(
    /// `COMMAND HELP`
    CommandHelp,
    |_ctx| Ok(help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
        ],
    ))
);

no_args_command!(
    /// `TIME`
    Time,
    |_ctx| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Reply::Array(vec![
            Reply::bulk(now.as_secs().to_string()),
            Reply::bulk(now.subsec_micros().to_string()),
        ]))
    }
);

no_args_command!(
    /// `LASTSAVE`: the time of the last checkpoint.
    LastSave,
    |ctx| Ok(Reply::Int(
        ctx.server.engine.stats.last_checkpoint_unix.load(std::sync::atomic::Ordering::Relaxed)
            as i64
    ))
);

/// `SAVE`: a checkpoint, answered when it is durable (it blocks, as Redis's SAVE does).
pub struct Save;

impl Command for Save {
    fn parse(_args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Save)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Ok(ctx.server.engine.checkpoint())
    }
}

/// `BGSAVE [SCHEDULE]`: starts a checkpoint and answers at once.
pub struct BgSave;

impl Command for BgSave {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        if !args.is_empty() && !args.eat("SCHEDULE") {
            return Err(CmdError::Syntax);
        }
        args.finish()?;
        Ok(BgSave)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.server.engine.request_checkpoint();
        Ok(Reply::Status("Background saving started"))
    }
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
pub struct Shutdown {
    abort: bool,
}

impl Command for Shutdown {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut abort = false;
        while !args.is_empty() {
            let arg = args.next_bytes()?;
            if is_keyword(arg, "ABORT") {
                abort = true;
            } else if !["NOSAVE", "SAVE", "NOW", "FORCE"]
                .iter()
                .any(|k| is_keyword(arg, k))
            {
                return Err(CmdError::Syntax);
            }
        }
        Ok(Shutdown { abort })
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        if self.abort {
            return Err(CmdError::err("No shutdown in progress."));
        }
        tracing::warn!("User requested shutdown...");
        ctx.client.after_reply = AfterReply::Shutdown;
        Ok(OK)
    }
}

/// `CLUSTER <subcommand>`: Luma is a single node without cluster support.
pub struct Cluster;

impl Command for Cluster {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        args.rest();
        Ok(Cluster)
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Err(CmdError::ClusterDisabled)
    }
}

/// MODULE LIST's reply: capabilities register here as they arrive.
pub fn loaded_modules() -> Reply {
    Reply::Array(Vec::new())
}

no_args_command!(
    /// `MODULE LIST`
    ModuleList,
    |_ctx| Ok(loaded_modules())
);

/// `MODULE LOAD path [arg ...]`: Luma has no loadable modules.
pub struct ModuleLoad;

impl Command for ModuleLoad {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        args.rest();
        Ok(ModuleLoad)
    }

    fn exec(self, _ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        Err(CmdError::err(
            "Error loading the extension. Please check the server logs.",
        ))
    }
}

no_args_command!(
    /// `MODULE HELP`
    ModuleHelp,
    |_ctx| Ok(help_reply(
        "MODULE",
        &["LIST", "    Return a list of loaded modules.", "LOAD <path> [<arg> ...]",
          "    Load a module library from <path>, passing to it any optional arguments."],
    ))
);
