//! Sorted sets through the `redis` crate (the command forms are covered against a real
//! redis-server by tests/scripts/differential.py).

use crate::common::TestServer;

#[test]
fn doubles_are_written_as_redis_writes_them() {
    let server = TestServer::start();
    let mut con = server.conn();
    let _: i64 = redis::cmd("ZADD")
        .arg("z")
        .arg("1732700000000")
        .arg("ts")
        .arg("0.1")
        .arg("tenth")
        .arg("1e20")
        .arg("huge")
        .arg("100000000")
        .arg("e8")
        .query(&mut con)
        .unwrap();
    // d2string: integral values within 2^62 as integers, the rest as fpconv's shortest form.
    for (member, want) in [
        ("ts", "1732700000000"),
        ("tenth", "0.1"),
        ("huge", "1e+20"),
        ("e8", "100000000"),
    ] {
        let got: String = redis::cmd("ZSCORE")
            .arg("z")
            .arg(member)
            .query(&mut con)
            .unwrap();
        assert_eq!(got, want, "{member}");
    }
    let got: String = redis::cmd("ZINCRBY")
        .arg("z")
        .arg("1")
        .arg("ts")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, "1732700000001");
}
