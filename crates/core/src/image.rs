//! The in-memory image: dimensions, channel layout and interleaved samples.
//!
//! Codecs produce and consume [`Image`]; the job math works on slices of its
//! rows, so a strip is just a row range of the same buffer.

use std::fmt;

/// Channel layout of interleaved pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Luminance only.
    Gray,
    /// Luminance and alpha.
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue and alpha.
    Rgba,
}

impl Layout {
    /// Samples per pixel.
    pub fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::GrayAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }

    /// Whether the pixels carry colour.
    pub fn is_color(self) -> bool {
        matches!(self, Layout::Rgb | Layout::Rgba)
    }

    /// Whether the last channel is alpha.
    pub fn has_alpha(self) -> bool {
        matches!(self, Layout::GrayAlpha | Layout::Rgba)
    }

    /// The same layout without colour (alpha kept).
    pub fn to_gray(self) -> Layout {
        if self.has_alpha() { Layout::GrayAlpha } else { Layout::Gray }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Gray => "gray",
            Layout::GrayAlpha => "gray+alpha",
            Layout::Rgb => "rgb",
            Layout::Rgba => "rgba",
        })
    }
}

/// Bits per sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Depth {
    /// 8-bit samples, 256 levels.
    U8,
    /// 16-bit samples, 65536 levels.
    U16,
}

impl Depth {
    /// Bytes in one sample.
    pub fn bytes(self) -> usize {
        match self {
            Depth::U8 => 1,
            Depth::U16 => 2,
        }
    }
}

/// An image without its samples: the one description of a shape that
/// decoders, encoders, plans and tasks share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub depth: Depth,
}

impl Shape {
    /// Samples in one row.
    pub fn row_len(&self) -> usize {
        self.width as usize * self.layout.channels()
    }

    /// Bytes in one pixel.
    pub fn pixel_bytes(&self) -> usize {
        self.layout.channels() * self.depth.bytes()
    }

    /// Bytes in one row of samples.
    pub fn row_bytes(&self) -> usize {
        self.width as usize * self.pixel_bytes()
    }
}

/// Interleaved samples, row-major, no padding between rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pixels {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 16-bit samples.
    U16(Vec<u16>),
}

impl Pixels {
    /// The sample depth.
    pub fn depth(&self) -> Depth {
        match self {
            Pixels::U8(_) => Depth::U8,
            Pixels::U16(_) => Depth::U16,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Pixels::U8(v) => v.len(),
            Pixels::U16(v) => v.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An image whose sample count does not match its dimensions.
#[derive(Debug, thiserror::Error)]
#[error("image of {width}x{height} {layout} needs {expected} samples, got {actual}")]
pub struct ShapeError {
    width: u32,
    height: u32,
    layout: Layout,
    expected: usize,
    actual: usize,
}

/// A decoded image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    layout: Layout,
    pixels: Pixels,
}

impl Image {
    /// Builds an image, checking that the samples fill it exactly.
    pub fn new(width: u32, height: u32, layout: Layout, pixels: Pixels) -> Result<Self, ShapeError> {
        let expected = width as usize * height as usize * layout.channels();
        if pixels.len() != expected {
            return Err(ShapeError { width, height, layout, expected, actual: pixels.len() });
        }
        Ok(Image { width, height, layout, pixels })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Channel layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Sample depth.
    pub fn depth(&self) -> Depth {
        self.pixels.depth()
    }

    /// The samples.
    pub fn pixels(&self) -> &Pixels {
        &self.pixels
    }

    /// The samples, mutably (the shape stays fixed).
    pub fn pixels_mut(&mut self) -> &mut Pixels {
        &mut self.pixels
    }

    /// Samples in one row.
    pub fn row_len(&self) -> usize {
        self.width as usize * self.layout.channels()
    }

    /// Its shape.
    pub fn shape(&self) -> Shape {
        Shape { width: self.width, height: self.height, layout: self.layout, depth: self.depth() }
    }

    /// Takes the image apart.
    pub fn into_parts(self) -> (u32, u32, Layout, Pixels) {
        (self.width, self.height, self.layout, self.pixels)
    }
}
