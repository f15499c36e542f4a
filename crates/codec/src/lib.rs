//! Image files in and out of histo: decoding with explicit limits, and
//! encoding whose PNG path compresses strips in parallel.
//!
//! Decoding refuses oversized input before spending memory on it: the byte
//! count first, then the dimensions read from the header, and only then the
//! pixels ([`decode`]). Encoding picks the format from the output name or an
//! explicit [`Format`] ([`encode`]); PNG goes through [`png`], which the
//! cluster can also drive strip by strip.
//!
//! A PNG, a JPEG or a TIFF can also be decoded strip by strip ([`stream`]), from
//! memory or from a file ([`Input`]), so that a master never holds the whole
//! image (a PNG's plain image data is inflated by zlib-rs, `idat`), and a
//! TIFF written from its rows in order, uncompressed, LZW or Deflate
//! ([`tiff_writer`]). A JPEG is decoded and written row by row through
//! libjpeg-turbo's API ([`jpeg_writer`]). What a user chooses about each
//! format is one [`EncodeSettings`].

pub mod decode;
pub mod encode;
pub mod format;
mod idat;
pub mod input;
pub mod jpeg_writer;
pub mod limits;
pub mod png;
pub mod settings;
pub mod stream;
mod tiff_strip;
pub mod tiff_writer;

pub use decode::{DecodeError, decode, read_limited};
pub use encode::{EncodeError, encode};
pub use format::Format;
pub use input::Input;
pub use limits::Limits;
pub use settings::{EncodeSettings, JpegQuality, TiffCompression};
