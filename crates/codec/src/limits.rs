//! The limits every decode is held to, so a hostile file costs nothing.

/// Bounds on what [`crate::decode`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded input, in bytes.
    pub max_input_bytes: u64,
    /// Widest image, in pixels.
    pub max_width: u32,
    /// Tallest image, in pixels.
    pub max_height: u32,
    /// Most pixels (width × height) of an image read a strip at a time.
    pub max_pixels: u64,
    /// Most pixels of an image that must be decoded whole (WebP, BMP,
    /// interlaced PNG, CMYK JPEG, the TIFF layouts that need a conversion,
    /// and every image [`crate::decode`] is given), whose memory grows with
    /// it.
    pub max_whole_pixels: u64,
}

impl Limits {
    /// Defaults for files on the command line: an image read a strip at a
    /// time costs memory by its strips, not its size, so only sides past
    /// 2²⁰ are refused (a 100 000 × 60 000 slide is taken); one decoded
    /// whole stops at a gigapixel, far below what a bomb declares.
    pub const CLI: Limits = Limits {
        max_input_bytes: 1 << 40,
        max_width: 1 << 20,
        max_height: 1 << 20,
        max_pixels: 1 << 40,
        max_whole_pixels: 1 << 30,
    };

    /// The limits of an image decoded whole: the lower of both pixel bounds.
    pub fn whole(&self) -> Limits {
        Limits { max_pixels: self.max_pixels.min(self.max_whole_pixels), ..*self }
    }

    /// Bytes a decoded image within these limits may need (16-bit RGBA),
    /// with slack for the decoder's own buffers.
    pub fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::CLI
    }
}
