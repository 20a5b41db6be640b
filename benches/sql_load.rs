//! SQL load tool (issue 8): point selects by primary key through SQL.QUERY from many clients,
//! against the same selects run straight through rusqlite in this process (the ceiling);
//! single-row SQL.EXEC inserts under `appendfsync everysec` and `always`; and the readers' rate
//! while writers insert.
//!
//! `cargo bench --bench sql_load -- --port 6379 [--clients 50] [--rows 100000] [--seconds 5]
//!  [--writers 1,4]` (scripts/bench_sql.sh starts a release Luma). The server's `docs` and
//! `events` tables are dropped and created again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

#[path = "common/mod.rs"]
mod common;
use common::command;

const SCHEMA: &str =
    "CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL); \
     CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL);";
const SELECT: &str = "SELECT id, title, body FROM docs WHERE id = ?1";
const INSERT: &str = "INSERT INTO events(kind, payload) VALUES (?1, ?2)";
/// Rows per loading statement: 1,500 parameters, well under SQLite's 32,766.
const BATCH: usize = 500;

/// Row `id` of `docs`, the same for Luma and the ceiling's copy (a ~200-byte body).
fn doc(id: usize) -> (String, String) {
    let body = format!(
        "body of document {id}: {}",
        "lorem ipsum dolor sit amet ".repeat(7)
    );
    (format!("document {id}"), body)
}

/// splitmix64: random ids without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// One RESP connection, one request in flight.
struct Conn {
    out: TcpStream,
    input: BufReader<TcpStream>,
    line: Vec<u8>,
    scratch: Vec<u8>,
    /// The integers of the last reply, in order (a row's id, `changes`…): enough to check it.
    ints: Vec<i64>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let out = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        out.set_nodelay(true).expect("nodelay");
        let input = BufReader::with_capacity(1 << 16, out.try_clone().expect("clone"));
        Conn {
            out,
            input,
            line: Vec::new(),
            scratch: Vec::new(),
            ints: Vec::new(),
        }
    }

    /// Sends `args`, reads the whole reply; panics on an error reply.
    fn call(&mut self, args: &[&[u8]]) -> &[i64] {
        self.out.write_all(&command(args)).expect("send");
        self.ints.clear();
        if let Err(e) = self.skip() {
            panic!("{}: {e}", String::from_utf8_lossy(args[0]));
        }
        &self.ints
    }

    /// Reads one reply of any shape (RESP2 or RESP3, nested arrays, maps, attributes) without
    /// keeping it, but for its integers; an error anywhere in it is returned.
    fn skip(&mut self) -> Result<(), String> {
        self.line.clear();
        self.input.read_until(b'\n', &mut self.line).expect("read");
        assert!(self.line.len() >= 3, "connection closed");
        let kind = self.line[0];
        let text = &self.line[1..self.line.len() - 2];
        let n = || -> i64 {
            std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(-1)
        };
        match kind {
            b':' => self.ints.push(n()),
            b'-' => return Err(String::from_utf8_lossy(text).into_owned()),
            b'$' | b'=' | b'!' => {
                let len = n();
                if len >= 0 {
                    self.scratch.resize(len as usize + 2, 0);
                    self.input.read_exact(&mut self.scratch).expect("bulk");
                }
                if kind == b'!' {
                    return Err(String::from_utf8_lossy(&self.scratch).into_owned());
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let pairs = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
                let mut first_error = Ok(());
                for _ in 0..n().max(0) * pairs {
                    // Read the rest even after an error, so the stream stays in step.
                    let r = self.skip();
                    if first_error.is_ok() {
                        first_error = r;
                    }
                }
                // An attribute comes before the reply it describes.
                return if kind == b'|' {
                    self.skip().and(first_error)
                } else {
                    first_error
                };
            }
            _ => {} // + _ , # ( : one line
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Work {
    /// A point select of a random id among `rows`.
    Select { rows: usize },
    /// A single-row insert into `events`.
    Insert,
}

impl Work {
    fn once(self, c: &mut Conn, rng: &mut Rng) {
        match self {
            Work::Select { rows } => {
                let id = (1 + rng.below(rows)).to_string();
                let args: [&[u8]; 5] = [
                    b"SQL.QUERY",
                    SELECT.as_bytes(),
                    b"PARAMS",
                    b"1",
                    id.as_bytes(),
                ];
                let ints = c.call(&args);
                assert_eq!(ints.first().map(|i| i.to_string()), Some(id), "wrong row");
            }
            Work::Insert => {
                let kind = ["click", "view", "search", "purchase"][rng.below(4)];
                let payload = format!(
                    r#"{{"user":{},"ts":{},"note":"benchmark event"}}"#,
                    rng.below(1 << 20),
                    rng.below(1 << 30)
                );
                let args: [&[u8]; 6] = [
                    b"SQL.EXEC",
                    INSERT.as_bytes(),
                    b"PARAMS",
                    b"2",
                    kind.as_bytes(),
                    payload.as_bytes(),
                ];
                assert_eq!(c.call(&args).first(), Some(&1), "changes");
            }
        }
    }
}

/// Runs each group's clients (threads, one connection each) for `secs` at once; returns each
/// group's requests per second.
fn measure(port: u16, groups: &[(usize, Work)], secs: f64) -> Vec<f64> {
    let total: usize = groups.iter().map(|g| g.0).sum();
    let start = Arc::new(Barrier::new(total + 1));
    let mut handles = Vec::new();
    for (g, &(n, work)) in groups.iter().enumerate() {
        let group: Vec<_> = (0..n)
            .map(|i| {
                let start = start.clone();
                thread::spawn(move || {
                    // Connected before the clock starts: setup is not measured.
                    let mut c = Conn::open(port);
                    let mut rng = Rng((g * 1000 + i) as u64 ^ 0x5eed);
                    start.wait();
                    let deadline = Instant::now() + Duration::from_secs_f64(secs);
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        work.once(&mut c, &mut rng);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        handles.push(group);
    }
    start.wait();
    let started = Instant::now();
    let counts: Vec<u64> = handles
        .into_iter()
        .map(|g| g.into_iter().map(|h| h.join().expect("client")).sum())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    counts.iter().map(|&c| c as f64 / elapsed).collect()
}

/// Drops and creates the tables, then loads `rows` docs with many VALUES per SQL.EXEC.
fn load(port: u16, rows: usize) {
    let mut c = Conn::open(port);
    c.call(&[
        b"SQL.EXEC",
        format!("DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS events; {SCHEMA}").as_bytes(),
    ]);
    let started = Instant::now();
    for first in (1..=rows).step_by(BATCH) {
        let ids: Vec<usize> = (first..=rows.min(first + BATCH - 1)).collect();
        let values: Vec<String> = (0..ids.len())
            .map(|i| format!("(?{},?{},?{})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO docs(id, title, body) VALUES {}",
            values.join(",")
        );
        let params: Vec<(String, String, String)> = ids
            .iter()
            .map(|&id| {
                let (title, body) = doc(id);
                (id.to_string(), title, body)
            })
            .collect();
        let count = (3 * ids.len()).to_string();
        let mut args: Vec<&[u8]> = vec![b"SQL.EXEC", sql.as_bytes(), b"PARAMS", count.as_bytes()];
        for (id, title, body) in &params {
            args.extend([id.as_bytes(), title.as_bytes(), body.as_bytes()]);
        }
        assert_eq!(
            c.call(&args).first(),
            Some(&(ids.len() as i64)),
            "load changes"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let counted = c
        .call(&[b"SQL.QUERY", b"SELECT count(*) FROM docs"])
        .to_vec();
    assert_eq!(counted, [rows as i64], "rows loaded");
    println!(
        "load: {rows} rows through SQL.EXEC ({BATCH} rows per statement) in {secs:.2} s ({:.0} rows/s)",
        rows as f64 / secs
    );
}

/// The ceiling: the same point selects on a copy of the data in a fresh WAL-mode SQLite file,
/// one read-only connection per thread and core, statement cached. Returns (queries/s, threads).
fn ceiling(rows: usize, secs: f64) -> (f64, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ceiling.db");
    let mut db = Connection::open(&path).expect("open");
    db.pragma_update(None, "journal_mode", "WAL").expect("wal");
    db.execute_batch(&format!("PRAGMA synchronous=NORMAL; {SCHEMA}"))
        .expect("schema");
    let tx = db.transaction().expect("transaction");
    {
        let mut insert = tx
            .prepare("INSERT INTO docs(id, title, body) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for id in 1..=rows {
            let (title, body) = doc(id);
            insert.execute((id as i64, title, body)).expect("insert");
        }
    }
    tx.commit().expect("commit");
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (start, path) = (start.clone(), path.clone());
            thread::spawn(move || {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&path, flags).expect("open reader");
                // Prepared once and reused (the crate builds rusqlite without its statement cache).
                let mut stmt = conn.prepare(SELECT).expect("prepare");
                let mut rng = Rng(t as u64 ^ 0xce11);
                start.wait();
                let deadline = Instant::now() + Duration::from_secs_f64(secs);
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let id = 1 + rng.below(rows) as i64;
                    // All three columns read out, as Luma must to reply.
                    let (got, _title, _body): (i64, String, String) = stmt
                        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .expect("select");
                    assert_eq!(got, id);
                    done += 1;
                }
                done
            })
        })
        .collect();
    start.wait();
    let started = Instant::now();
    let done: u64 = handles.into_iter().map(|h| h.join().expect("reader")).sum();
    (done as f64 / started.elapsed().as_secs_f64(), threads)
}

fn main() {
    let (mut port, mut clients, mut rows, mut seconds) = (6379u16, 50usize, 100_000usize, 5.0f64);
    let mut writers = vec![1usize, 4];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after a flag");
        match arg.as_str() {
            "--port" => port = value().parse().expect("port"),
            "--clients" => clients = value().parse().expect("clients"),
            "--rows" => rows = value().parse().expect("rows"),
            "--seconds" => seconds = value().parse().expect("seconds"),
            "--writers" => {
                writers = value()
                    .split(',')
                    .map(|w| w.parse().expect("writers"))
                    .collect()
            }
            "--bench" => {}
            other => panic!(
                "unknown argument {other}: --port P --clients N --rows N --seconds S --writers 1,4"
            ),
        }
    }
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "luma on port {port}: {clients} clients, {rows} rows, {seconds} s per phase, {cores} cores"
    );
    let mut admin = Conn::open(port);
    let mut fsync = |mode: &str| {
        admin.call(&[b"CONFIG", b"SET", b"appendfsync", mode.as_bytes()]);
    };
    fsync("everysec");
    load(port, rows);
    let select = Work::Select { rows };

    // Warm-up, not reported: the readers' page caches and the OS cache fill before (a), so (a)
    // and (d)'s baseline see the same state.
    measure(port, &[(clients, select)], seconds.min(2.0));

    // The load tool shares the machine's cores with the server: its CPU use says how much.
    let (cpu, wall) = (own_cpu_secs(), Instant::now());
    let a = measure(port, &[(clients, select)], seconds)[0];
    let load_cores = (own_cpu_secs() - cpu) / wall.elapsed().as_secs_f64();
    let label = format!("a. point selects by id via SQL.QUERY, {clients} clients");
    report(
        &label,
        a,
        "queries/s",
        &format!("(load tool used {load_cores:.2} of {cores} cores)"),
    );
    let (b, threads) = ceiling(rows, seconds);
    let label = format!("b. ceiling: the same selects via rusqlite in-process, {threads} threads");
    report(&label, b, "queries/s", &format!("a/b = {:.3}", a / b));

    for mode in ["everysec", "always"] {
        fsync(mode);
        let c = measure(port, &[(clients, Work::Insert)], seconds)[0];
        let label =
            format!("c. single-row inserts via SQL.EXEC, {clients} clients, appendfsync {mode}");
        report(&label, c, "inserts/s", "");
    }

    fsync("everysec");
    let alone = measure(port, &[(clients, select)], seconds)[0];
    let label = format!("d. point selects, {clients} clients, no writer (appendfsync everysec)");
    report(&label, alone, "queries/s", "");
    for w in writers {
        let rates = measure(port, &[(clients, select), (w, Work::Insert)], seconds);
        let drop = 100.0 * (alone - rates[0]) / alone;
        let verdict = if drop <= 20.0 { "within" } else { "OVER" };
        let label = format!(
            "d. point selects, {clients} clients, {w} writer(s) inserting {:.0}/s",
            rates[1]
        );
        report(
            &label,
            rates[0],
            "queries/s",
            &format!("drop {drop:.1}% ({verdict} the 20% target)"),
        );
    }
}

/// One result line: label, figure, unit, then the ratio or drop where there is one.
fn report(label: &str, value: f64, unit: &str, note: &str) {
    let line = format!("{label:<72}{value:>9.0} {unit:<10}{note}");
    println!("{}", line.trim_end());
}

/// CPU seconds (user + system) this process has used so far (Linux `/proc`; 0 elsewhere).
fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<f64> = stat.rsplit_once(") ").map_or(vec![], |(_, rest)| {
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect()
    });
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}
