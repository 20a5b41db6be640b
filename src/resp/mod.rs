//! RESP2/RESP3 wire format: the request decoder (multibulk and inline) and reply encoding.

pub mod codec;
pub mod inline;
pub mod reply;

pub use codec::{DecodeLimits, Decoded, ProtocolError, RequestDecoder};
pub use reply::{Protocol, Reply, OK};
