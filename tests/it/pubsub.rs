//! Pub/sub, keyspace notifications and client tracking through real clients: the `redis`
//! crate's pub/sub API and exact frames over raw sockets.

use std::time::{Duration, Instant};

use crate::common::replies::*;
use crate::common::{encode_command, RawClient, TestServer};

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A push frame (RESP3) of bulk strings.
fn push(items: &[&str]) -> String {
    format!(
        ">{}\r\n{}",
        items.len(),
        items.iter().map(|s| bulk(s)).collect::<String>()
    )
}

/// Sends a command without reading its reply.
fn send(c: &mut RawClient, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode_command(&args));
}

/// The next frame as text.
fn next(c: &mut RawClient) -> String {
    text(c.read_reply())
}

/// A (un)subscribe confirmation in RESP2.
fn confirm(kind: &str, name: &str, count: i64) -> String {
    format!("*3\r\n{}{}{}", bulk(kind), bulk(name), int(count))
}

#[test]
fn the_redis_crate_receives_channel_and_pattern_messages() {
    let server = TestServer::start();
    let mut sub_con = server.conn();
    let mut publisher = server.conn();
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("news.tech").unwrap();
    sub.psubscribe("news.*").unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A client subscribed by channel and by a matching pattern counts (and hears) twice.
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news.tech")
        .arg("hello")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(receivers, 2);
    let first = sub.get_message().unwrap();
    assert_eq!(first.get_channel_name(), "news.tech");
    assert_eq!(first.get_payload::<String>().unwrap(), "hello");
    assert!(!first.from_pattern());
    let second = sub.get_message().unwrap();
    assert!(second.from_pattern());
    assert_eq!(second.get_pattern::<String>().unwrap(), "news.*");
    assert_eq!(second.get_payload::<String>().unwrap(), "hello");
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("sport")
        .arg("x")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(receivers, 0);
}

#[test]
fn resp2_subscribed_connections_take_only_pubsub_commands() {
    let server = TestServer::start();
    let mut c = server.raw();
    send(&mut c, &["SUBSCRIBE", "a", "b"]);
    assert_eq!(next(&mut c), confirm("subscribe", "a", 1));
    assert_eq!(next(&mut c), confirm("subscribe", "b", 2));
    assert_eq!(
        c.cmd_str(&["GET", "x"]),
        err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
    );
    assert_eq!(
        c.cmd_str(&["CLIENT", "ID"]),
        err("ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
    );
    assert_eq!(c.cmd_str(&["PING"]), bulks(&["pong", ""]));
    assert_eq!(c.cmd_str(&["PING", "hi"]), bulks(&["pong", "hi"]));
    send(&mut c, &["PSUBSCRIBE", "p*"]);
    assert_eq!(next(&mut c), confirm("psubscribe", "p*", 3));
    // UNSUBSCRIBE with no argument leaves every channel, one reply each.
    send(&mut c, &["UNSUBSCRIBE"]);
    let first = next(&mut c);
    let second = next(&mut c);
    let mut left = [first.clone(), second.clone()];
    left.sort();
    assert_eq!(
        left.map(|f| f.replace(":2\r\n", ":N\r\n").replace(":1\r\n", ":N\r\n")),
        [
            confirm("unsubscribe", "a", 0),
            confirm("unsubscribe", "b", 0)
        ]
        .map(|f| f.replace(":0\r\n", ":N\r\n"))
    );
    assert!(first.ends_with(":2\r\n") && second.ends_with(":1\r\n"));
    send(&mut c, &["PUNSUBSCRIBE"]);
    assert_eq!(next(&mut c), confirm("punsubscribe", "p*", 0));
    // Nothing left: still one reply, with a null name.
    assert_eq!(
        c.cmd_str(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    );
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn resp3_subscribers_get_push_frames_and_run_any_command() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.cmd_str(&["HELLO", "3"]);
    send(&mut c, &["SUBSCRIBE", "ch"]);
    assert_eq!(
        next(&mut c),
        format!(">3\r\n{}{}{}", bulk("subscribe"), bulk("ch"), int(1))
    );
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), OK);
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("v"));
    // Its own PUBLISH: the message comes before the reply, as Redis writes it.
    send(&mut c, &["PUBLISH", "ch", "m1"]);
    assert_eq!(next(&mut c), push(&["message", "ch", "m1"]));
    assert_eq!(next(&mut c), int(1));
    let mut other = server.raw();
    assert_eq!(other.cmd_str(&["PUBLISH", "ch", "m2"]), int(1));
    assert_eq!(next(&mut c), push(&["message", "ch", "m2"]));
}

#[test]
fn each_subscriber_sees_a_publishers_messages_in_order() {
    let server = TestServer::start();
    let mut subs: Vec<RawClient> = (0..3).map(|_| server.raw()).collect();
    for s in &mut subs {
        send(s, &["SUBSCRIBE", "seq"]);
        next(s);
    }
    let mut publisher = server.raw();
    // Pipelined, so the publishes race the subscribers' writes.
    let mut batch = Vec::new();
    for i in 0..2000 {
        batch.extend(encode_command(&[
            b"PUBLISH",
            b"seq",
            i.to_string().as_bytes(),
        ]));
    }
    publisher.send(&batch);
    for _ in 0..2000 {
        assert_eq!(next(&mut publisher), int(3));
    }
    for s in &mut subs {
        for i in 0..2000 {
            assert_eq!(next(s), bulks(&["message", "seq", &i.to_string()]));
        }
    }
}

#[test]
fn pubsub_introspection_counts_channels_subscribers_and_patterns() {
    let server = TestServer::start();
    let mut a = server.raw();
    let mut b = server.raw();
    send(&mut a, &["SUBSCRIBE", "x", "y"]);
    next(&mut a);
    next(&mut a);
    send(&mut b, &["SUBSCRIBE", "x"]);
    next(&mut b);
    send(&mut b, &["PSUBSCRIBE", "p*", "q?"]);
    next(&mut b);
    next(&mut b);
    send(&mut a, &["PSUBSCRIBE", "p*"]);
    next(&mut a);
    send(&mut b, &["SSUBSCRIBE", "shard"]);
    assert_eq!(next(&mut b), confirm("ssubscribe", "shard", 1));
    let mut admin = server.raw();
    let channels = admin.cmd_str(&["PUBSUB", "CHANNELS"]);
    assert!(
        channels.starts_with("*2\r\n")
            && channels.contains("$1\r\nx\r\n")
            && channels.contains("$1\r\ny\r\n"),
        "{channels}"
    );
    assert_eq!(admin.cmd_str(&["PUBSUB", "CHANNELS", "y*"]), bulks(&["y"]));
    assert_eq!(
        admin.cmd_str(&["PUBSUB", "NUMSUB", "x", "y", "z"]),
        arr(&[bulk("x"), int(2), bulk("y"), int(1), bulk("z"), int(0)])
    );
    assert_eq!(admin.cmd_str(&["PUBSUB", "NUMPAT"]), int(2));
    assert_eq!(
        admin.cmd_str(&["PUBSUB", "SHARDCHANNELS"]),
        bulks(&["shard"])
    );
    assert_eq!(
        admin.cmd_str(&["PUBSUB", "SHARDNUMSUB", "shard"]),
        arr(&[bulk("shard"), int(1)])
    );
    // Shard channels are their own namespace: PUBLISH does not reach them.
    assert_eq!(admin.cmd_str(&["PUBLISH", "shard", "m"]), int(0));
    assert_eq!(admin.cmd_str(&["SPUBLISH", "shard", "m"]), int(1));
    assert_eq!(next(&mut b), bulks(&["smessage", "shard", "m"]));
    // Pattern receivers count once per matching pattern per client.
    assert_eq!(admin.cmd_str(&["PUBLISH", "pz", "m"]), int(2));
    assert_eq!(next(&mut b), bulks(&["pmessage", "p*", "pz", "m"]));
    let info = admin.cmd_str(&["INFO", "stats"]);
    assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:2\r\n"), "{info}");
    assert!(info.contains("pubsubshard_channels:1\r\n"), "{info}");
    assert!(admin
        .cmd_str(&["INFO", "clients"])
        .contains("pubsub_clients:2\r\n"));
    // A client that leaves takes its subscriptions along.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while admin.cmd_str(&["PUBSUB", "NUMSUB", "x"]) != arr(&[bulk("x"), int(1)]) {
        assert!(
            Instant::now() < deadline,
            "subscriptions of a gone client stay"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(admin.cmd_str(&["PUBSUB", "NUMPAT"]), int(2));
    assert_eq!(admin.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(b.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(admin.cmd_str(&["PUBSUB", "NUMPAT"]), int(0));
}

#[test]
fn a_subscriber_that_never_reads_is_cut_off_and_slows_nobody() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd_str(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 0 0"
        ]),
        OK
    );
    let mut stuck = server.raw();
    send(&mut stuck, &["SUBSCRIBE", "flood"]);
    next(&mut stuck);
    let mut reader = server.raw();
    send(&mut reader, &["SUBSCRIBE", "flood"]);
    next(&mut reader);
    // ~40 MB published; the stuck client's socket buffers fill long before that. The reader
    // takes each message before the next is published, so it never falls behind.
    let payload = "x".repeat(64 * 1024);
    let expected = bulks(&["message", "flood", &payload]);
    let mut publisher = server.raw();
    for _ in 0..640 {
        let n = int_of(&publisher.cmd_str(&["PUBLISH", "flood", &payload]));
        assert!(n == 1 || n == 2, "{n}");
        assert!(next(&mut reader) == expected, "the reader lost a message");
    }
    let info = admin.cmd_str(&["INFO", "stats"]);
    assert!(
        info.contains("client_output_buffer_limit_disconnections:1\r\n"),
        "{info}"
    );
    assert_eq!(
        admin.cmd_str(&["PUBSUB", "NUMSUB", "flood"]),
        arr(&[bulk("flood"), int(1)])
    );
    // What the stuck client had was cut short: it ends closed.
    stuck.set_timeout(Duration::from_secs(5));
    while stuck.try_read_reply().is_some() {}
}

#[test]
fn big_messages_binary_names_and_many_channels() {
    let server = TestServer::start();
    let mut sub = server.raw();
    let mut admin = server.raw();
    let channel: &[u8] = b"bin\x00\xff\r\nname";
    sub.send(&encode_command(&[b"SUBSCRIBE", channel]));
    sub.read_reply();
    let big = vec![b'z'; 8 * 1024 * 1024];
    assert_eq!(text(admin.cmd(&[b"PUBLISH", channel, &big])), int(1));
    let message = sub.read_reply();
    let mut expected = b"*3\r\n$7\r\nmessage\r\n".to_vec();
    expected.extend(format!("${}\r\n", channel.len()).as_bytes());
    expected.extend(channel);
    expected.extend(format!("\r\n${}\r\n", big.len()).as_bytes());
    expected.extend(&big);
    expected.extend(b"\r\n");
    assert!(message == expected, "8 MB message differs");
    // 100,000 channels on one connection: one confirmation each, counts exact.
    let mut many = server.raw();
    let names: Vec<String> = (0..100_000).map(|i| format!("c:{i}")).collect();
    let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
    args.extend(names.iter().map(|n| n.as_bytes()));
    many.send(&encode_command(&args));
    for (i, name) in names.iter().enumerate() {
        assert_eq!(next(&mut many), confirm("subscribe", name, i as i64 + 1));
    }
    assert_eq!(
        admin.cmd_str(&["PUBSUB", "NUMSUB", "c:99999"]),
        arr(&[bulk("c:99999"), int(1)])
    );
    assert_eq!(admin.cmd_str(&["PUBLISH", "c:77", "hi"]), int(1));
    assert_eq!(next(&mut many), bulks(&["message", "c:77", "hi"]));
    drop(many);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !admin
        .cmd_str(&["INFO", "stats"])
        .contains("pubsub_channels:1\r\n")
    {
        assert!(Instant::now() < deadline, "channels of a gone client stay");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A subscriber to every keyspace and keyevent channel.
fn keyspace_listener(server: &TestServer) -> RawClient {
    let mut c = server.raw();
    send(&mut c, &["PSUBSCRIBE", "__key*__:*"]);
    next(&mut c);
    c
}

/// The next keyspace notification as (channel, message).
fn event(c: &mut RawClient) -> (String, String) {
    let frame = next(c);
    let parts: Vec<&str> = frame.split("\r\n").collect();
    // *4 $8 pmessage $n pattern $n channel $n message
    (parts[6].to_string(), parts[8].to_string())
}

#[test]
fn keyspace_events_come_from_the_write_path() {
    let server = TestServer::with(|c| c.set("notify-keyspace-events", "KEA").unwrap());
    let mut events = keyspace_listener(&server);
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["LPUSH", "q", "a"]), int(1));
    assert_eq!(
        event(&mut events),
        ("__keyspace@0__:q".into(), "lpush".into())
    );
    assert_eq!(
        event(&mut events),
        ("__keyevent@0__:lpush".into(), "q".into())
    );
    assert_eq!(c.cmd_str(&["RPOP", "q"]), bulk("a"));
    assert_eq!(
        event(&mut events),
        ("__keyspace@0__:q".into(), "rpop".into())
    );
    assert_eq!(
        event(&mut events),
        ("__keyevent@0__:rpop".into(), "q".into())
    );
    // The list emptied away: a del follows.
    assert_eq!(
        event(&mut events),
        ("__keyspace@0__:q".into(), "del".into())
    );
    assert_eq!(
        event(&mut events),
        ("__keyevent@0__:del".into(), "q".into())
    );
    // Only the classes asked for: string events only, keyevent channel only.
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "E$"]),
        OK
    );
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "notify-keyspace-events"]),
        bulks(&["notify-keyspace-events", "$E"])
    );
    c.cmd_str(&["SADD", "s", "m"]);
    c.cmd_str(&["SELECT", "3"]);
    c.cmd_str(&["INCR", "n"]);
    assert_eq!(
        event(&mut events),
        ("__keyevent@3__:incrby".into(), "n".into())
    );
    // Expiry fires when the key really goes (here: active expiry).
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]),
        OK
    );
    c.cmd_str(&["SET", "t", "v", "PX", "20"]);
    events.set_timeout(Duration::from_secs(5));
    assert_eq!(
        event(&mut events),
        ("__keyevent@3__:expired".into(), "t".into())
    );
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "KQ"]),
        err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    );
}

#[test]
fn transactions_and_blocked_pops_raise_their_commands_events() {
    let server = TestServer::with(|c| c.set("notify-keyspace-events", "El").unwrap());
    let mut events = keyspace_listener(&server);
    let mut c = server.raw();
    let mut blocked = server.raw();
    send(&mut blocked, &["BLPOP", "jobs", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    c.cmd_str(&["MULTI"]);
    c.cmd_str(&["RPUSH", "jobs", "1", "2"]);
    c.cmd_str(&["LMOVE", "jobs", "done", "LEFT", "RIGHT"]);
    assert!(c.cmd_str(&["EXEC"]).starts_with("*2\r\n"));
    let got: Vec<(String, String)> = (0..4).map(|_| event(&mut events)).collect();
    assert_eq!(
        got,
        [
            ("__keyevent@0__:rpush".to_string(), "jobs".to_string()),
            // LMOVE: the push, then the pop (Redis's order).
            ("__keyevent@0__:rpush".to_string(), "done".to_string()),
            ("__keyevent@0__:lpop".to_string(), "jobs".to_string()),
            // The blocked client is served once the transaction is done.
            ("__keyevent@0__:lpop".to_string(), "jobs".to_string()),
        ]
    );
    assert_eq!(next(&mut blocked), bulks(&["jobs", "2"]));
}

#[test]
fn client_tracking_invalidates_what_a_client_read() {
    let server = TestServer::start();
    let mut reader = server.raw();
    let mut writer = server.raw();
    reader.cmd_str(&["HELLO", "3"]);
    assert_eq!(reader.cmd_str(&["CLIENT", "TRACKING", "ON"]), OK);
    assert_eq!(reader.cmd_str(&["CLIENT", "GETREDIR"]), int(0));
    reader.cmd_str(&["GET", "k"]);
    reader.cmd_str(&["HGET", "h", "f"]);
    writer.cmd_str(&["SET", "k", "1"]);
    assert_eq!(
        next(&mut reader),
        format!(">2\r\n{}*1\r\n{}", bulk("invalidate"), bulk("k"))
    );
    // Invalidated once: a second write says nothing until it is read again.
    writer.cmd_str(&["SET", "k", "2"]);
    writer.cmd_str(&["HSET", "h", "f", "v"]);
    assert_eq!(
        next(&mut reader),
        format!(">2\r\n{}*1\r\n{}", bulk("invalidate"), bulk("h"))
    );
    // A flush invalidates everything, with a null.
    writer.cmd_str(&["FLUSHALL"]);
    assert_eq!(
        next(&mut reader),
        format!(">2\r\n{}_\r\n", bulk("invalidate"))
    );
    let info = reader.cmd_str(&["CLIENT", "TRACKINGINFO"]);
    assert!(info.contains("~1\r\n$2\r\non\r\n"), "{info}");
    assert_eq!(reader.cmd_str(&["CLIENT", "TRACKING", "OFF"]), OK);
    assert_eq!(reader.cmd_str(&["CLIENT", "GETREDIR"]), int(-1));
}

#[test]
fn tracking_redirects_bcast_prefixes_noloop_and_optin() {
    let server = TestServer::start();
    // RESP2: invalidations go to a client subscribed to __redis__:invalidate.
    let mut sink = server.raw();
    let sink_id = int_of(&sink.cmd_str(&["CLIENT", "ID"]));
    send(&mut sink, &["SUBSCRIBE", "__redis__:invalidate"]);
    next(&mut sink);
    let mut reader = server.raw();
    let id = sink_id.to_string();
    assert_eq!(
        reader.cmd_str(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id, "BCAST", "PREFIX", "user:"]),
        OK
    );
    assert_eq!(reader.cmd_str(&["CLIENT", "GETREDIR"]), int(sink_id));
    let mut writer = server.raw();
    writer.cmd_str(&["SET", "other", "1"]);
    writer.cmd_str(&["SET", "user:1", "1"]);
    assert_eq!(
        next(&mut sink),
        format!(
            "*3\r\n{}{}*1\r\n{}",
            bulk("message"),
            bulk("__redis__:invalidate"),
            bulk("user:1")
        )
    );
    assert_eq!(
        reader.cmd_str(&["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"]),
        err("ERR The client ID you want redirect to does not exist")
    );
    assert_eq!(
        writer.cmd_str(&["CLIENT", "TRACKING", "ON", "PREFIX", "a"]),
        err("ERR PREFIX option requires BCAST mode to be enabled")
    );
    assert_eq!(
        writer.cmd_str(&["CLIENT", "CACHING", "YES"]),
        err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
    );
    // NOLOOP: a client's own writes do not invalidate its cache; OPTIN tracks only after
    // CLIENT CACHING YES.
    let mut me = server.raw();
    me.cmd_str(&["HELLO", "3"]);
    assert_eq!(
        me.cmd_str(&["CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP"]),
        OK
    );
    me.cmd_str(&["GET", "untracked"]);
    assert_eq!(me.cmd_str(&["CLIENT", "CACHING", "YES"]), OK);
    me.cmd_str(&["GET", "tracked"]);
    me.cmd_str(&["SET", "tracked", "mine"]);
    writer.cmd_str(&["SET", "untracked", "x"]);
    me.cmd_str(&["GET", "tracked"]);
    me.cmd_str(&["CLIENT", "CACHING", "YES"]);
    me.cmd_str(&["GET", "tracked"]);
    writer.cmd_str(&["SET", "tracked", "theirs"]);
    assert_eq!(
        next(&mut me),
        format!(">2\r\n{}*1\r\n{}", bulk("invalidate"), bulk("tracked"))
    );
    assert_eq!(me.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn a_read_that_finds_an_expired_key_removes_it_and_reports_expired() {
    let server = TestServer::with(|c| c.set("notify-keyspace-events", "Ex").unwrap());
    let mut events = keyspace_listener(&server);
    let mut c = server.raw();
    // Thousands of keys due at once: active expiry (a bounded number per tick) takes seconds
    // to reach the last one set, so its event arriving early is the read's doing.
    let mut batch = Vec::new();
    for i in 0..5000 {
        batch.extend(encode_command(&[
            b"SET",
            format!("k:{i}").as_bytes(),
            b"v",
            b"PX",
            b"200",
        ]));
    }
    batch.extend(encode_command(&[b"SET", b"zzz", b"v", b"PX", b"200"]));
    c.send(&batch);
    for _ in 0..5001 {
        assert_eq!(next(&mut c), OK);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd_str(&["GET", "zzz"]), NIL2);
    let mut before = 0;
    loop {
        let (channel, key) = event(&mut events);
        assert_eq!(channel, "__keyevent@0__:expired");
        if key == "zzz" {
            break;
        }
        before += 1;
    }
    assert!(before < 5000, "zzz expired only after every other key");
}
