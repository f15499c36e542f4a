//! `POST /upload`: one image in, the equalized image out.
//!
//! The image comes as the multipart field `file` or as the raw body, with
//! a reference to match as `match` and a mask as `mask`; the options
//! (`mode`, `method`, `clip_limit`, `tiles`, `format`, `mask_apply`) as
//! query parameters or multipart fields (fields win). The body is held to the
//! codec's byte limit (413 as soon as `Content-Length` or the bytes read say
//! so) and must arrive within the request timeout (408), so a slow or huge
//! upload costs little; a file past a megabyte goes to the spool directory
//! ([`crate::spool`]) instead of memory, and is read from there, and so does
//! its answer. The job then goes through the cluster's admission
//! (503 + `Retry-After` when overloaded) and the answer carries the job id
//! in `X-Histo-Job-Id`. A client that sends `X-Histo-Request-Id` gets it
//! back, and the job's progress events carry it, so a page can follow its
//! own job while it runs.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use histo_cluster::events::SecurityKind;
use histo_cluster::{Event, JobSpec, Mask, Reference};
use histo_codec::{EncodeSettings, Format, Limits};
use histo_core::options::{self, MaskApply, Method, Mode, Options};
use http_body_util::BodyExt;
use serde::Deserialize;

use crate::AppState;
use crate::auth::client_ip;
use crate::errors::ApiError;
use crate::spool::{Spool, Spooled};

/// The response header naming the job.
pub const JOB_ID_HEADER: &str = "x-histo-job-id";

/// The request header with the client's own id for the request.
pub const REQUEST_ID_HEADER: &str = "x-histo-request-id";

/// Longest request id accepted.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Room for multipart boundaries and the small option fields, on top of the
/// image's own limit.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// Longest option value accepted.
const MAX_OPTION_LEN: usize = 64;

/// Most multipart fields accepted: three files and six options, with room
/// for a few a client adds on its own (ignored).
const MAX_FIELDS: usize = 16;

/// Job options as a client sends them.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct JobParams {
    /// `auto`, `gray`, `luma`, `rgb`, `lab`, `hsv` or `hsl`.
    pub mode: Option<String>,
    /// `global` or `clahe`.
    pub method: Option<String>,
    /// CLAHE clip limit.
    pub clip_limit: Option<String>,
    /// CLAHE tiles, `COLSxROWS`.
    pub tiles: Option<String>,
    /// Output format (default: the input's).
    pub format: Option<String>,
    /// Where a masked job's tables go: `all` or `inside`.
    pub mask_apply: Option<String>,
}

impl JobParams {
    /// Sets an option from a multipart field (over the query's value), or
    /// ignores a field that is not an option. An option given twice in the
    /// form is ambiguous: a 400, as it is in the query.
    fn set(&mut self, name: &str, value: String, seen: &mut Vec<String>) -> Result<(), ApiError> {
        let slot = match name {
            "mode" => &mut self.mode,
            "method" => &mut self.method,
            "clip_limit" => &mut self.clip_limit,
            "tiles" => &mut self.tiles,
            "format" => &mut self.format,
            "mask_apply" => &mut self.mask_apply,
            _ => return Ok(()),
        };
        if seen.iter().any(|s| s == name) {
            return Err(ApiError::bad_request(format!("field '{name}' is given more than once")));
        }
        seen.push(name.to_owned());
        *slot = Some(value);
        Ok(())
    }

    /// The job to run, or a 400 naming the bad option.
    pub fn spec(&self, limits: Limits, encode: EncodeSettings) -> Result<JobSpec, ApiError> {
        let bad = |e: options::OptionError| ApiError::bad_request(e.to_string());
        let mode = text(&self.mode).map(str::parse::<Mode>).transpose().map_err(bad)?.unwrap_or_default();
        // Every value is checked whatever the method: a bad one never passes
        // because the method does not read it.
        let clip_limit = text(&self.clip_limit).map(options::parse_clip_limit).transpose().map_err(bad)?;
        let tiles = text(&self.tiles).map(options::parse_tiles).transpose().map_err(bad)?;
        let method = Method::with_settings(text(&self.method), clip_limit, tiles).map_err(bad)?;
        let format = text(&self.format)
            .map(|f| f.parse::<Format>().map_err(|e| ApiError::bad_request(e.to_string())))
            .transpose()?;
        let options = Options { mode, method };
        Ok(JobSpec { options, format, encode, limits, ..Default::default() })
    }

    /// The mask of a job given `mask`, the file; a rule without the file
    /// is a 400, as a setting the job would not use.
    fn mask(&self, mask: Option<&Spooled>) -> Result<Option<Mask>, ApiError> {
        let apply = text(&self.mask_apply)
            .map(str::parse::<MaskApply>)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        match (mask, apply) {
            (Some(file), apply) => Ok(Some(Mask { input: spooled_input(file)?, apply: apply.unwrap_or_default() })),
            (None, Some(_)) => Err(ApiError::bad_request("mask_apply is given without a 'mask' file")),
            (None, None) => Ok(None),
        }
    }
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `POST /upload`.
pub async fn upload(
    State(state): State<AppState>,
    query: Result<Query<JobParams>, QueryRejection>,
    request: Request,
) -> Response {
    let client = client_ip(request.extensions());
    let result = match query {
        Ok(Query(query)) => run(&state, client, query, request).await,
        Err(e) => Err(ApiError::bad_request(format!("bad query: {}", e.body_text()))),
    };
    match result {
        Ok(response) => response,
        Err(e) => {
            state.metrics.job_finished(e.error);
            if e.is_rejected_input() {
                state.cluster.events().publish(Event::security(
                    SecurityKind::RejectedInput,
                    client.to_string(),
                    format!("{} {}: {}", e.status.as_u16(), e.error, e.detail),
                ));
            }
            e.into_response()
        }
    }
}

async fn run(state: &AppState, client: IpAddr, mut params: JobParams, request: Request) -> Result<Response, ApiError> {
    let request_id = request_id(request.headers())?;
    let limit = state.limits.max_input_bytes;
    let timeout = state.request_timeout;
    // The files stay until the job is done: a spooled one is read from disk.
    let files = tokio::time::timeout(timeout, read_image(request, &state.spool, limit, &mut params))
        .await
        .map_err(|_| ApiError::timeout(timeout))??;
    let reference = files.reference.as_ref().map(spooled_input).transpose()?.map(Reference::Image);
    let mask = params.mask(files.mask.as_ref())?;
    let spec = JobSpec { request_id: request_id.clone(), reference, mask, ..params.spec(state.limits, state.encode)? };
    let input = spooled_input(&files.image)?;
    state.metrics.bytes_in.inc_by(input.len());
    tracing::debug!(%client, bytes = input.len(), "upload");
    // A spooled upload's answer is spooled too, and streamed from disk.
    let (id, format, body, len) = match files.image {
        Spooled::File(_) => {
            let (file, spooled) = state.spool.create().map_err(spool_failed)?;
            let written = state.cluster.run_to(input, spec, file).await?;
            (written.id, written.format, spooled.into_body().await.map_err(spool_failed)?, written.len)
        }
        Spooled::Memory(_) => {
            let output = state.cluster.run(input, spec).await?;
            let len = output.bytes.len() as u64;
            (output.id, output.format, Body::from(output.bytes), len)
        }
    };
    drop(files);
    state.metrics.job_finished("ok");
    state.metrics.bytes_out.inc_by(len);
    if let Some(record) = state.cluster.job(&id) {
        state.metrics.observe_timings(&record);
    }
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.mime()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("inline; filename=\"equalized.{}\"", format.name());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        headers.insert(JOB_ID_HEADER, v);
    }
    if let Some(v) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
    Ok(response)
}

/// The client's request id: 1 to 64 letters, digits, `-` or `_`, or a 400.
fn request_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(REQUEST_ID_HEADER) else { return Ok(None) };
    let id = value.to_str().unwrap_or_default();
    let valid = (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(ApiError::bad_request(format!(
            "invalid {REQUEST_ID_HEADER} (expected 1 to {MAX_REQUEST_ID_LEN} letters, digits, - or _)"
        )));
    }
    Ok(Some(id.to_owned()))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The files of an upload.
struct Files {
    /// From the `file` field or the raw body.
    image: Spooled,
    /// A reference image to match, from the `match` field.
    reference: Option<Spooled>,
    /// A mask, from the `mask` field.
    mask: Option<Spooled>,
}

fn spooled_input(file: &Spooled) -> Result<histo_codec::Input, ApiError> {
    file.input().map_err(spool_failed)
}

fn spool_failed(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "cannot spool an upload");
    ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "spool_failed", "cannot store the upload on the server")
}

/// The upload's files, each within `limit`, spooled past a megabyte;
/// options found in multipart fields go into `params`.
async fn read_image(request: Request, spool: &Spool, limit: u64, params: &mut JobParams) -> Result<Files, ApiError> {
    let multipart = is_multipart(request.headers());
    let body_limit = if multipart { limit.saturating_add(MULTIPART_SLACK) } else { limit };
    if declared_length(request.headers()).is_some_and(|n| n > body_limit) {
        return Err(ApiError::too_large(limit));
    }
    let request =
        request.map(|b| Body::new(http_body_util::Limited::new(b, usize::try_from(body_limit).unwrap_or(usize::MAX))));
    if !multipart {
        let mut body = request.into_body();
        let mut file = spool.body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| match is_length_limit(&e) {
                true => ApiError::too_large(limit),
                false => ApiError::bad_request(format!("cannot read the request body: {e}")),
            })?;
            if let Ok(chunk) = frame.into_data() {
                file.push(&chunk).await.map_err(spool_failed)?;
            }
        }
        return Ok(Files { image: file.finish().await.map_err(spool_failed)?, reference: None, mask: None });
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("bad multipart request: {}", e.body_text())))?;
    let (mut image, mut reference, mut mask) = (None, None, None);
    let mut fields = 0;
    let mut options_seen = Vec::new();
    let field_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(format!("bad multipart request: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(field_error)? {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(ApiError::bad_request(format!("a form of more than {MAX_FIELDS} fields")));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let file = match name.as_str() {
            "file" => Some(&mut image),
            "match" => Some(&mut reference),
            "mask" => Some(&mut mask),
            _ => None,
        };
        if let Some(slot) = file {
            // Two files: which one would be used is anyone's guess (a
            // filter in front may have checked the other).
            if slot.is_some() {
                return Err(ApiError::bad_request(format!("more than one '{name}' field")));
            }
            let mut file = spool.body();
            while let Some(chunk) = field.chunk().await.map_err(field_error)? {
                if file.len() + chunk.len() as u64 > limit {
                    return Err(ApiError::too_large(limit));
                }
                file.push(&chunk).await.map_err(spool_failed)?;
            }
            *slot = Some(file.finish().await.map_err(spool_failed)?);
        } else {
            let value = field.text().await.map_err(field_error)?;
            if value.len() > MAX_OPTION_LEN {
                return Err(ApiError::bad_request(format!("field '{name}' is too long")));
            }
            params.set(&name, value, &mut options_seen)?;
        }
    }
    let image = image.ok_or_else(|| ApiError::bad_request("multipart upload without a 'file' field"))?;
    Ok(Files { image, reference, mask })
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SERVE_ENCODE;
    use histo_core::options::ClaheParams;

    #[test]
    fn options_parse_with_defaults_and_errors() {
        let limits = Limits::CLI;
        let spec = JobParams::default().spec(limits, SERVE_ENCODE).unwrap();
        assert_eq!(spec.options, Options::default());
        let p = JobParams {
            mode: Some("rgb".into()),
            method: Some("clahe".into()),
            clip_limit: Some("3".into()),
            tiles: Some("4x2".into()),
            format: Some("png".into()),
            mask_apply: None,
        };
        let spec = p.spec(limits, SERVE_ENCODE).unwrap();
        assert_eq!(spec.options.mode, Mode::Rgb);
        assert_eq!(spec.options.method, Method::Clahe(ClaheParams { clip_limit: 3.0, tiles_x: 4, tiles_y: 2 }));
        assert_eq!(spec.format, Some(Format::Png));
        for bad in [
            JobParams { mode: Some("sepia".into()), ..Default::default() },
            JobParams { method: Some("magic".into()), ..Default::default() },
            JobParams { method: Some("clahe".into()), tiles: Some("0x0".into()), ..Default::default() },
            // Values of options the global method does not read are still checked.
            JobParams { clip_limit: Some("-3".into()), ..Default::default() },
            JobParams { tiles: Some("0x99999".into()), ..Default::default() },
            // And valid ones are refused: the user meant something that would not happen.
            JobParams { clip_limit: Some("3".into()), ..Default::default() },
            JobParams { method: Some("global".into()), tiles: Some("4x4".into()), ..Default::default() },
            JobParams { format: Some("gif".into()), ..Default::default() },
        ] {
            assert_eq!(bad.spec(limits, SERVE_ENCODE).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
