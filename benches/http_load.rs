//! HTTP API load tool: GET and SET through `POST /` from many keep-alive clients against the
//! same commands over RESP (one request in flight per client in both cases), as a ratio; and
//! server-sent-events fan-out: many `/subscribe/<channel>` streams receiving messages
//! published over RESP, with the publish-to-receive latency.
//!
//! `cargo bench --bench http_load -- --resp 6379 --http 7379 [--clients 50] [--requests 2000]
//!  [--subscribers 1000] [--messages 50]` (scripts/bench_http.sh starts a release Luma).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[path = "common/mod.rs"]
mod common;
use common::command as resp_command;

fn http_request(body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: luma\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one HTTP response with a Content-Length body.
fn read_http(r: &mut BufReader<TcpStream>, line: &mut String) {
    let mut length = 0;
    loop {
        line.clear();
        r.read_line(line).expect("read");
        assert!(!line.is_empty(), "closed");
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length: ") {
            length = v.trim().parse().expect("length");
        }
        if line.starts_with("HTTP/1.1 ") {
            assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        }
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body).expect("body");
}

/// Reads one RESP reply of a GET or SET (`+OK`, `$n` + data, `$-1`).
fn read_resp(r: &mut BufReader<TcpStream>, line: &mut String) {
    line.clear();
    r.read_line(line).expect("read");
    if let Some(n) = line.strip_prefix('$') {
        let n: i64 = n.trim().parse().expect("bulk length");
        if n >= 0 {
            let mut body = vec![0u8; n as usize + 2];
            r.read_exact(&mut body).expect("bulk");
        }
    }
}

/// Requests per second with `clients` connections each doing `requests` round trips.
fn throughput(port: u16, clients: usize, requests: usize, http: bool, set: bool) -> f64 {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut w = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                w.set_nodelay(true).expect("nodelay");
                let mut r = BufReader::new(w.try_clone().expect("clone"));
                let key = format!("bench:{t}");
                let request = match (http, set) {
                    (true, true) => http_request(&format!(r#"["SET","{key}","xxxxxxxxxx"]"#)),
                    (true, false) => http_request(&format!(r#"["GET","{key}"]"#)),
                    (false, true) => resp_command(&[b"SET", key.as_bytes(), b"xxxxxxxxxx"]),
                    (false, false) => resp_command(&[b"GET", key.as_bytes()]),
                };
                let mut line = String::new();
                barrier.wait();
                for _ in 0..requests {
                    w.write_all(&request).expect("write");
                    if http {
                        read_http(&mut r, &mut line);
                    } else {
                        read_resp(&mut r, &mut line);
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for h in handles {
        h.join().expect("client");
    }
    (clients * requests) as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// SSE fan-out: `subscribers` streams, `messages` publishes over RESP; latencies in µs.
fn fan_out(resp: u16, http: u16, subscribers: usize, messages: usize) -> (Vec<u64>, usize) {
    let ready = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(subscribers * messages)));
    let handles: Vec<_> = (0..subscribers)
        .map(|_| {
            let (ready, latencies) = (ready.clone(), latencies.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut s = TcpStream::connect(("127.0.0.1", http)).expect("connect");
                    s.set_read_timeout(Some(Duration::from_secs(30)))
                        .expect("timeout");
                    s.write_all(b"GET /subscribe/fanout HTTP/1.1\r\nHost: luma\r\n\r\n")
                        .expect("write");
                    let mut r = BufReader::new(s);
                    let mut line = String::new();
                    let mut mine = Vec::with_capacity(messages);
                    while mine.len() < messages {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        if line.starts_with("data: subscribe,") {
                            ready.fetch_add(1, Ordering::SeqCst);
                        } else if let Some(rest) = line.strip_prefix("data: message,fanout,") {
                            if let Ok(sent) = rest.trim().parse::<u64>() {
                                mine.push(now_us().saturating_sub(sent));
                            }
                        }
                    }
                    latencies.lock().expect("lock").extend(mine);
                })
                .expect("spawn")
        })
        .collect();
    while ready.load(Ordering::SeqCst) < subscribers {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut w = TcpStream::connect(("127.0.0.1", resp)).expect("connect");
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    let mut line = String::new();
    let mut receivers = 0;
    for _ in 0..messages {
        let stamp = now_us().to_string();
        w.write_all(&resp_command(&[b"PUBLISH", b"fanout", stamp.as_bytes()]))
            .expect("publish");
        line.clear();
        r.read_line(&mut line).expect("reply");
        receivers = line.trim().trim_start_matches(':').parse().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(20));
    }
    for h in handles {
        let _ = h.join();
    }
    let mut all = latencies.lock().expect("lock").clone();
    all.sort_unstable();
    (all, receivers)
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut resp, mut http) = (6379u16, 7379u16);
    let (mut clients, mut requests, mut subscribers, mut messages) = (50, 2000, 1000, 50);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("option value");
        match flag.as_str() {
            "--resp" => resp = value().parse().expect("--resp"),
            "--http" => http = value().parse().expect("--http"),
            "--clients" => clients = value().parse().expect("--clients"),
            "--requests" => requests = value().parse().expect("--requests"),
            "--subscribers" => subscribers = value().parse().expect("--subscribers"),
            "--messages" => messages = value().parse().expect("--messages"),
            other => panic!("unknown option {other}"),
        }
    }
    println!("{clients} keep-alive clients x {requests} requests, one in flight per client");
    for (name, set) in [("SET", true), ("GET", false)] {
        let over_resp = throughput(resp, clients, requests, false, set);
        let over_http = throughput(http, clients, requests, true, set);
        println!(
            "{name}: HTTP POST / {over_http:.0} req/s, RESP {over_resp:.0} req/s, HTTP/RESP {:.2}",
            over_http / over_resp
        );
    }
    let (lat, receivers) = fan_out(resp, http, subscribers, messages);
    println!(
        "SSE fan-out: {subscribers} subscribers ({receivers} receivers per PUBLISH), {} \
         deliveries: p50 {} us, p99 {} us, max {} us",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0)
    );
}
