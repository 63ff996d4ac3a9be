//! Who may call what: bearer tokens of two roles, compared in constant time, and the guard
//! every API request passes (query size, token, role, and the Host check of token-less mode).
//!
//! | configured | no `Authorization` | wrong token | `read` token | `admin` token |
//! |---|---|---|---|---|
//! | tokens | 401 | 401 | reads; deleting endpoints 403 | everything |
//! | none (loopback only) | reads; deleting endpoints 403 | 401 | — | — |
//!
//! A deleting endpoint is any method but `GET`/`HEAD`. Tokens are kept as SHA-256 digests; a
//! presented token is hashed and compared with every digest of both roles with
//! [`subtle`]'s constant-time equality, without stopping at a match, so neither the time nor
//! the order of the lists tells anything about a token. Tokens are never logged.
//!
//! Token-less mode answers only requests whose `Host` is a loopback name or address, so a web
//! page elsewhere cannot reach it through DNS rebinding.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use deeper_cache_actors::AdminConfig;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Statistics, health, namespaces, keys, entry metadata.
    Read,
    /// Also delete, delete by pattern, clear, purge expired.
    Admin,
}

impl Role {
    /// `read` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }
}

/// The caller of one request, as the guard established it (a request extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub(crate) role: Role,
    /// The peer's address, when the server provides it (the standalone listener does).
    pub(crate) peer: Option<SocketAddr>,
}

impl Caller {
    /// The peer as logged: its address, or `-`.
    pub(crate) fn peer(&self) -> String {
        self.peer.map_or_else(|| "-".into(), |p| p.to_string())
    }
}

/// The configured tokens, as digests.
pub(crate) struct Tokens {
    read: Vec<[u8; 32]>,
    admin: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("read", &self.read.len())
            .field("admin", &self.admin.len())
            .finish()
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Tokens {
    pub(crate) fn new(config: &AdminConfig) -> Tokens {
        Tokens {
            read: config
                .read_tokens
                .expose()
                .map(|t| digest(t.as_bytes()))
                .collect(),
            admin: config
                .admin_tokens
                .expose()
                .map(|t| digest(t.as_bytes()))
                .collect(),
        }
    }

    /// Whether no token is configured (token-less, read-only loopback mode).
    pub(crate) fn is_open(&self) -> bool {
        self.read.is_empty() && self.admin.is_empty()
    }

    /// The role a presented token grants, if any. Every digest is compared, whatever matches.
    pub(crate) fn role_of(&self, presented: &[u8]) -> Option<Role> {
        let d = digest(presented);
        let any = |list: &[[u8; 32]]| {
            list.iter()
                .fold(subtle::Choice::from(0), |acc, t| acc | t.ct_eq(&d))
        };
        let (read, admin) = (any(&self.read), any(&self.admin));
        if bool::from(admin) {
            Some(Role::Admin)
        } else if bool::from(read) {
            Some(Role::Read)
        } else {
            None
        }
    }
}

/// Whether `host` (a `Host` header) names this machine: `localhost`, a 127.0.0.0/8 address or
/// `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The guard of every `/api/v1` request but the health probes: query size, then who is
/// calling, then whether that role may use this method.
pub(crate) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match admit(&state, &request) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

fn admit(state: &AppState, request: &Request) -> Result<Caller, ApiError> {
    check_query(state, request)?;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let presented = match request.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(
            v.as_bytes()
                .strip_prefix(b"Bearer ")
                .map(|t| t.trim_ascii())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
                })?,
        ),
    };
    let tokens = &state.tokens;
    let role = match presented {
        Some(t) => tokens
            .role_of(t)
            .ok_or_else(|| ApiError::unauthorized("the token is not valid"))?,
        None if tokens.is_open() => {
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            if !is_loopback_host(host) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "without tokens the admin interface answers only requests to a loopback host name (localhost, 127.0.0.1, [::1])",
                ));
            }
            Role::Read
        }
        None => {
            return Err(ApiError::unauthorized(
                "a bearer token is required (Authorization: Bearer <token>)",
            ));
        }
    };
    let needs = if matches!(*request.method(), Method::GET | Method::HEAD) {
        Role::Read
    } else {
        Role::Admin
    };
    if role < needs {
        let why = if tokens.admin.is_empty() {
            "this endpoint needs an admin token, and none is configured (admin.admin_tokens)"
        } else {
            "this endpoint needs an admin token; this one has the read role"
        };
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", why));
    }
    Ok(Caller { role, peer })
}

/// Refuses a query string longer than `admin.max_query_bytes` (414).
pub(crate) fn check_query(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let len = request.uri().query().map_or(0, str::len);
    if len > state.config.max_query_bytes {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "query_too_long",
            format!(
                "the query string is {len} bytes; the limit is {} (admin.max_query_bytes)",
                state.config.max_query_bytes
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_token() {
        let config = AdminConfig {
            read_tokens: deeper_cache_actors::Tokens::new(["r".repeat(16), "s".repeat(20)]),
            admin_tokens: deeper_cache_actors::Tokens::new(["a".repeat(32)]),
            ..AdminConfig::default()
        };
        let t = Tokens::new(&config);
        assert!(!t.is_open());
        assert_eq!(t.role_of("r".repeat(16).as_bytes()), Some(Role::Read));
        assert_eq!(t.role_of("s".repeat(20).as_bytes()), Some(Role::Read));
        assert_eq!(t.role_of("a".repeat(32).as_bytes()), Some(Role::Admin));
        assert_eq!(t.role_of("a".repeat(31).as_bytes()), None);
        assert_eq!(t.role_of(b""), None);
        assert!(!format!("{t:?}").contains("rrrr"));
        assert!(Tokens::new(&AdminConfig::default()).is_open());
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST:9569",
            "127.0.0.1",
            "127.0.0.1:80",
            "127.1.2.3:1",
            "[::1]",
            "[::1]:9569",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "",
            "evil.example",
            "evil.example:9569",
            "10.0.0.1",
            "localhost.evil.example",
            "[::2]:1",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
