//! Hash commands against Redis's exact replies, in RESP2 and RESP3.

use crate::common::replies::*;
use crate::common::{RawClient, TestServer};

fn raw3(server: &TestServer) -> RawClient {
    let mut c = server.raw();
    assert!(c.cmd_str(&["HELLO", "3"]).starts_with('%'));
    c
}

#[test]
fn hset_hget_hgetall_in_both_protocols() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["HSET", "h", "a", "1", "b", "2"]), int(2));
    assert_eq!(c.cmd_str(&["HSET", "h", "a", "10", "c", "3"]), int(1));
    assert_eq!(c.cmd_str(&["HGET", "h", "a"]), bulk("10"));
    assert_eq!(c.cmd_str(&["HGET", "h", "zz"]), NIL2);
    assert_eq!(c.cmd_str(&["HGET", "nokey", "a"]), NIL2);
    assert_eq!(
        c.cmd_str(&["HGETALL", "h"]),
        bulks(&["a", "10", "b", "2", "c", "3"])
    );
    assert_eq!(c.cmd_str(&["HGETALL", "nokey"]), EMPTY_ARRAY);
    assert_eq!(c.cmd_str(&["HKEYS", "h"]), bulks(&["a", "b", "c"]));
    assert_eq!(c.cmd_str(&["HVALS", "h"]), bulks(&["10", "2", "3"]));
    assert_eq!(
        c.cmd_str(&["HMGET", "h", "a", "nope", "c"]),
        arr(&[bulk("10"), NIL2.into(), bulk("3")])
    );
    assert_eq!(c.cmd_str(&["HLEN", "h"]), int(3));
    assert_eq!(c.cmd_str(&["HSTRLEN", "h", "a"]), int(2));
    assert_eq!(c.cmd_str(&["HEXISTS", "h", "b"]), int(1));
    assert_eq!(c.cmd_str(&["HEXISTS", "h", "x"]), int(0));
    assert_eq!(c.cmd_str(&["HMSET", "h", "d", "4"]), OK);
    assert_eq!(c.cmd_str(&["HSETNX", "h", "d", "5"]), int(0));
    assert_eq!(c.cmd_str(&["HSETNX", "h", "e", "5"]), int(1));
    let mut c3 = raw3(&server);
    assert_eq!(
        c3.cmd_str(&["HGETALL", "h"]),
        "%5\r\n$1\r\na\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n"
    );
    assert_eq!(c3.cmd_str(&["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(c3.cmd_str(&["HGET", "h", "zz"]), NIL3);
}

#[test]
fn hdel_removes_fields_and_the_emptied_key() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(c.cmd_str(&["HDEL", "h", "a", "a", "zz"]), int(1));
    assert_eq!(c.cmd_str(&["TYPE", "h"]), "+hash\r\n");
    assert_eq!(c.cmd_str(&["HDEL", "h", "b"]), int(1));
    assert_eq!(c.cmd_str(&["EXISTS", "h"]), int(0));
    assert_eq!(c.cmd_str(&["TYPE", "h"]), "+none\r\n");
    assert_eq!(c.cmd_str(&["HDEL", "h", "b"]), int(0));
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["HINCRBY", "h", "n", "5"]), int(5));
    assert_eq!(c.cmd_str(&["HINCRBY", "h", "n", "-7"]), int(-2));
    assert_eq!(c.cmd_str(&["HINCRBY", "h", "n", "x"]), NOT_INT);
    c.cmd_str(&["HSET", "h", "s", "abc", "big", "9223372036854775807"]);
    assert_eq!(
        c.cmd_str(&["HINCRBY", "h", "s", "1"]),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        c.cmd_str(&["HINCRBY", "h", "big", "1"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.cmd_str(&["HINCRBYFLOAT", "h", "f", "0.1"]), bulk("0.1"));
    assert_eq!(c.cmd_str(&["HINCRBYFLOAT", "h", "f", "0.2"]), bulk("0.3"));
    assert_eq!(c.cmd_str(&["HINCRBYFLOAT", "h", "f", "nan"]), NOT_FLOAT);
    assert_eq!(
        c.cmd_str(&["HINCRBYFLOAT", "h", "s", "1"]),
        err("ERR hash value is not a float")
    );
    assert!(c
        .cmd_str(&["HINCRBYFLOAT", "h", "g", "1.7e308"])
        .starts_with('$'));
    assert_eq!(
        c.cmd_str(&["HINCRBYFLOAT", "h", "g", "1.7e308"]),
        err("ERR increment would produce NaN or Infinity")
    );
}

#[test]
fn wrong_types_and_arity() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["SET", "s", "v"]);
    c.cmd_str(&["HSET", "h", "a", "1"]);
    for cmd in [
        vec!["HSET", "s", "a", "1"],
        vec!["HGET", "s", "a"],
        vec!["HGETALL", "s"],
        vec!["HLEN", "s"],
        vec!["HDEL", "s", "a"],
        vec!["HINCRBY", "s", "a", "1"],
    ] {
        assert_eq!(c.cmd_str(&cmd), WRONGTYPE, "{cmd:?}");
    }
    for cmd in [
        vec!["GET", "h"],
        vec!["APPEND", "h", "x"],
        vec!["INCR", "h"],
        vec!["LPUSH", "h", "x"],
        vec!["SADD", "h", "x"],
        vec!["ZADD", "h", "1", "x"],
    ] {
        assert_eq!(c.cmd_str(&cmd), WRONGTYPE, "{cmd:?}");
    }
    assert_eq!(
        c.cmd_str(&["HSET", "h", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        c.cmd_str(&["HMSET", "h", "a"]),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    // SET overwrites any type; the hash's fields are gone with it.
    assert_eq!(c.cmd_str(&["SET", "h", "now a string"]), OK);
    assert_eq!(c.cmd_str(&["HGET", "h", "a"]), WRONGTYPE);
    assert_eq!(c.cmd_str(&["DEL", "h"]), int(1));
    assert_eq!(c.cmd_str(&["HGET", "h", "a"]), NIL2);
}

#[test]
fn hrandfield_counts() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let one = c.cmd_str(&["HRANDFIELD", "h"]);
    assert!([bulk("a"), bulk("b"), bulk("c")].contains(&one), "{one}");
    let mut con = server.conn();
    let distinct: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(10)
        .query(&mut con)
        .unwrap();
    let mut sorted = distinct.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "b", "c"], "a positive count never repeats");
    let repeated: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(-7)
        .query(&mut con)
        .unwrap();
    assert_eq!(repeated.len(), 7);
    let pairs: Vec<(String, String)> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(2)
        .arg("WITHVALUES")
        .query(&mut con)
        .unwrap();
    assert_eq!(pairs.len(), 2);
    for (f, v) in &pairs {
        assert_eq!(v, &(f.as_bytes()[0] - b'a' + 1).to_string());
    }
    assert_eq!(c.cmd_str(&["HRANDFIELD", "nokey"]), NIL2);
    assert_eq!(c.cmd_str(&["HRANDFIELD", "nokey", "3"]), EMPTY_ARRAY);
    assert_eq!(c.cmd_str(&["HRANDFIELD", "h", "0"]), EMPTY_ARRAY);
    // RESP3: WITHVALUES gives [field, value] pairs.
    let mut c3 = raw3(&server);
    let reply = c3.cmd_str(&["HRANDFIELD", "h", "-1", "WITHVALUES"]);
    assert!(reply.starts_with("*1\r\n*2\r\n"), "{reply:?}");
}

#[test]
fn hscan_returns_every_field_once_across_cursors() {
    let server = TestServer::start();
    let mut con = server.conn();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("HSET")
            .arg("h")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
    }
    pipe.query::<()>(&mut con).unwrap();
    let mut cursor = 0u64;
    let mut seen = std::collections::HashMap::new();
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("h")
            .arg(cursor)
            .arg("COUNT")
            .arg(37)
            .query(&mut con)
            .unwrap();
        for pair in items.chunks(2) {
            assert!(seen.insert(pair[0].clone(), pair[1].clone()).is_none());
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(seen["f42"], "42");
    let (_, fields): (u64, Vec<String>) = redis::cmd("HSCAN")
        .arg("h")
        .arg(0)
        .arg("MATCH")
        .arg("f1?")
        .arg("COUNT")
        .arg(1000)
        .arg("NOVALUES")
        .query(&mut con)
        .unwrap();
    let mut fields = fields;
    fields.sort();
    assert_eq!(
        fields,
        (10..20).map(|i| format!("f{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn rename_copy_move_expire_keep_the_fields() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(c.cmd_str(&["RENAME", "h", "h2"]), OK);
    assert_eq!(c.cmd_str(&["HGETALL", "h2"]), bulks(&["a", "1", "b", "2"]));
    assert_eq!(c.cmd_str(&["COPY", "h2", "h3"]), int(1));
    assert_eq!(c.cmd_str(&["HSET", "h3", "c", "3"]), int(1));
    assert_eq!(c.cmd_str(&["HLEN", "h2"]), int(2), "a copy is independent");
    assert_eq!(c.cmd_str(&["HLEN", "h3"]), int(3));
    assert_eq!(c.cmd_str(&["MOVE", "h3", "1"]), int(1));
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(c.cmd_str(&["HGET", "h3", "c"]), bulk("3"));
    assert_eq!(c.cmd_str(&["SELECT", "0"]), OK);
    assert_eq!(c.cmd_str(&["OBJECT", "ENCODING", "h2"]), bulk("hashtable"));
    assert_eq!(c.cmd_str(&["PEXPIRE", "h2", "50"]), int(1));
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(c.cmd_str(&["HGET", "h2", "a"]), NIL2);
    assert_eq!(c.cmd_str(&["EXISTS", "h2"]), int(0));
    // SCAN TYPE sees the type.
    c.cmd_str(&["HSET", "hh", "x", "1"]);
    c.cmd_str(&["SET", "ss", "x"]);
    assert_eq!(
        c.cmd_str(&["SCAN", "0", "TYPE", "hash", "COUNT", "100"]),
        arr(&[bulk("0"), bulks(&["hh"])])
    );
}

#[test]
fn big_hash_is_deleted_at_once_and_collected_later() {
    let server = TestServer::start();
    let mut con = server.conn();
    let mut pipe = redis::pipe();
    for i in 0..50_000 {
        pipe.cmd("HSET").arg("big").arg(i).arg("v").ignore();
    }
    pipe.query::<()>(&mut con).unwrap();
    let len: i64 = redis::cmd("HLEN").arg("big").query(&mut con).unwrap();
    assert_eq!(len, 50_000);
    let removed: i64 = redis::cmd("UNLINK").arg("big").query(&mut con).unwrap();
    assert_eq!(removed, 1);
    let len: i64 = redis::cmd("HLEN").arg("big").query(&mut con).unwrap();
    assert_eq!(len, 0);
    // A new hash under the same name starts empty, whatever the collector has done so far.
    let added: i64 = redis::cmd("HSET")
        .arg("big")
        .arg("7")
        .arg("new")
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 1);
    let all: Vec<String> = redis::cmd("HGETALL").arg("big").query(&mut con).unwrap();
    assert_eq!(all, ["7", "new"]);
    let stats = &server.shared().engine.stats;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stats
        .collected_members
        .load(std::sync::atomic::Ordering::Relaxed)
        < 50_000
    {
        assert!(
            std::time::Instant::now() < deadline,
            "members never collected"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
