//! The admin page in a real headless browser: Debian's `chromium`, driven over WebDriver by
//! `chromedriver` (both installed by `.ci/run`; a missing binary fails with an install hint,
//! never a skip, and nothing is downloaded at run time).
//!
//! A memory cache runs a workload; the test loads the page, connects with a token typed into
//! the token field (submitted with Enter), sees the namespaces and counts, searches a
//! pattern, opens an entry (metadata, no value), deletes one key through the confirmation
//! dialog and watches the count drop, cancels a bulk delete with Escape, checks the read role
//! hides the deleting buttons, and checks the layout at 1280 px and at a phone's 390 px.
//! Screenshots of the whole page go to `target/admin-screenshots/` (`admin-page-1280.png`,
//! `admin-page-390.png`; `admin-page-failure.png` when the test fails).
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::Cache;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::admin::{ADMIN, READ, memory_cache};

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

fn binary(env: &str, default: &str, package: &str) -> String {
    let path = std::env::var(env).unwrap_or_else(|_| default.to_string());
    assert!(
        Path::new(&path).exists(),
        "`{path}` is missing. The admin page test drives a real headless browser and never \
         skips: install it with `apt-get update && apt-get install -y chromium chromium-driver` \
         (Debian/Ubuntu; package {package}), or set {env} to its path. `bash .ci/run` installs \
         both when they are missing."
    );
    path
}

/// A `chromedriver` on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let bin = binary("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        let dir = tempfile::tempdir().unwrap();
        let port = support::redis_server::free_port();
        let log = std::fs::File::create(dir.path().join("chromedriver.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let chromium = binary("CHROMIUM", "/usr/bin/chromium", "chromium");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run", "--hide-scrollbars",
                "--window-size=1280,1000", "--force-device-scale-factor=1",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session on headless chromium")
}

/// Evaluates `script` (a function body) until it returns `expected`.
async fn until(c: &Client, what: &str, script: &str, expected: Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = c.execute(script, vec![]).await.expect("script runs");
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: expected {expected}, last saw {last}");
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

fn items_of(ns: &str) -> String {
    format!(
        "const td = document.querySelector('#ns-table tr[data-ns=\"{ns}\"] td[data-field=\"items\"]'); \
         return td ? td.textContent : null;"
    )
}

/// Elements that stick out of the viewport on the right (the page would scroll sideways);
/// wide tables scroll inside their own box and do not count.
const OVERFLOW: &str = "return [...document.querySelectorAll('body *')]
    .filter(e => !e.closest('.table-wrap') && e.getClientRects().length > 0
        && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))
    .concat(document.documentElement.scrollWidth > document.documentElement.clientWidth + 1
        ? ['(document ' + document.documentElement.scrollWidth + ' px wide in '
           + document.documentElement.clientWidth + ' px; widest: '
           + [...document.querySelectorAll('body *')].sort((a, b) => b.scrollWidth - a.scrollWidth).slice(0, 4)
               .map(e => e.tagName.toLowerCase() + '#' + e.id + '.' + e.className + ' ' + e.scrollWidth + '/' + Math.round(e.getBoundingClientRect().right)).join(', ') + ')']
        : []);";

/// A screenshot of the whole page at `width` px: the window is made as tall as the page.
async fn full_page(c: &Client, width: u32, path: &Path) {
    c.set_window_size(width, 1000).await.unwrap();
    let height = js(
        c,
        "window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
    )
    .await
    .as_u64()
    .unwrap_or(1000)
    .clamp(600, 6000);
    // The window's height includes the browser's frame; leave room for it.
    c.set_window_size(width, u32::try_from(height).unwrap() + 140)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(path, c.screenshot().await.unwrap()).unwrap();
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/")
        .join("admin-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn text_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

async fn shown(c: &Client, id: &str) -> bool {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
}

async fn dialog_open(c: &Client, open: bool) {
    let script = "return document.getElementById('confirm').open;";
    until(c, "the confirmation dialog", script, json!(open)).await;
}

/// The text of the entry's metadata field `field` (`kind`, `key`, ...).
fn entry_field(field: &str) -> String {
    format!(
        "const dd = document.querySelector('#entry-meta dd[data-field=\"{field}\"]'); \
         return dd ? dd.textContent : null;"
    )
}

/// Types `token` into the token field and presses Enter (keyboard only).
async fn connect_with(c: &Client, token: &str) {
    let field = c.find(Locator::Id("token")).await.unwrap();
    field.send_keys(token).await.unwrap();
    field.send_keys(ENTER).await.unwrap();
}

async fn scenario(c: Client, cache: Cache, base: String) {
    let users = cache.namespace("users").unwrap();
    c.goto(&base).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "deeper-cache admin");
    // Without a token the page asks for one.
    let asks =
        "return document.getElementById('auth-status').textContent.includes('enter a token');";
    until(&c, "the page asks for a token", asks, json!(true)).await;
    assert!(!shown(&c, "overview").await);

    connect_with(&c, ADMIN).await;
    until(&c, "users row", &items_of("users"), json!("200")).await;
    until(&c, "sessions row", &items_of("sessions"), json!("40")).await;
    let identity = text_of(&c, "identity").await;
    assert!(identity.contains("role admin"), "{identity}");
    let health = "return document.getElementById('health').textContent;";
    until(&c, "health pill", health, json!("health: ready")).await;
    // The token is in no storage and not in the URL.
    let stored = "return localStorage.length + sessionStorage.length + document.cookie.length;";
    assert_eq!(js(&c, stored).await, json!(0));
    assert!(!c.current_url().await.unwrap().as_str().contains(ADMIN));

    // Accessibility basics: every input has a label, nothing overflows at 1280 px.
    let unlabelled = "return [...document.querySelectorAll('input')]
        .filter(i => i.labels.length === 0).map(i => i.id);";
    assert_eq!(js(&c, unlabelled).await, json!([]));
    until(&c, "no horizontal overflow at 1280 px", OVERFLOW, json!([])).await;

    // Search a pattern in a namespace.
    let ns = c.find(Locator::Id("browse-ns")).await.unwrap();
    ns.clear().await.unwrap();
    ns.send_keys("users").await.unwrap();
    let pattern = c.find(Locator::Id("pattern")).await.unwrap();
    pattern.send_keys("user:01*").await.unwrap();
    click(&c, "#search").await;
    let listed = "return [...document.querySelectorAll('#keys button')]
        .map(b => b.dataset.key).sort().join(',');";
    let ten: Vec<String> = (10..20).map(|i| format!("user:0{i}")).collect();
    until(&c, "ten keys match user:01*", listed, json!(ten.join(","))).await;

    // Open one entry: metadata, no value (admin.show_values is off).
    click(&c, "#keys button[data-key=\"user:015\"]").await;
    until(&c, "entry metadata", &entry_field("kind"), json!("value")).await;
    let meta = text_of(&c, "entry-meta").await;
    assert!(meta.contains("user:015") && meta.contains("TTL"), "{meta}");
    assert!(!shown(&c, "entry-value").await);
    let source = c.source().await.unwrap();
    assert!(!source.contains("secret-value"), "a value reached the page");

    // A bulk delete asks first; Escape cancels it and nothing goes.
    click(&c, "#delete-pattern").await;
    dialog_open(&c, true).await;
    let text = text_of(&c, "confirm-text").await;
    assert!(
        text.contains("user:01*") && text.contains("users"),
        "{text}"
    );
    let focused = c.active_element().await.unwrap();
    focused.send_keys(ESCAPE).await.unwrap();
    dialog_open(&c, false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kept = users.get::<String>("user:012").await.unwrap();
    assert!(kept.is_some(), "the cancelled delete removed nothing");

    // Delete the key, confirm, and watch the count drop.
    click(&c, "#delete-key").await;
    dialog_open(&c, true).await;
    click(&c, "#confirm-ok").await;
    until(&c, "users count drops", &items_of("users"), json!("199")).await;
    assert_eq!(users.get::<String>("user:015").await.unwrap(), None);
    let count = "return document.querySelectorAll('#keys button').length;";
    until(&c, "the key left the list", count, json!(9)).await;
    let toast = "return document.getElementById('toast').textContent;";
    until(&c, "toast", toast, json!("Deleted user:015.")).await;

    // The hit-ratio chart fills as the page refreshes (every second with ?refresh=1).
    let points = "return Number(document.getElementById('chart').dataset.points || 0) >= 6;";
    until(&c, "chart points", points, json!(true)).await;
    let summary = text_of(&c, "chart-summary").await;
    assert!(summary.starts_with("Latest interval: "), "{summary}");
    // For the screenshots: an entry open.
    click(&c, "#keys button[data-key=\"user:012\"]").await;
    until(&c, "entry metadata", &entry_field("key"), json!("user:012")).await;
    let dir = screenshots();
    let wide = dir.join("admin-page-1280.png");
    full_page(&c, 1280, &wide).await;

    // A phone's width: one column, nothing wider than the screen.
    c.set_window_size(390, 844).await.unwrap();
    until(&c, "no horizontal overflow at 390 px", OVERFLOW, json!([])).await;
    let phone = dir.join("admin-page-390.png");
    full_page(&c, 390, &phone).await;
    c.set_window_size(1280, 1000).await.unwrap();

    // The read role: the deleting buttons are gone.
    click(&c, "#disconnect").await;
    connect_with(&c, READ).await;
    let read = "return document.getElementById('identity').textContent.includes('role read');";
    until(&c, "read role", read, json!(true)).await;
    for id in ["delete-pattern", "clear-ns", "purge-expired"] {
        assert!(!shown(&c, id).await, "{id} shown to a read token");
    }
    println!("screenshots: {} and {}", wide.display(), phone.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_headless_chromium() {
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let cache = memory_cache().await;
    let users = cache.namespace("users").unwrap();
    for i in 0..200 {
        users
            .put(&format!("user:{i:03}"), &format!("secret-value-{i}"))
            .await
            .unwrap();
    }
    let sessions = cache.namespace("sessions").unwrap();
    for i in 0..40 {
        sessions.put(&format!("session:{i}"), &i).await.unwrap();
    }
    // A workload for the chart: reads, most of them hits.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (users, stop) = (users.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..20 {
                    let _ = users
                        .get::<String>(&format!("user:{:03}", fastrand::u32(0..240)))
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let base = format!("http://{}/?refresh=1", cache.admin_addr().unwrap());
    let c = browser(&driver, profile.path()).await;
    // The scenario runs as its own task so that the browser is closed even when it fails.
    let outcome = tokio::spawn(scenario(c.clone(), cache.clone(), base)).await;
    if outcome.is_err() {
        let shot = screenshots().join("admin-page-failure.png");
        if let Ok(png) = c.screenshot().await {
            let _ = std::fs::write(&shot, png);
            eprintln!("screenshot of the failure: {}", shot.display());
        }
    }
    let _ = c.close().await;
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    cache.shutdown().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
