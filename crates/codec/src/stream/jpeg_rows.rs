//! A JPEG read a band of rows at a time, for [`super`], through
//! libjpeg-turbo's scanline API (the `mozjpeg` crate, which builds it from
//! source): the pixels OpenCV, Pillow and libvips decode, since they decode
//! with libjpeg-turbo too (integer DCT, smooth chroma upsampling).
//!
//! A baseline JPEG holds one row of 8×8 or 16×16 blocks at a time. A
//! progressive one cannot be decoded in order: libjpeg keeps every DCT
//! coefficient (2 bytes per sample after chroma subsampling) from the first
//! row on. CMYK and YCCK files are left to the `image` crate, decoded whole.
//!
//! libjpeg's state is not `Send`, so each reader's decoder lives on a thread
//! of its own and hands over bands through a channel of [`AHEAD`] bands: the
//! decoding runs beside the work on the rows it gave.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use histo_core::{Depth, Image, Layout, Pixels, Shape};
use mozjpeg::{ColorSpace, Decompress};

use crate::decode::DecodeError;
use crate::format::Format;
use crate::input::Input;
use crate::limits::Limits;

/// Rows the decoder thread sends at once.
const BAND_ROWS: usize = 16;

/// Bands decoded ahead of the reader.
const AHEAD: usize = 2;

/// A JPEG decoded in order, a band of rows at a time.
pub(crate) struct JpegRows {
    input: Input,
    shape: Shape,
    /// The next row [`JpegRows::rows`] gives without starting over.
    next: u32,
    bands: Receiver<Result<Vec<u8>, DecodeError>>,
    /// The band being given, and the bytes of it already given.
    band: Vec<u8>,
    used: usize,
}

impl JpegRows {
    /// A reader at row 0, or None for a CMYK or YCCK JPEG, which the
    /// `image` crate decodes whole.
    pub(crate) fn new(input: &Input, limits: &Limits) -> Result<Option<Self>, DecodeError> {
        let (width, height) = super::check_header(input, Format::Jpeg, limits)?;
        let reader = input.reader()?;
        let Some(layout) = guarded(|| Ok(layout(&Decompress::new_reader(reader)?)))? else {
            return Ok(None);
        };
        let shape = Shape { width, height, layout, depth: Depth::U8 };
        super::check_alloc(&shape, Format::Jpeg, limits)?;
        Self::start(input.clone(), shape).map(Some)
    }

    /// A reader at row 0 whose thread decodes `input`.
    fn start(input: Input, shape: Shape) -> Result<Self, DecodeError> {
        let (sender, bands) = sync_channel(AHEAD);
        let source = input.clone();
        std::thread::Builder::new()
            .name("histo-jpeg".into())
            .spawn(move || decode_bands(&source, shape.layout, &sender))?;
        Ok(JpegRows { input, shape, next: 0, bands, band: Vec::new(), used: 0 })
    }

    /// The image's shape: size, gray or RGB, 8-bit.
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The next row the decoder gives without starting over.
    pub(crate) fn next_row(&self) -> u32 {
        self.next
    }

    /// A fresh reader of the same input, at row 0.
    pub(crate) fn restart(&self) -> Result<JpegRows, DecodeError> {
        Self::start(self.input.clone(), self.shape)
    }

    /// The samples of rows `y0..y0 + rows` (inside the image). Rows before
    /// `y0` are decoded and dropped; rows already given are decoded again
    /// from the start of the input.
    pub(crate) fn rows(&mut self, y0: u32, rows: u32) -> Result<Pixels, DecodeError> {
        if y0 < self.next {
            *self = self.restart()?;
        }
        let line = self.shape.row_bytes();
        self.take((y0 - self.next) as usize * line, None)?;
        let mut out = Vec::with_capacity(rows as usize * line);
        self.take(rows as usize * line, Some(&mut out))?;
        self.next = y0 + rows;
        Ok(Pixels::U8(out))
    }

    /// Takes the next `bytes` of decoded rows, into `out` or dropped.
    fn take(&mut self, mut bytes: usize, mut out: Option<&mut Vec<u8>>) -> Result<(), DecodeError> {
        while bytes > 0 {
            if self.used == self.band.len() {
                self.band = match self.bands.recv() {
                    Ok(Ok(band)) => band,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Err(corrupt("the decoder stopped before the last row".into())),
                };
                self.used = 0;
            }
            let n = bytes.min(self.band.len() - self.used);
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&self.band[self.used..self.used + n]);
            }
            self.used += n;
            bytes -= n;
        }
        Ok(())
    }
}

/// Decodes a whole JPEG held in memory, or None for CMYK and YCCK.
pub(crate) fn decode_whole(bytes: &[u8], limits: &Limits) -> Result<Option<Image>, DecodeError> {
    let Some((width, height, layout)) = guarded(|| {
        let decompress = Decompress::new_reader(bytes)?;
        Ok(layout(&decompress).map(|layout| (decompress.width() as u32, decompress.height() as u32, layout)))
    })?
    else {
        return Ok(None);
    };
    super::check_alloc(&Shape { width, height, layout, depth: Depth::U8 }, Format::Jpeg, limits)?;
    let mut samples = Vec::with_capacity(width as usize * height as usize * layout.channels());
    decode_with(bytes, Some(layout), |band| {
        samples.extend_from_slice(&band);
        true
    })?;
    Ok(Some(Image::new(width, height, layout, Pixels::U8(samples)).expect("libjpeg gives every row")))
}

/// The thread of a [`JpegRows`]: decodes `input` band by band into `bands`,
/// until the last row, an error, or the reader gone.
fn decode_bands(input: &Input, layout: Layout, bands: &SyncSender<Result<Vec<u8>, DecodeError>>) {
    let outcome =
        input.reader().and_then(|reader| decode_with(reader, Some(layout), |band| bands.send(Ok(band)).is_ok()));
    if let Err(e) = outcome {
        let _ = bands.send(Err(e));
    }
}

/// Decodes the JPEG `reader` gives, handing each band of rows to `band`
/// until it answers false: the image's width, height and layout, or None
/// for CMYK and YCCK. `expected`, when given, is the layout the header had
/// when the reader was opened; another one is an error.
fn decode_with(
    reader: impl BufRead,
    expected: Option<Layout>,
    mut band: impl FnMut(Vec<u8>) -> bool,
) -> Result<Option<(u32, u32, Layout)>, DecodeError> {
    let ran_dry = Rc::new(Cell::new(false));
    let reader = Watched { inner: reader, ran_dry: ran_dry.clone() };
    let truncated = || corrupt("truncated: the data ends before the image does".into());
    guarded(move || {
        let decompress = Decompress::new_reader(reader)?;
        let Some(layout) = layout(&decompress) else { return Ok(None) };
        if expected.is_some_and(|e| e != layout) {
            return Err(io::Error::other("the file changed while it was being read"));
        }
        let mut started = match layout {
            Layout::Gray => decompress.grayscale()?,
            _ => decompress.rgb()?,
        };
        let (width, height) = (started.width(), started.height());
        let line = width * layout.channels();
        let mut y = 0;
        while y < height {
            let rows = BAND_ROWS.min(height - y);
            let mut samples = vec![0u8; rows * line];
            started.read_scanlines_into(&mut samples)?;
            y += rows;
            if ran_dry.get() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "ran dry"));
            }
            if !band(samples) {
                return Ok(Some((width as u32, height as u32, layout)));
            }
        }
        // The rest of the file, to its end-of-image marker.
        started.finish()?;
        if ran_dry.get() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "ran dry"));
        }
        Ok(Some((width as u32, height as u32, layout)))
    })
    .map_err(|e| {
        if matches!(&e, DecodeError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof) { truncated() } else { e }
    })
}

/// The layout libjpeg decodes the file's colour space to, or None for
/// those left to the `image` crate.
fn layout<R>(decompress: &Decompress<R>) -> Option<Layout> {
    match decompress.color_space() {
        ColorSpace::JCS_GRAYSCALE => Some(Layout::Gray),
        ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB => Some(Layout::Rgb),
        _ => None,
    }
}

/// Runs libjpeg calls, which report a broken file by unwinding with its
/// message: that message, or an I/O error, becomes a [`DecodeError`].
fn guarded<T>(work: impl FnOnce() -> io::Result<T>) -> Result<T, DecodeError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(DecodeError::Io(e)),
        Ok(Err(e)) => Err(corrupt(e.to_string())),
        Err(payload) => Err(corrupt(panic_message(payload))),
    }
}

/// libjpeg's message from an unwind's payload.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let message = match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload.downcast_ref::<&str>().map_or("libjpeg failed", |s| s).to_string(),
    };
    message.trim_start_matches("libjpeg fatal error: ").to_string()
}

fn corrupt(reason: String) -> DecodeError {
    DecodeError::Corrupt { format: Format::Jpeg, reason }
}

/// A reader that notes when it has nothing more to give: libjpeg then
/// makes up an end of image and decodes the missing rows as gray, which
/// histo refuses instead.
struct Watched<R> {
    inner: R,
    ran_dry: Rc<Cell<bool>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for Watched<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            self.ran_dry.set(true);
        }
        Ok(buf)
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{Opened, open};

    /// A JPEG of a deterministic pattern, baseline or progressive.
    fn jpeg(width: usize, height: usize, color: ColorSpace, progressive: bool) -> Vec<u8> {
        let channels = if color == ColorSpace::JCS_GRAYSCALE { 1 } else { color_channels(color) };
        let samples: Vec<u8> = (0..width * height * channels).map(|i| ((i * 37 + i / 101) % 253) as u8).collect();
        let mut settings = mozjpeg::Compress::new(color);
        settings.set_fastest_defaults();
        settings.set_size(width, height);
        if progressive {
            settings.set_progressive_mode();
        }
        let mut started = settings.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&samples).unwrap();
        started.finish().unwrap()
    }

    fn color_channels(color: ColorSpace) -> usize {
        if color == ColorSpace::JCS_CMYK { 4 } else { 3 }
    }

    fn reader(bytes: &[u8]) -> Box<crate::stream::StripReader> {
        match open(&Input::from(bytes.to_vec()), &Limits::CLI).unwrap() {
            Opened::Strips(reader) => reader,
            Opened::Whole(..) => panic!("expected a row reader"),
        }
    }

    #[test]
    fn bands_of_any_height_give_the_whole_image() {
        for (color, layout) in [(ColorSpace::JCS_GRAYSCALE, Layout::Gray), (ColorSpace::JCS_RGB, Layout::Rgb)] {
            for progressive in [false, true] {
                let bytes = jpeg(53, 71, color, progressive);
                let (whole, _) = crate::decode(&bytes, &Limits::CLI).unwrap();
                assert_eq!(whole.layout(), layout);
                for strip_rows in [1, 7, 16, 71] {
                    let mut reader = reader(&bytes);
                    let mut all = Vec::new();
                    for y0 in (0..71).step_by(strip_rows) {
                        let rows = strip_rows.min(71 - y0) as u32;
                        let Pixels::U8(band) = reader.rows(y0 as u32, rows).unwrap() else { panic!("8-bit") };
                        all.extend(band);
                    }
                    assert_eq!(
                        &Pixels::U8(all),
                        whole.pixels(),
                        "{layout:?} progressive {progressive} by {strip_rows}"
                    );
                }
            }
        }
    }

    #[test]
    fn rows_out_of_order_are_decoded_again() {
        let bytes = jpeg(40, 50, ColorSpace::JCS_RGB, false);
        let (whole, _) = crate::decode(&bytes, &Limits::CLI).unwrap();
        let Pixels::U8(all) = whole.pixels() else { panic!("8-bit") };
        let row = |y: usize| &all[y * 120..(y + 1) * 120];
        let mut reader = reader(&bytes);
        assert_eq!(reader.rows(30, 2).unwrap(), Pixels::U8([row(30), row(31)].concat()));
        assert_eq!(reader.position(), Some(32));
        assert_eq!(reader.rows(3, 1).unwrap(), Pixels::U8(row(3).to_vec()));
        assert_eq!(reader.rows(49, 1).unwrap(), Pixels::U8(row(49).to_vec()));
        let mut second = reader.restart().unwrap();
        assert_eq!(second.rows(0, 1).unwrap(), Pixels::U8(row(0).to_vec()));
    }

    #[test]
    fn a_file_cut_short_fails_at_the_rows_it_lacks() {
        let bytes = jpeg(64, 256, ColorSpace::JCS_GRAYSCALE, false);
        for cut in [bytes.len() - 2, bytes.len() / 2] {
            let mut reader = reader(&bytes[..cut]);
            let err = reader.rows(0, 256).unwrap_err();
            assert!(matches!(err, DecodeError::Corrupt { format: Format::Jpeg, .. }), "{err}");
            assert!(err.to_string().contains("truncated"), "{err}");
        }
        let mut flipped = bytes.clone();
        let dht = flipped.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
        flipped[dht + 4] = 0x37; // a Huffman table's class and index
        let err = open(&Input::from(flipped), &Limits::CLI).and_then(|opened| match opened {
            Opened::Strips(mut reader) => reader.rows(0, 1).map(drop),
            Opened::Whole(..) => panic!("a row reader"),
        });
        assert!(matches!(err, Err(DecodeError::Corrupt { format: Format::Jpeg, .. })), "{err:?}");
    }

    #[test]
    fn cmyk_is_decoded_whole() {
        let bytes = jpeg(16, 16, ColorSpace::JCS_CMYK, false);
        assert!(matches!(open(&Input::from(bytes), &Limits::CLI).unwrap(), Opened::Whole(..)));
    }

    #[test]
    fn the_decoders_limits_are_the_whole_image_paths() {
        let bytes = jpeg(40, 30, ColorSpace::JCS_RGB, false);
        let limits = Limits { max_pixels: 1199, ..Limits::CLI };
        let Err(streamed) = open(&Input::from(bytes.clone()), &limits) else { panic!("over the limit") };
        assert_eq!(streamed.to_string(), crate::decode(&bytes, &limits).unwrap_err().to_string());
    }
}
