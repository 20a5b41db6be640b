//! Test harness: starts Luma on 127.0.0.1:0 with a temporary data folder, and gives tests real
//! clients: the `redis` crate (RESP2 and RESP3) and a raw socket that sees the exact bytes.

#![allow(dead_code)]

pub mod replies;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use luma::{Config, ServerHandle, StartOptions};

/// A Luma server running in this process, serving on a free loopback port.
pub struct TestServer {
    handle: Option<ServerHandle>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with(|_| {})
    }

    /// Starts with the default settings changed by `edit`.
    pub fn with(edit: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.port = 0;
        config.dir = dir.path().join("data");
        edit(&mut config);
        let handle = luma::start(config, StartOptions::default()).expect("server starts");
        let addr = handle.addr();
        TestServer {
            handle: Some(handle),
            addr,
            dir,
        }
    }

    /// The HTTP API's address.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.handle
            .as_ref()
            .and_then(|h| h.http_addr())
            .expect("the HTTP API is on")
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A RESP2 connection through the `redis` crate.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// A RESP3 connection through the `redis` crate (it sends `HELLO 3` first).
    pub fn conn3(&self) -> redis::Connection {
        redis::Client::open(format!("{}?protocol=resp3", self.url()))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.addr)
    }

    pub fn shared(&self) -> &luma::server::Shared {
        self.handle.as_ref().unwrap().shared()
    }

    /// Stops the server and waits for it.
    pub fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }

    /// Waits for the server to stop by itself (e.g. after SHUTDOWN).
    pub fn wait(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.wait();
        }
    }
}

/// A plain TCP client that sends bytes and reads whole RESP replies as bytes.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a command as a RESP multibulk and returns its reply's bytes.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode_command(args));
        self.read_reply()
    }

    /// Like `cmd`, with the reply as text.
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        String::from_utf8_lossy(&self.cmd(&args)).into_owned()
    }

    /// Reads exactly one complete reply.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(len) = frame_len(&self.buf) {
                return self.buf.drain(..len).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("reply before timeout");
            assert!(
                n > 0,
                "connection closed while waiting for a reply; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One complete reply, or `None` once the connection fails or closes.
    pub fn try_read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(len) = frame_len(&self.buf) {
                return Some(self.buf.drain(..len).collect());
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// True if the server closes the connection (reads EOF) within the timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    pub fn set_timeout(&self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }
}

pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if it is complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&buf[1..line_end]).ok()?;
    let after = line_end + 2;
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = header.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = header.parse().ok()?;
            let items = if matches!(buf[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items.max(0) {
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => panic!("not a RESP frame: {:?}", String::from_utf8_lossy(buf)),
    }
}

/// The text of a server error returned through the `redis` crate (`ERR …`, `NOAUTH …`).
pub fn error_text(err: &redis::RedisError) -> String {
    match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => err.to_string(),
    }
}

/// Runs a command through the `redis` crate, expecting an error; returns its text.
pub fn expect_err(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<redis::Value>(con) {
        Err(e) => error_text(&e),
        Ok(v) => panic!("expected an error from {args:?}, got {v:?}"),
    }
}

pub fn query(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}
