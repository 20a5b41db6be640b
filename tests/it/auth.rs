//! requirepass, AUTH and HELLO AUTH, NOAUTH, and the limits on unauthenticated clients.

use redis::Value;

use crate::common::{expect_err, query, TestServer};

#[test]
fn without_password_auth_forms_behave_as_redis() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["AUTH", "pw"]),
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n"
    );
    // The default user is `nopass`: user+password forms succeed.
    assert_eq!(c.cmd_str(&["AUTH", "default", "anything"]), "+OK\r\n");
    assert!(c
        .cmd_str(&["HELLO", "3", "AUTH", "default", "pw"])
        .starts_with("%7"));
    assert_eq!(
        c.cmd_str(&["AUTH", "alice", "pw"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_str(&["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");
}

#[test]
fn requirepass_gates_commands() {
    let server = TestServer::with(|c| c.requirepass = "s3cret".into());
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "*"]),
        "-NOAUTH Authentication required.\r\n"
    );
    // Unknown commands and arity errors come first, as in Redis.
    assert!(c.cmd_str(&["nosuch"]).starts_with("-ERR unknown command"));
    assert!(c
        .cmd_str(&["HELLO", "3"])
        .starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
    assert_eq!(
        c.cmd_str(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_str(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    // RESET de-authenticates.
    assert_eq!(c.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert!(c
        .cmd_str(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n"])
        .starts_with("%7"));
    assert_eq!(c.cmd_str(&["CLIENT", "GETNAME"]), "$1\r\nn\r\n");
    assert_eq!(c.cmd_str(&["QUIT"]), "+OK\r\n");
}

#[test]
fn unauthenticated_clients_cannot_send_big_frames() {
    let server = TestServer::with(|c| c.requirepass = "pw".into());
    let mut c = server.raw();
    c.send(b"*11\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(c.is_closed());
    let mut c = server.raw();
    c.send(b"*2\r\n$4\r\nAUTH\r\n$100000\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
}

#[test]
fn redis_crate_authenticates_with_url_password() {
    let server = TestServer::with(|c| c.requirepass = "pw".into());
    let url = format!("redis://:pw@{}/", server.addr);
    let mut con = redis::Client::open(url.clone())
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(
        query(&mut con, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    let mut con3 = redis::Client::open(format!("{url}?protocol=resp3"))
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(
        query(&mut con3, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    let bad = redis::Client::open(format!("redis://:nope@{}/", server.addr)).unwrap();
    assert!(bad.get_connection().is_err());
    // CONFIG SET requirepass applies to new connections; existing ones stay authenticated.
    assert_eq!(
        query(&mut con, &["CONFIG", "SET", "requirepass", "new"]),
        Value::Okay
    );
    assert_eq!(
        query(&mut con, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    let mut fresh = server.raw();
    assert_eq!(
        fresh.cmd_str(&["PING"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(fresh.cmd_str(&["AUTH", "default", "new"]), "+OK\r\n");
    let mut plain = redis::Client::open(format!("redis://{}/", server.addr))
        .unwrap()
        .get_connection();
    if let Ok(con) = plain.as_mut() {
        assert!(expect_err(con, &["PING"]).starts_with("NOAUTH"));
    }
}
