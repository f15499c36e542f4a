//! `histo serve`: the all-in-one service (HTTP API, dashboard, Socket.IO
//! events, an embedded coordinator and in-process workers), and the server
//! options `histo master` shares ([`ServerArgs`], [`run_server`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use histo_cluster::Admission;
use histo_cluster::Cluster;
use histo_codec::Limits;
use histo_server::{AppConfig, Policy, SERVE_ENCODE, SERVE_LIMITS, Token};
use std::io::Write as _;

use crate::encode_args::EncodeArgs;
use crate::shutdown;
use crate::token_args::TokenArgs;

/// Arguments of `histo serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "HISTO_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// In-process workers (default: one per core).
    #[arg(long, env = "HISTO_WORKERS")]
    workers: Option<usize>,

    /// Jobs run at once; more wait in the queue.
    #[arg(long, env = "HISTO_MAX_RUNNING", default_value_t = Admission::default().max_running)]
    max_running: usize,

    /// Jobs that may wait for a turn; more are refused with 503.
    #[arg(long, env = "HISTO_MAX_QUEUED", default_value_t = Admission::default().max_waiting)]
    max_queued: usize,

    /// Most bytes of strips the in-process workers keep between map and
    /// apply, all jobs together; past it the oldest are decoded again from
    /// their upload for their apply.
    #[arg(long, env = "HISTO_MAX_HELD_BYTES", default_value_t = SERVE_HELD_BYTES)]
    max_held_bytes: usize,

    #[command(flatten)]
    server: ServerArgs,
}

/// Bytes of strips `serve`'s workers keep by default: enough for the jobs
/// of a busy server to be decoded once.
const SERVE_HELD_BYTES: usize = 1 << 30;

/// Options of every command that serves the HTTP API (`serve`, `master`).
/// The token comes from `HISTO_TOKEN` or `--token-file`; it is never a flag,
/// so it does not show in `ps`.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// The API token (with none, `serve` makes a random one and prints it once).
    #[command(flatten)]
    pub token: TokenArgs,

    /// Largest upload accepted, in bytes.
    #[arg(long, env = "HISTO_MAX_INPUT_BYTES", default_value_t = SERVE_LIMITS.max_input_bytes)]
    max_input_bytes: u64,

    /// Widest image accepted, in pixels.
    #[arg(long, env = "HISTO_MAX_WIDTH", default_value_t = SERVE_LIMITS.max_width)]
    max_width: u32,

    /// Tallest image accepted, in pixels.
    #[arg(long, env = "HISTO_MAX_HEIGHT", default_value_t = SERVE_LIMITS.max_height)]
    max_height: u32,

    /// Most pixels (width × height) accepted.
    #[arg(long, env = "HISTO_MAX_PIXELS", default_value_t = SERVE_LIMITS.max_pixels)]
    max_pixels: u64,

    /// Failed authentications a client may make per window before it is
    /// refused (429) until the window ends.
    #[arg(long, env = "HISTO_AUTH_MAX_FAILURES", default_value_t = Policy::default().max_failures,
          value_parser = clap::value_parser!(u32).range(1..))]
    auth_max_failures: u32,

    /// The failed-authentication window, e.g. `60s`, `5m`.
    #[arg(long, env = "HISTO_AUTH_WINDOW", default_value = "60s", value_parser = humantime::parse_duration)]
    auth_window: Duration,

    /// Time a request's headers and an upload's body have to arrive.
    #[arg(long, env = "HISTO_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,

    /// Connections served at once.
    #[arg(long, env = "HISTO_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,

    /// Where upload bodies past a megabyte wait for their job, instead of
    /// memory (default: a directory of this user's in the system's
    /// temporary directory). Files a stopped process left are removed at
    /// start.
    #[arg(long, env = "HISTO_SPOOL_DIR", value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// Serve `/metrics` on this address instead of the API's port.
    #[arg(long, env = "HISTO_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,

    #[command(flatten)]
    encode: EncodeArgs,
}

impl ServerArgs {
    /// The decoding limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_input_bytes: self.max_input_bytes,
            max_width: self.max_width,
            max_height: self.max_height,
            max_pixels: self.max_pixels,
            // Uploads are held in memory anyway: one bound for all.
            max_whole_pixels: self.max_pixels,
        }
    }

    /// The configured token, or a new one; true if it was generated (and
    /// so must be shown to the operator).
    pub fn token_or_new(&self) -> Result<(Token, bool)> {
        match self.token.read()? {
            Some(token) => Ok((token, false)),
            None => Ok((Token::generate().context("cannot generate a token")?, true)),
        }
    }

    /// The server configuration for `cluster`, guarded by `token`.
    pub fn config(&self, cluster: Cluster, token: Token) -> AppConfig {
        let mut config = AppConfig::new(cluster, token);
        config.limits = self.limits();
        config.auth = Policy { max_failures: self.auth_max_failures, window: self.auth_window };
        config.request_timeout = self.request_timeout;
        config.max_connections = self.max_connections;
        config.encode = self.encode.settings(SERVE_ENCODE);
        config.metrics_listen = self.metrics_listen;
        if let Some(dir) = &self.spool_dir {
            config.spool_dir.clone_from(dir);
        }
        config
    }
}

/// The URL a local browser reaches `addr` at.
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Binds `listen`, tells the operator where the dashboard is, and serves
/// `config` until SIGINT/SIGTERM.
pub async fn run_server(listen: SocketAddr, config: AppConfig, generated_token: bool, what: &str) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let url = base_url(listener.local_addr().context("listener has no address")?);
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "histo {what}: listening on {url}")?;
        if generated_token {
            // Shown once, in the URL fragment: browsers never send a
            // fragment to the server, so it stays out of access logs.
            writeln!(out, "histo {what}: no HISTO_TOKEN or --token-file; generated a token for this run")?;
            writeln!(out, "histo {what}: dashboard: {url}/#token={}", config.token.expose())?;
        } else {
            writeln!(out, "histo {what}: dashboard: {url}/")?;
        }
        out.flush()?;
    }
    histo_server::serve(listener, config, shutdown::signal()).await
}

/// Runs `histo serve`.
pub async fn run(args: Args) -> Result<()> {
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    let admission = Admission { max_running: args.max_running.max(1), max_waiting: args.max_queued };
    let cluster = Cluster::embedded_holding(workers, args.max_held_bytes, admission, histo_server::logged_bus())
        .context("cannot start the workers")?;
    let (token, generated) = args.server.token_or_new()?;
    run_server(args.listen, args.server.config(cluster, token), generated, "serve").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_reachable_host() {
        assert_eq!(base_url("0.0.0.0:8080".parse().unwrap()), "http://127.0.0.1:8080");
        assert_eq!(base_url("[::]:80".parse().unwrap()), "http://[::1]:80");
        assert_eq!(base_url("10.1.2.3:9".parse().unwrap()), "http://10.1.2.3:9");
    }
}
