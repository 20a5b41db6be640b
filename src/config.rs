//! Server settings: one table gives each setting's name, type, default, mutability and doc;
//! the same names serve the config file, the command-line flags and CONFIG GET/SET.

use std::collections::BTreeMap;

use crate::bus::keyspace;
use crate::bus::OutputLimit;
use std::path::{Path, PathBuf};

use crate::bus::glob::glob_match_nocase;
use crate::resp::inline::split_inline_args;

/// How a setting's text is validated and normalised.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes with Redis's units (`512mb`, `1gb`, `100k`); CONFIG GET shows plain bytes.
    Memory {
        min: u64,
        max: u64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Port,
    Bind,
    Dir,
    RequirePass,
    MaxClients,
    AppendFsync,
    Databases,
    ProtoMaxBulkLen,
    ClientQueryBufferLimit,
    Timeout,
    LogLevel,
    ProtectedMode,
    WorkerThreads,
    KvCacheSize,
    VectorMemberCacheSize,
    RowCacheSize,
    VectorGraphMemory,
    HttpPort,
    HttpMaxBody,
    SqlTimeout,
    SqlMaxRows,
    SqlMaxReplyBytes,
    HttpCorsOrigins,
    HttpReadonlyToken,
    WalRepair,
    NotifyKeyspaceEvents,
    ClientOutputBufferLimit,
    /// Accepted and reported, changes nothing in Luma (see DESIGN.md principle 1).
    NoOp,
}

/// One row of the settings table.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
    pub doc: &'static str,
    field: Field,
}

const MB: u64 = 1024 * 1024;

const fn setting(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    mutable: bool,
    field: Field,
    doc: &'static str,
) -> Setting {
    Setting {
        name,
        kind,
        default,
        mutable,
        doc,
        field,
    }
}

/// A Redis encoding threshold: accepted and reported, no effect (DESIGN.md principle 1).
const fn encoding_noop(name: &'static str, default: &'static str, min: i64) -> Setting {
    setting(
        name,
        Kind::Int { min, max: i64::MAX },
        default,
        true,
        Field::NoOp,
        "Redis encoding threshold; accepted for compatibility, no effect",
    )
}

/// Every setting Luma knows.
#[rustfmt::skip]
pub static SETTINGS: &[Setting] = &[
    setting("port", Kind::Int { min: 0, max: 65535 }, "6379", false, Field::Port, "TCP port of the RESP listener (0 picks a free port)"),
    setting("bind", Kind::Str, "127.0.0.1", false, Field::Bind, "addresses to listen on, separated by spaces"),
    setting("dir", Kind::Str, "./data", false, Field::Dir, "data folder, created if missing"),
    setting("requirepass", Kind::Str, "", true, Field::RequirePass, "password of the default user; empty means no password"),
    setting("maxclients", Kind::Int { min: 1, max: i64::MAX }, "10000", true, Field::MaxClients, "maximum number of connected clients"),
    setting("appendfsync", Kind::Enum(&["always", "everysec", "no"]), "everysec", true, Field::AppendFsync, "when the write-ahead log is fsynced"),
    setting("appendonly", Kind::Enum(&["yes"]), "yes", true, Field::NoOp, "always yes: every write goes through Luma's write-ahead log"),
    setting("databases", Kind::Int { min: 1, max: i32::MAX as i64 }, "16", false, Field::Databases, "number of databases (SELECT 0..n-1)"),
    setting("proto-max-bulk-len", Kind::Memory { min: 1024 * 1024, max: i64::MAX as u64 }, "512mb", true, Field::ProtoMaxBulkLen, "largest bulk string a client may send"),
    setting("client-query-buffer-limit", Kind::Memory { min: 1024 * 1024, max: i64::MAX as u64 }, "1gb", true, Field::ClientQueryBufferLimit, "largest unparsed input kept for one client before it is disconnected"),
    setting("timeout", Kind::Int { min: 0, max: i32::MAX as i64 }, "0", true, Field::Timeout, "close a client idle for this many seconds (0 = never)"),
    setting("loglevel", Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]), "notice", true, Field::LogLevel, "log verbosity"),
    setting("kv-cache-size", Kind::Memory { min: 1024 * 1024, max: u64::MAX }, "256mb", false, Field::KvCacheSize, "page cache of the KV store (redb); data beyond it stays on disk"),
    setting("vector-member-cache-size", Kind::Memory { min: 1024 * 1024, max: u64::MAX }, "2mb", false, Field::VectorMemberCacheSize, "page cache of the vector sets' member rows (names, attributes, compact vectors; searches do not read them); beyond it they stay on disk"),
    setting("http-port", Kind::Int { min: -1, max: 65535 }, "7379", false, Field::HttpPort, "TCP port of the HTTP API, bound on the same addresses as RESP (-1 = off; 0 or left at its default while `port` is 0 picks a free port)"),
    setting("http-max-body", Kind::Memory { min: 1024, max: u64::MAX }, "64mb", true, Field::HttpMaxBody, "largest HTTP request body accepted (413 beyond)"),
    setting("http-cors-origins", Kind::Str, "", true, Field::HttpCorsOrigins, "origins allowed to call the HTTP API from a browser, separated by spaces (* = any; empty = no CORS headers)"),
    setting("http-readonly-token", Kind::Str, "", true, Field::HttpReadonlyToken, "a second HTTP API token that may only run commands that change nothing (empty = none)"),
    setting("sql-timeout", Kind::Int { min: 1, max: i64::MAX }, "5000", true, Field::SqlTimeout, "milliseconds a SQL statement may run before it is stopped"),
    setting("sql-max-rows", Kind::Int { min: 1, max: i64::MAX }, "100000", true, Field::SqlMaxRows, "most rows one SQL.QUERY may return"),
    setting("sql-max-reply-bytes", Kind::Memory { min: 1024, max: u64::MAX }, "64mb", true, Field::SqlMaxReplyBytes, "largest SQL.QUERY result, in bytes of values"),
    setting("vector-graph-memory", Kind::Memory { min: 0, max: u64::MAX }, "128mb", false, Field::VectorGraphMemory, "RAM each vector graph may hold beyond its codes for its adjacency lists (BIN sets: then a copy of the vectors); past it they are read from its file"),
    setting("row-cache-size", Kind::Memory { min: 0, max: u64::MAX }, "64mb", false, Field::RowCacheSize, "in-memory cache of recently read keys in front of the store, and a quarter more for the members writes look up (0 = off)"),
    setting("wal-repair", Kind::Bool, "no", false, Field::WalRepair, "at start, truncate a corrupt write-ahead log at the first bad record instead of refusing"),
    setting("worker-threads", Kind::Int { min: 0, max: 1024 }, "0", false, Field::WorkerThreads, "threads serving connections, each with its own event loop (0 = half the cores)"),
    setting("protected-mode", Kind::Bool, "yes", true, Field::ProtectedMode, "refuse non-loopback clients while no password is set"),
    setting("notify-keyspace-events", Kind::Str, "", true, Field::NotifyKeyspaceEvents, "keyspace notification classes (Redis's letters: K E g $ l s h z x e t m n A)"),
    setting("client-output-buffer-limit", Kind::Str, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", true, Field::ClientOutputBufferLimit, "output limits per client class: <class> <hard> <soft> <soft seconds>; pubsub subscribers past them are disconnected"),
    setting("save", Kind::Str, "", true, Field::NoOp, "RDB snapshot schedule; accepted for compatibility, Luma checkpoints its WAL instead"),
    setting("maxmemory", Kind::Memory { min: 0, max: u64::MAX }, "0", true, Field::NoOp, "memory budget; accepted, not yet enforced"),
    setting("maxmemory-policy", Kind::Enum(&["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "allkeys-random", "volatile-random", "volatile-ttl"]), "noeviction", true, Field::NoOp, "eviction policy; accepted, not yet enforced"),
    setting("tcp-keepalive", Kind::Int { min: 0, max: i32::MAX as i64 }, "300", true, Field::NoOp, "accepted for compatibility, no effect"),
    encoding_noop("hash-max-listpack-entries", "128", 0),
    encoding_noop("hash-max-listpack-value", "64", 0),
    encoding_noop("hash-max-ziplist-entries", "128", 0),
    encoding_noop("hash-max-ziplist-value", "64", 0),
    encoding_noop("zset-max-listpack-entries", "128", 0),
    encoding_noop("zset-max-listpack-value", "64", 0),
    encoding_noop("zset-max-ziplist-entries", "128", 0),
    encoding_noop("zset-max-ziplist-value", "64", 0),
    encoding_noop("set-max-intset-entries", "512", 0),
    encoding_noop("set-max-listpack-entries", "128", 0),
    encoding_noop("set-max-listpack-value", "64", 0),
    encoding_noop("list-max-listpack-size", "-2", i64::MIN),
    encoding_noop("list-max-ziplist-size", "-2", i64::MIN),
    encoding_noop("list-compress-depth", "0", 0),
];

/// `appendfsync`: when the WAL is made durable (Redis's AOF names and meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    Always,
    EverySec,
    No,
}

/// `loglevel`, with Redis's level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}

impl LogLevel {
    pub fn filter(self) -> tracing_subscriber::filter::LevelFilter {
        use tracing_subscriber::filter::LevelFilter;
        match self {
            LogLevel::Debug => LevelFilter::TRACE,
            LogLevel::Verbose => LevelFilter::DEBUG,
            LogLevel::Notice => LevelFilter::INFO,
            LogLevel::Warning => LevelFilter::WARN,
            LogLevel::Nothing => LevelFilter::OFF,
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub dir: PathBuf,
    pub requirepass: String,
    pub maxclients: u64,
    pub appendfsync: AppendFsync,
    pub databases: u32,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub timeout_secs: u64,
    pub loglevel: LogLevel,
    pub protected_mode: bool,
    pub worker_threads: usize,
    pub kv_cache_size: u64,
    pub vector_member_cache_size: u64,
    pub row_cache_size: u64,
    pub vector_graph_memory: u64,
    /// HTTP API port (-1 = off, 0 = a free port).
    pub http_port: i32,
    pub http_max_body: u64,
    pub sql_timeout_ms: u64,
    pub sql_max_rows: u64,
    pub sql_max_reply_bytes: u64,
    pub http_cors_origins: Vec<String>,
    pub http_readonly_token: String,
    pub wal_repair: bool,
    /// `notify-keyspace-events` as class bits (`bus::keyspace::class`).
    pub notify_keyspace_events: u32,
    /// `client-output-buffer-limit` per class: normal, replica, pubsub.
    pub output_limits: [OutputLimit; 3],
    /// The file the configuration was read from, if any.
    pub config_file: Option<PathBuf>,
    noops: BTreeMap<&'static str, String>,
}

/// A setting that could not be applied; the text is Redis's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown setting '{0}'")]
    Unknown(String),
    #[error("can't set immutable config")]
    Immutable,
    #[error("{0}")]
    Invalid(String),
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            dir: PathBuf::from("./data"),
            requirepass: String::new(),
            maxclients: 10_000,
            appendfsync: AppendFsync::EverySec,
            databases: 16,
            proto_max_bulk_len: 512 * MB,
            client_query_buffer_limit: 1024 * MB,
            timeout_secs: 0,
            loglevel: LogLevel::Notice,
            protected_mode: true,
            worker_threads: 0,
            kv_cache_size: 256 * MB,
            vector_member_cache_size: 2 * MB,
            row_cache_size: 64 * MB,
            vector_graph_memory: 128 * MB,
            http_port: 7379,
            http_max_body: 64 * MB,
            sql_timeout_ms: 5000,
            sql_max_rows: 100_000,
            sql_max_reply_bytes: 64 * MB,
            http_cors_origins: Vec::new(),
            http_readonly_token: String::new(),
            wal_repair: false,
            notify_keyspace_events: 0,
            output_limits: [OutputLimit::default(); 3],
            config_file: None,
            noops: BTreeMap::new(),
        };
        for s in SETTINGS {
            // Defaults are valid by construction; a failure here would be caught by tests.
            let _ = config.apply(s, s.default);
        }
        config
    }
}

impl Setting {
    /// Validates `value`, returning its normalised text.
    pub fn normalize(&self, value: &str) -> Result<String, ConfigError> {
        match self.kind {
            Kind::Int { min, max } => {
                let n: i64 = value.trim().parse().map_err(|_| {
                    ConfigError::Invalid("argument couldn't be parsed into an integer".into())
                })?;
                if n < min || n > max {
                    return Err(ConfigError::Invalid(format!(
                        "argument must be between {min} and {max} inclusive"
                    )));
                }
                Ok(n.to_string())
            }
            Kind::Memory { min, max } => {
                let n = parse_memory(value).ok_or_else(|| {
                    ConfigError::Invalid("argument must be a memory value".into())
                })?;
                if n < min || n > max {
                    return Err(ConfigError::Invalid(format!(
                        "argument must be between {min} and {max} inclusive"
                    )));
                }
                Ok(n.to_string())
            }
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err(ConfigError::Invalid(
                    "argument must be 'yes' or 'no'".into(),
                )),
            },
            Kind::Enum(options) => {
                let lower = value.to_ascii_lowercase();
                options
                    .iter()
                    .find(|o| **o == lower)
                    .map(|o| o.to_string())
                    .ok_or_else(|| {
                        ConfigError::Invalid(format!(
                            "argument(s) must be one of the following: {}",
                            options.join(", ")
                        ))
                    })
            }
            Kind::Str => Ok(value.to_string()),
        }
    }
}

/// Looks a setting up by name (case-insensitive).
pub fn find_setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Validates and applies one setting (no mutability check: used at start-up).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let setting = find_setting(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        self.apply(setting, value)
    }

    /// CONFIG SET semantics: immutable settings are refused.
    pub fn set_at_runtime(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let setting = find_setting(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        if !setting.mutable {
            return Err(ConfigError::Immutable);
        }
        self.apply(setting, value)
    }

    fn apply(&mut self, setting: &'static Setting, value: &str) -> Result<(), ConfigError> {
        let v = setting.normalize(value)?;
        let int = || v.parse::<i64>().unwrap_or(0);
        let uint = || v.parse::<u64>().unwrap_or(0);
        match setting.field {
            Field::Port => self.port = u16::try_from(int()).unwrap_or(6379),
            Field::Bind => {
                let addrs: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                if addrs.is_empty() {
                    return Err(ConfigError::Invalid(
                        "bind needs at least one address".into(),
                    ));
                }
                self.bind = addrs;
            }
            Field::Dir => self.dir = PathBuf::from(v),
            Field::RequirePass => self.requirepass = v,
            Field::MaxClients => self.maxclients = uint(),
            Field::AppendFsync => {
                self.appendfsync = match v.as_str() {
                    "always" => AppendFsync::Always,
                    "no" => AppendFsync::No,
                    _ => AppendFsync::EverySec,
                }
            }
            Field::Databases => self.databases = u32::try_from(int()).unwrap_or(16),
            Field::ProtoMaxBulkLen => self.proto_max_bulk_len = uint(),
            Field::ClientQueryBufferLimit => self.client_query_buffer_limit = uint(),
            Field::Timeout => self.timeout_secs = uint(),
            Field::LogLevel => {
                self.loglevel = match v.as_str() {
                    "debug" => LogLevel::Debug,
                    "verbose" => LogLevel::Verbose,
                    "warning" => LogLevel::Warning,
                    "nothing" => LogLevel::Nothing,
                    _ => LogLevel::Notice,
                }
            }
            Field::ProtectedMode => self.protected_mode = v == "yes",
            Field::WorkerThreads => self.worker_threads = usize::try_from(int()).unwrap_or(0),
            Field::KvCacheSize => self.kv_cache_size = uint(),
            Field::VectorMemberCacheSize => self.vector_member_cache_size = uint(),
            Field::RowCacheSize => self.row_cache_size = uint(),
            Field::VectorGraphMemory => self.vector_graph_memory = uint(),
            Field::HttpPort => self.http_port = i32::try_from(int()).unwrap_or(-1),
            Field::HttpMaxBody => self.http_max_body = uint(),
            Field::SqlTimeout => self.sql_timeout_ms = uint(),
            Field::SqlMaxRows => self.sql_max_rows = uint(),
            Field::SqlMaxReplyBytes => self.sql_max_reply_bytes = uint(),
            Field::HttpReadonlyToken => self.http_readonly_token = v.to_string(),
            Field::HttpCorsOrigins => {
                self.http_cors_origins = v.split_whitespace().map(str::to_string).collect()
            }
            Field::WalRepair => self.wal_repair = v == "yes",
            Field::NotifyKeyspaceEvents => {
                self.notify_keyspace_events = keyspace::parse_flags(&v).ok_or_else(|| {
                    ConfigError::Invalid(
                        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into(),
                    )
                })?;
            }
            Field::ClientOutputBufferLimit => self.set_output_limits(&v)?,
            Field::NoOp => {
                self.noops.insert(setting.name, v);
            }
        }
        Ok(())
    }

    /// The current value of a setting as CONFIG GET shows it.
    pub fn get(&self, setting: &Setting) -> String {
        match setting.field {
            Field::Port => self.port.to_string(),
            Field::Bind => self.bind.join(" "),
            Field::Dir => self.dir.display().to_string(),
            Field::RequirePass => self.requirepass.clone(),
            Field::MaxClients => self.maxclients.to_string(),
            Field::AppendFsync => match self.appendfsync {
                AppendFsync::Always => "always",
                AppendFsync::EverySec => "everysec",
                AppendFsync::No => "no",
            }
            .into(),
            Field::Databases => self.databases.to_string(),
            Field::ProtoMaxBulkLen => self.proto_max_bulk_len.to_string(),
            Field::ClientQueryBufferLimit => self.client_query_buffer_limit.to_string(),
            Field::Timeout => self.timeout_secs.to_string(),
            Field::LogLevel => match self.loglevel {
                LogLevel::Debug => "debug",
                LogLevel::Verbose => "verbose",
                LogLevel::Notice => "notice",
                LogLevel::Warning => "warning",
                LogLevel::Nothing => "nothing",
            }
            .into(),
            Field::ProtectedMode => if self.protected_mode { "yes" } else { "no" }.into(),
            Field::WorkerThreads => self.worker_threads.to_string(),
            Field::KvCacheSize => self.kv_cache_size.to_string(),
            Field::VectorMemberCacheSize => self.vector_member_cache_size.to_string(),
            Field::RowCacheSize => self.row_cache_size.to_string(),
            Field::VectorGraphMemory => self.vector_graph_memory.to_string(),
            Field::HttpPort => self.http_port.to_string(),
            Field::HttpMaxBody => self.http_max_body.to_string(),
            Field::SqlTimeout => self.sql_timeout_ms.to_string(),
            Field::SqlMaxRows => self.sql_max_rows.to_string(),
            Field::SqlMaxReplyBytes => self.sql_max_reply_bytes.to_string(),
            Field::HttpCorsOrigins => self.http_cors_origins.join(" "),
            Field::HttpReadonlyToken => self.http_readonly_token.clone(),
            Field::WalRepair => if self.wal_repair { "yes" } else { "no" }.into(),
            Field::NotifyKeyspaceEvents => keyspace::format_flags(self.notify_keyspace_events),
            Field::ClientOutputBufferLimit => ["normal", "slave", "pubsub"]
                .iter()
                .zip(self.output_limits.iter())
                .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_secs))
                .collect::<Vec<_>>()
                .join(" "),
            Field::NoOp => self.noops.get(setting.name).cloned().unwrap_or_default(),
        }
    }

    /// The pub/sub subscribers' output limit.
    pub fn pubsub_limit(&self) -> OutputLimit {
        self.output_limits[2]
    }

    /// Applies `<class> <hard> <soft> <soft seconds>` groups (classes not named keep theirs).
    fn set_output_limits(&mut self, value: &str) -> Result<(), ConfigError> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err(ConfigError::Invalid(
                "Wrong number of arguments in buffer limit configuration.".into(),
            ));
        }
        let mut next = self.output_limits;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "slave" | "replica" => 1,
                "pubsub" => 2,
                _ => {
                    return Err(ConfigError::Invalid(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    ))
                }
            };
            let bad = || {
                ConfigError::Invalid(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            };
            let hard = parse_memory(group[1]).ok_or_else(bad)?;
            let soft = parse_memory(group[2]).ok_or_else(bad)?;
            let soft_secs = group[3].parse::<u64>().map_err(|_| bad())?;
            next[class] = OutputLimit {
                hard,
                soft,
                soft_secs,
            };
        }
        self.output_limits = next;
        Ok(())
    }

    /// The current value of the setting called `name` (empty if there is none).
    pub fn get_by_name(&self, name: &str) -> String {
        find_setting(name).map(|s| self.get(s)).unwrap_or_default()
    }

    /// `(name, value)` of every setting whose name matches one of the glob `patterns`.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        SETTINGS
            .iter()
            .filter(|s| {
                patterns
                    .iter()
                    .any(|p| glob_match_nocase(p, s.name.as_bytes()))
            })
            .map(|s| (s.name, self.get(s)))
            .collect()
    }

    /// Applies the lines of a Redis-style config file (`name value…`, `#` comments, quotes).
    pub fn load_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "Fatal error, can't open config file '{}': {e}",
                path.display()
            )
        })?;
        self.apply_file_text(&text)?;
        self.config_file = Some(path.to_path_buf());
        Ok(())
    }

    pub fn apply_file_text(&mut self, text: &str) -> Result<(), String> {
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| {
                format!(
                    "*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line {}\n\
                     >>> '{line}'\n{reason}",
                    index + 1
                )
            };
            let args = split_inline_args(line.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?;
            let Some((name, values)) = args.split_first() else {
                continue;
            };
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            let value = values
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            match self.set(&name, &value) {
                Ok(()) => {}
                Err(ConfigError::Unknown(_)) => {
                    return Err(fail("Bad directive or wrong number of arguments"))
                }
                Err(e) => return Err(fail(&e.to_string())),
            }
        }
        Ok(())
    }
}

/// CONFIG REWRITE: keeps the file's comments and order, updates the settings it names and
/// appends those that differ from their defaults; written to a temporary file, then renamed.
pub fn rewrite_file(config: &Config, path: &Path) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut written: Vec<&'static str> = Vec::new();
    let mut out = String::new();
    for line in old.lines() {
        let name = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match find_setting(&name) {
            Some(s) if !line.trim_start().starts_with('#') => {
                if !written.contains(&s.name) {
                    out.push_str(&format!("{} {}\n", s.name, quote(&config.get(s))));
                    written.push(s.name);
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let defaults = Config::default();
    for s in SETTINGS {
        if !written.contains(&s.name) && config.get(s) != defaults.get(s) {
            out.push_str(&format!("{} {}\n", s.name, quote(&config.get(s))));
        }
    }
    let tmp = path.with_extension("rewrite.tmp");
    std::fs::write(&tmp, out)?;
    std::fs::rename(&tmp, path)
}

fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
    {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Parses a Redis memory value: digits with an optional unit (b, k, kb, m, mb, g, gb;
/// `k` = 1000, `kb` = 1024), case-insensitive.
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_redis_like() {
        let c = Config::default();
        for s in SETTINGS {
            assert!(s.normalize(s.default).is_ok(), "{}", s.name);
        }
        assert_eq!(c.port, 6379);
        assert_eq!(c.proto_max_bulk_len, 512 * MB);
        assert_eq!(
            c.get(find_setting("hash-max-listpack-entries").unwrap()),
            "128"
        );
        assert_eq!(c.get(find_setting("protected-mode").unwrap()), "yes");
    }

    #[test]
    fn file_lines_and_errors() {
        let mut c = Config::default();
        c.apply_file_text(
            "# comment\nport 7000\nbind 127.0.0.1 ::1\nrequirepass \"a b\"\n\
                           maxclients 5\nproto-max-bulk-len 2mb\nappendfsync ALWAYS\n",
        )
        .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.bind, ["127.0.0.1", "::1"]);
        assert_eq!(c.requirepass, "a b");
        assert_eq!(c.maxclients, 5);
        assert_eq!(c.proto_max_bulk_len, 2 * MB);
        assert_eq!(c.appendfsync, AppendFsync::Always);
        let err = c.apply_file_text("\nfoo bar\n").unwrap_err();
        assert!(
            err.contains("at line 2") && err.contains("Bad directive"),
            "{err}"
        );
        let err = c.apply_file_text("maxclients lots\n").unwrap_err();
        assert!(err.contains("couldn't be parsed into an integer"), "{err}");
    }

    #[test]
    fn runtime_set_respects_mutability() {
        let mut c = Config::default();
        assert_eq!(c.set_at_runtime("port", "1"), Err(ConfigError::Immutable));
        assert!(matches!(
            c.set_at_runtime("nope", "1"),
            Err(ConfigError::Unknown(_))
        ));
        c.set_at_runtime("TIMEOUT", "30").unwrap();
        assert_eq!(c.timeout_secs, 30);
        assert_eq!(c.matching(&[b"time*"]), vec![("timeout", "30".to_string())]);
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1tb"), None);
        assert_eq!(parse_memory("-1"), None);
    }
}
