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
    /// Most pixels (width × height).
    pub max_pixels: u64,
}

impl Limits {
    /// Defaults for the command line: room for large scans on a workstation
    /// (1 GiB of input, 1 gigapixel), still far below what a bomb declares.
    pub const CLI: Limits =
        Limits { max_input_bytes: 1 << 30, max_width: 1 << 20, max_height: 1 << 20, max_pixels: 1 << 30 };

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
