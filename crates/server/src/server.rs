//! The accept loop: hyper connections with a header-read timeout and a
//! deadline for the first request (no slowloris), a bound on open
//! connections, client addresses for the rate limiter, and a graceful
//! shutdown that lets requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tower::ServiceExt;

use crate::{AppConfig, router};

/// Time requests in flight get to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// Longest time a request's headers get (less if the request timeout is
/// shorter); also the time a new connection gets to send its first request.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API, the dashboard and the event stream on `listener` until
/// `shutdown` completes, then finishes the requests in flight (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    config: AppConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let local = listener.local_addr().context("listener has no address")?;
    let (app, metrics, io) = router(&config)
        .with_context(|| format!("cannot open the spool directory {} (--spool-dir)", config.spool_dir.display()))?;
    let metrics = match (config.metrics_listen, metrics) {
        (Some(addr), Some(metrics)) => {
            let listener =
                TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for metrics"))?;
            tracing::info!(addr = %listener.local_addr()?, "serving /metrics apart");
            Some(tokio::spawn(async move { axum::serve(listener, metrics).await }))
        }
        _ => None,
    };
    let header_timeout = config.request_timeout.min(HEADER_TIMEOUT);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    tracing::info!(%local, master = config.cluster.id(), "serving");
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let first_request = Arc::new(Notify::new());
        let seen = first_request.clone();
        let service = app.clone().map_request(move |mut request: hyper::Request<Incoming>| {
            seen.notify_one();
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            request.map(Body::new)
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = watcher.watch(connection.into_owned());
            // hyper's header timeout starts once it knows the protocol, and
            // it learns that from the first 24 bytes: a client that sends
            // fewer (or an HTTP/2 preface and then nothing) would hold its
            // slot forever. The first request must arrive in time.
            let silent = async {
                if tokio::time::timeout(header_timeout, first_request.notified()).await.is_ok() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                result = connection => if let Err(e) = result {
                    tracing::debug!(%remote, "connection ended: {e}");
                },
                () = silent => tracing::debug!(%remote, "no request within {}s: connection closed", header_timeout.as_secs_f32()),
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: closing dashboard sessions, finishing requests");
    drop(listener);
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    io.close().await;
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {}s; stopping anyway", DRAIN.as_secs());
    }
    Ok(())
}
