//! Where a job's applied strips go. PNG pieces and TIFF and JPEG rows go to
//! a writer thread that writes them in order as they come back, holding
//! only those that came early; the other formats' samples go into the
//! output image, encoded once every strip is in.

use std::collections::BTreeMap;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::mpsc::{Receiver, Sender};

use histo_codec::png;
use histo_codec::{Format, jpeg_writer, tiff_writer};
use histo_core::plan::Plan;
use histo_core::strips;
use histo_core::{Depth, Image, Pixels, Shape};

use super::blocking;
use crate::error::{RunError, failed, failed_by};
use crate::task::StripOutput;

/// Where applied strips go.
pub(super) enum Sink<W> {
    /// A writer thread that writes strips in order as they come.
    Ordered { strips: Sender<(usize, StripOutput)>, writer: tokio::task::JoinHandle<Result<(W, u64), RunError>> },
    /// Samples gathered into the output image, encoded at the end.
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
        let shape = plan.output_shape();
        let count = strips.len();
        let (sender, arriving) = std::sync::mpsc::channel::<(usize, StripOutput)>();
        let writer = match format {
            Format::Png => tokio::task::spawn_blocking(move || write_png(out, &shape, InOrder::new(arriving, count))),
            Format::Tiff | Format::Jpeg => {
                let sizes = strips.iter().map(|s| s.rows as usize * shape.row_len()).collect();
                tokio::task::spawn_blocking(move || {
                    write_rows(out, format, &shape, sizes, InOrder::new(arriving, count))
                })
            }
            _ => {
                let samples = plan.height() as usize * plan.row_len();
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
        };
        Sink::Ordered { strips: sender, writer }
    }

    /// Takes strip `index`'s output.
    pub(super) fn push(&mut self, index: usize, output: StripOutput) {
        match (self, output) {
            // A closed channel means the writer failed: finish() reports it.
            (Sink::Ordered { strips, .. }, output) => drop(strips.send((index, output))),
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
            (Sink::Raw(raw), StripOutput::Png(_)) => raw.wrong = true,
        }
    }

    /// The output, complete: its writer and the bytes written.
    pub(super) async fn finish(self) -> Result<(W, u64), RunError> {
        match self {
            Sink::Ordered { strips, writer } => {
                drop(strips);
                writer.await.map_err(|e| failed_by("the output's writer ended", e))?
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
        if let Sink::Ordered { strips, writer } = self {
            drop(strips);
            let _ = writer.await;
        }
    }
}

/// Writes PNG pieces in order: the bytes written.
fn write_png<W: Write>(out: W, shape: &Shape, mut strips: InOrder) -> Result<(W, u64), RunError> {
    let counted = Counted { out: io::BufWriter::with_capacity(1 << 20, out), written: 0 };
    let mut png = png::Writer::start(counted, shape).map_err(write_failed)?;
    for output in strips.by_ref() {
        let StripOutput::Png(piece) = output else {
            return Err(failed("a worker returned raw samples for a PNG piece"));
        };
        png.push(&piece).map_err(write_failed)?;
    }
    strips.check()?;
    let counted = png.finish().map_err(write_failed)?;
    let out = counted.out.into_inner().map_err(|e| write_failed(e.into_error()))?;
    Ok((out, counted.written))
}

/// Writes TIFF or JPEG rows in order, strip `i` of `sizes[i]` samples: the
/// bytes written.
fn write_rows<W: Write + Seek>(
    mut out: W,
    format: Format,
    shape: &Shape,
    sizes: Vec<usize>,
    mut strips: InOrder,
) -> Result<(W, u64), RunError> {
    let start = out.stream_position().map_err(write_failed)?;
    let mut buffered = io::BufWriter::with_capacity(1 << 20, &mut out);
    let mut wrong = false;
    let rows = strips.by_ref().zip(sizes).map_while(|(output, size)| match output {
        StripOutput::Raw(pixels) if pixels.len() == size => Some(pixels),
        _ => {
            wrong = true;
            None
        }
    });
    let written = match format {
        Format::Jpeg => jpeg_writer::write(&mut buffered, shape, histo_codec::encode::JPEG_QUALITY, rows),
        _ => tiff_writer::write(&mut buffered, shape, rows),
    };
    if wrong {
        return Err(failed("a worker returned a strip of the wrong kind or size"));
    }
    strips.check()?;
    written.map_err(|e| failed_by("cannot encode the output", e))?;
    buffered.flush().map_err(write_failed)?;
    drop(buffered);
    let end = out.seek(SeekFrom::End(0)).map_err(write_failed)?;
    Ok((out, end - start))
}

/// Strips as they arrive, given back in index order; those that come
/// early wait here.
struct InOrder {
    arriving: Receiver<(usize, StripOutput)>,
    early: BTreeMap<usize, StripOutput>,
    next: usize,
    count: usize,
}

impl InOrder {
    fn new(arriving: Receiver<(usize, StripOutput)>, count: usize) -> Self {
        InOrder { arriving, early: BTreeMap::new(), next: 0, count }
    }

    /// Fails unless every strip came back.
    fn check(&self) -> Result<(), RunError> {
        if self.next == self.count {
            Ok(())
        } else {
            Err(failed(format!("{} of {} strips came back", self.next, self.count)))
        }
    }
}

impl Iterator for InOrder {
    type Item = StripOutput;

    fn next(&mut self) -> Option<StripOutput> {
        loop {
            if let Some(output) = self.early.remove(&self.next) {
                self.next += 1;
                return Some(output);
            }
            let (index, output) = self.arriving.recv().ok()?;
            self.early.insert(index, output);
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
