//! CLIENT subcommands: ID SETNAME GETNAME SETINFO INFO LIST KILL REPLY NO-EVICT NO-TOUCH HELP.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use super::args::is_keyword;
use super::server::{help_reply, no_args_command};
use super::{table, ArgCursor, CmdError, Command, Ctx};
use crate::bus::tracking::TrackingMode;
use crate::conn::state::{AfterReply, ClientInfo, ReplyMode};
use crate::conn::{self, pubsub::CachingHint};
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

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
pub struct ClientTracking {
    on: bool,
    redirect: Option<i64>,
    prefixes: Vec<Bytes>,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
}

impl Command for ClientTracking {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let mut t = ClientTracking {
            on: on_off(args)?,
            redirect: None,
            prefixes: Vec::new(),
            bcast: false,
            optin: false,
            optout: false,
            noloop: false,
        };
        while !args.is_empty() {
            if args.eat("REDIRECT") {
                t.redirect = Some(args.next_i64()?);
            } else if args.eat("PREFIX") {
                t.prefixes.push(Bytes::copy_from_slice(args.next_bytes()?));
            } else if args.eat("BCAST") {
                t.bcast = true;
            } else if args.eat("OPTIN") {
                t.optin = true;
            } else if args.eat("OPTOUT") {
                t.optout = true;
            } else if args.eat("NOLOOP") {
                t.noloop = true;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(t)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let bus = ctx.server.engine.bus.clone();
        let id = ctx.client.info.id;
        if !self.on {
            if ctx.client.pubsub.tracking.take().is_some() {
                bus.tracking.disable(id);
            }
            return Ok(OK);
        }
        // The redirect target is checked first, as Redis does while parsing.
        let target = match self.redirect.filter(|r| *r != 0) {
            None => ctx.client.pubsub.mailbox.clone(),
            Some(r) => u64::try_from(r)
                .ok()
                .and_then(|r| {
                    ctx.server
                        .clients
                        .snapshot()
                        .into_iter()
                        .find(|c| c.id == r)
                })
                .and_then(|c| c.mailbox())
                .ok_or_else(|| {
                    CmdError::err("The client ID you want redirect to does not exist")
                })?,
        };
        if !self.prefixes.is_empty() && !self.bcast {
            return Err(CmdError::err(
                "PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if self.optin && self.optout {
            return Err(CmdError::err("You can't use both OPTIN and OPTOUT"));
        }
        if self.bcast && (self.optin || self.optout) {
            return Err(CmdError::err(
                "OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if let Some(current) = &ctx.client.pubsub.tracking {
            if current.mode.bcast.is_some() != self.bcast {
                return Err(CmdError::err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
            }
            if current.mode.optin != self.optin || current.mode.optout != self.optout {
                return Err(CmdError::err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
            }
        }
        let mode = TrackingMode {
            redirect: if target.id() == id { 0 } else { target.id() },
            target,
            bcast: self.bcast.then_some(self.prefixes),
            optin: self.optin,
            optout: self.optout,
            noloop: self.noloop,
        };
        bus.tracking.enable(id, mode.clone());
        ctx.client.pubsub.tracking = Some(conn::pubsub::ClientTracking {
            mode,
            caching: CachingHint::None,
        });
        Ok(OK)
    }
}

/// `CLIENT CACHING YES|NO`: whether the next command's reads are tracked (OPTIN / OPTOUT).
pub struct ClientCaching(bool);

impl Command for ClientCaching {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        args.next_choice(&[("YES", true), ("NO", false)])
            .map(ClientCaching)
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let Some(t) = ctx
            .client
            .pubsub
            .tracking
            .as_mut()
            .filter(|t| t.mode.optin || t.mode.optout)
        else {
            return Err(CmdError::err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
        };
        if self.0 && !t.mode.optin {
            return Err(CmdError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
        if !self.0 && !t.mode.optout {
            return Err(CmdError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
        t.caching = if self.0 {
            CachingHint::Yes
        } else {
            CachingHint::No
        };
        Ok(OK)
    }
}

no_args_command!(
    /// `CLIENT GETREDIR`: -1 when not tracking, 0 without a redirect, else the target id.
    ClientGetRedir,
    |ctx| Ok(Reply::Int(match &ctx.client.pubsub.tracking {
        None => -1,
        Some(t) => t.mode.redirect as i64,
    }))
);

no_args_command!(
    /// `CLIENT TRACKINGINFO`
    ClientTrackingInfo,
    |ctx| {
        let t = ctx.client.pubsub.tracking.as_ref();
        let mut flags = Vec::new();
        let mut prefixes = Vec::new();
        match t {
            None => flags.push("off"),
            Some(t) => {
                flags.push("on");
                if let Some(p) = &t.mode.bcast {
                    flags.push("bcast");
                    prefixes = p.iter().cloned().map(Reply::Bulk).collect();
                }
                if t.mode.optin {
                    flags.push("optin");
                    if t.caching == CachingHint::Yes {
                        flags.push("caching-yes");
                    }
                }
                if t.mode.optout {
                    flags.push("optout");
                    if t.caching == CachingHint::No {
                        flags.push("caching-no");
                    }
                }
                if t.mode.noloop {
                    flags.push("noloop");
                }
            }
        }
        let redirect = t.map_or(-1, |t| t.mode.redirect as i64);
        Ok(Reply::Map(vec![
            (
                Reply::bulk_str("flags"),
                Reply::Set(flags.into_iter().map(Reply::bulk_str).collect()),
            ),
            (Reply::bulk_str("redirect"), Reply::Int(redirect)),
            (Reply::bulk_str("prefixes"), Reply::Array(prefixes)),
        ]))
    }
);

/// Remembers the keys a read command of a tracking client read (default mode; OPTIN only
/// after CLIENT CACHING YES, OPTOUT unless CLIENT CACHING NO). The hint lasts one command.
pub fn track_read(ctx: &mut Ctx<'_>, spec: &super::CommandSpec, args: &[Bytes]) {
    let Some(t) = ctx.client.pubsub.tracking.as_mut() else {
        return;
    };
    let hint = std::mem::replace(&mut t.caching, CachingHint::None);
    if t.mode.bcast.is_some()
        || (t.mode.optin && hint != CachingHint::Yes)
        || (t.mode.optout && hint == CachingHint::No)
    {
        return;
    }
    let keys = spec.key_indexes(args.len());
    ctx.server
        .engine
        .bus
        .tracking
        .remember(ctx.client.info.id, keys.iter().filter_map(|&i| args.get(i)));
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
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
        ],
    ))
);
