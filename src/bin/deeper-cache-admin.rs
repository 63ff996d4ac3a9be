//! `deeper-cache-admin`: the admin command-line client (cargo feature `admin`). It speaks the
//! admin interface's JSON API (`deeper_cache::admin`) over HTTP, so it reaches a cache in any
//! process that serves it: statistics, namespaces, keys page by page, one entry's metadata,
//! and the deleting calls (which need an `admin` token).
//!
//! ```text
//! export DEEPER_CACHE_ADMIN_TOKEN=...            # or --token; never printed
//! deeper-cache-admin --url http://127.0.0.1:9569 stats
//! deeper-cache-admin keys users 'user:*' --all
//! deeper-cache-admin inspect users user:42
//! deeper-cache-admin del users user:42
//! deeper-cache-admin del-pattern users 'session:*' --yes
//! deeper-cache-admin watch --interval 2
//! ```
//!
//! Exit codes: 0 done; 1 the server failed (5xx other than 503) or answered unexpectedly;
//! 2 bad usage or input the server refused (400, 413, 414, 415); 3 not found (`inspect` or
//! `del` of an absent key); 4 not allowed (401 no or wrong token, 403 a read token on a
//! deleting command); 5 the admin interface or the cache is unreachable (connection refused,
//! timeout, 503).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

/// Talk to a deeper-cache admin interface.
#[derive(Debug, Parser)]
#[command(name = "deeper-cache-admin", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 server error, 2 usage or input refused (400), \
                        3 not found, 4 unauthorized/forbidden (401/403), 5 unreachable (or 503)."
)]
struct Cli {
    /// Base URL of the admin interface (where its page is served).
    #[arg(
        long,
        env = "DEEPER_CACHE_ADMIN_URL",
        default_value = "http://127.0.0.1:9569"
    )]
    url: String,
    /// Bearer token (a `read` token reads, an `admin` token may also delete). Prefer the
    /// environment variable: a flag shows in the process list.
    #[arg(long, env = "DEEPER_CACHE_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the server's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Statistics per namespace: items, bytes, hits, misses, hit ratio, evictions.
    Stats,
    /// Liveness and readiness: tree, backend, breaker, restarts.
    Health,
    /// The namespaces the backend holds and their key counts.
    Namespaces,
    /// Keys of a namespace matching a Redis glob, one page (or all pages with --all).
    Keys {
        /// Namespace (`default` for the root namespace).
        ns: String,
        /// Glob (`user:*`, `item:?`, `[ab]*`); every key when absent.
        pattern: Option<String>,
        /// Keys per page (the server caps it at admin.max_page_size).
        #[arg(long)]
        limit: Option<usize>,
        /// Continue from the cursor a previous page printed.
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Walk every page.
        #[arg(long)]
        all: bool,
    },
    /// One entry's metadata (kind, size, remaining TTL; its value if the server shows values).
    Inspect {
        /// Namespace.
        ns: String,
        /// Key.
        key: String,
    },
    /// Delete one key (admin token).
    Del {
        /// Namespace.
        ns: String,
        /// Key.
        key: String,
    },
    /// Delete every key of a namespace matching a glob (admin token).
    DelPattern {
        /// Namespace.
        ns: String,
        /// Glob.
        pattern: String,
        /// Confirm: without it nothing is deleted.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Remove every entry of one namespace (admin token).
    Clear {
        /// Namespace.
        ns: String,
        /// Confirm: without it nothing is deleted.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Remove expired entries now (admin token).
    Purge,
    /// Statistics refreshed in the terminal until interrupted.
    Watch {
        /// Seconds between refreshes.
        #[arg(long, default_value_t = 2.0)]
        interval: f64,
        /// Stop after this many refreshes (default: until Ctrl-C).
        #[arg(long)]
        count: Option<u64>,
    },
}

/// A failure and the exit code that tells a script what kind it was.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

const NOT_FOUND: u8 = 3;

/// The HTTP side: one agent, the base URL, the token.
struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(cli: &Cli) -> Result<Client, Failure> {
        let base = cli.url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(Failure::new(
                2,
                format!(
                    "--url must be an http:// URL (the admin listener speaks plain HTTP; reach a remote one through TLS termination on a local port or an SSH tunnel), got {base:?}"
                ),
            ));
        }
        if !(cli.timeout.is_finite() && cli.timeout > 0.0) {
            return Err(Failure::new(
                2,
                "--timeout must be a positive number of seconds",
            ));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs_f64(cli.timeout)))
            .build()
            .into();
        Ok(Client {
            agent,
            base,
            token: cli.token.clone().filter(|t| !t.trim().is_empty()),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    /// Sends a request built by `build` and returns the JSON answer, or the failure.
    fn send(
        &self,
        what: &str,
        build: impl FnOnce(&ureq::Agent, &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        path: &str,
    ) -> Result<Value, Failure> {
        let response = build(&self.agent, &self.url(path)).map_err(|e| {
            Failure::new(
                5,
                format!("cannot reach the admin interface at {}: {e}", self.base),
            )
        })?;
        let status = response.status().as_u16();
        let mut response = response;
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let text = body
            .get("error")
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {status}"), str::to_string);
        let code = match status {
            400 | 413 | 414 | 415 => 2,
            404 => NOT_FOUND,
            401 | 403 => 4,
            503 => 5,
            _ => 1,
        };
        let hint = match status {
            401 if self.token.is_none() => " (set DEEPER_CACHE_ADMIN_TOKEN or pass --token)",
            403 => " (use an admin token for deleting commands)",
            _ => "",
        };
        Err(Failure::new(
            code,
            format!("{what}: {text}{hint} (HTTP {status})"),
        ))
    }

    fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => r.header("Authorization", format!("Bearer {}", t.trim())),
            None => r,
        }
    }

    fn get(&self, what: &str, path: &str, query: &[(&str, &str)]) -> Result<Value, Failure> {
        self.send(
            what,
            |a, url| {
                let mut r = self.auth(a.get(url));
                for (k, v) in query {
                    r = r.query(*k, *v);
                }
                r.call()
            },
            path,
        )
    }

    fn delete(&self, what: &str, path: &str, query: &[(&str, &str)]) -> Result<Value, Failure> {
        self.send(
            what,
            |a, url| {
                let mut r = self.auth(a.delete(url));
                for (k, v) in query {
                    r = r.query(*k, *v);
                }
                r.call()
            },
            path,
        )
    }

    fn post(&self, what: &str, path: &str, body: &Value) -> Result<Value, Failure> {
        self.send(what, |a, url| self.auth(a.post(url)).send_json(body), path)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("deeper-cache-admin: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let client = Client::new(cli)?;
    let out = &mut std::io::stdout().lock();
    match &cli.command {
        Command::Stats => {
            let stats = client.get("stats", "stats", &[])?;
            if cli.json {
                return print_json(out, &stats);
            }
            let sup = client.get("supervisor", "supervisor", &[])?;
            emit(out, &stats_text(&stats, &sup))
        }
        Command::Health => {
            let health = client.get("health", "health", &[])?;
            if cli.json {
                return print_json(out, &health);
            }
            let mut s = String::new();
            for k in [
                "live",
                "ready",
                "backend",
                "backend_reachable",
                "backend_error",
                "breaker",
                "tracking_live",
                "children_up",
                "children",
                "restarts",
            ] {
                let v = health.get(k).unwrap_or(&Value::Null);
                if !v.is_null() {
                    let _ = writeln!(s, "{k:<18} {}", plain(v));
                }
            }
            emit(out, &s)?;
            if health.get("ready") == Some(&Value::Bool(true)) {
                Ok(())
            } else {
                Err(Failure::new(5, "the cache is not ready"))
            }
        }
        Command::Namespaces => {
            let list = client.get("namespaces", "namespaces", &[])?;
            if cli.json {
                return print_json(out, &list);
            }
            let mut s = format!("{:<32} {:>12}\n", "NAMESPACE", "KEYS");
            for n in list["namespaces"].as_array().into_iter().flatten() {
                let _ = writeln!(s, "{:<32} {:>12}", plain(&n["name"]), plain(&n["keys"]));
            }
            if list["complete"] == Value::Bool(false) {
                s.push_str("(partial: the listing stopped at admin.namespace_scan_limit keys)\n");
            }
            emit(out, &s)
        }
        Command::Keys {
            ns,
            pattern,
            limit,
            cursor,
            all,
        } => keys(
            &client,
            cli.json,
            out,
            ns,
            pattern.as_deref(),
            *limit,
            cursor.clone(),
            *all,
        ),
        Command::Inspect { ns, key } => {
            let entry = client.get("inspect", "entry", &[("ns", ns), ("key", key)])?;
            if cli.json {
                return print_json(out, &entry);
            }
            let mut s = String::new();
            for k in ["namespace", "key", "kind", "size", "members", "ttl_ms"] {
                let v = &entry[k];
                let shown = match (k, v) {
                    ("ttl_ms", Value::Null) => "never".to_string(),
                    (_, Value::Null) => continue,
                    _ => plain(v),
                };
                let _ = writeln!(s, "{k:<10} {shown}");
            }
            if let Some(l1) = entry.get("l1").filter(|v| !v.is_null()) {
                let _ = writeln!(
                    s,
                    "{:<10} held={} ttl_ms={} tracking={}",
                    "l1",
                    plain(&l1["held"]),
                    plain(&l1["ttl_ms"]),
                    plain(&l1["tracking"])
                );
            }
            if let Some(v) = entry["value"].as_str() {
                let cut = if entry["value_truncated"] == Value::Bool(true) {
                    " (truncated)"
                } else {
                    ""
                };
                let _ = writeln!(s, "{:<10} {v}{cut}", "value");
            }
            emit(out, &s)
        }
        Command::Del { ns, key } => {
            let r = client.delete("del", "entry", &[("ns", ns), ("key", key)])?;
            if cli.json {
                print_json(out, &r)?;
            }
            if r["deleted"] == Value::Bool(true) {
                if !cli.json {
                    emit(out, &format!("deleted {key} from {ns}\n"))?;
                }
                Ok(())
            } else {
                Err(Failure::new(
                    NOT_FOUND,
                    format!("no key {key:?} in namespace {ns:?}"),
                ))
            }
        }
        Command::DelPattern { ns, pattern, yes } => {
            if !yes {
                return Err(Failure::new(
                    2,
                    format!(
                        "refusing to delete the keys of {ns:?} matching {pattern:?} without --yes"
                    ),
                ));
            }
            let body = serde_json::json!({ "ns": ns, "pattern": pattern });
            let r = client.post("del-pattern", "delete-pattern", &body)?;
            removed(out, cli.json, &r, &format!("matching {pattern} in {ns}"))
        }
        Command::Clear { ns, yes } => {
            if !yes {
                return Err(Failure::new(
                    2,
                    format!("refusing to clear namespace {ns:?} without --yes"),
                ));
            }
            let r = client.post("clear", "clear", &serde_json::json!({ "ns": ns }))?;
            removed(out, cli.json, &r, &format!("from {ns}"))
        }
        Command::Purge => {
            let r = client.post("purge", "purge-expired", &serde_json::json!({}))?;
            removed(out, cli.json, &r, "expired")
        }
        Command::Watch { interval, count } => {
            if !(interval.is_finite() && *interval >= 0.1) {
                return Err(Failure::new(2, "--interval must be at least 0.1 seconds"));
            }
            let mut n = 0u64;
            loop {
                let stats = client.get("stats", "stats", &[])?;
                if cli.json {
                    emit(out, &format!("{stats}\n"))?;
                } else {
                    let sup = client.get("supervisor", "supervisor", &[])?;
                    let now = chrono_free_now();
                    // Clear the screen and go home, like `watch`.
                    emit(
                        out,
                        &format!(
                            "\x1b[2J\x1b[H{now}  every {interval}s\n\n{}",
                            stats_text(&stats, &sup)
                        ),
                    )?;
                }
                n += 1;
                if count.is_some_and(|c| n >= c) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_secs_f64(*interval));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn keys(
    client: &Client,
    json: bool,
    out: &mut impl std::io::Write,
    ns: &str,
    pattern: Option<&str>,
    limit: Option<usize>,
    mut cursor: Option<String>,
    all: bool,
) -> Result<(), Failure> {
    let limit = limit.map(|l| l.to_string());
    loop {
        let mut q: Vec<(&str, &str)> = vec![("ns", ns)];
        if let Some(p) = pattern {
            q.push(("pattern", p));
        }
        if let Some(l) = &limit {
            q.push(("limit", l));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let page = client.get("keys", "keys", &q)?;
        let next = page["cursor"].as_str().map(str::to_string);
        if json {
            emit(out, &format!("{page}\n"))?;
        } else {
            let mut s = String::new();
            for k in page["keys"].as_array().into_iter().flatten() {
                s.push_str(k.as_str().unwrap_or_default());
                s.push('\n');
            }
            emit(out, &s)?;
        }
        match next {
            Some(c) if all => cursor = Some(c),
            Some(c) => {
                if !json {
                    eprintln!("more keys: add --cursor {c} (or use --all)");
                }
                return Ok(());
            }
            None => return Ok(()),
        }
    }
}

fn removed(
    out: &mut impl std::io::Write,
    json: bool,
    r: &Value,
    what: &str,
) -> Result<(), Failure> {
    if json {
        return print_json(out, r);
    }
    emit(out, &format!("removed {} {what}\n", plain(&r["removed"])))
}

fn stats_text(stats: &Value, sup: &Value) -> String {
    let mut s = format!(
        "cache {}  backend {}  restarts {}\n\n",
        plain(&stats["cache"]),
        plain(&stats["backend"]),
        plain(&sup["restarts"])
    );
    let _ = writeln!(
        s,
        "{:<24} {:>10} {:>12} {:>10} {:>10} {:>7} {:>10} {:>7}",
        "NAMESPACE", "ITEMS", "BYTES", "HITS", "MISSES", "HIT%", "EVICTIONS", "ERRORS"
    );
    let row = |s: &mut String, name: &str, n: &Value| {
        let ev = &n["evictions"];
        let evictions: u64 = ["ttl", "manual", "lru", "lfu", "capacity"]
            .iter()
            .filter_map(|k| ev[*k].as_u64())
            .sum();
        let (h, m) = (
            n["hits"].as_u64().unwrap_or(0),
            n["misses"].as_u64().unwrap_or(0),
        );
        let ratio = if h + m == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", n["hit_ratio"].as_f64().unwrap_or(0.0) * 100.0)
        };
        let _ = writeln!(
            s,
            "{:<24} {:>10} {:>12} {:>10} {:>10} {:>7} {:>10} {:>7}",
            name,
            plain(&n["items"]),
            plain(&n["bytes"]),
            h,
            m,
            ratio,
            evictions,
            plain(&n["errors"])
        );
    };
    if let Some(map) = stats["namespaces"].as_object() {
        for (name, n) in map {
            row(&mut s, name, n);
        }
    }
    row(&mut s, "(total)", &stats["total"]);
    s
}

/// A JSON scalar as plain text (strings without quotes).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn print_json(out: &mut impl std::io::Write, v: &Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    emit(out, &format!("{text}\n"))
}

fn emit(out: &mut impl std::io::Write, text: &str) -> Result<(), Failure> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(1, format!("cannot write the output: {e}")))
}

/// Seconds since the Unix epoch as UTC `HH:MM:SS` (no date crate needed for a clock).
fn chrono_free_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}
