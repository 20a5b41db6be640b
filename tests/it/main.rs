//! Integration tests: the real server on a free loopback port, real clients over sockets.

mod auth;
mod blocking;
mod common;
mod consistency;
mod durability;
mod hash;
mod http;
mod keys;
mod list;
mod process;
mod protocol;
mod pubsub;
mod scan;
mod server;
mod sql;
mod string;
mod txn;
mod vector;
mod zset;
