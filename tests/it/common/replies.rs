//! Exact RESP reply bytes the tests compare with, and small readers of replies.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

pub const OK: &str = "+OK\r\n";
pub const NIL2: &str = "$-1\r\n";
pub const NIL3: &str = "_\r\n";
pub const EMPTY: &str = "$0\r\n\r\n";
pub const SYNTAX: &str = "-ERR syntax error\r\n";
pub const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
pub const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
pub const OUT_OF_RANGE: &str = "-ERR DB index is out of range\r\n";
pub const SAME_OBJECT: &str = "-ERR source and destination objects are the same\r\n";

/// A bulk string reply's bytes.
pub fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

pub fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

pub fn err(msg: &str) -> String {
    format!("-{msg}\r\n")
}

/// The number of an integer reply.
pub fn int_of(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An array reply of already-encoded items.
pub fn arr(items: &[String]) -> String {
    format!("*{}\r\n{}", items.len(), items.concat())
}

/// An array reply of bulk strings.
pub fn bulks(items: &[&str]) -> String {
    arr(&items.iter().map(|s| bulk(s)).collect::<Vec<_>>())
}

pub const WRONGTYPE: &str =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
pub const NIL_ARRAY2: &str = "*-1\r\n";
pub const EMPTY_ARRAY: &str = "*0\r\n";
