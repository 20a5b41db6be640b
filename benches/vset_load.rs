//! Vector-set load tool: loads N vectors through VADD (pipelined, batches of 1000) into a
//! running server, then runs VSIM COUNT 10 queries from 1 and from many concurrent clients,
//! printing insert rate, QPS, p50/p99 latency, the server's RSS and recall@10 against exact
//! ground truth computed here. Works against any server speaking Redis 8's vector sets.
//!
//! `cargo bench --bench vset_load -- --port 6379 [--pid PID] [--n 100000] [--dim 128]
//!  [--centres 100] [--queries 1000] [--clients 16] [--batch 1000] [--key bench:vset]
//!  [--extra "EF 200"] [--efs 100,200] [--no-load] [--no-write-phase]`
//! (scripts/bench_vset.sh starts a release Luma). `--no-load` queries the set already at
//! `--key` (loaded by an earlier run with the same --n/--dim/--centres).
//! Each search EF in `--efs` (default: none given, Redis's default) gets a 1-client and a
//! many-client run; words after the EF go to VSIM too (`--efs "100 NOTHREAD"`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use luma::vector::flat::Flat;
use luma::vector::parallel;
use luma::vector::testutil::Clusters;
use luma::vector::Metric;

#[path = "common/mod.rs"]
mod common;
use common::command;

/// A minimal RESP2 reader: integers, bulks, errors and arrays of bulks.
struct Reader {
    inner: BufReader<TcpStream>,
    line: Vec<u8>,
}

impl Reader {
    fn header(&mut self) -> (u8, i64) {
        self.line.clear();
        let n = self.inner.read_until(b'\n', &mut self.line).expect("read");
        assert!(n >= 3, "connection closed");
        let text = std::str::from_utf8(&self.line[1..self.line.len() - 2]).unwrap_or("0");
        if self.line[0] == b'-' {
            panic!("server error: {text}");
        }
        (self.line[0], text.parse().unwrap_or(0))
    }

    fn bulk(&mut self, len: i64) -> Vec<u8> {
        let mut buf = vec![0u8; len.max(0) as usize + 2];
        std::io::Read::read_exact(&mut self.inner, &mut buf).expect("read bulk");
        buf.truncate(len.max(0) as usize);
        buf
    }

    /// An array of bulk strings.
    fn strings(&mut self) -> Vec<Vec<u8>> {
        let (kind, n) = self.header();
        assert_eq!(kind, b'*', "not an array");
        (0..n)
            .map(|_| {
                let (kind, len) = self.header();
                assert_eq!(kind, b'$');
                self.bulk(len)
            })
            .collect()
    }
}

fn connect(port: u16) -> (TcpStream, Reader) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let reader = Reader {
        inner: BufReader::with_capacity(1 << 16, stream.try_clone().expect("clone")),
        line: Vec::new(),
    };
    (stream, reader)
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn fp32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

/// Runs the queries, `clients` connections in parallel (each takes every clients-th query);
/// returns (latencies, results by query, wall time).
fn run_queries(
    port: u16,
    key: &str,
    queries: &[f32],
    dim: usize,
    clients: usize,
    search: &[String],
) -> (Vec<Duration>, Vec<Vec<u32>>, Duration) {
    let nq = queries.len() / dim;
    let barrier = Arc::new(Barrier::new(clients + 1));
    let queries = Arc::new(queries.to_vec());
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let (barrier, queries, key) = (barrier.clone(), queries.clone(), key.to_string());
            let search = search.to_vec();
            std::thread::spawn(move || {
                let (mut w, mut r) = connect(port);
                barrier.wait();
                let mut out = Vec::new();
                for q in (t..nq).step_by(clients) {
                    let blob = fp32(&queries[q * dim..(q + 1) * dim]);
                    let mut args: Vec<&[u8]> =
                        vec![b"VSIM", key.as_bytes(), b"FP32", &blob, b"COUNT", b"10"];
                    args.extend(search.iter().map(|s| s.as_bytes()));
                    let started = Instant::now();
                    w.write_all(&command(&args)).expect("write");
                    let names = r.strings();
                    let took = started.elapsed();
                    let ids: Vec<u32> = names
                        .iter()
                        .filter_map(|n| std::str::from_utf8(&n[1..]).ok()?.parse().ok())
                        .collect();
                    out.push((q, took, ids));
                }
                out
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(nq);
    let mut results = vec![Vec::new(); nq];
    for h in handles {
        for (q, took, ids) in h.join().expect("client") {
            latencies.push(took);
            results[q] = ids;
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    (latencies, results, wall)
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut port, mut pid) = (6379u16, None::<u32>);
    let (mut n, mut dim, mut centres, mut nq) = (100_000usize, 128usize, 100usize, 1000usize);
    let (mut clients, mut batch) = (16usize, 1000usize);
    let mut key = "bench:vset".to_string();
    let mut extra: Vec<String> = Vec::new();
    let mut efs: Vec<Option<String>> = vec![None];
    let (mut load_data, mut write_phase) = (true, true);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("option value");
        match flag.as_str() {
            "--port" => port = value().parse().expect("--port"),
            "--pid" => pid = Some(value().parse().expect("--pid")),
            "--n" => n = value().parse().expect("--n"),
            "--dim" => dim = value().parse().expect("--dim"),
            "--centres" => centres = value().parse().expect("--centres"),
            "--queries" => nq = value().parse().expect("--queries"),
            "--clients" => clients = value().parse().expect("--clients"),
            "--batch" => batch = value().parse().expect("--batch"),
            "--key" => key = value(),
            "--extra" => extra = value().split_whitespace().map(String::from).collect(),
            "--efs" => efs = value().split(',').map(|e| Some(e.to_string())).collect(),
            "--no-load" => load_data = false,
            "--no-write-phase" => write_phase = false,
            other => panic!("unknown option {other}"),
        }
    }
    let clusters = Clusters::new(centres, dim, 42);
    let data = clusters.sample(n, 1);
    let queries = clusters.sample(nq, 2);
    println!("{n} x {dim} ({centres} centres), {nq} queries, server port {port}");

    // Exact ground truth (cosine, as vector sets rank).
    let started = Instant::now();
    let mut flat = Flat::new(dim, Metric::Cosine);
    for row in data.chunks_exact(dim) {
        flat.insert(row).expect("ground truth insert");
    }
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    let truth: Vec<Vec<u32>> = parallel::map(&rows, threads, |q| {
        let found = flat.search(q, 10, None).expect("ground truth");
        found.iter().map(|h| h.id).collect()
    });
    drop(flat);
    println!("ground truth in {:.1} s", started.elapsed().as_secs_f64());

    let (mut w, mut r) = connect(port);
    if load_data {
        w.write_all(&command(&[b"DEL", key.as_bytes()]))
            .expect("del");
        r.header();
    }
    let rss_before = pid.and_then(rss_mib);
    let started = Instant::now();
    let to_load = if load_data { &data[..] } else { &[] };
    for (b, chunk) in to_load.chunks(dim * batch).enumerate() {
        let mut out = Vec::new();
        for (i, v) in chunk.chunks_exact(dim).enumerate() {
            let name = format!("e{}", b * batch + i);
            let blob = fp32(v);
            let mut args: Vec<&[u8]> =
                vec![b"VADD", key.as_bytes(), b"FP32", &blob, name.as_bytes()];
            args.extend(extra.iter().map(|s| s.as_bytes()));
            out.extend(command(&args));
        }
        w.write_all(&out).expect("write");
        for _ in 0..chunk.len() / dim {
            let (kind, _) = r.header();
            assert_eq!(kind, b':', "VADD reply");
        }
    }
    let load = started.elapsed();
    let rss_loaded = pid.and_then(rss_mib);
    if load_data {
        println!(
            "insert: {n} VADD in {:.1} s = {:.0} inserts/s (pipelined batches of {batch})",
            load.as_secs_f64(),
            n as f64 / load.as_secs_f64()
        );
    }
    if let (true, Some(before), Some(after)) = (load_data, rss_before, rss_loaded) {
        // Again once the server has settled: its threads hand back what the load freed each
        // second.
        std::thread::sleep(std::time::Duration::from_secs(2));
        let settled = pid.and_then(rss_mib).unwrap_or(after);
        let per_element = |rss: f64| (rss - before) * 1024.0 * 1024.0 / n as f64;
        println!(
            "memory: RSS {after:.1} MiB after load ({:.0} bytes/element over the {before:.1} MiB \
             before; raw f32 is {} bytes/element), {settled:.1} MiB 2 s later ({:.0} \
             bytes/element)",
            per_element(after),
            dim * 4,
            per_element(settled)
        );
    }
    for ef in &efs {
        let search: Vec<String> = ef
            .iter()
            .flat_map(|e| {
                std::iter::once("EF".to_string()).chain(e.split_whitespace().map(String::from))
            })
            .collect();
        let label = ef.as_deref().unwrap_or("default");
        let mut single_qps = 0.0;
        for c in [1, clients] {
            let (lat, results, wall) = run_queries(port, &key, &queries, dim, c, &search);
            let hits: usize = results
                .iter()
                .zip(&truth)
                .map(|(got, want)| got.iter().filter(|id| want.contains(id)).count())
                .sum();
            let qps = nq as f64 / wall.as_secs_f64();
            if c == 1 {
                single_qps = qps;
            }
            println!(
                "VSIM COUNT 10 EF {label}, {c:>2} client(s): {qps:.0} QPS ({:.2}x single), \
                 p50 {:.0} us, p99 {:.0} us, recall@10 {:.4}",
                qps / single_qps,
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                hits as f64 / (10 * nq) as f64
            );
        }
    }
    if !write_phase {
        return;
    }
    // Searches while a writer keeps adding: one pipelined VADD client (batches of 100 new
    // elements) beside `clients` VSIM clients.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, key, extra) = (stop.clone(), key.clone(), extra.clone());
        let rows: Vec<Vec<f32>> = clusters
            .sample(20_000, 3)
            .chunks_exact(dim)
            .map(<[f32]>::to_vec)
            .collect();
        std::thread::spawn(move || {
            let (mut w, mut r) = connect(port);
            let mut added = 0usize;
            let started = Instant::now();
            for chunk in rows.chunks(100) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let mut out = Vec::new();
                for v in chunk {
                    let name = format!("w{added}");
                    added += 1;
                    let blob = fp32(v);
                    let mut args: Vec<&[u8]> =
                        vec![b"VADD", key.as_bytes(), b"FP32", &blob, name.as_bytes()];
                    args.extend(extra.iter().map(|s| s.as_bytes()));
                    out.extend(command(&args));
                }
                w.write_all(&out).expect("write");
                for _ in chunk {
                    r.header();
                }
            }
            added as f64 / started.elapsed().as_secs_f64()
        })
    };
    let (lat, _, wall) = run_queries(port, &key, &queries, dim, clients, &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let insert_rate = writer.join().expect("writer");
    println!(
        "VSIM COUNT 10, {clients:>2} client(s) while VADD runs: {:.0} QPS, p50 {:.0} us, p99 \
         {:.0} us; VADD meanwhile {insert_rate:.0} inserts/s",
        nq as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
    );
    if let Some(rss) = pid.and_then(rss_mib) {
        println!(
            "memory: RSS {rss:.1} MiB after queries = {:.0}% of the raw f32 size ({:.1} MiB)",
            rss / (n * dim * 4) as f64 * 1024.0 * 1024.0 * 100.0,
            (n * dim * 4) as f64 / 1024.0 / 1024.0
        );
    }
}
