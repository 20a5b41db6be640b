//! MULTI/EXEC/WATCH across real clients, and collections and transactions through kill -9.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::replies::*;
use crate::common::{encode_command, RawClient, TestServer};
use crate::process::spawn;

#[test]
fn exec_runs_queued_commands_in_order_and_sees_its_own_writes() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    assert_eq!(c.cmd_str(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["INCR", "a"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["RPUSH", "a", "x"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["HSET", "h", "f", "v"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["HGETALL", "h"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        arr(&[
            OK.into(),
            int(2),
            WRONGTYPE.into(),
            int(1),
            bulks(&["f", "v"]),
            bulk("2")
        ])
    );
    // A queuing error aborts the whole transaction; nothing of it applies.
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    assert_eq!(c.cmd_str(&["SET", "b", "1"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd_str(&["NOSUCH"]),
        err("ERR unknown command 'NOSUCH', with args beginning with: ")
    );
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.cmd_str(&["EXISTS", "b"]), int(0));
    assert_eq!(c.cmd_str(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(c.cmd_str(&["DISCARD"]), err("ERR DISCARD without MULTI"));
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    assert_eq!(
        c.cmd_str(&["MULTI"]),
        err("ERR MULTI calls can not be nested")
    );
    assert_eq!(
        c.cmd_str(&["WATCH", "x"]),
        err("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(
        c.cmd_str(&["SAVE"]),
        err("ERR Command not allowed inside a transaction")
    );
    assert_eq!(c.cmd_str(&["DISCARD"]), OK);
    // SELECT inside MULTI moves the commands after it.
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    c.cmd_str(&["SELECT", "3"]);
    c.cmd_str(&["SET", "in3", "yes"]);
    assert_eq!(c.cmd_str(&["EXEC"]), arr(&[OK.into(), OK.into()]));
    assert_eq!(c.cmd_str(&["GET", "in3"]), bulk("yes"));
    assert_eq!(c.cmd_str(&["SELECT", "0"]), OK);
    assert_eq!(c.cmd_str(&["GET", "in3"]), NIL2);
}

/// Writes read the latest rows from the row cache; a FLUSHDB or SWAPDB earlier in the same
/// transaction changes what a key names, and the commands after it must not see old rows.
#[test]
fn writes_after_a_flush_or_swap_in_one_transaction_see_the_new_database() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["SET", "k", "5"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("5"), "cached now");
    // A snapshot read commits the pending batches: nothing is staged when FLUSHDB runs.
    assert_eq!(
        c.cmd_str(&["MGET", "k", "x"]),
        arr(&[bulk("5"), NIL2.into()])
    );
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    c.cmd_str(&["FLUSHDB"]);
    c.cmd_str(&["INCR", "k"]);
    assert_eq!(c.cmd_str(&["EXEC"]), arr(&[OK.into(), int(1)]));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("1"));
    c.cmd_str(&["SELECT", "1"]);
    assert_eq!(c.cmd_str(&["SET", "k", "10"]), OK);
    c.cmd_str(&["SELECT", "0"]);
    assert_eq!(
        c.cmd_str(&["MGET", "k", "x"]),
        arr(&[bulk("1"), NIL2.into()])
    );
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    c.cmd_str(&["SWAPDB", "0", "1"]);
    c.cmd_str(&["INCR", "k"]);
    assert_eq!(c.cmd_str(&["EXEC"]), arr(&[OK.into(), int(11)]));
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("11"));
    c.cmd_str(&["SELECT", "1"]);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("1"));
}

#[test]
fn watch_aborts_on_any_change_by_another_client() {
    let server = TestServer::start();
    let mut a = server.raw();
    let mut b = server.raw();
    let cases: [(&[&str], &[&str]); 6] = [
        (&["SET", "k", "1"], &["SET", "k", "2"]),
        (&["HSET", "k", "f", "1"], &["HSET", "k", "f", "2"]),
        (&["RPUSH", "k", "1"], &["LSET", "k", "0", "2"]),
        (&["ZADD", "k", "1", "m"], &["ZINCRBY", "k", "1", "m"]),
        (&["SET", "k", "1"], &["EXPIRE", "k", "100"]),
        (&["SET", "k", "1"], &["FLUSHDB"]),
    ];
    for (setup, change) in cases {
        a.cmd_str(&["DEL", "k"]);
        a.cmd_str(setup);
        assert_eq!(a.cmd_str(&["WATCH", "k"]), OK);
        b.cmd_str(change);
        a.cmd_str(&["MULTI"]);
        a.cmd_str(&["SET", "done", "1"]);
        assert_eq!(a.cmd_str(&["EXEC"]), NIL_ARRAY2, "{change:?} must abort");
        assert_eq!(a.cmd_str(&["EXISTS", "done"]), int(0));
    }
    // Untouched watched keys let EXEC through; UNWATCH forgets.
    a.cmd_str(&["SET", "k", "1"]);
    a.cmd_str(&["WATCH", "k", "other"]);
    b.cmd_str(&["SET", "unrelated", "1"]);
    a.cmd_str(&["MULTI"]);
    a.cmd_str(&["INCR", "k"]);
    assert_eq!(a.cmd_str(&["EXEC"]), arr(&[int(2)]));
    a.cmd_str(&["WATCH", "k"]);
    b.cmd_str(&["SET", "k", "9"]);
    a.cmd_str(&["UNWATCH"]);
    a.cmd_str(&["MULTI"]);
    a.cmd_str(&["INCR", "k"]);
    assert_eq!(a.cmd_str(&["EXEC"]), arr(&[int(10)]));
    // A watched key that expires before EXEC counts as changed.
    a.cmd_str(&["SET", "t", "1", "PX", "50"]);
    a.cmd_str(&["WATCH", "t"]);
    std::thread::sleep(Duration::from_millis(80));
    a.cmd_str(&["MULTI"]);
    a.cmd_str(&["SET", "x", "1"]);
    assert_eq!(a.cmd_str(&["EXEC"]), NIL_ARRAY2);
}

#[test]
fn optimistic_locking_counts_exactly_under_contention() {
    let server = TestServer::start();
    let addr = server.addr;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawClient::connect(addr);
                let mut done = 0;
                while done < 50 {
                    c.cmd_str(&["WATCH", "counter"]);
                    let v = c.cmd_str(&["GET", "counter"]);
                    let n: i64 = if v == NIL2 {
                        0
                    } else {
                        v.lines().nth(1).unwrap().parse().unwrap()
                    };
                    c.cmd_str(&["MULTI"]);
                    c.cmd_str(&["SET", "counter", &(n + 1).to_string()]);
                    if c.cmd_str(&["EXEC"]) != NIL_ARRAY2 {
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(server.raw().cmd_str(&["GET", "counter"]), bulk("200"));
}

/// Pipelined transactions `MULTI · RPUSH l:t i · HSET h:t i i · ZADD z:t i i · EXEC` and
/// plain SADDs, killed with -9 mid-load: after the restart every acknowledged write is there
/// and every transaction is whole or absent.
#[test]
fn collections_and_transactions_survive_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (acked, stop, addr) = (acked[t].clone(), stop.clone(), p.addr);
            std::thread::spawn(move || {
                let mut c = RawClient::connect(addr);
                let mut next = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut batch = Vec::new();
                    for i in next..next + 16 {
                        let i = i.to_string();
                        let (l, h, z, s) = (
                            format!("l:{t}"),
                            format!("h:{t}"),
                            format!("z:{t}"),
                            format!("s:{t}"),
                        );
                        batch.extend(encode_command(&[b"MULTI"]));
                        batch.extend(encode_command(&[b"RPUSH", l.as_bytes(), i.as_bytes()]));
                        batch.extend(encode_command(&[
                            b"HSET",
                            h.as_bytes(),
                            i.as_bytes(),
                            i.as_bytes(),
                        ]));
                        batch.extend(encode_command(&[
                            b"ZADD",
                            z.as_bytes(),
                            i.as_bytes(),
                            i.as_bytes(),
                        ]));
                        batch.extend(encode_command(&[b"EXEC"]));
                        batch.extend(encode_command(&[b"SADD", s.as_bytes(), i.as_bytes()]));
                    }
                    if std::io::Write::write_all(&mut c.stream, &batch).is_err() {
                        return;
                    }
                    for i in next..next + 16 {
                        for _ in 0..6 {
                            if c.try_read_reply().is_none() {
                                return;
                            }
                        }
                        acked.store(i + 1, Ordering::SeqCst);
                    }
                    next += 16;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(600));
    p.kill9();
    let counts: Vec<u64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(counts.iter().all(|n| *n > 0), "no progress: {counts:?}");
    let p = spawn(&["--port", "0", "--dir", data_arg]);
    let mut c = RawClient::connect(p.addr);
    for (t, &n) in counts.iter().enumerate() {
        let llen = int_of(&c.cmd_str(&["LLEN", &format!("l:{t}")]));
        let hlen = int_of(&c.cmd_str(&["HLEN", &format!("h:{t}")]));
        let zcard = int_of(&c.cmd_str(&["ZCARD", &format!("z:{t}")]));
        let scard = int_of(&c.cmd_str(&["SCARD", &format!("s:{t}")]));
        assert!(llen as u64 >= n, "writer {t}: {llen} < {n} acknowledged");
        assert_eq!(
            (llen, zcard),
            (hlen, hlen),
            "writer {t}: a transaction came back torn"
        );
        assert!(
            scard >= llen - 1 && scard <= llen,
            "writer {t}: {scard} vs {llen}"
        );
        // The elements are the acknowledged sequence, in order, with their scores.
        let last = (llen - 1).to_string();
        assert_eq!(c.cmd_str(&["LINDEX", &format!("l:{t}"), "-1"]), bulk(&last));
        assert_eq!(c.cmd_str(&["HGET", &format!("h:{t}"), &last]), bulk(&last));
        assert_eq!(
            c.cmd_str(&["ZSCORE", &format!("z:{t}"), &last]),
            bulk(&last)
        );
        assert_eq!(
            c.cmd_str(&["ZRANGE", &format!("z:{t}"), "-1", "-1"]),
            bulks(&[&last])
        );
    }
}

#[test]
fn renamed_and_deleted_collections_replay_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", "always"]);
    let mut c = RawClient::connect(p.addr);
    c.cmd_str(&["RPUSH", "l", "a", "b", "c"]);
    c.cmd_str(&["RENAME", "l", "l2"]);
    c.cmd_str(&["SADD", "s", "x", "y"]);
    c.cmd_str(&["DEL", "s"]);
    c.cmd_str(&["SADD", "s", "z"]);
    c.cmd_str(&["ZADD", "z", "1", "m"]);
    c.cmd_str(&["COPY", "z", "z2"]);
    c.cmd_str(&["ZADD", "z2", "2", "n"]);
    c.cmd_str(&["HSET", "h", "f", "v"]);
    c.cmd_str(&["MOVE", "h", "2"]);
    p.kill9();
    let p = spawn(&["--port", "0", "--dir", data_arg]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(
        c.cmd_str(&["LRANGE", "l2", "0", "-1"]),
        bulks(&["a", "b", "c"])
    );
    assert_eq!(c.cmd_str(&["EXISTS", "l"]), int(0));
    assert_eq!(c.cmd_str(&["SMEMBERS", "s"]), bulks(&["z"]));
    assert_eq!(c.cmd_str(&["ZRANGE", "z", "0", "-1"]), bulks(&["m"]));
    assert_eq!(c.cmd_str(&["ZRANGE", "z2", "0", "-1"]), bulks(&["m", "n"]));
    c.cmd_str(&["SELECT", "2"]);
    assert_eq!(c.cmd_str(&["HGETALL", "h"]), bulks(&["f", "v"]));
}

#[test]
fn flushes_and_swaps_replay_after_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", "always"]);
    let mut c = RawClient::connect(p.addr);
    let mut load = Vec::new();
    for i in 0..20_000 {
        load.extend(encode_command(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    std::io::Write::write_all(&mut c.stream, &load).unwrap();
    for _ in 0..20_000 {
        c.read_reply();
    }
    c.cmd_str(&["RPUSH", "list", "a", "b"]);
    c.cmd_str(&["SET", "ttl", "x", "PX", "300"]);
    assert_eq!(c.cmd_str(&["SWAPDB", "0", "1"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    c.cmd_str(&["SET", "in0", "yes"]);
    c.cmd_str(&["SELECT", "1"]);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(20_002));
    assert_eq!(c.cmd_str(&["FLUSHDB", "ASYNC"]), OK);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd_str(&["GET", "k7"]), NIL2);
    assert_eq!(c.cmd_str(&["LLEN", "list"]), int(0));
    c.cmd_str(&["SET", "k7", "after"]);
    p.kill9();
    let p = spawn(&["--port", "0", "--dir", data_arg]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(1));
    assert_eq!(c.cmd_str(&["GET", "in0"]), bulk("yes"));
    c.cmd_str(&["SELECT", "1"]);
    assert_eq!(c.cmd_str(&["DBSIZE"]), int(1));
    assert_eq!(c.cmd_str(&["GET", "k7"]), bulk("after"));
    assert_eq!(c.cmd_str(&["GET", "k8"]), NIL2);
    assert_eq!(c.cmd_str(&["EXISTS", "ttl"]), int(0));
}
