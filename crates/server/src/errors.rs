//! The API's errors: one JSON shape, `{"error": "...", "detail": "..."}`, with
//! the status codes of docs/DESIGN.md, and the mapping from the cluster's
//! [`RunError`] to them.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use histo_cluster::RunError;
use histo_codec::DecodeError;
use serde::Serialize;

/// How long a client is told to wait after a 503.
pub const RETRY_AFTER_BUSY: Duration = Duration::from_secs(2);

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short, stable code, e.g. `unauthorized`.
    pub error: &'static str,
    /// What went wrong, for a person.
    pub detail: String,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    detail: &'a str,
}

impl ApiError {
    /// An error with a status, a code and a detail.
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, error, detail: detail.into(), retry_after: None }
    }

    /// Adds a `Retry-After`.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait.as_secs().max(1));
        self
    }

    /// 400: a request that makes no sense (bad option, missing field).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 401: no token or a wrong one.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 408: the body did not arrive in time.
    pub fn timeout(limit: Duration) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {}s", limit.as_secs()),
        )
    }

    /// 413: more bytes than the limit.
    pub fn too_large(limit: u64) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the upload is larger than the limit of {limit} bytes"),
        )
    }

    /// 429: too many failed logins from this client.
    pub fn rate_limited(wait: Duration) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed authentication attempts; retry in {}s", wait.as_secs().max(1)),
        )
        .retry_after(wait)
    }

    /// Whether this error is the client's input being refused (413/415/422).
    pub fn is_rejected_input(&self) -> bool {
        matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY
        )
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        let detail = e.to_string();
        // A failed job's detail names its causes too, after its own words.
        let chain = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        match e {
            RunError::Input(DecodeError::TooLarge { limit }) => ApiError::too_large(limit),
            RunError::Input(DecodeError::Empty | DecodeError::NotAnImage) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail)
            }
            RunError::Input(DecodeError::Dimensions { .. } | DecodeError::OverLimits { .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "image_too_large", detail)
            }
            RunError::Input(DecodeError::Corrupt { .. } | DecodeError::Io(_)) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "undecodable_image", detail)
            }
            RunError::Options(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_options", detail),
            RunError::NoWorkers => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_workers", detail).retry_after(RETRY_AFTER_BUSY)
            }
            RunError::Overloaded { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", detail).retry_after(RETRY_AFTER_BUSY)
            }
            RunError::Failed { .. } => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "job_failed", chain),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: self.error, detail: &self.detail };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"histo\""));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_errors_map_to_the_designed_statuses() {
        let status = |e: RunError| ApiError::from(e).status;
        assert_eq!(status(RunError::Input(DecodeError::TooLarge { limit: 1 })), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(status(RunError::Input(DecodeError::NotAnImage)), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status(RunError::Input(DecodeError::Empty)), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status(RunError::NoWorkers), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(RunError::Overloaded { running: 1, waiting: 1 }), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(RunError::Failed { what: "x".into(), source: None }), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ApiError::from(RunError::NoWorkers).retry_after, Some(2));
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let r = ApiError::unauthorized("no").into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));
    }
}
