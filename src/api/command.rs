//! Commands over HTTP (the Upstash REST convention): requests turned into argument lists, run
//! through `cmd::execute` in a one-request session, replies turned into JSON.
//!
//! Replies keep RESP2's shapes, as `@upstash/redis` expects: strings as JSON strings (every
//! string at every depth base64-encoded when the request says `Upstash-Encoding: base64`),
//! integers as numbers, nil as null, maps as flat arrays, doubles as strings, booleans as 1/0.
//! A failed command answers 400 `{"error": "ERR …"}`; inside `/pipeline` and `/multi-exec`
//! each command has its own `{"result"}` or `{"error"}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes as Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

use super::{auth, json_response, ApiError, AppState};
use crate::cmd::{self, Ctx, Outcome};
use crate::conn::state::{ClientInfo, ClientState};
use crate::resp::reply::{bulk_items, format_double};
use crate::resp::Reply;
use crate::server::Shared;

/// Commands that need a connection of their own, which a request/response exchange is not.
const CONNECTION_ONLY: &[&str] = &[
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "monitor",
    "hello",
    "sync",
    "psync",
];

const NOPERM: &str = "NOPERM this token can only run commands that change nothing";

/// May a read-only token run this command? Reads yes; writes and administration no.
fn read_only_allows(args: &[Bytes]) -> bool {
    cmd::table().resolve(args).is_ok_and(|(e, _)| {
        let flags = e.spec.flags;
        !flags.has(cmd::Flags::WRITE) && !flags.has(cmd::Flags::ADMIN)
    })
}

/// A client for the length of one request: registered like a connection (CLIENT LIST,
/// maxclients), gone when dropped.
pub struct Session {
    shared: Arc<Shared>,
    state: ClientState,
    /// Opened with the read-only token: commands that write or administer are refused.
    read_only: bool,
}

impl Session {
    pub fn open(shared: &Arc<Shared>, peer: SocketAddr, read_only: bool) -> Option<Session> {
        let max = shared.config().maxclients;
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let info: Arc<ClientInfo> = shared.clients.register(peer, local, -1, max)?;
        let (mailbox, _inbox) = crate::bus::mailbox::Mailbox::new(info.clone());
        info.set_mailbox(&mailbox);
        // The token was checked at the door: the session starts authenticated.
        let state = ClientState::new(info, true, mailbox);
        Some(Session {
            shared: shared.clone(),
            state,
            read_only,
        })
    }

    /// Runs one command to its reply.
    pub async fn run(&mut self, args: &[Bytes]) -> Reply {
        let name = args
            .first()
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .unwrap_or_default();
        if self.read_only && !read_only_allows(args) {
            return Reply::Error(NOPERM.into());
        }
        if CONNECTION_ONLY.contains(&name.as_str()) {
            return Reply::Error(format!(
                "ERR '{name}' needs a connection of its own: use RESP, or /subscribe/<channel> \
                 for subscriptions"
            ));
        }
        let started = std::time::Instant::now();
        self.state.clock_ms.set(0);
        let (outcome, id) = {
            let mut ctx = Ctx {
                server: &self.shared,
                client: &mut self.state,
            };
            cmd::execute(&mut ctx, args)
        };
        let waited = !matches!(outcome, Outcome::Ready(_));
        let reply = match outcome {
            Outcome::Ready(reply) => reply,
            Outcome::Pending(rx) => rx
                .await
                .unwrap_or_else(|_| Reply::Error("ERR server is shutting down".into())),
            Outcome::Queued => self.state.replies.next().await,
            Outcome::Blocked(wait) => blocked(wait).await,
        };
        // The next command reads what this one wrote.
        self.state.snapshot = None;
        let metrics = &self.shared.metrics;
        crate::metrics::Metrics::add(&metrics.commands_processed, 1);
        if waited && reply.is_error() {
            // `execute` counted the immediate errors; a write's is known only now.
            metrics.count_error();
        }
        if let Some(id) = id {
            let failed = matches!(reply, Reply::Error(_));
            metrics.command(id).called(started.elapsed(), 1, failed);
        }
        reply
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        crate::cmd::txn::unwatch_all(&mut Ctx {
            server: &self.shared,
            client: &mut self.state,
        });
        self.shared.clients.unregister(self.state.info.id);
    }
}

/// The longest a blocking pop may wait inside an HTTP request.
pub const BLOCK_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A blocking pop over HTTP: served at once if it can be; else it waits up to its timeout,
/// or `BLOCK_LIMIT` at most, and leaves the waiters' queue when it stops waiting, so nothing is
/// popped for a request that is gone.
async fn blocked(wait: crate::cmd::blocking::BlockedWait) -> Reply {
    let shutting = || Reply::Error("ERR server is shutting down".into());
    let first = wait.first.await.unwrap_or_else(|_| shutting());
    let id = wait.waiter.load(std::sync::atomic::Ordering::SeqCst);
    if id == 0 {
        return first;
    }
    let limit = wait.timeout.map_or(BLOCK_LIMIT, |t| t.min(BLOCK_LIMIT));
    let mut reply = wait.reply;
    if let Ok(served) = tokio::time::timeout(limit, &mut reply).await {
        return served.unwrap_or_else(|_| shutting());
    }
    if !wait.waiters.cancel(id) {
        // Served just as the wait ended: the reply is on its way.
        return reply.await.unwrap_or_else(|_| shutting());
    }
    if wait.timeout.is_none_or(|t| t > BLOCK_LIMIT) {
        return Reply::Error(format!(
            "ERR blocking commands wait at most {} seconds over HTTP: use RESP for longer waits",
            BLOCK_LIMIT.as_secs()
        ));
    }
    Reply::NilArray
}

/// Decodes `%XX` escapes (and leaves everything else as it is).
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// One command from a JSON array: strings as their bytes, numbers as their JSON text,
/// booleans as `true`/`false`.
fn args_of(value: &Value) -> Result<Vec<Bytes>, String> {
    let Value::Array(items) = value else {
        return Err("ERR a command is a JSON array of strings".into());
    };
    if items.is_empty() {
        return Err("ERR empty command".into());
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(Bytes::copy_from_slice(s.as_bytes())),
            Value::Number(n) => Ok(Bytes::from(n.to_string())),
            Value::Bool(b) => Ok(Bytes::from(b.to_string())),
            _ => Err(format!(
                "ERR command arguments must be strings, numbers or booleans, not {item}"
            )),
        })
        .collect()
}

/// A reply as JSON (`base64`: every string encoded).
pub fn to_json(reply: &Reply, base64: bool) -> Result<Value, String> {
    let text = |b: &[u8]| {
        if base64 {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        } else {
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
    };
    let list = |items: &[Reply]| -> Result<Value, String> {
        items
            .iter()
            .map(|r| to_json(r, base64))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    };
    let pairs = |pairs: &[(Reply, Reply)]| -> Result<Value, String> {
        let mut out = Vec::with_capacity(pairs.len() * 2);
        for (k, v) in pairs {
            out.push(to_json(k, base64)?);
            out.push(to_json(v, base64)?);
        }
        Ok(Value::Array(out))
    };
    Ok(match reply {
        Reply::Status(s) => text(s.as_bytes()),
        Reply::StatusOwned(s) => text(s.as_bytes()),
        Reply::Error(e) => return Err(e.clone()),
        Reply::Int(n) => Value::from(*n),
        Reply::Bulk(b) | Reply::Verbatim(b) => text(b),
        Reply::Nil | Reply::NilArray => Value::Null,
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) | Reply::Frames(items) => {
            list(items)?
        }
        Reply::Map(p) | Reply::Pairs(p) => pairs(p)?,
        Reply::Bulks { body, .. } => Value::Array(bulk_items(body).map(text).collect()),
        Reply::Double(d) => text(format_double(*d).as_bytes()),
        Reply::Bool(b) => Value::from(i64::from(*b)),
    })
}

/// `{"result": …}` or `{"error": …}`.
fn outcome_json(reply: &Reply, base64: bool) -> (bool, Value) {
    match to_json(reply, base64) {
        Ok(v) => (true, serde_json::json!({ "result": v })),
        Err(e) => (false, serde_json::json!({ "error": e })),
    }
}

fn wants_base64(headers: &HeaderMap) -> bool {
    headers
        .get("upstash-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("base64"))
}

/// The checks every request starts with: the token, then room for one more client.
fn admit(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    peer: SocketAddr,
) -> Result<Session, ApiError> {
    let read_only = check_token(state, headers, uri)? == auth::Access::ReadOnly;
    Session::open(&state.shared, peer, read_only).ok_or_else(max_clients)
}

/// The request's access; 401 when it has none.
pub fn check_token(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<auth::Access, ApiError> {
    let (requirepass, readonly) = {
        let config = state.shared.config();
        (
            config.requirepass.clone(),
            config.http_readonly_token.clone(),
        )
    };
    match auth::access(&requirepass, &readonly, headers, uri) {
        auth::Access::Denied => Err(ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized")),
        access => Ok(access),
    }
}

pub fn max_clients() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ERR max number of clients reached",
    )
}

/// A command request past the door: its session (token checked, client registered), whether
/// replies are base64, its URI and body. Every command endpoint takes one.
pub struct Admitted {
    pub session: Session,
    pub base64: bool,
    pub uri: Uri,
    pub body: Body,
}

impl axum::extract::FromRequest<AppState> for Admitted {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let (mut parts, body) = request.into_parts();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
        let session =
            admit(state, &parts.headers, &parts.uri, peer).map_err(IntoResponse::into_response)?;
        let base64 = wants_base64(&parts.headers);
        let uri = std::mem::take(&mut parts.uri);
        let request = axum::extract::Request::from_parts(parts, body);
        let body = Body::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Admitted {
            session,
            base64,
            uri,
            body,
        })
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("ERR the body is not JSON: {e}")))
}

/// Runs one command and answers it (200, or 400 for a command error).
async fn answer(mut session: Session, args: &[Bytes], base64: bool) -> Response {
    let reply = session.run(args).await;
    let (ok, body) = outcome_json(&reply, base64);
    let status = match &reply {
        _ if ok => StatusCode::OK,
        Reply::Error(e) if e.starts_with("NOPERM") => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    json_response(status, body)
}

/// `POST /` with `["SET", "k", "v"]`.
pub async fn single(request: Admitted) -> Result<Response, ApiError> {
    let args = args_of(&parse_body(&request.body)?).map_err(ApiError::bad_request)?;
    Ok(answer(request.session, &args, request.base64).await)
}

/// The commands of a `/pipeline` or `/multi-exec` body.
fn commands_of(value: &Value) -> Result<Vec<Vec<Bytes>>, String> {
    let Value::Array(commands) = value else {
        return Err("ERR the body must be a JSON array of commands".into());
    };
    if commands.is_empty() {
        return Err("ERR no commands".into());
    }
    commands.iter().map(args_of).collect()
}

/// `POST /pipeline` with `[["SET","a","1"],["INCR","a"]]`: run in order, not atomic; one
/// result or error per command.
pub async fn pipeline(request: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        mut session,
        base64,
        body,
        ..
    } = request;
    let commands = commands_of(&parse_body(&body)?).map_err(ApiError::bad_request)?;
    let mut out = Vec::with_capacity(commands.len());
    for args in &commands {
        let reply = session.run(args).await;
        out.push(outcome_json(&reply, base64).1);
    }
    Ok(json_response(StatusCode::OK, Value::Array(out)))
}

/// `POST /multi-exec`: the commands as one MULTI/EXEC transaction (one WAL record).
pub async fn multi_exec(request: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        mut session,
        base64,
        body,
        ..
    } = request;
    let commands = commands_of(&parse_body(&body)?).map_err(ApiError::bad_request)?;
    if session.read_only && !commands.iter().all(|c| read_only_allows(c)) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, NOPERM));
    }
    session.run(&[Bytes::from_static(b"MULTI")]).await;
    for args in &commands {
        let queued = session.run(args).await;
        if let Reply::Error(_) = queued {
            // EXEC will answer EXECABORT; nothing runs.
            continue;
        }
    }
    match session.run(&[Bytes::from_static(b"EXEC")]).await {
        Reply::Array(replies) => Ok(json_response(
            StatusCode::OK,
            Value::Array(replies.iter().map(|r| outcome_json(r, base64).1).collect()),
        )),
        Reply::Error(e) => Err(ApiError::bad_request(e)),
        other => Err(ApiError::bad_request(format!(
            "ERR the transaction was not run: {other:?}"
        ))),
    }
}

/// `GET|POST /<cmd>/<arg>/…`: URL-decoded path segments, a request body as the last argument.
pub async fn path_form(request: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        session,
        base64,
        uri,
        body,
    } = request;
    let mut args: Vec<Bytes> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| Bytes::from(percent_decode(s.as_bytes())))
        .collect();
    if !body.is_empty() {
        args.push(body);
    }
    if args.is_empty() {
        return Err(ApiError::bad_request("ERR no command"));
    }
    Ok(answer(session, &args, base64).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_keep_resp2_shapes() {
        let reply = Reply::Array(vec![
            Reply::bulk("a"),
            Reply::Int(5),
            Reply::Nil,
            Reply::Map(vec![(Reply::bulk("f"), Reply::Double(1.5))]),
            Reply::Bool(true),
        ]);
        assert_eq!(
            to_json(&reply, false).unwrap().to_string(),
            r#"["a",5,null,["f","1.5"],1]"#
        );
        assert_eq!(
            to_json(&reply, true).unwrap().to_string(),
            r#"["YQ==",5,null,["Zg==","MS41"],1]"#
        );
        assert_eq!(
            to_json(&Reply::Error("ERR x".into()), true),
            Err("ERR x".into())
        );
    }

    #[test]
    fn arguments_from_json() {
        let v: Value = serde_json::from_str(r#"["set","k",1.5e+21,true,0.1]"#).unwrap();
        let args = args_of(&v).unwrap();
        assert_eq!(args[2], Bytes::from("1.5e+21"));
        assert_eq!(args[3], Bytes::from("true"));
        assert_eq!(args[4], Bytes::from("0.1"));
        assert!(args_of(&serde_json::from_str(r#"["set",null]"#).unwrap()).is_err());
        assert!(args_of(&serde_json::from_str(r#"{"a":1}"#).unwrap()).is_err());
        assert!(args_of(&serde_json::from_str("[]").unwrap()).is_err());
        assert_eq!(percent_decode(b"a%20b%2Fc%ff%zz%4"), b"a b/c\xff%zz%4");
    }
}
