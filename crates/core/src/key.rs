//! The colour modes that equalize one value of each pixel, its key (luma,
//! HSV value, HSL lightness or CIE L*), and rebuild the pixel around the
//! key's new level, keeping its colour. Alpha is never touched.
//!
//! The rules, with M the largest level (255 or 65535):
//!
//! * `hsv`: the key is V = max(R, G, B). A pixel with V > 0 scales every
//!   channel by V'/V, rounded half up (hue and saturation kept exactly up
//!   to that rounding); a black pixel becomes the gray (V', V', V').
//! * `hsl`: the key is L = (max + min)/2, rounded half to even. A channel
//!   c becomes L' + (c − L)·d(L')/d(L), rounded half up, where L is the
//!   unrounded lightness and d(x) = min(x, M − x) its distance to black or
//!   white (hue and saturation kept); a pixel with d(L) = 0 becomes gray.
//! * `lab`: see [`crate::lab`].

use crate::color;
use crate::lab;
use crate::sample::Sample;

/// Which value of a colour pixel a mode equalizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// Y of YCbCr, chroma kept.
    Luma,
    /// V of HSV.
    Value,
    /// L of HSL.
    Lightness,
    /// CIE L*, a* and b* kept.
    Lab,
}

impl Key {
    /// The plane's name in histograms and events, as the plan lists it.
    pub(crate) fn plane_names(self) -> &'static [&'static str] {
        match self {
            Key::Luma => &["luma"],
            Key::Value => &["value"],
            Key::Lightness => &["lightness"],
            Key::Lab => &["lab_l"],
        }
    }

    /// The key of each `C`-channel pixel of a row.
    pub(crate) fn levels<T: Sample, const C: usize>(self, row: &[T], values: &mut [T]) {
        let pixels = row.chunks_exact(C).zip(values);
        match self {
            Key::Luma => pixels.for_each(|(px, v)| *v = color::luma(px[0], px[1], px[2])),
            Key::Value => pixels.for_each(|(px, v)| *v = value(px)),
            Key::Lightness => pixels.for_each(|(px, v)| *v = T::from_u32(lightness_level(px))),
            Key::Lab => {
                let tables = lab::tables::<T>();
                pixels.for_each(|(px, v)| *v = tables.level(px));
            }
        }
    }

    /// Rebuilds each `C`-channel pixel of a row around its key's new level.
    pub(crate) fn rebuild<T: Sample, const C: usize>(self, row: &mut [T], values: &[T]) {
        let pixels = row.chunks_exact_mut(C).zip(values);
        match self {
            Key::Luma => pixels.for_each(|(px, &v)| {
                let (cr, cb) = color::chroma(px[0], color::luma(px[0], px[1], px[2]), px[2]);
                (px[0], px[1], px[2]) = color::from_ycrcb(v, cr, cb);
            }),
            Key::Value => pixels.for_each(|(px, &v)| rebuild_value(px, v)),
            Key::Lightness => pixels.for_each(|(px, &v)| rebuild_lightness(px, v)),
            Key::Lab => {
                let tables = lab::tables::<T>();
                pixels.for_each(|(px, &v)| tables.rebuild(px, v));
            }
        }
    }
}

#[inline]
fn value<T: Sample>(px: &[T]) -> T {
    let (r, g, b) = (px[0].into(), px[1].into(), px[2].into());
    T::from_u32(r.max(g).max(b))
}

/// max + min of the colour channels: twice the HSL lightness.
#[inline]
fn lightness_twice<T: Sample>(px: &[T]) -> u32 {
    let (r, g, b): (u32, u32, u32) = (px[0].into(), px[1].into(), px[2].into());
    r.max(g).max(b) + r.min(g).min(b)
}

/// (max + min)/2 rounded half to even.
#[inline]
fn lightness_level<T: Sample>(px: &[T]) -> u32 {
    let twice = lightness_twice(px);
    (twice + ((twice >> 1) & 1)) >> 1
}

/// round(num/den) half up, for den > 0.
#[inline]
fn div_round(num: i64, den: i64) -> i64 {
    (2 * num + den).div_euclid(2 * den)
}

#[inline]
fn rebuild_value<T: Sample>(px: &mut [T], new: T) {
    let old = i64::from(value(px).into());
    let new_v = i64::from(new.into());
    for c in &mut px[..3] {
        *c = match old {
            0 => new,
            _ => T::saturate(div_round(i64::from((*c).into()) * new_v, old) as i32),
        };
    }
}

#[inline]
fn rebuild_lightness<T: Sample>(px: &mut [T], new: T) {
    let max = i64::from(T::MAX);
    let twice = i64::from(lightness_twice(px));
    let distance_twice = twice.min(2 * max - twice);
    let new_l = i64::from(new.into());
    let new_distance = new_l.min(max - new_l);
    for c in &mut px[..3] {
        *c = match distance_twice {
            0 => new,
            _ => {
                // c − L = (2c − 2L)/2, so the 2 of 2L cancels against d(L)'s.
                let offset = div_round((2 * i64::from((*c).into()) - twice) * new_distance, distance_twice);
                T::saturate((new_l + offset) as i32)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebuilt(key: Key, px: [u8; 3], new: u8) -> [u8; 3] {
        let mut row = px;
        key.rebuild::<u8, 3>(&mut row, &[new]);
        row
    }

    fn level(key: Key, px: [u8; 3]) -> u8 {
        let mut v = [0u8];
        key.levels::<u8, 3>(&px, &mut v);
        v[0]
    }

    #[test]
    fn keys_follow_their_definitions() {
        assert_eq!(level(Key::Value, [10, 200, 30]), 200);
        assert_eq!(level(Key::Lightness, [10, 200, 30]), 105);
        // (3 + 0)/2 = 1.5 → 2; (1 + 0)/2 = 0.5 → 0: half to even.
        assert_eq!(level(Key::Lightness, [3, 0, 0]), 2);
        assert_eq!(level(Key::Lightness, [1, 0, 0]), 0);
        assert_eq!(level(Key::Luma, [10, 200, 30]), color::luma(10, 200, 30));
    }

    #[test]
    fn value_scales_the_channels() {
        assert_eq!(rebuilt(Key::Value, [50, 100, 25], 200), [100, 200, 50]);
        assert_eq!(rebuilt(Key::Value, [0, 0, 0], 40), [40, 40, 40]);
        // 1·255/2 = 127.5 rounds up.
        assert_eq!(rebuilt(Key::Value, [1, 2, 0], 255), [128, 255, 0]);
    }

    #[test]
    fn lightness_keeps_saturation() {
        // L = 100, d = 100; new L = 150, d = 105: offsets scale by 1.05.
        assert_eq!(rebuilt(Key::Lightness, [140, 60, 100], 150), [192, 108, 150]);
        assert_eq!(rebuilt(Key::Lightness, [255, 255, 255], 90), [90, 90, 90]);
        assert_eq!(rebuilt(Key::Lightness, [0, 0, 0], 90), [90, 90, 90]);
        // Full saturation stays full: max reaches 255 or min 0.
        assert_eq!(rebuilt(Key::Lightness, [255, 0, 0], 200), [255, 145, 145]);
        assert_eq!(rebuilt(Key::Lightness, [255, 0, 0], 60), [120, 0, 0]);
    }

    #[test]
    fn the_same_level_keeps_the_pixel() {
        for px in [[10u8, 200, 30], [255, 0, 128], [7, 7, 7], [0, 1, 2], [254, 255, 253]] {
            assert_eq!(rebuilt(Key::Value, px, level(Key::Value, px)), px);
            let l = rebuilt(Key::Lightness, px, level(Key::Lightness, px));
            assert!(l.iter().zip(px).all(|(&a, b)| a.abs_diff(b) <= 1), "{px:?} → {l:?}");
        }
    }

    #[test]
    fn alpha_is_kept() {
        for key in [Key::Luma, Key::Value, Key::Lightness, Key::Lab] {
            let mut row = [10u16, 2000, 300, 4321];
            key.rebuild::<u16, 4>(&mut row, &[60000]);
            assert_eq!(row[3], 4321, "{key:?}");
        }
    }
}
