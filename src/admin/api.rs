//! The JSON endpoints. Each handler validates through the cache's own facade calls (so a bad
//! key, namespace, pattern or cursor is refused with the cache's error text), calls the
//! cache, and answers JSON. Namespaces and keys travel in the query string or the body, never
//! in the path (a key may be `..` or hold a `/`).
//!
//! Every deleting call is logged at INFO on the `deeper_cache::admin` target: the caller's role
//! and address, what was asked (namespace, key or pattern) and how many entries went. Never a
//! value, never a token.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use deeper_cache_actors::{
    CacheStats, EntryInfo, KeyPage, NamespaceList, SupervisorStatus, TableUsage,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::ApiError;
use crate::browse::Health;
use crate::{Cache, DEFAULT_NAMESPACE};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The namespace a request names, as a handle (`default` when it names none).
fn handle(state: &AppState, ns: Option<&str>) -> Result<Cache, ApiError> {
    Ok(state.cache.namespace(ns.unwrap_or(DEFAULT_NAMESPACE))?)
}

/// What the caller may do and how the interface is set up (the page reads it first).
#[derive(Debug, Serialize)]
pub(crate) struct WhoAmI {
    role: Role,
    cache: String,
    backend: &'static str,
    show_values: bool,
    default_page_size: usize,
    max_page_size: usize,
}

pub(crate) async fn whoami(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<WhoAmI> {
    Json(WhoAmI {
        role: caller.role,
        cache: state.cache.name().to_string(),
        backend: state.cache.service.backend_name(),
        show_values: state.config.show_values,
        default_page_size: state.config.default_page_size,
        max_page_size: state.config.max_page_size,
    })
}

pub(crate) async fn stats(State(state): State<AppState>) -> ApiResult<CacheStats> {
    Ok(Json(state.cache.stats().await?))
}

pub(crate) async fn usage(State(state): State<AppState>) -> ApiResult<TableUsage> {
    Ok(Json(state.cache.usage().await?))
}

pub(crate) async fn supervisor(State(state): State<AppState>) -> ApiResult<SupervisorStatus> {
    Ok(Json(state.cache.supervisor_status().await?))
}

pub(crate) async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(state.cache.health().await)
}

#[derive(Serialize)]
struct Probe {
    status: &'static str,
}

fn probe(ok: bool) -> Response {
    let (status, text) = if ok {
        (StatusCode::OK, "up")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "down")
    };
    (status, Json(Probe { status: text })).into_response()
}

/// Liveness, without a token: 200 while the supervision tree is up, 503 otherwise.
pub(crate) async fn live(State(state): State<AppState>) -> Response {
    let c = &state.cache;
    probe(c.supervisor_status().await.is_ok() && !c.service.is_failed())
}

/// Readiness, without a token: 200 while the tree is up and the backend answers.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    probe(state.cache.health().await.ready)
}

pub(crate) async fn namespaces(State(state): State<AppState>) -> ApiResult<NamespaceList> {
    let _turn = scan_turn(&state).await?;
    Ok(Json(
        state
            .cache
            .namespaces(state.config.namespace_scan_limit)
            .await?,
    ))
}

/// Waits for one of the [`SCANS_AT_ONCE`](super::SCANS_AT_ONCE) permits of a key listing.
async fn scan_turn(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    state.scans.acquire().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shut_down",
            "the admin interface is stopping",
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeysQuery {
    ns: Option<String>,
    pattern: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn keys(
    State(state): State<AppState>,
    query: Result<Query<KeysQuery>, QueryRejection>,
) -> ApiResult<KeyPage> {
    let Query(q) = query?;
    let max = state.config.max_page_size;
    let limit = q.limit.unwrap_or(state.config.default_page_size);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {max} (admin.max_page_size), got {limit}"
        )));
    }
    let ns = handle(&state, q.ns.as_deref())?;
    let pattern = q.pattern.as_deref().filter(|p| !p.is_empty());
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let _turn = scan_turn(&state).await?;
    Ok(Json(ns.keys(pattern, cursor, limit).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryQuery {
    ns: Option<String>,
    key: String,
}

/// One entry: where it is and its metadata.
#[derive(Debug, Serialize)]
pub(crate) struct Entry {
    namespace: String,
    key: String,
    #[serde(flatten)]
    info: EntryInfo,
}

pub(crate) async fn entry(
    State(state): State<AppState>,
    query: Result<Query<EntryQuery>, QueryRejection>,
) -> ApiResult<Entry> {
    let Query(q) = query?;
    let ns = handle(&state, q.ns.as_deref())?;
    let value_bytes = state
        .config
        .show_values
        .then_some(state.config.max_value_bytes);
    match ns.inspect(&q.key, value_bytes).await? {
        Some(info) => Ok(Json(Entry {
            namespace: ns.namespace_name().to_string(),
            key: q.key,
            info,
        })),
        None => Err(ApiError::not_found(format!(
            "no live entry at key {:?} in namespace {:?}",
            q.key,
            ns.namespace_name()
        ))),
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Deleted {
    deleted: bool,
}

pub(crate) async fn delete_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<EntryQuery>, QueryRejection>,
) -> ApiResult<Deleted> {
    let Query(q) = query?;
    let ns = handle(&state, q.ns.as_deref())?;
    let deleted = ns.delete(&q.key).await?;
    tracing::info!(
        target: "deeper_cache::admin",
        role = caller.role.as_str(),
        peer = %caller.peer(),
        action = "delete",
        namespace = ns.namespace_name(),
        key = %q.key,
        removed = u64::from(deleted),
        "admin call"
    );
    Ok(Json(Deleted { deleted }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatternBody {
    ns: Option<String>,
    pattern: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Removed {
    removed: u64,
}

pub(crate) async fn delete_pattern(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PatternBody>, JsonRejection>,
) -> ApiResult<Removed> {
    let Json(b) = body?;
    let ns = handle(&state, b.ns.as_deref())?;
    let removed = ns.delete_pattern(&b.pattern).await?;
    tracing::info!(
        target: "deeper_cache::admin",
        role = caller.role.as_str(),
        peer = %caller.peer(),
        action = "delete_pattern",
        namespace = ns.namespace_name(),
        pattern = %b.pattern,
        removed,
        "admin call"
    );
    Ok(Json(Removed { removed }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClearBody {
    ns: String,
}

pub(crate) async fn clear(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ClearBody>, JsonRejection>,
) -> ApiResult<Removed> {
    let Json(b) = body?;
    // A handle from `namespace()` clears only its namespace, `default` included.
    let ns = state.cache.namespace(&b.ns)?;
    let removed = ns.clear().await?;
    tracing::info!(
        target: "deeper_cache::admin",
        role = caller.role.as_str(),
        peer = %caller.peer(),
        action = "clear",
        namespace = ns.namespace_name(),
        removed,
        "admin call"
    );
    Ok(Json(Removed { removed }))
}

pub(crate) async fn purge_expired(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Removed> {
    let removed = state.cache.purge_expired().await?;
    tracing::info!(
        target: "deeper_cache::admin",
        role = caller.role.as_str(),
        peer = %caller.peer(),
        action = "purge_expired",
        removed,
        "admin call"
    );
    Ok(Json(Removed { removed }))
}

/// Unknown API paths: a JSON 404 like every other error.
pub(crate) async fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no such endpoint; see GET / for the admin page and the README for the API")
}
