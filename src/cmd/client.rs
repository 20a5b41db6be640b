//! CLIENT subcommands: ID SETNAME GETNAME SETINFO INFO LIST KILL REPLY NO-EVICT NO-TOUCH HELP.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use super::args::is_keyword;
use super::server::{help_reply, no_args_command};
use super::{table, ArgCursor, CmdError, Command, Ctx};
use crate::conn::state::{AfterReply, ClientInfo, ReplyMode};
use crate::resp::{Reply, OK};
use crate::server::Shared;

/// Client names and library attributes are printable ASCII without spaces, as in Redis.
fn is_valid_attr(value: &[u8]) -> bool {
    value.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn validate_name(name: &[u8]) -> Result<(), CmdError> {
    if is_valid_attr(name) {
        Ok(())
    } else {
        Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

no_args_command!(
    /// `CLIENT ID`
    ClientId,
    |ctx| Ok(Reply::Int(ctx.client.info.id as i64))
);

/// `CLIENT SETNAME name` (an empty name removes it)
pub struct ClientSetName(Bytes);

impl Command for ClientSetName {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(ClientSetName(args.next_bytes()?.clone()))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        validate_name(&self.0)?;
        ctx.client
            .info
            .set_name((!self.0.is_empty()).then_some(self.0));
        Ok(OK)
    }
}

no_args_command!(
    /// `CLIENT GETNAME`
    ClientGetName,
    |ctx| Ok(ctx.client.info.name().map_or(Reply::Nil, Reply::Bulk))
);

/// `CLIENT SETINFO LIB-NAME name | LIB-VER version`
pub struct ClientSetInfo {
    is_name: bool,
    attr: String,
    value: Bytes,
}

impl Command for ClientSetInfo {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let attr = args.next_bytes()?;
        let is_name = if is_keyword(attr, "LIB-NAME") {
            true
        } else if is_keyword(attr, "LIB-VER") {
            false
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized option '{}'",
                String::from_utf8_lossy(attr)
            )));
        };
        let attr = String::from_utf8_lossy(attr).into_owned();
        Ok(ClientSetInfo {
            is_name,
            attr,
            value: args.next_bytes()?.clone(),
        })
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        if !is_valid_attr(&self.value) {
            return Err(CmdError::err(format!(
                "{} cannot contain spaces, newlines or special characters.",
                self.attr
            )));
        }
        if self.is_name {
            ctx.client.info.set_lib_name(self.value);
        } else {
            ctx.client.info.set_lib_ver(self.value);
        }
        Ok(OK)
    }
}

/// One CLIENT LIST / CLIENT INFO line, with Redis's fields.
pub fn client_line(shared: &Shared, info: &ClientInfo) -> String {
    let text = |b: Option<Bytes>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
    let cmd = info
        .last_command()
        .and_then(|id| table().entries.get(id))
        .map_or("NULL", |e| e.full_name.as_str());
    let _ = shared;
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 \
         multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
         omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        info.id,
        info.addr,
        info.laddr,
        info.fd,
        text(info.name()).unwrap_or_default(),
        info.created.elapsed().as_secs(),
        info.idle_secs(),
        info.db(),
        cmd,
        info.proto(),
        text(info.lib_name()).unwrap_or_default(),
        text(info.lib_ver()).unwrap_or_default(),
    )
}

no_args_command!(
    /// `CLIENT INFO`
    ClientInfoCmd,
    |ctx| Ok(Reply::Verbatim(Bytes::from(client_line(ctx.server, &ctx.client.info) + "\n")))
);

/// `CLIENT LIST [TYPE type] [ID id ...]`
pub struct ClientList {
    kind: Option<String>,
    ids: Vec<u64>,
}

const CLIENT_TYPES: [&str; 5] = ["normal", "master", "replica", "slave", "pubsub"];

fn parse_client_type(arg: &[u8]) -> Result<String, CmdError> {
    let lower = String::from_utf8_lossy(arg).to_ascii_lowercase();
    if CLIENT_TYPES.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(CmdError::err(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(arg)
        )))
    }
}

fn parse_client_id(arg: &[u8]) -> Result<u64, CmdError> {
    crate::resp::codec::parse_i64(arg)
        .filter(|&id| id > 0)
        .map(|id| id as u64)
        .ok_or_else(|| CmdError::err("Invalid client ID"))
}

impl Command for ClientList {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut list = ClientList {
            kind: None,
            ids: Vec::new(),
        };
        while !args.is_empty() {
            if args.eat("TYPE") {
                list.kind = Some(parse_client_type(args.next_bytes()?)?);
            } else if args.eat("ID") {
                if args.is_empty() {
                    return Err(CmdError::Syntax);
                }
                for id in args.rest() {
                    list.ids.push(parse_client_id(id)?);
                }
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(list)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let mut out = String::new();
        for info in ctx.server.clients.snapshot() {
            // Every client is a normal one until pub/sub and replication exist.
            let type_ok = self.kind.as_deref().is_none_or(|k| k == "normal");
            if type_ok && (self.ids.is_empty() || self.ids.contains(&info.id)) {
                out.push_str(&client_line(ctx.server, &info));
                out.push('\n');
            }
        }
        Ok(Reply::Verbatim(Bytes::from(out)))
    }
}

/// `CLIENT KILL addr` (old form) or `CLIENT KILL <filter> <value> ...`
pub enum ClientKill {
    Addr(String),
    Filters(KillFilters),
}

#[derive(Default)]
pub struct KillFilters {
    id: Option<u64>,
    kind: Option<String>,
    user: Option<String>,
    addr: Option<String>,
    laddr: Option<String>,
    skip_me: bool,
    max_age: Option<u64>,
}

impl KillFilters {
    fn matches(&self, info: &ClientInfo, me: u64) -> bool {
        let addr_is = |want: &Option<String>, have: SocketAddr| {
            want.as_ref().is_none_or(|w| *w == have.to_string())
        };
        !(self.skip_me && info.id == me)
            && self.id.is_none_or(|id| id == info.id)
            && self.kind.as_deref().is_none_or(|k| k == "normal")
            && self.user.as_deref().is_none_or(|u| u == "default")
            && addr_is(&self.addr, info.addr)
            && addr_is(&self.laddr, info.laddr)
            && self
                .max_age
                .is_none_or(|age| info.created.elapsed().as_secs() >= age)
    }
}

impl Command for ClientKill {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        if args.remaining() == 1 {
            return Ok(ClientKill::Addr(args.next_string()?));
        }
        if !args.remaining().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        let mut f = KillFilters {
            skip_me: true,
            ..Default::default()
        };
        while !args.is_empty() {
            let name = args.next_bytes()?;
            let value = args.next_bytes()?;
            let text = String::from_utf8_lossy(value).into_owned();
            if is_keyword(name, "ID") {
                f.id = Some(
                    parse_client_id(value)
                        .map_err(|_| CmdError::err("client-id should be greater than 0"))?,
                );
            } else if is_keyword(name, "TYPE") {
                f.kind = Some(parse_client_type(value)?);
            } else if is_keyword(name, "USER") {
                f.user = Some(text);
            } else if is_keyword(name, "ADDR") {
                f.addr = Some(text);
            } else if is_keyword(name, "LADDR") {
                f.laddr = Some(text);
            } else if is_keyword(name, "SKIPME") {
                f.skip_me = match text.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CmdError::Syntax),
                };
            } else if is_keyword(name, "MAXAGE") {
                let age = crate::resp::codec::parse_i64(value).ok_or(CmdError::NotInteger)?;
                f.max_age = Some(age.max(0) as u64);
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(ClientKill::Filters(f))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let me = ctx.client.info.id;
        let clients = ctx.server.clients.snapshot();
        let victims: Vec<&Arc<ClientInfo>> = match &self {
            ClientKill::Addr(addr) => clients
                .iter()
                .filter(|c| c.addr.to_string() == *addr)
                .collect(),
            ClientKill::Filters(f) => clients.iter().filter(|c| f.matches(c, me)).collect(),
        };
        for victim in &victims {
            if victim.id == me {
                ctx.client.after_reply = AfterReply::Close;
            } else {
                victim.kill();
            }
        }
        match self {
            ClientKill::Addr(_) if victims.is_empty() => Err(CmdError::err("No such client")),
            ClientKill::Addr(_) => Ok(OK),
            ClientKill::Filters(_) => Ok(Reply::Int(victims.len() as i64)),
        }
    }
}

/// `CLIENT REPLY ON | OFF | SKIP`
pub struct ClientReply(ReplyMode);

impl Command for ClientReply {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        args.next_choice(&[
            ("ON", ReplyMode::On),
            ("OFF", ReplyMode::Off),
            ("SKIP", ReplyMode::SkipNext),
        ])
        .map(ClientReply)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        // OFF and SKIP send no reply: the mode set here already silences this one.
        if !(self.0 == ReplyMode::SkipNext && ctx.client.reply_mode == ReplyMode::Off) {
            ctx.client.reply_mode = self.0;
        }
        Ok(OK)
    }
}

fn on_off(args: &mut ArgCursor<'_>) -> Result<bool, CmdError> {
    args.next_choice(&[("ON", true), ("OFF", false)])
}

/// `CLIENT NO-EVICT ON | OFF`
pub struct ClientNoEvict(bool);

impl Command for ClientNoEvict {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        on_off(args).map(ClientNoEvict)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.client.no_evict = self.0;
        Ok(OK)
    }
}

/// `CLIENT NO-TOUCH ON | OFF`
pub struct ClientNoTouch(bool);

impl Command for ClientNoTouch {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        on_off(args).map(ClientNoTouch)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        ctx.client.no_touch = self.0;
        Ok(OK)
    }
}

no_args_command!(
    /// `CLIENT HELP`
    ClientHelp,
    |_ctx| Ok(help_reply(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME, MAXAGE.",
            "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
            "    Return information about client connections.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        ],
    ))
);
