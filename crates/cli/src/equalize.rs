//! `histo equalize`: one job per image, with this process as its master:
//! on in-process workers (one per core) by default, or with `--zk` on the
//! workers registered in ZooKeeper. Several images are a batch
//! ([`crate::batch`]), their outputs named by [`crate::targets`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use histo_cluster::Admission;
use histo_cluster::{Cluster, Counted, JobSpec, Role, RunError, ZkConfig};
use histo_codec::{EncodeSettings, Format, Input, Limits};
use histo_core::options::{self, Method, Mode, OptionError, Options};

use crate::encode_args::EncodeArgs;
use crate::io_paths::{OutputFile, check_input, is_stdio, write_output};
use crate::mask_args::MaskArgs;
use crate::match_args::MatchArgs;
use crate::stdin_spool::{self, StdinInput};
use crate::targets::{BatchArgs, Target, Targets};
use crate::token_args::TokenArgs;
use crate::zk_args::ZkArgs;
use crate::{batch, shared_table};

/// Bytes of strips local workers keep by default: an image of up to this
/// many samples (bytes at 8 bits) is decoded once; a larger one twice, in
/// this much memory.
const LOCAL_HELD_BYTES: usize = 32 << 20;

/// Arguments of `histo equalize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input images (PNG, JPEG, TIFF, BMP or WebP), or `-` for standard
    /// input. A quoted pattern (`'slides/*.tif'`) names the files it
    /// matches. Several inputs need --out-dir.
    #[arg(value_name = "IN", required_unless_present = "from_list")]
    input: Vec<PathBuf>,

    /// Output image, or `-` for standard output, for one input. Its
    /// extension picks the format unless --format is given.
    #[arg(short, long, value_name = "OUT", required_unless_present = "out_dir", conflicts_with = "out_dir")]
    output: Option<PathBuf>,

    #[command(flatten)]
    batch: BatchArgs,

    /// What to equalize: `gray` (colour is converted to gray), `luma` (Y of
    /// YCbCr, chroma kept), `rgb` (each channel on its own), `lab` (CIE L*,
    /// a* and b* kept), `hsv` (V, hue and saturation kept), `hsl` (L, hue
    /// and saturation kept), or `auto` (gray for gray input, luma for
    /// colour).
    #[arg(long, env = "HISTO_MODE", default_value = "auto", value_parser = parse_mode)]
    mode: Mode,

    /// `global` (classic equalization, bit-exact with OpenCV equalizeHist on
    /// 8-bit) or `clahe` (contrast-limited adaptive).
    #[arg(long, env = "HISTO_METHOD", default_value = "global", value_parser = ["global", "clahe"])]
    method: String,

    /// CLAHE clip limit, as in OpenCV's createCLAHE (0 disables clipping;
    /// default 2). Refused with the global method.
    #[arg(long, env = "HISTO_CLIP_LIMIT", value_parser = parse_clip_limit)]
    clip_limit: Option<f64>,

    /// CLAHE tile grid, COLSxROWS (default 8x8). Refused with the global
    /// method.
    #[arg(long, env = "HISTO_TILES", value_parser = parse_tiles)]
    tiles: Option<(u32, u32)>,

    /// Output format, overriding the output's extension: png, jpeg, tiff,
    /// bmp or webp.
    #[arg(long, env = "HISTO_FORMAT", value_parser = parse_format)]
    format: Option<Format>,

    #[command(flatten)]
    matching: MatchArgs,

    #[command(flatten)]
    mask: MaskArgs,

    #[command(flatten)]
    encode: EncodeArgs,

    /// In-process workers (default: one per core). Ignored with --zk.
    #[arg(long, env = "HISTO_THREADS")]
    threads: Option<usize>,

    /// Most bytes of strips the in-process workers keep between map and
    /// apply, all jobs together; past it the oldest are decoded again from
    /// the input for their apply, so that memory does not grow with the
    /// image. Ignored with --zk (each worker has its own).
    #[arg(long, env = "HISTO_MAX_HELD_BYTES", default_value_t = LOCAL_HELD_BYTES)]
    max_held_bytes: usize,

    /// Rows per strip, at most: the unit of work a worker gets (default:
    /// about a million samples). Any strip size gives the same pixels; a
    /// PNG's bytes depend on it, its pieces being compressed per strip.
    #[arg(long, env = "HISTO_STRIP_ROWS", value_parser = clap::value_parser!(u32).range(1..))]
    strip_rows: Option<u32>,

    #[command(flatten)]
    zk: ZkArgs,

    /// With --zk: the cluster's token, presented to workers that demand it.
    #[command(flatten)]
    token: TokenArgs,

    #[command(flatten)]
    limits: LimitArgs,
}

/// Decoding limits, shared by every command that reads images.
#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// Largest input accepted, in bytes.
    #[arg(long, env = "HISTO_MAX_INPUT_BYTES", default_value_t = Limits::CLI.max_input_bytes)]
    max_input_bytes: u64,

    /// Widest image accepted, in pixels.
    #[arg(long, env = "HISTO_MAX_WIDTH", default_value_t = Limits::CLI.max_width)]
    max_width: u32,

    /// Tallest image accepted, in pixels.
    #[arg(long, env = "HISTO_MAX_HEIGHT", default_value_t = Limits::CLI.max_height)]
    max_height: u32,

    /// Most pixels (width × height) accepted in an image read a strip at a
    /// time (PNG, JPEG and most TIFF from a file), whose memory does not
    /// grow with it.
    #[arg(long, env = "HISTO_MAX_PIXELS", default_value_t = Limits::CLI.max_pixels)]
    max_pixels: u64,

    /// Most pixels accepted in an image that must be decoded whole (WebP,
    /// BMP, interlaced PNG, CMYK JPEG, TIFF that needs a conversion), whose
    /// memory grows with it.
    #[arg(long, env = "HISTO_MAX_WHOLE_PIXELS", default_value_t = Limits::CLI.max_whole_pixels)]
    max_whole_pixels: u64,
}

impl LimitArgs {
    /// The limits as the codec takes them.
    pub fn limits(&self) -> Limits {
        Limits {
            max_input_bytes: self.max_input_bytes,
            max_width: self.max_width,
            max_height: self.max_height,
            max_pixels: self.max_pixels,
            max_whole_pixels: self.max_whole_pixels,
        }
    }
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse().map_err(|e: options::OptionError| e.to_string())
}

fn parse_clip_limit(s: &str) -> Result<f64, String> {
    options::parse_clip_limit(s).map_err(|e| e.to_string())
}

fn parse_tiles(s: &str) -> Result<(u32, u32), String> {
    options::parse_tiles(s).map_err(|e| e.to_string())
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: histo_codec::format::UnknownFormat| e.to_string())
}

impl Args {
    fn options(&self) -> Result<Options, OptionError> {
        let method = Method::with_settings(Some(&self.method), self.clip_limit, self.tiles)?;
        Ok(Options { mode: self.mode, method })
    }
}

/// Runs `histo equalize`.
pub async fn run(args: Args) -> Result<()> {
    let limits = args.limits.limits();
    let options = args.options().map_err(RunError::Options)?;
    let reference = args.matching.reference(&limits)?;
    let mask = args.mask.mask(&limits)?;
    // Every output name is checked before the work, not after it.
    let targets = args.batch.targets(&args.input, args.output.as_deref(), args.format)?;
    let spec = JobSpec {
        options,
        format: None,
        encode: args.encode.settings(EncodeSettings::default()),
        limits,
        request_id: None,
        reference,
        mask,
        strip_rows: args.strip_rows,
        shared: None,
    };
    let jobs = match &targets {
        Targets::One(..) => 1,
        Targets::Batch(list) => args.batch.jobs().min(list.len()),
    };
    let cluster = connect(&args, jobs).await?;
    let result = match targets {
        Targets::One(target) => equalize_one(&cluster, target, spec).await,
        Targets::Batch(list) => run_batch(&cluster, list, spec, jobs, &args.batch).await,
    };
    cluster.close().await;
    result
}

/// A batch: each image equalized on its own, or with `--shared-table`
/// counted first and then equalized with the sum of the counts.
async fn run_batch(cluster: &Cluster, list: Vec<Target>, spec: JobSpec, jobs: usize, args: &BatchArgs) -> Result<()> {
    let (total, keep_going) = (list.len(), args.keep_going());
    let (list, spec, mut failures) = if args.shared_table() {
        let count = |target: Target| count_one(cluster, target, spec.clone());
        let counted = batch::run("counted", list, jobs, keep_going, count).await;
        if counted.stopped(keep_going) || counted.done.is_empty() {
            return batch::outcome(counted.failures, total);
        }
        let shared = shared_table::sum(&counted.done, &spec.options).map_err(RunError::Options)?;
        let list = counted.done.into_iter().map(|(target, _)| target).collect();
        (list, JobSpec { shared: Some(Arc::new(shared)), ..spec }, counted.failures)
    } else {
        (list, spec, Vec::new())
    };
    let equalize = |target: Target| equalize_one(cluster, target, spec.clone());
    failures.extend(batch::run("equalized", list, jobs, keep_going, equalize).await.failures);
    batch::outcome(failures, total)
}

/// The cluster the jobs run on: in-process workers, or with `--zk` the
/// registered ones; `jobs` of them at once.
async fn connect(args: &Args, jobs: usize) -> Result<Cluster> {
    let admission = Admission { max_running: jobs, max_waiting: 0 };
    Ok(match args.zk.config()? {
        Some(config) => {
            let config = ZkConfig { rpc_token: args.token.read()?, ..config };
            let cluster = Cluster::zookeeper(config, Role::Client, admission, histo_server::logged_bus()).await?;
            // The worker list arrives just after connecting.
            cluster.wait_for_workers(Duration::from_secs(3)).await;
            cluster
        }
        None => {
            let workers = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            Cluster::embedded_holding(workers, args.max_held_bytes, admission, histo_server::logged_bus())?
        }
    })
}

/// An input's name for messages, and the input: a file is read as it is
/// decoded, never whole; standard input is spooled first (see
/// [`stdin_spool`]), and the third value keeps its file until the job is
/// done.
fn open_input(input: &Path, limits: &Limits) -> Result<(String, Input, Option<StdinInput>)> {
    if is_stdio(input) {
        let name = "standard input".to_owned();
        let spooled = stdin_spool::spool(io::stdin().lock(), limits).with_context(|| format!("cannot read {name}"))?;
        return Ok((name, spooled.input.clone(), Some(spooled)));
    }
    let name = input.display().to_string();
    check_input(input, limits).with_context(|| format!("cannot read {name}"))?;
    let image = Input::file(input).with_context(|| format!("cannot read {name}"))?;
    Ok((name, image, None))
}

/// Counts one image of a batch with a shared table.
async fn count_one(cluster: &Cluster, target: Target, spec: JobSpec) -> Result<Counted> {
    let (name, image, _spool) = open_input(&target.input, &spec.limits)?;
    cluster.count(image, spec).await.with_context(|| format!("cannot count {name}"))
}

/// Equalizes one image into its output, which appears only once complete.
async fn equalize_one(cluster: &Cluster, target: Target, spec: JobSpec) -> Result<()> {
    let started = Instant::now();
    let Target { input, output, format } = target;
    let (name, image, _spool) = open_input(&input, &spec.limits)?;
    let spec = JobSpec { format, ..spec };
    let id = if is_stdio(&output) {
        let written = cluster.run(image, spec).await.with_context(|| format!("cannot equalize {name}"))?;
        write_output(&output, &written.bytes)?;
        written.id
    } else {
        // Written as the job makes it, under a temporary name.
        let file = OutputFile::create(&output)?;
        let written =
            cluster.run_to(image, spec, file.handle()?).await.with_context(|| format!("cannot equalize {name}"))?;
        file.commit()?;
        written.id
    };
    if let Some(record) = cluster.job(&id) {
        let t = &record.timings;
        tracing::info!(
            input = %name, width = record.width, height = record.height, layout = %record.layout,
            mode = %record.mode, method = %record.method, format = %record.format, decode_ms = t.decode_ms,
            map_ms = t.map_ms, apply_ms = t.apply_ms, encode_ms = t.encode_ms,
            total_ms = started.elapsed().as_millis(), "equalized"
        );
    }
    Ok(())
}
