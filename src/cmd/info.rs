//! INFO: the sections and fields clients parse (redis-cli --stat, redis-py, redisvl).

use std::fmt::Write as _;

use bytes::Bytes;

use super::{table, ArgCursor, CmdError, Command, Ctx};
use crate::metrics::Metrics as M;
use crate::resp::Reply;
use crate::server::{Shared, LUMA_VERSION, REDIS_COMPAT_VERSION};

/// Sections of plain `INFO` (Redis's "default").
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "vectors",
    "sql",
];

/// `INFO [section [section ...]]`
pub struct Info(Vec<String>);

impl Command for Info {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(Info(
            args.rest()
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect(),
        ))
    }

    fn exec(self, ctx: &mut Ctx<'_>) -> Result<Reply, CmdError> {
        let mut wanted: Vec<&str> = Vec::new();
        if self.0.is_empty() {
            wanted.extend(DEFAULT_SECTIONS);
        }
        for s in &self.0 {
            match s.as_str() {
                "default" => wanted.extend(DEFAULT_SECTIONS),
                "all" | "everything" => {
                    wanted.extend(DEFAULT_SECTIONS);
                    wanted.push("commandstats");
                }
                other => wanted.push(other),
            }
        }
        let mut seen = Vec::new();
        let mut out = String::new();
        for section in wanted {
            if seen.contains(&section) {
                continue;
            }
            seen.push(section);
            let body = render_section(ctx.server, section);
            if let Some(body) = body {
                if !out.is_empty() {
                    out.push_str("\r\n");
                }
                out.push_str(&body);
            }
        }
        Ok(Reply::Verbatim(Bytes::from(out)))
    }
}

/// Appends `name:value\r\n` lines.
struct Section(String);

impl Section {
    fn new(title: &str) -> Self {
        Section(format!("# {title}\r\n"))
    }

    fn field(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "{name}:{value}\r\n");
        self
    }
}

fn render_section(shared: &Shared, name: &str) -> Option<String> {
    let m = &shared.metrics;
    let config = shared.config();
    let s = match name {
        "server" => {
            let uptime = shared.uptime().as_secs();
            let mut s = Section::new("Server");
            s.field("redis_version", REDIS_COMPAT_VERSION)
                .field("redis_git_sha1", "00000000")
                .field("redis_git_dirty", 0)
                .field("redis_build_id", "0")
                .field("redis_mode", "standalone")
                .field("luma_version", LUMA_VERSION)
                .field(
                    "os",
                    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                )
                .field("arch_bits", usize::BITS)
                .field("multiplexing_api", "epoll")
                .field("process_id", std::process::id())
                .field("process_supervised", "no")
                .field("run_id", &shared.run_id)
                .field("tcp_port", shared.port)
                .field("server_time_usec", unix_micros())
                .field("uptime_in_seconds", uptime)
                .field("uptime_in_days", uptime / 86_400)
                .field("hz", 10)
                .field("configured_hz", 10)
                .field(
                    "executable",
                    std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                )
                .field(
                    "config_file",
                    config
                        .config_file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                )
                .field("io_threads_active", 0);
            s
        }
        "clients" => {
            let bus = &shared.engine.bus;
            let mut s = Section::new("Clients");
            s.field("connected_clients", shared.clients.len())
                .field("cluster_connections", 0)
                .field("maxclients", config.maxclients)
                .field("client_recent_max_input_buffer", 0)
                .field("client_recent_max_output_buffer", 0)
                .field("blocked_clients", shared.engine.waiters.len())
                .field("tracking_clients", bus.tracking.tracking_clients())
                .field("pubsub_clients", bus.subscribed_clients())
                .field("watching_clients", 0)
                .field("clients_in_timeout_table", 0)
                .field("total_watched_keys", 0)
                .field("total_blocking_keys", 0)
                .field("total_blocking_keys_on_nokey", 0);
            s
        }
        "memory" => {
            let rss = process_rss_bytes();
            let peak = process_peak_rss_bytes().max(rss);
            let mut s = Section::new("Memory");
            // Luma has no allocator-level accounting yet: used_memory is the resident set.
            s.field("used_memory", rss)
                .field("used_memory_human", human_bytes(rss))
                .field("used_memory_rss", rss)
                .field("used_memory_rss_human", human_bytes(rss))
                .field("used_memory_peak", peak)
                .field("used_memory_peak_human", human_bytes(peak))
                .field("total_system_memory", system_memory_bytes())
                .field(
                    "total_system_memory_human",
                    human_bytes(system_memory_bytes()),
                )
                .field("maxmemory", config.get_by_name("maxmemory"))
                .field("maxmemory_policy", config.get_by_name("maxmemory-policy"))
                .field("mem_fragmentation_ratio", "1.00")
                .field("mem_allocator", "mimalloc");
            s
        }
        "persistence" => {
            let e = &shared.engine.stats;
            let get = |c: &std::sync::atomic::AtomicU64| M::get(c);
            let write_status = if get(&e.wal_write_errors) > 0 {
                "err"
            } else {
                "ok"
            };
            let mut s = Section::new("Persistence");
            // A checkpoint is Luma's "save": the store made durable and the WAL trimmed.
            s.field("loading", 0)
                .field("async_loading", 0)
                .field("current_cow_peak", 0)
                .field(
                    "rdb_changes_since_last_save",
                    get(&e.changes_since_checkpoint),
                )
                .field("rdb_bgsave_in_progress", 0)
                .field("rdb_last_save_time", get(&e.last_checkpoint_unix))
                .field("rdb_last_bgsave_status", "ok")
                .field("aof_enabled", 1)
                .field("aof_rewrite_in_progress", 0)
                .field("aof_rewrite_scheduled", 0)
                .field("aof_last_write_status", write_status)
                .field("aof_current_size", get(&e.wal_bytes))
                .field("wal_appendfsync", config.get_by_name("appendfsync"))
                .field("wal_size_bytes", get(&e.wal_bytes))
                .field("wal_last_lsn", get(&e.last_lsn))
                .field("wal_checkpoint_lsn", get(&e.checkpoint_lsn))
                .field("wal_checkpoints", get(&e.checkpoints))
                .field("wal_write_errors", get(&e.wal_write_errors))
                .field("wal_replayed_records_at_start", get(&e.replayed_records))
                .field("wal_torn_tail_bytes_at_start", get(&e.torn_tail_bytes))
                .field("engine_write_batches", get(&e.batches))
                .field("engine_batched_writes", get(&e.batched_writes))
                .field(
                    "engine_writer_thread_batches",
                    get(&e.writer_thread_batches),
                );
            s
        }
        "stats" => {
            let bus = &shared.engine.bus;
            let (channels, shard_channels, patterns) = bus.counts();
            let mut s = Section::new("Stats");
            s.field(
                "total_connections_received",
                M::get(&m.connections_received),
            )
            .field("total_commands_processed", M::get(&m.commands_processed))
            .field("instantaneous_ops_per_sec", 0)
            .field("total_net_input_bytes", M::get(&m.net_input_bytes))
            .field("total_net_output_bytes", M::get(&m.net_output_bytes))
            .field("rejected_connections", M::get(&m.rejected_connections))
            .field("expired_keys", M::get(&shared.engine.stats.expired_keys))
            .field(
                "expired_subkeys",
                M::get(&shared.engine.stats.expired_fields),
            )
            .field("evicted_keys", 0)
            .field("row_cache_hits", M::get(&shared.engine.cache.hits))
            .field("row_cache_misses", M::get(&shared.engine.cache.misses))
            .field("keyspace_hits", 0)
            .field("keyspace_misses", 0)
            .field("pubsub_channels", channels)
            .field("pubsub_patterns", patterns)
            .field("pubsubshard_channels", shard_channels)
            .field("tracking_total_keys", bus.tracking.tracked_keys())
            .field(
                "keyspace_events_published",
                M::get(&bus.stats.keyspace_events),
            )
            .field("pubsub_messages_published", M::get(&bus.stats.published))
            .field("pubsub_messages_delivered", M::get(&bus.stats.delivered))
            .field("total_error_replies", M::get(&m.error_replies))
            .field("total_reads_processed", M::get(&m.reads_processed))
            .field("total_writes_processed", M::get(&m.writes_processed))
            .field(
                "client_query_buffer_limit_disconnections",
                M::get(&m.query_buffer_limit_disconnections),
            )
            .field(
                "client_output_buffer_limit_disconnections",
                M::get(&bus.stats.output_limit_disconnections),
            )
            .field(
                "protocol_error_disconnections",
                M::get(&m.protocol_error_disconnections),
            );
            s
        }
        "replication" => {
            let mut s = Section::new("Replication");
            s.field("role", "master")
                .field("connected_slaves", 0)
                .field("master_failover_state", "no-failover")
                .field("master_replid", &shared.run_id)
                .field("master_replid2", "0".repeat(40))
                .field("master_repl_offset", 0)
                .field("second_repl_offset", -1)
                .field("repl_backlog_active", 0)
                .field("repl_backlog_size", 1_048_576)
                .field("repl_backlog_first_byte_offset", 0)
                .field("repl_backlog_histlen", 0);
            s
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            let mut s = Section::new("CPU");
            s.field("used_cpu_sys", format!("{sys:.6}"))
                .field("used_cpu_user", format!("{user:.6}"))
                .field("used_cpu_sys_children", "0.000000")
                .field("used_cpu_user_children", "0.000000");
            s
        }
        "modules" => Section::new("Modules"),
        "errorstats" => Section::new("Errorstats"),
        "cluster" => {
            let mut s = Section::new("Cluster");
            s.field("cluster_enabled", 0);
            s
        }
        "commandstats" => {
            let mut s = Section::new("Commandstats");
            for entry in &table().entries {
                let st = m.command(entry.id);
                let calls = M::get(&st.calls);
                let (rejected, failed) = (M::get(&st.rejected_calls), M::get(&st.failed_calls));
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = M::get(&st.usec);
                let per_call = if calls == 0 {
                    0.0
                } else {
                    usec as f64 / calls as f64
                };
                s.field(
                    &format!("cmdstat_{}", entry.full_name),
                    format!(
                        "calls={calls},usec={usec},usec_per_call={per_call:.2},\
                         rejected_calls={rejected},failed_calls={failed}"
                    ),
                );
            }
            s
        }
        "keyspace" => {
            let mut s = Section::new("Keyspace");
            for (db, keys, expires) in shared.engine.keyspace() {
                s.field(
                    &format!("db{db}"),
                    format!("keys={keys},expires={expires},avg_ttl=0"),
                );
            }
            s
        }
        "vectors" => {
            let vectors = &shared.engine.vectors;
            let (sets, elements, ram) = vectors.stats();
            let mut s = Section::new("Vectors");
            s.field("vector_sets", sets)
                .field("vector_elements", elements)
                .field("vector_index_ram_bytes", ram)
                .field("vector_pool_threads", vectors.pool.threads);
            s
        }
        "sql" => {
            let sql = &shared.engine.sql;
            let st = &sql.stats;
            let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            let mut s = Section::new("Sql");
            s.field("sql_file_bytes", sql.file_bytes())
                .field("sql_readers", sql.readers.size)
                .field("sql_queries", n(&st.queries))
                .field("sql_execs", n(&st.execs))
                .field("sql_errors", n(&st.errors))
                .field("sql_timeouts", n(&st.timeouts))
                .field("sql_rows_returned", n(&st.rows_returned))
                .field("sql_rows_changed", n(&st.rows_changed))
                .field("sql_write_groups", n(&st.write_groups))
                .field("sql_grouped_writes", n(&st.grouped_writes))
                .field("sql_applied_lsn", n(&st.applied_lsn))
                .field("sql_replayed_records", n(&st.replayed_records))
                .field("sql_catch_ups", n(&st.catch_ups))
                .field(
                    "sql_behind_log",
                    u8::from(st.behind_log.load(std::sync::atomic::Ordering::Relaxed)),
                );
            s
        }
        _ => return None,
    };
    Some(s.0)
}

fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Resident set size of this process, from /proc.
pub fn process_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

fn proc_status_kb(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .unwrap_or(0)
        * 1024
}

fn process_peak_rss_bytes() -> u64 {
    proc_status_kb("/proc/self/status", "VmHWM:")
}

fn system_memory_bytes() -> u64 {
    proc_status_kb("/proc/meminfo", "MemTotal:")
}

/// Redis's `bytesToHuman`: 1.50K, 2.00M, ...
pub fn human_bytes(n: u64) -> String {
    let units = [
        ("B", 1u64),
        ("K", 1 << 10),
        ("M", 1 << 20),
        ("G", 1 << 30),
        ("T", 1 << 40),
    ];
    let (unit, size) = units
        .iter()
        .rev()
        .find(|(_, size)| n >= *size)
        .copied()
        .unwrap_or(("B", 1));
    if unit == "B" {
        format!("{n}B")
    } else {
        format!("{:.2}{unit}", n as f64 / size as f64)
    }
}

fn cpu_seconds() -> (f64, f64) {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only into the struct we pass.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(human_bytes(100), "100B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 << 20), "3.00M");
    }

    #[test]
    fn rss_is_read() {
        assert!(process_rss_bytes() > 0);
    }
}
