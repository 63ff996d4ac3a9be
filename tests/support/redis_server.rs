//! A real `redis-server` for tests and benchmarks, started on a free loopback port with a
//! temporary directory and stopped on drop.
//!
//! A missing binary is a failure with an install hint, never a skip. The server binds
//! `127.0.0.1` only, keeps no data on disk (`--save "" --appendonly no`), and is watched by a
//! small `sh` process that kills it if the test process dies without dropping it (the
//! watchdog's stdin is a pipe held by this process: when it closes, the watchdog kills the
//! server).
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary to run: `$REDIS_SERVER_BIN` or `redis-server` on the `PATH`.
pub fn redis_server_bin() -> String {
    std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_string())
}

/// Panics with an install hint when `redis-server` cannot be run.
pub fn require_redis_server() {
    require_redis_server_at(&redis_server_bin());
}

/// Panics with an install hint when `bin` cannot be run as `redis-server`.
pub fn require_redis_server_at(bin: &str) {
    let ok = Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`{bin}` is not installed or not on PATH. The Redis tests run a real server and never \
         skip: install it with `apt-get update && apt-get install -y redis-server` (Debian/Ubuntu), \
         `brew install redis` (macOS), or set REDIS_SERVER_BIN to its path. `bash .ci/run` \
         installs it when it is missing."
    );
}

/// Runs `redis-cli {args...}` (fails, never skips, when `redis-cli` is missing: it comes with
/// the redis-server package).
pub fn run_redis_cli(args: &[&str]) -> std::process::Output {
    Command::new("redis-cli")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`redis-cli` cannot run ({e}): install it with the redis-server package \
                 (`apt-get install -y redis-server`, which brings redis-tools)"
            )
        })
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    /// More `redis-server` arguments (cluster mode, `--replicaof`).
    extra: Vec<String>,
    /// A sentinel's configuration: the process runs as a sentinel with it.
    sentinel_conf: Option<String>,
    dir: tempfile::TempDir,
    server: Option<Child>,
    watchdog: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        Self::start_with(None)
    }

    /// Starts a server that requires `password` (`--requirepass`).
    pub fn start_with_password(password: &str) -> RedisServer {
        Self::start_with(Some(password.to_string()))
    }

    fn start_with(password: Option<String>) -> RedisServer {
        Self::launch(password, Vec::new(), None)
    }

    /// Starts a server with more `redis-server` arguments (cluster mode, `--replicaof`).
    pub fn start_with_args(extra: &[&str]) -> RedisServer {
        Self::launch(None, extra.iter().map(|a| a.to_string()).collect(), None)
    }

    /// Starts a sentinel whose configuration file holds `conf`.
    pub fn start_sentinel(conf: &str) -> RedisServer {
        Self::launch(None, Vec::new(), Some(conf.to_string()))
    }

    fn launch(
        password: Option<String>,
        extra: Vec<String>,
        sentinel_conf: Option<String>,
    ) -> RedisServer {
        require_redis_server();
        // A port can be taken between free_port() and the server's bind: retry a few times.
        for _ in 0..5 {
            let mut s = RedisServer {
                extra: extra.clone(),
                sentinel_conf: sentinel_conf.clone(),
                port: free_port(),
                password: password.clone(),
                dir: tempfile::tempdir().expect("a temporary directory"),
                server: None,
                watchdog: None,
            };
            if s.spawn_and_wait() {
                return s;
            }
        }
        panic!("redis-server did not start on a free port after 5 attempts");
    }

    /// Starts a server on `port` (which must be free).
    pub fn start_on(port: u16) -> RedisServer {
        require_redis_server();
        let mut s = RedisServer {
            extra: Vec::new(),
            sentinel_conf: None,
            port,
            password: None,
            dir: tempfile::tempdir().expect("a temporary directory"),
            server: None,
            watchdog: None,
        };
        assert!(
            s.spawn_and_wait(),
            "redis-server did not start on port {port}"
        );
        s
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}` (with the password, percent-encoded, when one is set).
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{}@127.0.0.1:{}", percent_encode(p), self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Kills the server at once (`SIGKILL`), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.spawn_and_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    /// Freezes the server (`SIGSTOP`): connections stay open, nothing answers, as a stalled or
    /// swapping server looks from outside. [`RedisServer::resume`] thaws it.
    pub fn pause(&mut self) {
        self.signal("-STOP");
    }

    /// Thaws a server frozen by [`RedisServer::pause`] (`SIGCONT`).
    pub fn resume(&mut self) {
        self.signal("-CONT");
    }

    fn signal(&mut self, sig: &str) {
        let pid = self.server.as_ref().expect("server running").id();
        let ok = Command::new("kill")
            .arg(sig)
            .arg(pid.to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid} failed");
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.server
            .as_mut()
            .is_some_and(|s| s.try_wait().ok().flatten().is_none())
    }

    fn spawn_and_wait(&mut self) -> bool {
        let mut cmd = Command::new(redis_server_bin());
        if let Some(conf) = &self.sentinel_conf {
            let path = self.dir.path().join("sentinel.conf");
            std::fs::write(&path, conf).expect("write sentinel.conf");
            cmd.arg(&path).arg("--sentinel");
        }
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .arg("--daemonize")
            .arg("no")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.sentinel_conf.is_none() {
            cmd.arg("--save").arg("").arg("--appendonly").arg("no");
        }
        cmd.args(&self.extra);
        if let Some(p) = &self.password {
            cmd.arg("--requirepass").arg(p);
        }
        let Ok(mut server) = cmd.spawn() else {
            require_redis_server();
            return false;
        };
        let pid = server.id();
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!("read _; kill -9 {pid} 2>/dev/null"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.try_wait().ok().flatten().is_some() {
                // Exited: most likely the port was taken.
                if let Some(mut w) = watchdog {
                    let _ = w.kill();
                    let _ = w.wait();
                }
                return false;
            }
            if ping(self.port) {
                self.server = Some(server);
                self.watchdog = watchdog;
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = server.kill();
        let _ = server.wait();
        false
    }

    /// Runs one command over a fresh plain-RESP connection (authenticating when needed) and
    /// returns the raw reply text. For assertions on what the server holds.
    pub fn raw(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut out = Vec::new();
        if let Some(p) = &self.password {
            out.extend(encode(&["AUTH", p]));
        }
        out.extend(encode(args));
        s.write_all(&out).expect("write to redis");
        let mut reply = Vec::new();
        let mut buf = [0u8; 65536];
        let replies = if self.password.is_some() { 2 } else { 1 };
        loop {
            let n = s.read(&mut buf).expect("read from redis");
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            if complete_replies(&reply) >= replies {
                break;
            }
        }
        let text = String::from_utf8_lossy(&reply).into_owned();
        if self.password.is_some() {
            // Drop the AUTH reply.
            text.split_once("\r\n")
                .map(|(_, r)| r.to_string())
                .unwrap_or(text)
        } else {
            text
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).into_bytes());
        out.extend(a.as_bytes());
        out.extend(b"\r\n");
    }
    out
}

/// How many complete RESP2 replies `buf` holds (enough for the replies tests read).
fn complete_replies(buf: &[u8]) -> usize {
    fn one(buf: &[u8]) -> Option<usize> {
        let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
        let head = std::str::from_utf8(&buf[1..line_end]).ok()?;
        let after = line_end + 2;
        match buf.first()? {
            b'+' | b'-' | b':' => Some(after),
            b'$' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let end = after + n as usize + 2;
                (buf.len() >= end).then_some(end)
            }
            b'*' => {
                let n: i64 = head.parse().ok()?;
                let mut pos = after;
                for _ in 0..n.max(0) {
                    pos += one(&buf[pos..])?;
                }
                Some(pos)
            }
            _ => None,
        }
    }
    let mut count = 0;
    let mut pos = 0;
    while pos < buf.len() {
        match one(&buf[pos..]) {
            Some(n) => {
                pos += n;
                count += 1;
            }
            None => break,
        }
    }
    count
}

/// Whether something answers `PING` on the port (any reply, `-NOAUTH` included).
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_millis(500))).ok();
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
