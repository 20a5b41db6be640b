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
    // Repeats are bounded (Redis would build a reply of any size asked for).
    assert_eq!(
        c.cmd_str(&["HRANDFIELD", "h", "-16777217"]),
        err("ERR value is out of range")
    );
    assert_eq!(c.cmd_str(&["SADD", "s", "a"]), int(1));
    assert_eq!(
        c.cmd_str(&["SRANDMEMBER", "s", "-9223372036854775807"]),
        err("ERR value is out of range")
    );
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
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

// ---------------------------------------------------------------- field expiry (Redis 7.4+)

#[test]
fn hexpire_family_replies_per_field() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "nope"]),
        arr(&[int(1), int(-2)])
    );
    // NX refuses a field with a TTL; XX and GT refuse one without; LT accepts it.
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "50", "NX", "FIELDS", "2", "a", "b"]),
        arr(&[int(0), int(1)])
    );
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "500", "XX", "FIELDS", "2", "a", "c"]),
        arr(&[int(1), int(0)])
    );
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "10", "GT", "FIELDS", "2", "a", "c"]),
        arr(&[int(0), int(0)])
    );
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "400", "LT", "FIELDS", "2", "a", "c"]),
        arr(&[int(1), int(1)])
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "4", "a", "b", "c", "nope"]),
        arr(&[int(400), int(50), int(400), int(-2)])
    );
    let pttl = c.cmd_str(&["HPTTL", "h", "FIELDS", "1", "b"]);
    let ms = int_of(&pttl[4..]);
    assert!((49_000..=50_000).contains(&ms), "{pttl}");
    let at = c.cmd_str(&["HEXPIRETIME", "h", "FIELDS", "1", "a"]);
    let secs = int_of(&at[4..]);
    assert!((secs - now_ms() / 1000 - 400).abs() <= 1, "{at}");
    assert_eq!(
        c.cmd_str(&["HPERSIST", "h", "FIELDS", "3", "a", "zz", "a"]),
        arr(&[int(1), int(-2), int(-1)])
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "a"]),
        arr(&[int(-1)])
    );
    // A deadline in the past deletes the field at once (2); the last field takes the key.
    assert_eq!(
        c.cmd_str(&["HPEXPIREAT", "h", "1", "FIELDS", "1", "b"]),
        arr(&[int(2)])
    );
    assert_eq!(c.cmd_str(&["HLEN", "h"]), int(2));
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "0", "FIELDS", "2", "a", "c"]),
        arr(&[int(2), int(2)])
    );
    assert_eq!(c.cmd_str(&["EXISTS", "h"]), int(0));
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "h", "10", "FIELDS", "2", "a", "b"]),
        arr(&[int(-2), int(-2)])
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "a"]),
        arr(&[int(-2)])
    );
}

#[test]
fn hexpire_errors_are_redis_words() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HSET", "h", "a", "1"]);
    let cases: [(&[&str], &str); 11] = [
        (
            &["HEXPIRE", "h", "x", "FIELDS", "1", "a"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["HEXPIRE", "h", "-1", "FIELDS", "1", "a"],
            "ERR invalid expire time, must be >= 0",
        ),
        (
            &["HEXPIRE", "h", "70368744178", "FIELDS", "1", "a"],
            "ERR invalid expire time in 'hexpire' command",
        ),
        (
            &["HEXPIRE", "h", "1", "FIELDS", "0", "a"],
            "ERR Parameter `numFields` should be greater than 0",
        ),
        (
            &["HEXPIRE", "h", "1", "FIELDS", "3", "a", "b"],
            "ERR wrong number of arguments",
        ),
        (
            &["HEXPIRE", "h", "1", "NX", "XX", "FIELDS", "1", "a"],
            "ERR Multiple condition flags specified",
        ),
        (
            &["HEXPIRE", "h", "1", "FIELDS", "1", "a", "b"],
            "ERR unknown argument: b",
        ),
        (
            &["HEXPIRE", "h", "1", "FIELDS", "1", "a", "FIELDS", "1", "a"],
            "ERR FIELDS keyword specified multiple times",
        ),
        (
            &["HTTL", "h", "FELDS", "1", "a"],
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
        (
            &["HTTL", "h", "FIELDS", "0", "a"],
            "ERR Number of fields must be a positive integer",
        ),
        (
            &["HPERSIST", "h", "FIELDS", "2", "a"],
            "ERR The `numfields` parameter must match the number of arguments",
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(c.cmd_str(cmd), err(want), "{cmd:?}");
    }
    c.cmd_str(&["SET", "s", "v"]);
    assert_eq!(
        c.cmd_str(&["HEXPIRE", "s", "1", "FIELDS", "1", "a"]),
        WRONGTYPE
    );
}

#[test]
fn fields_expire_lazily_and_actively() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HSET", "h", "short", "1", "long", "2", "plain", "3"]);
    c.cmd_str(&["HPEXPIRE", "h", "60", "FIELDS", "1", "short"]);
    c.cmd_str(&["HEXPIRE", "h", "100", "FIELDS", "1", "long"]);
    std::thread::sleep(std::time::Duration::from_millis(90));
    // Gone for every read at once, whether or not the cycle has removed it yet.
    assert_eq!(c.cmd_str(&["HGET", "h", "short"]), NIL2);
    assert_eq!(c.cmd_str(&["HEXISTS", "h", "short"]), int(0));
    assert_eq!(c.cmd_str(&["HKEYS", "h"]), bulks(&["long", "plain"]));
    assert_eq!(
        c.cmd_str(&["HMGET", "h", "short", "long"]),
        arr(&[NIL2.into(), bulk("2")])
    );
    // HINCRBY keeps a live field's TTL and starts a dead one over without one.
    assert_eq!(c.cmd_str(&["HINCRBY", "h", "long", "5"]), int(7));
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "long"]),
        arr(&[int(100)])
    );
    // The active cycle removes the field: HLEN (which counts unremoved ones) comes down.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while c.cmd_str(&["HLEN", "h"]) != int(2) {
        assert!(std::time::Instant::now() < deadline, "never collected");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A hash whose every field expires goes away by itself.
    c.cmd_str(&["HSET", "g", "x", "1"]);
    c.cmd_str(&["HPEXPIRE", "g", "30", "FIELDS", "1", "x"]);
    while c.cmd_str(&["EXISTS", "g"]) != int(0) {
        assert!(std::time::Instant::now() < deadline, "hash never removed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let info = c.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("expired_subkeys:2\r\n"), "{info}");
    // HSET clears a field's TTL.
    c.cmd_str(&["HEXPIRE", "h", "100", "FIELDS", "1", "plain"]);
    c.cmd_str(&["HSET", "h", "plain", "again"]);
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "plain"]),
        arr(&[int(-1)])
    );
}

#[test]
fn hgetex_hsetex_hgetdel() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "FXX", "FIELDS", "1", "a", "1"]),
        int(0),
        "FXX on a missing key"
    );
    assert_eq!(c.cmd_str(&["EXISTS", "h"]), int(0));
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "EX", "100", "FIELDS", "2", "a", "1", "b", "2"]),
        int(1)
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "2", "a", "b"]),
        arr(&[int(100), int(100)])
    );
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "FNX", "FIELDS", "2", "a", "9", "z", "9"]),
        int(0)
    );
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "KEEPTTL", "FIELDS", "1", "a", "10"]),
        int(1)
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "a"]),
        arr(&[int(100)])
    );
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "FIELDS", "1", "a", "11"]),
        int(1)
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "a"]),
        arr(&[int(-1)])
    );
    assert_eq!(
        c.cmd_str(&["HGETEX", "h", "PX", "5000", "FIELDS", "3", "a", "b", "zz"]),
        arr(&[bulk("11"), bulk("2"), NIL2.into()])
    );
    let pttl = c.cmd_str(&["HPTTL", "h", "FIELDS", "1", "a"]);
    assert!(int_of(&pttl[4..]) > 4000, "{pttl}");
    assert_eq!(
        c.cmd_str(&["HGETEX", "h", "PERSIST", "FIELDS", "1", "a"]),
        arr(&[bulk("11")])
    );
    assert_eq!(
        c.cmd_str(&["HTTL", "h", "FIELDS", "1", "a"]),
        arr(&[int(-1)])
    );
    assert_eq!(
        c.cmd_str(&["HGETEX", "h", "EX", "1", "PERSIST", "FIELDS", "1", "a"]),
        err("ERR Only one of EX, PX, EXAT, PXAT or PERSIST arguments can be specified")
    );
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "EX", "1", "KEEPTTL", "FIELDS", "1", "a", "1"]),
        err("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
    );
    assert_eq!(
        c.cmd_str(&["HSETEX", "h", "FNX", "FXX", "FIELDS", "1", "a", "1"]),
        err("ERR Only one of FXX or FNX arguments can be specified")
    );
    assert_eq!(
        c.cmd_str(&["HGETEX", "h", "FIELDS", "0", "a"]),
        err("ERR invalid number of fields")
    );
    assert_eq!(
        c.cmd_str(&["HGETEX", "h", "EX", "-5", "FIELDS", "1", "a"]),
        err("ERR invalid expire time, must be >= 0")
    );
    assert_eq!(
        c.cmd_str(&["HGETDEL", "h", "FIELDS", "3", "a", "a", "nope"]),
        arr(&[bulk("11"), NIL2.into(), NIL2.into()])
    );
    assert_eq!(
        c.cmd_str(&["HGETDEL", "h", "FIELDS", "1", "b"]),
        arr(&[bulk("2")])
    );
    assert_eq!(c.cmd_str(&["EXISTS", "h"]), int(0), "emptied by HGETDEL");
    assert_eq!(
        c.cmd_str(&["HGETDEL", "h", "FIELDS", "1", "b"]),
        arr(&[NIL2.into()])
    );
}

#[test]
fn field_deadlines_survive_restart_and_rename() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p =
        crate::process::spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", "always"]);
    let mut c = RawClient::connect(p.addr);
    c.cmd_str(&["HSET", "h", "a", "1", "b", "2"]);
    c.cmd_str(&["HEXPIRE", "h", "1000", "FIELDS", "1", "a"]);
    c.cmd_str(&["HPEXPIRE", "h", "300", "FIELDS", "1", "b"]);
    c.cmd_str(&["RENAME", "h", "h2"]);
    p.kill9();
    let p = crate::process::spawn(&["--port", "0", "--dir", data_arg]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(
        c.cmd_str(&["HTTL", "h2", "FIELDS", "1", "a"]),
        arr(&[int(1000)])
    );
    // The renamed hash's field still expires actively.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while c.cmd_str(&["HLEN", "h2"]) != int(1) {
        assert!(std::time::Instant::now() < deadline, "b never expired");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
