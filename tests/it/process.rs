//! The `luma` binary as a process: flags, config file, signals, exit codes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::RawClient;

/// A `luma` child process and the address it reported.
pub struct LumaProcess {
    child: Child,
    pub addr: SocketAddr,
    log: std::sync::mpsc::Receiver<String>,
    /// Lines logged before "Ready".
    startup_log: Vec<String>,
}

// The child is waited for by `LumaProcess`'s Drop once it is built.
#[allow(clippy::zombie_processes)]
pub fn spawn(args: &[&str]) -> LumaProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_luma"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("luma starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut startup_log = Vec::new();
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let line = line.expect("luma reports its address");
        if let Some(addr) = line.split("Ready to accept connections tcp on ").nth(1) {
            let addr = addr.trim().parse().expect("address");
            return LumaProcess {
                child,
                addr,
                log: rx,
                startup_log,
            };
        }
        startup_log.push(line);
    }
}

impl LumaProcess {
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "luma did not exit in {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// SIGTERM (graceful shutdown), then wait for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(20))
    }

    /// SIGKILL, then wait for the process to be gone.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    pub fn logged(&self, needle: &str) -> bool {
        if self.startup_log.iter().any(|l| l.contains(needle)) {
            return true;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(line) = self
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return true;
            }
        }
        false
    }
}

impl Drop for LumaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_negative_number_after_a_flag_is_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut p = spawn(&[
        "--port",
        "0",
        "--dir",
        data.to_str().unwrap(),
        "--http-port",
        "-1",
    ]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "http-port"]),
        "*2\r\n$9\r\nhttp-port\r\n$2\r\n-1\r\n"
    );
    drop(c);
    assert!(p.terminate().success());
}

#[test]
fn flags_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conf = dir.path().join("luma.conf");
    std::fs::write(
        &conf,
        format!(
            "# a Redis-style file\nport 0\ndir {}\nrequirepass fromfile\nmaxclients 123\n\
             hash-max-ziplist-entries 64\n",
            data.display()
        ),
    )
    .unwrap();
    let mut p = spawn(&[
        "--config",
        conf.to_str().unwrap(),
        "--requirepass",
        "fromflag",
    ]);
    assert!(data.is_dir(), "data folder created");
    let mut c = RawClient::connect(p.addr);
    assert_eq!(
        c.cmd_str(&["AUTH", "fromfile"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_str(&["AUTH", "fromflag"]), "+OK\r\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "maxclients"]),
        "*2\r\n$10\r\nmaxclients\r\n$3\r\n123\r\n"
    );
    // CONFIG REWRITE writes the effective values back, keeping the comment.
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "timeout", "42"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# a Redis-style file\n"), "{text}");
    assert!(
        text.contains("\ntimeout 42\n") && text.contains("\nrequirepass fromflag\n"),
        "{text}"
    );
    // SIGTERM: graceful shutdown, exit code 0.
    p.signal(libc::SIGTERM);
    let status = p.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigint_and_shutdown_exit_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().join("d");
    let mut p = spawn(&[
        "--port",
        "0",
        "--dir",
        dir_arg.to_str().unwrap(),
        "--loglevel",
        "verbose",
    ]);
    let mut c = RawClient::connect(p.addr);
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    p.signal(libc::SIGINT);
    assert!(p.logged("SIGINT"));
    assert!(p.wait_exit(Duration::from_secs(10)).success());
    assert!(c.is_closed());

    let mut p = spawn(&["server", "--port", "0", "--dir", dir_arg.to_str().unwrap()]);
    let mut c = RawClient::connect(p.addr);
    // A pipeline ending in SHUTDOWN: everything before it is answered first.
    let mut batch = crate::common::encode_command(&[b"ECHO", b"before"]);
    batch.extend(crate::common::encode_command(&[b"SHUTDOWN"]));
    c.send(&batch);
    assert_eq!(c.read_reply(), b"$6\r\nbefore\r\n");
    assert!(c.is_closed());
    assert!(p.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn bad_configuration_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "port 0\nno-such-directive yes\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_luma"))
        .args(["--config", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at line 2") && err.contains("Bad directive"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_luma"))
        .args(["--maxclients", "zero"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("maxclients"));
}

#[test]
fn help_lists_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_luma"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for s in luma::config::SETTINGS {
        assert!(
            help.contains(&format!("--{}", s.name)),
            "--help lacks --{}",
            s.name
        );
    }
}

#[test]
fn loglevel_changes_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let p = spawn(&["--port", "0", "--dir", data.to_str().unwrap()]);
    // At notice, a protocol error is not logged; after CONFIG SET loglevel debug it is.
    let mut bad = RawClient::connect(p.addr);
    bad.send(b"*1\r\n+x\r\n");
    bad.read_reply();
    let mut c = RawClient::connect(p.addr);
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "loglevel", "debug"]),
        "+OK\r\n"
    );
    let mut bad = RawClient::connect(p.addr);
    bad.send(b"*1\r\n+y\r\n");
    bad.read_reply();
    let mut lines = Vec::new();
    while let Ok(line) = p.log.recv_timeout(Duration::from_secs(3)) {
        let done = line.contains("expected '$', got '+'");
        lines.push(line);
        if done {
            break;
        }
    }
    let protocol_errors = lines
        .iter()
        .filter(|l| l.contains("Protocol error from client"))
        .count();
    assert_eq!(protocol_errors, 1, "{lines:?}");
}
