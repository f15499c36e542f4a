//! One TIFF strip made ready for a compressed file: differenced by the
//! horizontal predictor, then LZW- or Deflate-compressed. Strips do not
//! depend on each other, so [`crate::tiff_writer`] compresses several at
//! once.

use std::io::{self, Write};

use crate::settings::TiffCompression;

/// A sample type a TIFF holds: u8 or u16, in the file's (native) byte order.
pub(crate) trait Sample: bytemuck::Pod + Send + Sync {
    fn minus(self, other: Self) -> Self;
}

impl Sample for u8 {
    fn minus(self, other: u8) -> u8 {
        self.wrapping_sub(other)
    }
}

impl Sample for u16 {
    fn minus(self, other: u16) -> u16 {
        self.wrapping_sub(other)
    }
}

/// Deflate level: zlib's default, and libvips' for TIFF.
const DEFLATE_LEVEL: u32 = 6;

/// The bytes of `strip` (whole rows of `row_len` samples, `channels` to a
/// pixel) as a strip compressed with `compression` and the horizontal
/// predictor; uncompressed, its bytes.
pub(crate) fn compress<T: Sample>(
    mut strip: Vec<T>,
    row_len: usize,
    channels: usize,
    compression: TiffCompression,
) -> io::Result<Vec<u8>> {
    if compression == TiffCompression::None {
        return Ok(bytemuck::cast_slice(&strip).to_vec());
    }
    for row in strip.chunks_exact_mut(row_len) {
        predict(row, channels);
    }
    let bytes: &[u8] = bytemuck::cast_slice(&strip);
    // Room for the worst case up front: pages never written cost nothing,
    // while a vector grown step by step leaves freed blocks that the
    // allocator keeps for a while (+60 MB at 64 MP with LZW).
    match compression {
        TiffCompression::None => unreachable!("returned above"),
        TiffCompression::Lzw => {
            let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 2 + (8 << 10));
            let mut encoder = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
            encoder.into_vec(&mut out).encode_all(bytes).status.map_err(io::Error::other)?;
            Ok(out)
        }
        TiffCompression::Deflate => {
            let out = Vec::with_capacity(bytes.len() + bytes.len() / 64 + (8 << 10));
            let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::new(DEFLATE_LEVEL));
            z.write_all(bytes)?;
            z.finish()
        }
    }
}

/// TIFF's horizontal predictor (Predictor = 2): each sample becomes its
/// difference from the same channel's sample one pixel to the left.
fn predict<T: Sample>(row: &mut [T], channels: usize) {
    for i in (channels..row.len()).rev() {
        row[i] = row[i].minus(row[i - channels]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predictor_differences_each_channel_from_its_left_neighbour() {
        let mut rgb: Vec<u8> = vec![10, 20, 30, 11, 19, 35, 0, 0, 0];
        predict(&mut rgb, 3);
        assert_eq!(rgb, [10, 20, 30, 1, 255, 5, 245, 237, 221]);
        let mut gray: Vec<u16> = vec![1000, 999, 65_535];
        predict(&mut gray, 1);
        assert_eq!(gray, [1000, 65_535, 64_536]);
    }

    #[test]
    fn strips_compress_to_what_the_decoders_give_back() {
        let strip: Vec<u8> = (0..4 * 300).map(|i| (i % 300 / 3) as u8).collect();
        let mut predicted = strip.clone();
        predicted.chunks_exact_mut(300).for_each(|row| predict(row, 3));

        let deflated = compress(strip.clone(), 300, 3, TiffCompression::Deflate).unwrap();
        let mut inflated = Vec::new();
        io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&deflated[..]), &mut inflated).unwrap();
        assert_eq!(inflated, predicted);
        assert!(deflated.len() < strip.len() / 10, "{}", deflated.len());

        let lzw = compress(strip.clone(), 300, 3, TiffCompression::Lzw).unwrap();
        let unpacked = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).decode(&lzw).unwrap();
        assert_eq!(unpacked, predicted);

        assert_eq!(compress(strip.clone(), 300, 3, TiffCompression::None).unwrap(), strip);
    }
}
