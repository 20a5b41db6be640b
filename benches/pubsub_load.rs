//! Pub/sub load tool: fan-out throughput and publish-to-receive latency with one publisher and
//! many subscribers, and PUBLISH throughput with many channels and patterns subscribed, run
//! against each server given (Luma, redis-server) and printed side by side with ratios.
//!
//! `cargo bench --bench pubsub_load -- luma=6380 redis=6381 [--subscribers 100]
//!  [--messages 20000] [--size 64] [--rounds 2]` (scripts/bench_pubsub.sh starts both servers).
//! The first server named is the one the ratios are for; the second is the reference.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;
use common::command;

/// A minimal RESP reader: enough for integers, bulks and arrays of them.
struct Reader {
    inner: BufReader<TcpStream>,
    line: Vec<u8>,
}

enum Frame {
    Int(i64),
    Bulk,
    Array(Vec<Frame>),
    Other,
}

impl Reader {
    fn new(stream: TcpStream) -> Reader {
        Reader {
            inner: BufReader::with_capacity(1 << 16, stream),
            line: Vec::new(),
        }
    }

    fn header(&mut self) -> (u8, i64) {
        self.line.clear();
        let n = self.inner.read_until(b'\n', &mut self.line).expect("read");
        assert!(n >= 3, "connection closed");
        let kind = self.line[0];
        let text = std::str::from_utf8(&self.line[1..self.line.len() - 2]).unwrap_or("0");
        (kind, text.parse().unwrap_or(0))
    }

    /// Reads one pub/sub message (`*3` message, channel, payload) without allocating and
    /// returns the send time written at the start of its payload.
    fn message_sent_at(&mut self, scratch: &mut Vec<u8>) -> Option<u64> {
        let (kind, parts) = self.header();
        assert!(kind == b'*' || kind == b'>', "not a message");
        let mut sent = None;
        for i in 0..parts {
            let (_, len) = self.header();
            scratch.resize(len as usize + 2, 0);
            self.inner.read_exact(scratch).expect("bulk");
            if i == parts - 1 && len >= 20 {
                sent = std::str::from_utf8(&scratch[..20])
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
            }
        }
        sent
    }

    fn frame(&mut self) -> Frame {
        let (kind, n) = self.header();
        match kind {
            b':' => Frame::Int(n),
            b'$' => {
                let mut data = vec![0; n as usize + 2];
                self.inner.read_exact(&mut data).expect("bulk");
                Frame::Bulk
            }
            b'*' | b'>' => Frame::Array((0..n).map(|_| self.frame()).collect()),
            _ => Frame::Other,
        }
    }
}

/// CPU seconds (user + system) process `pid` has used so far (Linux `/proc`).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn connect(port: u16) -> (TcpStream, Reader) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let reader = Reader::new(stream.try_clone().expect("clone"));
    (stream, reader)
}

/// Publishes `count` messages with at most `window` replies outstanding; returns the sum of
/// the receiver counts.
fn publish_pipelined(
    port: u16,
    count: usize,
    window: usize,
    channel: impl Fn(usize) -> Vec<u8>,
    payload: impl Fn() -> Vec<u8>,
) -> i64 {
    let (mut out, mut reader) = connect(port);
    let mut sent = 0;
    let mut received = 0;
    let mut receivers = 0;
    while received < count {
        let mut batch = Vec::new();
        while sent < count && sent - received < window {
            batch.extend(command(&[b"PUBLISH", &channel(sent), &payload()]));
            sent += 1;
        }
        if !batch.is_empty() {
            out.write_all(&batch).expect("publish");
        }
        if let Frame::Int(n) = reader.frame() {
            receivers += n;
        }
        received += 1;
    }
    receivers
}

fn wait_numsub(port: u16, channel: &str, n: i64) {
    let (mut out, mut reader) = connect(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        out.write_all(&command(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]))
            .expect("numsub");
        if let Frame::Array(items) = reader.frame() {
            if matches!(items.get(1), Some(Frame::Int(c)) if *c == n) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "subscribers never all subscribed"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

struct FanOut {
    delivered_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    /// p90, p99.9 and max, for `--latency-only`.
    tail_us: [f64; 3],
}

/// One publisher, `subscribers` subscribers on one channel; each message carries its send time.
fn fan_out(port: u16, subscribers: usize, messages: usize, size: usize, window: usize) -> FanOut {
    let base = Instant::now();
    let channel = format!("bench:{}", base.elapsed().as_nanos());
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let mut handles = Vec::new();
    for _ in 0..subscribers {
        let (ready, channel) = (ready.clone(), channel.clone());
        handles.push(thread::spawn(move || {
            let (mut out, mut reader) = connect(port);
            out.write_all(&command(&[b"SUBSCRIBE", channel.as_bytes()]))
                .expect("subscribe");
            reader.frame();
            ready.wait();
            let mut latencies = Vec::with_capacity(messages);
            let mut last = Instant::now();
            let mut scratch = Vec::new();
            for _ in 0..messages {
                let sent = reader.message_sent_at(&mut scratch);
                let now = base.elapsed().as_nanos() as u64;
                latencies.push(now.saturating_sub(sent.unwrap_or(now)));
                last = Instant::now();
            }
            (latencies, last)
        }));
    }
    ready.wait();
    wait_numsub(port, &channel, subscribers as i64);
    let started = Instant::now();
    let payload = || {
        let mut p = format!("{:>20}", base.elapsed().as_nanos()).into_bytes();
        p.resize(size.max(20), b'x');
        p
    };
    let receivers = publish_pipelined(
        port,
        messages,
        window,
        |_| channel.clone().into_bytes(),
        payload,
    );
    assert_eq!(
        receivers,
        (messages * subscribers) as i64,
        "a subscriber missed messages"
    );
    let mut all = Vec::with_capacity(messages * subscribers);
    let mut finished = started;
    for h in handles {
        let (latencies, last) = h.join().expect("subscriber");
        all.extend(latencies);
        finished = finished.max(last);
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    FanOut {
        delivered_per_sec: (messages * subscribers) as f64 / (finished - started).as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        tail_us: [pct(0.90), pct(0.999), pct(1.0)],
    }
}

/// PUBLISH rate with `channels` channels and `patterns` patterns subscribed (by one drained
/// connection), publishing round-robin over the channels.
fn many_subscriptions(port: u16, channels: usize, patterns: usize, messages: usize) -> f64 {
    let (mut out, mut reader) = connect(port);
    let tag = Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id());
    let names: Vec<String> = (0..channels).map(|i| format!("ch:{tag}:{i}")).collect();
    let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
    args.extend(names.iter().map(|n| n.as_bytes()));
    out.write_all(&command(&args)).expect("subscribe");
    for _ in 0..channels {
        reader.frame();
    }
    let pats: Vec<String> = (0..patterns).map(|i| format!("pat:{i}:*")).collect();
    let mut args: Vec<&[u8]> = vec![b"PSUBSCRIBE"];
    args.extend(pats.iter().map(|n| n.as_bytes()));
    out.write_all(&command(&args)).expect("psubscribe");
    for _ in 0..patterns {
        reader.frame();
    }
    let drain = thread::spawn(move || {
        for _ in 0..messages {
            reader.frame();
        }
    });
    let started = Instant::now();
    let receivers = publish_pipelined(
        port,
        messages,
        64,
        |i| names[i % channels].clone().into_bytes(),
        || b"hello".to_vec(),
    );
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    assert_eq!(receivers, messages as i64);
    drain.join().expect("drain");
    rate
}

fn main() {
    let mut servers: Vec<(String, u16)> = Vec::new();
    let mut pids: Vec<Option<u32>> = Vec::new();
    let (mut subscribers, mut messages, mut size, mut rounds) = (100, 20_000, 64, 2);
    let mut latency_only = false;
    let mut throughput_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok()).expect("a number");
        match arg.as_str() {
            "--subscribers" => subscribers = value(),
            "--messages" => messages = value(),
            "--size" => size = value(),
            "--rounds" => rounds = value(),
            "--bench" => {}
            "--latency-only" => latency_only = true,
            "--throughput-only" => throughput_only = true,
            other => {
                // NAME=PORT or NAME=PORT:PID (the pid adds the server's CPU per message).
                if let Some((name, addr)) = other.split_once('=') {
                    let (port, pid) = match addr.split_once(':') {
                        Some((port, pid)) => (port, pid.parse().ok()),
                        None => (addr, None),
                    };
                    servers.push((name.to_string(), port.parse().expect("port")));
                    pids.push(pid);
                }
            }
        }
    }
    if servers.is_empty() {
        eprintln!("usage: pubsub_load NAME=PORT [NAME=PORT ...] [--subscribers N] [--messages N] [--size B] [--rounds N]");
        return;
    }
    println!(
        "{subscribers} subscribers, {messages} messages of {size} bytes, median of {rounds} rounds"
    );
    if throughput_only {
        for _ in 0..rounds {
            for (name, port) in &servers {
                let t = fan_out(*port, subscribers, messages, size, 64);
                println!("{name}: {:.0} delivered/s", t.delivered_per_sec);
            }
        }
        return;
    }
    if latency_only {
        for _ in 0..rounds {
            for (name, port) in &servers {
                let l = fan_out(*port, subscribers, messages / 4, size, 1);
                println!(
                    "{name}: p50 {:.0} p90 {:.0} p99 {:.0} p99.9 {:.0} max {:.0} us",
                    l.p50_us, l.tail_us[0], l.p99_us, l.tail_us[1], l.tail_us[2]
                );
            }
        }
        return;
    }
    // Per server and metric, every round's figure: delivered/s, p50 us, p99 us, publishes/s.
    let mut figures = vec![[const { Vec::new() }; 5]; servers.len()];
    for _ in 0..rounds {
        // Servers alternate within a round, so drift on the machine hits both alike.
        for (i, (_, port)) in servers.iter().enumerate() {
            let cpu_before = pids[i].and_then(cpu_secs);
            let throughput = fan_out(*port, subscribers, messages, size, 64);
            if let (Some(before), Some(after)) = (cpu_before, pids[i].and_then(cpu_secs)) {
                let delivered = (messages * subscribers) as f64;
                figures[i][4].push((after - before) * 1e6 / delivered * 1000.0);
            }
            let latency = fan_out(*port, subscribers, messages / 4, size, 1);
            let publishes = many_subscriptions(*port, 10_000, 1_000, 200_000);
            let f = &mut figures[i];
            f[0].push(throughput.delivered_per_sec);
            f[1].push(latency.p50_us);
            f[2].push(latency.p99_us);
            f[3].push(publishes);
        }
    }
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let best: Vec<Vec<f64>> = figures
        .iter()
        .map(|f| f.iter().map(median).collect())
        .collect();
    print!("{:<50}", "");
    for (name, _) in &servers {
        print!("{name:>12}");
    }
    println!("{:>8}", "ratio");
    let labels = [
        "fan-out messages delivered/s (pipelined PUBLISH)",
        "publish-to-receive p50 us (one PUBLISH in flight)",
        "publish-to-receive p99 us (one PUBLISH in flight)",
        "PUBLISH/s with 10k channels + 1k patterns",
        "server CPU ms per 1M messages delivered (fan-out)",
    ];
    for (m, label) in labels.iter().enumerate() {
        print!("{label:<50}");
        for b in &best {
            print!("{:>12.0}", b[m]);
        }
        if best.len() >= 2 && best[1][m] > 0.0 {
            print!("{:>8.2}", best[0][m] / best[1][m]);
        }
        println!();
        for ((name, _), f) in servers.iter().zip(&figures) {
            let rounds: Vec<String> = f[m].iter().map(|v| format!("{v:.0}")).collect();
            println!("    {name} rounds: {}", rounds.join(" "));
        }
    }
}
