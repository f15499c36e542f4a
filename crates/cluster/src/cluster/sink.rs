//! Where a job's applied strips go: PNG pieces to a writer thread that
//! lays them out in order as they come back, or raw samples into the output
//! image, encoded once every strip is in.

use std::collections::BTreeMap;
use std::io::{self, Seek, Write};

use histo_codec::Format;
use histo_codec::png::{self, EncodedStrip};
use histo_core::plan::Plan;
use histo_core::strips;
use histo_core::{Depth, Image, Pixels};

use super::blocking;
use crate::error::{RunError, failed, failed_by};
use crate::task::StripOutput;

/// Where applied strips go: PNG pieces to a writer thread that lays them
/// out in order as they come; raw samples into the output image, encoded
/// once every strip is in.
pub(super) enum Sink<W> {
    Png {
        pieces: std::sync::mpsc::Sender<(usize, EncodedStrip)>,
        writer: tokio::task::JoinHandle<Result<(W, u64), RunError>>,
        wrong: bool,
    },
    Raw(Box<RawSink<W>>),
}

/// The raw side of a [`Sink`].
pub(super) struct RawSink<W> {
    plan: Plan,
    strips: Vec<strips::Strip>,
    format: Format,
    settings: png::Settings,
    pixels: Pixels,
    out: W,
    wrong: bool,
}

impl<W: Write + Seek + Send + 'static> Sink<W> {
    pub(super) fn start(
        plan: &Plan,
        strips: &[strips::Strip],
        format: Format,
        settings: png::Settings,
        out: W,
    ) -> Self {
        let samples = plan.height() as usize * plan.row_len();
        if format != Format::Png {
            let pixels = match plan.depth() {
                Depth::U8 => Pixels::U8(vec![0; samples]),
                Depth::U16 => Pixels::U16(vec![0; samples]),
            };
            return Sink::Raw(Box::new(RawSink {
                plan: plan.clone(),
                strips: strips.to_vec(),
                format,
                settings,
                pixels,
                out,
                wrong: false,
            }));
        }
        let shape = plan.output_shape();
        let count = strips.len();
        let (pieces, arriving) = std::sync::mpsc::channel::<(usize, EncodedStrip)>();
        let writer = tokio::task::spawn_blocking(move || {
            let counted = Counted { out: io::BufWriter::with_capacity(1 << 20, out), written: 0 };
            let mut png = png::Writer::start(counted, &shape).map_err(write_failed)?;
            let mut early = BTreeMap::new();
            let mut next = 0;
            for (i, piece) in arriving {
                early.insert(i, piece);
                while let Some(piece) = early.remove(&next) {
                    png.push(&piece).map_err(write_failed)?;
                    next += 1;
                }
            }
            if next != count {
                return Err(failed(format!("{} of {count} strips came back", next)));
            }
            let counted = png.finish().map_err(write_failed)?;
            let out = counted.out.into_inner().map_err(|e| write_failed(e.into_error()))?;
            Ok((out, counted.written))
        });
        Sink::Png { pieces, writer, wrong: false }
    }

    /// Takes strip `index`'s output.
    pub(super) fn push(&mut self, index: usize, output: StripOutput) {
        match (self, output) {
            // A closed channel means the writer failed: finish() reports it.
            (Sink::Png { pieces, .. }, StripOutput::Png(piece)) => drop(pieces.send((index, piece))),
            (Sink::Raw(raw), StripOutput::Raw(strip)) => {
                let RawSink { plan, strips, pixels, wrong, .. } = &mut **raw;
                let Some(range) = strips.get(index).map(|s| s.sample_range(plan.row_len())) else {
                    *wrong = true;
                    return;
                };
                match (pixels, strip) {
                    (Pixels::U8(all), Pixels::U8(s)) if s.len() == range.len() => all[range].copy_from_slice(&s),
                    (Pixels::U16(all), Pixels::U16(s)) if s.len() == range.len() => all[range].copy_from_slice(&s),
                    _ => *wrong = true,
                }
            }
            (Sink::Png { wrong, .. }, _) => *wrong = true,
            (Sink::Raw(raw), _) => raw.wrong = true,
        }
    }

    /// The output, complete: its writer and the bytes written.
    pub(super) async fn finish(self) -> Result<(W, u64), RunError> {
        match self {
            Sink::Png { pieces, writer, wrong } => {
                drop(pieces);
                let written = writer.await.map_err(|e| failed_by("the output's writer ended", e))?;
                if wrong {
                    return Err(failed("a worker returned raw samples for a PNG piece"));
                }
                written
            }
            Sink::Raw(raw) => {
                let RawSink { plan, format, settings, pixels, mut out, wrong, .. } = *raw;
                if wrong {
                    return Err(failed("a worker returned a strip of the wrong kind or size"));
                }
                blocking(move || {
                    let image = Image::new(plan.width(), plan.height(), plan.output_layout(), pixels)
                        .map_err(|e| failed_by("the applied strips do not make the image", e))?;
                    let start = out.stream_position().map_err(write_failed)?;
                    histo_codec::encode(&image, format, &settings, &mut out)
                        .map_err(|e| failed_by("cannot encode the output", e))?;
                    let end = out.stream_position().map_err(write_failed)?;
                    Ok((out, end - start))
                })
                .await?
            }
        }
    }

    /// Stops a sink whose job failed.
    pub(super) async fn abandon(self) {
        if let Sink::Png { pieces, writer, .. } = self {
            drop(pieces);
            let _ = writer.await;
        }
    }
}

/// A writer that counts what goes through it.
struct Counted<W> {
    out: W,
    written: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_failed(e: io::Error) -> RunError {
    failed_by("cannot write the output", e)
}
