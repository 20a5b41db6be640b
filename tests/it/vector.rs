//! Vector sets (VADD, VSIM, …) against Redis 8's replies and errors, in RESP2 and RESP3; a
//! vector set as a key; recall through the server; persistence across a restart and kill -9.

use crate::common::replies::*;
use crate::common::{encode_command, RawClient, TestServer};
use crate::process::spawn;

fn raw3(server: &TestServer) -> RawClient {
    let mut c = server.raw();
    assert!(c.cmd_str(&["HELLO", "3"]).starts_with('%'));
    c
}

fn vadd(c: &mut RawClient, key: &str, v: &[f32], element: &str, extra: &[&str]) -> String {
    let mut args: Vec<String> = vec!["VADD".into(), key.into(), "VALUES".into()];
    args.push(v.len().to_string());
    args.extend(v.iter().map(|x| x.to_string()));
    args.push(element.into());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.cmd_str(&refs)
}

/// Deterministic clustered vectors (xorshift), `n` of `dim` components.
fn clustered(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed.max(1);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 10_000) as f32 / 10_000.0 - 0.5
    };
    let centres: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..dim).map(|_| next() * 4.0).collect())
        .collect();
    (0..n)
        .map(|i| centres[i % 20].iter().map(|c| c + next() * 0.8).collect())
        .collect()
}

fn fp32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Loads `vectors` as `e<i>` into `key`, pipelined.
fn load(c: &mut RawClient, key: &str, vectors: &[Vec<f32>], extra: &[&str]) {
    load_from(c, key, vectors, 0, extra)
}

/// Loads `vectors` as `e<first + i>`.
fn load_from(c: &mut RawClient, key: &str, vectors: &[Vec<f32>], first: usize, extra: &[&str]) {
    for (start, chunk) in vectors
        .chunks(500)
        .enumerate()
        .map(|(i, ch)| (first + i * 500, ch))
    {
        let mut batch = Vec::new();
        for (i, v) in chunk.iter().enumerate() {
            let blob = fp32(v);
            let name = format!("e{}", start + i);
            let mut args: Vec<&[u8]> =
                vec![b"VADD", key.as_bytes(), b"FP32", &blob, name.as_bytes()];
            args.extend(extra.iter().map(|s| s.as_bytes()));
            batch.extend(encode_command(&args));
        }
        c.send(&batch);
        for _ in chunk {
            assert_eq!(c.read_reply(), b":1\r\n");
        }
    }
}

/// Element names of a plain VSIM reply.
fn names(reply: &str) -> Vec<String> {
    reply
        .split("\r\n")
        .skip(1)
        .collect::<Vec<_>>()
        .chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| p[1].to_string())
        .collect()
}

#[test]
fn vadd_and_vsim_reply_as_redis_8_in_both_protocols() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(vadd(&mut c, "v", &[1.0, 0.0, 0.0], "a", &[]), int(1));
    assert_eq!(vadd(&mut c, "v", &[0.0, 1.0, 0.0], "b", &[]), int(1));
    assert_eq!(vadd(&mut c, "v", &[0.0, 0.0, 0.0], "zero", &[]), int(1));
    // Re-adding replaces the vector and answers 0.
    assert_eq!(vadd(&mut c, "v", &[0.9, 0.1, 0.0], "a", &[]), int(0));
    assert_eq!(c.cmd_str(&["VCARD", "v"]), int(3));
    assert_eq!(c.cmd_str(&["VCARD", "nokey"]), int(0));
    assert_eq!(c.cmd_str(&["VDIM", "v"]), int(3));
    assert_eq!(c.cmd_str(&["VDIM", "nokey"]), err("ERR key does not exist"));
    assert_eq!(c.cmd_str(&["TYPE", "v"]), "+vectorset\r\n");
    assert_eq!(c.cmd_str(&["VISMEMBER", "v", "a"]), int(1));
    assert_eq!(c.cmd_str(&["VISMEMBER", "v", "x"]), int(0));
    assert_eq!(c.cmd_str(&["VISMEMBER", "nokey", "x"]), int(0));
    // Best first; the zero vector scores 0.5 (as orthogonal vectors do).
    assert_eq!(
        c.cmd_str(&["VSIM", "v", "VALUES", "3", "1", "0", "0"]),
        bulks(&["a", "b", "zero"])
    );
    assert_eq!(
        c.cmd_str(&["VSIM", "v", "VALUES", "3", "1", "0", "0", "COUNT", "1"]),
        bulks(&["a"])
    );
    assert_eq!(
        c.cmd_str(&["VSIM", "nokey", "VALUES", "3", "1", "0", "0"]),
        EMPTY_ARRAY
    );
    let scored = c.cmd_str(&["VSIM", "v", "ELE", "b", "WITHSCORES", "COUNT", "1"]);
    assert_eq!(scored, arr(&[bulk("b"), bulk("1")]));
    let mut c3 = raw3(&server);
    assert_eq!(vadd(&mut c3, "v3", &[1.0, 0.0], "x", &[]), "#t\r\n");
    assert_eq!(vadd(&mut c3, "v3", &[1.0, 0.0], "x", &[]), "#f\r\n");
    assert_eq!(
        vadd(&mut c3, "v3", &[0.0, 1.0], "y", &["SETATTR", r#"{"n":1}"#]),
        "#t\r\n"
    );
    assert_eq!(
        c3.cmd_str(&["VSIM", "v3", "VALUES", "2", "1", "0", "WITHSCORES"]),
        "%2\r\n$1\r\nx\r\n,1\r\n$1\r\ny\r\n,0.5\r\n"
    );
    assert_eq!(
        c3.cmd_str(&["VSIM", "v3", "VALUES", "2", "1", "0", "WITHATTRIBS"]),
        "%2\r\n$1\r\nx\r\n_\r\n$1\r\ny\r\n$7\r\n{\"n\":1}\r\n"
    );
    assert_eq!(
        c3.cmd_str(&[
            "VSIM",
            "v3",
            "VALUES",
            "2",
            "1",
            "0",
            "WITHSCORES",
            "WITHATTRIBS"
        ]),
        "%2\r\n$1\r\nx\r\n*2\r\n,1\r\n_\r\n$1\r\ny\r\n*2\r\n,0.5\r\n$7\r\n{\"n\":1}\r\n"
    );
    assert_eq!(
        c.cmd_str(&[
            "VSIM",
            "v3",
            "VALUES",
            "2",
            "1",
            "0",
            "WITHSCORES",
            "WITHATTRIBS"
        ]),
        arr(&[
            bulk("x"),
            bulk("1"),
            NIL2.into(),
            bulk("y"),
            bulk("0.5"),
            bulk(r#"{"n":1}"#)
        ])
    );
    assert_eq!(c3.cmd_str(&["VISMEMBER", "v3", "y"]), "#t\r\n");
    // FP32 blobs, VSEARCH as VSIM's other name, EPSILON.
    let blob = fp32(&[0.0, 1.0]);
    assert_eq!(
        String::from_utf8_lossy(&c.cmd(&[b"VSEARCH", b"v3", b"FP32", &blob, b"COUNT", b"5"])),
        bulks(&["y", "x"])
    );
    assert_eq!(
        c.cmd_str(&["VSIM", "v3", "VALUES", "2", "0", "1", "EPSILON", "0.2"]),
        bulks(&["y"])
    );
}

#[test]
fn bad_input_gets_redis_errors_and_changes_nothing() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(vadd(&mut c, "v", &[1.0, 2.0, 3.0], "a", &[]), int(1));
    let e = |s: &str| err(&format!("ERR {s}"));
    assert_eq!(
        c.cmd_str(&["VADD", "v"]),
        e("wrong number of arguments for 'VADD' command")
    );
    assert_eq!(
        c.cmd_str(&["VADD", "v", "VALUES", "3", "1", "2", "3"]),
        e("wrong number of arguments for 'VADD' command")
    );
    assert_eq!(
        c.cmd_str(&["VADD", "v", "VALUES", "3", "1", "x", "3", "b"]),
        e("invalid vector specification")
    );
    assert_eq!(
        c.cmd_str(&["VADD", "v", "VALUES", "3", "1", "nan", "3", "b"]),
        e("invalid vector specification")
    );
    assert_eq!(
        String::from_utf8_lossy(&c.cmd(&[b"VADD", b"v", b"FP32", b"abcde", b"b"])),
        e("invalid vector specification")
    );
    let nan = fp32(&[1.0, f32::NAN, 0.0]);
    assert_eq!(
        String::from_utf8_lossy(&c.cmd(&[b"VADD", b"v", b"FP32", &nan, b"b"])),
        e("invalid vector specification")
    );
    assert_eq!(
        vadd(&mut c, "v", &[1.0, 2.0], "b", &[]),
        e("Vector dimension mismatch - got 2 but set has 3")
    );
    assert_eq!(
        vadd(&mut c, "v", &[1.0, 2.0, 3.0], "b", &["NOQUANT"]),
        e("asked quantization mismatch with existing vector set")
    );
    assert_eq!(
        vadd(&mut c, "v", &[1.0, 2.0, 3.0], "b", &["M", "32"]),
        e("asked M value mismatch with existing vector set")
    );
    assert_eq!(
        vadd(&mut c, "v", &[1.0, 2.0, 3.0], "b", &["EF", "0"]),
        e("invalid EF")
    );
    assert_eq!(
        vadd(&mut c, "v", &[1.0, 2.0, 3.0], "b", &["M", "2"]),
        e("invalid M")
    );
    assert_eq!(
        vadd(&mut c, "v", &[1.0, 2.0, 3.0], "b", &["BOGUS"]),
        e("invalid option after element")
    );
    assert_eq!(c.cmd_str(&["VCARD", "v"]), int(1));
    assert_eq!(c.cmd_str(&["SET", "s", "x"]), OK);
    assert_eq!(vadd(&mut c, "s", &[1.0], "a", &[]), WRONGTYPE);
    assert_eq!(c.cmd_str(&["VSIM", "s", "ELE", "a"]), WRONGTYPE);
    assert_eq!(c.cmd_str(&["VCARD", "s"]), WRONGTYPE);
    let q = ["VSIM", "v", "VALUES", "3", "1", "2", "3"];
    fn with<'a>(q: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [q, extra].concat()
    }
    assert_eq!(c.cmd_str(&with(&q, &["COUNT", "0"])), e("invalid COUNT"));
    assert_eq!(c.cmd_str(&with(&q, &["EF", "-1"])), e("invalid EF"));
    assert_eq!(
        c.cmd_str(&with(&q, &["EPSILON", "0"])),
        e("invalid EPSILON")
    );
    assert_eq!(
        c.cmd_str(&with(&q, &["FILTER-EF", "0"])),
        e("invalid FILTER-EF")
    );
    assert_eq!(
        c.cmd_str(&with(&q, &["WHAT"])),
        e("syntax error in VSIM command")
    );
    assert!(c
        .cmd_str(&with(&q, &["FILTER", ".year >"]))
        .starts_with("-ERR syntax error in FILTER expression near: "));
    assert_eq!(
        c.cmd_str(&["VSIM", "v", "VALUES", "2", "1", "2"]),
        e("Vector dimension mismatch - got 2 but set has 3")
    );
    assert_eq!(
        c.cmd_str(&["VSIM", "v", "ELE", "nope"]),
        e("element not found in set")
    );
    assert_eq!(c.cmd_str(&["VEMB", "v", "a", "FOO"]), e("invalid option"));
    assert_eq!(
        c.cmd_str(&["VRANDMEMBER", "v", "x"]),
        e("COUNT value is not an integer")
    );
    assert_eq!(
        c.cmd_str(&["VRANGE", "v", "a", "+"]),
        e("invalid start range format")
    );
    assert_eq!(
        c.cmd_str(&["VRANGE", "v", "+", "-"]),
        e("'-' can only be used as first argument, '+' only as second")
    );
    assert_eq!(c.cmd_str(&["VCARD", "v"]), int(1));
}

#[test]
fn attributes_filters_and_introspection() {
    let server = TestServer::start();
    let mut c = server.raw();
    let movies = [
        ("m1", [1.0, 0.1], r#"{"year":1940,"genre":"drama"}"#),
        ("m2", [0.9, 0.2], r#"{"year":1960,"genre":"drama"}"#),
        ("m3", [0.8, 0.3], r#"{"year":1990,"genre":"comedy"}"#),
        ("m4", [0.7, 0.4], "not json"),
    ];
    for (name, v, attrs) in movies {
        assert_eq!(vadd(&mut c, "mv", &v, name, &["SETATTR", attrs]), int(1));
    }
    assert_eq!(vadd(&mut c, "mv", &[0.1, 1.0], "m5", &[]), int(1));
    let q = ["VSIM", "mv", "VALUES", "2", "1", "0", "FILTER"];
    let filtered = |c: &mut RawClient, f: &str| names(&c.cmd_str(&[&q[..], &[f]].concat()));
    assert_eq!(
        filtered(&mut c, r#".year > 1950 and .genre == "drama""#),
        ["m2"]
    );
    assert_eq!(filtered(&mut c, ".year > 1950"), ["m2", "m3"]);
    assert_eq!(filtered(&mut c, ".missing == 1"), Vec::<String>::new());
    assert_eq!(c.cmd_str(&["VGETATTR", "mv", "m4"]), bulk("not json"));
    assert_eq!(c.cmd_str(&["VGETATTR", "mv", "m5"]), NIL2);
    assert_eq!(c.cmd_str(&["VGETATTR", "nokey", "m5"]), NIL2);
    assert_eq!(
        c.cmd_str(&["VSETATTR", "mv", "m5", r#"{"year":2000}"#]),
        int(1)
    );
    assert_eq!(c.cmd_str(&["VSETATTR", "mv", "nope", "{}"]), int(0));
    assert_eq!(c.cmd_str(&["VSETATTR", "nokey", "m5", "{}"]), int(0));
    assert_eq!(filtered(&mut c, ".year >= 1990"), ["m3", "m5"]);
    assert_eq!(c.cmd_str(&["VSETATTR", "mv", "m5", ""]), int(1));
    assert_eq!(c.cmd_str(&["VGETATTR", "mv", "m5"]), NIL2);
    // Re-adding without SETATTR keeps the attributes; SETATTR "" drops them.
    assert_eq!(vadd(&mut c, "mv", &[1.0, 0.1], "m1", &[]), int(0));
    assert_eq!(c.cmd_str(&["VGETATTR", "mv", "m1"]), bulk(movies[0].2));
    assert_eq!(
        vadd(&mut c, "mv", &[1.0, 0.1], "m4", &["SETATTR", ""]),
        int(0)
    );
    assert_eq!(c.cmd_str(&["VGETATTR", "mv", "m4"]), NIL2);
    // VINFO: Redis's nine fields, in order.
    let info = c.cmd_str(&["VINFO", "mv"]);
    let fields: Vec<&str> = info.split("\r\n").filter(|l| l.starts_with('+')).collect();
    assert_eq!(
        fields,
        [
            "+quant-type",
            "+int8",
            "+hnsw-m",
            "+vector-dim",
            "+projection-input-dim",
            "+size",
            "+max-level",
            "+attributes-count",
            "+vset-uid",
            "+hnsw-max-node-uid"
        ]
    );
    assert!(info.starts_with("*18\r\n") && info.contains("+size\r\n:5\r\n"));
    assert!(info.contains("+attributes-count\r\n:3\r\n"), "{info}");
    assert_eq!(c.cmd_str(&["VINFO", "nokey"]), NIL_ARRAY2);
    let mut c3 = raw3(&server);
    assert!(c3.cmd_str(&["VINFO", "mv"]).starts_with("%9\r\n"));
    assert_eq!(c3.cmd_str(&["VINFO", "nokey"]), NIL3);
    // VLINKS: one layer of neighbours, scores as a map in RESP3.
    let links = c.cmd_str(&["VLINKS", "mv", "m1"]);
    assert!(links.starts_with("*1\r\n*4\r\n"), "{links}");
    assert!(c3
        .cmd_str(&["VLINKS", "mv", "m1", "WITHSCORES"])
        .starts_with("*1\r\n%4\r\n"));
    assert_eq!(c.cmd_str(&["VLINKS", "mv", "nope"]), NIL2);
    assert_eq!(
        c.cmd_str(&["VLINKS", "mv", "m1", "X"]),
        err("ERR wrong number of arguments for 'VLINKS' command")
    );
    // VRANDMEMBER: distinct for positive counts, repeats for negative ones.
    assert!(c.cmd_str(&["VRANDMEMBER", "mv"]).starts_with("$2\r\nm"));
    assert_eq!(
        c.cmd_str(&["VRANDMEMBER", "mv", "10"]).split("\r\n").next(),
        Some("*5")
    );
    assert_eq!(
        c.cmd_str(&["VRANDMEMBER", "mv", "-8"]).split("\r\n").next(),
        Some("*8")
    );
    assert_eq!(c.cmd_str(&["VRANDMEMBER", "mv", "0"]), EMPTY_ARRAY);
    assert_eq!(c.cmd_str(&["VRANDMEMBER", "nokey"]), NIL2);
    assert_eq!(c.cmd_str(&["VRANDMEMBER", "nokey", "3"]), EMPTY_ARRAY);
    // VRANGE in memcmp order.
    assert_eq!(
        c.cmd_str(&["VRANGE", "mv", "-", "+"]),
        bulks(&["m1", "m2", "m3", "m4", "m5"])
    );
    assert_eq!(
        c.cmd_str(&["VRANGE", "mv", "(m2", "[m4"]),
        bulks(&["m3", "m4"])
    );
    assert_eq!(
        c.cmd_str(&["VRANGE", "mv", "[m2", "+", "2"]),
        bulks(&["m2", "m3"])
    );
    assert_eq!(c.cmd_str(&["VRANGE", "nokey", "-", "+"]), EMPTY_ARRAY);
}

#[test]
fn embeddings_follow_the_quantization() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(vadd(&mut c, "f", &[3.0, -4.0], "a", &["NOQUANT"]), int(1));
    assert_eq!(
        c.cmd_str(&["VEMB", "f", "a"]),
        arr(&[bulk("3"), bulk("-4")])
    );
    let raw = c.cmd_str(&["VEMB", "f", "a", "RAW"]);
    assert!(raw.starts_with("*3\r\n+f32\r\n$8\r\n"), "{raw}");
    assert!(raw.ends_with("$1\r\n5\r\n"), "{raw}");
    assert_eq!(vadd(&mut c, "q", &[3.0, -4.0, 0.0], "a", &[]), int(1));
    let raw = c.cmd_str(&["VEMB", "q", "a", "RAW"]);
    assert!(raw.starts_with("*4\r\n+int8\r\n$3\r\n"), "{raw}");
    let mut c3 = raw3(&server);
    let approx = c3.cmd_str(&["VEMB", "q", "a"]);
    let values: Vec<f64> = approx
        .split("\r\n")
        .filter_map(|l| l.strip_prefix(','))
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(values.len(), 3);
    assert!(
        (values[0] - 3.0).abs() < 0.05 && (values[1] + 4.0).abs() < 0.05,
        "{values:?}"
    );
    assert_eq!(c.cmd_str(&["VEMB", "q", "nope"]), NIL2);
    assert_eq!(c.cmd_str(&["VEMB", "nokey", "a"]), NIL2);
    assert_eq!(vadd(&mut c, "b", &[1.0, -1.0, 2.0], "a", &["BIN"]), int(1));
    assert!(c
        .cmd_str(&["VEMB", "b", "a", "RAW"])
        .starts_with("*3\r\n+bin\r\n$1\r\n"));
    // REDUCE: a random projection; VDIM reports the reduced size, queries are full size.
    let wide: Vec<f32> = (0..16).map(|i| i as f32).collect();
    let mut args: Vec<String> = ["VADD", "r", "REDUCE", "4", "VALUES", "16"]
        .map(String::from)
        .to_vec();
    args.extend(wide.iter().map(|x| x.to_string()));
    args.push("a".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd_str(&refs), int(1));
    assert_eq!(c.cmd_str(&["VDIM", "r"]), int(4));
    assert!(c
        .cmd_str(&["VINFO", "r"])
        .contains("+projection-input-dim\r\n:16\r\n"));
    let mut q: Vec<String> = ["VSIM", "r", "VALUES", "16"].map(String::from).to_vec();
    q.extend(wide.iter().map(|x| x.to_string()));
    let refs: Vec<&str> = q.iter().map(String::as_str).collect();
    assert_eq!(c.cmd_str(&refs), bulks(&["a"]));
    assert_eq!(
        vadd(&mut c, "r", &wide, "b", &[]),
        err("ERR Vector dimension mismatch - got 16 but set has 4")
    );
}

#[test]
fn a_vector_set_is_a_key_like_any_other() {
    let server = TestServer::start();
    let mut c = server.raw();
    let data = clustered(50, 8, 3);
    load(&mut c, "v", &data, &[]);
    assert_eq!(c.cmd_str(&["RENAME", "v", "w"]), OK);
    let probe = |c: &mut RawClient, key: &str| {
        let blob = fp32(&data[7]);
        names(&String::from_utf8_lossy(&c.cmd(&[
            b"VSIM",
            key.as_bytes(),
            b"FP32",
            &blob,
            b"COUNT",
            b"1",
        ])))
    };
    assert_eq!(probe(&mut c, "w"), ["e7"]);
    assert_eq!(c.cmd_str(&["COPY", "w", "copy"]), int(1));
    assert_eq!(c.cmd_str(&["VREM", "w", "e7"]), int(1));
    assert_eq!(c.cmd_str(&["VREM", "w", "e7"]), int(0));
    assert_eq!(c.cmd_str(&["VREM", "nokey", "e7"]), int(0));
    assert_ne!(probe(&mut c, "w"), ["e7"]);
    assert_eq!(probe(&mut c, "copy"), ["e7"]);
    assert_eq!(c.cmd_str(&["VCARD", "w"]), int(49));
    assert_eq!(c.cmd_str(&["VCARD", "copy"]), int(50));
    assert_eq!(
        c.cmd_str(&["SCAN", "0", "TYPE", "vectorset"])
            .matches("$")
            .count(),
        3
    );
    assert_eq!(c.cmd_str(&["OBJECT", "ENCODING", "w"]), bulk("raw"));
    assert_eq!(c.cmd_str(&["PEXPIRE", "copy", "50"]), int(1));
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(c.cmd_str(&["VCARD", "copy"]), int(0));
    assert_eq!(c.cmd_str(&["EXISTS", "copy"]), int(0));
    // Removing the last element deletes the key, as Redis does.
    assert_eq!(vadd(&mut c, "one", &[1.0], "x", &[]), int(1));
    assert_eq!(c.cmd_str(&["VREM", "one", "x"]), int(1));
    assert_eq!(c.cmd_str(&["EXISTS", "one"]), int(0));
    // A new set under a deleted one's name starts empty, with its own dimension.
    assert_eq!(c.cmd_str(&["DEL", "w"]), int(1));
    assert_eq!(vadd(&mut c, "w", &[1.0, 2.0], "fresh", &[]), int(1));
    assert_eq!(
        c.cmd_str(&["VSIM", "w", "VALUES", "2", "1", "2"]),
        bulks(&["fresh"])
    );
    assert_eq!(c.cmd_str(&["MOVE", "w", "1"]), int(1));
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(
        c.cmd_str(&["VSIM", "w", "VALUES", "2", "1", "2"]),
        bulks(&["fresh"])
    );
    assert_eq!(c.cmd_str(&["FLUSHALL"]), OK);
    assert_eq!(
        c.cmd_str(&["VSIM", "w", "VALUES", "2", "1", "2"]),
        EMPTY_ARRAY
    );
    // Keyspace events of the module class.
    let mut sub = server.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "Ed"]),
        OK
    );
    sub.cmd_str(&["SUBSCRIBE", "__keyevent@1__:vadd"]);
    assert_eq!(vadd(&mut c, "ev", &[1.0], "x", &[]), int(1));
    assert_eq!(
        String::from_utf8_lossy(&sub.read_reply()),
        arr(&[bulk("message"), bulk("__keyevent@1__:vadd"), bulk("ev")])
    );
}

#[test]
fn multi_exec_applies_vector_writes_atomically() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    assert_eq!(vadd(&mut c, "v", &[1.0, 0.0], "a", &[]), "+QUEUED\r\n");
    assert_eq!(vadd(&mut c, "v", &[0.0, 1.0], "b", &[]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["VCARD", "v"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_str(&["EXEC"]), arr(&[int(1), int(1), int(2)]));
    assert_eq!(
        c.cmd_str(&["VSIM", "v", "VALUES", "2", "0", "1"]),
        bulks(&["b", "a"])
    );
    // VSIM queued in MULTI runs on the caller's thread.
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    c.cmd_str(&["VSIM", "v", "VALUES", "2", "1", "0", "COUNT", "1"]);
    assert_eq!(c.cmd_str(&["EXEC"]), arr(&[bulks(&["a"])]));
    assert_eq!(
        c.cmd_str(&["VSIM", "v", "VALUES", "2", "1", "0", "COUNT", "1", "NOTHREAD"]),
        bulks(&["a"])
    );
}

#[test]
fn graph_search_through_the_server_finds_the_true_neighbours() {
    let server = TestServer::start();
    let mut c = server.raw();
    let data = clustered(3000, 32, 11);
    load(&mut c, "big", &data, &[]);
    assert_eq!(c.cmd_str(&["VCARD", "big"]), int(3000));
    let info = c.cmd_str(&["INFO", "vectors"]);
    assert!(
        info.contains("vector_sets:1\r\nvector_elements:3000\r\n"),
        "{info}"
    );
    let (mut found, mut total) = (0, 0);
    for (i, q) in data.iter().enumerate().step_by(60) {
        let blob = fp32(q);
        let approx = names(&String::from_utf8_lossy(
            &c.cmd(&[b"VSIM", b"big", b"FP32", &blob]),
        ));
        let truth = names(&String::from_utf8_lossy(
            &c.cmd(&[b"VSIM", b"big", b"FP32", &blob, b"TRUTH"]),
        ));
        assert_eq!(approx[0], format!("e{i}"));
        assert_eq!(truth.len(), 10);
        found += approx.iter().filter(|n| truth.contains(n)).count();
        total += truth.len();
    }
    let recall = found as f64 / total as f64;
    assert!(recall >= 0.95, "recall@10 {recall}");
    // Searches from other clients run while a writer keeps adding.
    let addr = server.addr;
    let queries = data.clone();
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let queries = queries.clone();
            std::thread::spawn(move || {
                let mut r = RawClient::connect(addr);
                for q in queries.iter().skip(t).step_by(97) {
                    let blob = fp32(q);
                    let reply = r.cmd(&[b"VSIM", b"big", b"FP32", &blob, b"COUNT", b"5"]);
                    assert!(
                        reply.starts_with(b"*5\r\n"),
                        "{}",
                        String::from_utf8_lossy(&reply)
                    );
                }
            })
        })
        .collect();
    load(&mut c, "big2", &clustered(1500, 32, 12), &[]);
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn vector_sets_survive_a_restart_and_kill_9() {
    survives_restarts(&[]);
}

/// With no RAM for lists or vectors, every hop and re-rank reads the graph's file: searches,
/// VEMB and restarts behave the same.
#[test]
fn a_graph_past_its_memory_budget_serves_from_its_file_through_restarts() {
    survives_restarts(&["--vector-graph-memory", "0"]);
}

fn survives_restarts(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_arg = data_dir.to_str().unwrap();
    let data = clustered(1200, 16, 5);
    let mut p = spawn(
        &[
            &["--port", "0", "--dir", data_arg, "--appendfsync", "always"],
            extra,
        ]
        .concat(),
    );
    let mut c = RawClient::connect(p.addr);
    load(&mut c, "v", &data[..1100], &[]);
    assert_eq!(c.cmd_str(&["VSETATTR", "v", "e3", r#"{"k":1}"#]), int(1));
    assert_eq!(c.cmd_str(&["VREM", "v", "e4"]), int(1));
    // A checkpoint in the middle: some of the set before it, some only in the log.
    assert_eq!(c.cmd_str(&["SAVE"]), OK);
    load_from(&mut c, "v", &data[1100..], 1100, &[]);
    p.kill9();
    let p = spawn(&[&["--port", "0", "--dir", data_arg], extra].concat());
    // The graph came back from its checkpoint (the SAVE above), not from a rebuild.
    assert!(p.logged("vector sets: 1 reopened from checkpoints, 0 built, 1199 elements"));
    let mut c = RawClient::connect(p.addr);
    assert_eq!(c.cmd_str(&["VCARD", "v"]), int(1199));
    assert_eq!(c.cmd_str(&["VGETATTR", "v", "e3"]), bulk(r#"{"k":1}"#));
    assert_eq!(c.cmd_str(&["VISMEMBER", "v", "e4"]), int(0));
    let probe = |c: &mut RawClient| {
        for i in [0, 5, 1099, 1100, 1199] {
            let blob = fp32(&data[i]);
            let got = names(&String::from_utf8_lossy(
                &c.cmd(&[b"VSIM", b"v", b"FP32", &blob, b"COUNT", b"1"]),
            ));
            assert_eq!(got, [format!("e{i}")]);
        }
    };
    probe(&mut c);
    // The stored vector reads back (Q8: within a quantization step).
    let emb = c.cmd_str(&["VEMB", "v", "e7"]);
    assert!(emb.starts_with("*16\r\n"), "{emb}");
    // After a graceful shutdown the graph is reopened again, with the removal made since.
    assert_eq!(c.cmd_str(&["VREM", "v", "e6"]), int(1));
    let mut p = p;
    assert!(p.terminate().success());
    let p = spawn(&[&["--port", "0", "--dir", data_arg], extra].concat());
    assert!(p.logged("vector sets: 1 reopened from checkpoints, 0 built, 1198 elements"));
    let mut c = RawClient::connect(p.addr);
    assert_eq!(c.cmd_str(&["VISMEMBER", "v", "e6"]), int(0));
    probe(&mut c);
}
