//! Where a job's strips come from on the master, so that it never holds the
//! whole image when it need not.
//!
//! A PNG, a JPEG or a TIFF is decoded in order as the map phase sends its strips (a few
//! strips ahead, so decoding overlaps sending); a strip is held only until
//! its map result is in, after which the worker that mapped it keeps it for
//! apply. A strip needed again (its worker is gone or stuck or dropped it to
//! stay within its memory, and apply runs elsewhere) is decoded again from
//! the input by a second reader. A PNG or JPEG reader only moves forward: it keeps
//! the last row it gave (the row above the next strip) and the few strips
//! it decoded on its way to a later one, so a run of resends in about
//! strip order costs one pass, not a pass per strip.
//! A TIFF reader reads any band, so it neither keeps nor starts over.
//! Other formats (interlaced PNG, CMYK JPEG, WebP, BMP, TIFF that needs a
//! conversion) are decoded whole, and strips are copied out of that image
//! as they are sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use histo_codec::DecodeError;
use histo_codec::stream::{Opened, StripReader};
use histo_core::Pixels;
use histo_core::plan::{Plan, Samples};
use histo_core::strips::Strip;

use crate::task::{StripData, TaskError};

/// Strips decoded ahead of the map phase's requests.
const AHEAD: usize = 2;

/// Strips a forward-only replay keeps from its way to a later one.
const PASSED: usize = 8;

/// A job's strips, on demand.
pub struct Feed {
    plan: Plan,
    strips: Vec<Strip>,
    source: Source,
    /// Parts decoded and not yet mapped.
    held: Mutex<HashMap<usize, StripData>>,
    /// The first decoding error, for the job's answer.
    error: Mutex<Option<DecodeError>>,
    /// Time spent decoding, in nanoseconds.
    decoding: AtomicU64,
}

enum Source {
    /// A PNG decoded in order, and a second reader for strips needed again.
    Rows(Box<Rows>),
    /// An image decoded whole, in the working layout.
    Whole(Pixels),
}

struct Rows {
    main: Mutex<Sequential>,
    replay: Mutex<Option<Replay>>,
}

/// The second reader, for strips needed again.
struct Replay {
    reader: StripReader,
    /// The last row it gave (its index; working layout).
    last_row: Option<(u32, Arc<Pixels>)>,
    /// Strips a forward-only reader decoded on its way to a later one, for
    /// a request that comes out of order (at most [`PASSED`]).
    passed: BTreeMap<usize, StripData>,
}

struct Sequential {
    reader: StripReader,
    /// The next strip `reader` decodes.
    next: usize,
    /// The last row of the strip before `next` (working layout).
    last_row: Option<Arc<Pixels>>,
    /// Set once decoding failed: the reader cannot go on.
    broken: Option<String>,
}

impl Feed {
    /// A feed of `strips` from what [`histo_codec::stream::open`] found.
    /// Converts a whole image to the working layout now (CPU work: call it
    /// off the async threads).
    pub fn new(plan: Plan, strips: Vec<Strip>, opened: Opened) -> Feed {
        let source = match opened {
            Opened::Strips(reader) => Source::Rows(Box::new(Rows {
                main: Mutex::new(Sequential { reader: *reader, next: 0, last_row: None, broken: None }),
                replay: Mutex::new(None),
            })),
            Opened::Whole(image, _) => Source::Whole(working(&plan, image.into_parts().3)),
        };
        Feed { plan, strips, source, held: Mutex::default(), error: Mutex::default(), decoding: AtomicU64::new(0) }
    }

    /// Strip `index`, for a map attempt: held, decoded now, or decoded again.
    /// Also starts decoding the strips after it.
    pub async fn for_map(self: &Arc<Self>, index: usize) -> Result<StripData, TaskError> {
        let part = self.part(index).await?;
        if matches!(self.source, Source::Rows(_)) {
            let feed = self.clone();
            tokio::task::spawn_blocking(move || feed.decode_ahead(index + AHEAD));
        }
        Ok(part)
    }

    /// Strip `index`, for an apply attempt on a worker that may not hold it.
    pub async fn for_resend(self: &Arc<Self>, index: usize) -> Result<StripData, TaskError> {
        self.part(index).await
    }

    /// Strip `index` was mapped: its worker holds it now, the feed lets go.
    pub fn mapped(&self, index: usize) {
        self.held.lock().expect("held lock").remove(&index);
    }

    /// The first decoding error, if decoding failed.
    pub fn take_error(&self) -> Option<DecodeError> {
        self.error.lock().expect("error lock").take()
    }

    /// Time spent decoding strips so far.
    pub fn decoding_time(&self) -> Duration {
        Duration::from_nanos(self.decoding.load(Ordering::Relaxed))
    }

    /// Parts held now (decoded, not yet mapped).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.held.lock().expect("held lock").len()
    }

    async fn part(self: &Arc<Self>, index: usize) -> Result<StripData, TaskError> {
        if index >= self.strips.len() {
            return Err(TaskError::Invalid(format!("no strip {index}")));
        }
        if let Some(part) = self.held.lock().expect("held lock").get(&index) {
            return Ok(part.clone());
        }
        let feed = self.clone();
        tokio::task::spawn_blocking(move || feed.part_now(index))
            .await
            .map_err(|e| TaskError::Invalid(format!("decoding strip {index} ended: {e}")))?
    }

    fn part_now(&self, index: usize) -> Result<StripData, TaskError> {
        match &self.source {
            Source::Whole(pixels) => Ok(self.cut(pixels, index)),
            Source::Rows(rows) => {
                let main = &rows.main;
                {
                    let mut main = main.lock().expect("decoder lock");
                    if let Some(part) = self.held.lock().expect("held lock").get(&index) {
                        return Ok(part.clone());
                    }
                    if main.next <= index {
                        self.advance(&mut main, index)?;
                        if let Some(part) = self.held.lock().expect("held lock").get(&index) {
                            return Ok(part.clone());
                        }
                    }
                }
                // Decoded before and let go: decode it again.
                self.replay(rows, index)
            }
        }
    }

    /// Decodes strips in order up to `last` (or the end), holding them.
    fn advance(&self, main: &mut Sequential, last: usize) -> Result<(), TaskError> {
        let last = last.min(self.strips.len().saturating_sub(1));
        while main.next <= last {
            if let Some(why) = &main.broken {
                return Err(TaskError::Invalid(why.clone()));
            }
            let strip = self.strips[main.next];
            let started = Instant::now();
            let decoded = main.reader.strip(&strip);
            let decoded = match decoded {
                Ok(pixels) => self.to_working(pixels),
                Err(e) => {
                    main.broken = Some(e.to_string());
                    return Err(self.failed(e));
                }
            };
            let row_len = self.plan.row_len();
            let last_row = Arc::new(copy(&decoded, decoded.len() - row_len..decoded.len()));
            let part = StripData { samples: Arc::new(decoded), above: main.last_row.replace(last_row), mask: None };
            self.decoding.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.held.lock().expect("held lock").insert(main.next, part);
            main.next += 1;
        }
        Ok(())
    }

    /// Decodes ahead of the map phase, unless another thread is decoding.
    fn decode_ahead(&self, last: usize) {
        let Source::Rows(rows) = &self.source else { return };
        let main = &rows.main;
        let Ok(mut main) = main.try_lock() else { return };
        if main.next <= last && main.broken.is_none() {
            // An error here is recorded; the attempt that needs the strip reports it.
            let _ = self.advance(&mut main, last);
        }
    }

    /// Strip `index` decoded again from the input, not held.
    fn replay(&self, rows: &Rows, index: usize) -> Result<StripData, TaskError> {
        let mut replay = rows.replay.lock().expect("replay lock");
        if let Some(part) = replay.as_mut().and_then(|r| r.passed.remove(&index)) {
            return Ok(part);
        }
        let started = Instant::now();
        let replay = match replay.as_mut() {
            Some(r) => r,
            None => {
                let fresh = rows.main.lock().expect("decoder lock").reader.restart().map_err(|e| self.failed(e))?;
                replay.insert(Replay { reader: fresh, last_row: None, passed: BTreeMap::new() })
            }
        };
        // A forward-only reader decodes the strips before this one anyway.
        if let Some(next) = replay.reader.position() {
            // Strips are in row order: those ahead of the reader start here.
            let ahead = self.strips.partition_point(|s| s.y0 < next).min(index);
            for skipped in &self.strips[ahead..index] {
                let part = self.replay_strip(replay, skipped)?;
                replay.passed.insert(skipped.index, part);
                if replay.passed.len() > PASSED {
                    replay.passed.pop_first();
                }
            }
        }
        let part = self.replay_strip(replay, &self.strips[index])?;
        self.decoding.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(part)
    }

    /// One strip from the replay reader, with the row above it.
    fn replay_strip(&self, replay: &mut Replay, strip: &Strip) -> Result<StripData, TaskError> {
        let above = match (strip.y0, &replay.last_row) {
            (0, _) => None,
            (y0, Some((row, pixels))) if *row + 1 == y0 => Some(pixels.clone()),
            (y0, _) => Some(Arc::new(self.to_working(replay.reader.rows(y0 - 1, 1).map_err(|e| self.failed(e))?))),
        };
        let samples = self.to_working(replay.reader.strip(strip).map_err(|e| self.failed(e))?);
        let row_len = self.plan.row_len();
        let last = Arc::new(copy(&samples, samples.len() - row_len..samples.len()));
        replay.last_row = Some((strip.y0 + strip.rows - 1, last));
        Ok(StripData { samples: Arc::new(samples), above, mask: None })
    }

    /// A strip copied out of a whole image.
    fn cut(&self, pixels: &Pixels, index: usize) -> StripData {
        let row_len = self.plan.row_len();
        let range = self.strips[index].sample_range(row_len);
        let above = (range.start > 0).then(|| Arc::new(copy(pixels, range.start - row_len..range.start)));
        StripData { samples: Arc::new(copy(pixels, range)), above, mask: None }
    }

    fn to_working(&self, pixels: Pixels) -> Pixels {
        working(&self.plan, pixels)
    }

    /// Records a decoding error (the first one is the job's answer) and
    /// fails the attempt for good.
    fn failed(&self, e: DecodeError) -> TaskError {
        let why = format!("cannot decode the input: {e}");
        self.error.lock().expect("error lock").get_or_insert(e);
        TaskError::Invalid(why)
    }
}

/// Decoded samples in the working layout (gray, for a colour image
/// equalized as gray).
fn working(plan: &Plan, pixels: Pixels) -> Pixels {
    if plan.converts_to_gray() { plan.convert_to_gray(pixels.slice(0..pixels.len())) } else { pixels }
}

fn copy(pixels: &Pixels, range: std::ops::Range<usize>) -> Pixels {
    match pixels.slice(range) {
        Samples::U8(s) => Pixels::U8(s.to_vec()),
        Samples::U16(s) => Pixels::U16(s.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use histo_codec::{Input, Limits, png};
    use histo_core::options::Options;
    use histo_core::strips;
    use histo_core::{Depth, Image, Layout, Shape};

    use super::*;

    fn rgb_png(width: u32, height: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..width * height * 3).map(|i| (i * 7 % 253) as u8).collect();
        let image = Image::new(width, height, Layout::Rgb, Pixels::U8(data)).unwrap();
        let mut out = Vec::new();
        png::encode(&image, &png::Settings::default(), &mut out).unwrap();
        out
    }

    /// Every strip as the whole-image path cuts it, for comparison.
    fn expected(bytes: &[u8], plan: &Plan, strips: &[Strip]) -> Vec<StripData> {
        let (image, _) = histo_codec::decode(bytes, &Limits::CLI).unwrap();
        let pixels = working(plan, image.into_parts().3);
        let whole = Feed { source: Source::Whole(pixels), ..feed_of(bytes, plan, strips) };
        (0..strips.len()).map(|i| whole.part_now(i).unwrap()).collect()
    }

    fn feed_of(bytes: &[u8], plan: &Plan, strips: &[Strip]) -> Feed {
        let opened = histo_codec::stream::open(&Input::from(bytes.to_vec()), &Limits::CLI).unwrap();
        assert!(matches!(opened, Opened::Strips(_)));
        Feed::new(plan.clone(), strips.to_vec(), opened)
    }

    fn plan(mode: &str) -> Plan {
        let options = Options { mode: mode.parse().unwrap(), ..Options::default() };
        Plan::new(Shape { width: 50, height: 90, layout: Layout::Rgb, depth: Depth::U8 }, options).unwrap()
    }

    #[tokio::test]
    async fn strips_match_the_whole_image_in_order_again_and_out_of_order() {
        let bytes = rgb_png(50, 90);
        for mode in ["gray", "luma"] {
            let plan = plan(mode);
            let strips = strips::split(90, 7);
            let want = expected(&bytes, &plan, &strips);
            let feed = Arc::new(feed_of(&bytes, &plan, &strips));
            for (i, w) in want.iter().enumerate() {
                assert_eq!(&feed.for_map(i).await.unwrap(), w, "{mode} strip {i}");
            }
            // Mapped strips are let go, and decoded again when asked for.
            (0..strips.len()).for_each(|i| feed.mapped(i));
            assert_eq!(feed.held(), 0);
            for i in [5, 6, 1, 3, 0] {
                assert_eq!(&feed.for_resend(i).await.unwrap(), &want[i], "{mode} resent strip {i}");
            }
            assert_eq!(feed.held(), 0, "resent strips are not held");
        }
    }

    #[tokio::test]
    async fn only_strips_in_flight_and_a_few_ahead_are_held() {
        let bytes = rgb_png(50, 90);
        let plan = plan("luma");
        let strips = strips::split(90, 30);
        let feed = Arc::new(feed_of(&bytes, &plan, &strips));
        for i in 0..strips.len() {
            feed.for_map(i).await.unwrap();
            feed.mapped(i);
            assert!(feed.held() <= AHEAD + 1, "{} held after strip {i}", feed.held());
        }
    }

    #[tokio::test]
    async fn a_decoding_error_fails_the_attempt_and_is_kept_for_the_job() {
        let bytes = rgb_png(50, 90);
        let plan = plan("luma");
        let strips = strips::split(90, 7);
        let truncated = bytes[..bytes.len() * 2 / 3].to_vec();
        let feed = Arc::new(feed_of(&truncated, &plan, &strips));
        let mut failed = false;
        for i in 0..strips.len() {
            if let Err(e) = feed.for_map(i).await {
                assert!(matches!(e, TaskError::Invalid(_)), "{e}");
                failed = true;
                break;
            }
        }
        assert!(failed, "a truncated image decoded");
        let err = feed.take_error().expect("the decoding error");
        assert!(matches!(err, DecodeError::Corrupt { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_forward_only_replay_keeps_the_strips_it_passed_and_does_not_start_over() {
        let bytes = rgb_png(50, 90);
        let plan = plan("luma");
        let strips = strips::split(90, 12);
        let want = expected(&bytes, &plan, &strips);
        let feed = Arc::new(feed_of(&bytes, &plan, &strips));
        for i in 0..strips.len() {
            feed.for_map(i).await.unwrap();
            feed.mapped(i);
        }
        assert_eq!(&feed.for_resend(10).await.unwrap(), &want[10]);
        let Source::Rows(rows) = &feed.source else { panic!("a PNG is read by rows") };
        let replay = || rows.replay.lock().unwrap();
        let passed: Vec<usize> = replay().as_ref().unwrap().passed.keys().copied().collect();
        assert_eq!(passed, (10 - PASSED..10).collect::<Vec<_>>());
        for i in [9, 3, 2, 11] {
            assert_eq!(&feed.for_resend(i).await.unwrap(), &want[i], "resent strip {i}");
        }
        // Strips 9, 3 and 2 came from what it passed, 11 from where it was.
        assert_eq!(replay().as_ref().unwrap().reader.position(), Some(90));
        assert_eq!(replay().as_ref().unwrap().passed.keys().copied().collect::<Vec<_>>(), [4, 5, 6, 7, 8]);
    }

    #[tokio::test]
    async fn a_tiff_is_resent_from_any_strip() {
        let data: Vec<u8> = (0..50 * 90 * 3).map(|i| (i * 11 % 251) as u8).collect();
        let image = Image::new(50, 90, Layout::Rgb, Pixels::U8(data)).unwrap();
        let mut tiff = std::io::Cursor::new(Vec::new());
        histo_codec::encode(&image, histo_codec::Format::Tiff, &histo_codec::EncodeSettings::default(), &mut tiff)
            .unwrap();
        let bytes = tiff.into_inner();
        let plan = plan("luma");
        let strips = strips::split(90, 9);
        let want = expected(&bytes, &plan, &strips);
        let feed = Arc::new(feed_of(&bytes, &plan, &strips));
        for (i, strip) in want.iter().enumerate() {
            assert_eq!(&feed.for_map(i).await.unwrap(), strip, "strip {i}");
            feed.mapped(i);
        }
        for i in [8, 2, 7, 0, 4] {
            assert_eq!(&feed.for_resend(i).await.unwrap(), &want[i], "resent strip {i}");
        }
        let Source::Rows(rows) = &feed.source else { panic!("a TIFF is read by rows") };
        assert!(rows.replay.lock().unwrap().as_ref().unwrap().passed.is_empty(), "nothing decoded on the way");
    }
}
