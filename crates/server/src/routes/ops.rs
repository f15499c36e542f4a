//! Operations endpoints, open without a token (probes and scrapers do not
//! hold one; restrict them by network policy): liveness, readiness and
//! Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::errors::{ApiError, RETRY_AFTER_BUSY};

/// `GET /healthz`: the process serves requests (always 200 while it does);
/// `status` is `degraded` while no worker is known, with the details.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.cluster.snapshot();
    let status = if snapshot.workers.is_empty() { "degraded" } else { "ok" };
    Json(json!({"status": status, "coordinator": snapshot.state, "workers": snapshot.workers.len()}))
}

/// `GET /readyz`: this master can take work (its coordinator is usable);
/// missing workers make it degraded (`/healthz`), not unready.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.cluster.is_ready() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the coordinator is not usable")
            .retry_after(RETRY_AFTER_BUSY)
            .into_response()
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(&state.cluster),
    )
}
