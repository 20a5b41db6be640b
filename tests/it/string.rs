//! String commands, checked against Redis's exact replies (raw bytes) and error texts.

use redis::Value;

use crate::common::replies::*;
use crate::common::{expect_err, query, RawClient, TestServer};

/// A raw client switched to RESP3.
fn raw3(server: &TestServer) -> RawClient {
    let mut c = server.raw();
    let hello = c.cmd_str(&["HELLO", "3"]);
    assert!(hello.starts_with('%'), "{hello}");
    c
}

// ---------------------------------------------------------------- GET / SET

#[test]
fn set_and_get_round_trip() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "hello"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("hello"));
    assert_eq!(c.cmd_str(&["SET", "k", ""]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), EMPTY);
    // Binary-safe values.
    assert_eq!(c.cmd(&[b"SET", b"bin", b"a\r\n\x00b"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"GET", b"bin"]), b"$5\r\na\r\n\x00b\r\n");
}

#[test]
fn get_missing_key_is_nil_in_resp2_and_resp3() {
    let server = TestServer::start();
    assert_eq!(server.raw().cmd_str(&["GET", "nope"]), NIL2);
    assert_eq!(raw3(&server).cmd_str(&["GET", "nope"]), NIL3);
    let mut con = server.conn();
    assert_eq!(query(&mut con, &["GET", "nope"]), Value::Nil);
    let mut con3 = server.conn3();
    assert_eq!(query(&mut con3, &["GET", "nope"]), Value::Nil);
}

#[test]
fn get_and_set_arity_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd_str(&["GET", "a", "b"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd_str(&["SET", "k"]),
        err("ERR wrong number of arguments for 'set' command")
    );
}

#[test]
fn set_nx_and_xx_conditions() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v1", "XX"]), NIL2);
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd_str(&["SET", "k", "v1", "NX"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "v2", "NX"]), NIL2);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v1"));
    assert_eq!(c.cmd_str(&["SET", "k", "v3", "XX"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v3"));
    // Options are case-insensitive.
    assert_eq!(c.cmd_str(&["set", "k", "v4", "xx"]), OK);
    assert_eq!(c.cmd_str(&["set", "k", "v5", "nx"]), NIL2);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v4"));
    // A refused SET is a null in RESP3.
    let mut c3 = raw3(&server);
    assert_eq!(c3.cmd_str(&["SET", "k", "x", "NX"]), NIL3);
}

#[test]
fn set_option_syntax_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    for args in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "KEEPTTL", "PX", "10"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "PX", "100", "EXAT", "99999999999"],
        &[
            "SET",
            "k",
            "v",
            "EXAT",
            "99999999999",
            "PXAT",
            "99999999999999",
        ],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PX"],
        &["SET", "k", "v", "BOGUS"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "10"],
    ] {
        assert_eq!(c.cmd_str(args), SYNTAX, "{args:?}");
    }
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
}

#[test]
fn set_accepts_a_repeated_option() {
    // Redis only refuses conflicting options: NX NX, GET GET, KEEPTTL KEEPTTL and EX EX are
    // accepted, the last EX winning.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "NX", "NX"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "v2", "XX", "XX"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "v3", "GET", "GET"]), bulk("v2"));
    assert_eq!(c.cmd_str(&["SET", "k", "v4", "KEEPTTL", "KEEPTTL"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "v5", "EX", "10", "EX", "1000"]), OK);
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((999..=1000).contains(&ttl), "{ttl}");
}

#[test]
fn set_syntax_error_comes_before_expire_validation() {
    // Redis parses every option before it looks at the expire value.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "EX", "0", "NX", "XX"]), SYNTAX);
    assert_eq!(c.cmd_str(&["SET", "k", "v", "EX", "abc", "BOGUS"]), SYNTAX);
}

#[test]
fn set_invalid_expire_times() {
    let server = TestServer::start();
    let mut c = server.raw();
    let invalid = err("ERR invalid expire time in 'set' command");
    for args in [
        &["SET", "k", "v", "EX", "0"][..],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "PX", "-100"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "-1"],
        // The multiplication to milliseconds would overflow.
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "EXAT", "9223372036854775807"],
        // Adding the current time would overflow.
        &["SET", "k", "v", "PX", "9223372036854775807"],
    ] {
        assert_eq!(c.cmd_str(args), invalid, "{args:?}");
    }
    for args in [
        &["SET", "k", "v", "EX", "abc"][..],
        &["SET", "k", "v", "PX", "1.5"],
        &["SET", "k", "v", "EX", "9223372036854775808"],
        &["SET", "k", "v", "EXAT", " 10"],
    ] {
        assert_eq!(c.cmd_str(args), NOT_INT, "{args:?}");
    }
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
}

#[test]
fn set_with_expire_options_sets_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "ex", "v", "EX", "100"]), OK);
    let ttl = int_of(&c.cmd_str(&["TTL", "ex"]));
    assert!((99..=100).contains(&ttl), "{ttl}");

    assert_eq!(c.cmd_str(&["SET", "px", "v", "PX", "100000"]), OK);
    let pttl = int_of(&c.cmd_str(&["PTTL", "px"]));
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");

    let at = now_ms() / 1000 + 1000;
    assert_eq!(
        c.cmd_str(&["SET", "exat", "v", "EXAT", &at.to_string()]),
        OK
    );
    assert_eq!(c.cmd_str(&["EXPIRETIME", "exat"]), int(at));
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "exat"]), int(at * 1000));

    let pat = now_ms() + 1_000_123;
    assert_eq!(
        c.cmd_str(&["SET", "pxat", "v", "PXAT", &pat.to_string()]),
        OK
    );
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "pxat"]), int(pat));

    // A plain SET clears the TTL.
    assert_eq!(c.cmd_str(&["SET", "ex", "v2"]), OK);
    assert_eq!(c.cmd_str(&["TTL", "ex"]), int(-1));
}

#[test]
fn set_exat_in_the_past_leaves_no_key() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "old"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "v", "EXAT", "1"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), NIL2);
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-2));
}

#[test]
fn set_keepttl_keeps_the_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v1", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["SET", "k", "v2", "KEEPTTL"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v2"));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    // KEEPTTL on a key without a TTL, and on a new key: no TTL.
    assert_eq!(c.cmd_str(&["SET", "p", "v"]), OK);
    assert_eq!(c.cmd_str(&["SET", "p", "v2", "KEEPTTL"]), OK);
    assert_eq!(c.cmd_str(&["TTL", "p"]), int(-1));
    assert_eq!(c.cmd_str(&["SET", "new", "v", "keepttl"]), OK);
    assert_eq!(c.cmd_str(&["TTL", "new"]), int(-1));
}

#[test]
fn set_get_returns_the_old_value() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v1", "GET"]), NIL2);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v1"));
    assert_eq!(c.cmd_str(&["SET", "k", "v2", "GET"]), bulk("v1"));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v2"));
    // NX + GET (allowed since Redis 7.0): the old value, nothing set.
    assert_eq!(c.cmd_str(&["SET", "k", "v3", "NX", "GET"]), bulk("v2"));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v2"));
    // XX + GET on a missing key: nil, nothing set.
    assert_eq!(c.cmd_str(&["SET", "m", "v", "XX", "GET"]), NIL2);
    assert_eq!(c.cmd_str(&["EXISTS", "m"]), int(0));
    // GET with an expiry.
    assert_eq!(
        c.cmd_str(&["SET", "k", "v4", "GET", "EX", "100"]),
        bulk("v2")
    );
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    // RESP3: the old value is a bulk string, a missing one a null.
    let mut c3 = raw3(&server);
    assert_eq!(c3.cmd_str(&["SET", "k", "v5", "GET"]), bulk("v4"));
    assert_eq!(c3.cmd_str(&["SET", "n", "v", "GET"]), NIL3);
}

// ---------------------------------------------------------------- SETNX / SETEX / PSETEX

#[test]
fn setnx_sets_only_missing_keys() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SETNX", "k", "v1"]), int(1));
    assert_eq!(c.cmd_str(&["SETNX", "k", "v2"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v1"));
    assert_eq!(
        c.cmd_str(&["SETNX", "k"]),
        err("ERR wrong number of arguments for 'setnx' command")
    );
}

#[test]
fn setex_and_psetex() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SETEX", "k", "100", "v"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");

    assert_eq!(c.cmd_str(&["PSETEX", "p", "100000", "v"]), OK);
    let pttl = int_of(&c.cmd_str(&["PTTL", "p"]));
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");

    assert_eq!(
        c.cmd_str(&["SETEX", "x", "0", "v"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        c.cmd_str(&["SETEX", "x", "-10", "v"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        c.cmd_str(&["PSETEX", "x", "0", "v"]),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(c.cmd_str(&["SETEX", "x", "abc", "v"]), NOT_INT);
    assert_eq!(c.cmd_str(&["PSETEX", "x", "1.5", "v"]), NOT_INT);
    assert_eq!(c.cmd_str(&["EXISTS", "x"]), int(0));
    assert_eq!(
        c.cmd_str(&["SETEX", "x", "10"]),
        err("ERR wrong number of arguments for 'setex' command")
    );
}

// ---------------------------------------------------------------- MGET / MSET / MSETNX

#[test]
fn mget_returns_nil_for_missing_keys_in_both_protocols() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "c", "3"]), OK);
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b", "c"]),
        "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n"
    );
    let mut c3 = raw3(&server);
    assert_eq!(
        c3.cmd_str(&["MGET", "a", "b", "c"]),
        "*3\r\n$1\r\n1\r\n_\r\n$1\r\n3\r\n"
    );
    let mut con = server.conn();
    assert_eq!(
        query(&mut con, &["MGET", "a", "b"]),
        Value::Array(vec![Value::BulkString(b"1".to_vec()), Value::Nil])
    );
    assert_eq!(
        c.cmd_str(&["MGET"]),
        err("ERR wrong number of arguments for 'mget' command")
    );
}

#[test]
fn mset_sets_all_and_clears_ttls() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "a", "old", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b", "2"]), OK);
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(c.cmd_str(&["TTL", "a"]), int(-1));
    // A key named twice: the last value wins.
    assert_eq!(c.cmd_str(&["MSET", "d", "x", "d", "y"]), OK);
    assert_eq!(c.cmd_str(&["GET", "d"]), bulk("y"));
}

#[test]
fn mset_with_odd_arguments_is_an_arity_error() {
    let server = TestServer::start();
    let mut c = server.raw();
    let arity = err("ERR wrong number of arguments for 'mset' command");
    assert_eq!(c.cmd_str(&["MSET", "a"]), arity);
    assert_eq!(c.cmd_str(&["MSET", "a", "1", "b"]), arity);
    assert_eq!(c.cmd_str(&["EXISTS", "a", "b"]), int(0));
    assert_eq!(
        c.cmd_str(&["MSETNX", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
}

#[test]
fn msetnx_is_all_or_nothing() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MSETNX", "a", "1", "b", "2"]), int(1));
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    // One existing key: nothing is set.
    assert_eq!(c.cmd_str(&["MSETNX", "c", "3", "a", "x"]), int(0));
    assert_eq!(c.cmd_str(&["EXISTS", "c"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "a"]), bulk("1"));
    // The same new key twice is fine.
    assert_eq!(c.cmd_str(&["MSETNX", "e", "x", "e", "y"]), int(1));
    assert_eq!(c.cmd_str(&["GET", "e"]), bulk("y"));
}

// ---------------------------------------------------------------- GETSET / GETDEL / GETEX

#[test]
fn getset_returns_old_value_and_clears_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["GETSET", "k", "v1"]), NIL2);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v1"));
    assert_eq!(c.cmd_str(&["EXPIRE", "k", "100"]), int(1));
    assert_eq!(c.cmd_str(&["GETSET", "k", "v2"]), bulk("v1"));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v2"));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

#[test]
fn getdel_returns_and_deletes() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["GETDEL", "k"]), bulk("v"));
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd_str(&["GETDEL", "k"]), NIL2);
    assert_eq!(raw3(&server).cmd_str(&["GETDEL", "k"]), NIL3);
}

#[test]
fn getex_without_options_is_a_get() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["GETEX", "k"]), NIL2);
    assert_eq!(c.cmd_str(&["SET", "k", "v", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["GETEX", "k"]), bulk("v"));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

#[test]
fn getex_sets_and_removes_ttls() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["GETEX", "k", "EX", "100"]), bulk("v"));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");

    assert_eq!(c.cmd_str(&["GETEX", "k", "PX", "200000"]), bulk("v"));
    let pttl = int_of(&c.cmd_str(&["PTTL", "k"]));
    assert!((190_000..=200_000).contains(&pttl), "{pttl}");

    let at = now_ms() / 1000 + 500;
    assert_eq!(
        c.cmd_str(&["GETEX", "k", "EXAT", &at.to_string()]),
        bulk("v")
    );
    assert_eq!(c.cmd_str(&["EXPIRETIME", "k"]), int(at));

    let pat = now_ms() + 600_000;
    assert_eq!(
        c.cmd_str(&["GETEX", "k", "pxat", &pat.to_string()]),
        bulk("v")
    );
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "k"]), int(pat));

    assert_eq!(c.cmd_str(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
}

#[test]
fn getex_exat_in_the_past_returns_the_value_and_deletes_the_key() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["GETEX", "k", "EXAT", "1"]), bulk("v"));
    assert_eq!(c.cmd_str(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "k"]), NIL2);
}

#[test]
fn getex_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["GETEX", "k", "EX", "10", "PERSIST"]), SYNTAX);
    assert_eq!(c.cmd_str(&["GETEX", "k", "PERSIST", "EX", "10"]), SYNTAX);
    assert_eq!(c.cmd_str(&["GETEX", "k", "EX", "10", "PX", "10"]), SYNTAX);
    assert_eq!(c.cmd_str(&["GETEX", "k", "EX"]), SYNTAX);
    assert_eq!(c.cmd_str(&["GETEX", "k", "KEEPTTL"]), SYNTAX);
    assert_eq!(c.cmd_str(&["GETEX", "k", "NX"]), SYNTAX);
    assert_eq!(c.cmd_str(&["GETEX", "k", "BOGUS"]), SYNTAX);
    assert_eq!(
        c.cmd_str(&["GETEX", "k", "EX", "0"]),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(
        c.cmd_str(&["GETEX", "k", "PX", "-5"]),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(c.cmd_str(&["GETEX", "k", "EX", "abc"]), NOT_INT);
    assert_eq!(
        c.cmd_str(&["GETEX"]),
        err("ERR wrong number of arguments for 'getex' command")
    );
    // Nothing changed the key.
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

#[test]
fn getex_accepts_a_repeated_option() {
    // As for SET, Redis refuses only conflicting options: EX twice is fine, the last wins.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(
        c.cmd_str(&["GETEX", "k", "EX", "10", "EX", "1000"]),
        bulk("v")
    );
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((999..=1000).contains(&ttl), "{ttl}");
    assert_eq!(c.cmd_str(&["GETEX", "k", "PERSIST", "PERSIST"]), bulk("v"));
    assert_eq!(c.cmd_str(&["TTL", "k"]), int(-1));
}

// ---------------------------------------------------------------- APPEND / STRLEN

#[test]
fn append_and_strlen() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["STRLEN", "k"]), int(0));
    assert_eq!(c.cmd_str(&["APPEND", "k", "Hello"]), int(5));
    assert_eq!(c.cmd_str(&["APPEND", "k", " World"]), int(11));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("Hello World"));
    assert_eq!(c.cmd_str(&["STRLEN", "k"]), int(11));
    assert_eq!(c.cmd_str(&["APPEND", "k", ""]), int(11));
    // APPEND of nothing to a missing key still creates it.
    assert_eq!(c.cmd_str(&["APPEND", "e", ""]), int(0));
    assert_eq!(c.cmd_str(&["EXISTS", "e"]), int(1));
    assert_eq!(c.cmd_str(&["GET", "e"]), EMPTY);
}

#[test]
fn append_keeps_the_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "a", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["APPEND", "k", "b"]), int(2));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

// ---------------------------------------------------------------- INCR family

#[test]
fn incr_decr_family() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["INCR", "n"]), int(1));
    assert_eq!(c.cmd_str(&["INCR", "n"]), int(2));
    assert_eq!(c.cmd_str(&["INCRBY", "n", "10"]), int(12));
    assert_eq!(c.cmd_str(&["INCRBY", "n", "-20"]), int(-8));
    assert_eq!(c.cmd_str(&["DECR", "n"]), int(-9));
    assert_eq!(c.cmd_str(&["DECRBY", "n", "-19"]), int(10));
    assert_eq!(c.cmd_str(&["GET", "n"]), bulk("10"));
    assert_eq!(c.cmd_str(&["DECR", "m"]), int(-1));
    assert_eq!(c.cmd_str(&["DECRBY", "o", "5"]), int(-5));
    assert_eq!(c.cmd_str(&["SET", "s", "41"]), OK);
    assert_eq!(c.cmd_str(&["INCR", "s"]), int(42));
    // An integer reply in RESP3 too.
    let mut con3 = server.conn3();
    assert_eq!(query(&mut con3, &["INCR", "s"]), Value::Int(43));
}

#[test]
fn incr_of_a_non_integer_value_fails() {
    let server = TestServer::start();
    let mut c = server.raw();
    for value in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "+1",
        "01",
        "-0",
        "",
        "9223372036854775808",
    ] {
        assert_eq!(c.cmd_str(&["SET", "k", value]), OK);
        assert_eq!(c.cmd_str(&["INCR", "k"]), NOT_INT, "{value:?}");
        assert_eq!(c.cmd_str(&["DECRBY", "k", "1"]), NOT_INT, "{value:?}");
        assert_eq!(c.cmd_str(&["GET", "k"]), bulk(value));
    }
    assert_eq!(c.cmd_str(&["INCRBY", "n", "abc"]), NOT_INT);
    assert_eq!(c.cmd_str(&["INCRBY", "n", "1.0"]), NOT_INT);
    assert_eq!(c.cmd_str(&["DECRBY", "n", "9223372036854775808"]), NOT_INT);
    assert_eq!(c.cmd_str(&["EXISTS", "n"]), int(0));
}

#[test]
fn incr_overflow_is_refused() {
    let server = TestServer::start();
    let mut c = server.raw();
    let overflow = err("ERR increment or decrement would overflow");
    assert_eq!(c.cmd_str(&["SET", "max", "9223372036854775807"]), OK);
    assert_eq!(c.cmd_str(&["INCR", "max"]), overflow);
    assert_eq!(c.cmd_str(&["INCRBY", "max", "1"]), overflow);
    assert_eq!(c.cmd_str(&["DECRBY", "max", "-1"]), overflow);
    assert_eq!(c.cmd_str(&["GET", "max"]), bulk("9223372036854775807"));
    assert_eq!(c.cmd_str(&["SET", "min", "-9223372036854775808"]), OK);
    assert_eq!(c.cmd_str(&["DECR", "min"]), overflow);
    assert_eq!(c.cmd_str(&["INCRBY", "min", "-1"]), overflow);
    assert_eq!(
        c.cmd_str(&["INCRBY", "min", "9223372036854775807"]),
        int(-1)
    );
    assert_eq!(
        c.cmd_str(&["DECRBY", "x", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    assert_eq!(c.cmd_str(&["EXISTS", "x"]), int(0));
}

#[test]
fn incr_keeps_the_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "n", "1", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["INCR", "n"]), int(2));
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "n", "0.5"]), bulk("2.5"));
    let ttl = int_of(&c.cmd_str(&["TTL", "n"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

// ---------------------------------------------------------------- INCRBYFLOAT

#[test]
fn incrbyfloat_documented_examples() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "mykey", "10.50"]), OK);
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "mykey", "0.1"]), bulk("10.6"));
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "mykey", "-5"]), bulk("5.6"));
    assert_eq!(c.cmd_str(&["SET", "mykey", "5.0e3"]), OK);
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "mykey", "2.0e2"]), bulk("5200"));
    assert_eq!(c.cmd_str(&["GET", "mykey"]), bulk("5200"));
}

#[test]
fn incrbyfloat_basics_and_reply_type() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "f", "1"]), bulk("1"));
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "f", "0.25"]), bulk("1.25"));
    assert_eq!(c.cmd_str(&["SET", "f", "1.5"]), OK);
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "f", "1.5"]), bulk("3"));
    assert_eq!(c.cmd_str(&["SET", "big", "17179869184"]), OK);
    assert_eq!(
        c.cmd_str(&["INCRBYFLOAT", "big", "1.5"]),
        bulk("17179869185.5")
    );
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "neg", "-1.5"]), bulk("-1.5"));
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "neg", "1.5"]), bulk("0"));
    // A bulk string in RESP3 as well (not a double).
    let mut c3 = raw3(&server);
    assert_eq!(c3.cmd_str(&["INCRBYFLOAT", "f", "0.5"]), bulk("3.5"));
    let mut con3 = server.conn3();
    assert_eq!(
        query(&mut con3, &["INCRBYFLOAT", "f", "0.5"]),
        Value::BulkString(b"4".to_vec())
    );
}

#[test]
fn incrbyfloat_formats_without_exponent() {
    // Redis prints the result with "%.17Lf" and trims trailing zeros: never an exponent.
    let server = TestServer::start();
    let mut c = server.raw();
    let big = c.cmd_str(&["INCRBYFLOAT", "big", "1e20"]);
    let small = c.cmd_str(&["INCRBYFLOAT", "small", "0.00001"]);
    assert_eq!(
        (big.as_str(), small.as_str()),
        (
            bulk("100000000000000000000").as_str(),
            bulk("0.00001").as_str()
        )
    );
}

#[test]
fn incrbyfloat_uses_long_double_precision() {
    // Redis adds in long double and prints 17 decimals: 0.1 + 0.2 is "0.3" (x86-64).
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "f", "0.1"]), OK);
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "f", "0.2"]), bulk("0.3"));
}

#[test]
fn incrbyfloat_invalid_floats() {
    let server = TestServer::start();
    let mut c = server.raw();
    for incr in ["abc", " 1", "1 ", "", "1.5x", "nan"] {
        assert_eq!(
            c.cmd_str(&["INCRBYFLOAT", "f", incr]),
            NOT_FLOAT,
            "{incr:?}"
        );
    }
    assert_eq!(c.cmd_str(&["EXISTS", "f"]), int(0));
    for value in ["abc", " 11", "11 ", "1.5.5"] {
        assert_eq!(c.cmd_str(&["SET", "f", value]), OK);
        assert_eq!(
            c.cmd_str(&["INCRBYFLOAT", "f", "1"]),
            NOT_FLOAT,
            "{value:?}"
        );
    }
    // A value holding a NUL byte is not a float either.
    assert_eq!(c.cmd_str(&["SET", "z", "1"]), OK);
    assert_eq!(c.cmd_str(&["SETRANGE", "z", "2", "2"]), int(3));
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "z", "1"]), NOT_FLOAT);
}

#[test]
fn incrbyfloat_refuses_nan_and_infinity() {
    let server = TestServer::start();
    let mut c = server.raw();
    let nan_inf = err("ERR increment would produce NaN or Infinity");
    assert_eq!(c.cmd_str(&["SET", "f", "0"]), OK);
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "f", "+inf"]), nan_inf);
    assert_eq!(c.cmd_str(&["INCRBYFLOAT", "f", "-inf"]), nan_inf);
    assert_eq!(c.cmd_str(&["GET", "f"]), bulk("0"));
}

// ---------------------------------------------------------------- GETRANGE / SETRANGE

#[test]
fn getrange_with_positive_and_negative_indexes() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "mykey", "This is a string"]), OK);
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "0", "3"]), bulk("This"));
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "-3", "-1"]), bulk("ing"));
    assert_eq!(
        c.cmd_str(&["GETRANGE", "mykey", "0", "-1"]),
        bulk("This is a string")
    );
    assert_eq!(
        c.cmd_str(&["GETRANGE", "mykey", "10", "100"]),
        bulk("string")
    );
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "-100", "3"]), bulk("This"));
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "-1", "-5"]), EMPTY);
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "5", "2"]), EMPTY);
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "16", "20"]), EMPTY);
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "3", "3"]), bulk("s"));
    // A missing key is an empty string, not nil, in both protocols.
    assert_eq!(c.cmd_str(&["GETRANGE", "missing", "0", "-1"]), EMPTY);
    assert_eq!(
        raw3(&server).cmd_str(&["GETRANGE", "missing", "0", "-1"]),
        EMPTY
    );
    assert_eq!(c.cmd_str(&["SET", "e", ""]), OK);
    assert_eq!(c.cmd_str(&["GETRANGE", "e", "0", "-1"]), EMPTY);
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "a", "3"]), NOT_INT);
    assert_eq!(c.cmd_str(&["GETRANGE", "mykey", "0", "1.5"]), NOT_INT);
}

#[test]
fn setrange_overwrites_and_pads_with_zero_bytes() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "key1", "Hello World"]), OK);
    assert_eq!(c.cmd_str(&["SETRANGE", "key1", "6", "Redis"]), int(11));
    assert_eq!(c.cmd_str(&["GET", "key1"]), bulk("Hello Redis"));
    assert_eq!(c.cmd_str(&["SETRANGE", "key1", "9", "Redis"]), int(14));
    assert_eq!(c.cmd_str(&["GET", "key1"]), bulk("Hello RedRedis"));

    assert_eq!(c.cmd_str(&["SETRANGE", "key2", "6", "Redis"]), int(11));
    assert_eq!(
        c.cmd(&[b"GET", b"key2"]),
        b"$11\r\n\x00\x00\x00\x00\x00\x00Redis\r\n"
    );
    // Padding an existing string.
    assert_eq!(c.cmd_str(&["SET", "key3", "ab"]), OK);
    assert_eq!(c.cmd_str(&["SETRANGE", "key3", "4", "c"]), int(5));
    assert_eq!(c.cmd(&[b"GET", b"key3"]), b"$5\r\nab\x00\x00c\r\n");
}

#[test]
fn setrange_with_an_empty_value() {
    let server = TestServer::start();
    let mut c = server.raw();
    // Nothing to write on a missing key: 0, and no key is created.
    assert_eq!(c.cmd_str(&["SETRANGE", "m", "0", ""]), int(0));
    assert_eq!(c.cmd_str(&["SETRANGE", "m", "10", ""]), int(0));
    assert_eq!(c.cmd_str(&["EXISTS", "m"]), int(0));
    // On an existing key: its length, unchanged (no padding).
    assert_eq!(c.cmd_str(&["SET", "k", "abc"]), OK);
    assert_eq!(c.cmd_str(&["SETRANGE", "k", "100", ""]), int(3));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("abc"));
}

#[test]
fn setrange_offset_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["SETRANGE", "k", "-1", "x"]),
        err("ERR offset is out of range")
    );
    assert_eq!(c.cmd_str(&["SETRANGE", "k", "abc", "x"]), NOT_INT);
    assert_eq!(
        c.cmd_str(&["SETRANGE", "k", "536870912", "x"]),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(
        c.cmd_str(&["SETRANGE", "k", "536870912", "x"]),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
}

#[test]
fn setrange_with_an_empty_value_never_checks_the_size_limit() {
    // Redis answers an empty SETRANGE before it checks offset + length against 512 MB.
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SETRANGE", "m", "1000000000", ""]), int(0));
    assert_eq!(c.cmd_str(&["EXISTS", "m"]), int(0));
    assert_eq!(c.cmd_str(&["SET", "k", "abc"]), OK);
    assert_eq!(c.cmd_str(&["SETRANGE", "k", "1000000000", ""]), int(3));
}

#[test]
fn setrange_keeps_the_ttl() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "abc", "EX", "100"]), OK);
    assert_eq!(c.cmd_str(&["SETRANGE", "k", "1", "X"]), int(3));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("aXc"));
    let ttl = int_of(&c.cmd_str(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
}

// ---------------------------------------------------------------- through the redis crate

#[test]
fn typed_replies_through_the_redis_crate() {
    let server = TestServer::start();
    for mut con in [server.conn(), server.conn3()] {
        assert_eq!(query(&mut con, &["FLUSHDB"]), Value::Okay);
        assert_eq!(query(&mut con, &["SET", "k", "v"]), Value::Okay);
        assert_eq!(
            query(&mut con, &["GET", "k"]),
            Value::BulkString(b"v".to_vec())
        );
        assert_eq!(query(&mut con, &["SET", "k", "v", "NX"]), Value::Nil);
        assert_eq!(query(&mut con, &["APPEND", "k", "w"]), Value::Int(2));
        assert_eq!(
            expect_err(&mut con, &["INCR", "k"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            expect_err(&mut con, &["SET", "k", "v", "NX", "XX"]),
            "ERR syntax error"
        );
    }
}
