//! The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.json`.
//! Its paths and methods are tested against [`crate::routes::table`], the
//! table the router is built from.

use axum::Json;
use axum::response::IntoResponse;
use histo_core::Mode;
use histo_core::options::MAX_TILES;
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// A tile count, 1 to [`MAX_TILES`] (256), as a regular expression.
const TILE_COUNT: &str = "([1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-6])";

/// The job options, each with its type and range: the query parameters and
/// the multipart fields share them.
fn option_schemas() -> Value {
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
    debug_assert_eq!(MAX_TILES, 256);
    json!({
        "mode": {"type": "string", "enum": modes, "default": "auto",
                 "description": "What to equalize; a colour mode (luma, rgb, lab, hsv, hsl) on a gray image is a 422"},
        "method": {"type": "string", "enum": ["global", "clahe"], "default": "global"},
        "clip_limit": {"type": "number", "minimum": 0, "default": 2.0,
                       "description": "CLAHE clip limit; with the global method it is refused (400)"},
        "tiles": {"type": "string", "pattern": format!("^{TILE_COUNT}[xX]{TILE_COUNT}$"), "default": "8x8",
                  "description": "CLAHE grid COLSxROWS, each 1 to 256; with the global method it is refused (400)"},
        "format": {"type": "string", "enum": ["png", "jpeg", "tiff", "bmp", "webp"],
                   "description": "Output format (default: the input's)"},
        "mask_apply": {"type": "string", "enum": ["all", "inside"], "default": "all",
                       "description": "Where a masked job's tables go: every pixel, or only those inside the mask \
                                       (the others keep their samples); without a 'mask' file it is refused (400)"}
    })
}

fn job_params() -> Value {
    let options = option_schemas();
    let param = |name: &str| json!({"name": name, "in": "query", "schema": options[name]});
    json!([
        param("mode"), param("method"), param("clip_limit"), param("tiles"), param("format"),
        param("mask_apply"),
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
                        "match": {"type": "string", "contentMediaType": "application/octet-stream",
                                  "description": "A reference image: the upload's histograms are matched to its \
                                                  (histogram specification) instead of equalized; global method only"},
                        "mode": option_schemas()["mode"], "method": option_schemas()["method"],
                        "clip_limit": option_schemas()["clip_limit"], "tiles": option_schemas()["tiles"],
                        "mask": {"type": "string", "contentMediaType": "application/octet-stream",
                                 "description": "A mask image of the upload's size: only pixels where a colour \
                                                 sample is nonzero are counted (an empty mask is a 422)"},
                        "format": option_schemas()["format"], "mask_apply": option_schemas()["mask_apply"]
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
                    "400": error_response("Bad option or request, a CLAHE setting with the global method, or mask_apply without a mask"),
                    "401": error_response("Missing or wrong token (WWW-Authenticate: Bearer)"),
                    "408": error_response("The body did not arrive in time"),
                    "413": error_response("Upload larger than the byte limit"),
                    "415": error_response("Not a supported image"),
                    "422": error_response("Image over the pixel limits, truncated or corrupt, options it cannot take, or a mask of another size or empty"),
                    "429": error_response("Too many failed authentications from this client (Retry-After)"),
                    "503": error_response("No workers or overloaded (Retry-After)"),
                    "507": error_response("The server cannot store the upload in its spool directory")
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

    /// The tile pattern accepts exactly what `parse_tiles` accepts.
    #[test]
    fn tile_pattern_is_the_parser_s_range() {
        let pattern = regex::Regex::new(option_schemas()["tiles"]["pattern"].as_str().unwrap()).unwrap();
        for x in ["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "256", "257", "300", "01"] {
            let grid = format!("{x}x8");
            let parsed = histo_core::options::parse_tiles(&grid).is_ok() && !x.starts_with('0');
            assert_eq!(pattern.is_match(&grid), parsed, "{grid}");
        }
    }
}
