//! Lists against a model: random pushes, pops, inserts, removals and trims of short (inside
//! their chunk row) and long (their own row) elements, in pipelines and MULTI blocks, across
//! chunk boundaries, a graceful restart and kill -9.

use std::collections::VecDeque;

use redis::Value;

use crate::process::{spawn, LumaProcess};

/// The project's deterministic generator (a fixed sequence, so a failure can be replayed),
/// with the draws these tests need.
struct Rng(luma::vector::testutil::Rng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n as usize) as u64
    }

    /// In `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// An element from a small pool (so LREM, LINSERT and LPOS find matches): short ones are
    /// kept in their chunk row, long ones (over 128 bytes) in a row of their own.
    fn element(&mut self) -> Vec<u8> {
        let n = self.below(6);
        if self.below(10) < 6 {
            format!("s{n}").into_bytes()
        } else {
            let mut e = format!("L{n}").into_bytes();
            e.resize(129 + 40 * n as usize, b'x');
            e
        }
    }
}

/// Redis's normalisation of a `start stop` range over `len` elements.
fn span(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

fn bulks(items: impl IntoIterator<Item = Vec<u8>>) -> Value {
    Value::Array(items.into_iter().map(Value::BulkString).collect())
}

fn start(dir: &str) -> (LumaProcess, redis::Connection) {
    let p = spawn(&["--port", "0", "--dir", dir]);
    let con = redis::Client::open(format!("redis://{}", p.addr))
        .unwrap()
        .get_connection()
        .unwrap();
    (p, con)
}

const KEYS: [&str; 2] = ["la", "lb"];

/// One random command (only changes unless `reads`) against the server and the model;
/// asserts the reply.
fn step(
    rng: &mut Rng,
    con: &mut redis::Connection,
    model: &mut [VecDeque<Vec<u8>>; 2],
    reads: bool,
) {
    let k = rng.below(2) as usize;
    let key = KEYS[k];
    let len = model[k].len() as i64;
    let left = rng.below(2) == 0;
    let mut op = rng.below(13);
    if !reads && matches!(op, 5 | 6 | 12) {
        // A read would commit the store's pending transaction: a kill right after changes
        // is to find them in the WAL alone.
        op = 3;
    }
    let (cmd, want): (redis::Cmd, Value) = match op {
        0..=2 => {
            let elements: Vec<Vec<u8>> = (0..rng.between(1, 40)).map(|_| rng.element()).collect();
            let mut cmd = redis::cmd(if left { "LPUSH" } else { "RPUSH" });
            cmd.arg(key).arg(&elements);
            for e in elements {
                if left {
                    model[k].push_front(e);
                } else {
                    model[k].push_back(e);
                }
            }
            (cmd, Value::Int(model[k].len() as i64))
        }
        3 | 4 => {
            let count = rng.between(1, 40) as usize;
            let mut cmd = redis::cmd(if left { "LPOP" } else { "RPOP" });
            cmd.arg(key).arg(count);
            let want = if model[k].is_empty() {
                Value::Nil
            } else {
                let n = count.min(model[k].len());
                bulks((0..n).filter_map(|_| {
                    if left {
                        model[k].pop_front()
                    } else {
                        model[k].pop_back()
                    }
                }))
            };
            (cmd, want)
        }
        5 => {
            let index = rng.between(-len - 2, len + 2);
            let mut cmd = redis::cmd("LINDEX");
            cmd.arg(key).arg(index);
            let at = if index < 0 { len + index } else { index };
            let want = usize::try_from(at)
                .ok()
                .and_then(|i| model[k].get(i).cloned())
                .map_or(Value::Nil, Value::BulkString);
            (cmd, want)
        }
        6 => {
            let (s, e) = (
                rng.between(-len - 3, len + 3),
                rng.between(-len - 3, len + 3),
            );
            let mut cmd = redis::cmd("LRANGE");
            cmd.arg(key).arg(s).arg(e);
            let want = span(model[k].len(), s, e)
                .map(|(s, e)| model[k].range(s..=e).cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            (cmd, bulks(want))
        }
        7 if len > 0 => {
            let index = rng.between(-len, len - 1);
            let value = rng.element();
            let mut cmd = redis::cmd("LSET");
            cmd.arg(key).arg(index).arg(&value);
            let at = if index < 0 { len + index } else { index } as usize;
            model[k][at] = value;
            (cmd, Value::Okay)
        }
        8 => {
            let (pivot, value) = (rng.element(), rng.element());
            let mut cmd = redis::cmd("LINSERT");
            cmd.arg(key)
                .arg(if left { "BEFORE" } else { "AFTER" })
                .arg(&pivot)
                .arg(&value);
            let want = if model[k].is_empty() {
                0
            } else if let Some(i) = model[k].iter().position(|e| *e == pivot) {
                model[k].insert(if left { i } else { i + 1 }, value);
                model[k].len() as i64
            } else {
                -1
            };
            (cmd, Value::Int(want))
        }
        9 => {
            let (count, value) = (rng.between(-3, 3), rng.element());
            let mut cmd = redis::cmd("LREM");
            cmd.arg(key).arg(count).arg(&value);
            let mut at: Vec<usize> = (0..model[k].len())
                .filter(|&i| model[k][i] == value)
                .collect();
            if count < 0 {
                at.reverse();
            }
            if count != 0 {
                at.truncate(count.unsigned_abs() as usize);
            }
            at.sort_unstable();
            for i in at.iter().rev() {
                model[k].remove(*i);
            }
            (cmd, Value::Int(at.len() as i64))
        }
        10 => {
            let (s, e) = (
                rng.between(-len - 3, len + 3),
                rng.between(-len - 3, len + 3),
            );
            let mut cmd = redis::cmd("LTRIM");
            cmd.arg(key).arg(s).arg(e);
            model[k] = match span(model[k].len(), s, e) {
                Some((s, e)) => model[k].range(s..=e).cloned().collect(),
                None => VecDeque::new(),
            };
            (cmd, Value::Okay)
        }
        11 => {
            let to_left = rng.below(2) == 0;
            let mut cmd = redis::cmd("LMOVE");
            cmd.arg(key)
                .arg(KEYS[1 - k])
                .arg(if left { "LEFT" } else { "RIGHT" })
                .arg(if to_left { "LEFT" } else { "RIGHT" });
            let moved = if left {
                model[k].pop_front()
            } else {
                model[k].pop_back()
            };
            let want = match moved {
                None => Value::Nil,
                Some(e) => {
                    if to_left {
                        model[1 - k].push_front(e.clone());
                    } else {
                        model[1 - k].push_back(e.clone());
                    }
                    Value::BulkString(e)
                }
            };
            (cmd, want)
        }
        _ => {
            let value = rng.element();
            let mut cmd = redis::cmd("LPOS");
            cmd.arg(key).arg(&value).arg("COUNT").arg(0);
            let want = (0..model[k].len())
                .filter(|&i| model[k][i] == value)
                .map(|i| Value::Int(i as i64))
                .collect();
            (cmd, Value::Array(want))
        }
    };
    let got: Value = cmd.query(con).unwrap();
    let shown: Vec<String> = cmd
        .args_iter()
        .map(|a| match a {
            redis::Arg::Simple(b) => String::from_utf8_lossy(b).chars().take(12).collect(),
            _ => "cursor".into(),
        })
        .collect();
    assert_eq!(got, want, "{shown:?}");
}

fn assert_whole(con: &mut redis::Connection, model: &[VecDeque<Vec<u8>>; 2], when: &str) {
    for (k, key) in KEYS.iter().enumerate() {
        let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(con)
            .unwrap();
        assert_eq!(got, Vec::from(model[k].clone()), "{key} {when}");
        let len: usize = redis::cmd("LLEN").arg(key).query(con).unwrap();
        assert_eq!(len, model[k].len(), "{key} {when}");
        let exists: bool = redis::cmd("EXISTS").arg(key).query(con).unwrap();
        assert_eq!(exists, !model[k].is_empty(), "{key} {when}");
    }
}

#[test]
fn lists_agree_with_a_model_through_random_commands_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (mut p, mut con) = start(data);
    let mut rng = Rng(luma::vector::testutil::Rng::new(7));
    let mut model: [VecDeque<Vec<u8>>; 2] = Default::default();
    for round in 0..6 {
        for _ in 0..400 {
            step(&mut rng, &mut con, &mut model, true);
        }
        assert_whole(&mut con, &model, &format!("after round {round}"));
        for _ in 0..30 {
            step(&mut rng, &mut con, &mut model, false);
        }
        // Graceful and kill -9 restarts in turn: the last changes come back from a checkpoint
        // or from the WAL's element records.
        if round % 2 == 0 {
            p.kill9();
        } else {
            p.terminate();
        }
        (p, con) = start(data);
        assert_whole(&mut con, &model, &format!("after restart {round}"));
    }
}

/// A pipeline's pushes and pops land in one batch, where the chunks they change are staged;
/// reads inside a MULTI block of that batch see them.
#[test]
fn one_batch_sees_its_own_list_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut p, mut con) = start(data.to_str().unwrap());
    let long = vec![b'z'; 300];
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.rpush("q", format!("e{i}")).ignore();
    }
    pipe.lpush("q", &long).ignore();
    pipe.lpop("q", None).lpop("q", None).rpop("q", None);
    let (first, second, last): (Vec<u8>, String, String) = pipe.query(&mut con).unwrap();
    assert_eq!(
        (first, second.as_str(), last.as_str()),
        (long.clone(), "e0", "e99")
    );

    let (range, index, popped, len): (Vec<String>, Vec<u8>, Vec<Vec<u8>>, usize) = redis::pipe()
        .atomic()
        .rpush("q", &long)
        .ignore()
        .rpush("q", "tail")
        .ignore()
        .lrange("q", 0, 2)
        .lindex("q", -2)
        .rpop("q", std::num::NonZeroUsize::new(2))
        .llen("q")
        .query(&mut con)
        .unwrap();
    assert_eq!(range, ["e1", "e2", "e3"]);
    assert_eq!(index, long);
    assert_eq!(popped, [b"tail".to_vec(), long]);
    assert_eq!(len, 98);
    // Reads of other collections leave the list's chunk staged; reads of the list see it.
    let (field, last, members, all): (String, String, Vec<String>, Vec<String>) = redis::pipe()
        .atomic()
        .rpush("mixed", "x")
        .ignore()
        .hset("h", "f", "v")
        .ignore()
        .hget("h", "f")
        .lindex("mixed", -1)
        .sadd("s", "m")
        .ignore()
        .smembers("s")
        .rpush("mixed", "y")
        .ignore()
        .lrange("mixed", 0, -1)
        .query(&mut con)
        .unwrap();
    assert_eq!((field.as_str(), last.as_str()), ("v", "x"));
    assert_eq!(
        (members, all),
        (vec!["m".to_string()], vec!["x".into(), "y".into()])
    );
    // A COPY in the batch that pushed copies the staged chunk too.
    let (copied, copy): (bool, Vec<String>) = redis::pipe()
        .atomic()
        .rpush("fresh", &["a", "b"])
        .ignore()
        .cmd("COPY")
        .arg("fresh")
        .arg("copy")
        .lrange("copy", 0, -1)
        .query(&mut con)
        .unwrap();
    assert!(copied);
    assert_eq!(copy, ["a", "b"]);
    let usage: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("q")
        .arg("SAMPLES")
        .arg(0)
        .query(&mut con)
        .unwrap();
    // 98 elements of 2-3 bytes: more than their bytes, less than a row each would cost.
    assert!((98 * 3..98 * 64).contains(&usage), "MEMORY USAGE {usage}");
    p.terminate();
}

/// COPY copies a list's chunk rows and long-element rows under a new version (logged as raw
/// member rows): the copy reads back whole, independent of the source, after kill -9.
#[test]
fn a_copied_list_survives_kill9_apart_from_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (mut p, mut con) = start(data);
    let elements: Vec<Vec<u8>> = (0..70)
        .map(|i| {
            let mut e = format!("e{i}").into_bytes();
            if i % 9 == 0 {
                e.resize(300, b'#');
            }
            e
        })
        .collect();
    let _: () = redis::cmd("RPUSH")
        .arg("src")
        .arg(&elements)
        .query(&mut con)
        .unwrap();
    // Only writes before the kill: their replay comes from the WAL.
    let copied: bool = redis::cmd("COPY")
        .arg("src")
        .arg("dst")
        .query(&mut con)
        .unwrap();
    assert!(copied);
    let _: Vec<Vec<u8>> = redis::cmd("LPOP")
        .arg("src")
        .arg(40)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("LSET")
        .arg("dst")
        .arg(0)
        .arg("changed")
        .query(&mut con)
        .unwrap();
    p.kill9();
    let (mut p, mut con) = start(data);
    let dst: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("dst")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    let mut want = elements.clone();
    want[0] = b"changed".to_vec();
    assert_eq!(dst, want);
    let src: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("src")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(src, elements[40..].to_vec());
    p.terminate();
}
