//! The accept loop: hyper connections with a header-read timeout (no
//! slowloris), a bound on open connections, client addresses for the rate
//! limiter, and a graceful shutdown that lets requests in flight finish.

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
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::{AppConfig, router};

/// Time requests in flight get to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves the API, the dashboard and the event stream on `listener` until
/// `shutdown` completes, then finishes the requests in flight (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    config: AppConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let local = listener.local_addr().context("listener has no address")?;
    let (app, io) = router(&config);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(config.request_timeout.min(Duration::from_secs(10)));
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
        let service = app.clone().map_request(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            request.map(Body::new)
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%remote, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: closing dashboard sessions, finishing requests");
    drop(listener);
    io.close().await;
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {}s; stopping anyway", DRAIN.as_secs());
    }
    Ok(())
}
