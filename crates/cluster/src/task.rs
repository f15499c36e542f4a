//! The units of work the scheduler hands to workers, independent of how they
//! travel (in-process call or gRPC).

use std::sync::Arc;

use bytes::Bytes;
use histo_codec::png::{self, EncodedStrip};
use histo_core::options::{ClaheParams, MaskApply, Method, Mode, OptionError, Options};
use histo_core::plan::{Luts, Plan};
use histo_core::strips::Strip;
use histo_core::{Depth, Layout, Pixels, Shape};

use crate::record::JobId;

/// The shape of a job, enough for a worker to rebuild its [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanSpec {
    /// The samples workers receive (in the working layout).
    pub shape: Shape,
    pub options: Options,
    /// For a masked job, where its tables go: map counts inside the mask.
    pub mask: Option<MaskApply>,
}

impl PlanSpec {
    /// The plan, as every worker and the master compute it.
    pub fn plan(&self) -> Result<Plan, OptionError> {
        Plan::new(self.shape, self.options)
    }
}

/// A strip's samples (working layout) as sent to a worker, with the row
/// above it, which the PNG encoder filters the strip's first row against.
#[derive(Clone, Debug, PartialEq)]
pub struct StripData {
    pub samples: Arc<Pixels>,
    pub above: Option<Arc<Pixels>>,
    /// A masked job's mask over the same rows.
    pub mask: Option<StripMask>,
}

impl StripData {
    /// Bytes it holds.
    pub fn bytes(&self) -> usize {
        let size = |p: &Pixels| p.len() * p.depth().bytes();
        let mask = self.mask.as_ref().map_or(0, |m| m.inside.len() + m.above.as_ref().map_or(0, Bytes::len));
        size(&self.samples) + self.above.as_deref().map_or(0, size) + mask
    }
}

/// A strip's mask: one flag per pixel (nonzero inside), and the row above
/// it, which the PNG filter needs mapped when only the inside is.
#[derive(Clone, Debug, PartialEq)]
pub struct StripMask {
    pub inside: Bytes,
    pub above: Option<Bytes>,
}

/// Map: count a strip, and keep it for apply.
#[derive(Clone, Debug)]
pub struct MapTask {
    /// The job.
    pub job: JobId,
    /// Its shape.
    pub spec: PlanSpec,
    /// Which rows.
    pub strip: Strip,
    pub data: StripData,
}

/// What apply returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// Mapped samples, for the master to encode.
    Raw,
    /// A PNG piece, compressed on the worker.
    Png {
        /// Compression settings.
        settings: png::Settings,
    },
}

/// Apply: map a strip through the job's tables.
#[derive(Clone, Debug)]
pub struct ApplyTask {
    /// The job.
    pub job: JobId,
    /// Its shape.
    pub spec: PlanSpec,
    /// Which rows.
    pub strip: Strip,
    /// Whether this is the last strip.
    pub last: bool,
    /// The tables.
    pub luts: Arc<Luts>,
    /// What to return.
    pub output: OutputKind,
    /// The strip again (with its row above and, under an inside-only mask,
    /// its mask), when the worker may not hold it.
    pub resend: Option<StripData>,
}

/// A strip's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StripOutput {
    /// Mapped samples.
    Raw(Pixels),
    /// A compressed PNG piece.
    Png(EncodedStrip),
}

/// What apply returns: the strip's output and its histograms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The output.
    pub output: StripOutput,
    /// Counts of the output's equalized planes.
    pub after: histo_core::plan::Histograms,
}

/// Why a task did not complete on a worker.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// Every slot is taken: try later or elsewhere.
    #[error("worker is busy")]
    Busy,
    /// The worker does not hold the strip: send it again.
    #[error("worker does not hold the strip")]
    Missing,
    /// The worker could not be reached or failed: try elsewhere.
    #[error("worker unavailable: {0}")]
    Unavailable(String),
    /// The task itself is wrong: retrying cannot help.
    #[error("invalid task: {0}")]
    Invalid(String),
}

/// Samples as bytes on the wire (16-bit little-endian). The bytes share
/// the samples' memory (on a little-endian machine, 16-bit samples too):
/// nothing is copied until the transport writes them out.
pub fn pixels_to_bytes(p: &Arc<Pixels>) -> Bytes {
    match &**p {
        Pixels::U16(v) if cfg!(target_endian = "big") => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        _ => Bytes::from_owner(WireSamples(p.clone())),
    }
}

/// Samples seen as their wire bytes (8-bit, or 16-bit on little-endian).
struct WireSamples(Arc<Pixels>);

impl AsRef<[u8]> for WireSamples {
    fn as_ref(&self) -> &[u8] {
        match &*self.0 {
            Pixels::U8(v) => v,
            Pixels::U16(v) => bytemuck::cast_slice(v),
        }
    }
}

/// Samples from the wire.
pub fn pixels_from_bytes(bytes: Bytes, depth: Depth) -> Result<Pixels, TaskError> {
    match depth {
        Depth::U8 => Ok(Pixels::U8(compact(bytes.into()))),
        Depth::U16 if bytes.len().is_multiple_of(2) => {
            Ok(Pixels::U16(bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()))
        }
        Depth::U16 => Err(TaskError::Invalid("odd number of bytes for 16-bit samples".into())),
    }
}

/// `v` in an allocation of its own size. Samples taken from a gRPC message
/// may own the whole buffer the message was decoded in, several times
/// their size; a worker holds them until apply, so the rest would be held
/// with them (a worker's strips took 3.5× their bytes).
fn compact(v: Vec<u8>) -> Vec<u8> {
    if v.capacity() > v.len() + v.len() / 16 { v.as_slice().to_vec() } else { v }
}

/// Bytes from a gRPC message that are kept a while (a mask held until
/// apply, a PNG piece waiting to be written), in an allocation of their
/// own size; see [`compact`].
pub fn compact_bytes(b: Bytes) -> Bytes {
    Bytes::from(compact(Vec::from(b)))
}

/// Tables as bytes on the wire.
pub fn luts_to_bytes(l: &Luts) -> Bytes {
    match l {
        Luts::U8(v) => Bytes::copy_from_slice(v),
        Luts::U16(v) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
    }
}

/// Tables from the wire.
pub fn luts_from_bytes(bytes: Bytes, depth: Depth) -> Result<Luts, TaskError> {
    Ok(match pixels_from_bytes(bytes, depth)? {
        Pixels::U8(v) => Luts::U8(v),
        Pixels::U16(v) => Luts::U16(v),
    })
}

/// A layout's wire name.
pub fn layout_name(l: Layout) -> String {
    l.to_string()
}

/// A layout from its wire name.
pub fn layout_from_name(s: &str) -> Result<Layout, TaskError> {
    [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba]
        .into_iter()
        .find(|l| l.to_string() == s)
        .ok_or_else(|| TaskError::Invalid(format!("unknown layout '{s}'")))
}

/// Options from their wire fields.
pub fn options_from_parts(mode: &str, method: &str, clip_limit: f64, tiles: (u32, u32)) -> Result<Options, TaskError> {
    let invalid = |e: OptionError| TaskError::Invalid(e.to_string());
    let mode: Mode = mode.parse().map_err(invalid)?;
    let method = match Method::from_name(method).map_err(invalid)? {
        Method::Global => Method::Global,
        Method::Clahe(_) => {
            let p = ClaheParams { clip_limit, tiles_x: tiles.0, tiles_y: tiles.1 };
            p.validate().map_err(invalid)?;
            Method::Clahe(p)
        }
    };
    Ok(Options { mode, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_from_a_large_buffer_keep_only_their_own_bytes() {
        let mut buffer = Vec::with_capacity(1 << 20);
        buffer.extend_from_slice(&[9u8; 1000]);
        let Pixels::U8(samples) = pixels_from_bytes(Bytes::from(buffer), Depth::U8).unwrap() else { unreachable!() };
        assert_eq!((samples.len(), samples.capacity()), (1000, 1000));
        let exact = Vec::from([1u8; 64]);
        let pointer = exact.as_ptr();
        let kept = compact(exact);
        assert_eq!(kept.as_ptr(), pointer, "an exact vector is kept, not copied");
    }

    #[test]
    fn samples_cross_the_wire_unchanged() {
        for pixels in [Pixels::U8(vec![0, 1, 254, 255]), Pixels::U16(vec![0, 1, 0x1234, 0xfedc, 65535])] {
            let depth = pixels.depth();
            let shared = Arc::new(pixels.clone());
            let wire = pixels_to_bytes(&shared);
            assert_eq!(wire.len(), pixels.len() * if depth == Depth::U8 { 1 } else { 2 });
            assert_eq!(pixels_from_bytes(wire, depth).unwrap(), pixels);
        }
        let wire = pixels_to_bytes(&Arc::new(Pixels::U16(vec![0x0102])));
        assert_eq!(&wire[..], &[2, 1], "16-bit samples travel little-endian");
        assert!(pixels_from_bytes(Bytes::from_static(&[1, 2, 3]), Depth::U16).is_err());
    }
}
