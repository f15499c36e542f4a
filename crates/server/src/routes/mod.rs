//! The HTTP routes, as one table: the router is built from it and the
//! OpenAPI document is checked against it, so the two cannot drift apart.

pub mod api;
pub mod ops;
pub mod upload;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};

use crate::{AppState, assets, openapi};

/// One route of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Its method.
    pub method: Method,
    /// Its path, in axum's syntax (`/api/jobs/{id}`), which is also OpenAPI's.
    pub path: &'static str,
    /// Whether it needs the bearer token.
    pub auth: bool,
}

/// The metrics route, which may be served on a port of its own.
pub const METRICS: &str = "/metrics";

/// Every route with its handler.
pub fn table() -> Vec<(Route, MethodRouter<AppState>)> {
    let route = |method: Method, path, auth| Route { method, path, auth };
    vec![
        // The upload's body limit is enforced by the handler itself (JSON
        // errors, the codec limit), so axum's default 2 MB cap is lifted.
        (route(Method::POST, "/upload", true), post(upload::upload).layer(DefaultBodyLimit::disable())),
        (route(Method::GET, "/api/jobs/{id}", true), get(api::job)),
        (route(Method::GET, "/api/cluster", true), get(api::cluster)),
        (route(Method::GET, "/healthz", false), get(ops::healthz)),
        (route(Method::GET, "/readyz", false), get(ops::readyz)),
        (route(Method::GET, METRICS, false), get(ops::metrics)),
        (route(Method::GET, "/openapi.json", false), get(openapi::handler)),
        (route(Method::GET, "/", false), get(assets::index)),
        (route(Method::GET, "/assets/{file}", false), get(assets::file)),
    ]
}

/// Every route, without handlers.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(r, _)| r).collect()
}
