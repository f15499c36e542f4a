//! `histo-bench`: times the equalization kernels on raw 8-bit gray pixels,
//! for `scripts/bench` to set beside OpenCV on the same bytes.
//!
//! The kernel is what `cv2.equalizeHist` / `CLAHE.apply` do: histograms,
//! tables and mapping of an image already in memory; no decoding or
//! encoding. Prints one JSON line with the best of `--repeat` runs.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Parser;
use histo_core::options::{ClaheParams, Method, Mode, Options};
use histo_core::plan::{Plan, Samples, SamplesMut};
use histo_core::strips::Strip;
use histo_core::{Depth, Image, Layout, Pixels, Shape};

#[derive(Parser)]
struct Args {
    /// Raw 8-bit gray pixels, row-major.
    #[arg(long)]
    raw: std::path::PathBuf,
    #[arg(long)]
    width: u32,
    #[arg(long)]
    height: u32,
    /// `global` or `clahe` (clip limit 2, 8x8 tiles).
    #[arg(long, default_value = "global")]
    method: String,
    /// 1 runs the kernel on this thread in one strip; more uses the local
    /// engine's strips on a pool of that size.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 5)]
    repeat: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let data = std::fs::read(&args.raw).with_context(|| format!("cannot read {}", args.raw.display()))?;
    ensure!(data.len() == args.width as usize * args.height as usize, "raw size does not match WxH");
    let method = match args.method.as_str() {
        "clahe" => Method::Clahe(ClaheParams::default()),
        _ => Method::Global,
    };
    let options = Options { mode: Mode::Gray, method };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads).build()?;
    let mut best = f64::INFINITY;
    let mut work = data.clone();
    for _ in 0..args.repeat {
        work.copy_from_slice(&data);
        let start = Instant::now();
        if args.threads == 1 {
            single_strip(&mut work, args.width, args.height, options)?;
        } else {
            let image = Image::new(args.width, args.height, Layout::Gray, Pixels::U8(std::mem::take(&mut work)))?;
            let out = pool.install(|| histo_core::local::equalize(image, options))?;
            let (_, _, _, Pixels::U8(v)) = out.into_parts() else { unreachable!() };
            work = v;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let mpix = f64::from(args.width) * f64::from(args.height) / 1e6;
    println!(
        "{{\"method\": \"{}\", \"threads\": {}, \"best_s\": {best:.6}, \"mpix_per_s\": {:.1}, \"checksum\": {}}}",
        args.method,
        args.threads,
        mpix / best,
        work.iter().map(|&b| u64::from(b)).sum::<u64>()
    );
    Ok(())
}

/// Map, reduce and apply over the whole image as one strip, on this thread.
fn single_strip(data: &mut [u8], width: u32, height: u32, options: Options) -> Result<()> {
    let plan = Plan::new(Shape { width, height, layout: Layout::Gray, depth: Depth::U8 }, options)?;
    let strip = Strip { index: 0, y0: 0, rows: height };
    let hist = plan.map(strip, Samples::U8(data))?;
    let luts = plan.reduce(&hist);
    plan.apply(strip, SamplesMut::U8(data), &luts)?;
    Ok(())
}
