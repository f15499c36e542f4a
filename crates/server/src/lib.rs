//! histo's web service: the HTTP API, its authentication and abuse limits,
//! the Socket.IO event stream, Prometheus metrics and the dashboard.
//!
//! It sits on top of a [`Cluster`] handle and knows nothing of how jobs are
//! run: `histo serve` passes an embedded cluster, `histo master` a
//! ZooKeeper-backed one, and both call [`serve`].
//!
//! * [`routes`] is the route table (upload, API, probes, metrics, assets);
//! * [`auth`] and [`rate_limit`] guard it; [`errors`] shapes every refusal;
//! * [`socket`] streams [`replay`] and the cluster's events, in
//!   [`wording`]'s words, to dashboards;
//! * [`metrics`], [`openapi`] and [`assets`] serve what their names say.

pub mod assets;
pub mod auth;
pub mod errors;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod replay;
pub mod routes;
mod server;
pub mod socket;
pub mod spool;
pub mod wording;

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use histo_cluster::Cluster;
use histo_codec::{EncodeSettings, JpegQuality, Limits, TiffCompression, png};
use socketioxide::SocketIo;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use auth::Token;
pub use rate_limit::Policy;
pub use server::serve;
pub use wording::logged_bus;

/// Decoding limits of the web service: smaller than the command line's, as
/// the uploader is not trusted (64 MiB, 64 megapixels, 65536 px a side).
pub const SERVE_LIMITS: Limits = Limits {
    max_input_bytes: 64 << 20,
    max_width: 1 << 16,
    max_height: 1 << 16,
    max_pixels: 64 << 20,
    max_whole_pixels: 64 << 20,
};

/// How the service writes answers: PNG at zlib level 1 with the Sub filter
/// (about 1.7x faster than level 2, for files a fifth larger, still smaller
/// than OpenCV's defaults make; docs/BENCHMARKS.md); TIFF and JPEG as the
/// command line writes them.
pub const SERVE_ENCODE: EncodeSettings = EncodeSettings {
    png: png::Settings { level: 1, filter: png::Filter::Sub },
    tiff: TiffCompression::None,
    jpeg_quality: JpegQuality::DEFAULT,
};

/// How the service is set up.
#[derive(Clone)]
pub struct AppConfig {
    /// The jobs' runner.
    pub cluster: Cluster,
    /// The API token.
    pub token: Token,
    /// Decoding limits; `max_input_bytes` is also the upload body limit.
    pub limits: Limits,
    /// Failed-authentication limits.
    pub auth: Policy,
    /// Time an upload body has to arrive in full (and headers, to arrive at
    /// all): slow clients are cut off.
    pub request_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// How answers are written (PNG compression, TIFF compression, JPEG
    /// quality).
    pub encode: EncodeSettings,
    /// Where `/metrics` is served instead of the API's port, if apart (so
    /// that a network policy can open it to the monitoring system only).
    pub metrics_listen: Option<SocketAddr>,
    /// Where upload bodies past a megabyte wait for their job.
    pub spool_dir: PathBuf,
}

impl AppConfig {
    /// A configuration with the default limits.
    pub fn new(cluster: Cluster, token: Token) -> Self {
        AppConfig {
            cluster,
            token,
            limits: SERVE_LIMITS,
            auth: Policy::default(),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            encode: SERVE_ENCODE,
            metrics_listen: None,
            spool_dir: spool::Spool::default_dir(),
        }
    }
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("cluster", &self.cluster.id())
            .field("token", &self.token)
            .field("limits", &self.limits)
            .field("auth", &self.auth)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("encode", &self.encode)
            .field("metrics_listen", &self.metrics_listen)
            .field("spool_dir", &self.spool_dir)
            .finish()
    }
}

/// What every handler shares.
pub struct Shared {
    /// The jobs' runner.
    pub cluster: Cluster,
    /// The API token.
    pub token: Token,
    /// Decoding limits.
    pub limits: Limits,
    /// Failed-authentication counts.
    pub limiter: rate_limit::FailureLimiter,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// Body deadline.
    pub request_timeout: Duration,
    /// How answers are written.
    pub encode: EncodeSettings,
    /// Where large upload bodies wait.
    pub spool: spool::Spool,
}

/// The handlers' state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state for `config`; fails if the spool directory cannot be
    /// opened.
    pub fn new(config: &AppConfig) -> std::io::Result<Self> {
        let spool = spool::Spool::open(&config.spool_dir)?;
        Ok(AppState(Arc::new(Shared {
            cluster: config.cluster.clone(),
            token: config.token.clone(),
            limits: config.limits,
            limiter: rate_limit::FailureLimiter::new(config.auth),
            metrics: metrics::Metrics::new(),
            request_timeout: config.request_timeout,
            encode: config.encode,
            spool,
        })))
    }
}

/// The whole application: routes, the Socket.IO layer, security headers,
/// request tracing; and, when metrics are served apart, their own router
/// over the same state. The [`SocketIo`] handle closes client sessions at
/// shutdown.
pub fn router(config: &AppConfig) -> std::io::Result<(Router, Option<Router>, SocketIo)> {
    let state = AppState::new(config)?;
    let metrics = config.metrics_listen.map(|_| {
        Router::new()
            .route(routes::METRICS, axum::routing::get(routes::ops::metrics))
            .fallback(|| async { errors::ApiError::not_found("only /metrics is served here") })
            .with_state(state.clone())
    });
    let mut public = Router::new();
    let mut protected = Router::new();
    for (route, handler) in routes::table() {
        if metrics.is_some() && route.path == routes::METRICS {
            continue;
        }
        if route.auth {
            protected = protected.route(route.path, handler);
        } else {
            public = public.route(route.path, handler);
        }
    }
    let protected = protected.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let (socket_layer, io) = socket::layer(state.clone());
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let router = public
        .merge(protected)
        .fallback(|| async { errors::ApiError::not_found("no such route") })
        .with_state(state)
        .layer(socket_layer)
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(TraceLayer::new_for_http().make_span_with(request_span));
    Ok((router, metrics, io))
}

/// The span every request is logged in: its method and path, never its
/// query, which a client may fill with anything (a token, say).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path(), version = ?request.version())
}
