//! SQL.EXEC / SQL.QUERY / SQL.TABLES / SQL.SCHEMA through the server: replies in RESP2 and
//! RESP3, parameters, guards and limits, MULTI/EXEC with KV writes, the hybrid vsearch()
//! flow with an audit event, and durability across kill -9 and lost SQLite commits.

use crate::common::replies::*;
use crate::common::{RawClient, TestServer};
use crate::process::spawn;

fn raw3(server: &TestServer) -> RawClient {
    let mut c = server.raw();
    assert!(c.cmd_str(&["HELLO", "3"]).starts_with('%'));
    c
}

/// SQL.EXEC's reply in RESP2.
fn exec2(changes: i64, rowid: i64) -> String {
    arr(&[
        bulk("changes"),
        int(changes),
        bulk("last_insert_rowid"),
        int(rowid),
    ])
}

fn setup_docs(c: &mut RawClient) {
    let reply = c.cmd_str(&[
        "SQL.EXEC",
        "CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT NOT NULL, score REAL, body BLOB);
         INSERT INTO docs(title, score) VALUES ('alpha', 1.5), ('beta', NULL)",
    ]);
    assert_eq!(reply, exec2(2, 2));
}

#[test]
fn exec_and_query_reply_in_resp2_and_resp3() {
    let server = TestServer::start();
    let mut c = server.raw();
    setup_docs(&mut c);
    // Positional parameters; a non-UTF-8 argument binds as a blob.
    let reply = c.cmd(&[
        b"SQL.EXEC",
        b"INSERT INTO docs(title, score, body) VALUES (?1, ?2, ?3)",
        b"PARAMS",
        b"3",
        b"gamma",
        b"2.25",
        &[0xff, 0x00, 0xfe],
    ]);
    assert_eq!(String::from_utf8_lossy(&reply), exec2(1, 3));
    // Named parameters as name/value pairs.
    assert_eq!(
        c.cmd_str(&[
            "SQL.EXEC",
            "UPDATE docs SET score = :s WHERE title = :t",
            "PARAMS",
            "4",
            ":t",
            "beta",
            ":s",
            "0.5"
        ]),
        exec2(1, 0)
    );
    let query = [
        "SQL.QUERY",
        "SELECT id, title, score, body FROM docs WHERE id >= ?1 ORDER BY id",
        "PARAMS",
        "1",
        "2",
    ];
    let reply = c.cmd(&query.map(str::as_bytes));
    let mut want = format!(
        "*3\r\n{}{}",
        bulks(&["id", "title", "score", "body"]),
        arr(&[int(2), bulk("beta"), bulk("0.5"), NIL2.into()])
    )
    .into_bytes();
    want.extend_from_slice(b"*4\r\n:3\r\n$5\r\ngamma\r\n$4\r\n2.25\r\n$3\r\n\xff\x00\xfe\r\n");
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(&want)
    );
    // RESP3: reals are doubles, NULL is null.
    let mut c3 = raw3(&server);
    assert_eq!(
        c3.cmd_str(&[
            "SQL.QUERY",
            "SELECT id, score, NULL AS n FROM docs WHERE id = 2"
        ]),
        "*2\r\n*3\r\n$2\r\nid\r\n$5\r\nscore\r\n$1\r\nn\r\n*3\r\n:2\r\n,0.5\r\n_\r\n"
    );
    assert_eq!(
        c3.cmd_str(&["SQL.EXEC", "DELETE FROM docs WHERE id = 99"]),
        "%2\r\n$7\r\nchanges\r\n:0\r\n$17\r\nlast_insert_rowid\r\n:0\r\n"
    );
    // FORMAT JSON: one document, objects keyed by column in column order.
    assert_eq!(
        c.cmd_str(&[
            "SQL.QUERY",
            "SELECT id, title, score FROM docs WHERE id <= 2 ORDER BY id",
            "FORMAT",
            "JSON"
        ]),
        bulk(r#"[{"id":1,"title":"alpha","score":1.5},{"id":2,"title":"beta","score":0.5}]"#)
    );
    // Introspection.
    c.cmd_str(&[
        "SQL.EXEC",
        "CREATE TABLE acl(doc INTEGER, user TEXT); CREATE INDEX acl_user ON acl(user)",
    ]);
    assert_eq!(c.cmd_str(&["SQL.TABLES"]), bulks(&["acl", "docs"]));
    assert_eq!(
        c.cmd_str(&["SQL.SCHEMA", "acl"]),
        bulks(&[
            "CREATE TABLE acl(doc INTEGER, user TEXT)",
            "CREATE INDEX acl_user ON acl(user)"
        ])
    );
    assert_eq!(
        c.cmd_str(&["SQL.SCHEMA", "nope"]),
        err("ERR SQL error: no such table: nope")
    );
    let info = c.cmd_str(&["INFO", "sql"]);
    assert!(info.contains("# Sql\r\n"), "{info}");
    assert!(info.contains("sql_rows_changed:4\r\n"), "{info}");
    assert_eq!(
        c.cmd_str(&["SQL.TABLES", "x"]),
        err("ERR wrong number of arguments for 'sql.tables' command")
    );
}

#[test]
fn bad_sql_gets_a_clear_error_and_changes_nothing() {
    let server = TestServer::start();
    let mut c = server.raw();
    setup_docs(&mut c);
    let cases: &[(&[&str], &str)] = &[
        (
            &["SQL.QUERY", "SELEC 1"],
            "ERR SQL error: near \"SELEC\": syntax error",
        ),
        (
            &["SQL.QUERY", "DELETE FROM docs"],
            "ERR SQL error: SQL.QUERY only reads: use SQL.EXEC",
        ),
        (
            &["SQL.QUERY", "SELECT 1; SELECT 2"],
            "ERR SQL error: SQL.QUERY takes one statement",
        ),
        (
            &["SQL.EXEC", "ATTACH '/tmp/other.db' AS other"],
            "ERR SQL error: ATTACH and DETACH are not allowed",
        ),
        (
            &["SQL.QUERY", "SELECT load_extension('/tmp/x.so')"],
            "ERR SQL error: load_extension is not allowed",
        ),
        (
            &["SQL.EXEC", "PRAGMA journal_mode=DELETE"],
            "ERR SQL error: PRAGMA journal_mode is not allowed",
        ),
        (
            &["SQL.EXEC", "PRAGMA synchronous=OFF"],
            "ERR SQL error: PRAGMA synchronous is not allowed",
        ),
        (
            &["SQL.EXEC", "PRAGMA writable_schema=ON"],
            "ERR SQL error: PRAGMA writable_schema is not allowed",
        ),
        (
            &["SQL.EXEC", "BEGIN"],
            "ERR SQL error: transaction statements are not allowed",
        ),
        (
            &["SQL.EXEC", "CREATE TABLE copy AS SELECT * FROM docs"],
            "ERR SQL error: CREATE TABLE … AS SELECT is not supported",
        ),
        (
            &["SQL.EXEC", "DROP TABLE _luma_state"],
            "ERR SQL error: _luma_state is Luma's own table",
        ),
        (
            &["SQL.QUERY", "SELECT ?1, ?2", "PARAMS", "1", "a"],
            "ERR SQL error: no value given for parameter ?2",
        ),
        (
            &["SQL.QUERY", "SELECT ?1", "PARAMS", "3", "a"],
            "ERR PARAMS count must match",
        ),
        (
            &["SQL.QUERY", "SELECT 1", "FORMAT", "XML"],
            "ERR syntax error",
        ),
        (&["SQL.QUERY", "SELECT 1", "BOGUS"], "ERR syntax error"),
        (
            &["SQL.QUERY", "SELECT vsearch_missing()"],
            "ERR SQL error: no such function: vsearch_missing",
        ),
        (
            &["SQL.QUERY", "SELECT * FROM vsearch('nokey', '[1,2]', 0)"],
            "ERR SQL error: vsearch: k must be a positive integer",
        ),
        (
            &["SQL.QUERY", "SELECT * FROM vsearch('nokey', 'not json', 3)"],
            "ERR SQL error: vsearch: the query must be",
        ),
    ];
    for (args, want) in cases {
        let reply = c.cmd_str(args);
        assert!(
            reply.starts_with(&format!("-{want}")),
            "{args:?} → {reply:?}"
        );
    }
    // SQLite would stop reading at a NUL byte (and delete every row here).
    assert_eq!(
        String::from_utf8_lossy(&c.cmd(&[b"SQL.EXEC", b"DELETE FROM docs\0 WHERE id = 99"])),
        err("ERR SQL text may not contain NUL bytes")
    );
    assert_eq!(
        String::from_utf8_lossy(&c.cmd(&[b"SQL.QUERY", b"SELECT \xff"])),
        err("ERR SQL text must be UTF-8")
    );
    // A failing statement undoes the whole SQL.EXEC.
    let reply = c.cmd_str(&[
        "SQL.EXEC",
        "INSERT INTO docs(title) VALUES ('kept?'); INSERT INTO docs(title) VALUES (NULL)",
    ]);
    assert_eq!(
        reply,
        err("ERR SQL error: NOT NULL constraint failed: docs.title")
    );
    // A statement that makes SQLite roll back its whole transaction (ON CONFLICT ROLLBACK)
    // fails alone: the writes grouped with it in the same SQLite transaction still land.
    let mut pipeline = Vec::new();
    for args in [
        &["SQL.EXEC", "INSERT INTO docs(title) VALUES ('p1')"][..],
        &[
            "SQL.EXEC",
            "INSERT OR ROLLBACK INTO docs(id, title) VALUES (1, 'dup')",
        ],
        &["SQL.EXEC", "INSERT INTO docs(title) VALUES ('p2')"],
    ] {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        pipeline.extend(crate::common::encode_command(&args));
    }
    c.send(&pipeline);
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), exec2(1, 3));
    assert_eq!(
        String::from_utf8_lossy(&c.read_reply()),
        err("ERR SQL error: UNIQUE constraint failed: docs.id")
    );
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), exec2(1, 4));
    assert_eq!(
        c.cmd_str(&["SQL.EXEC", "DELETE FROM docs WHERE title IN ('p1', 'p2')"]),
        exec2(2, 0)
    );
    // Limits: rows, bytes, run time; each a clear error, the server unaffected.
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "sql-max-rows", "1"]), OK);
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT * FROM docs"]),
        err("ERR SQL result exceeds sql-max-rows (1 rows)")
    );
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "sql-max-rows", "100000"]), OK);
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "sql-max-reply-bytes", "2048"]),
        OK
    );
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT zeroblob(4096)"]),
        err("ERR SQL result exceeds sql-max-reply-bytes (2048 bytes)")
    );
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "sql-timeout", "200"]), OK);
    let runaway =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", runaway]),
        err("ERR SQL statement exceeded sql-timeout (200 ms) and was stopped")
    );
    let runaway_write = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                         INSERT INTO docs(title) SELECT 'x' || x FROM c";
    assert_eq!(
        c.cmd_str(&["SQL.EXEC", runaway_write]),
        err("ERR SQL statement exceeded sql-timeout (200 ms) and was stopped")
    );
    let info = c.cmd_str(&["INFO", "sql"]);
    assert!(info.contains("sql_timeouts:2\r\n"), "{info}");
    // Nothing of the failures landed; the database is intact and still writable.
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT count(*) FROM docs"]),
        arr(&[bulks(&["count(*)"]), arr(&[int(2)])])
    );
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "PRAGMA integrity_check"]),
        arr(&[bulks(&["integrity_check"]), bulks(&["ok"])])
    );
    assert_eq!(
        c.cmd_str(&["SQL.EXEC", "INSERT INTO docs(title) VALUES ('after')"]),
        exec2(1, 3)
    );
}

#[test]
fn multi_exec_commits_sql_with_kv_writes() {
    let server = TestServer::start();
    let mut c = server.raw();
    setup_docs(&mut c);
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    for args in [
        &["SET", "k", "1"][..],
        &["SQL.EXEC", "INSERT INTO docs(title) VALUES ('in txn')"],
        &["SQL.QUERY", "SELECT count(*) FROM docs"],
        &["SQL.EXEC", "INSERT INTO missing VALUES (1)"],
        &["INCR", "k"],
    ] {
        assert_eq!(c.cmd_str(args), "+QUEUED\r\n");
    }
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        arr(&[
            OK.into(),
            exec2(1, 3),
            arr(&[bulks(&["count(*)"]), arr(&[int(3)])]),
            err("ERR SQL error: no such table: missing"),
            int(2),
        ])
    );
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk("2"));
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT title FROM docs WHERE id = 3"]),
        arr(&[bulks(&["title"]), bulks(&["in txn"])])
    );
    // A WATCHed key changed: neither the KV nor the SQL write happens.
    let mut other = server.raw();
    assert_eq!(c.cmd_str(&["WATCH", "k"]), OK);
    assert_eq!(other.cmd_str(&["SET", "k", "9"]), OK);
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    c.cmd_str(&["SQL.EXEC", "INSERT INTO docs(title) VALUES ('never')"]);
    assert_eq!(c.cmd_str(&["EXEC"]), NIL_ARRAY2);
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT count(*) FROM docs"]),
        arr(&[bulks(&["count(*)"]), arr(&[int(3)])])
    );
    // The settings' limits hold inside a transaction too.
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "sql-timeout", "100"]), OK);
    assert_eq!(c.cmd_str(&["MULTI"]), OK);
    let runaway =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    c.cmd_str(&["SQL.QUERY", runaway]);
    c.cmd_str(&["INCR", "k"]);
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        arr(&[
            err("ERR SQL statement exceeded sql-timeout (100 ms) and was stopped"),
            int(10),
        ])
    );
}

fn fp32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The seed's flow: nearest documents the user may read as admin, in one SQL.QUERY, with an
/// audit event for a subscriber; and the KV and publish functions.
#[test]
fn hybrid_search_joins_vectors_with_tables_and_publishes_an_audit_event() {
    let server = TestServer::start();
    let mut c = server.raw();
    // Documents 1..=8 on a line: doc i at angle i·10°, so nearness to angle 0 is by id.
    for i in 1..=8 {
        let a = (i as f32 * 10.0).to_radians();
        let blob = fp32(&[a.cos(), a.sin(), 0.0]);
        let attrs = format!(r#"{{"year":{}}}"#, 2000 + i);
        let id = i.to_string();
        let reply = c.cmd(&[
            b"VADD",
            b"docs",
            b"FP32",
            &blob,
            id.as_bytes(),
            b"SETATTR",
            attrs.as_bytes(),
        ]);
        assert_eq!(String::from_utf8_lossy(&reply), int(1));
    }
    c.cmd_str(&[
        "SQL.EXEC",
        "CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT);
         CREATE TABLE acl(doc INTEGER, user TEXT, level TEXT);
         WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 8)
         INSERT INTO docs SELECT v, 'doc ' || v FROM s;",
    ]);
    // alice is admin of 2, 3, 5 and 8, reader of 1.
    c.cmd_str(&[
        "SQL.EXEC",
        "INSERT INTO acl VALUES (1,'alice','read'), (2,'alice','admin'), (3,'alice','admin'),
         (5,'alice','admin'), (8,'alice','admin'), (4,'bob','admin')",
    ]);
    let mut sub = server.raw();
    assert_eq!(
        sub.cmd_str(&["SUBSCRIBE", "search_audit"]),
        arr(&[bulk("subscribe"), bulk("search_audit"), int(1)])
    );
    let query = fp32(&[1.0, 0.0, 0.0]);
    let reply = c.cmd(&[
        b"SQL.QUERY",
        b"SELECT d.id, d.title FROM vsearch('docs', ?1, 4) AS v \
          JOIN docs d ON d.id = v.element JOIN acl a ON a.doc = d.id \
          WHERE a.user = ?2 AND a.level = 'admin' ORDER BY v.score DESC",
        b"PARAMS",
        b"2",
        &query,
        b"alice",
        b"PUBLISH",
        b"search_audit",
    ]);
    // The 4 nearest are 1..4; alice administers 2 and 3 of them.
    assert_eq!(
        String::from_utf8_lossy(&reply),
        arr(&[
            bulks(&["id", "title"]),
            arr(&[int(2), bulk("doc 2")]),
            arr(&[int(3), bulk("doc 3")]),
        ])
    );
    let event = String::from_utf8_lossy(&sub.read_reply()).into_owned();
    assert!(
        event.starts_with("*3\r\n$7\r\nmessage\r\n$12\r\nsearch_audit\r\n"),
        "{event}"
    );
    let json = event.split("\r\n").nth(6).unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["command"], "SQL.QUERY");
    assert_eq!(v["params"], 2);
    assert_eq!(v["rows"], 2);
    assert!(v["time_ms"].as_f64().unwrap() >= 0.0);
    // A JSON array as the query, a FILTER expression, scores and attributes as columns
    // (VSIM's scores: (1 + cos)/2, so 0.93 for 30° and 0.88 for 40°).
    assert_eq!(
        c.cmd_str(&[
            "SQL.QUERY",
            "SELECT element, score > 0.9, score > 0.85, attributes \
             FROM vsearch('docs', '[1, 0, 0]', 2, '.year > 2002')",
        ]),
        arr(&[
            bulks(&["element", "score > 0.9", "score > 0.85", "attributes"]),
            arr(&[bulk("3"), int(1), int(1), bulk(r#"{"year":2003}"#)]),
            arr(&[bulk("4"), int(0), int(1), bulk(r#"{"year":2004}"#)]),
        ])
    );
    assert!(c
        .cmd_str(&["SQL.QUERY", "SELECT * FROM vsearch('docs', '[1, 0]', 2)"])
        .starts_with("-ERR SQL error: vsearch: Vector dimension mismatch - got 2 but set has 3"));
    assert_eq!(
        c.cmd_str(&[
            "SQL.QUERY",
            "SELECT count(*) FROM vsearch('none', '[1, 0]', 2)"
        ]),
        arr(&[bulks(&["count(*)"]), arr(&[int(0)])])
    );
    // KV reads and publish from SQL.
    assert_eq!(c.cmd_str(&["SET", "greeting", "hello"]), OK);
    assert_eq!(c.cmd_str(&["HSET", "user:1", "name", "alice"]), int(1));
    assert_eq!(
        c.cmd_str(&[
            "SQL.QUERY",
            "SELECT kv_get('greeting'), kv_hget('user:1', 'name'), kv_get('missing')"
        ]),
        arr(&[
            bulks(&[
                "kv_get('greeting')",
                "kv_hget('user:1', 'name')",
                "kv_get('missing')"
            ]),
            arr(&[bulk("hello"), bulk("alice"), NIL2.into()]),
        ])
    );
    assert!(c
        .cmd_str(&["SQL.QUERY", "SELECT kv_get('user:1')"])
        .starts_with("-ERR SQL error: WRONGTYPE"));
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT publish('search_audit', 'hi')"]),
        arr(&[bulks(&["publish('search_audit', 'hi')"]), arr(&[int(1)])])
    );
    assert_eq!(
        sub.read_reply(),
        arr(&[bulk("message"), bulk("search_audit"), bulk("hi")]).into_bytes()
    );
    // The SQL functions see the client's database.
    assert_eq!(c.cmd_str(&["SELECT", "1"]), OK);
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT kv_get('greeting')"]),
        arr(&[bulks(&["kv_get('greeting')"]), arr(&[NIL2.into()])])
    );
}

fn count(c: &mut RawClient, table: &str) -> i64 {
    let reply = c.cmd_str(&["SQL.QUERY", &format!("SELECT count(*) FROM {table}")]);
    let row = reply.split("\r\n").nth(5).unwrap_or_default();
    row.strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"))
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Acknowledged SQL writes survive kill -9; and when SQLite itself loses commits (its files
/// put back to an older state, as a power cut drops its un-fsynced pages), the unified WAL
/// brings them back, schema changes included.
#[test]
fn sql_writes_survive_kill_9_and_lost_sqlite_commits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let args = [
        "--port",
        "0",
        "--http-port=-1",
        "--dir",
        data_arg,
        "--appendfsync",
        "always",
    ];
    let mut p = spawn(&args);
    let mut c = RawClient::connect(p.addr);
    c.cmd_str(&[
        "SQL.EXEC",
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP, r BLOB DEFAULT (randomblob(8)))",
    ]);
    for i in 0..50 {
        c.cmd_str(&[
            "SQL.EXEC",
            "INSERT INTO notes(body) VALUES (?1)",
            "PARAMS",
            "1",
            &format!("n{i}"),
        ]);
    }
    p.kill9();
    let old_sql = dir.path().join("sql-before");
    copy_dir(&data.join("sql"), &old_sql);
    let mut p = spawn(&args);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(count(&mut c, "notes"), 50);
    let snapshot = |c: &mut RawClient| c.cmd_str(&["SQL.QUERY", "SELECT * FROM notes ORDER BY id"]);
    // More writes after the copy: a schema change, updates, deletes, a new table, KV.
    c.cmd_str(&["SQL.EXEC", "ALTER TABLE notes ADD COLUMN tag TEXT"]);
    c.cmd_str(&[
        "SQL.EXEC",
        "UPDATE notes SET tag = 'even' WHERE id % 2 = 0; DELETE FROM notes WHERE id > 45",
    ]);
    c.cmd_str(&[
        "SQL.EXEC",
        "CREATE TABLE plain(a, b); INSERT INTO plain VALUES (1, random()), (2, 'two')",
    ]);
    assert_eq!(c.cmd_str(&["SET", "kv", "kept"]), OK);
    let before = snapshot(&mut c);
    let plain = c.cmd_str(&["SQL.QUERY", "SELECT rowid, * FROM plain"]);
    p.kill9();
    // SQLite back to the older copy (what it held before these writes): the log replays what
    // it lost. (Start-up checkpoints, so this is the first start after the kill.)
    std::fs::remove_dir_all(data.join("sql")).unwrap();
    copy_dir(&old_sql, &data.join("sql"));
    let p = spawn(&args);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(snapshot(&mut c), before);
    assert_eq!(
        c.cmd_str(&["SQL.QUERY", "SELECT rowid, * FROM plain"]),
        plain
    );
    assert_eq!(c.cmd_str(&["GET", "kv"]), bulk("kept"));
    let info = c.cmd_str(&["INFO", "sql"]);
    assert!(!info.contains("sql_replayed_records:0\r\n"), "{info}");
}

/// Everything SQL.QUERY can see: every table's rows, in a stable order.
fn dump(c: &mut RawClient) -> String {
    let tables = c.cmd_str(&["SQL.TABLES"]);
    let mut out = tables.clone();
    for name in tables
        .split("\r\n")
        .filter(|l| l.starts_with('t') || l.starts_with("docs"))
    {
        out.push_str(&c.cmd_str(&[
            "SQL.QUERY",
            &format!("SELECT rowid, * FROM {name} ORDER BY rowid"),
        ]));
    }
    out
}

/// Concurrent clients (so writes share SQLite transactions and sessions), with schema
/// statements, failures and whole-transaction rollbacks among them: a fresh database rebuilt
/// from the WAL alone equals what the clients saw.
#[test]
fn replaying_the_log_into_an_empty_database_gives_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let args = ["--port", "0", "--http-port=-1", "--dir", data_arg];
    let mut p = spawn(&args);
    let mut c = RawClient::connect(p.addr);
    c.cmd_str(&["SQL.EXEC", "CREATE TABLE docs(id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER, r BLOB DEFAULT (randomblob(4)))"]);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let addr = p.addr;
            std::thread::spawn(move || {
                let mut c = RawClient::connect(addr);
                for round in 0..15 {
                    let mut cmds: Vec<Vec<String>> = Vec::new();
                    // Explicit ids are negative: automatic rowids (max + 1) never meet them.
                    let id = -(t * 1000 + round + 1);
                    let exec = |sql: String| vec!["SQL.EXEC".to_string(), sql];
                    cmds.push(exec(format!("INSERT INTO docs(id, v, n) VALUES ({id}, 'v{id}', random() % 100)")));
                    cmds.push(exec(format!("UPDATE docs SET n = n + 1 WHERE id % 7 = {}", round % 7)));
                    cmds.push(exec("INSERT INTO docs(v) VALUES (NULL)".into()));
                    cmds.push(exec(format!("INSERT OR ROLLBACK INTO docs(id, v) VALUES ({id}, 'dup')")));
                    cmds.push(exec(format!("INSERT INTO docs(v) VALUES ('auto{t}')")));
                    if round % 5 == 0 {
                        cmds.push(exec(format!("CREATE TABLE t{t}_{round}(a, b DEFAULT CURRENT_TIMESTAMP); INSERT INTO t{t}_{round}(a) VALUES ({round})")));
                    }
                    if round % 5 == 3 {
                        cmds.push(exec(format!("ALTER TABLE t{t}_0 ADD COLUMN c{round} DEFAULT 7; INSERT INTO t{t}_0(a) VALUES (random())")));
                    }
                    cmds.push(exec(format!("DELETE FROM docs WHERE id = {}", id + 3)));
                    let mut pipeline = Vec::new();
                    for cmd in &cmds {
                        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
                        pipeline.extend(crate::common::encode_command(&args));
                    }
                    c.send(&pipeline);
                    for cmd in &cmds {
                        let reply = String::from_utf8_lossy(&c.read_reply()).into_owned();
                        let expected_error = cmd[1].contains("(NULL)") || cmd[1].contains("'dup'");
                        assert_eq!(reply.starts_with('-'), expected_error, "{cmd:?} → {reply}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let before = dump(&mut c);
    assert!(before.contains("t5_10"), "{before}");
    // Writes did share SQLite transactions (groups of more than one).
    let info = c.cmd_str(&["INFO", "sql"]);
    let field = |name: &str| -> u64 {
        let line = info.lines().find(|l| l.starts_with(name)).unwrap();
        line[name.len() + 1..].trim().parse().unwrap()
    };
    assert!(
        field("sql_grouped_writes") > field("sql_write_groups"),
        "{info}"
    );
    p.kill9();
    std::fs::remove_dir_all(data.join("sql")).unwrap();
    let p = spawn(&args);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(dump(&mut c), before);
}
