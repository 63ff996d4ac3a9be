//! The web page: three files embedded in the binary (`page/index.html`, `page/app.css`,
//! `page/app.js`), plain HTML, CSS and JavaScript with no build step and nothing fetched from
//! elsewhere. The page and its script find their files and the JSON API by relative URLs, so
//! they work wherever the router is mounted.

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{HeaderValue, header};
use axum::response::Response;

const INDEX: &str = include_str!("page/index.html");
const CSS: &str = include_str!("page/app.css");
const JS: &str = include_str!("page/app.js");

/// What the page may load: its own files and API, nothing else; no framing.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

fn asset(body: impl Into<Body>, content_type: &'static str) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r
}

/// The page. Its asset URLs are relative; when it is served at a path without a trailing
/// slash (`/cache-admin` of a router nested there), they are prefixed with the last segment
/// so that they still resolve under the mount point. The script finds the API next to itself.
pub(crate) async fn index(OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    if path.ends_with('/') {
        return asset(INDEX, "text/html; charset=utf-8");
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let html = INDEX.replace("=\"assets/", &format!("=\"{last}/assets/"));
    asset(html, "text/html; charset=utf-8")
}

pub(crate) async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub(crate) async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}
