//! The admin interface (cargo feature `admin`): a JSON API, a live web page, and the
//! `deeper-cache-admin` command-line client over the same API.
//!
//! Two ways to serve it:
//! - **Standalone**: `admin.enabled = true` (and `admin.listen`, default `127.0.0.1:9569`);
//!   the cache's handles own the listener, [`Cache::admin_addr`] tells where it listens, and
//!   `shutdown()` stops it.
//! - **In your own server**: mount [`router`] (an [`axum::Router`]) under a path of your
//!   choice, for example `app.nest("/cache-admin", router(cache, config)?)`: the page is then
//!   `/cache-admin` and the API `/cache-admin/api/v1/...` (nested at `"/cache-admin/"`, the
//!   page is `/cache-admin/`). The page finds its files and the API by relative URLs.
//!
//! # Endpoints
//! | method | path | role | what |
//! |---|---|---|---|
//! | `GET` | `/` , `/assets/app.css`, `/assets/app.js` | — | the web page |
//! | `GET` | `/api/v1/health/live` | — | 200 `{"status":"up"}` while the tree is up, else 503 |
//! | `GET` | `/api/v1/health/ready` | — | 200 while the tree is up and the backend answers, else 503 |
//! | `GET` | `/api/v1/whoami` | read | the caller's role and the interface's settings |
//! | `GET` | `/api/v1/health` | read | [`Health`](crate::Health): tree, backend reachability, breaker, L1 tracking |
//! | `GET` | `/api/v1/stats` | read | [`CacheStats`](crate::CacheStats): per namespace and total |
//! | `GET` | `/api/v1/usage` | read | [`TableUsage`](crate::TableUsage): the memory table's entries, bytes and removals per namespace (empty on other backends) |
//! | `GET` | `/api/v1/supervisor` | read | [`SupervisorStatus`](crate::SupervisorStatus): children, restarts |
//! | `GET` | `/api/v1/namespaces` | read | [`NamespaceList`](crate::NamespaceList) of the backend |
//! | `GET` | `/api/v1/keys?ns=&pattern=&cursor=&limit=` | read | [`KeyPage`](crate::KeyPage): one page of keys |
//! | `GET` | `/api/v1/entry?ns=&key=` | read | [`EntryInfo`](crate::EntryInfo) with `namespace` and `key`; 404 when absent |
//! | `DELETE` | `/api/v1/entry?ns=&key=` | admin | `{"deleted": bool}` |
//! | `POST` | `/api/v1/delete-pattern` `{"ns","pattern"}` | admin | `{"removed": n}` |
//! | `POST` | `/api/v1/clear` `{"ns"}` | admin | `{"removed": n}`: one namespace |
//! | `POST` | `/api/v1/purge-expired` | admin | `{"removed": n}`: an expiry sweep now |
//!
//! `ns` defaults to `default`; `limit` to `admin.default_page_size` (at most
//! `admin.max_page_size`). Errors are JSON `{"error", "kind"}`: 400 for input the cache
//! refuses (its own error text), 401 without a valid token, 403 for a role that may not,
//! 404, 413 for a body over `admin.max_body_bytes`, 414 for a query string over
//! `admin.max_query_bytes`, 415 for a body that is not JSON, 503 when the cache or its
//! backend cannot answer.
//!
//! # Security
//! Roles, tokens and the token-less mode: see the `auth` table below (`admin/auth.rs`).
//! Values are never shown unless `admin.show_values = true`, and then at most
//! `admin.max_value_bytes` of each. Every deleting call is logged at INFO (role, peer, what,
//! how many). Responses carry `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
//! `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, and the page a strict
//! Content-Security-Policy (its own files only). No CORS headers are sent, so other sites'
//! pages cannot read the API. The listener speaks plain HTTP: on anything but loopback, put
//! it behind TLS (a reverse proxy) or reach it through an SSH tunnel.
//!
//! # Load
//! A memory page reads the whole namespace once (a stateless cursor; `benches/admin.rs` has
//! the figures), on Tokio's blocking pool. At most two key listings (`keys`, `namespaces`)
//! run at once per router; further ones wait, so parallel paging cannot take every core from
//! the data path.
//!
//! | configured | no `Authorization` | wrong token | `read` token | `admin` token |
//! |---|---|---|---|---|
//! | tokens | 401 | 401 | reads; deleting endpoints 403 | everything |
//! | none (loopback only) | reads; deleting endpoints 403 | 401 | — | — |
//!
//! # Layout
//! | file | what |
//! |---|---|
//! | `admin/mod.rs` | [`router`]: the routes and the layers around them |
//! | `admin/auth.rs` | roles, token digests, the guard of every API request |
//! | `admin/api.rs` | the JSON handlers |
//! | `admin/error.rs` | error responses |
//! | `admin/page.rs`, `admin/page/` | the embedded page |
//! | `admin/server.rs` | the standalone listener |

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use deeper_cache_actors::{AdminConfig, CacheResult};

use crate::Cache;

mod api;
mod auth;
mod error;
mod page;
pub(crate) mod server;

pub use auth::Role;
/// The axum version the router is built with (to mount it without a version mismatch).
pub use axum;

/// What every handler reaches: the cache (a copy that does not own the listener), the
/// settings, the token digests.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    cache: Cache,
    config: Arc<AdminConfig>,
    tokens: Arc<auth::Tokens>,
    /// Permits for the calls that walk a namespace or the keyspace (`keys`, `namespaces`):
    /// however many callers page at once, at most [`SCANS_AT_ONCE`] walks run, the others wait.
    scans: Arc<tokio::sync::Semaphore>,
}

/// Key listings (`keys`, `namespaces`) that run at once per router; more wait their turn, so
/// that operators paging a large namespace in parallel cannot take every core from the data
/// path.
pub(crate) const SCANS_AT_ONCE: usize = 2;

/// The admin interface of `cache` as an [`axum::Router`], to mount in the application's own
/// server. `config` is usually `CacheConfig::admin`; its `enabled` and `listen` do not matter
/// here.
///
/// Serve it with connection info (`into_make_service_with_connect_info::<SocketAddr>()`) to
/// have callers' addresses in the log of deleting calls.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use deeper_cache::{AdminConfig, Cache, CacheConfig, Tokens};
///
/// let cache = Cache::start(CacheConfig::default()).await?;
/// let config = AdminConfig {
///     admin_tokens: Tokens::new([std::env::var("CACHE_ADMIN_TOKEN")?]),
///     ..AdminConfig::default()
/// };
/// let app = axum::Router::new().nest("/cache-admin", deeper_cache::admin::router(cache, config)?);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`CacheError::Config`](crate::CacheError::Config) for invalid settings (a malformed token,
/// a page size out of range).
pub fn router(cache: Cache, config: AdminConfig) -> CacheResult<Router> {
    let check = AdminConfig {
        enabled: false,
        ..config.clone()
    };
    check.validate()?;
    let state = AppState {
        cache: cache.without_admin(),
        tokens: Arc::new(auth::Tokens::new(&config)),
        config: Arc::new(config),
        scans: Arc::new(tokio::sync::Semaphore::new(SCANS_AT_ONCE)),
    };
    let guarded = Router::new()
        .route("/whoami", get(api::whoami))
        .route("/health", get(api::health))
        .route("/stats", get(api::stats))
        .route("/usage", get(api::usage))
        .route("/supervisor", get(api::supervisor))
        .route("/namespaces", get(api::namespaces))
        .route("/keys", get(api::keys))
        .route("/entry", get(api::entry).delete(api::delete_entry))
        .route("/delete-pattern", post(api::delete_pattern))
        .route("/clear", post(api::clear))
        .route("/purge-expired", post(api::purge_expired))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::guard));
    let probes = Router::new()
        .route("/health/live", get(api::live))
        .route("/health/ready", get(api::ready));
    let body_limit = state.config.max_body_bytes;
    Ok(Router::new()
        .route("/", get(page::index))
        .route("/assets/app.css", get(page::css))
        .route("/assets/app.js", get(page::js))
        .nest(
            "/api/v1",
            guarded.merge(probes).fallback(api::no_such_endpoint),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(security_headers))
        .with_state(state))
}

/// Headers every response carries: nothing cached, nothing sniffed or framed, no referrer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
