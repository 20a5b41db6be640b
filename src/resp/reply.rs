//! `Reply`, the typed result of a command, and its encoding as RESP2 or RESP3.
//!
//! Scalars are encoded by `redis-protocol` from borrowed frames (no copy of the payload).
//! Aggregate headers (`*n`, `%n`, `~n`, `>n`) are written here so that a reply is never turned
//! into a second tree of frames, and so maps keep their order (the crate's map type hashes).

use bytes::{BufMut, Bytes, BytesMut};
use redis_protocol::resp2::types::BorrowedFrame as Frame2;
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
        match proto {
            Protocol::Resp2 => self.encode_resp2(out),
            Protocol::Resp3 => self.encode_resp3(out),
        }
    }

    fn encode_resp2(&self, out: &mut BytesMut) {
        let leaf = |out: &mut BytesMut, frame: Frame2<'_>| {
            // Encoding into a growable buffer cannot run out of room.
            let _ = redis_protocol::resp2::encode::extend_encode_borrowed(out, &frame, false);
        };
        match self {
            Reply::Status(s) => leaf(out, Frame2::SimpleString(s.as_bytes())),
            Reply::StatusOwned(s) => leaf(out, Frame2::SimpleString(s.as_bytes())),
            Reply::Error(e) => leaf(out, Frame2::Error(e)),
            Reply::Int(n) => leaf(out, Frame2::Integer(*n)),
            Reply::Bool(b) => leaf(out, Frame2::Integer(i64::from(*b))),
            Reply::Bulk(b) | Reply::Verbatim(b) => leaf(out, Frame2::BulkString(b)),
            Reply::Double(d) => {
                leaf(out, Frame2::BulkString(format_double(*d).as_bytes()));
            }
            Reply::Nil => leaf(out, Frame2::Null),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                aggregate_header(out, b'*', items.len());
                items.iter().for_each(|r| r.encode_resp2(out));
            }
            Reply::Map(pairs) => {
                aggregate_header(out, b'*', pairs.len() * 2);
                for (k, v) in pairs {
                    k.encode_resp2(out);
                    v.encode_resp2(out);
                }
            }
        }
    }

    fn encode_resp3(&self, out: &mut BytesMut) {
        let leaf = |out: &mut BytesMut, frame: Frame3<'_>| {
            // Encoding into a growable buffer cannot run out of room.
            let _ =
                redis_protocol::resp3::encode::complete::extend_encode_borrowed(out, &frame, false);
        };
        match self {
            Reply::Status(s) => leaf(
                out,
                Frame3::SimpleString {
                    data: s.as_bytes(),
                    attributes: None,
                },
            ),
            Reply::StatusOwned(s) => leaf(
                out,
                Frame3::SimpleString {
                    data: s.as_bytes(),
                    attributes: None,
                },
            ),
            Reply::Error(e) => leaf(
                out,
                Frame3::SimpleError {
                    data: e,
                    attributes: None,
                },
            ),
            Reply::Int(n) => leaf(
                out,
                Frame3::Number {
                    data: *n,
                    attributes: None,
                },
            ),
            Reply::Bool(b) => leaf(
                out,
                Frame3::Boolean {
                    data: *b,
                    attributes: None,
                },
            ),
            Reply::Bulk(b) => leaf(
                out,
                Frame3::BlobString {
                    data: b,
                    attributes: None,
                },
            ),
            Reply::Verbatim(b) => leaf(
                out,
                Frame3::VerbatimString {
                    data: b,
                    format: VerbatimStringFormat::Text,
                    attributes: None,
                },
            ),
            Reply::Double(d) => leaf(
                out,
                Frame3::Double {
                    data: *d,
                    attributes: None,
                },
            ),
            Reply::Nil | Reply::NilArray => leaf(out, Frame3::Null),
            Reply::Array(items) => {
                aggregate_header(out, b'*', items.len());
                items.iter().for_each(|r| r.encode_resp3(out));
            }
            Reply::Set(items) => {
                aggregate_header(out, b'~', items.len());
                items.iter().for_each(|r| r.encode_resp3(out));
            }
            Reply::Push(items) => {
                aggregate_header(out, b'>', items.len());
                items.iter().for_each(|r| r.encode_resp3(out));
            }
            Reply::Map(pairs) => {
                aggregate_header(out, b'%', pairs.len());
                for (k, v) in pairs {
                    k.encode_resp3(out);
                    v.encode_resp3(out);
                }
            }
        }
    }
}

fn aggregate_header(out: &mut BytesMut, kind: u8, len: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_u8(kind);
    out.put_slice(&digits[i..]);
    out.put_slice(b"\r\n");
}

/// Formats a double as Redis does in RESP2 bulk replies (`%.17g`, shortest round-trip form).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".to_string()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if d == d.trunc() && d.abs() < 1e17 {
        format!("{}", d as i64)
    } else {
        format!("{d:?}")
    }
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

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-1e300), "-1e300");
    }
}
