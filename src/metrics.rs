//! Server counters (atomics) read by INFO and reset by CONFIG RESETSTAT.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (µs) of the latency histogram buckets (`/metrics`); one more bucket counts
/// everything slower.
pub const LATENCY_BOUNDS_US: [u64; 12] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000, 50_000, 250_000, 1_000_000,
];

/// Calls, time and failures of one command (INFO commandstats), and its latency histogram.
#[derive(Debug, Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed_calls: AtomicU64,
    pub rejected_calls: AtomicU64,
    /// Calls per latency bucket (`LATENCY_BOUNDS_US`, then the rest).
    pub latency: [AtomicU64; 13],
}

impl CommandStats {
    /// `count` calls that took `took` each.
    pub fn called(&self, took: Duration, count: u64, failed: bool) {
        self.calls.fetch_add(count, Ordering::Relaxed);
        let usec = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.usec
            .fetch_add(usec.saturating_mul(count), Ordering::Relaxed);
        let bucket = LATENCY_BOUNDS_US.partition_point(|&b| b < usec);
        self.latency[bucket].fetch_add(count, Ordering::Relaxed);
        if failed {
            self.failed_calls.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// A call already counted by `called` turned out to fail (a queued write's error).
    pub fn failed(&self) {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self) {
        self.rejected_calls.fetch_add(1, Ordering::Relaxed);
    }

    fn reset(&self) {
        for c in [
            &self.calls,
            &self.usec,
            &self.failed_calls,
            &self.rejected_calls,
        ]
        .into_iter()
        .chain(&self.latency)
        {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Server-wide counters.
#[derive(Debug)]
pub struct Metrics {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    pub query_buffer_limit_disconnections: AtomicU64,
    pub protocol_error_disconnections: AtomicU64,
    commands: Vec<CommandStats>,
}

impl Metrics {
    pub fn new(command_count: usize) -> Self {
        Metrics {
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            reads_processed: AtomicU64::new(0),
            writes_processed: AtomicU64::new(0),
            query_buffer_limit_disconnections: AtomicU64::new(0),
            protocol_error_disconnections: AtomicU64::new(0),
            commands: (0..command_count)
                .map(|_| CommandStats::default())
                .collect(),
        }
    }

    /// The statistics slot of command `id` (its index in the command table).
    pub fn command(&self, id: usize) -> &CommandStats {
        static UNUSED: CommandStats = CommandStats {
            calls: AtomicU64::new(0),
            usec: AtomicU64::new(0),
            failed_calls: AtomicU64::new(0),
            rejected_calls: AtomicU64::new(0),
            latency: [const { AtomicU64::new(0) }; 13],
        };
        self.commands.get(id).unwrap_or(&UNUSED)
    }

    pub fn count_error(&self) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
            &self.reads_processed,
            &self.writes_processed,
            &self.query_buffer_limit_disconnections,
            &self.protocol_error_disconnections,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.commands.iter().for_each(CommandStats::reset);
    }
}
