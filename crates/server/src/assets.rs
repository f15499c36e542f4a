//! The dashboard, compiled into the binary from `web/`: nothing is fetched
//! from anywhere but this server (the Socket.IO client is vendored under
//! `web/vendor/`). Pages get a strict Content-Security-Policy.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

const INDEX: &str = include_str!("../../../web/index.html");

const ASSETS: &[Asset] = &[
    Asset { name: "app.js", mime: "text/javascript; charset=utf-8", body: include_str!("../../../web/app.js") },
    Asset { name: "style.css", mime: "text/css; charset=utf-8", body: include_str!("../../../web/style.css") },
    Asset {
        name: "socket.io.min.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../../web/vendor/socket.io.min.js"),
    },
    Asset { name: "favicon.svg", mime: "image/svg+xml", body: include_str!("../../../web/favicon.svg") },
];

/// The page's policy: own scripts, styles and sockets only; images from
/// this page's blobs (the equalized result) too.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`: the dashboard.
pub async fn index() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /assets/{file}`: the dashboard's scripts, styles and icon.
pub async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => {
            ([(header::CONTENT_TYPE, asset.mime), (header::CACHE_CONTROL, "no-cache")], asset.body).into_response()
        }
        None => ApiError::not_found("no such asset").into_response(),
    }
}
