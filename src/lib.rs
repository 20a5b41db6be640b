//! Luma: a converged data engine for AI applications behind the Redis protocol.
//!
//! A tour, following one request:
//! - [`server`] binds the listeners and spawns one task per connection ([`conn`]).
//! - [`conn`] reads bytes, [`resp::codec`] decodes them into commands (multibulk or inline),
//!   [`cmd`] looks each up in its table (arity, flags, key positions) and runs it as a typed
//!   struct (`parse` then `exec`), and [`resp::reply`] encodes the typed [`resp::Reply`] as
//!   RESP2 or RESP3. All replies of one read leave in one write.
//! - [`config`] holds every setting (flags, config file and CONFIG GET/SET share its table),
//!   [`metrics`] the counters INFO reports, [`engine`] the storage engines.
//! - [`api`] serves the same commands over HTTP (Upstash REST convention, SSE, metrics).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod bus;
pub mod cmd;
pub mod config;
pub mod conn;
pub mod engine;
pub mod error;
pub mod kv;
pub mod memory;
pub mod metrics;
pub mod resp;
pub mod server;
pub mod sqlite;
pub mod vector;

pub use config::Config;
pub use server::{start, ServerHandle, StartOptions};
