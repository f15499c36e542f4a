//! The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.json`.
//! Its paths and methods are tested against [`crate::routes::table`], the
//! table the router is built from.

use axum::Json;
use axum::response::IntoResponse;
use histo_core::Mode;
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn job_params() -> Value {
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
    json!([
        {"name": "mode", "in": "query", "schema": {"type": "string", "enum": modes, "default": "auto"}},
        {"name": "method", "in": "query", "schema": {"type": "string", "enum": ["global", "clahe"], "default": "global"}},
        {"name": "clip_limit", "in": "query", "schema": {"type": "number", "minimum": 0, "default": 2.0}},
        {"name": "tiles", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]+[xX][0-9]+$", "default": "8x8"}},
        {"name": "format", "in": "query", "description": "Output format (default: the input's)",
         "schema": {"type": "string", "enum": ["png", "jpeg", "tiff", "bmp", "webp"]}},
        {"name": "X-Histo-Request-Id", "in": "header",
         "description": "The client's id for this request: echoed in the answer and carried by the job's job_progress events",
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
    ])
}

/// The document.
pub fn document() -> Value {
    let image_types = json!({
        "image/png": {}, "image/jpeg": {}, "image/tiff": {}, "image/bmp": {}, "image/webp": {}
    });
    let bearer = json!([{"bearer": []}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "histo",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Distributed histogram equalization. POST an image, get it equalized. \
                Live events (deployment_log, observability, job_progress, security) are streamed over \
                Socket.IO v4 at /socket.io/; job_progress and security events only reach clients that \
                authenticated with the token (handshake auth {token} or an `authenticate` event)."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}
                },
                "Upload": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                        "mode": {"type": "string"}, "method": {"type": "string"},
                        "clip_limit": {"type": "string"}, "tiles": {"type": "string"}, "format": {"type": "string"}
                    }
                }
            }
        },
        "paths": {
            "/upload": {"post": {
                "summary": "Equalize one image",
                "security": bearer,
                "parameters": job_params(),
                "requestBody": {"required": true, "content": {
                    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Upload"}},
                    "application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
                }},
                "responses": {
                    "200": {"description": "The equalized image",
                            "headers": {
                                "X-Histo-Job-Id": {"schema": {"type": "string"}, "description": "The job's id"},
                                "X-Histo-Request-Id": {"schema": {"type": "string"}, "description": "The request id the client sent, if any"}
                            },
                            "content": image_types},
                    "400": error_response("Bad option or request"),
                    "401": error_response("Missing or wrong token (WWW-Authenticate: Bearer)"),
                    "408": error_response("The body did not arrive in time"),
                    "413": error_response("Upload larger than the byte limit"),
                    "415": error_response("Not a supported image"),
                    "422": error_response("Image over the pixel limits, truncated or corrupt"),
                    "429": error_response("Too many failed authentications from this client (Retry-After)"),
                    "503": error_response("No workers or overloaded (Retry-After)")
                }
            }},
            "/api/jobs/{id}": {"get": {
                "summary": "A job's state, per-task progress, timings and histograms",
                "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": true,
                                "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}}],
                "responses": {
                    "200": {"description": "The job record", "content": {"application/json": {}}},
                    "401": error_response("Missing or wrong token"),
                    "404": error_response("Unknown job"),
                    "429": error_response("Client blocked")
                }
            }},
            "/api/cluster": {"get": {
                "summary": "Coordinator state, masters, leader, workers",
                "security": bearer,
                "responses": {
                    "200": {"description": "The cluster snapshot", "content": {"application/json": {}}},
                    "401": error_response("Missing or wrong token"),
                    "429": error_response("Client blocked")
                }
            }},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "Alive"}}}},
            "/readyz": {"get": {"summary": "Readiness", "responses": {
                "200": {"description": "Ready"}, "503": error_response("Not ready (Retry-After)")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "OpenMetrics text", "content": {"application/openmetrics-text": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}},
            "/": {"get": {"summary": "The dashboard", "responses": {
                "200": {"description": "HTML", "content": {"text/html": {}}}}}},
            "/assets/{file}": {"get": {
                "summary": "Dashboard scripts, styles and icon",
                "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The file"}, "404": error_response("No such asset")}
            }}
        }
    })
}

/// `GET /openapi.json`.
pub async fn handler() -> impl IntoResponse {
    Json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn document_matches_the_route_table() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
            .collect();
        let routed: BTreeSet<(String, String)> =
            crate::routes::routes().into_iter().map(|r| (r.method.to_string(), r.path.to_owned())).collect();
        assert_eq!(documented, routed);
        for route in crate::routes::routes() {
            let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
            assert_eq!(op.get("security").is_some(), route.auth, "security of {} {}", route.method, route.path);
        }
    }
}
