//! Fuzz target: upload bytes → `histo_codec::decode` (with small limits) →
//! equalize through the local engine, with options taken from the input's
//! last bytes → encode → decode the result again. A PNG is also read strip
//! by strip (`histo_codec::stream`, as a master reads uploads).
//!
//! It must never panic, hang or allocate past the limits, whatever the
//! bytes; what it gets right is checked too: the equalized image keeps its
//! size, what the encoder writes the decoder reads back, and the strip
//! reader gives the whole-image decoder's samples.

#![no_main]

use std::io::Cursor;

use histo_codec::stream::{self, Opened};
use histo_codec::{EncodeSettings, Format, Input, JpegQuality, Limits, TiffCompression};
use histo_core::options::{self, ClaheParams, Method, Mode, Options};
use libfuzzer_sys::fuzz_target;

/// Small limits: a bomb is refused from its header, and every input that
/// passes decodes quickly.
const LIMITS: Limits = Limits {
    max_input_bytes: 1 << 20,
    max_width: 1024,
    max_height: 1024,
    max_pixels: 1 << 16,
    max_whole_pixels: 1 << 16,
};

/// Options, output format and its settings from the input's last four
/// bytes. The decoder still sees every byte, so a seed image keeps decoding
/// while the fuzzer varies the options by mutating its tail.
fn options(data: &[u8]) -> (Options, Format, EncodeSettings) {
    let mut tail = [0u8; 4];
    let n = data.len().min(4);
    tail[..n].copy_from_slice(&data[data.len() - n..]);
    let [a, b, c, d] = tail;
    let mode = Mode::ALL[usize::from(a) % Mode::ALL.len()];
    let method = if b & 1 == 0 {
        Method::Global
    } else {
        // Through the API's own parsers, as an upload's fields would be.
        let tiles = format!("{}x{}", 1 + u32::from(d & 0x0f) * 17, 1 + u32::from(d >> 4) * 17);
        let (tiles_x, tiles_y) = options::parse_tiles(&tiles).expect("1..=256 tiles parse");
        let clip_limit = options::parse_clip_limit(&format!("{}", f64::from(c) / 8.0)).expect("finite, >= 0");
        Method::Clahe(ClaheParams { clip_limit, tiles_x, tiles_y })
    };
    let format = Format::ALL[usize::from(b >> 1) % Format::ALL.len()];
    let tiff = [TiffCompression::None, TiffCompression::Lzw, TiffCompression::Deflate][usize::from(b >> 4) % 3];
    let jpeg_quality = JpegQuality::new(1 + c % 100).expect("1..=100");
    (Options { mode, method }, format, EncodeSettings { tiff, jpeg_quality, ..EncodeSettings::default() })
}

/// Every row of a PNG through the strip reader: no panic, and the samples
/// of the whole-image decoder when both succeed.
fn by_strips(data: &[u8], whole: Option<&histo_core::Image>) {
    let Ok(Opened::Strips(mut reader)) = stream::open(&Input::from(data.to_vec()), &LIMITS) else { return };
    let height = reader.shape().height;
    let (first, rest) = (height / 3, height - height / 3);
    let (Ok(a), Ok(b)) = (reader.rows(0, first), reader.rows(first, rest)) else { return };
    if let Some(whole) = whole.map(histo_core::Image::pixels) {
        let split = a.len();
        let same = (a.slice(0..split), b.slice(0..b.len())) == (whole.slice(0..split), whole.slice(split..whole.len()));
        assert!(same, "strips give the whole-image decoder's samples");
    }
}

fuzz_target!(|data: &[u8]| {
    let decoded = histo_codec::decode(data, &LIMITS);
    by_strips(data, decoded.as_ref().ok().map(|(image, _)| image));
    let Ok((image, _)) = decoded else { return };
    let (width, height) = (image.width(), image.height());
    assert!(u64::from(width) * u64::from(height) <= LIMITS.max_pixels, "decode honours the pixel limit");
    let (options, format, settings) = options(data);
    // Some options do not fit some images (e.g. more tiles than rows): an
    // error, never a panic.
    let Ok(equalized) = histo_core::local::equalize(image, options) else { return };
    assert_eq!((equalized.width(), equalized.height()), (width, height), "equalizing keeps the size");
    let mut out = Cursor::new(Vec::new());
    histo_codec::encode(&equalized, format, &settings, &mut out).expect("every image encodes");
    let (back, got) = histo_codec::decode(out.get_ref(), &Limits::CLI).expect("our own output decodes");
    assert_eq!(got, format);
    assert_eq!((back.width(), back.height()), (width, height), "{format} keeps the size");
});
