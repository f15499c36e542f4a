//! `histo healthcheck`: GETs a health URL and exits 0 on HTTP 200, 1 with
//! one line otherwise; with `--grpc HOST:PORT` (a worker, which serves gRPC
//! only) it asks the standard gRPC health service instead. The container
//! image's HEALTHCHECK (no shell, no curl in the image), so the HTTP check
//! is a plain HTTP/1.1 request over a socket.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Arguments of `histo healthcheck`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The URL to check (plain http).
    #[arg(long, env = "HISTO_HEALTHCHECK_URL", default_value = "http://127.0.0.1:8080/healthz")]
    url: String,

    /// Check a worker's gRPC health service at this `host:port` instead.
    #[arg(long, env = "HISTO_HEALTHCHECK_GRPC")]
    grpc: Option<String>,

    /// Give up after this long.
    #[arg(long, env = "HISTO_HEALTHCHECK_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// `host:port` and path of an `http://` URL.
fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("http://").with_context(|| format!("'{url}' is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        bail!("'{url}' has no usable host");
    }
    let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_owned()))
}

/// The status code of a GET of `url`.
fn status(url: &str, timeout: Duration) -> Result<u16> {
    let (authority, path) = split_url(url)?;
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let host = authority.trim_end_matches(":80");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: histo-healthcheck\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream.read(&mut buf).with_context(|| format!("no answer from {addr}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    code.with_context(|| format!("{addr} did not answer HTTP"))
}

/// Runs `histo healthcheck`.
pub async fn run(args: Args) -> Result<()> {
    if let Some(address) = args.grpc {
        let serving = histo_cluster::rpc::is_serving(&address, args.timeout)
            .await
            .with_context(|| format!("unhealthy: gRPC health of {address}"))?;
        if !serving {
            bail!("unhealthy: {address} says it is not serving");
        }
        return Ok(());
    }
    let code = tokio::task::spawn_blocking(move || status(&args.url, args.timeout).map(|c| (c, args.url))).await??;
    match code {
        (200, _) => Ok(()),
        (code, url) => bail!("unhealthy: {url} answered HTTP {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(split_url("http://127.0.0.1:8080/healthz").unwrap(), ("127.0.0.1:8080".into(), "/healthz".into()));
        assert_eq!(split_url("http://localhost").unwrap(), ("localhost:80".into(), "/".into()));
        assert_eq!(split_url("http://[::1]:9/x").unwrap(), ("[::1]:9".into(), "/x".into()));
        assert!(split_url("https://x/").is_err());
        assert!(split_url("http:///x").is_err());
    }
}
