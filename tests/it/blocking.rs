//! Blocking pops: wake-up order, timeouts, disconnects, chains and MULTI.

use std::time::{Duration, Instant};

use crate::common::replies::*;
use crate::common::{encode_command, RawClient, TestServer};

/// Sends a command without reading its reply (the client blocks).
fn send(c: &mut RawClient, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    std::io::Write::write_all(&mut c.stream, &encode_command(&args)).unwrap();
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(c: &mut RawClient, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = c.cmd_str(&["INFO", "clients"]);
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "never {n} blocked: {info}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn waiters_are_served_oldest_first_one_element_each() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut first = server.raw();
    let mut second = server.raw();
    send(&mut first, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut second, &["BRPOP", "other", "q", "0"]);
    wait_blocked(&mut admin, 2);
    assert_eq!(admin.cmd_str(&["RPUSH", "q", "a", "b", "c"]), int(3));
    assert_eq!(
        String::from_utf8(first.read_reply()).unwrap(),
        bulks(&["q", "a"])
    );
    assert_eq!(
        String::from_utf8(second.read_reply()).unwrap(),
        bulks(&["q", "c"])
    );
    assert_eq!(admin.cmd_str(&["LRANGE", "q", "0", "-1"]), bulks(&["b"]));
    wait_blocked(&mut admin, 0);
}

#[test]
fn timeouts_answer_nil_and_bad_timeouts_are_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    let started = Instant::now();
    assert_eq!(c.cmd_str(&["BLPOP", "none", "0.2"]), NIL_ARRAY2);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    assert_eq!(
        c.cmd_str(&["BLMOVE", "a", "b", "LEFT", "LEFT", "0.05"]),
        NIL_ARRAY2
    );
    assert_eq!(c.cmd_str(&["BZPOPMIN", "z", "0.05"]), NIL_ARRAY2);
    assert_eq!(
        c.cmd_str(&["BLPOP", "none", "-1"]),
        err("ERR timeout is negative")
    );
    assert_eq!(
        c.cmd_str(&["BLPOP", "none", "soon"]),
        err("ERR timeout is not a float or out of range")
    );
    assert_eq!(
        c.cmd_str(&["BLMPOP", "0", "0", "a", "LEFT"]),
        err("ERR numkeys should be greater than 0")
    );
    c.cmd_str(&["SET", "s", "x"]);
    assert_eq!(c.cmd_str(&["BLPOP", "s", "0"]), WRONGTYPE);
    let mut c3 = server.raw();
    c3.cmd_str(&["HELLO", "3"]);
    assert_eq!(c3.cmd_str(&["BRPOP", "none", "0.01"]), NIL3);
    // Data already there: no wait at all, the shapes Redis answers with.
    c.cmd_str(&["ZADD", "z", "1.5", "m"]);
    assert_eq!(
        c.cmd_str(&["BZPOPMIN", "z", "0"]),
        bulks(&["z", "m", "1.5"])
    );
    c.cmd_str(&["RPUSH", "l", "1", "2", "3"]);
    assert_eq!(
        c.cmd_str(&["BLMPOP", "0", "2", "none", "l", "RIGHT", "COUNT", "2"]),
        arr(&[bulk("l"), bulks(&["3", "2"])])
    );
    assert_eq!(c.cmd_str(&["BRPOPLPUSH", "l", "l2", "0"]), bulk("1"));
}

#[test]
fn a_client_that_leaves_while_blocked_takes_nothing() {
    let server = TestServer::start();
    let mut admin = server.raw();
    {
        let mut gone = server.raw();
        send(&mut gone, &["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    admin.cmd_str(&["RPUSH", "q", "kept"]);
    assert_eq!(admin.cmd_str(&["LRANGE", "q", "0", "-1"]), bulks(&["kept"]));
    // CLIENT KILL ends a blocked client the same way.
    let mut killed = server.raw();
    let id = int_of(&killed.cmd_str(&["CLIENT", "ID"]));
    send(&mut killed, &["BLPOP", "q2", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd_str(&["CLIENT", "KILL", "ID", &id.to_string()]),
        int(1)
    );
    wait_blocked(&mut admin, 0);
}

#[test]
fn a_move_wakes_the_next_waiter_in_the_chain() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut mover = server.raw();
    let mut popper = server.raw();
    send(&mut popper, &["BLPOP", "b", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut mover, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut admin, 2);
    admin.cmd_str(&["LPUSH", "a", "x"]);
    assert_eq!(String::from_utf8(mover.read_reply()).unwrap(), bulk("x"));
    assert_eq!(
        String::from_utf8(popper.read_reply()).unwrap(),
        bulks(&["b", "x"])
    );
    assert_eq!(admin.cmd_str(&["EXISTS", "a", "b"]), int(0));
}

#[test]
fn inside_multi_a_blocking_pop_does_not_wait_and_exec_wakes_waiters() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["MULTI"]);
    c.cmd_str(&["BLPOP", "empty", "0"]);
    c.cmd_str(&["RPUSH", "full", "1"]);
    c.cmd_str(&["BLPOP", "full", "0"]);
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        arr(&[NIL_ARRAY2.into(), int(1), bulks(&["full", "1"])])
    );
    let mut waiter = server.raw();
    send(&mut waiter, &["BZPOPMAX", "z", "0"]);
    wait_blocked(&mut c, 1);
    c.cmd_str(&["MULTI"]);
    c.cmd_str(&["ZADD", "z", "1", "low", "2", "high"]);
    c.cmd_str(&["ZADD", "z", "3", "top"]);
    c.cmd_str(&["EXEC"]);
    assert_eq!(
        String::from_utf8(waiter.read_reply()).unwrap(),
        bulks(&["z", "top", "3"]),
        "the waiter runs after the whole transaction"
    );
}
