//! Read-only API: a job's record and the cluster at a glance. Both need the
//! token (they reveal image sizes, timings and the cluster's layout).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use histo_cluster::{ClusterSnapshot, JobId, JobRecord};

use crate::AppState;
use crate::errors::ApiError;

/// `GET /api/jobs/{id}`: state, per-task progress, timings, histograms.
pub async fn job(State(state): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let record: JobRecord = JobId::parse(&id)
        .and_then(|id| state.cluster.job(&id))
        .ok_or_else(|| ApiError::not_found("no such job (ids are 32 hex digits; only recent jobs are kept)"))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(record)))
}

/// `GET /api/cluster`: coordinator state, masters, leader, workers.
pub async fn cluster(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot: ClusterSnapshot = state.cluster.snapshot();
    ([(header::CACHE_CONTROL, "no-store")], Json(snapshot))
}
