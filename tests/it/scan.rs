//! SCAN, RANDOMKEY, OBJECT, MEMORY USAGE and LCS through real clients.

use std::collections::HashSet;

use redis::Value;

use crate::common::{expect_err, query, TestServer};

fn scan_all(con: &mut redis::Connection, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut rounds = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(&cursor);
        for a in extra {
            cmd.arg(*a);
        }
        let (next, page): (String, Vec<String>) = cmd.query(con).unwrap();
        keys.extend(page);
        rounds += 1;
        if next == "0" {
            return (keys, rounds);
        }
        cursor = next;
    }
}

#[test]
fn scan_returns_every_key_present_for_the_whole_scan() {
    let server = TestServer::start();
    let mut con = server.conn();
    for i in 0..500 {
        let _: () = redis::cmd("SET")
            .arg(format!("k:{i:03}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let (keys, rounds) = scan_all(&mut con, &["COUNT", "37"]);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 500);
    assert!(rounds > 10, "COUNT bounds the work per call");
    // Keys added and removed while scanning: those present throughout are all returned.
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut step = 0;
    loop {
        let (next, page): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut con)
            .unwrap();
        seen.extend(page);
        step += 1;
        let _: () = redis::cmd("DEL")
            .arg(format!("k:{:03}", 400 + step))
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(format!("new:{step}"))
            .arg(1)
            .query(&mut con)
            .unwrap();
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in 0..400 {
        assert!(
            seen.contains(&format!("k:{i:03}")),
            "k:{i:03} missing from the scan"
        );
    }
}

#[test]
fn scan_match_type_and_errors() {
    let server = TestServer::start();
    let mut con = server.conn();
    for k in ["user:1", "user:2", "item:1"] {
        let _: () = redis::cmd("SET").arg(k).arg("v").query(&mut con).unwrap();
    }
    let (mut users, _) = scan_all(&mut con, &["MATCH", "user:*"]);
    users.sort();
    assert_eq!(users, ["user:1", "user:2"]);
    let (strings, _) = scan_all(&mut con, &["TYPE", "string"]);
    assert_eq!(strings.len(), 3);
    let (hashes, _) = scan_all(&mut con, &["TYPE", "hash"]);
    assert!(hashes.is_empty());
    assert_eq!(expect_err(&mut con, &["SCAN", "abc"]), "ERR invalid cursor");
    assert_eq!(
        expect_err(&mut con, &["SCAN", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        expect_err(&mut con, &["SCAN", "0", "BOGUS", "1"]),
        "ERR syntax error"
    );
    // Another database has its own keys.
    let _: () = redis::cmd("SELECT").arg(1).query(&mut con).unwrap();
    assert_eq!(scan_all(&mut con, &[]).0.len(), 0);
}

#[test]
fn randomkey_object_and_memory_usage() {
    let server = TestServer::start();
    let mut con = server.conn();
    assert_eq!(query(&mut con, &["RANDOMKEY"]), Value::Nil);
    for (k, v) in [("a", "12345"), ("b", "hello"), ("c", &"x".repeat(100))] {
        let _: () = redis::cmd("SET").arg(k).arg(v).query(&mut con).unwrap();
    }
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let key: String = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
        seen.insert(key);
    }
    assert!(seen.is_subset(&["a", "b", "c"].map(String::from).into()));
    assert_eq!(seen.len(), 3, "RANDOMKEY never returned some key: {seen:?}");
    let enc = |con: &mut redis::Connection, k: &str| -> String {
        redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(k)
            .query(con)
            .unwrap()
    };
    assert_eq!(enc(&mut con, "a"), "int");
    assert_eq!(enc(&mut con, "b"), "embstr");
    assert_eq!(enc(&mut con, "c"), "raw");
    assert_eq!(query(&mut con, &["OBJECT", "ENCODING", "nope"]), Value::Nil);
    assert_eq!(query(&mut con, &["OBJECT", "REFCOUNT", "a"]), Value::Int(1));
    assert!(expect_err(&mut con, &["OBJECT", "FREQ", "a"]).starts_with("ERR An LFU maxmemory"));
    let small: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("b")
        .query(&mut con)
        .unwrap();
    let big: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("c")
        .query(&mut con)
        .unwrap();
    assert!(small > 5 && big > small + 90, "{small} {big}");
    assert_eq!(query(&mut con, &["MEMORY", "USAGE", "nope"]), Value::Nil);
}

#[test]
fn lcs_forms() {
    let server = TestServer::start();
    let mut con = server.conn3();
    let _: () = redis::cmd("MSET")
        .arg("key1")
        .arg("ohmytext")
        .arg("key2")
        .arg("mynewtext")
        .query(&mut con)
        .unwrap();
    let common: String = redis::cmd("LCS")
        .arg("key1")
        .arg("key2")
        .query(&mut con)
        .unwrap();
    assert_eq!(common, "mytext");
    assert_eq!(
        query(&mut con, &["LCS", "key1", "key2", "LEN"]),
        Value::Int(6)
    );
    let idx = query(
        &mut con,
        &[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN",
        ],
    );
    let range = |a: i64, b: i64| Value::Array(vec![Value::Int(a), Value::Int(b)]);
    assert_eq!(
        idx,
        Value::Map(vec![
            (
                Value::BulkString(b"matches".to_vec()),
                Value::Array(vec![Value::Array(vec![
                    range(4, 7),
                    range(5, 8),
                    Value::Int(4)
                ])])
            ),
            (Value::BulkString(b"len".to_vec()), Value::Int(6)),
        ])
    );
    assert_eq!(
        expect_err(&mut con, &["LCS", "key1", "key2", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(
        query(&mut con, &["LCS", "key1", "missing"]),
        Value::BulkString(vec![])
    );
}
