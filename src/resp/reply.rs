//! `Reply`, the typed result of a command, and its encoding as RESP2 or RESP3.
//!
//! The frequent frames (status, error, integer, bulk, null, aggregate headers) are written
//! directly: through `redis-protocol` each cost ~60 ns (length pass, zero-fill, write), which
//! made a 10-field map take 1.2 µs. The RESP3-only scalars (double, boolean, verbatim) still go
//! through the crate, and the tests check every direct encoding against the crate's, byte for
//! byte. Maps keep their order (the crate's map type would hash them).

use bytes::{BufMut, Bytes, BytesMut};
use redis_protocol::resp3::types::{BorrowedFrame as Frame3, VerbatimStringFormat};

/// The protocol a connection speaks (chosen with HELLO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn number(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// A command's reply, independent of the wire protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line.
    Status(&'static str),
    /// Status line built at run time.
    StatusOwned(String),
    /// Error line, including its code prefix (`ERR …`, `WRONGTYPE …`).
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// Null bulk string in RESP2, `_` in RESP3.
    Nil,
    /// Null array (`*-1`) in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// Map in RESP3, flat array of key/value pairs in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Array of two-element arrays in RESP3, flat array in RESP2 (ZRANGE WITHSCORES,
    /// HRANDFIELD WITHVALUES).
    Pairs(Vec<(Reply, Reply)>),
    /// Set in RESP3, array in RESP2.
    Set(Vec<Reply>),
    /// Double in RESP3, bulk string in RESP2.
    Double(f64),
    /// Boolean in RESP3, integer 1/0 in RESP2.
    Bool(bool),
    /// Verbatim text (`=…txt:`) in RESP3, bulk string in RESP2.
    Verbatim(Bytes),
    /// Out-of-band push in RESP3, array in RESP2.
    Push(Vec<Reply>),
    /// Several frames sent back to back for one command (SUBSCRIBE a b: one confirmation per
    /// channel).
    Frames(Vec<Reply>),
    /// An array of `count` bulk strings already encoded back to back (see [`BulkArray`]):
    /// the same bytes in RESP2 and RESP3, and no reply per element.
    Bulks {
        count: usize,
        body: Bytes,
    },
}

/// Builds a [`Reply::Bulks`] element by element: a command that streams many values (LRANGE)
/// encodes each as it reads it instead of copying it into a reply of its own (on LRANGE 100,
/// the copies, the replies and their drops were a fifth of the command).
#[derive(Debug, Default)]
pub struct BulkArray {
    count: usize,
    body: BytesMut,
}

impl BulkArray {
    pub fn push(&mut self, data: &[u8]) {
        bulk(&mut self.body, data);
        self.count += 1;
    }

    pub fn finish(self) -> Reply {
        Reply::Bulks {
            count: self.count,
            body: self.body.freeze(),
        }
    }
}

/// The elements of a [`Reply::Bulks`] body (stops at anything [`BulkArray`] did not write).
pub fn bulk_items(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        let header_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let len: usize = std::str::from_utf8(rest.get(1..header_end)?)
            .ok()?
            .parse()
            .ok()?;
        let start = header_end + 2;
        let item = rest.get(start..start + len)?;
        rest = rest.get(start + len + 2..)?;
        Some(item)
    })
}

pub const OK: Reply = Reply::Status("OK");

impl Reply {
    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn bulk_str(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of this reply for `proto` to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::StatusOwned(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', e.as_bytes()),
            Reply::Int(n) => int_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil if resp3 => out.put_slice(b"_\r\n"),
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => aggregate(out, proto, b'*', items),
            Reply::Set(items) => aggregate(out, proto, if resp3 { b'~' } else { b'*' }, items),
            Reply::Push(items) => aggregate(out, proto, if resp3 { b'>' } else { b'*' }, items),
            Reply::Frames(frames) => {
                for frame in frames {
                    frame.encode(proto, out);
                }
            }
            Reply::Bulks { count, body } => {
                int_line(out, b'*', *count as i64);
                out.put_slice(body);
            }
            Reply::Map(pairs) => {
                if resp3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', pairs.len() as i64 * 2);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Pairs(pairs) => {
                int_line(out, b'*', pairs.len() as i64 * if resp3 { 1 } else { 2 });
                for (a, b) in pairs {
                    if resp3 {
                        out.put_slice(b"*2\r\n");
                    }
                    a.encode(proto, out);
                    b.encode(proto, out);
                }
            }
            Reply::Double(d) if resp3 => line(out, b',', format_double(*d).as_bytes()),
            Reply::Double(d) => bulk(out, format_double(*d).as_bytes()),
            Reply::Bool(b) if resp3 => resp3_leaf(
                out,
                Frame3::Boolean {
                    data: *b,
                    attributes: None,
                },
            ),
            Reply::Bool(b) => int_line(out, b':', i64::from(*b)),
            Reply::Verbatim(b) if resp3 => resp3_leaf(
                out,
                Frame3::VerbatimString {
                    data: b,
                    format: VerbatimStringFormat::Text,
                    attributes: None,
                },
            ),
            Reply::Verbatim(b) => bulk(out, b),
        }
    }
}

/// The RESP3-only scalars go through `redis-protocol` (its double formatting follows Redis).
fn resp3_leaf(out: &mut BytesMut, frame: Frame3<'_>) {
    // Encoding into a growable buffer cannot run out of room.
    let _ = redis_protocol::resp3::encode::complete::extend_encode_borrowed(out, &frame, false);
}

fn aggregate(out: &mut BytesMut, proto: Protocol, kind: u8, items: &[Reply]) {
    int_line(out, kind, items.len() as i64);
    items.iter().for_each(|r| r.encode(proto, out));
}

fn line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    int_line(out, b'$', data.len() as i64);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// `<kind><decimal>\r\n`, formatted on the stack.
fn int_line(out: &mut BytesMut, kind: u8, n: i64) {
    let mut digits = [0u8; 21];
    let mut i = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        digits[i] = b'-';
    }
    out.reserve(digits.len() - i + 3);
    out.put_u8(kind);
    out.put_slice(&digits[i..]);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis 7.2+ does in replies (`d2string`): an integral value within
/// ±2^62 as an integer (`1732700000000`, `100000000000000000`), otherwise `fpconv_dtoa`'s
/// shortest digits that read back as the same double, written plainly when the exponent is
/// small (`0.000001`, `3.14`) and as `d.ddde±x` otherwise (`1e+20`, `1.5e-7`, `1e+300`).
pub fn format_double(d: f64) -> String {
    // `double2ll`: below LLONG_MAX / 2 (as a double, 2^62) the cast is exact.
    const INTEGRAL_LIMIT: f64 = (1u64 << 62) as f64;
    if d != 0.0 && d.fract() == 0.0 && (-INTEGRAL_LIMIT..=INTEGRAL_LIMIT).contains(&d) {
        return (d as i64).to_string();
    }
    if d.is_nan() {
        return "nan".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sign = if d.is_sign_negative() { "-" } else { "" };
    if d == 0.0 {
        return format!("{sign}0");
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `d.ddddde<exp>`.
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let sci_exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    // The value is `digits × 10^k`.
    let k = sci_exp - (n - 1);
    let abs_exp = sci_exp.abs();
    let body = if k >= 0 && abs_exp < n + 7 {
        format!("{digits}{}", "0".repeat(k as usize))
    } else if k < 0 && (k > -7 || abs_exp < 4) {
        let offset = n + k;
        if offset <= 0 {
            format!("0.{}{digits}", "0".repeat((-offset) as usize))
        } else {
            let (int, frac) = digits.split_at(offset as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if sci_exp < 0 { '-' } else { '+' };
        format!("{first}{dot}{rest}e{exp_sign}{abs_exp}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_protocol::resp3::types::Resp3Frame;

    fn enc(r: &Reply, p: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(p, &mut out);
        out.to_vec()
    }

    #[test]
    fn streamed_bulks_encode_as_an_array_of_bulks() {
        let values: [&[u8]; 3] = [b"a", b"", b"x\r\ny"];
        let mut streamed = BulkArray::default();
        values.iter().for_each(|v| streamed.push(v));
        let streamed = streamed.finish();
        let built = Reply::Array(values.iter().map(|v| Reply::bulk(v.to_vec())).collect());
        for p in [Protocol::Resp2, Protocol::Resp3] {
            assert_eq!(enc(&streamed, p), enc(&built, p));
        }
        let Reply::Bulks { body, .. } = &streamed else {
            unreachable!()
        };
        assert_eq!(bulk_items(body).collect::<Vec<_>>(), values);
        assert_eq!(
            enc(&BulkArray::default().finish(), Protocol::Resp3),
            b"*0\r\n"
        );
    }

    #[test]
    fn resp2_shapes() {
        let map = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(enc(&map, Protocol::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Nil, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(enc(&Reply::NilArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Protocol::Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Bool(true), Protocol::Resp2), b":1\r\n");
        assert_eq!(enc(&OK, Protocol::Resp2), b"+OK\r\n");
        assert_eq!(
            enc(&Reply::Error("ERR x".into()), Protocol::Resp2),
            b"-ERR x\r\n"
        );
    }

    #[test]
    fn resp3_shapes() {
        let map = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(enc(&map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Protocol::Resp3), b",1.5\r\n");
        assert_eq!(enc(&Reply::Bool(false), Protocol::Resp3), b"#f\r\n");
        assert_eq!(
            enc(&Reply::Set(vec![Reply::Int(1)]), Protocol::Resp3),
            b"~1\r\n:1\r\n"
        );
        assert_eq!(
            enc(&Reply::Verbatim(Bytes::from("x")), Protocol::Resp3),
            b"=5\r\ntxt:x\r\n"
        );
    }

    /// Our hand-written aggregate headers must decode, with redis-protocol's own decoder, into
    /// the frame the crate would have produced.
    #[test]
    fn aggregates_round_trip_through_redis_protocol() {
        let reply = Reply::Array(vec![
            Reply::Map(vec![
                (Reply::bulk_str("k"), Reply::Set(vec![Reply::bulk_str("m")])),
                (Reply::bulk_str("n"), Reply::Nil),
            ]),
            Reply::Push(vec![Reply::Double(-2.25), Reply::Bool(true)]),
        ]);
        let bytes = Bytes::from(enc(&reply, Protocol::Resp3));
        let (frame, used) = redis_protocol::resp3::decode::complete::decode_bytes(&bytes)
            .unwrap()
            .unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(frame.len(), 2);
        let bytes2 = Bytes::from(enc(&reply, Protocol::Resp2));
        let (frame2, used2) = redis_protocol::resp2::decode::decode_bytes(&bytes2)
            .unwrap()
            .unwrap();
        assert_eq!(used2, bytes2.len());
        assert!(
            matches!(frame2, redis_protocol::resp2::types::BytesFrame::Array(ref a) if a.len() == 2)
        );
    }

    /// Every directly written frame equals what `redis-protocol` encodes for the same value.
    #[test]
    fn direct_encoding_matches_redis_protocol() {
        use redis_protocol::resp2::types::BorrowedFrame as F2;
        use redis_protocol::resp3::types::BorrowedFrame as F3;
        let ints = [0, 7, -1, 10, 99, -100, 1234567890, i64::MAX, i64::MIN];
        let texts: [&[u8]; 4] = [b"", b"OK", b"a\r\nb\0", &[0xff; 300]];
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            let crate_bytes = |f2: F2<'_>, f3: F3<'_>| {
                let mut out = BytesMut::new();
                match proto {
                    Protocol::Resp2 => {
                        redis_protocol::resp2::encode::extend_encode_borrowed(&mut out, &f2, false)
                            .unwrap();
                    }
                    Protocol::Resp3 => {
                        redis_protocol::resp3::encode::complete::extend_encode_borrowed(
                            &mut out, &f3, false,
                        )
                        .unwrap();
                    }
                }
                out.to_vec()
            };
            for n in ints {
                assert_eq!(
                    enc(&Reply::Int(n), proto),
                    crate_bytes(
                        F2::Integer(n),
                        F3::Number {
                            data: n,
                            attributes: None
                        }
                    )
                );
            }
            for t in texts {
                assert_eq!(
                    enc(&Reply::Bulk(Bytes::copy_from_slice(t)), proto),
                    crate_bytes(
                        F2::BulkString(t),
                        F3::BlobString {
                            data: t,
                            attributes: None
                        }
                    )
                );
            }
            for t in ["OK", "PONG", "QUEUED"] {
                assert_eq!(
                    enc(&Reply::Status(t), proto),
                    crate_bytes(
                        F2::SimpleString(t.as_bytes()),
                        F3::SimpleString {
                            data: t.as_bytes(),
                            attributes: None
                        }
                    )
                );
                let e = format!("ERR {t}");
                assert_eq!(
                    enc(&Reply::Error(e.clone()), proto),
                    crate_bytes(
                        F2::Error(&e),
                        F3::SimpleError {
                            data: &e,
                            attributes: None
                        }
                    )
                );
            }
            assert_eq!(enc(&Reply::Nil, proto), crate_bytes(F2::Null, F3::Null));
            let items = [F2::Integer(1), F2::BulkString(b"x")];
            let items3 = [
                F3::Number {
                    data: 1,
                    attributes: None,
                },
                F3::BlobString {
                    data: b"x",
                    attributes: None,
                },
            ];
            assert_eq!(
                enc(
                    &Reply::Array(vec![Reply::Int(1), Reply::bulk_str("x")]),
                    proto
                ),
                crate_bytes(
                    F2::Array(&items),
                    F3::Array {
                        data: &items3,
                        attributes: None
                    }
                )
            );
        }
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-1e300), "-1e+300");
        assert_eq!(format_double(1e100), "1e+100");
        assert_eq!(format_double(1e105), "1e+105");
        assert_eq!(format_double(1e7), "10000000");
        // Integral values print as integers up to 2^62 (d2string's double2ll): fpconv_dtoa
        // alone would write 1.7327e+12 and 1e+8.
        assert_eq!(format_double(1_732_700_000_000.0), "1732700000000");
        assert_eq!(format_double(-5e15), "-5000000000000000");
        assert_eq!(format_double(1e17), "100000000000000000");
        assert_eq!(
            format_double(4_611_686_018_427_387_904.0),
            "4611686018427387904"
        );
        assert_eq!(format_double(1e19), "1e+19");
        assert_eq!(format_double(1e8), "100000000");
        assert_eq!(format_double(123456789.0), "123456789");
        assert_eq!(format_double(-0.000001), "-0.000001");
        assert_eq!(format_double(1e-7), "1e-7");
        assert_eq!(format_double(1.5e-7), "1.5e-7");
        assert_eq!(format_double(0.0001234), "1.234e-4");
        assert_eq!(format_double(0.001234), "0.001234");
        assert_eq!(format_double(std::f64::consts::PI), "3.141592653589793");
        assert_eq!(format_double(1001.6), "1001.6");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(f64::NAN), "nan");
    }
}
