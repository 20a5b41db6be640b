//! The event bus (pub/sub, keyspace notifications); for now the glob matcher it shares with KEYS.

pub mod glob;
