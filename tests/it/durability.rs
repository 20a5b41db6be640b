//! kill -9 in the middle of a pipelined write load: after a restart on the same folder every
//! acknowledged write is there, with its value and TTL. `LUMA_KILL9_RUNS` sets the rounds per
//! fsync policy (scripts/kill9_loop.sh runs 20).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{encode_command, RawClient};
use crate::process::spawn;

const WRITERS: usize = 4;
const PIPELINE: usize = 32;

/// One writer: pipelined `SET w:<t>:<i> v<i> EX 3600` and `INCR c:<t>`, counting the
/// acknowledged ones (replies actually read).
fn writer(addr: std::net::SocketAddr, t: usize, acked: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut c = RawClient::connect(addr);
    let mut next = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        for i in next..next + PIPELINE as u64 {
            let key = format!("w:{t}:{i}");
            batch.extend(encode_command(&[
                b"SET",
                key.as_bytes(),
                format!("v{i}").as_bytes(),
                b"EX",
                b"3600",
            ]));
            batch.extend(encode_command(&[b"INCR", format!("c:{t}").as_bytes()]));
        }
        if std::io::Write::write_all(&mut c.stream, &batch).is_err() {
            return;
        }
        for i in next..next + PIPELINE as u64 {
            let Some(set) = c.try_read_reply() else {
                return;
            };
            assert_eq!(set, b"+OK\r\n");
            let Some(incr) = c.try_read_reply() else {
                return;
            };
            assert_eq!(incr, format!(":{}\r\n", i + 1).into_bytes());
            acked.store(i + 1, Ordering::SeqCst);
        }
        next += PIPELINE as u64;
    }
}

fn kill9_round(policy: &str, round: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", policy]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<AtomicU64>> = (0..WRITERS).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let threads: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (acked, stop, addr) = (acked[t].clone(), stop.clone(), p.addr);
            std::thread::spawn(move || writer(addr, t, acked, stop))
        })
        .collect();
    // Let the load run, varying the moment of the kill from round to round.
    std::thread::sleep(Duration::from_millis(300 + 70 * (round as u64 % 7)));
    p.kill9();
    let counts: Vec<u64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        counts.iter().all(|n| *n > 0),
        "writers made no progress: {counts:?}"
    );
    let p = spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", policy]);
    let mut c = RawClient::connect(p.addr);
    for (t, &count) in counts.iter().enumerate() {
        let counter = c.cmd_str(&["GET", &format!("c:{t}")]);
        let value: u64 = counter
            .split("\r\n")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            value >= count,
            "{policy} round {round}: counter {t} = {value} < acked {count}"
        );
        for i in (0..count).step_by(7).chain([count - 1]) {
            let key = format!("w:{t}:{i}");
            let want = format!("v{i}");
            assert_eq!(
                c.cmd_str(&["GET", &key]),
                format!("${}\r\n{want}\r\n", want.len()),
                "{policy} round {round}: acknowledged {key} lost"
            );
            let ttl = c.cmd_str(&["TTL", &key]);
            let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
            assert!((3000..=3600).contains(&ttl), "{key} has TTL {ttl}");
        }
    }
}

fn runs() -> usize {
    std::env::var("LUMA_KILL9_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

#[test]
fn kill9_keeps_acknowledged_writes_appendfsync_always() {
    for round in 0..runs() {
        kill9_round("always", round);
    }
}

#[test]
fn kill9_keeps_acknowledged_writes_appendfsync_everysec() {
    for round in 0..runs() {
        kill9_round("everysec", round);
    }
}

#[test]
fn restart_after_clean_shutdown_and_corrupt_wal_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = spawn(&["--port", "0", "--dir", data_arg, "--appendfsync", "always"]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(c.cmd_str(&["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "b", "2"]), "+OK\r\n");
    p.kill9();
    // Flip a byte in the middle of the first record: the log is corrupt, not torn.
    let wal = std::fs::read_dir(data.join("wal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&wal).unwrap();
    assert!(bytes.len() > 40, "both records are in the log");
    bytes[18] ^= 0xff;
    std::fs::write(&wal, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_luma"))
        .args(["--port", "0", "--dir", data_arg])
        .output()
        .unwrap();
    assert!(!out.status.success(), "started over a corrupt WAL");
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("WAL corrupt"), "{log}");
    // The explicit repair truncates at the bad record, says so, and starts.
    let p = spawn(&["--port", "0", "--dir", data_arg, "--wal-repair", "yes"]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(p.logged("WAL repair: truncating"));
}
