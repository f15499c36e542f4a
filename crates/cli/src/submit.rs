//! `histo submit`: sends one image to a running master (or `histo serve`)
//! and writes the equalized result.
//!
//! Several servers may be named; one that cannot be reached, times out or
//! answers "overloaded" (503, 429) is retried after the next one, with a
//! growing pause (or the server's `Retry-After`), so a job survives a
//! master's failover. Any other refusal (bad token, bad image) is final.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use histo_codec::Limits;
use reqwest::StatusCode;

use crate::io_paths::{is_stdio, read_input, write_output};

/// Arguments of `histo submit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input image, or `-` for standard input.
    #[arg(value_name = "IN")]
    input: PathBuf,

    /// Output image, or `-` for standard output.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,

    /// Masters to send to, comma-separated, tried in turn.
    #[arg(long, env = "HISTO_SERVER", value_delimiter = ',', default_value = "http://127.0.0.1:8080")]
    server: Vec<String>,

    /// File holding the API token (default: the HISTO_TOKEN variable).
    #[arg(long, env = "HISTO_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,

    /// Mode: auto, gray, luma or rgb.
    #[arg(long, env = "HISTO_MODE")]
    mode: Option<String>,

    /// Method: global or clahe.
    #[arg(long, env = "HISTO_METHOD")]
    method: Option<String>,

    /// CLAHE clip limit.
    #[arg(long, env = "HISTO_CLIP_LIMIT")]
    clip_limit: Option<String>,

    /// CLAHE tile grid, COLSxROWS.
    #[arg(long, env = "HISTO_TILES")]
    tiles: Option<String>,

    /// Output format (default: the output's extension, else the input's).
    #[arg(long, env = "HISTO_FORMAT")]
    format: Option<String>,

    /// Attempts in all, across the servers.
    #[arg(long, env = "HISTO_SUBMIT_ATTEMPTS", default_value_t = 8)]
    attempts: u32,

    /// Time one attempt may take.
    #[arg(long, env = "HISTO_SUBMIT_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// The longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Runs `histo submit`.
pub async fn run(args: Args) -> Result<()> {
    let token = token(args.token_file.as_deref())?;
    let name = if is_stdio(&args.input) { "standard input".to_owned() } else { args.input.display().to_string() };
    let bytes = read_input(&args.input, &Limits::CLI).with_context(|| format!("cannot read {name}"))?;
    let format = args.format.clone().or_else(|| {
        (!is_stdio(&args.output)).then(|| args.output.extension().and_then(|e| e.to_str()).map(str::to_owned)).flatten()
    });
    let query: Vec<(&str, String)> = [
        ("mode", args.mode.clone()),
        ("method", args.method.clone()),
        ("clip_limit", args.clip_limit.clone()),
        ("tiles", args.tiles.clone()),
        ("format", format),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .connect_timeout(Duration::from_secs(3))
        .build()
        .context("cannot make an HTTP client")?;
    let servers: Vec<&str> = args.server.iter().map(|s| s.trim_end_matches('/')).filter(|s| !s.is_empty()).collect();
    if servers.is_empty() {
        bail!("no server given (--server URL)");
    }

    let mut pause = Duration::from_millis(200);
    let mut last = String::new();
    for attempt in 0..args.attempts.max(1) {
        let server = servers[attempt as usize % servers.len()];
        let sent = client
            .post(format!("{server}/upload"))
            .query(&query)
            .bearer_auth(&token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.clone())
            .send()
            .await;
        let wait = match sent {
            Ok(response) if response.status().is_success() => {
                let job = header(&response, "x-histo-job-id");
                let body = response.bytes().await.with_context(|| format!("{server} broke off the reply"))?;
                write_output(&args.output, &body)?;
                tracing::info!(%server, job = %job, bytes = body.len(), "equalized");
                return Ok(());
            }
            Ok(response) if retryable(response.status()) => {
                let retry_after = header(&response, "retry-after").parse().ok().map(Duration::from_secs);
                last = format!("{server} answered {}", response.status());
                retry_after.unwrap_or(pause)
            }
            Ok(response) => {
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let error = body["error"].as_str().unwrap_or("refused");
                let detail = body["detail"].as_str().map(|d| format!(": {d}")).unwrap_or_default();
                bail!("{server} refused the job ({status}): {error}{detail}");
            }
            Err(e) => {
                last = format!("{server}: {}", describe(&e));
                pause
            }
        };
        tracing::warn!(attempt = attempt + 1, "{last}; trying again");
        tokio::time::sleep(wait.min(MAX_PAUSE)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
    bail!("gave up after {} attempts; last: {last}", args.attempts.max(1))
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        e.to_string()
    }
}

/// The token from `HISTO_TOKEN` or the token file.
fn token(file: Option<&std::path::Path>) -> Result<String> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read token file {}", path.display()))?;
        return Ok(text.trim().to_owned());
    }
    match std::env::var("HISTO_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => bail!("histo submit needs a token: set HISTO_TOKEN or --token-file"),
    }
}
