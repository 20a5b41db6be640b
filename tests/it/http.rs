//! The HTTP API over real sockets: the Upstash REST forms, base64 replies, auth, limits, CORS,
//! server-sent events fed by RESP publishers and keyspace notifications, metrics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::TestServer;

/// An HTTP/1.1 response: status, lower-case headers, body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &[u8],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(path);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: luma\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);
    s.write_all(&req).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
    out
}

fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    request(addr, "POST", path.as_bytes(), &[], body.as_bytes())
}

#[test]
fn commands_in_every_form_with_upstash_replies() {
    let server = TestServer::start();
    let a = server.http_addr();
    let r = post(a, "/", r#"["SET","k","v","EX",100]"#);
    assert_eq!((r.status, r.text()), (200, r#"{"result":"OK"}"#.into()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(post(a, "/", r#"["get","k"]"#).text(), r#"{"result":"v"}"#);
    assert_eq!(post(a, "/", r#"["TTL","k"]"#).text(), r#"{"result":100}"#);
    assert_eq!(
        post(a, "/", r#"["GET","nokey"]"#).text(),
        r#"{"result":null}"#
    );
    // Numbers and booleans become their text.
    assert_eq!(
        post(a, "/", r#"["SET","n",1.5e+21]"#).text(),
        r#"{"result":"OK"}"#
    );
    assert_eq!(
        post(a, "/", r#"["GET","n"]"#).text(),
        r#"{"result":"1.5e+21"}"#
    );
    // The path form, and a body as the last argument.
    let r = request(a, "GET", b"/incrby/counter/5", &[], b"");
    assert_eq!(r.text(), r#"{"result":5}"#);
    let r = request(a, "POST", b"/set/doc", &[], br#"{"json":"body"}"#);
    assert_eq!(r.text(), r#"{"result":"OK"}"#);
    assert_eq!(
        post(a, "/", r#"["GET","doc"]"#).text(),
        r#"{"result":"{\"json\":\"body\"}"}"#
    );
    // Binary round trip: percent-encoded bytes in, base64 out.
    let r = request(a, "GET", b"/set/bin/%00%FF%0Aa", &[], b"");
    assert_eq!(r.status, 200);
    let r = request(
        a,
        "POST",
        b"/",
        &[("Upstash-Encoding", "base64")],
        br#"["GET","bin"]"#,
    );
    assert_eq!(r.text(), r#"{"result":"AP8KYQ=="}"#);
    // Maps are flat arrays; every string is encoded, numbers and nulls are not.
    post(a, "/", r#"["HSET","h","f","1"]"#);
    let r = request(
        a,
        "POST",
        b"/pipeline",
        &[("Upstash-Encoding", "base64")],
        br#"[["HGETALL","h"],["INCR","c"],["GET","none"],["PING"]]"#,
    );
    assert_eq!(
        r.text(),
        r#"[{"result":["Zg==","MQ=="]},{"result":1},{"result":null},{"result":"UE9ORw=="}]"#
    );
    // A failed command is a 400 with Redis's error; in a pipeline each command has its own.
    let r = post(a, "/", r#"["LPUSH","k","x"]"#);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}"#
    );
    let r = post(
        a,
        "/pipeline",
        r#"[["INCR","c"],["LPUSH","k","x"],["INCR","c"]]"#,
    );
    assert_eq!(
        (r.status, r.text()),
        (
            200,
            r#"[{"result":2},{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"},{"result":3}]"#
                .into()
        )
    );
}

#[test]
fn multi_exec_is_atomic_and_refused_whole_on_a_bad_command() {
    let server = TestServer::start();
    let a = server.http_addr();
    let r = post(
        a,
        "/multi-exec",
        r#"[["SET","a","1"],["INCR","a"],["LPUSH","a","x"]]"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        r#"[{"result":"OK"},{"result":2},{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}]"#
    );
    let r = post(a, "/multi-exec", r#"[["SET","b","1"],["NOSUCH"]]"#);
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with(r#"{"error":"EXECABORT"#),
        "{}",
        r.text()
    );
    assert_eq!(post(a, "/", r#"["EXISTS","b"]"#).text(), r#"{"result":0}"#);
}

#[test]
fn bad_requests_get_json_errors_and_the_right_status() {
    let server = TestServer::with(|c| c.http_max_body = 4096);
    let a = server.http_addr();
    for (body, status) in [
        ("not json", 400),
        (r#"{"cmd":"get"}"#, 400),
        ("[]", 400),
        (r#"["SET","k",null]"#, 400),
        (r#"["SET","k",["nested"]]"#, 400),
        (r#"["SUBSCRIBE","ch"]"#, 400),
        (r#"["MONITOR"]"#, 400),
    ] {
        let r = post(a, "/", body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(
            r.text().starts_with(r#"{"error":""#),
            "{body}: {}",
            r.text()
        );
    }
    assert_eq!(post(a, "/pipeline", "[]").status, 400);
    assert_eq!(post(a, "/pipeline", r#"["GET","k"]"#).status, 400);
    let huge = format!(r#"["SET","k","{}"]"#, "x".repeat(8192));
    assert_eq!(post(a, "/", &huge).status, 413);
    assert_eq!(post(a, "/", r#"["DBSIZE"]"#).text(), r#"{"result":0}"#);
}

#[test]
fn the_token_is_requirepass_and_a_wrong_one_reveals_nothing() {
    let server = TestServer::with(|c| c.requirepass = "s3cret".into());
    let a = server.http_addr();
    for r in [
        post(a, "/", r#"["SET","k","v"]"#),
        request(
            a,
            "POST",
            b"/",
            &[("Authorization", "Bearer wrong")],
            br#"["GET","k"]"#,
        ),
        request(a, "GET", b"/get/k?_token=s3cre", &[], b""),
        request(a, "GET", b"/subscribe/ch", &[], b""),
    ] {
        assert_eq!(
            (r.status, r.text()),
            (401, r#"{"error":"Unauthorized"}"#.into())
        );
    }
    let bearer = [("Authorization", "Bearer s3cret")];
    let r = request(a, "POST", b"/", &bearer, br#"["SET","k","v"]"#);
    assert_eq!(r.text(), r#"{"result":"OK"}"#);
    let r = request(a, "GET", b"/get/k?_token=s3cret", &[], b"");
    assert_eq!(r.text(), r#"{"result":"v"}"#);
    // The read-only token reads, and is refused (403) anything that writes or administers.
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "http-readonly-token", "peek"]),
        "+OK\r\n"
    );
    let ro = [("Authorization", "Bearer peek")];
    assert_eq!(
        request(a, "POST", b"/", &ro, br#"["GET","k"]"#).text(),
        r#"{"result":"v"}"#
    );
    for body in [
        &br#"["SET","k","w"]"#[..],
        br#"["FLUSHALL"]"#,
        br#"["CONFIG","SET","timeout","1"]"#,
    ] {
        let r = request(a, "POST", b"/", &ro, body);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("NOPERM"), "{}", r.text());
    }
    let r = request(
        a,
        "POST",
        b"/multi-exec",
        &ro,
        br#"[["GET","k"],["DEL","k"]]"#,
    );
    assert_eq!(r.status, 403);
    let r = request(
        a,
        "POST",
        b"/pipeline",
        &ro,
        br#"[["GET","k"],["DEL","k"]]"#,
    );
    assert!(
        r.text().contains(r#"{"result":"v"},{"error":"NOPERM"#),
        "{}",
        r.text()
    );
    assert_eq!(
        request(a, "POST", b"/", &bearer, br#"["GET","k"]"#).text(),
        r#"{"result":"v"}"#
    );
    assert_eq!(request(a, "GET", b"/healthz", &[], b"").status, 200);
}

#[test]
fn cors_follows_the_configured_origins() {
    let server = TestServer::with(|c| c.http_cors_origins = vec!["https://app.example".into()]);
    let a = server.http_addr();
    let origin = [("Origin", "https://app.example")];
    let r = request(a, "OPTIONS", b"/", &origin, b"");
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    let r = request(a, "POST", b"/", &origin, br#"["PING"]"#);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let other = [("Origin", "https://evil.example")];
    let r = request(a, "POST", b"/", &other, br#"["PING"]"#);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// Opens an event stream and returns a reader past the response headers.
fn event_stream(addr: SocketAddr, path: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: luma\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            return r;
        }
        if line.starts_with("HTTP/1.1") {
            assert!(line.contains(" 200 "), "{line}");
        }
    }
}

/// The next `data:` line of a (chunked) event stream.
fn next_data(r: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "stream ended");
        if let Some(data) = line.strip_prefix("data: ") {
            return data.trim_end().to_string();
        }
    }
}

#[test]
fn server_sent_events_carry_messages_published_over_resp() {
    let server = TestServer::start();
    let a = server.http_addr();
    let mut news = event_stream(a, "/subscribe/news%20room");
    assert_eq!(next_data(&mut news), "subscribe,news room,1");
    let mut pattern = event_stream(a, "/psubscribe/__keyevent@0__:*");
    assert_eq!(next_data(&mut pattern), "psubscribe,__keyevent@0__:*,1");
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["PUBLISH", "news room", "hello, world"]),
        ":1\r\n"
    );
    assert_eq!(next_data(&mut news), "message,news room,hello, world");
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "E$"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd_str(&["SET", "watched", "1"]), "+OK\r\n");
    assert_eq!(
        next_data(&mut pattern),
        "pmessage,__keyevent@0__:*,__keyevent@0__:set,watched"
    );
    // A client that goes away leaves the bus: nobody receives the next message.
    drop(news);
    let mut gone = false;
    for _ in 0..50 {
        if c.cmd_str(&["PUBLISH", "news room", "x"]) == ":0\r\n" {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "the dropped stream still counts as a subscriber");
    // A subscriber past the pub/sub output limit is cut off: its stream ends.
    let mut slow = event_stream(a, "/subscribe/big");
    assert_eq!(next_data(&mut slow), "subscribe,big,1");
    let limit = [
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 1kb 0 0",
    ];
    assert_eq!(c.cmd_str(&limit), "+OK\r\n");
    let big = "x".repeat(4096);
    c.cmd_str(&["PUBLISH", "big", &big]);
    // The chunked body ends ("0" chunk) without the message.
    let mut line = String::new();
    let mut ended = false;
    while slow.read_line(&mut line).unwrap_or(0) > 0 {
        assert!(
            !line.contains(&big),
            "the message past the limit was delivered"
        );
        if line == "0\r\n" {
            ended = true;
            break;
        }
        line.clear();
    }
    assert!(ended, "the stream did not end");
    assert_eq!(c.cmd_str(&["PUBLISH", "big", "after"]), ":0\r\n");
}

#[test]
fn metrics_and_health() {
    let server = TestServer::start();
    let a = server.http_addr();
    post(a, "/", r#"["SET","k","v"]"#);
    post(a, "/", r#"["GET","k"]"#);
    post(a, "/sql/query", r#"{"sql":"SELECT 1"}"#);
    let r = request(a, "GET", b"/metrics", &[], b"");
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(
        text.contains("luma_commands_total{cmd=\"get\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE luma_wal_last_lsn gauge\n"), "{text}");
    assert!(text.contains("luma_keys{db=\"0\"} 1\n"), "{text}");
    assert!(text.contains("luma_sql_queries_total 1\n"), "{text}");
    assert!(
        text.contains("# TYPE luma_command_duration_seconds histogram\n"),
        "{text}"
    );
    assert!(
        text.contains("luma_command_duration_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("luma_command_duration_seconds_count{cmd=\"set\"} 1\n"),
        "{text}"
    );
    let r = request(a, "GET", b"/healthz", &[], b"");
    assert_eq!((r.status, r.text()), (200, "ok\n".into()));
}

#[test]
fn vector_search_with_json_in_and_out() {
    let server = TestServer::start();
    let a = server.http_addr();
    let mut c = server.raw();
    for (name, v, attrs) in [
        ("a", ["1", "0"], r#"{"year":1999}"#),
        ("b", ["0", "1"], "plain"),
    ] {
        let reply = c.cmd_str(&[
            "VADD", "docs", "VALUES", "2", v[0], v[1], name, "SETATTR", attrs,
        ]);
        assert_eq!(reply, ":1\r\n");
    }
    let r = post(a, "/vsearch/docs", r#"{"vector":[1,0.1],"count":2}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let got: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let hits = got["result"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["element"], "a");
    assert_eq!(hits[0]["attributes"]["year"], 1999);
    assert_eq!(hits[1]["attributes"], "plain");
    assert!(hits[0]["score"].as_f64().unwrap() > hits[1]["score"].as_f64().unwrap());
    let r = post(
        a,
        "/vsearch/docs",
        r#"{"element":"b","filter":".year > 1990"}"#,
    );
    let got: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(got["result"][0]["element"], "a");
    assert_eq!(got["result"].as_array().unwrap().len(), 1);
    let r = post(a, "/vsearch/docs", r#"{"vector":[1,2,3]}"#);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"{"error":"ERR Vector dimension mismatch - got 3 but set has 2"}"#
    );
    assert_eq!(post(a, "/vsearch/docs", r#"{"vector":"x"}"#).status, 400);
}

#[test]
fn blocking_pops_wait_a_bounded_time_and_never_lose_an_element() {
    let server = TestServer::start();
    let a = server.http_addr();
    post(a, "/", r#"["RPUSH","q","a"]"#);
    // Served at once when there is something to pop.
    assert_eq!(
        post(a, "/", r#"["BLPOP","q","1"]"#).text(),
        r#"{"result":["q","a"]}"#
    );
    // Timed out: null, and the request leaves the waiters' queue.
    let started = std::time::Instant::now();
    assert_eq!(
        post(a, "/", r#"["BLPOP","q","0.2"]"#).text(),
        r#"{"result":null}"#
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    post(a, "/", r#"["RPUSH","q","b"]"#);
    assert_eq!(
        post(a, "/", r#"["LRANGE","q","0","-1"]"#).text(),
        r#"{"result":["b"]}"#
    );
    // Served while waiting: a push over RESP wakes the HTTP request.
    let waiter = std::thread::spawn(move || post(a, "/", r#"["BLPOP","w","5"]"#).text());
    std::thread::sleep(Duration::from_millis(200));
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["RPUSH", "w", "x"]), ":1\r\n");
    assert_eq!(waiter.join().unwrap(), r#"{"result":["w","x"]}"#);
}

#[test]
fn sql_with_json_parameters_and_rows() {
    let server = TestServer::with(|c| {
        c.requirepass = "s3cret".into();
        c.http_readonly_token = "peek".into();
    });
    let a = server.http_addr();
    let post = |a, path: &str, body: &str| {
        let full = [("Authorization", "Bearer s3cret")];
        request(a, "POST", path.as_bytes(), &full, body.as_bytes())
    };
    let r = post(
        a,
        "/sql/exec",
        r#"{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, extra)"}"#,
    );
    assert_eq!(
        r.text(),
        r#"{"result":{"changes":0,"last_insert_rowid":0}}"#
    );
    // JSON types are kept: null stays NULL, numbers stay numbers; by position or by name.
    let r = post(
        a,
        "/sql/exec",
        r#"{"sql":"INSERT INTO t(name, score, extra) VALUES (?1, ?2, ?3), (?4, 0.5, NULL)","params":["ann",2,null,"bob"]}"#,
    );
    assert_eq!(
        r.text(),
        r#"{"result":{"changes":2,"last_insert_rowid":2}}"#
    );
    let r = post(
        a,
        "/sql/query",
        r#"{"sql":"SELECT id, name, score, extra, typeof(score) AS t FROM t WHERE score >= :min ORDER BY id","params":{"min":0.5}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        r#"{"result":[{"id":1,"name":"ann","score":2.0,"extra":null,"t":"real"},{"id":2,"name":"bob","score":0.5,"extra":null,"t":"real"}]}"#
    );
    // Errors: bad SQL and writes through /sql/query are 400; the read-only token may query
    // but not write.
    let r = post(a, "/sql/query", r#"{"sql":"SELEC 1"}"#);
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .starts_with(r#"{"error":"ERR SQL error: near \"SELEC\""#),
        "{}",
        r.text()
    );
    let r = post(a, "/sql/query", r#"{"sql":"DELETE FROM t"}"#);
    assert_eq!(r.status, 400);
    assert_eq!(post(a, "/sql/query", r#"{"sql":1}"#).status, 400);
    assert_eq!(
        post(a, "/sql/query", r#"{"sql":"SELECT 1","params":3}"#).status,
        400
    );
    let ro = [("Authorization", "Bearer peek")];
    let r = request(
        a,
        "POST",
        b"/sql/query",
        &ro,
        br#"{"sql":"SELECT count(*) AS n FROM t"}"#,
    );
    assert_eq!(r.text(), r#"{"result":[{"n":2}]}"#);
    let r = request(a, "POST", b"/sql/exec", &ro, br#"{"sql":"DELETE FROM t"}"#);
    assert_eq!(r.status, 403, "{}", r.text());
    // The same typed parameters over RESP.
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT typeof(?1), typeof(?2), ?3", "PARAMS", "JSON", "[1, null, \"x\"]"]),
        "*2\r\n*3\r\n$10\r\ntypeof(?1)\r\n$10\r\ntypeof(?2)\r\n$2\r\n?3\r\n*3\r\n$7\r\ninteger\r\n$4\r\nnull\r\n$1\r\nx\r\n"
    );
}
