//! The KV engine: a metadata row per key in redb (type, expiry, value or collection header),
//! collection members as subkeys, an expiry index, and the typed operations the commands use.

pub mod cache;
pub mod chunk;
pub mod meta;
pub mod store;
pub mod types;
pub mod view;
