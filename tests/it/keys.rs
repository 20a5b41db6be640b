//! Keyspace commands, checked against Redis's exact replies (raw bytes) and error texts.

use std::time::{Duration, Instant};

use redis::Value;

use crate::common::replies::*;
use crate::common::{query, RawClient, TestServer};

/// The sorted keys of a KEYS reply.
fn keys(c: &mut RawClient, pattern: &str) -> Vec<String> {
    let reply = c.cmd(&[b"KEYS", pattern.as_bytes()]);
    let value = redis::parse_redis_value(&reply).unwrap();
    let Value::Array(items) = value else {
        panic!("KEYS is an array: {value:?}")
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|v| match v {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("KEYS item is a bulk string: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------- DEL / UNLINK / EXISTS / TOUCH / TYPE

#[test]
fn del_counts_removed_keys() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2", "c", "3"]), OK);
    assert_eq!(c.cmd_str(&["DEL", "a", "b", "missing"]), int(2));
    assert_eq!(c.cmd_str(&["DEL", "a"]), int(0));
    // A key named twice is removed once.
    assert_eq!(c.cmd_str(&["DEL", "c", "c"]), int(1));
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(
        c.cmd_str(&["DEL"]),
        err("ERR wrong number of arguments for 'del' command")
    );
}

#[test]
fn unlink_counts_removed_keys() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), OK);
    assert_eq!(c.cmd_str(&["UNLINK", "a", "b", "x"]), int(2));
    assert_eq!(c.cmd_str(&["EXISTS", "a", "b"]), int(0));
    assert_eq!(
        c.cmd_str(&["UNLINK"]),
        err("ERR wrong number of arguments for 'unlink' command")
    );
}

#[test]
fn exists_counts_a_repeated_key_each_time() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "1"]), OK);
    assert_eq!(c.cmd_str(&["SET", "b", "2"]), OK);
    assert_eq!(c.cmd_str(&["EXISTS", "a"]), int(1));
    assert_eq!(c.cmd_str(&["EXISTS", "nope"]), int(0));
    assert_eq!(c.cmd_str(&["EXISTS", "a", "a", "a"]), int(3));
    assert_eq!(c.cmd_str(&["EXISTS", "a", "b", "nope", "b"]), int(3));
    assert_eq!(
        c.cmd_str(&["EXISTS"]),
        err("ERR wrong number of arguments for 'exists' command")
    );
}

#[test]
fn touch_counts_existing_keys() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), OK);
    assert_eq!(c.cmd_str(&["TOUCH", "a", "b", "c"]), int(2));
    assert_eq!(c.cmd_str(&["TOUCH", "a", "a"]), int(2));
    assert_eq!(c.cmd_str(&["TOUCH", "c"]), int(0));
}

#[test]
fn type_of_string_and_missing_keys() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "s", "v"]), OK);
    assert_eq!(c.cmd_str(&["TYPE", "s"]), "+string\r\n");
    assert_eq!(c.cmd_str(&["TYPE", "nope"]), "+none\r\n");
    let mut con3 = server.conn3();
    assert_eq!(
        query(&mut con3, &["TYPE", "s"]),
        Value::SimpleString("string".into())
    );
}

// ---------------------------------------------------------------- EXPIRE family / TTL

#[test]
fn ttl_and_pttl_of_missing_persistent_and_volatile_keys() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["TTL", "nope"]), int(-2));
    assert_eq!(c.cmd_str(&["PTTL", "nope"]), int(-2));
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd_str(&["PTTL", "k"]), int(-1));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100"]), int(1));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    let pttl = int_of(&c.cmd_str(&["PTTL", "k"]));
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
}

#[test]
fn ttl_rounds_to_the_nearest_second() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "PX", "1700"]), OK);
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(2));
}

#[test]
fn expire_and_pexpire_set_a_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["EXPIRE", "nope", "100"]), int(0));
    assert_eq!(c.cmd_str(&["PEXPIRE", "nope", "100"]), int(0));
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["PEXPIRE", "k", "100000"]), int(1));
    let pttl = int_of(&c.cmd_str(&["PTTL", "k"]));
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd_str(&["expire", "k", "200"]), int(1));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((199..=200).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
}

#[test]
fn expire_with_zero_or_negative_time_deletes_the_key() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]),
        OK
    );
    assert_eq!(c.cmd_str(&["EXPIRE", "a", "-1"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIRE", "b", "0"]), int(1));
    assert_eq!(c.cmd_str(&["PEXPIRE", "c", "-100"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIREAT", "d", "1"]), int(1));
    for k in ["a", "b", "c", "d"] {
        assert_eq!(c.cmd_str(&["EXISTS", k]), int(0), "{k}");
        assert_eq!(c.cmd_str(&["GET", k]), NIL2, "{k}");
        assert_eq!(c.cmd_str(&["TTL", k]), int(-2), "{k}");
    }
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["EXPIRE", "a", "-1"]), int(0));
}

#[test]
fn expireat_and_pexpireat_with_expiretime() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["EXPIRETIME", "nope"]), int(-2));
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "nope"]), int(-2));
    assert_eq!(c.cmd_str(&["SET", "mykey", "Hello"]), OK);
    assert_eq!(c.cmd_str(&["EXPIRETIME", "mykey"]), int(-1));
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "mykey"]), int(-1));
    assert_eq!(c.cmd_str(&["EXPIREAT", "mykey", "33177117420"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIRETIME", "mykey"]), int(33177117420));
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "mykey"]), int(33177117420000));
    let at = now_ms() + 500_000;
    assert_eq!(c.cmd_str(&["PEXPIREAT", "mykey", &at.to_string()]), int(1));
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "mykey"]), int(at));
    let ttl = int_of(&c.cmd_str(&["TTL", "mykey"]));
    assert!((499..=500).contains(&ttl), "{ttl}");
}

#[test]
fn expiretime_rounds_to_the_nearest_second() {
    // Redis answers EXPIRETIME with (deadline_ms + 500) / 1000.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["PEXPIREAT", "k", "33177117420600"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIRETIME", "k"]), int(33177117421));
    assert_eq!(c.cmd_str(&["PEXPIREAT", "k", "33177117420400"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIRETIME", "k"]), int(33177117420));
}

#[test]
fn expire_argument_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "abc"]), NOT_INT);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "1.5"]), NOT_INT);
    assert_eq!(
        c.cmd_str(&["PEXPIREAT", "k", "9223372036854775808"]),
        NOT_INT
    );
    assert_eq!(
        c.cmd_str(&["EXPIRE", "k", "10", "FOO"]),
        err("ERR Unsupported option FOO")
    );
    assert_eq!(
        c.cmd_str(&["EXPIRE", "k", "9223372036854775807"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        c.cmd_str(&["EXPIREAT", "k", "-9223372036854775807"]),
        err("ERR invalid expire time in 'expireat' command")
    );
    assert_eq!(
        c.cmd_str(&["PEXPIRE", "k", "9223372036854775807"]),
        err("ERR invalid expire time in 'pexpire' command")
    );
    assert_eq!(
        c.cmd_str(&["EXPIRE", "k"]),
        err("ERR wrong number of arguments for 'expire' command")
    );
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

#[test]
fn expire_overflow_is_an_error_even_for_a_missing_key() {
    // Redis checks the time for overflow before it looks the key up.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["EXPIRE", "nope", "9223372036854775807"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        c.cmd_str(&["PEXPIRE", "nope", "9223372036854775807"]),
        err("ERR invalid expire time in 'pexpire' command")
    );
}

#[test]
fn expire_option_conflicts() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    let nx = err("ERR NX and XX, GT or LT options at the same time are not compatible");
    let gt_lt = err("ERR GT and LT options at the same time are not compatible");
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "10", "NX", "XX"]), nx);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "10", "XX", "NX"]), nx);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "10", "NX", "GT"]), nx);
    assert_eq!(c.cmd_str(&["PEXPIRE", "k", "10", "LT", "NX"]), nx);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "10", "GT", "LT"]), gt_lt);
    assert_eq!(c.cmd_str(&["EXPIREAT", "k", "10", "lt", "gt"]), gt_lt);
    // Conflicting options are refused even for a missing key.
    assert_eq!(c.cmd_str(&["EXPIRE", "nope", "10", "NX", "XX"]), nx);
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

#[test]
fn expire_nx_and_xx() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "XX"]), int(0));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "NX"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "200", "NX"]), int(0));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "200", "xx"]), int(1));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((199..=200).contains(&ttl), "{ttl}");
}

#[test]
fn expire_gt_and_lt() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    // No TTL counts as an infinite one: GT fails, LT succeeds.
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "GT"]), int(0));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "LT"]), int(1));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "50", "GT"]), int(0));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "200", "GT"]), int(1));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((199..=200).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "300", "LT"]), int(0));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "150", "LT"]), int(1));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((149..=150).contains(&ttl), "{ttl}");
    // XX combined with GT.
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "160", "XX", "GT"]), int(1));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "GT", "XX"]), int(0));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((159..=160).contains(&ttl), "{ttl}");
}

#[test]
fn expire_xx_lt_needs_an_existing_ttl() {
    // XX fails on a key without a TTL, whatever LT would say.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "XX", "LT"]), int(0));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100", "LT", "XX"]), int(0));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

#[test]
fn persist_removes_the_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["PERSIST", "nope"]), int(0));
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["PERSIST", "k"]), int(0));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100"]), int(1));
    assert_eq!(c.cmd_str(&["PERSIST", "k"]), int(1));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd_str(&["PERSIST", "k"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
}

#[test]
fn expired_keys_disappear() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "PX", "50"]), OK);
    assert_eq!(c.cmd_str(&["PSETEX", "p", "50", "v"]), OK);
    assert_eq!(c.cmd_str(&["SET", "stay", "v"]), OK);
    std::thread::sleep(Duration::from_millis(150));
    for k in ["k", "p"] {
        assert_eq!(c.cmd_str(&["GET", k]), NIL2, "{k}");
        assert_eq!(c.cmd_str(&["EXISTS", k]), int(0), "{k}");
        assert_eq!(c.cmd_str(&["TTL", k]), int(-2), "{k}");
        assert_eq!(c.cmd_str(&["PTTL", k]), int(-2), "{k}");
        assert_eq!(c.cmd_str(&["TYPE", k]), "+none\r\n", "{k}");
        assert_eq!(c.cmd_str(&["STRLEN", k]), int(0), "{k}");
    }
    assert_eq!(
        c.cmd_str(&["MGET", "k", "p", "stay"]),
        "*3\r\n$-1\r\n$-1\r\n$1\r\nv\r\n"
    );
    assert_eq!(keys(&mut c, "*"), ["stay"]);
}

#[test]
fn expired_keys_are_removed_actively() {
    // Nobody touches the keys: the server's periodic expiry removes them, so DBSIZE drops.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "v", "PX", "50"]), OK);
    assert_eq!(c.cmd_str(&["SET", "b", "v", "PX", "50"]), OK);
    assert_eq!(c.cmd_str(&["SET", "stay", "v"]), OK);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let size = c.cmd_str(&["DBSIZE"]);
        if size == int(1) {
            break;
        }
        assert!(Instant::now() < deadline, "DBSIZE still {size:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_key_can_be_recreated_after_it_expired() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "old", "PX", "20"]), OK);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.cmd_str(&["SETNX", "k", "new"]), int(1));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("new"));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

// ---------------------------------------------------------------- KEYS

#[test]
fn keys_matches_glob_patterns() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&[
            "MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1",
            "other", "1"
        ]),
        OK
    );
    assert_eq!(keys(&mut c, "h?llo"), ["hallo", "hello", "hxllo"]);
    assert_eq!(
        keys(&mut c, "h*llo"),
        ["hallo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(keys(&mut c, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h[^e]llo"), ["hallo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[a-b]llo"), ["hallo"]);
    assert_eq!(keys(&mut c, "*").len(), 6);
    assert_eq!(keys(&mut c, "o*"), ["other"]);
    assert!(keys(&mut c, "nomatch*").is_empty());
    assert_eq!(c.cmd_str(&["KEYS", "zzz"]), "*0\r\n");
}

#[test]
fn keys_escapes_special_characters() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a*b", "1", "axb", "1"]), OK);
    assert_eq!(keys(&mut c, "a\\*b"), ["a*b"]);
    assert_eq!(keys(&mut c, "a*b"), ["a*b", "axb"]);
}

#[test]
fn keys_only_sees_the_selected_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "zero", "v"]), OK);
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(c.cmd_str(&["SET", "one", "v"]), OK);
    assert_eq!(keys(&mut c, "*"), ["one"]);
}

// ---------------------------------------------------------------- RENAME / RENAMENX

#[test]
fn rename_moves_the_value() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "v"]), OK);
    assert_eq!(c.cmd_str(&["RENAME", "a", "b"]), OK);
    assert_eq!(c.cmd_str(&["EXISTS", "a"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "b"]), bulk("v"));
    // Overwrites an existing destination, and its TTL.
    assert_eq!(c.cmd_str(&["SET", "c", "old", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["RENAME", "b", "c"]), OK);
    assert_eq!(c.cmd_str(&["GET", "c"]), bulk("v"));
    assert_eq!(c.cmd_str(&["TTL", "c"]), int(-1));
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(1));
}

#[test]
fn rename_of_a_missing_key_is_an_error() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["RENAME", "nope", "b"]), err("ERR no such key"));
    assert_eq!(
        c.cmd_str(&["RENAME", "nope", "nope"]),
        err("ERR no such key")
    );
    assert_eq!(
        c.cmd_str(&["RENAMENX", "nope", "b"]),
        err("ERR no such key")
    );
    assert_eq!(c.cmd_str(&["EXISTS", "b"]), int(0));
}

#[test]
fn rename_keeps_the_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "v", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["RENAME", "a", "b"]), OK);
    let ttl = int_of(&c.cmd_str(&["TTL", "b"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

#[test]
fn rename_to_itself() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "v", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["RENAME", "a", "a"]), OK);
    assert_eq!(c.cmd_str(&["GET", "a"]), bulk("v"));
    let ttl = int_of(&c.cmd_str(&["TTL", "a"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd_str(&["RENAMENX", "a", "a"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "a"]), bulk("v"));
}

#[test]
fn renamenx_only_to_a_missing_key() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), OK);
    assert_eq!(c.cmd_str(&["RENAMENX", "a", "b"]), int(0));
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(c.cmd_str(&["RENAMENX", "a", "c"]), int(1));
    assert_eq!(c.cmd_str(&["EXISTS", "a"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "c"]), bulk("1"));
}

// ---------------------------------------------------------------- COPY

#[test]
fn copy_within_a_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["COPY", "nope", "b"]), int(0));
    assert_eq!(c.cmd_str(&["SET", "a", "v", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["COPY", "a", "b"]), int(1));
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$1\r\nv\r\n$1\r\nv\r\n"
    );
    // The TTL is copied too.
    let ttl = int_of(&c.cmd_str(&["TTL", "b"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    // An existing destination needs REPLACE.
    assert_eq!(c.cmd_str(&["SET", "c", "old"]), OK);
    assert_eq!(c.cmd_str(&["COPY", "a", "c"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "c"]), bulk("old"));
    assert_eq!(c.cmd_str(&["COPY", "a", "c", "REPLACE"]), int(1));
    assert_eq!(c.cmd_str(&["GET", "c"]), bulk("v"));
    // Changing the copy leaves the source alone.
    assert_eq!(c.cmd_str(&["APPEND", "b", "x"]), int(2));
    assert_eq!(c.cmd_str(&["GET", "a"]), bulk("v"));
}

#[test]
fn copy_to_another_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "v"]), OK);
    assert_eq!(c.cmd_str(&["COPY", "a", "a", "DB", "1"]), int(1));
    assert_eq!(c.cmd_str(&["COPY", "a", "b", "db", "1"]), int(1));
    assert_eq!(c.cmd_str(&["SET", "a", "changed"]), OK);
    assert_eq!(c.cmd_str(&["COPY", "a", "a", "DB", "1"]), int(0));
    assert_eq!(c.cmd_str(&["COPY", "a", "a", "REPLACE", "DB", "1"]), int(1));
    assert_eq!(c.cmd_str(&["EXISTS", "b"]), int(0));
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$7\r\nchanged\r\n$1\r\nv\r\n"
    );
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(2));
}

#[test]
fn copy_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "v"]), OK);
    assert_eq!(c.cmd_str(&["COPY", "a", "a"]), SAME_OBJECT);
    assert_eq!(c.cmd_str(&["COPY", "a", "a", "DB", "0"]), SAME_OBJECT);
    assert_eq!(c.cmd_str(&["COPY", "a", "a", "REPLACE"]), SAME_OBJECT);
    assert_eq!(c.cmd_str(&["COPY", "a", "b", "DB", "16"]), OUT_OF_RANGE);
    assert_eq!(c.cmd_str(&["COPY", "a", "b", "DB", "-1"]), OUT_OF_RANGE);
    assert_eq!(c.cmd_str(&["COPY", "a", "b", "DB", "x"]), NOT_INT);
    assert_eq!(c.cmd_str(&["COPY", "a", "b", "DB"]), SYNTAX);
    assert_eq!(c.cmd_str(&["COPY", "a", "b", "BOGUS"]), SYNTAX);
    assert_eq!(
        c.cmd_str(&["COPY", "a"]),
        err("ERR wrong number of arguments for 'copy' command")
    );
    assert_eq!(c.cmd_str(&["EXISTS", "b"]), int(0));
}

// ---------------------------------------------------------------- MOVE

#[test]
fn move_to_another_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["MOVE", "k", "1"]), int(1));
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd_str(&["MOVE", "k", "1"]), int(0));
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

#[test]
fn move_refuses_an_existing_target_key() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SELECT", "2"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "there"]), OK);
    assert_eq!(c.cmd_str(&["SELECT", "0"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "here"]), OK);
    assert_eq!(c.cmd_str(&["MOVE", "k", "2"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("here"));
    assert_eq!(c.cmd_str(&["SELECT", "2"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("there"));
}

#[test]
fn move_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["MOVE", "k", "0"]), SAME_OBJECT);
    assert_eq!(c.cmd_str(&["MOVE", "nope", "0"]), SAME_OBJECT);
    assert_eq!(c.cmd_str(&["MOVE", "k", "16"]), OUT_OF_RANGE);
    assert_eq!(c.cmd_str(&["MOVE", "k", "-1"]), OUT_OF_RANGE);
    assert_eq!(c.cmd_str(&["MOVE", "k", "one"]), NOT_INT);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
}

// ---------------------------------------------------------------- SWAPDB

#[test]
fn swapdb_swaps_contents_for_every_connection() {
    let server = TestServer::start();
    let mut c0 = server.raw();
    let mut c1 = server.raw();
    assert_eq!(c0.cmd_str(&["SET", "k", "zero"]), OK);
    assert_eq!(c0.cmd_str(&["SET", "only0", "x"]), OK);
    assert_eq!(c1.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(c1.cmd_str(&["SET", "k", "one"]), OK);
    assert_eq!(c0.cmd_str(&["SWAPDB", "0", "1"]), OK);
    assert_eq!(c0.cmd_str(&["GET", "k"]), bulk("one"));
    assert_eq!(c0.cmd_str(&["DBSIZE"]), int(1));
    // The other connection stays on index 1 and now sees the old database 0.
    assert_eq!(c1.cmd_str(&["GET", "k"]), bulk("zero"));
    assert_eq!(c1.cmd_str(&["GET", "only0"]), bulk("x"));
    assert_eq!(c1.cmd_str(&["DBSIZE"]), int(2));
    // Swapping a database with itself changes nothing.
    assert_eq!(c0.cmd_str(&["SWAPDB", "0", "0"]), OK);
    assert_eq!(c0.cmd_str(&["GET", "k"]), bulk("one"));
}

#[test]
fn swapdb_keeps_ttls() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["SWAPDB", "0", "3"]), OK);
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd_str(&["SELECT", "3"]), OK);
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

#[test]
fn swapdb_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SWAPDB", "0", "16"]), OUT_OF_RANGE);
    assert_eq!(c.cmd_str(&["SWAPDB", "-1", "0"]), OUT_OF_RANGE);
    assert_eq!(
        c.cmd_str(&["SWAPDB", "abc", "0"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        c.cmd_str(&["SWAPDB", "0", "abc"]),
        err("ERR invalid second DB index")
    );
    assert_eq!(
        c.cmd_str(&["SWAPDB", "0"]),
        err("ERR wrong number of arguments for 'swapdb' command")
    );
}

#[test]
fn swapdb_parses_both_indexes_before_range_checks() {
    // Redis reads both indexes as integers first, then checks their range.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["SWAPDB", "99", "abc"]),
        err("ERR invalid second DB index")
    );
}

// ---------------------------------------------------------------- SELECT / DBSIZE / FLUSH*

#[test]
fn dbsize_is_per_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2", "c", "3"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(3));
    assert_eq!(c.cmd_str(&["SELECT", "5"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "a"]), NIL2);
    assert_eq!(c.cmd_str(&["SET", "a", "five"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(1));
    assert_eq!(c.cmd_str(&["SELECT", "0"]), OK);
    assert_eq!(c.cmd_str(&["GET", "a"]), bulk("1"));
    assert_eq!(c.cmd_str(&["DEL", "a"]), int(1));
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(2));
    assert_eq!(
        c.cmd_str(&["DBSIZE", "x"]),
        err("ERR wrong number of arguments for 'dbsize' command")
    );
}

#[test]
fn flushdb_empties_only_the_current_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), OK);
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(c.cmd_str(&["SET", "c", "3"]), OK);
    assert_eq!(c.cmd_str(&["FLUSHDB"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["SELECT", "0"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(2));
    assert_eq!(c.cmd_str(&["FLUSHDB", "ASYNC"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["SET", "d", "4"]), OK);
    assert_eq!(c.cmd_str(&["flushdb", "sync"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["FLUSHDB", "BOGUS"]), SYNTAX);
    assert_eq!(c.cmd_str(&["FLUSHDB", "SYNC", "ASYNC"]), SYNTAX);
}

#[test]
fn flushall_empties_every_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    for db in ["0", "1", "15"] {
        assert_eq!(c.cmd_str(&["SELECT", db]), OK);
        assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), OK);
    }
    assert_eq!(c.cmd_str(&["FLUSHALL"]), OK);
    for db in ["0", "1", "15"] {
        assert_eq!(c.cmd_str(&["SELECT", db]), OK);
        assert_eq!(c.cmd_str(&["DBSIZE"]), int(0), "db {db}");
    }
    assert_eq!(c.cmd_str(&["SET", "x", "1"]), OK);
    assert_eq!(c.cmd_str(&["FLUSHALL", "ASYNC"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["FLUSHALL", "BOGUS"]), SYNTAX);
}

#[test]
fn select_switches_the_keyspace() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "zero"]), OK);
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), NIL2);
    assert_eq!(c.cmd_str(&["SET", "k", "one"]), OK);
    assert_eq!(c.cmd_str(&["SELECT", "0"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("zero"));
    // Another connection starts on database 0.
    assert_eq!(server.raw().cmd_str(&["GET", "k"]), bulk("zero"));
    assert_eq!(c.cmd_str(&["SELECT", "16"]), OUT_OF_RANGE);
    assert_eq!(c.cmd_str(&["SELECT", "abc"]), NOT_INT);
}
