//! RESP request decoding and reply encoding, per command (criterion).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use luma::resp::{DecodeLimits, Decoded, Protocol, Reply, RequestDecoder};

const LIMITS: DecodeLimits = DecodeLimits {
    max_bulk_len: 512 << 20,
    authenticated: true,
};

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes a pipeline of `count` copies of `one`, returning how many commands came out.
fn decode_pipeline(input: &[u8]) -> usize {
    let mut buf = BytesMut::from(input);
    let mut decoder = RequestDecoder::new();
    let mut n = 0;
    while let Ok(Decoded::Command(args)) = decoder.decode(&mut buf, LIMITS) {
        n += args.len();
    }
    n
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let cases: [(&str, Vec<u8>); 4] = [
        ("ping_mbulk", multibulk(&[b"PING"])),
        ("ping_inline", b"PING\r\n".to_vec()),
        (
            "set_100b",
            multibulk(&[b"SET", b"key:000000123456", &[b'x'; 100]]),
        ),
        (
            "set_16k",
            multibulk(&[b"SET", b"key:000000123456", &vec![b'x'; 16 * 1024]]),
        ),
    ];
    for (name, one) in cases {
        let pipeline: Vec<u8> = one.iter().copied().cycle().take(one.len() * 100).collect();
        group.throughput(Throughput::Elements(100));
        group.bench_function(name, |b| b.iter(|| decode_pipeline(&pipeline)));
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let map = Reply::Map(
        (0..10)
            .map(|i| {
                (
                    Reply::bulk(format!("field{i}")),
                    Reply::Bulk(Bytes::from_static(b"value")),
                )
            })
            .collect(),
    );
    let cases = [
        ("pong", Reply::Status("PONG")),
        ("bulk_100b", Reply::Bulk(Bytes::from(vec![b'x'; 100]))),
        ("int", Reply::Int(1234567)),
        ("map_10", map),
    ];
    for (name, reply) in cases {
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            let mut out = BytesMut::with_capacity(64 * 1024);
            group.bench_function(format!("{name}/{proto:?}"), |b| {
                b.iter(|| {
                    out.clear();
                    reply.encode(proto, &mut out);
                    out.len()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
