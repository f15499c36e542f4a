//! Where a job's applied strips go. PNG pieces and TIFF and JPEG rows go to
//! a writer thread that writes them in order as they come back, holding
//! only those that came early; the other formats' samples go into the
//! output image, encoded once every strip is in.
//!
//! A writer slower than the workers (a compressed TIFF, a JPEG) holds the
//! apply phase back: once [`WRITE_BACKLOG`] strips wait for it, and the one
//! it needs next is among them, taking a strip waits for the writer, so
//! that strips do not pile up in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::mpsc::{Receiver, Sender};

use histo_codec::png;
use histo_codec::{EncodeSettings, Format, jpeg_writer, tiff_writer};
use histo_core::plan::Plan;
use histo_core::strips;
use histo_core::{Depth, Image, Pixels, Shape};

use super::blocking;
use crate::error::{RunError, failed, failed_by};
use crate::task::StripOutput;

/// Strips given to the writer and not yet written, past which taking one
/// waits for the writer.
const WRITE_BACKLOG: usize = 8;

/// Where applied strips go.
pub(super) enum Sink<W> {
    /// A writer thread that writes strips in order as they come.
    Ordered {
        strips: Sender<(usize, StripOutput)>,
        backlog: Backlog,
        writer: tokio::task::JoinHandle<Result<(W, u64), RunError>>,
    },
    /// Samples gathered into the output image, encoded at the end.
    Raw(Box<RawSink<W>>),
}

/// The raw side of a [`Sink`].
pub(super) struct RawSink<W> {
    plan: Plan,
    strips: Vec<strips::Strip>,
    format: Format,
    settings: EncodeSettings,
    pixels: Pixels,
    out: W,
    wrong: bool,
}

impl<W: Write + Seek + Send + 'static> Sink<W> {
    pub(super) fn start(
        plan: &Plan,
        strips: &[strips::Strip],
        format: Format,
        settings: EncodeSettings,
        out: W,
    ) -> Self {
        let shape = plan.output_shape();
        let count = strips.len();
        let (sender, arriving) = std::sync::mpsc::channel::<(usize, StripOutput)>();
        let (progress, written) = tokio::sync::watch::channel(0);
        let in_order = InOrder { arriving, early: BTreeMap::new(), next: 0, count, progress };
        let writer = match format {
            Format::Png => tokio::task::spawn_blocking(move || write_png(out, &shape, in_order)),
            Format::Tiff | Format::Jpeg => {
                let sizes = strips.iter().map(|s| s.rows as usize * shape.row_len()).collect();
                tokio::task::spawn_blocking(move || write_rows(out, format, &settings, &shape, sizes, in_order))
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
        Sink::Ordered { strips: sender, backlog: Backlog { written, given: BTreeSet::new() }, writer }
    }

    /// Takes strip `index`'s output; the future returned ends when the
    /// writer has room for more.
    pub(super) fn push(&mut self, index: usize, output: StripOutput) -> impl Future<Output = ()> + Send + use<W> {
        let mut room = None;
        match (self, output) {
            (Sink::Ordered { strips, backlog, .. }, output) => {
                // A closed channel means the writer failed: finish() reports it.
                if strips.send((index, output)).is_ok() {
                    backlog.given.insert(index);
                    room = Some(backlog.room());
                }
            }
            (Sink::Raw(raw), StripOutput::Raw(strip)) => raw.take(index, strip),
            (Sink::Raw(raw), StripOutput::Png(_)) => raw.wrong = true,
        }
        async move {
            if let Some(room) = room {
                room.await;
            }
        }
    }

    /// The output, complete: its writer and the bytes written.
    pub(super) async fn finish(self) -> Result<(W, u64), RunError> {
        match self {
            Sink::Ordered { strips, writer, .. } => {
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
        if let Sink::Ordered { strips, writer, .. } = self {
            drop(strips);
            let _ = writer.await;
        }
    }
}

/// The strips given to the writer that it has not written yet.
pub(super) struct Backlog {
    /// How many strips the writer has written (it writes them in order).
    written: tokio::sync::watch::Receiver<usize>,
    /// Strips given, from the first not yet written.
    given: BTreeSet<usize>,
}

impl Backlog {
    /// A wait while more than [`WRITE_BACKLOG`] strips wait and the writer
    /// has the next ones it needs: it ends when the writer has caught up to
    /// the limit, or written all it has up to a gap (a strip still out on a
    /// worker), so that the strip filling the gap can come in.
    fn room(&mut self) -> impl Future<Output = ()> + Send + use<> {
        let written = *self.written.borrow();
        self.given = self.given.split_off(&written);
        let run = self.given.iter().zip(written..).take_while(|(given, next)| **given == *next).count();
        let target = written + self.given.len().saturating_sub(WRITE_BACKLOG).min(run);
        let mut progress = self.written.clone();
        async move {
            if target > written {
                // An error means the writer ended: finish() reports how.
                let _ = progress.wait_for(|w| *w >= target).await;
            }
        }
    }
}

impl<W> RawSink<W> {
    /// Puts strip `index`'s samples in place.
    fn take(&mut self, index: usize, strip: Pixels) {
        let Some(range) = self.strips.get(index).map(|s| s.sample_range(self.plan.row_len())) else {
            self.wrong = true;
            return;
        };
        match (&mut self.pixels, strip) {
            (Pixels::U8(all), Pixels::U8(s)) if s.len() == range.len() => all[range].copy_from_slice(&s),
            (Pixels::U16(all), Pixels::U16(s)) if s.len() == range.len() => all[range].copy_from_slice(&s),
            _ => self.wrong = true,
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
    settings: &EncodeSettings,
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
        Format::Jpeg => jpeg_writer::write(&mut buffered, shape, settings.jpeg_quality, rows),
        _ => tiff_writer::write(&mut buffered, shape, settings.tiff, rows),
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
/// early wait here. Asking for a strip says that those before it are
/// written.
struct InOrder {
    arriving: Receiver<(usize, StripOutput)>,
    early: BTreeMap<usize, StripOutput>,
    next: usize,
    count: usize,
    progress: tokio::sync::watch::Sender<usize>,
}

impl InOrder {
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
        self.progress.send_replace(self.next);
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

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn backlog(given: impl IntoIterator<Item = usize>) -> (tokio::sync::watch::Sender<usize>, Backlog) {
        let (progress, written) = tokio::sync::watch::channel(0);
        (progress, Backlog { written, given: given.into_iter().collect() })
    }

    #[tokio::test]
    async fn a_full_backlog_waits_until_the_writer_is_back_under_the_limit() {
        let (progress, mut backlog) = backlog(0..WRITE_BACKLOG + 2);
        let mut room = Box::pin(backlog.room());
        assert!((&mut room).now_or_never().is_none());
        progress.send_replace(1);
        tokio::task::yield_now().await;
        assert!((&mut room).now_or_never().is_none());
        progress.send_replace(2);
        tokio::time::timeout(std::time::Duration::from_secs(5), room).await.unwrap();
        assert!(backlog.room().now_or_never().is_some(), "8 waiting is within the limit");
    }

    #[tokio::test]
    async fn a_gap_never_waits_and_a_run_waits_only_for_itself() {
        // Strip 0 is still out: the writer can do nothing, so nothing waits.
        let (_progress, mut gap) = backlog(1..WRITE_BACKLOG + 5);
        assert!(gap.room().now_or_never().is_some());
        // Strips 0..3 are in, then a gap: the wait ends once those 3 are written.
        let (progress, mut run) = backlog((0..3).chain(4..WRITE_BACKLOG + 6));
        let mut room = Box::pin(run.room());
        progress.send_replace(2);
        tokio::task::yield_now().await;
        assert!((&mut room).now_or_never().is_none());
        progress.send_replace(3);
        tokio::time::timeout(std::time::Duration::from_secs(5), room).await.unwrap();
    }
}
