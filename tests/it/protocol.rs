//! Framing over a raw socket: inline commands, pipelines split at every byte, malformed and
//! oversize input, and clients that stall or never read.

use std::io::Write;
use std::time::Duration;

use crate::common::{encode_command, TestServer};

#[test]
fn inline_commands_and_empty_lines() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.send(b"PING\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    // An empty inline line is ignored: the next reply is ECHO's.
    c.send(b"\r\n\n   \r\necho \"a b\\x41\"\n");
    assert_eq!(c.read_reply(), b"$4\r\na bA\r\n");
    c.send(b"ECHO 'unbalanced\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert!(c.is_closed());
}

#[test]
fn command_names_and_keywords_in_any_case() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.cmd_str(&["pInG"]), "+PONG\r\n");
    assert_eq!(c.cmd_str(&["client", "REPLY", "on"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["Hello", "3"]).chars().next(), Some('%'));
}

#[test]
fn binary_safe_bulk_strings() {
    let server = TestServer::start();
    let mut c = server.raw();
    let payload: Vec<u8> = (0..=255u8).chain(b"\r\n\0*$".iter().copied()).collect();
    let reply = c.cmd(&[b"ECHO", &payload]);
    let mut expected = format!("${}\r\n", payload.len()).into_bytes();
    expected.extend_from_slice(&payload);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(reply, expected);
    assert_eq!(c.cmd(&[b"ECHO", b""]), b"$0\r\n\r\n");
}

#[test]
fn pipeline_split_at_every_byte_boundary() {
    let server = TestServer::start();
    let mut pipeline = Vec::new();
    pipeline.extend(encode_command(&[b"ECHO", b"first\r\nline"]));
    pipeline.extend(b"PING\r\n");
    pipeline.extend(encode_command(&[b"ECHO", b""]));
    pipeline.extend(encode_command(&[b"PING", b"x"]));
    let expected: &[&[u8]] = &[
        b"$11\r\nfirst\r\nline\r\n",
        b"+PONG\r\n",
        b"$0\r\n\r\n",
        b"$1\r\nx\r\n",
    ];
    for cut in 1..pipeline.len() {
        let mut c = server.raw();
        c.send(&pipeline[..cut]);
        c.stream.flush().unwrap();
        // Give the server a chance to see the first part as a separate read.
        std::thread::sleep(Duration::from_micros(200));
        c.send(&pipeline[cut..]);
        for want in expected {
            assert_eq!(c.read_reply(), *want, "split at byte {cut}");
        }
    }
}

#[test]
fn deep_pipeline_replies_in_order() {
    let server = TestServer::start();
    let mut c = server.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend(encode_command(&[b"ECHO", i.to_string().as_bytes()]));
    }
    c.send(&batch);
    for i in 0..10_000 {
        let want = format!("${}\r\n{i}\r\n", i.to_string().len());
        assert_eq!(c.read_reply(), want.as_bytes());
    }
}

#[test]
fn malformed_frames_get_redis_errors_and_close() {
    let server = TestServer::start();
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut c = server.raw();
        c.send(input);
        assert_eq!(String::from_utf8_lossy(&c.read_reply()), *want);
        assert!(c.is_closed(), "connection stays open after {input:?}");
    }
    // Other clients are unaffected.
    assert_eq!(server.raw().cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn oversize_headers_are_refused_before_the_payload() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.send(b"*3000000000\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: invalid multibulk length\r\n"
    );
    assert!(c.is_closed());
    let mut c = server.raw();
    c.send(b"*1048577\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: invalid multibulk length\r\n"
    );
    // 600 MB announced, nothing sent: refused at once (above proto-max-bulk-len 512mb).
    let mut c = server.raw();
    c.send(b"*2\r\n$4\r\nECHO\r\n$600000000\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(c.is_closed());
    let rss = luma::cmd::info::process_rss_bytes();
    assert!(
        rss < 400 << 20,
        "the announced size was allocated: rss {rss}"
    );
}

#[test]
fn proto_max_bulk_len_is_a_live_setting() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd_str(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        "+OK\r\n"
    );
    let mut c = server.raw();
    c.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    let big = vec![b'x'; 1 << 20];
    let reply = server.raw().cmd(&[b"ECHO", &big]);
    assert_eq!(reply.len(), big.len() + "$1048576\r\n\r\n".len());
}

#[test]
fn large_bulk_arrives_in_pieces() {
    let server = TestServer::start();
    let mut c = server.raw();
    let value = vec![b'v'; 3 << 20];
    let frame = encode_command(&[b"ECHO", &value]);
    for piece in frame.chunks(7919) {
        c.send(piece);
    }
    let reply = c.read_reply();
    assert_eq!(&reply[reply.len() - 3..], b"v\r\n");
    assert_eq!(reply.len(), value.len() + "$3145728\r\n\r\n".len());
}

#[test]
fn garbage_and_half_frames_do_not_disturb_others() {
    let server = TestServer::start();
    let mut staller = server.raw();
    staller.send(b"*2\r\n$4\r\nECHO\r\n$10\r\nabc");
    let mut garbage = server.raw();
    garbage.send(&[0xff, 0xfe, b'*', b'\r', b'\n', 0, 1, 2]);
    let mut other = server.raw();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    // The staller finishes its frame later and gets its reply.
    staller.send(b"defghij\r\n");
    assert_eq!(staller.read_reply(), b"$10\r\nabcdefghij\r\n");
}

#[test]
fn a_client_that_never_reads_does_not_block_others() {
    let server = TestServer::start();
    let mut hog = server.raw();
    let big = vec![b'z'; 1 << 20];
    let frame = encode_command(&[b"ECHO", &big]);
    hog.stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // Send requests whose replies fill the socket buffers; never read them.
    for _ in 0..64 {
        if hog.stream.write_all(&frame).is_err() {
            break;
        }
    }
    let mut other = server.raw();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(
        other.cmd_str(&["ECHO", "still here"]),
        "$10\r\nstill here\r\n"
    );
}

#[test]
fn query_buffer_limit_disconnects() {
    let server = TestServer::with(|c| c.client_query_buffer_limit = 1 << 20);
    let mut c = server.raw();
    // A 2 MB bulk is allowed by proto-max-bulk-len but not by the 1 MB query buffer limit.
    let frame = encode_command(&[b"ECHO", &vec![b'q'; 2 << 20]]);
    let _ = c.stream.write_all(&frame);
    assert!(c.is_closed());
    assert_eq!(server.raw().cmd_str(&["PING"]), "+PONG\r\n");
}
