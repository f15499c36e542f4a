//! The worker RPC over gRPC (tonic): the server side wraps a [`WorkerCore`],
//! the client side is what a master's [`crate::link::WorkerLink`] uses.
//!
//! Task errors travel as gRPC status codes: `RESOURCE_EXHAUSTED` (busy,
//! retry), `FAILED_PRECONDITION` (strip not held, resend), `INVALID_ARGUMENT`
//! (bad task); anything else means "this worker is unusable now". Calls
//! carry the cluster's token where there is one ([`crate::rpc_auth`]).

use std::sync::Arc;
use std::time::Duration;

use histo_codec::png::{EncodedStrip, Settings};
use histo_core::options::OptionError;
use histo_core::plan::Histograms;
use histo_core::strips::Strip;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::record::JobId;
use crate::rpc_auth::{PresentToken, RequireToken};
use crate::task::{
    self, Applied, ApplyTask, MapTask, OutputKind, PlanSpec, StripData, StripMask, StripOutput, TaskError,
};
use crate::token::Token;
use crate::worker::WorkerCore;

/// Generated protocol types.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("histo.worker.v1");
}

use proto::worker_client::WorkerClient;
use proto::worker_server::{Worker, WorkerServer};

/// Largest message either side accepts: a strip is a few MB; leave room
/// for wide 16-bit colour rows and 16-bit tables.
pub const MAX_MESSAGE: usize = 512 << 20;

/// HTTP/2 flow-control windows, per stream and per connection. The default
/// (64 KiB) makes a strip of a few MB wait for a dozen window updates on
/// its way; a window that holds several strips lets it go at once.
const STREAM_WINDOW: u32 = 8 << 20;
const CONNECTION_WINDOW: u32 = 32 << 20;

/// Largest HTTP/2 frame either side accepts: fewer, larger frames for strips.
const MAX_FRAME: u32 = 1 << 20;

fn spec_to_proto(s: &PlanSpec) -> proto::PlanSpec {
    let (clip_limit, tiles_x, tiles_y) = match s.options.method {
        histo_core::Method::Clahe(p) => (p.clip_limit, p.tiles_x, p.tiles_y),
        histo_core::Method::Global => (0.0, 0, 0),
    };
    proto::PlanSpec {
        width: s.shape.width,
        height: s.shape.height,
        layout: task::layout_name(s.shape.layout),
        bits: if s.shape.depth == histo_core::Depth::U8 { 8 } else { 16 },
        mode: s.options.mode.to_string(),
        method: s.options.method.name().to_owned(),
        clip_limit,
        tiles_x,
        tiles_y,
        mask_apply: s.mask.map(|m| m.to_string()).unwrap_or_default(),
    }
}

fn spec_from_proto(p: Option<proto::PlanSpec>) -> Result<PlanSpec, TaskError> {
    let p = p.ok_or_else(|| TaskError::Invalid("missing plan".into()))?;
    let depth = match p.bits {
        8 => histo_core::Depth::U8,
        16 => histo_core::Depth::U16,
        b => return Err(TaskError::Invalid(format!("unsupported depth {b}"))),
    };
    let shape =
        histo_core::Shape { width: p.width, height: p.height, layout: task::layout_from_name(&p.layout)?, depth };
    let options = task::options_from_parts(&p.mode, &p.method, p.clip_limit, (p.tiles_x, p.tiles_y))?;
    let mask = match p.mask_apply.as_str() {
        "" => None,
        rule => Some(rule.parse().map_err(|e: OptionError| TaskError::Invalid(e.to_string()))?),
    };
    Ok(PlanSpec { shape, options, mask })
}

fn mask_from_proto(inside: bytes::Bytes, above: bytes::Bytes) -> Option<StripMask> {
    (!inside.is_empty()).then(|| StripMask {
        inside: task::compact_bytes(inside),
        above: (!above.is_empty()).then(|| task::compact_bytes(above)),
    })
}

fn mask_to_proto(mask: Option<&StripMask>) -> (bytes::Bytes, bytes::Bytes) {
    mask.map(|m| (m.inside.clone(), m.above.clone().unwrap_or_default())).unwrap_or_default()
}

fn strip_to_proto(s: &Strip) -> proto::StripSpec {
    proto::StripSpec { index: s.index as u32, y0: s.y0, rows: s.rows }
}

fn strip_from_proto(s: Option<proto::StripSpec>) -> Result<Strip, TaskError> {
    let s = s.ok_or_else(|| TaskError::Invalid("missing strip".into()))?;
    Ok(Strip { index: s.index as usize, y0: s.y0, rows: s.rows })
}

fn job_from_proto(s: &str) -> Result<JobId, TaskError> {
    JobId::parse(s).ok_or_else(|| TaskError::Invalid("malformed job id".into()))
}

fn to_status(e: TaskError) -> Status {
    match e {
        TaskError::Busy => Status::resource_exhausted("worker is busy"),
        TaskError::Missing => Status::failed_precondition("strip not held"),
        TaskError::Invalid(m) => Status::invalid_argument(m),
        TaskError::Unavailable(m) => Status::unavailable(m),
    }
}

fn from_status(s: Status) -> TaskError {
    match s.code() {
        tonic::Code::ResourceExhausted => TaskError::Busy,
        tonic::Code::FailedPrecondition => TaskError::Missing,
        tonic::Code::InvalidArgument => TaskError::Invalid(s.message().to_owned()),
        _ => TaskError::Unavailable(format!("{}: {}", s.code(), s.message())),
    }
}

fn optional_pixels(
    bytes: bytes::Bytes,
    depth: histo_core::Depth,
) -> Result<Option<Arc<histo_core::Pixels>>, TaskError> {
    if bytes.is_empty() { Ok(None) } else { Ok(Some(Arc::new(task::pixels_from_bytes(bytes, depth)?))) }
}

/// The gRPC face of a worker.
struct WorkerService {
    core: Arc<WorkerCore>,
}

#[tonic::async_trait]
impl Worker for WorkerService {
    async fn map(&self, request: Request<proto::MapRequest>) -> Result<Response<proto::MapReply>, Status> {
        let r = request.into_inner();
        let spec = spec_from_proto(r.plan).map_err(to_status)?;
        let task = MapTask {
            job: job_from_proto(&r.job_id).map_err(to_status)?,
            spec,
            strip: strip_from_proto(r.strip).map_err(to_status)?,
            data: StripData {
                samples: Arc::new(task::pixels_from_bytes(r.samples, spec.shape.depth).map_err(to_status)?),
                above: optional_pixels(r.above, spec.shape.depth).map_err(to_status)?,
                mask: mask_from_proto(r.mask, r.mask_above),
            },
        };
        let hist = self.core.map(task).await.map_err(to_status)?;
        Ok(Response::new(proto::MapReply { bins: hist.bins }))
    }

    async fn apply(&self, request: Request<proto::ApplyRequest>) -> Result<Response<proto::ApplyReply>, Status> {
        let r = request.into_inner();
        let spec = spec_from_proto(r.plan).map_err(to_status)?;
        let output = if r.png {
            let filter = r.png_filter.parse().map_err(|e: String| Status::invalid_argument(e))?;
            OutputKind::Png { settings: Settings { level: r.png_level.min(9), filter } }
        } else {
            OutputKind::Raw
        };
        let resend = match optional_pixels(r.samples, spec.shape.depth).map_err(to_status)? {
            Some(samples) => Some(StripData {
                samples,
                above: optional_pixels(r.above, spec.shape.depth).map_err(to_status)?,
                mask: mask_from_proto(r.mask, r.mask_above),
            }),
            None => None,
        };
        let task = ApplyTask {
            job: job_from_proto(&r.job_id).map_err(to_status)?,
            spec,
            strip: strip_from_proto(r.strip).map_err(to_status)?,
            last: r.last,
            luts: Arc::new(task::luts_from_bytes(r.luts, spec.shape.depth).map_err(to_status)?),
            output,
            resend,
        };
        let applied = self.core.apply(task).await.map_err(to_status)?;
        let after = applied.after.bins;
        let reply = match applied.output {
            StripOutput::Raw(p) => {
                proto::ApplyReply { data: task::pixels_to_bytes(&Arc::new(p)), adler: 0, len: 0, after }
            }
            StripOutput::Png(e) => proto::ApplyReply { data: e.deflate, adler: e.adler, len: e.len, after },
        };
        Ok(Response::new(reply))
    }

    async fn release(&self, request: Request<proto::ReleaseRequest>) -> Result<Response<proto::ReleaseReply>, Status> {
        let job = job_from_proto(&request.into_inner().job_id).map_err(to_status)?;
        self.core.release(&job);
        Ok(Response::new(proto::ReleaseReply {}))
    }
}

/// Serves `core` on `listener` (with the standard gRPC health service)
/// until `shutdown` resolves; with a `token`, only calls that present it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    core: Arc<WorkerCore>,
    token: Option<Token>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    if token.is_none() {
        tracing::warn!("no cluster token (HISTO_TOKEN or --token-file): this worker's RPC is unauthenticated");
    }
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<WorkerServer<WorkerService>>().await;
    let service = WorkerServer::new(WorkerService { core })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let service = InterceptedService::new(service, RequireToken(token));
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .add_service(health)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Whether the worker at `address` (`host:port`) says it serves, by the
/// standard gRPC health protocol: what `histo healthcheck --grpc` asks, and
/// what any gRPC health probe (Kubernetes' among them) can ask too.
pub async fn is_serving(address: &str, timeout: Duration) -> Result<bool, TaskError> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| TaskError::Invalid(format!("bad worker address '{address}': {e}")))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .map_err(|e| TaskError::Unavailable(format!("cannot connect to {address}: {e}")))?;
    let reply =
        HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await.map_err(from_status)?;
    Ok(reply.into_inner().status == ServingStatus::Serving as i32)
}

/// A master's connection to one remote worker.
#[derive(Clone)]
pub struct RemoteWorker {
    client: WorkerClient<InterceptedService<Channel, PresentToken>>,
}

impl RemoteWorker {
    /// A lazily connected client for the worker at `address` (`host:port`),
    /// presenting `token` on every call.
    pub fn new(address: &str, token: Option<&Token>) -> Result<Self, TaskError> {
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| TaskError::Invalid(format!("bad worker address '{address}': {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        let client = WorkerClient::with_interceptor(endpoint.connect_lazy(), PresentToken::new(token))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        Ok(RemoteWorker { client })
    }

    /// Remote map.
    pub async fn map(&self, task: &MapTask) -> Result<Histograms, TaskError> {
        let (mask, mask_above) = mask_to_proto(task.data.mask.as_ref());
        let request = proto::MapRequest {
            job_id: task.job.to_string(),
            plan: Some(spec_to_proto(&task.spec)),
            strip: Some(strip_to_proto(&task.strip)),
            samples: task::pixels_to_bytes(&task.data.samples),
            above: task.data.above.as_ref().map(task::pixels_to_bytes).unwrap_or_default(),
            mask,
            mask_above,
        };
        let reply = self.client.clone().map(request).await.map_err(from_status)?;
        Ok(Histograms { bins: reply.into_inner().bins })
    }

    /// Remote apply.
    pub async fn apply(&self, task: &ApplyTask) -> Result<Applied, TaskError> {
        let (png, level, filter) = match task.output {
            OutputKind::Png { settings } => (true, settings.level, settings.filter.name().to_owned()),
            OutputKind::Raw => (false, 0, String::new()),
        };
        let (samples, above) = match &task.resend {
            Some(d) => {
                (task::pixels_to_bytes(&d.samples), d.above.as_ref().map(task::pixels_to_bytes).unwrap_or_default())
            }
            None => Default::default(),
        };
        let (mask, mask_above) = mask_to_proto(task.resend.as_ref().and_then(|d| d.mask.as_ref()));
        let request = proto::ApplyRequest {
            job_id: task.job.to_string(),
            plan: Some(spec_to_proto(&task.spec)),
            strip: Some(strip_to_proto(&task.strip)),
            luts: task::luts_to_bytes(&task.luts),
            png,
            png_level: level,
            png_filter: filter,
            last: task.last,
            samples,
            above,
            mask,
            mask_above,
        };
        let reply = self.client.clone().apply(request).await.map_err(from_status)?.into_inner();
        let after = Histograms { bins: reply.after };
        let output = if png {
            StripOutput::Png(EncodedStrip {
                deflate: task::compact_bytes(reply.data),
                adler: reply.adler,
                len: reply.len,
            })
        } else {
            StripOutput::Raw(task::pixels_from_bytes(reply.data, task.spec.shape.depth)?)
        };
        Ok(Applied { output, after })
    }

    /// Remote release (best effort).
    pub async fn release(&self, job: &JobId) {
        let _ = self.client.clone().release(proto::ReleaseRequest { job_id: job.to_string() }).await;
    }
}
