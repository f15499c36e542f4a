//! The HTTP API against a real server on 127.0.0.1:0: authentication and
//! rate limiting, every limit and bad input with its status, concurrent
//! uploads with checked output, the OpenAPI document against the live
//! routes, metrics, timeouts for slow clients, ambiguous forms and
//! credentials, and security events.

use std::io::Cursor;
use std::net::SocketAddr;
use std::time::Duration;

use histo_cluster::Admission;
use histo_cluster::events::SecurityKind;
use histo_cluster::{Cluster, Event, EventBus};
use histo_codec::{EncodeSettings, Format};
use histo_core::options::Options;
use histo_core::{Image, Layout, Pixels};
use histo_server::{AppConfig, Policy, Token};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const TOKEN: &str = "test-token-0123456789abcdef";

/// A server running in this process.
struct Server {
    addr: SocketAddr,
    cluster: Cluster,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    async fn start(admission: Admission, configure: impl FnOnce(&mut AppConfig)) -> Server {
        let cluster = Cluster::embedded(2, admission, EventBus::new()).expect("cluster");
        let mut config = AppConfig::new(cluster.clone(), Token::new(TOKEN).unwrap());
        configure(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(histo_server::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        Server { addr, cluster, client, stop: Some(stop), task: Some(task) }
    }

    async fn default() -> Server {
        Server::start(Admission::default(), |_| {}).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    fn upload(&self, token: Option<&str>, body: Vec<u8>, query: &str) -> reqwest::RequestBuilder {
        let request = self.client.post(self.url(&format!("/upload{query}"))).body(body);
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    fn upload_form(&self, bytes: Vec<u8>, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut form = Form::new().part("file", Part::bytes(bytes).file_name("in.png"));
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.client.post(self.url("/upload")).bearer_auth(TOKEN).multipart(form)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let result = tokio::time::timeout(Duration::from_secs(15), self.task.take().unwrap()).await;
        result.expect("server stops in time").unwrap().unwrap();
    }
}

/// A deterministic gray image with a narrow histogram (so equalization
/// changes it), encoded as PNG.
fn gray_image(width: u32, height: u32, seed: u32) -> Image {
    let pixels = (0..width * height)
        .map(|i| (60 + (i.wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(97)) >> 24) % 64) as u8)
        .collect();
    Image::new(width, height, Layout::Gray, Pixels::U8(pixels)).unwrap()
}

fn encode(image: &Image, format: Format) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    histo_codec::encode(image, format, &EncodeSettings::default(), &mut out).unwrap();
    out.into_inner()
}

fn png_bytes(width: u32, height: u32, seed: u32) -> Vec<u8> {
    encode(&gray_image(width, height, seed), Format::Png)
}

/// What the server must return for `image` with default options.
fn expected(image: Image) -> Image {
    histo_core::local::equalize(image, Options::default()).unwrap()
}

fn decode(bytes: &[u8]) -> Image {
    histo_codec::decode(bytes, &histo_codec::Limits::CLI).unwrap().0
}

/// The security events published so far (waiting briefly for stragglers).
async fn security_events(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<histo_cluster::events::Security> {
    let mut found = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(300), events.recv()).await {
        if let Event::Security(s) = event {
            found.push(s);
        }
    }
    found
}

async fn json_error(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json", "errors are JSON ({status})");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string() && body["detail"].is_string(), "{body}");
    (status, headers, body)
}

#[tokio::test]
async fn good_token_equalizes_multipart_and_raw_uploads() {
    let server = Server::default().await;
    let input = gray_image(96, 64, 1);
    let response = server.upload_form(encode(&input, Format::Png), &[("mode", "gray")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let id = response.headers()["x-histo-job-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let body = response.bytes().await.unwrap();
    assert_eq!(decode(&body), expected(input.clone()));

    // Raw body, options in the query, another output format.
    let response = server.upload(Some(TOKEN), encode(&input, Format::Png), "?method=global").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(decode(&response.bytes().await.unwrap()), expected(input.clone()));
    let response = server.upload(Some(TOKEN), encode(&input, Format::Png), "?format=bmp").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/bmp");
    assert_eq!(decode(&response.bytes().await.unwrap()).width(), 96);

    // The job's record, with histograms for the dashboard's plots.
    let record: Value =
        server.get(&format!("/api/jobs/{id}")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["state"], "done");
    assert_eq!(record["width"], 96);
    let hist = &record["histograms"];
    assert_eq!(hist["before"][0].as_array().unwrap().len(), 256);
    assert_eq!(hist["after"][0].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 96 * 64);
    assert!(!record["tasks"].as_array().unwrap().is_empty());

    let cluster: Value = server.get("/api/cluster").bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(cluster["coordinator"], "embedded");
    assert_eq!(cluster["state"], "CONNECTED");
    assert_eq!(cluster["workers"].as_array().unwrap().len(), 2);

    for missing in ["/api/jobs/0123456789abcdef0123456789abcdef", "/api/jobs/..%2F..%2Fetc", "/no/such/route"] {
        let (status, _, _) = json_error(server.get(missing).bearer_auth(TOKEN).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
    server.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_refused() {
    let server = Server::default().await;
    let mut events = server.cluster.events().subscribe();
    let body = png_bytes(16, 16, 2);
    for (token, what) in [(None, "missing"), (Some("wrong-token"), "wrong"), (Some(""), "bearer token")] {
        let (status, headers, body) = json_error(server.upload(token, body.clone(), "").send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        assert_eq!(body["error"], "unauthorized");
        assert!(body["detail"].as_str().unwrap().contains(what), "{body}");
    }
    for path in ["/api/cluster", "/api/jobs/0123456789abcdef0123456789abcdef"] {
        let response = server.get(path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let response = server.get(path).header("authorization", format!("Basic {TOKEN}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} with another scheme");
    }
    for path in ["/healthz", "/readyz", "/metrics", "/", "/openapi.json", "/assets/app.js"] {
        assert_eq!(server.get(path).send().await.unwrap().status(), StatusCode::OK, "{path} is open");
    }
    // Each failure is a security event naming the client, never the token.
    let failures = security_events(&mut events).await;
    assert_eq!(failures.len(), 7);
    for s in failures {
        assert_eq!(s.kind, SecurityKind::AuthFailed);
        assert_eq!(s.client, "127.0.0.1");
        assert!(!s.detail.contains("wrong-token") && !s.detail.contains(TOKEN));
    }
    server.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_rate_limited() {
    let policy = Policy { max_failures: 3, window: Duration::from_secs(60) };
    let server = Server::start(Admission::default(), |c| c.auth = policy).await;
    let mut events = server.cluster.events().subscribe();
    for _ in 0..3 {
        let response = server.upload(Some("guess"), png_bytes(8, 8, 3), "").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Blocked now, even with the right token, on every protected route.
    let (status, headers, body) =
        json_error(server.upload(Some(TOKEN), png_bytes(8, 8, 3), "").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "rate_limited");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let response = server.get("/api/cluster").bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Open routes still answer.
    assert_eq!(server.get("/healthz").send().await.unwrap().status(), StatusCode::OK);
    let kinds: Vec<SecurityKind> = security_events(&mut events).await.into_iter().map(|s| s.kind).collect();
    use SecurityKind::{AuthFailed, RateLimited};
    assert_eq!(kinds, [AuthFailed, AuthFailed, AuthFailed, RateLimited]);
    let metrics = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("histo_auth_failures_total 3"), "{metrics}");
    assert!(metrics.contains("histo_rate_limited_requests_total 2"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn limits_and_bad_inputs_get_their_status() {
    let server = Server::start(Admission::default(), |c| {
        c.limits.max_input_bytes = 20_000;
        c.limits.max_pixels = 10_000;
    })
    .await;
    let mut events = server.cluster.events().subscribe();
    let check = |status: StatusCode, code: &'static str| {
        move |(s, _, body): (StatusCode, _, Value)| {
            assert_eq!(s, status, "{body}");
            assert_eq!(body["error"], code, "{body}");
        }
    };
    // 413: over the byte limit, raw and multipart, declared or not.
    let big = vec![0x89u8; 30_000];
    check(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")(
        json_error(server.upload(Some(TOKEN), big.clone(), "").send().await.unwrap()).await,
    );
    check(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")(
        json_error(server.upload_form(big.clone(), &[]).send().await.unwrap()).await,
    );
    assert!(chunked_upload(server.addr, &big).await.starts_with("HTTP/1.1 413"));
    // 422: over the pixel limit (a small file declaring 200x200).
    check(StatusCode::UNPROCESSABLE_ENTITY, "image_too_large")(
        json_error(server.upload(Some(TOKEN), png_bytes(200, 200, 4), "").send().await.unwrap()).await,
    );
    // 415: not an image, or nothing.
    check(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")(
        json_error(server.upload(Some(TOKEN), b"GIF? no, plain text".to_vec(), "").send().await.unwrap()).await,
    );
    check(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")(
        json_error(server.upload(Some(TOKEN), Vec::new(), "").send().await.unwrap()).await,
    );
    // 422: a truncated PNG.
    let whole = png_bytes(64, 64, 5);
    check(StatusCode::UNPROCESSABLE_ENTITY, "undecodable_image")(
        json_error(server.upload(Some(TOKEN), whole[..whole.len() / 2].to_vec(), "").send().await.unwrap()).await,
    );
    // 400: bad options, or a form without the file.
    for query in [
        "?mode=sepia",
        "?method=magic",
        "?method=clahe&tiles=0x9",
        "?format=gif",
        "?method=clahe&clip_limit=-1",
        "?mode=gray&mode=rgb",
    ] {
        check(StatusCode::BAD_REQUEST, "bad_request")(
            json_error(server.upload(Some(TOKEN), whole.clone(), query).send().await.unwrap()).await,
        );
    }
    let form = Form::new().text("mode", "gray");
    let response = server.client.post(server.url("/upload")).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    check(StatusCode::BAD_REQUEST, "bad_request")(json_error(response).await);
    // The same image within the limits is fine.
    assert_eq!(server.upload(Some(TOKEN), png_bytes(64, 64, 5), "").send().await.unwrap().status(), StatusCode::OK);

    let rejected = security_events(&mut events).await;
    assert!(rejected.iter().all(|s| s.kind == SecurityKind::RejectedInput));
    assert_eq!(rejected.len(), 7, "413 ×3, 422 ×2, 415 ×2 are security events");
    server.stop().await;
}

/// Sends `body` to `/upload` with chunked encoding (no Content-Length) over
/// a raw connection, and returns the status line.
async fn chunked_upload(addr: SocketAddr, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(4096) {
        let sent = async {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await
        };
        if sent.await.is_err() {
            break; // the server answered and closed early
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn sixteen_concurrent_uploads_all_succeed_with_correct_output() {
    let server = Server::default().await;
    let mut tasks = tokio::task::JoinSet::new();
    for seed in 0..16u32 {
        let input = gray_image(128 + seed, 96, seed);
        let request = server.upload(Some(TOKEN), encode(&input, Format::Png), "");
        tasks.spawn(async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(decode(&response.bytes().await.unwrap()), expected(input));
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let metrics = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("histo_jobs_total{outcome=\"ok\"} 16"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn overload_is_503_with_retry_after() {
    let server = Server::start(Admission { max_running: 1, max_waiting: 0 }, |_| {}).await;
    let body = png_bytes(1024, 1024, 6);
    let mut saw_503 = false;
    for _ in 0..5 {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let request = server.upload(Some(TOKEN), body.clone(), "");
            tasks.spawn(async move { request.send().await.unwrap() });
        }
        while let Some(response) = tasks.join_next().await {
            let response = response.unwrap();
            match response.status() {
                StatusCode::OK => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(response.headers().contains_key("retry-after"));
                    let (_, _, body) = json_error(response).await;
                    assert_eq!(body["error"], "overloaded");
                    saw_503 = true;
                }
                other => panic!("unexpected {other}"),
            }
        }
        if saw_503 {
            break;
        }
    }
    assert!(saw_503, "12 simultaneous jobs with 1 slot and no queue: some must be refused");
    server.stop().await;
}

#[tokio::test]
async fn openapi_document_matches_the_live_routes() {
    let server = Server::default().await;
    let doc: Value = server.get("/openapi.json").send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let response = server.upload(Some(TOKEN), png_bytes(16, 16, 7), "").send().await.unwrap();
    let job = response.headers()["x-histo-job-id"].to_str().unwrap().to_owned();
    let paths = doc["paths"].as_object().unwrap();
    let routes = histo_server::routes::routes();
    assert_eq!(paths.values().map(|ops| ops.as_object().unwrap().len()).sum::<usize>(), routes.len());
    for (path, ops) in paths {
        let concrete = path.replace("{id}", &job).replace("{file}", "app.js");
        for method in ops.as_object().unwrap().keys() {
            assert!(
                routes.iter().any(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not routed"
            );
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let mut request = server.client.request(method.clone(), server.url(&concrete)).bearer_auth(TOKEN);
            if method == reqwest::Method::POST {
                request = request.body(png_bytes(16, 16, 8));
            }
            let status = request.send().await.unwrap().status();
            assert_eq!(status, StatusCode::OK, "{method} {concrete}");
            // Another method on the same path is not allowed (405), so the
            // path really is routed for exactly the documented methods.
            let other = if method == reqwest::Method::GET { reqwest::Method::DELETE } else { reqwest::Method::GET };
            let status = server.client.request(other.clone(), server.url(&concrete)).bearer_auth(TOKEN).send().await;
            assert_eq!(status.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED, "{other} {concrete}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn metrics_have_the_expected_series_and_never_the_token() {
    let server = Server::default().await;
    server.upload(Some(TOKEN), png_bytes(32, 32, 9), "").send().await.unwrap();
    server.upload(Some("not-the-token"), png_bytes(32, 32, 9), "").send().await.unwrap();
    server.upload(Some(TOKEN), b"nope".to_vec(), "").send().await.unwrap();
    let response = server.get("/metrics").send().await.unwrap();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    for series in [
        "histo_jobs_total{outcome=\"ok\"} 1",
        "histo_jobs_total{outcome=\"unsupported_media_type\"} 1",
        "histo_job_phase_seconds_bucket{le=",
        "histo_job_phase_seconds_count{phase=\"map\"} 1",
        "histo_job_phase_seconds_count{phase=\"apply\"} 1",
        "histo_upload_bytes_total ",
        "histo_output_bytes_total ",
        "histo_auth_failures_total 1",
        "histo_workers 2",
        "histo_jobs_running 0",
        "histo_coordinator_state{coordinator=\"embedded\",state=\"CONNECTED\"} 1",
        "histo_socketio_clients 0",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    assert!(!text.contains(TOKEN) && !text.contains("not-the-token"));
    server.stop().await;
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let server = Server::start(Admission::default(), |c| c.request_timeout = Duration::from_secs(1)).await;
    // A body that never completes: 408 after the request timeout.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 5000\r\n\r\nPNG.."
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    assert!(read.is_ok(), "the server answers a stalled body");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Headers that never complete: the connection is dropped.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closes a connection whose headers stall");
    // Too little for hyper to tell HTTP/1 from HTTP/2 (it needs 24 bytes),
    // or nothing at all, or an HTTP/2 preface alone: dropped all the same.
    for first in [&b""[..], b"POS", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(first).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the server closes a connection that sends {first:?} and stalls");
    }
    server.stop().await;
}

#[tokio::test]
async fn ambiguous_forms_and_credentials_are_refused() {
    let server = Server::default().await;
    let png = png_bytes(16, 16, 10);
    let send = |form: Form| server.client.post(server.url("/upload")).bearer_auth(TOKEN).multipart(form).send();
    let file = || Part::bytes(png.clone()).file_name("in.png");
    // Two files, an option twice, too many fields: 400, nothing run.
    for (form, says) in [
        (Form::new().part("file", file()).part("file", file()), "more than one 'file'"),
        (Form::new().text("mode", "gray").text("mode", "rgb").part("file", file()), "'mode' is given more than once"),
        ((0..20).fold(Form::new(), |f, i| f.text(format!("x{i}"), "1")).part("file", file()), "more than 16 fields"),
    ] {
        let (status, _, body) = json_error(send(form).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(says), "{body}");
    }
    // A form option still wins over the query's.
    let response = server
        .client
        .post(server.url("/upload?format=bmp"))
        .bearer_auth(TOKEN)
        .multipart(Form::new().text("format", "png").part("file", file()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    // Two Authorization headers, whichever comes first: 401.
    for pair in [[TOKEN, "wrong"], ["wrong", TOKEN]] {
        let mut request = server.client.post(server.url("/upload")).body(png.clone());
        for token in pair {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{pair:?}");
    }
    let metrics = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("histo_jobs_total{outcome=\"ok\"} 1\n"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn dashboard_and_assets_are_served_with_a_strict_policy() {
    let server = Server::default().await;
    let response = server.get("/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("SecOps &amp; Infrastructure Observability"));
    for src in ["/assets/app.js", "/assets/style.css", "/assets/socket.io.min.js", "/assets/favicon.svg"] {
        assert!(html.contains(src), "{src} is linked");
        assert_eq!(server.get(src).send().await.unwrap().status(), StatusCode::OK, "{src}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing is fetched from elsewhere");
    assert_eq!(server.get("/assets/../Cargo.toml").send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
