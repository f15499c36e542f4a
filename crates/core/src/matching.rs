//! Histogram specification (matching): the table that gives an image the
//! histogram of a reference, computed exactly in integers.
//!
//! With S and R the cumulative counts of the source and the reference, and
//! N_src and N_ref their totals, level v maps to the smallest reference
//! level u with S(v)·N_ref ≤ R(u)·N_src (products in u128). When the
//! reference has another depth, u becomes round(u·M_src/M_ref), half up,
//! where M is each depth's largest level, so the output keeps the source's
//! depth.

use crate::image::Depth;
use crate::options::{Method, OptionError};
use crate::plan::{Histograms, Luts, Plan};
use crate::sample::Sample;

/// Checks that `plan` can match `reference`: the global method, as many
/// planes, 256 or 65536 levels each, and a pixel in every plane.
pub fn check(plan: &Plan, reference: &Histograms) -> Result<(), OptionError> {
    if plan.method() != Method::Global {
        return Err(OptionError::MatchMethod);
    }
    let planes = plan.plane_names().len();
    let per_plane = reference.bins.len() / planes;
    if !reference.bins.len().is_multiple_of(planes) || !matches!(per_plane, 256 | 65536) {
        return Err(OptionError::MatchPlanes { want: planes, bins: reference.bins.len() });
    }
    if reference.bins.chunks_exact(per_plane).any(|plane| plane.iter().all(|&c| c == 0)) {
        return Err(OptionError::EmptyReference);
    }
    Ok(())
}

/// Reduce for matching: the tables that give `total`'s image the
/// histograms of `reference`, which [`check`] accepted.
pub fn reduce(plan: &Plan, total: &Histograms, reference: &Histograms) -> Luts {
    let planes = plan.plane_names().len();
    let (source_levels, reference_levels) = (total.bins.len() / planes, reference.bins.len() / planes);
    let pairs = total.bins.chunks_exact(source_levels).zip(reference.bins.chunks_exact(reference_levels));
    match plan.depth() {
        Depth::U8 => Luts::U8(pairs.flat_map(|(s, r)| table::<u8>(s, r)).collect()),
        Depth::U16 => Luts::U16(pairs.flat_map(|(s, r)| table::<u16>(s, r)).collect()),
    }
}

/// The matching table of one plane: `source` has one count per level of
/// `T`, `reference` one per level of its own depth (256 or 65536) and at
/// least one pixel.
pub fn table<T: Sample>(source: &[u64], reference: &[u64]) -> Vec<T> {
    debug_assert_eq!(source.len(), T::LEVELS);
    let n_src: u128 = source.iter().map(|&c| u128::from(c)).sum();
    let n_ref: u128 = reference.iter().map(|&c| u128::from(c)).sum();
    assert!(n_ref > 0, "an empty reference has no histogram to match");
    let ref_max = (reference.len() - 1) as u64;
    let rescale = |u: usize| {
        let u = u as u64;
        let v = if ref_max == u64::from(T::MAX) { u } else { (2 * u * u64::from(T::MAX) + ref_max) / (2 * ref_max) };
        T::from_u32(v as u32)
    };
    let mut out = Vec::with_capacity(source.len());
    let (mut s, mut r) = (0u128, u128::from(reference[0]));
    let mut u = 0usize;
    for &count in source {
        s += u128::from(count);
        // S only grows, so the answer for the next level is never lower.
        while r * n_src < s * n_ref {
            u += 1;
            r += u128::from(reference[u]);
        }
        out.push(rescale(u));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule as written, level by level, without the shared walk.
    fn by_definition(source: &[u64], reference: &[u64]) -> Vec<usize> {
        let cum = |h: &[u64]| {
            h.iter()
                .scan(0u128, |a, &c| {
                    *a += u128::from(c);
                    Some(*a)
                })
                .collect::<Vec<_>>()
        };
        let (s, r) = (cum(source), cum(reference));
        let (n_src, n_ref) = (*s.last().unwrap(), *r.last().unwrap());
        s.iter().map(|&sv| r.iter().position(|&ru| sv * n_ref <= ru * n_src).unwrap()).collect()
    }

    #[test]
    fn follows_the_definition() {
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50 {
            let source: Vec<u64> = (0..256).map(|_| if next() % 3 == 0 { next() % 1000 } else { 0 }).collect();
            let mut reference: Vec<u64> = (0..256).map(|_| if next() % 4 == 0 { next() % 5000 } else { 0 }).collect();
            reference[(next() % 256) as usize] += 1;
            let got: Vec<usize> = table::<u8>(&source, &reference).into_iter().map(usize::from).collect();
            assert_eq!(got, by_definition(&source, &reference), "round {round}");
        }
    }

    #[test]
    fn matching_an_image_to_itself_keeps_its_levels() {
        let hist: Vec<u64> = (0..256).map(|v| if v % 7 == 3 { v as u64 + 1 } else { 0 }).collect();
        let t = table::<u8>(&hist, &hist);
        for (v, &c) in hist.iter().enumerate() {
            if c > 0 {
                assert_eq!(usize::from(t[v]), v);
            }
        }
    }

    #[test]
    fn a_one_level_reference_maps_everything_to_it() {
        let mut reference = vec![0u64; 256];
        reference[77] = 5;
        let source: Vec<u64> = (0..256).map(|v| v as u64 % 3).collect();
        let t = table::<u8>(&source, &reference);
        // Every level the image has; those below its lowest map to 0.
        assert!(source.iter().zip(&t).all(|(&c, &u)| c == 0 || u == 77));
        assert_eq!(t[0], 0);
    }

    #[test]
    fn depths_are_rescaled_to_the_source() {
        // A 16-bit reference at 65535 and at 32768: 255 and round(127.5) = 128.
        let mut reference = vec![0u64; 65536];
        reference[65535] = 1;
        assert!(table::<u8>(&[1; 256], &reference).into_iter().all(|u| u == 255));
        reference[65535] = 0;
        reference[32768] = 1;
        assert!(table::<u8>(&[1; 256], &reference).into_iter().all(|u| u == 128));
        // An 8-bit reference for a 16-bit source: 255 → 65535, 1 → 257.
        let mut small = vec![0u64; 256];
        small[1] = 1;
        assert!(table::<u16>(&vec![1; 65536], &small).into_iter().all(|u| u == 257));
    }
}
