//! `GET /metrics` (Prometheus text format: commands by name with their time, connections,
//! memory, WAL, keys, vector sets, SQL, pub/sub) and `GET /healthz`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::{Metrics as M, LATENCY_BOUNDS_US};

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The metrics page.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let shared = &state.shared;
    let m = &shared.metrics;
    let mut out = String::new();
    family(
        &mut out,
        "luma_commands_total",
        "counter",
        "Calls per command.",
    );
    let table = crate::cmd::table();
    let mut durations = String::new();
    let mut failures = String::new();
    let mut histogram = String::new();
    for entry in &table.entries {
        let stats = m.command(entry.id);
        let calls = stats.calls.load(Ordering::Relaxed);
        if calls == 0 {
            continue;
        }
        let name = &entry.full_name;
        let _ = writeln!(out, "luma_commands_total{{cmd=\"{name}\"}} {calls}");
        let secs = stats.usec.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            durations,
            "luma_command_seconds_total{{cmd=\"{name}\"}} {secs}"
        );
        let failed = stats.failed_calls.load(Ordering::Relaxed);
        let _ = writeln!(
            failures,
            "luma_command_failures_total{{cmd=\"{name}\"}} {failed}"
        );
        let mut cumulative = 0;
        for (i, count) in stats.latency.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = match LATENCY_BOUNDS_US.get(i) {
                Some(us) => format!("{}", *us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                histogram,
                "luma_command_duration_seconds_bucket{{cmd=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            histogram,
            "luma_command_duration_seconds_sum{{cmd=\"{name}\"}} {secs}\n\
             luma_command_duration_seconds_count{{cmd=\"{name}\"}} {cumulative}"
        );
    }
    family(
        &mut out,
        "luma_command_seconds_total",
        "counter",
        "Time spent per command.",
    );
    out.push_str(&durations);
    family(
        &mut out,
        "luma_command_failures_total",
        "counter",
        "Failed calls per command.",
    );
    out.push_str(&failures);
    family(
        &mut out,
        "luma_command_duration_seconds",
        "histogram",
        "Latency per command (over RESP, a pipeline batch's time shared by its commands).",
    );
    out.push_str(&histogram);
    let engine = &shared.engine;
    let stats = &engine.stats;
    let (sets, elements, vector_ram) = engine.vectors.stats();
    let sql = &engine.sql.stats;
    let gauges: [(&str, &str, &str, u64); 17] = [
        (
            "luma_connected_clients",
            "gauge",
            "Clients connected (RESP and HTTP).",
            shared.clients.len() as u64,
        ),
        (
            "luma_connections_received_total",
            "counter",
            "Connections accepted.",
            M::get(&m.connections_received),
        ),
        (
            "luma_commands_processed_total",
            "counter",
            "Commands run.",
            M::get(&m.commands_processed),
        ),
        (
            "luma_error_replies_total",
            "counter",
            "Error replies.",
            M::get(&m.error_replies),
        ),
        (
            "luma_resident_memory_bytes",
            "gauge",
            "Resident set size.",
            crate::cmd::info::process_rss_bytes(),
        ),
        (
            "luma_wal_bytes",
            "gauge",
            "Bytes in the write-ahead log.",
            stats.wal_bytes.load(Ordering::Relaxed),
        ),
        (
            "luma_wal_last_lsn",
            "gauge",
            "Last LSN written.",
            stats.last_lsn.load(Ordering::Relaxed),
        ),
        (
            "luma_checkpoint_lsn",
            "gauge",
            "LSN of the last checkpoint.",
            stats.checkpoint_lsn.load(Ordering::Relaxed),
        ),
        (
            "luma_checkpoints_total",
            "counter",
            "Checkpoints taken.",
            stats.checkpoints.load(Ordering::Relaxed),
        ),
        (
            "luma_expired_keys_total",
            "counter",
            "Keys removed by expiry.",
            stats.expired_keys.load(Ordering::Relaxed),
        ),
        ("luma_vector_sets", "gauge", "Vector sets.", sets as u64),
        (
            "luma_vector_elements",
            "gauge",
            "Elements of all vector sets.",
            elements as u64,
        ),
        (
            "luma_vector_index_ram_bytes",
            "gauge",
            "RAM held by vector indexes (their node files excluded).",
            vector_ram as u64,
        ),
        (
            "luma_sql_queries_total",
            "counter",
            "SQL.QUERY calls.",
            sql.queries.load(Ordering::Relaxed),
        ),
        (
            "luma_sql_execs_total",
            "counter",
            "SQL.EXEC calls.",
            sql.execs.load(Ordering::Relaxed),
        ),
        (
            "luma_sql_errors_total",
            "counter",
            "SQL statements that failed (timeouts included).",
            sql.errors.load(Ordering::Relaxed),
        ),
        (
            "luma_sql_file_bytes",
            "gauge",
            "Size of the SQL database's files.",
            engine.sql.file_bytes(),
        ),
    ];
    for (name, kind, help, value) in gauges {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(&mut out, "luma_keys", "gauge", "Keys per database.");
    for (db, keys, _) in engine.keyspace() {
        let _ = writeln!(out, "luma_keys{{db=\"{db}\"}} {keys}");
    }
    family(
        &mut out,
        "luma_pubsub_subscribed_clients",
        "gauge",
        "Clients with a subscription.",
    );
    let _ = writeln!(
        out,
        "luma_pubsub_subscribed_clients {}",
        engine.bus.subscribed_clients()
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

/// Liveness: 200 while the server serves.
pub async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        "ok\n",
    )
        .into_response()
}
