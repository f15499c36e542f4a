//! CIE L*a*b* under D65 with the sRGB transfer function, for the `lab` mode.
//!
//! The constants and steps are scikit-image's `rgb2lab`/`lab2rgb` (its
//! sRGB→XYZ matrix, the white point (0.95047, 1, 1.08883), the linear toe
//! 0.008856/7.787 of L*, `fz` clipped at 0), so its functions are a
//! reference for the results. Channel levels go through tables made once per
//! depth: the linear value of each level, and the linear values where the
//! encoded level steps up, so no per-pixel power is needed.

use std::sync::OnceLock;

use crate::image::Depth;
use crate::sample::Sample;
use crate::staircase::Staircase;

/// sRGB (linear) → XYZ, rows X, Y, Z.
const XYZ_FROM_RGB: [[f64; 3]; 3] =
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]];
/// D65 white, 2° observer.
const WHITE: [f64; 3] = [0.95047, 1.0, 1.08883];
/// Below this Y/Yn (≈ (6/29)³) L* is linear in Y.
const TOE: f64 = 0.008856;
const TOE_SLOPE: f64 = 7.787;
const TOE_OFFSET: f64 = 16.0 / 116.0;
/// `f(TOE)`: below it the inverse is linear too.
const TOE_F: f64 = 0.2068966;

/// The tables of one depth.
pub(crate) struct Tables {
    /// Linear light of each level.
    linear: Vec<f64>,
    /// Linear light → encoded level: step k is the least linear light
    /// whose encoded level rounds above k.
    encode: Staircase,
    /// Luminance Y → L* level: step k is the least Y whose level is above k.
    lightness: Staircase,
    rgb_from_xyz: [[f64; 3]; 3],
    max: f64,
}

/// The tables for samples of type `T`, made on first use.
pub(crate) fn tables<T: Sample>() -> &'static Tables {
    static U8: OnceLock<Tables> = OnceLock::new();
    static U16: OnceLock<Tables> = OnceLock::new();
    let cell = match T::DEPTH {
        Depth::U8 => &U8,
        Depth::U16 => &U16,
    };
    // Enough buckets that a walk passes at most a few steps.
    let bits = match T::DEPTH {
        Depth::U8 => 10,
        Depth::U16 => 12,
    };
    cell.get_or_init(|| Tables::new(T::MAX, bits))
}

/// sRGB decoding of an encoded value in [0, 1].
fn decode(v: f64) -> f64 {
    if v > 0.04045 { ((v + 0.055) / 1.055).powf(2.4) } else { v / 12.92 }
}

fn f(t: f64) -> f64 {
    if t > TOE { cube_root(t) } else { TOE_SLOPE * t + TOE_OFFSET }
}

/// The cube root of a positive normal number, to a relative 1e-14: a first
/// guess from the exponent's bits (fdlibm's, within 4 %), then two Halley
/// steps, each of which cubes the error. `f64::cbrt` is correctly rounded
/// and took 40 % of the `lab` mode's time.
#[inline]
fn cube_root(t: f64) -> f64 {
    let halley = |y: f64| {
        let y3 = y * y * y;
        y * (y3 + 2.0 * t) / (2.0 * y3 + t)
    };
    halley(halley(f64::from_bits(t.to_bits() / 3 + 0x2A9F_7893_0000_0000)))
}

fn f_inverse(u: f64) -> f64 {
    if u > TOE_F { u * u * u } else { (u - TOE_OFFSET) / TOE_SLOPE }
}

fn invert(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let cofactor = |r: usize, c: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
        m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]
    };
    let det: f64 = (0..3).map(|c| m[0][c] * cofactor(0, c)).sum();
    // The inverse is the transposed cofactors over the determinant.
    std::array::from_fn(|r| std::array::from_fn(|c| cofactor(c, r) / det))
}

fn dot(row: &[f64; 3], v: [f64; 3]) -> f64 {
    row[0] * v[0] + row[1] * v[1] + row[2] * v[2]
}

/// round(L*·max/100), half to even, of a luminance Y (Yn = 1).
fn lightness_level(y: f64, max: f64) -> f64 {
    ((116.0 * f(y) - 16.0) * max / 100.0).round_ties_even().clamp(0.0, max)
}

/// The least Y whose lightness level is above `k`, by bisection: the
/// staircase then gives [`lightness_level`] without a cube root.
fn lightness_step(k: f64, max: f64) -> f64 {
    let (mut below, mut above) = (0.0f64, 1.0f64);
    while below.next_up() < above {
        let mid = below + (above - below) / 2.0;
        if lightness_level(mid, max) > k {
            above = mid;
        } else {
            below = mid;
        }
    }
    above
}

impl Tables {
    fn new(max: u32, bits: u32) -> Tables {
        let max_f = f64::from(max);
        let linear = (0..=max).map(|v| decode(f64::from(v) / max_f)).collect();
        let encode = (0..max).map(|k| decode((f64::from(k) + 0.5) / max_f)).collect();
        let lightness = (0..max).map(|k| lightness_step(f64::from(k), max_f)).collect();
        Tables {
            linear,
            encode: Staircase::new(encode, bits),
            lightness: Staircase::new(lightness, bits),
            rgb_from_xyz: invert(XYZ_FROM_RGB),
            max: max_f,
        }
    }

    /// The linear light of one pixel's R, G and B.
    #[inline]
    fn linear_rgb<T: Sample>(&self, px: &[T]) -> [f64; 3] {
        [self.linear[px[0].index()], self.linear[px[1].index()], self.linear[px[2].index()]]
    }

    /// `f(X/Xn), f(Y/Yn), f(Z/Zn)` of one pixel.
    #[inline]
    fn f_xyz<T: Sample>(&self, px: &[T]) -> [f64; 3] {
        let rgb = self.linear_rgb(px);
        std::array::from_fn(|i| f(dot(&XYZ_FROM_RGB[i], rgb) / WHITE[i]))
    }

    /// L* of one pixel as a level: round(L*·max/100), half to even.
    #[inline]
    pub(crate) fn level<T: Sample>(&self, px: &[T]) -> T {
        T::from_u32(self.lightness.level(dot(&XYZ_FROM_RGB[1], self.linear_rgb(px))))
    }

    /// Rebuilds one pixel with L* at level `new`, a* and b* kept.
    #[inline]
    pub(crate) fn rebuild<T: Sample>(&self, px: &mut [T], new: T) {
        let [fx, fy, fz] = self.f_xyz(px);
        let fy_new = (f64::from(new.into()) * 100.0 / self.max + 16.0) / 116.0;
        let f_new = [fy_new + (fx - fy), fy_new, (fy_new - (fy - fz)).max(0.0)];
        let xyz: [f64; 3] = std::array::from_fn(|i| f_inverse(f_new[i]) * WHITE[i]);
        for (c, row) in px.iter_mut().zip(&self.rgb_from_xyz) {
            let light = dot(row, xyz);
            *c = T::from_u32(self.encode.level(light));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_roots_are_within_1e14() {
        for i in 0..100_000 {
            let t = TOE + (1.2 - TOE) * f64::from(i) / 100_000.0;
            let (fast, exact) = (cube_root(t), t.cbrt());
            assert!((fast - exact).abs() <= 1e-14 * exact, "{t}: {fast} vs {exact}");
        }
    }

    #[test]
    fn the_lightness_staircase_is_the_rounded_formula() {
        let t = tables::<u8>();
        for i in 0..=100_000 {
            let y = f64::from(i) / 100_000.0;
            assert_eq!(f64::from(t.lightness.level(y)), lightness_level(y, 255.0), "Y = {y}");
        }
    }

    #[test]
    fn the_inverse_matrix_inverts() {
        let inv = invert(XYZ_FROM_RGB);
        for (r, row) in XYZ_FROM_RGB.iter().enumerate() {
            for c in 0..3 {
                let v: f64 = row.iter().zip(&inv).map(|(m, inv_row)| m * inv_row[c]).sum();
                assert!((v - if r == c { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn gray_levels_have_the_textbook_lightness() {
        let t = tables::<u8>();
        assert_eq!(t.level(&[0u8, 0, 0]), 0);
        assert_eq!(t.level(&[255u8, 255, 255]), 255);
        // sRGB 119 is L* ≈ 50.
        assert_eq!(t.level(&[119u8, 119, 119]), 128);
    }

    #[test]
    fn rebuilding_at_the_same_lightness_stays_within_a_level() {
        for depth_max in [255u32, 65535] {
            let step = depth_max / 17;
            for r in (0..=depth_max).step_by(step as usize) {
                for g in (0..=depth_max).step_by(step as usize + 3) {
                    for b in (0..=depth_max).step_by(step as usize + 7) {
                        if depth_max == 255 {
                            let px = [r as u8, g as u8, b as u8];
                            let mut out = px;
                            let t = tables::<u8>();
                            t.rebuild(&mut out, t.level(&px));
                            // L* is quantized to a level: a channel moves by a few levels at most.
                            assert!(px.iter().zip(out).all(|(&a, b)| a.abs_diff(b) <= 3), "{px:?} → {out:?}");
                        } else {
                            let px = [r as u16, g as u16, b as u16];
                            let mut out = px;
                            let t = tables::<u16>();
                            t.rebuild(&mut out, t.level(&px));
                            assert!(px.iter().zip(out).all(|(&a, b)| a.abs_diff(b) <= 3), "{px:?} → {out:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn brighter_lightness_brightens_every_channel_of_a_gray() {
        let t = tables::<u8>();
        let mut px = [100u8, 100, 100];
        t.rebuild(&mut px, 200);
        assert!(px.iter().all(|&c| c > 100), "{px:?}");
        assert_eq!(t.level(&px).abs_diff(200), 0);
    }
}
