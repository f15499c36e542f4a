//! Equalization look-up tables: the reduce phase's output, and applying them.
//!
//! 8-bit tables follow OpenCV's `equalizeHist` operation for operation
//! (`f32` scale, round half to even) so results are bit-exact with it.
//! 16-bit tables use the same shape over 65536 levels in `f64`:
//!
//! ```text
//! lut[v] = round_half_even((cdf(v) - cdf_min) * 65535 / (N - cdf_min))
//! ```
//!
//! where `cdf_min` is the count of the lowest level present and `N` the pixel
//! count. A constant plane maps to itself.

use crate::sample::Sample;

/// Builds the global equalization table for a histogram of `T::LEVELS` bins.
pub fn equalize<T: Sample>(hist: &[u64]) -> Vec<T> {
    assert_eq!(hist.len(), T::LEVELS);
    let mut lut: Vec<T> = (0..T::LEVELS as u32).map(T::from_u32).collect();
    let total: u64 = hist.iter().sum();
    let Some(first) = hist.iter().position(|&c| c > 0) else {
        return lut; // empty plane: identity
    };
    let base = hist[first];
    if base == total {
        return lut; // one level only: OpenCV leaves it as it is
    }
    let span = total - base;
    // Levels below the lowest one counted (pixels outside a mask) go to 0
    // with it, as the cumulative count says.
    lut[..=first].fill(T::from_u32(0));
    let mut sum = 0u64;
    if T::LEVELS == 256 {
        // OpenCV: float scale = 255.f / (total - hist[i]); lut = saturate_cast<uchar>(sum * scale)
        let scale = 255.0f32 / span as f32;
        for (level, &count) in hist.iter().enumerate().skip(first + 1) {
            sum += count;
            lut[level] = T::round_f32(sum as f32 * scale);
        }
    } else {
        let max = f64::from(T::MAX);
        for (level, &count) in hist.iter().enumerate().skip(first + 1) {
            sum += count;
            let v = (sum as f64 * max / span as f64).round_ties_even();
            lut[level] = T::from_u32(v as u32);
        }
    }
    lut
}

/// Maps every sample of a contiguous plane through `lut`, in place.
pub fn apply<T: Sample>(samples: &mut [T], lut: &[T]) {
    assert_eq!(lut.len(), T::LEVELS);
    match T::as_bytes_mut(samples) {
        Some(bytes) => {
            let table: [u8; 256] = std::array::from_fn(|i| lut[i].into() as u8);
            bytes.iter_mut().for_each(|b| *b = table[*b as usize]);
        }
        None => samples.iter_mut().for_each(|v| *v = lut[v.index()]),
    }
}

/// Maps every sample of `src` through `lut` into `dst` (of the same length).
pub fn apply_into<T: Sample>(src: &[T], dst: &mut [T], lut: &[T]) {
    assert_eq!(lut.len(), T::LEVELS);
    assert_eq!(src.len(), dst.len());
    match (T::as_bytes(src), T::as_bytes_mut(dst)) {
        (Some(src), Some(dst)) => {
            let table: [u8; 256] = std::array::from_fn(|i| lut[i].into() as u8);
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = table[*s as usize]);
        }
        _ => dst.iter_mut().zip(src).for_each(|(d, s)| *d = lut[s.index()]),
    }
}

/// Maps every `stride`-th sample from `offset` on through `lut`, in place.
pub fn apply_strided<T: Sample>(samples: &mut [T], stride: usize, offset: usize, lut: &[T]) {
    assert_eq!(lut.len(), T::LEVELS);
    samples.iter_mut().skip(offset).step_by(stride).for_each(|v| *v = lut[v.index()]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram;

    fn hist_of<T: Sample>(data: &[T]) -> Vec<u64> {
        let mut h = vec![0; T::LEVELS];
        histogram::count(data, &mut h);
        h
    }

    #[test]
    fn constant_plane_is_unchanged() {
        let lut = equalize::<u8>(&hist_of(&[77u8; 10]));
        assert_eq!(lut[77], 77);
    }

    #[test]
    fn two_levels_spread_to_the_extremes() {
        let lut = equalize::<u8>(&hist_of(&[10u8, 10, 200, 200]));
        assert_eq!((lut[10], lut[200]), (0, 255));
    }

    #[test]
    fn sixteen_bit_uses_the_full_range() {
        let lut = equalize::<u16>(&hist_of(&[1000u16, 2000, 3000, 4000]));
        assert_eq!([lut[1000], lut[2000], lut[3000], lut[4000]], [0, 21845, 43690, 65535]);
    }

    #[test]
    fn tables_are_monotonic() {
        let data: Vec<u8> = (0..5000u32).map(|i| ((i * 7919) % 97 + 40) as u8).collect();
        let lut = equalize::<u8>(&hist_of(&data));
        let present: Vec<u8> = (40..137).map(|v| lut[v]).collect();
        assert!(present.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*present.last().unwrap(), 255);
    }

    #[test]
    fn apply_paths_agree() {
        let lut: Vec<u8> = (0..=255).map(|v: u8| v.wrapping_mul(3)).collect();
        let mut a: Vec<u8> = (0..=255).collect();
        let mut b = a.clone();
        apply(&mut a, &lut);
        apply_strided(&mut b, 1, 0, &lut);
        assert_eq!(a, b);
    }
}
