//! BT.601 YCbCr in OpenCV's fixed point, for the `luma` and `gray` modes.
//!
//! The coefficients and rounding are those of OpenCV's integer
//! `RGB2YCrCb`/`YCrCb2RGB` (14 fractional bits) and `RGB2GRAY` (15 bits: the
//! two differ in the last bit for about one pixel in 400), so results match
//! the OpenCV pipelines they replace. The same code
//! serves 16-bit samples, with the chroma offset at half their range.

use crate::sample::Sample;

const SHIFT: u32 = 14;
const ROUND: i32 = 1 << (SHIFT - 1);
const R2Y: i32 = 4899;
const G2Y: i32 = 9617;
const B2Y: i32 = 1868;
const CR: i32 = 11682;
const CB: i32 = 9241;
const CR2R: i32 = 22987;
const CR2G: i32 = -11698;
const CB2G: i32 = -5636;
const CB2B: i32 = 29049;

/// Rounds off the fractional bits. Every sum here fits in an i32, 16-bit
/// samples included (the largest, a 16-bit luma, is 65535 × 2¹⁴ + 2¹³), and
/// 32-bit arithmetic is what lets the per-pixel loops vectorize.
#[inline]
fn descale(v: i32) -> i32 {
    (v + ROUND) >> SHIFT
}

/// OpenCV's RGB → gray weights, at 15 fractional bits.
const GRAY_SHIFT: u32 = 15;
const R2GRAY: i64 = 9798;
const G2GRAY: i64 = 19235;
const B2GRAY: i64 = 3735;

/// Gray level of one RGB pixel, as OpenCV's `COLOR_RGB2GRAY`.
#[inline]
pub fn gray<T: Sample>(r: T, g: T, b: T) -> T {
    let (r, g, b) = (r.into() as i64, g.into() as i64, b.into() as i64);
    let v = (r * R2GRAY + g * G2GRAY + b * B2GRAY + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT;
    T::from_u32(v as u32)
}

/// Luma (Y of YCrCb) of one RGB pixel.
#[inline]
pub fn luma<T: Sample>(r: T, g: T, b: T) -> T {
    let (r, g, b) = (r.into() as i32, g.into() as i32, b.into() as i32);
    T::from_u32(descale(r * R2Y + g * G2Y + b * B2Y) as u32)
}

/// Splits an RGB pixel into (Y, Cr, Cb).
#[inline]
pub fn to_ycrcb<T: Sample>(r: T, g: T, b: T) -> (T, T, T) {
    let y = luma(r, g, b);
    let (cr, cb) = chroma(r, y, b);
    (y, cr, cb)
}

/// (Cr, Cb) of an RGB pixel whose luma is `y`.
#[inline]
pub fn chroma<T: Sample>(r: T, y: T, b: T) -> (T, T) {
    let y = y.into() as i32;
    let delta = T::HALF << SHIFT;
    let cr = descale((r.into() as i32 - y) * CR + delta);
    let cb = descale((b.into() as i32 - y) * CB + delta);
    (T::saturate(cr), T::saturate(cb))
}

/// Joins (Y, Cr, Cb) back into an RGB pixel.
#[inline]
pub fn from_ycrcb<T: Sample>(y: T, cr: T, cb: T) -> (T, T, T) {
    let y = y.into() as i32;
    let cr = cr.into() as i32 - T::HALF;
    let cb = cb.into() as i32 - T::HALF;
    let r = y + descale(cr * CR2R);
    let g = y + descale(cb * CB2G + cr * CR2G);
    let b = y + descale(cb * CB2B);
    (T::saturate(r), T::saturate(g), T::saturate(b))
}

/// Converts interleaved colour pixels (`channels` 3 or 4) to gray, keeping
/// alpha: `out` has 1 or 2 samples per pixel.
pub fn to_gray<T: Sample>(src: &[T], channels: usize, out: &mut [T]) {
    let out_channels = channels - 2;
    for (px, o) in src.chunks_exact(channels).zip(out.chunks_exact_mut(out_channels)) {
        o[0] = gray(px[0], px[1], px[2]);
        if channels == 4 {
            o[1] = px[3];
        }
    }
}

/// Equalizes the luma of `C`-channel pixels in place with one table, chroma
/// (and alpha) kept: the same sums as the tiled path, without its buffers.
/// Pixels go in groups, the conversions and the table look-ups in separate
/// loops: the conversions then vectorize (their clamps become min/max
/// instructions instead of mispredicted branches), about 3x faster.
pub(crate) fn apply_luma<T: Sample, const C: usize>(samples: &mut [T], lut: &[T]) {
    const GROUP: usize = 16;
    let lut = &lut[..T::LEVELS]; // every level has an entry: no bounds checks below
    let (mut ys, mut cr, mut cb) = ([T::default(); GROUP], [T::default(); GROUP], [T::default(); GROUP]);
    let mut groups = samples.chunks_exact_mut(C * GROUP);
    for group in &mut groups {
        for (i, px) in group.chunks_exact(C).enumerate() {
            ys[i] = luma(px[0], px[1], px[2]);
        }
        for (i, px) in group.chunks_exact(C).enumerate() {
            (cr[i], cb[i]) = chroma(px[0], ys[i], px[2]);
        }
        for y in &mut ys {
            *y = lut[y.index()];
        }
        for (i, px) in group.chunks_exact_mut(C).enumerate() {
            (px[0], px[1], px[2]) = from_ycrcb(ys[i], cr[i], cb[i]);
        }
    }
    for px in groups.into_remainder().chunks_exact_mut(C) {
        let (y, cr, cb) = to_ycrcb(px[0], px[1], px[2]);
        (px[0], px[1], px[2]) = from_ycrcb(lut[y.index()], cr, cb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_pixels_stay_gray() {
        for v in [0u8, 1, 127, 128, 254, 255] {
            assert_eq!(luma(v, v, v), v);
            assert_eq!(gray(v, v, v), v);
            assert_eq!(to_ycrcb(v, v, v), (v, 128, 128));
            assert_eq!(from_ycrcb(v, 128, 128), (v, v, v));
        }
    }

    #[test]
    fn round_trip_is_within_a_few_levels() {
        for r in (0..=255u16).step_by(15) {
            for g in (0..=255u16).step_by(17) {
                for b in (0..=255u16).step_by(13) {
                    let (y, cr, cb) = to_ycrcb(r as u8, g as u8, b as u8);
                    let (r2, g2, b2) = from_ycrcb(y, cr, cb);
                    for (a, c) in [(r, r2), (g, g2), (b, b2)] {
                        assert!((a as i32 - c as i32).abs() <= 3, "{r},{g},{b}");
                    }
                }
            }
        }
    }

    /// The 32-bit sums against the same formulas in 64 bits, over a grid of
    /// 16-bit colours that includes the extremes.
    #[test]
    fn sums_do_not_overflow_at_sixteen_bits() {
        let d = |v: i64| (v + (1 << 13)) >> 14;
        let clamp = |v: i64| v.clamp(0, 65535);
        let levels = (0..=15).map(|k| k * 4369).chain([1, 32767, 32768, 65534]);
        let levels: Vec<i64> = levels.collect();
        for &r in &levels {
            for &g in &levels {
                for &b in &levels {
                    let y = d(r * 4899 + g * 9617 + b * 1868);
                    let cr = clamp(d((r - y) * 11682 + (32768 << 14)));
                    let cb = clamp(d((b - y) * 9241 + (32768 << 14)));
                    let (r16, g16, b16) = (r as u16, g as u16, b as u16);
                    assert_eq!(to_ycrcb(r16, g16, b16), (y as u16, cr as u16, cb as u16));
                    let (yo, cro, cbo) = (r, g - 32768, b - 32768); // any (Y, Cr, Cb) triple
                    let back = (
                        clamp(yo + d(cro * 22987)),
                        clamp(yo + d(cbo * -5636 + cro * -11698)),
                        clamp(yo + d(cbo * 29049)),
                    );
                    assert_eq!(from_ycrcb(r16, g16, b16), (back.0 as u16, back.1 as u16, back.2 as u16));
                }
            }
        }
    }

    #[test]
    fn saturate_clamps_both_ways() {
        assert_eq!([-70000, -1, 0, 200, 255, 256, 70000].map(u8::saturate), [0, 0, 0, 200, 255, 255, 255]);
        assert_eq!([-1, 0, 65535, 65536, i32::MAX].map(u16::saturate), [0, 0, 65535, 65535, 65535]);
    }

    #[test]
    fn sixteen_bit_gray_is_neutral() {
        assert_eq!(to_ycrcb(40000u16, 40000, 40000), (40000, 32768, 32768));
    }
}
