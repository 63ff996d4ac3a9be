//! Error responses: every failure is JSON `{"error": text, "kind": name}` with the status that
//! says what to do about it. Bad input (a key, namespace, pattern, cursor or page size the
//! cache refuses) is a 400 carrying the cache's own error text.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use deeper_cache_actors::CacheError;
use serde::Serialize;

/// A failed API call.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    kind: &'a str,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        let (status, kind) = match &e {
            CacheError::InvalidKey { .. } => (StatusCode::BAD_REQUEST, "invalid_key"),
            CacheError::InvalidNamespace { .. } => (StatusCode::BAD_REQUEST, "invalid_namespace"),
            CacheError::InvalidPattern { .. } => (StatusCode::BAD_REQUEST, "invalid_pattern"),
            CacheError::InvalidCursor { .. } => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            CacheError::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            CacheError::Unavailable { .. } | CacheError::BackendUnavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            CacheError::ShutDown => (StatusCode::SERVICE_UNAVAILABLE, "shut_down"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, kind, e.to_string())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than admin.max_body_bytes",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON (Content-Type: application/json)",
            ),
            _ => ApiError::bad_request(e.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(Body {
            error: &self.message,
            kind: self.kind,
        });
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"deeper-cache admin\""),
            );
        }
        response
    }
}
