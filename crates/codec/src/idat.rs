//! The image data of a plain PNG, row by row: its IDAT chunks inflated with
//! zlib-rs and unfiltered here.
//!
//! Decoding is a quarter of the work of an upload, and zlib-rs inflates
//! about a third faster than the `png` crate's inflater (docs/BENCHMARKS.md).
//! Only plain data is read here: 8 or 16 bits per sample, nothing to expand
//! (no palette, no transparency chunk), not interlaced, every CRC right,
//! the zlib stream well formed and long enough. Anything else is
//! [`Unclean`], and [`crate::stream`] hands the image to the `png` crate,
//! whose verdict and wording stand. After the last row the rest of the image
//! data is skipped as the `png` crate skips it: CRCs checked, not inflated.

use std::io::Read;

use zlib_rs::{Inflate, InflateFlush, Status};

use crate::input::Source;
use crate::png::paeth;

/// The data is not plain: the `png` crate must judge it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unclean;

/// Room for inflated bytes ahead of the rows given (at least two rows).
const BUFFER: usize = 256 * 1024;

/// A plain PNG's rows, in order.
pub(crate) struct IdatRows {
    source: Box<dyn Source>,
    inflate: Inflate,
    /// Bytes of the current IDAT chunk not read yet.
    chunk_left: u32,
    /// CRC of the current chunk so far.
    crc: crc32fast::Hasher,
    /// Inflated bytes; `filtered[start..end]` are not used yet.
    filtered: Vec<u8>,
    start: usize,
    end: usize,
    /// The row before, unfiltered (zeros before the first).
    prev: Vec<u8>,
    /// Bytes per pixel, the distance the filters look back.
    bpp: usize,
    stream_ended: bool,
}

impl IdatRows {
    /// Rows of `row_bytes` bytes with `bpp` bytes per pixel, from `source`
    /// at the PNG's first byte (its chunks before IDAT already checked).
    pub fn new(mut source: Box<dyn Source>, row_bytes: usize, bpp: usize) -> Result<Self, Unclean> {
        skip(&mut source, 8)?;
        let chunk_left = loop {
            let (len, kind) = chunk_header(&mut source)?;
            if &kind == b"IDAT" {
                break len;
            }
            skip(&mut source, u64::from(len) + 4)?;
        };
        Ok(IdatRows {
            source,
            inflate: Inflate::new(true, 15),
            chunk_left,
            crc: idat_crc(),
            filtered: vec![0; BUFFER.max(2 * (row_bytes + 1))],
            start: 0,
            end: 0,
            prev: vec![0; row_bytes],
            bpp,
            stream_ended: false,
        })
    }

    /// The next row, unfiltered, into `out` (a whole row).
    pub fn read_row(&mut self, out: &mut [u8]) -> Result<(), Unclean> {
        let need = self.prev.len() + 1;
        while self.end - self.start < need {
            self.inflate_more()?;
        }
        let row = &self.filtered[self.start..self.start + need];
        unfilter(row[0], self.bpp, &self.prev, &row[1..], out)?;
        self.prev.copy_from_slice(out);
        self.start += need;
        Ok(())
    }

    /// Skips the rest of the image data, as the `png` crate does after the
    /// last row: to the end of the IDAT chunks, checking their CRCs.
    pub fn finish(&mut self) -> Result<(), Unclean> {
        loop {
            while self.chunk_left > 0 {
                let buf = self.source.fill_buf().map_err(|_| Unclean)?;
                let n = buf.len().min(self.chunk_left as usize);
                if n == 0 {
                    return Err(Unclean);
                }
                self.crc.update(&buf[..n]);
                self.source.consume(n);
                self.chunk_left -= n as u32;
            }
            if !self.next_idat()? {
                return Ok(());
            }
        }
    }

    /// Inflates what fits after the unused bytes (leaving room for at
    /// least a row), reading on through the IDAT chunks.
    fn inflate_more(&mut self) -> Result<(), Unclean> {
        if self.stream_ended {
            return Err(Unclean);
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.filtered.len() - self.end <= self.prev.len() {
            self.filtered.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        while self.chunk_left == 0 {
            if !self.next_idat()? {
                return Err(Unclean);
            }
        }
        let input = self.source.fill_buf().map_err(|_| Unclean)?;
        let input = &input[..input.len().min(self.chunk_left as usize)];
        if input.is_empty() {
            return Err(Unclean);
        }
        let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
        let status = self
            .inflate
            .decompress(input, &mut self.filtered[self.end..], InflateFlush::NoFlush)
            .map_err(|_| Unclean)?;
        let used = (self.inflate.total_in() - in_before) as usize;
        let made = (self.inflate.total_out() - out_before) as usize;
        self.crc.update(&input[..used]);
        self.source.consume(used);
        self.chunk_left -= used as u32;
        self.end += made;
        match status {
            Status::StreamEnd => self.stream_ended = true,
            _ if used == 0 && made == 0 => return Err(Unclean),
            _ => {}
        }
        Ok(())
    }

    /// Ends the current chunk (its CRC must match) and reads the next
    /// chunk's header: true for another IDAT chunk, false for the end of
    /// the image data.
    fn next_idat(&mut self) -> Result<bool, Unclean> {
        let mut stored = [0u8; 4];
        self.source.read_exact(&mut stored).map_err(|_| Unclean)?;
        let crc = std::mem::replace(&mut self.crc, idat_crc()).finalize();
        if crc != u32::from_be_bytes(stored) {
            return Err(Unclean);
        }
        let (len, kind) = chunk_header(&mut self.source)?;
        self.chunk_left = len;
        Ok(&kind == b"IDAT")
    }
}

fn idat_crc() -> crc32fast::Hasher {
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"IDAT");
    crc
}

/// A chunk's length and type.
fn chunk_header(source: &mut Box<dyn Source>) -> Result<(u32, [u8; 4]), Unclean> {
    let mut header = [0u8; 8];
    source.read_exact(&mut header).map_err(|_| Unclean)?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if len > i32::MAX as u32 {
        return Err(Unclean);
    }
    Ok((len, [header[4], header[5], header[6], header[7]]))
}

fn skip(source: &mut Box<dyn Source>, n: u64) -> Result<(), Unclean> {
    let skipped = std::io::copy(&mut source.take(n), &mut std::io::sink()).map_err(|_| Unclean)?;
    if skipped == n { Ok(()) } else { Err(Unclean) }
}

/// Undoes the row filter `kind` of `src` into `out`, `prev` the row above.
fn unfilter(kind: u8, bpp: usize, prev: &[u8], src: &[u8], out: &mut [u8]) -> Result<(), Unclean> {
    match (kind, bpp) {
        (0, _) => out.copy_from_slice(src),
        (2, _) => out.iter_mut().zip(src.iter().zip(prev)).for_each(|(o, (&s, &p))| *o = s.wrapping_add(p)),
        (1 | 3 | 4, 1) => unfilter_left::<1>(kind, prev, src, out),
        (1 | 3 | 4, 2) => unfilter_left::<2>(kind, prev, src, out),
        (1 | 3 | 4, 3) => unfilter_left::<3>(kind, prev, src, out),
        (1 | 3 | 4, 4) => unfilter_left::<4>(kind, prev, src, out),
        (1 | 3 | 4, 6) => unfilter_left::<6>(kind, prev, src, out),
        (1 | 3 | 4, 8) => unfilter_left::<8>(kind, prev, src, out),
        _ => return Err(Unclean),
    }
    Ok(())
}

/// The filters that look left (Sub, Average, Paeth), a pixel at a time
/// with its width known to the compiler.
fn unfilter_left<const BPP: usize>(kind: u8, prev: &[u8], src: &[u8], out: &mut [u8]) {
    let mut left = [0u8; BPP];
    let mut upper_left = [0u8; BPP];
    let pixels = out.chunks_exact_mut(BPP).zip(src.chunks_exact(BPP).zip(prev.chunks_exact(BPP)));
    for (o, (s, p)) in pixels {
        for i in 0..BPP {
            let predicted = match kind {
                1 => left[i],
                3 => ((u16::from(left[i]) + u16::from(p[i])) / 2) as u8,
                _ => paeth(left[i], p[i], upper_left[i]),
            };
            o[i] = s[i].wrapping_add(predicted);
        }
        left.copy_from_slice(o);
        upper_left.copy_from_slice(p);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// A PNG written by the `png` crate with `filter`, and its rows.
    fn sample(
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        filter: png::Filter,
    ) -> (Vec<u8>, Vec<u8>) {
        let bpp = color.samples() * if depth == png::BitDepth::Sixteen { 2 } else { 1 };
        let pixels: Vec<u8> =
            (0..width as usize * height as usize * bpp).map(|i| ((i * 7919) ^ ((i >> 5) * 31)) as u8).collect();
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        encoder.set_filter(filter);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
        (out, pixels)
    }

    fn read_all(png: Vec<u8>, row_bytes: usize, bpp: usize, rows: usize) -> Result<Vec<u8>, Unclean> {
        let mut reader = IdatRows::new(Box::new(Cursor::new(png)), row_bytes, bpp)?;
        let mut all = vec![0u8; row_bytes * rows];
        for row in all.chunks_exact_mut(row_bytes) {
            reader.read_row(row)?;
        }
        reader.finish()?;
        Ok(all)
    }

    #[test]
    fn every_filter_and_pixel_width_gives_the_encoded_rows() {
        use png::{BitDepth, ColorType};
        let kinds = [
            (ColorType::Grayscale, BitDepth::Eight),
            (ColorType::GrayscaleAlpha, BitDepth::Eight),
            (ColorType::Rgb, BitDepth::Eight),
            (ColorType::Rgba, BitDepth::Eight),
            (ColorType::Rgb, BitDepth::Sixteen),
            (ColorType::Rgba, BitDepth::Sixteen),
        ];
        let filters = [png::Filter::NoFilter, png::Filter::Sub, png::Filter::Up, png::Filter::Avg, png::Filter::Paeth];
        for (color, depth) in kinds {
            for filter in filters.into_iter().chain([png::Filter::Adaptive]) {
                let (file, pixels) = sample(67, 41, color, depth, filter);
                let bpp = pixels.len() / (67 * 41);
                assert_eq!(read_all(file, 67 * bpp, bpp, 41), Ok(pixels), "{color:?} {depth:?} {filter:?}");
            }
        }
    }

    #[test]
    fn rows_longer_than_the_buffer_are_read() {
        let (file, pixels) = sample(40_000, 3, png::ColorType::Rgba, png::BitDepth::Eight, png::Filter::Paeth);
        assert_eq!(read_all(file, 160_000, 4, 3), Ok(pixels));
    }

    /// An RGB PNG of `width` columns whose image data is `filtered`
    /// (filter bytes included), deflated.
    fn handmade(width: u32, rows: u32, filtered: &[u8]) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            crate::png::write_chunk(out, kind, &[data]).unwrap();
        }
        let mut ihdr = [width.to_be_bytes(), rows.to_be_bytes()].concat();
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, filtered).unwrap();
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &z.finish().unwrap());
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn anything_not_plain_is_unclean() {
        let row = |filter: u8| [&[filter][..], &[9u8; 12]].concat();
        let good = handmade(4, 2, &[row(0), row(1)].concat());
        assert_eq!(
            read_all(good.clone(), 12, 3, 2),
            Ok([[9u8; 12], [9, 9, 9, 18, 18, 18, 27, 27, 27, 36, 36, 36]].concat())
        );

        let unknown_filter = handmade(4, 2, &[row(0), row(5)].concat());
        let short_stream = handmade(4, 2, &row(0));
        let mut bad_crc = good.clone();
        let iend = bad_crc.len() - 12;
        bad_crc[iend - 1] ^= 1;
        let idat = good.windows(4).position(|w| w == b"IDAT").unwrap();
        let truncated = good[..idat + 10].to_vec();
        let no_chunk_after = good[..iend].to_vec();
        let cases = [
            ("unknown filter", unknown_filter),
            ("short stream", short_stream),
            ("bad crc", bad_crc),
            ("truncated", truncated),
            ("no chunk after the image data", no_chunk_after),
        ];
        for (name, broken) in cases {
            assert_eq!(read_all(broken, 12, 3, 2), Err(Unclean), "{name}");
        }
        assert_eq!(read_all(good, 12, 3, 3), Err(Unclean), "rows past the data's end");
    }
}
