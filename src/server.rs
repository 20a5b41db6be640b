//! Server start-up (data folder, listeners, runtime), the accept loop and graceful shutdown.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::cmd::errors::{MAX_CLIENTS_REACHED, PROTECTED_MODE_DENIED};
use crate::config::{Config, ConfigError, LogLevel};
use crate::conn::state::{ClientInfo, ClientRegistry};
use crate::engine::{Engine, EngineOptions};
use crate::metrics::{Metrics, Metrics as M};

/// The Redis version Luma reports, so clients enable the features they gate on it.
pub const REDIS_COMPAT_VERSION: &str = "8.2.0";
pub const LUMA_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long shutdown waits for connections to finish their in-flight replies.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Changes the log level at run time (CONFIG SET loglevel).
pub type LogReload = Box<dyn Fn(LogLevel) + Send + Sync>;

/// State shared by every connection of one server.
pub struct Shared {
    config: RwLock<Config>,
    pub clients: ClientRegistry,
    pub metrics: Metrics,
    pub engine: Engine,
    pub started: Instant,
    pub run_id: String,
    /// The port actually bound (differs from the setting when it was 0).
    pub port: u16,
    /// Where each live SCAN cursor resumes.
    pub scan_cursors: crate::cmd::scan::ScanCursors,
    shutdown: watch::Sender<bool>,
    log_reload: Option<LogReload>,
}

impl Shared {
    pub fn config(&self) -> RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies CONFIG SET pairs atomically: all are validated before any takes effect.
    pub fn set_config(&self, pairs: &[(String, String)]) -> Result<(), (String, ConfigError)> {
        let mut guard = self.config.write().unwrap_or_else(|p| p.into_inner());
        let mut next = guard.clone();
        for (name, value) in pairs {
            next.set_at_runtime(name, value)
                .map_err(|e| (name.clone(), e))?;
        }
        if next.appendfsync != guard.appendfsync {
            self.engine.set_appendfsync(next.appendfsync);
        }
        self.engine
            .bus
            .set_notify_flags(next.notify_keyspace_events);
        self.engine.bus.set_output_limit(next.pubsub_limit());
        if next.loglevel != guard.loglevel {
            if let Some(reload) = &self.log_reload {
                reload(next.loglevel);
            }
        }
        *guard = next;
        Ok(())
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
        self.clients.stop_all();
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// Resolves once shutdown has been requested (at once if it already was).
pub async fn stopped(signal: &mut watch::Receiver<bool>) {
    loop {
        let stopping = *signal.borrow_and_update();
        if stopping || signal.changed().await.is_err() {
            return;
        }
    }
}

impl Shared {
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Options that differ between the `luma` binary and in-process test servers.
#[derive(Default)]
pub struct StartOptions {
    /// Stop on SIGTERM / SIGINT (the binary does; tests do not).
    pub handle_signals: bool,
    pub log_reload: Option<LogReload>,
}

/// A running server.
pub struct ServerHandle {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
    http_addrs: Vec<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The first address the RESP listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The first address the HTTP API is bound to (`None` when it is off).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addrs.first().copied()
    }

    /// Asks the server to stop and waits until it has.
    pub fn shutdown(mut self) {
        self.shared.request_shutdown();
        self.join();
    }

    /// Waits until the server stops by itself (SHUTDOWN, a signal).
    pub fn wait(mut self) {
        self.join();
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shared.request_shutdown();
        self.join();
    }
}

/// Opens the data folder, binds the listeners and serves on a runtime of its own thread.
pub fn start(config: Config, options: StartOptions) -> io::Result<ServerHandle> {
    std::fs::create_dir_all(&config.dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("can't create data folder {}: {e}", config.dir.display()),
        )
    })?;
    raise_open_file_limit(config.maxclients);
    let mut listeners = Vec::new();
    let mut port = config.port;
    for host in &config.bind {
        let listener = bind(host, port)?;
        port = listener.local_addr()?.port();
        listeners.push(listener);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<io::Result<Vec<_>>>()?;
    // The HTTP API binds like the RESP listener; left at its default while the RESP port is
    // chosen by the system (tests), it is too, so parallel servers never collide.
    let mut http_listeners = Vec::new();
    let http_default = crate::config::Config::default().http_port;
    let mut http_port = match config.http_port {
        p if p == http_default && config.port == 0 => Some(0),
        p => u16::try_from(p).ok(),
    };
    if let Some(mut port) = http_port.take() {
        for host in &config.bind {
            let listener = bind(host, port)?;
            port = listener.local_addr()?.port();
            http_listeners.push(listener);
        }
    }
    let http_addrs = http_listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<io::Result<Vec<_>>>()?;
    let config_workers = config.worker_threads;
    let (shutdown, _) = watch::channel(false);
    let engine = Engine::open(EngineOptions {
        dir: &config.dir,
        databases: config.databases,
        appendfsync: config.appendfsync,
        cache_bytes: usize::try_from(config.kv_cache_size).unwrap_or(usize::MAX),
        row_cache_bytes: usize::try_from(config.row_cache_size).unwrap_or(usize::MAX),
        vector_member_cache_bytes: usize::try_from(config.vector_member_cache_size)
            .unwrap_or(usize::MAX),
        vector_graph_bytes: usize::try_from(config.vector_graph_memory).unwrap_or(usize::MAX),
        wal_repair: config.wal_repair,
        wal_dir: None,
        store: Default::default(),
    })
    .map_err(|e| io::Error::other(e.to_string()))?;
    engine.bus.set_notify_flags(config.notify_keyspace_events);
    engine.bus.set_output_limit(config.pubsub_limit());
    let shared = Arc::new(Shared {
        clients: ClientRegistry::default(),
        metrics: Metrics::new(crate::cmd::table().entries.len()),
        engine,
        started: Instant::now(),
        run_id: random_hex(40),
        port,
        scan_cursors: Default::default(),
        shutdown,
        log_reload: options.log_reload,
        config: RwLock::new(config),
    });
    let worker_count = match config_workers {
        // Half the cores: the other half is left to the engines' own threads (WAL writer,
        // SQLite, index builds) and, on a shared box, to the clients. Measured on 2 cores with
        // redis-benchmark beside the server: one event loop beats two (p99 0.9 ms vs 4.5 ms).
        0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        n => n,
    };
    let mut runtimes = Vec::with_capacity(worker_count);
    for _ in 0..worker_count {
        runtimes.push(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        );
    }
    // Installed before "Ready" is logged, so a signal sent right after start is never missed.
    let signals = if options.handle_signals {
        let _context = runtimes[0].enter();
        Some(StopSignals::install()?)
    } else {
        None
    };
    let (handoffs, inboxes): (Vec<_>, Vec<_>) = (1..worker_count)
        .map(|_| mpsc::unbounded_channel::<Handoff>())
        .unzip();
    let mut runtimes = runtimes.into_iter();
    let first = runtimes
        .next()
        .ok_or_else(|| io::Error::other("no worker"))?;
    let mut helpers = Vec::new();
    for (i, (runtime, inbox)) in runtimes.zip(inboxes).enumerate() {
        let shared = shared.clone();
        helpers.push(
            std::thread::Builder::new()
                .name(format!("luma-worker-{}", i + 1))
                .spawn(move || {
                    runtime.block_on(async {
                        tokio::spawn(release_freed_each_second());
                        worker(shared, inbox).await
                    });
                    runtime.shutdown_timeout(Duration::from_millis(100));
                })?,
        );
    }
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("luma-worker-0".into())
        .spawn(move || {
            first.block_on(async {
                tokio::spawn(release_freed_each_second());
                for listener in http_listeners {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => {
                            tokio::spawn(crate::api::serve(l, thread_shared.clone()));
                        }
                        Err(e) => tracing::error!("HTTP listener: {e}"),
                    }
                }
                serve(thread_shared.clone(), listeners, handoffs, signals).await
            });
            first.shutdown_timeout(Duration::from_millis(100));
            for helper in helpers {
                let _ = helper.join();
            }
            thread_shared.engine.close();
            tracing::info!("Luma is now ready to exit, bye bye...");
        })?;
    for addr in &http_addrs {
        tracing::info!("HTTP API on http://{addr}");
    }
    for addr in &addrs {
        tracing::info!("Ready to accept connections tcp on {addr}");
    }
    Ok(ServerHandle {
        shared,
        addrs,
        http_addrs,
        thread: Some(thread),
    })
}

/// Runs on each event loop: once a second, what its heap holds freed goes back (see
/// `memory::release_thread_freed`).
async fn release_freed_each_second() {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        crate::memory::release_thread_freed();
    }
}

/// An accepted connection on its way to the worker thread that will serve it.
struct Handoff {
    stream: std::net::TcpStream,
    info: Arc<ClientInfo>,
}

fn bind(host: &str, port: u16) -> io::Result<StdTcpListener> {
    let host = host.strip_prefix('-').unwrap_or(host);
    let addr: SocketAddr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
    .parse()
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad bind address {host}"),
        )
    })?;
    let listener = StdTcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("can't listen on {addr}: {e}")))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Worker 0: accepts connections for every worker, serves its share, stops the others.
///
/// Each worker thread runs its own single-threaded runtime (thread per core): a connection
/// stays on one thread, so its wake-ups never cross threads. Connections are dealt round-robin.
async fn serve(
    shared: Arc<Shared>,
    listeners: Vec<StdTcpListener>,
    handoffs: Vec<mpsc::UnboundedSender<Handoff>>,
    signals: Option<StopSignals>,
) {
    if let Some(signals) = signals {
        tokio::spawn(signals.wait(shared.clone()));
    }
    let handoffs = Arc::new(handoffs);
    let mut accept_tasks = Vec::new();
    for listener in listeners {
        match TcpListener::from_std(listener) {
            Ok(listener) => accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                shared.clone(),
                handoffs.clone(),
            ))),
            Err(e) => tracing::error!("listener: {e}"),
        }
    }
    stopped(&mut shared.shutdown_signal()).await;
    tracing::info!("Shutting down: no new connections, finishing in-flight replies");
    for task in accept_tasks {
        let _ = task.await;
    }
    drain(&shared).await;
}

/// Workers 1..n: serve the connections handed over by worker 0.
async fn worker(shared: Arc<Shared>, mut inbox: mpsc::UnboundedReceiver<Handoff>) {
    let mut stop = shared.shutdown_signal();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            handoff = inbox.recv() => match handoff {
                Some(Handoff { stream, info }) => match TcpStream::from_std(stream) {
                    Ok(stream) => {
                        tokio::spawn(crate::conn::serve(stream, info, shared.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("handing over client {}: {e}", info.id);
                        shared.clients.unregister(info.id);
                    }
                },
                None => break,
            },
        }
    }
    drain(&shared).await;
}

/// Waits (bounded) for connections to finish their in-flight replies and close.
async fn drain(shared: &Shared) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !shared.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// SIGTERM and SIGINT listeners.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Must run inside the runtime's context.
    fn install() -> io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self, shared: Arc<Shared>) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("Received SIGTERM scheduling shutdown..."),
            _ = self.int.recv() => tracing::info!("Received SIGINT scheduling shutdown..."),
        }
        shared.request_shutdown();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    handoffs: Arc<Vec<mpsc::UnboundedSender<Handoff>>>,
) {
    let mut stop = shared.shutdown_signal();
    let mut next_worker = 0usize;
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Worker 0 takes its turn in the rotation too (index 0 = here).
                    next_worker = (next_worker + 1) % (handoffs.len() + 1);
                    admit(stream, peer, &shared, next_worker.checked_sub(1).and_then(|i| handoffs.get(i)));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("Accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// Applies protected mode and maxclients, then hands the socket to its connection task.
fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    handoff: Option<&mpsc::UnboundedSender<Handoff>>,
) {
    M::add(&shared.metrics.connections_received, 1);
    let _ = stream.set_nodelay(true);
    let (protected, maxclients) = {
        let config = shared.config();
        (protected_mode_denies(&config, peer), config.maxclients)
    };
    if protected {
        tracing::warn!("Denied connection from {peer}: protected mode");
        refuse(stream, PROTECTED_MODE_DENIED);
        return;
    }
    let laddr = stream.local_addr().unwrap_or(peer);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let Some(info) = shared.clients.register(peer, laddr, fd, maxclients) else {
        M::add(&shared.metrics.rejected_connections, 1);
        refuse(stream, MAX_CLIENTS_REACHED);
        return;
    };
    match handoff {
        None => {
            tokio::spawn(crate::conn::serve(stream, info, shared.clone()));
        }
        Some(worker) => {
            let id = info.id;
            let sent = stream
                .into_std()
                .map(|stream| worker.send(Handoff { stream, info }));
            if !matches!(sent, Ok(Ok(()))) {
                shared.clients.unregister(id);
            }
        }
    }
}

/// Is a client at `peer` refused by protected mode (no password, not from loopback)?
pub fn protected_mode_denies(config: &Config, peer: SocketAddr) -> bool {
    config.protected_mode && config.requirepass.is_empty() && !peer.ip().is_loopback()
}

fn refuse(mut stream: TcpStream, error: &'static str) {
    tokio::spawn(async move {
        let _ = stream.write_all(format!("-{error}\r\n").as_bytes()).await;
        let _ = stream.shutdown().await;
    });
}

/// Raises the open-file limit so `maxclients` connections fit, as Redis does at start-up.
fn raise_open_file_limit(maxclients: u64) {
    let wanted = maxclients.saturating_add(32);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= wanted {
        return;
    }
    let new = libc::rlimit {
        rlim_cur: wanted.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 || new.rlim_cur < wanted {
        tracing::warn!(
            "open file limit {} is below maxclients {maxclients} + 32; raise it with ulimit -n",
            new.rlim_cur
        );
    }
}

fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_mode_refuses_only_remote_clients_without_password() {
        let mut config = Config::default();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let local6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert!(protected_mode_denies(&config, remote));
        assert!(!protected_mode_denies(&config, local));
        assert!(!protected_mode_denies(&config, local6));
        config.requirepass = "secret".into();
        assert!(!protected_mode_denies(&config, remote));
        config.requirepass.clear();
        config.protected_mode = false;
        assert!(!protected_mode_denies(&config, remote));
    }

    #[test]
    fn run_ids_are_40_hex_chars() {
        let id = random_hex(40);
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, random_hex(40));
    }
}
