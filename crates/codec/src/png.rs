//! PNG encoding in independent strips, so that all cores (or all workers)
//! compress at once.
//!
//! A PNG's pixel data is one zlib stream, but a deflate stream may be cut
//! into pieces compressed separately: every piece but the last ends on a
//! sync flush (a byte boundary, no back-reference across it), and the zlib
//! Adler-32 of the whole is combined from the pieces' checksums. Each strip
//! filters its rows (the first one against the last row of the strip
//! before) and deflates them on its own; [`Writer`] lays the pieces out in
//! order. The result is an ordinary PNG that any decoder reads.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};
use histo_core::plan::Samples;
use histo_core::strips::{self, Strip};
use histo_core::{Image, Layout, Pixels, Shape};
use rayon::prelude::*;

/// The row filter. `Adaptive` picks, per row, the filter (none included)
/// whose output has the lowest entropy, byte by byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// No filtering.
    None,
    /// Difference to the pixel on the left.
    Sub,
    /// Difference to the pixel above.
    Up,
    /// Difference to the Paeth predictor.
    Paeth,
    /// Sub, Up or Paeth, whichever suits the row.
    Adaptive,
}

impl Filter {
    /// The filter's name, as `FromStr` reads it.
    pub fn name(self) -> &'static str {
        match self {
            Filter::None => "none",
            Filter::Sub => "sub",
            Filter::Up => "up",
            Filter::Paeth => "paeth",
            Filter::Adaptive => "adaptive",
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Filter::None),
            "sub" => Ok(Filter::Sub),
            "up" => Ok(Filter::Up),
            "paeth" => Ok(Filter::Paeth),
            "adaptive" => Ok(Filter::Adaptive),
            _ => Err(format!("unknown PNG filter '{s}' (expected none, sub, up, paeth or adaptive)")),
        }
    }
}

/// Compression settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// zlib level, 0 (store) to 9 (smallest).
    pub level: u32,
    /// Row filter.
    pub filter: Filter,
}

impl Default for Settings {
    /// Files about the size of libvips' default PNG on gray photos (and
    /// two thirds of it on colour), in less time than it takes: see
    /// docs/BENCHMARKS.md ("PNG size").
    fn default() -> Self {
        Settings { level: 5, filter: Filter::Adaptive }
    }
}

/// One strip's rows, filtered and deflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedStrip {
    /// Raw deflate data (a sync-flushed piece, or the final one), shared
    /// rather than copied on its way to the writer.
    pub deflate: bytes::Bytes,
    /// Adler-32 of the filtered bytes.
    pub adler: u32,
    /// Number of filtered bytes.
    pub len: u64,
}

/// Deflate input is fed in pieces of this size, to stay in cache.
const FEED: usize = 256 * 1024;

/// Filters and compresses `rows` (whole rows, big-endian for 16-bit).
/// `above` is the row before the strip (None for the first strip); `last`
/// ends the deflate stream.
pub fn encode_strip(shape: &Shape, settings: &Settings, above: Option<&[u8]>, rows: &[u8], last: bool) -> EncodedStrip {
    let row_bytes = shape.row_bytes();
    let bpp = shape.pixel_bytes();
    let mut compress = Compress::new(Compression::new(settings.level), false);
    let mut adler = simd_adler32::Adler32::new();
    let mut deflate = Vec::with_capacity(rows.len() / 3 + 1024);
    let mut feed = Vec::with_capacity(FEED + row_bytes + 1);
    let mut scratch = vec![0u8; row_bytes + 1];
    let zeros = vec![0u8; row_bytes];
    let mut prev = above.unwrap_or(&zeros);
    let mut len = 0u64;
    for row in rows.chunks_exact(row_bytes) {
        filter_row(settings.filter, bpp, prev, row, &mut scratch);
        feed.extend_from_slice(&scratch);
        prev = row;
        if feed.len() >= FEED {
            adler.write(&feed);
            len += feed.len() as u64;
            deflate_all(&mut compress, &feed, &mut deflate, FlushCompress::None);
            feed.clear();
        }
    }
    adler.write(&feed);
    len += feed.len() as u64;
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    deflate_all(&mut compress, &feed, &mut deflate, flush);
    EncodedStrip { deflate: deflate.into(), adler: adler.finish(), len }
}

/// Feeds all of `input` and, for a flush, everything it produces.
fn deflate_all(c: &mut Compress, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(out.capacity().max(256 * 1024));
        }
        let consumed = (c.total_in() - start) as usize;
        let status = c.compress_vec(&input[consumed..], out, flush).expect("deflate of in-memory data cannot fail");
        let all_in = (c.total_in() - start) as usize == input.len();
        let room_left = out.capacity() - out.len() > 0;
        match (flush, status) {
            (_, Status::StreamEnd) => return,
            (FlushCompress::Finish, _) => continue,
            (FlushCompress::None, _) if all_in => return,
            (_, _) if all_in && room_left => return,
            _ => continue,
        }
    }
}

/// Writes the filter byte and the filtered row into `out`.
fn filter_row(filter: Filter, bpp: usize, prev: &[u8], row: &[u8], out: &mut [u8]) {
    let chosen = match filter {
        Filter::Adaptive => {
            let mut cost = |f| {
                filter_into(f, bpp, prev, row, &mut out[1..]);
                entropy_bits(&out[1..])
            };
            [Filter::None, Filter::Sub, Filter::Up, Filter::Paeth]
                .into_iter()
                .map(|f| (cost(f), f))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .expect("four filters")
                .1
        }
        f => f,
    };
    out[0] = match chosen {
        Filter::None => 0,
        Filter::Sub => 1,
        Filter::Up => 2,
        Filter::Paeth | Filter::Adaptive => 4,
    };
    filter_into(chosen, bpp, prev, row, &mut out[1..]);
}

/// Bits a Huffman coder needs at least for `bytes` taken one by one (their
/// zeroth-order entropy): the measure of a filter's output that follows
/// what deflate then does with it, noise included, where the usual sum of
/// absolute values misjudges.
fn entropy_bits(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    bytes.iter().for_each(|&b| counts[usize::from(b)] += 1);
    let n = bytes.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) * (n / f64::from(c)).log2()).sum()
}

fn filter_into(filter: Filter, bpp: usize, prev: &[u8], row: &[u8], out: &mut [u8]) {
    match filter {
        Filter::None => out.copy_from_slice(row),
        Filter::Sub => {
            out[..bpp].copy_from_slice(&row[..bpp]);
            for i in bpp..row.len() {
                out[i] = row[i].wrapping_sub(row[i - bpp]);
            }
        }
        Filter::Up => out.iter_mut().zip(row.iter().zip(prev)).for_each(|(o, (&r, &p))| *o = r.wrapping_sub(p)),
        Filter::Paeth | Filter::Adaptive => {
            for i in 0..bpp {
                out[i] = row[i].wrapping_sub(prev[i]);
            }
            for i in bpp..row.len() {
                out[i] = row[i].wrapping_sub(paeth(row[i - bpp], prev[i], prev[i - bpp]));
            }
        }
    }
}

/// The Paeth predictor: whichever of left (`a`), above (`b`) and upper
/// left (`c`) is nearest to `a + b - c`.
#[inline]
pub(crate) fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// zlib's `adler32_combine`: the checksum of A‖B from those of A and B.
pub fn adler32_combine(a: u32, b: u32, len_b: u64) -> u32 {
    const BASE: u32 = 65521;
    let rem = (len_b % u64::from(BASE)) as u32;
    let mut sum1 = a & 0xffff;
    let mut sum2 = (rem * sum1) % BASE;
    sum1 += (b & 0xffff) + BASE - 1;
    sum2 += ((a >> 16) & 0xffff) + ((b >> 16) & 0xffff) + BASE - rem;
    if sum1 >= BASE {
        sum1 -= BASE;
    }
    if sum1 >= BASE {
        sum1 -= BASE;
    }
    if sum2 >= BASE << 1 {
        sum2 -= BASE << 1;
    }
    if sum2 >= BASE {
        sum2 -= BASE;
    }
    sum1 | (sum2 << 16)
}

/// Largest IDAT chunk written (the format allows 2^31 - 1).
const MAX_CHUNK: usize = 1 << 28;

/// Lays out a PNG: header, then the strips' pieces in order, then the end.
pub struct Writer<W: Write> {
    out: W,
    adler: u32,
    started: bool,
}

impl<W: Write> Writer<W> {
    /// Writes the signature and the IHDR chunk.
    pub fn start(mut out: W, shape: &Shape) -> io::Result<Self> {
        out.write_all(b"\x89PNG\r\n\x1a\n")?;
        let color_type = match shape.layout {
            Layout::Gray => 0,
            Layout::Rgb => 2,
            Layout::GrayAlpha => 4,
            Layout::Rgba => 6,
        };
        let bits = 8 * shape.depth.bytes() as u8;
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&shape.width.to_be_bytes());
        ihdr.extend_from_slice(&shape.height.to_be_bytes());
        ihdr.extend_from_slice(&[bits, color_type, 0, 0, 0]);
        write_chunk(&mut out, b"IHDR", &[&ihdr])?;
        Ok(Writer { out, adler: 1, started: false })
    }

    /// Appends the next strip.
    pub fn push(&mut self, strip: &EncodedStrip) -> io::Result<()> {
        let mut pieces = strip.deflate.chunks(MAX_CHUNK);
        if !self.started {
            // zlib header: deflate, 32 KiB window, no dictionary, fast level.
            let first = pieces.next().unwrap_or(&[]);
            write_chunk(&mut self.out, b"IDAT", &[&[0x78, 0x01], first])?;
            self.started = true;
        }
        for piece in pieces {
            write_chunk(&mut self.out, b"IDAT", &[piece])?;
        }
        self.adler = adler32_combine(self.adler, strip.adler, strip.len);
        Ok(())
    }

    /// Writes the checksum and the IEND chunk; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        write_chunk(&mut self.out, b"IDAT", &[&self.adler.to_be_bytes()])?;
        write_chunk(&mut self.out, b"IEND", &[])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes one chunk: length, type, the `parts` as its data, CRC.
pub(crate) fn write_chunk(out: &mut impl Write, kind: &[u8; 4], parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    out.write_all(&(len as u32).to_be_bytes())?;
    out.write_all(kind)?;
    for p in parts {
        crc.update(p);
        out.write_all(p)?;
    }
    out.write_all(&crc.finalize().to_be_bytes())
}

/// A strip's rows as PNG bytes (16-bit samples big-endian), with the row
/// above it.
fn png_rows(pixels: &Pixels, strip: &Strip, row_len: usize) -> (Option<Vec<u8>>, Vec<u8>) {
    let range = strip.sample_range(row_len);
    let above = (strip.y0 > 0).then(|| range.start - row_len..range.start);
    let bytes = |r: std::ops::Range<usize>| match pixels.slice(r) {
        Samples::U8(s) => s.to_vec(),
        Samples::U16(s) => s.iter().flat_map(|v| v.to_be_bytes()).collect(),
    };
    (above.map(bytes), bytes(range))
}

/// Encodes a whole image, strips compressed in parallel.
pub fn encode(image: &Image, settings: &Settings, out: impl Write) -> io::Result<()> {
    let shape = image.shape();
    let row_len = image.row_len();
    let count = strips::count_for(image.height(), row_len);
    let strips = strips::split(image.height(), count);
    let last = strips.len() - 1;
    let encoded: Vec<EncodedStrip> = strips
        .par_iter()
        .map(|s| match image.pixels() {
            Pixels::U8(p) => {
                let range = s.sample_range(row_len);
                let above = (s.y0 > 0).then(|| &p[range.start - row_len..range.start]);
                encode_strip(&shape, settings, above, &p[range], s.index == last)
            }
            pixels => {
                let (above, rows) = png_rows(pixels, s, row_len);
                encode_strip(&shape, settings, above.as_deref(), &rows, s.index == last)
            }
        })
        .collect();
    let mut writer = Writer::start(out, &shape)?;
    for e in &encoded {
        writer.push(e)?;
    }
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_png(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    fn sample_image(width: u32, height: u32, layout: Layout) -> Image {
        let n = (width * height) as usize * layout.channels();
        let data = (0..n).map(|i| ((i * 31 + i / 7) % 251) as u8).collect();
        Image::new(width, height, layout, Pixels::U8(data)).unwrap()
    }

    #[test]
    fn every_filter_and_layout_round_trips() {
        for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
            for filter in [Filter::None, Filter::Sub, Filter::Up, Filter::Paeth, Filter::Adaptive] {
                let img = sample_image(37, 300, layout);
                let mut out = Vec::new();
                encode(&img, &Settings { level: 1, filter }, &mut out).unwrap();
                let (info, data) = decode_png(&out);
                assert_eq!((info.width, info.height), (37, 300));
                let Pixels::U8(want) = img.pixels() else { unreachable!() };
                assert_eq!(&data, want, "{layout} {filter:?}");
            }
        }
    }

    #[test]
    fn sixteen_bit_is_big_endian() {
        let data: Vec<u16> = (0..64 * 64).map(|i| (i * 977) as u16).collect();
        let img = Image::new(64, 64, Layout::Gray, Pixels::U16(data.clone())).unwrap();
        let mut out = Vec::new();
        encode(&img, &Settings::default(), &mut out).unwrap();
        let (info, bytes) = decode_png(&out);
        assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
        let got: Vec<u16> = bytes.chunks(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect();
        assert_eq!(got, data);
    }

    #[test]
    fn many_strips_make_one_valid_stream() {
        let img = sample_image(700, 1500, Layout::Rgb);
        let shape = img.shape();
        let Pixels::U8(p) = img.pixels() else { unreachable!() };
        let strips = strips::split(1500, 7);
        let mut w = Writer::start(Vec::new(), &shape).unwrap();
        for s in &strips {
            let r = s.sample_range(img.row_len());
            let above = (s.y0 > 0).then(|| &p[r.start - img.row_len()..r.start]);
            w.push(&encode_strip(&shape, &Settings::default(), above, &p[r], s.index == 6)).unwrap();
        }
        let (_, data) = decode_png(&w.finish().unwrap());
        assert_eq!(&data, p);
    }

    #[test]
    fn adler_combine_matches_one_pass() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let whole = simd_adler32::adler32(&data.as_slice());
        for cut in [0, 1, 5552, 65521, 99_999] {
            let (a, b) = data.split_at(cut);
            let combined = adler32_combine(simd_adler32::adler32(&a), simd_adler32::adler32(&b), b.len() as u64);
            assert_eq!(combined, whole, "cut at {cut}");
        }
    }
}
