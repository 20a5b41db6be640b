//! Connection and server commands through the `redis` crate (RESP2 and RESP3) and raw sockets.

use redis::Value;

use crate::common::{expect_err, query, TestServer};

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(pairs) => pairs.iter().find(|(k, _)| *k == bulk(key)).map(|(_, v)| v),
        Value::Array(items) => items
            .chunks(2)
            .find(|kv| kv[0] == bulk(key))
            .map(|kv| &kv[1]),
        _ => None,
    }
}

#[test]
fn ping_echo_time() {
    let server = TestServer::start();
    let mut con = server.conn();
    assert_eq!(
        query(&mut con, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(query(&mut con, &["PING", "hi"]), bulk("hi"));
    assert_eq!(query(&mut con, &["ECHO", "x y"]), bulk("x y"));
    assert_eq!(
        expect_err(&mut con, &["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(
        expect_err(&mut con, &["ECHO"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    let Value::Array(time) = query(&mut con, &["TIME"]) else {
        panic!("TIME is an array")
    };
    let secs: u64 = redis::from_redis_value(time[0].clone()).unwrap();
    assert!(secs > 1_700_000_000);
    let usecs: u64 = redis::from_redis_value(time[1].clone()).unwrap();
    assert!(usecs < 1_000_000);
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(lastsave > 1_700_000_000);
}

#[test]
fn unknown_commands_and_arity_errors_are_worded_as_redis() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["foo", "a", "b"]),
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        c.cmd_str(&["foo"]),
        "-ERR unknown command 'foo', with args beginning with: \r\n"
    );
    assert_eq!(
        c.cmd_str(&["select"]),
        "-ERR wrong number of arguments for 'select' command\r\n"
    );
    assert_eq!(
        c.cmd_str(&["config"]),
        "-ERR wrong number of arguments for 'config' command\r\n"
    );
    assert_eq!(
        c.cmd_str(&["config", "get"]),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        c.cmd_str(&["config", "bogus"]),
        "-ERR unknown subcommand 'bogus'. Try CONFIG HELP.\r\n"
    );
    assert_eq!(
        c.cmd_str(&["client", "nope"]),
        "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        c.cmd_str(&["client", "reply", "maybe"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(c.cmd_str(&["flushdb", "later"]), "-ERR syntax error\r\n");
    // The connection survives every one of these.
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn select_databases() {
    let server = TestServer::start();
    let mut con = server.conn();
    assert_eq!(query(&mut con, &["SELECT", "15"]), Value::Okay);
    assert_eq!(
        expect_err(&mut con, &["SELECT", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        expect_err(&mut con, &["SELECT", "-1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        expect_err(&mut con, &["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(info.contains(" db=15 "), "{info}");
    let server = TestServer::with(|c| c.databases = 4);
    let mut con = server.conn();
    assert_eq!(
        expect_err(&mut con, &["SELECT", "4"]),
        "ERR DB index is out of range"
    );
    assert_eq!(query(&mut con, &["SELECT", "3"]), Value::Okay);
}

#[test]
fn hello_negotiates_resp3_with_redis_map() {
    let server = TestServer::start();
    let mut c = server.raw();
    let reply = c.cmd_str(&["HELLO", "3"]);
    assert!(
        reply.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"),
        "{reply}"
    );
    assert!(reply.contains("$5\r\nproto\r\n:3\r\n"), "{reply}");
    assert!(reply.contains("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"));
    assert!(reply.ends_with("$7\r\nmodules\r\n*0\r\n"), "{reply}");
    // Now RESP3 replies: null is `_`, CONFIG GET a map.
    assert_eq!(c.cmd_str(&["CLIENT", "GETNAME"]), "_\r\n");
    assert!(c.cmd_str(&["CONFIG", "GET", "port"]).starts_with("%1\r\n"));
    assert_eq!(
        c.cmd_str(&["HELLO", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        c.cmd_str(&["HELLO", "x"]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        c.cmd_str(&["HELLO", "3", "FOO"]),
        "-ERR Syntax error in HELLO option 'FOO'\r\n"
    );
    // HELLO 2 goes back: the map becomes a flat array.
    assert!(c
        .cmd_str(&["HELLO", "2", "SETNAME", "agent"])
        .starts_with("*14\r\n"));
    assert_eq!(c.cmd_str(&["CLIENT", "GETNAME"]), "$5\r\nagent\r\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "port"]).chars().next(),
        Some('*')
    );
}

#[test]
fn redis_crate_resp3_connection_works() {
    let server = TestServer::start();
    let mut con = server.conn3();
    assert_eq!(
        query(&mut con, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    let config = query(&mut con, &["CONFIG", "GET", "maxclients"]);
    assert_eq!(
        config,
        Value::Map(vec![(bulk("maxclients"), bulk("10000"))])
    );
    let info = query(&mut con, &["CLIENT", "INFO"]);
    let Value::VerbatimString { text, .. } = info else {
        panic!("verbatim expected: {info:?}")
    };
    assert!(
        text.contains("resp=3") && text.contains("lib-name=redis-rs"),
        "{text}"
    );
}

#[test]
fn client_commands() {
    let server = TestServer::start();
    let mut a = server.conn();
    let mut b = server.conn();
    let id_a: i64 = redis::cmd("CLIENT").arg("ID").query(&mut a).unwrap();
    let id_b: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    assert_ne!(id_a, id_b);
    assert_eq!(query(&mut a, &["CLIENT", "GETNAME"]), Value::Nil);
    assert_eq!(
        query(&mut a, &["CLIENT", "SETNAME", "worker-1"]),
        Value::Okay
    );
    assert_eq!(query(&mut a, &["CLIENT", "GETNAME"]), bulk("worker-1"));
    assert_eq!(
        expect_err(&mut a, &["CLIENT", "SETNAME", "has space"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        query(&mut a, &["CLIENT", "SETINFO", "lib-name", "mylib"]),
        Value::Okay
    );
    assert_eq!(
        query(&mut a, &["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]),
        Value::Okay
    );
    assert_eq!(
        expect_err(&mut a, &["CLIENT", "SETINFO", "color", "x"]),
        "ERR Unrecognized option 'color'"
    );
    assert!(expect_err(&mut a, &["CLIENT", "MAINT_NOTIFICATIONS", "ON"])
        .starts_with("ERR unknown subcommand"));
    assert_eq!(query(&mut a, &["CLIENT", "NO-EVICT", "on"]), Value::Okay);
    assert_eq!(query(&mut a, &["CLIENT", "NO-TOUCH", "OFF"]), Value::Okay);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
    let line_a = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id_a} ")))
        .expect("a listed");
    assert!(line_a.contains(" name=worker-1 ") && line_a.contains("lib-name=mylib lib-ver=1.2.3"));
    assert!(line_a.contains(" cmd=client|no-touch "), "{line_a}");
    assert_eq!(list.lines().count(), 2);
    let only_b: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id_b)
        .query(&mut b)
        .unwrap();
    assert_eq!(only_b.lines().count(), 1);
    assert_eq!(
        expect_err(&mut b, &["CLIENT", "LIST", "TYPE", "robot"]),
        "ERR Unknown client type 'robot'"
    );
    // Kill a by id: b gets 1, a's connection is closed.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id_a)
        .query(&mut b)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(redis::cmd("PING").query::<String>(&mut a).is_err());
    assert_eq!(
        expect_err(&mut b, &["CLIENT", "KILL", "10.0.0.1:1"]),
        "ERR No such client"
    );
    // SKIPME yes (default) spares the caller.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut b)
        .unwrap();
    assert_eq!(killed, 0);
    assert_eq!(query(&mut b, &["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn client_kill_by_addr_and_help() {
    let server = TestServer::start();
    let mut victim = server.raw();
    let addr = victim.stream.local_addr().unwrap().to_string();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["CLIENT", "KILL", &addr]), "+OK\r\n");
    assert!(victim.is_closed());
    let help = c.cmd_str(&["CLIENT", "HELP"]);
    assert!(help.starts_with('*') && help.contains("+SETNAME <name>\r\n"));
}

/// A client whose replies fill the socket (it never reads) is waiting in its write and in its
/// read loop at once: CLIENT KILL must end both.
#[test]
fn client_kill_ends_a_client_stalled_on_its_replies() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut victim = server.raw();
    let id = crate::common::replies::int_of(&victim.cmd_str(&["CLIENT", "ID"]));
    let big = "x".repeat(4 << 20);
    assert_eq!(victim.cmd_str(&["SET", "big", &big]), "+OK\r\n");
    for _ in 0..16 {
        victim.send(&crate::common::encode_command(&[b"GET", b"big"]));
    }
    let listed = |admin: &mut crate::common::RawClient| {
        admin
            .cmd_str(&["CLIENT", "LIST"])
            .contains(&format!("id={id} "))
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(listed(&mut admin), "the stalled client is still connected");
    assert_eq!(
        admin.cmd_str(&["CLIENT", "KILL", "ID", &id.to_string()]),
        ":1\r\n"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while listed(&mut admin) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !listed(&mut admin),
        "CLIENT KILL left the stalled client connected"
    );
}

#[test]
fn client_reply_modes() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.send(&crate::common::encode_command(&[
        b"CLIENT", b"REPLY", b"OFF",
    ]));
    c.send(&crate::common::encode_command(&[b"ECHO", b"hidden"]));
    c.send(&crate::common::encode_command(&[
        b"CLIENT", b"REPLY", b"ON",
    ]));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.send(&crate::common::encode_command(&[
        b"CLIENT", b"REPLY", b"SKIP",
    ]));
    c.send(&crate::common::encode_command(&[b"ECHO", b"skipped"]));
    c.send(&crate::common::encode_command(&[b"ECHO", b"shown"]));
    assert_eq!(c.read_reply(), b"$5\r\nshown\r\n");
}

#[test]
fn reset_and_quit() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HELLO", "3", "SETNAME", "x"]);
    c.cmd_str(&["SELECT", "3"]);
    assert_eq!(c.cmd_str(&["RESET"]), "+RESET\r\n");
    let info = c.cmd_str(&["CLIENT", "INFO"]);
    assert!(
        info.starts_with('$') && info.contains(" db=0 ") && info.contains("resp=2"),
        "{info}"
    );
    assert_eq!(c.cmd_str(&["QUIT"]), "+OK\r\n");
    assert!(c.is_closed());
}

#[test]
fn config_get_set_resetstat() {
    let server = TestServer::start();
    let mut con = server.conn();
    let all = query(&mut con, &["CONFIG", "GET", "*"]);
    for name in [
        "port",
        "bind",
        "dir",
        "requirepass",
        "maxclients",
        "appendfsync",
        "databases",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
        "timeout",
        "loglevel",
        "save",
        "appendonly",
        "hash-max-listpack-entries",
        "zset-max-ziplist-entries",
        "set-max-intset-entries",
        "list-compress-depth",
    ] {
        assert!(map_get(&all, name).is_some(), "CONFIG GET * lacks {name}");
    }
    assert_eq!(
        map_get(&all, "proto-max-bulk-len"),
        Some(&bulk("536870912"))
    );
    let several = query(&mut con, &["CONFIG", "GET", "MAXCLIENTS", "time*"]);
    assert_eq!(map_get(&several, "maxclients"), Some(&bulk("10000")));
    assert_eq!(map_get(&several, "timeout"), Some(&bulk("0")));
    assert_eq!(
        query(&mut con, &["CONFIG", "GET", "nothing-matches"]),
        Value::Array(vec![])
    );
    assert_eq!(
        query(
            &mut con,
            &["CONFIG", "SET", "maxclients", "77", "timeout", "5"]
        ),
        Value::Okay
    );
    let after = query(&mut con, &["CONFIG", "GET", "maxclients", "timeout"]);
    assert_eq!(map_get(&after, "maxclients"), Some(&bulk("77")));
    assert_eq!(map_get(&after, "timeout"), Some(&bulk("5")));
    // Documented no-ops are accepted and reported back.
    assert_eq!(
        query(
            &mut con,
            &["CONFIG", "SET", "hash-max-listpack-entries", "512"]
        ),
        Value::Okay
    );
    let noop = query(&mut con, &["CONFIG", "GET", "hash-max-listpack-entries"]);
    assert_eq!(
        map_get(&noop, "hash-max-listpack-entries"),
        Some(&bulk("512"))
    );
    assert_eq!(
        expect_err(&mut con, &["CONFIG", "SET", "port", "1234"]),
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert_eq!(
        expect_err(&mut con, &["CONFIG", "SET", "maxclients", "lots"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        expect_err(&mut con, &["CONFIG", "SET", "no-such-thing", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-thing'"
    );
    // Atomic: a bad second pair leaves the first unchanged.
    assert!(expect_err(
        &mut con,
        &["CONFIG", "SET", "timeout", "9", "appendfsync", "sometimes"]
    )
    .contains("argument(s) must be one of the following: always, everysec, no"));
    let t = query(&mut con, &["CONFIG", "GET", "timeout"]);
    assert_eq!(map_get(&t, "timeout"), Some(&bulk("5")));
    assert_eq!(
        expect_err(&mut con, &["CONFIG", "SET", "timeout"]),
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(
        expect_err(&mut con, &["CONFIG", "REWRITE"]),
        "ERR The server is running without a config file"
    );
    // RESETSTAT zeroes the counters INFO shows; like Redis, RESETSTAT itself is then counted.
    assert_eq!(query(&mut con, &["CONFIG", "RESETSTAT"]), Value::Okay);
    let stats: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert!(stats.contains("total_commands_processed:1\r\n"), "{stats}");
    assert!(stats.contains("total_error_replies:0\r\n"), "{stats}");
}

#[test]
fn info_sections_parse_like_redis() {
    let server = TestServer::start();
    let mut con = server.conn();
    for _ in 0..3 {
        query(&mut con, &["PING"]);
    }
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Keyspace",
    ] {
        assert!(
            info.contains(&format!("{section}\r\n")),
            "INFO lacks {section}"
        );
    }
    for line in info
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(line.contains(':'), "bad INFO line {line:?}");
    }
    assert!(
        !info.replace("\r\n", "").contains('\n'),
        "INFO lines must end in \\r\\n"
    );
    for field in [
        "redis_version:8.2.0",
        "connected_clients:1",
        "role:master",
        "loading:0",
        "rdb_bgsave_in_progress:0",
        "aof_rewrite_in_progress:0",
        "blocked_clients:0",
        "redis_mode:standalone",
        "cluster_enabled:0",
    ] {
        assert!(info.contains(&format!("{field}\r\n")), "INFO lacks {field}");
    }
    let processed: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(processed >= 3);
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(used > 0);
    let server_only: String = redis::cmd("INFO").arg("SERVER").query(&mut con).unwrap();
    assert!(server_only.starts_with("# Server\r\n") && !server_only.contains("# Clients"));
    let all: String = redis::cmd("INFO").arg("all").query(&mut con).unwrap();
    assert!(all.contains("cmdstat_ping:calls=3,"), "{all}");
    let none: String = redis::cmd("INFO")
        .arg("nosuchsection")
        .query(&mut con)
        .unwrap();
    assert_eq!(none, "");
}

#[test]
fn command_introspection() {
    let server = TestServer::start();
    let mut con = server.conn();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let Value::Array(all) = query(&mut con, &["COMMAND"]) else {
        panic!("array")
    };
    assert_eq!(all.len() as i64, count);
    let Value::Array(info) = query(
        &mut con,
        &["COMMAND", "INFO", "echo", "nosuch", "config|get"],
    ) else {
        panic!("array")
    };
    assert_eq!(info.len(), 3);
    let Value::Array(echo) = &info[0] else {
        panic!("echo info")
    };
    assert_eq!(echo.len(), 10);
    assert_eq!(echo[0], bulk("echo"));
    assert_eq!(echo[1], Value::Int(2));
    assert_eq!(info[1], Value::Nil);
    let Value::Array(config_get) = &info[2] else {
        panic!("config|get info")
    };
    assert_eq!(config_get[1], Value::Int(-3));
    let docs = query(&mut con, &["COMMAND", "DOCS", "ping"]);
    let ping_docs = map_get(&docs, "ping").expect("ping docs");
    assert!(map_get(ping_docs, "summary").is_some() && map_get(ping_docs, "group").is_some());
    let all_docs = query(&mut con, &["COMMAND", "DOCS"]);
    assert!(map_get(&all_docs, "config")
        .and_then(|d| map_get(d, "subcommands"))
        .is_some());
    assert_eq!(
        expect_err(&mut con, &["COMMAND", "GETKEYS", "ping"]),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        expect_err(&mut con, &["COMMAND", "GETKEYS", "nosuch", "x"]),
        "ERR Invalid command specified"
    );
    assert_eq!(
        expect_err(&mut con, &["COMMAND", "GETKEYS", "echo"]),
        "ERR Invalid number of arguments specified for command"
    );
    let Value::Array(names) = query(
        &mut con,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "client*"],
    ) else {
        panic!("array")
    };
    assert!(names.contains(&bulk("client|setname")) && names.contains(&bulk("client")));
}

#[test]
fn cluster_and_module_answers() {
    let server = TestServer::start();
    let mut con = server.conn();
    assert_eq!(
        expect_err(&mut con, &["CLUSTER", "INFO"]),
        "ERR This instance has cluster support disabled"
    );
    assert_eq!(
        expect_err(&mut con, &["CLUSTER", "SLOTS"]),
        "ERR This instance has cluster support disabled"
    );
    assert_eq!(query(&mut con, &["MODULE", "LIST"]), Value::Array(vec![]));
}

#[test]
fn dbsize_and_flush_forms() {
    let server = TestServer::start();
    let mut con = server.conn();
    assert_eq!(query(&mut con, &["DBSIZE"]), Value::Int(0));
    assert_eq!(query(&mut con, &["FLUSHDB"]), Value::Okay);
    assert_eq!(query(&mut con, &["FLUSHDB", "ASYNC"]), Value::Okay);
    assert_eq!(query(&mut con, &["FLUSHALL", "sync"]), Value::Okay);
    assert_eq!(
        expect_err(&mut con, &["FLUSHALL", "ASYNC", "SYNC"]),
        "ERR syntax error"
    );
}

#[test]
fn maxclients_refuses_with_redis_error() {
    let server = TestServer::with(|c| c.maxclients = 2);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(a.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(b.cmd_str(&["PING"]), "+PONG\r\n");
    let mut c = server.raw();
    assert_eq!(c.read_reply(), b"-ERR max number of clients reached\r\n");
    assert!(c.is_closed());
    let stats = a.cmd_str(&["INFO", "stats"]);
    assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
}

#[test]
fn idle_timeout_closes_quiet_clients() {
    let server = TestServer::with(|c| c.timeout_secs = 1);
    let mut idle = server.raw();
    assert_eq!(idle.cmd_str(&["PING"]), "+PONG\r\n");
    idle.set_timeout(std::time::Duration::from_secs(5));
    assert!(idle.is_closed(), "idle client not closed");
}

#[test]
fn shutdown_command_stops_the_server() {
    let server = TestServer::start();
    let addr = server.addr;
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(c.cmd_str(&["SHUTDOWN", "MAYBE"]), "-ERR syntax error\r\n");
    c.send(&crate::common::encode_command(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(c.is_closed(), "SHUTDOWN closes without a reply");
    server.wait();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener still open"
    );
}

/// Deep pipelines from several clients at once: their batches go to the writer thread while
/// the event loop keeps reading. Every write lands once, and each client's writes keep their
/// order.
#[test]
fn deep_pipelines_from_many_clients_lose_and_reorder_nothing() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 3;
    const DEPTH: usize = 400;
    let server = TestServer::start();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut con = server.conn();
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let mut pipe = redis::pipe();
                    for i in 0..DEPTH {
                        pipe.cmd("RPUSH")
                            .arg(format!("list:{c}"))
                            .arg(round * DEPTH + i);
                        pipe.cmd("INCR").arg("counter");
                    }
                    let replies: Vec<i64> = pipe.query(&mut con).unwrap();
                    // RPUSH answers the list's length: this client's pushes in order.
                    for (i, pair) in replies.chunks(2).enumerate() {
                        assert_eq!(pair[0], (round * DEPTH + i + 1) as i64);
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let mut con = server.conn();
    let counter: usize = redis::cmd("GET").arg("counter").query(&mut con).unwrap();
    assert_eq!(counter, CLIENTS * ROUNDS * DEPTH);
    for c in 0..CLIENTS {
        let list: Vec<usize> = redis::cmd("LRANGE")
            .arg(format!("list:{c}"))
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        assert_eq!(list, (0..ROUNDS * DEPTH).collect::<Vec<_>>());
    }
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut con)
        .unwrap();
    let handed_off: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("engine_writer_thread_batches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no engine_writer_thread_batches in {info}"));
    assert!(handed_off > 0, "no batch reached the writer thread: {info}");
}

#[test]
fn command_stats_count_every_call_of_a_pipeline() {
    let server = TestServer::start();
    let mut con = server.conn();
    // Runs of equal calls (counted once per run) mixed with failures and other commands.
    let mut pipe = redis::pipe();
    for _ in 0..3 {
        pipe.cmd("SET").arg("k").arg("v").ignore();
    }
    pipe.cmd("INCR").arg("k").ignore(); // fails: not an integer
    pipe.cmd("INCR").arg("k").ignore(); // fails
    pipe.cmd("SET").arg("k").arg("5").ignore();
    pipe.cmd("INCR").arg("k").ignore();
    pipe.cmd("INCR").arg("k").ignore();
    pipe.cmd("GET").arg("k").ignore();
    pipe.cmd("INCR").arg("k").ignore();
    let _: redis::RedisResult<()> = pipe.query(&mut con);
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    let line = |name: &str| {
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
            .to_string()
    };
    let field = |line: &str, f: &str| -> u64 {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(&format!("{f}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {f} in {line}"))
    };
    let (set, incr, get) = (line("set"), line("incr"), line("get"));
    assert_eq!(field(&set, "calls"), 4, "{set}");
    assert_eq!(field(&set, "failed_calls"), 0, "{set}");
    assert_eq!(field(&incr, "calls"), 5, "{incr}");
    assert_eq!(field(&incr, "failed_calls"), 2, "{incr}");
    assert_eq!(field(&get, "calls"), 1, "{get}");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert!(info.contains("total_error_replies:2\r\n"), "{info}");
    let value: i64 = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(value, 8);
}
