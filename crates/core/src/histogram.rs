//! Counting levels: the map phase's inner loop.
//!
//! Counts are added into `u64` bins so that partial histograms from any
//! number of strips merge by plain addition. The 8-bit counter spreads
//! consecutive bytes over four tables: the same bin hit twice in a row would
//! otherwise stall on the store of the previous increment.

use crate::sample::Sample;

/// Largest run counted in `u32` tables before they are flushed to `u64`.
const FLUSH_EVERY: usize = 1 << 30;

/// Adds the levels of contiguous 8-bit samples to `hist` (256 bins).
pub fn count_u8(samples: &[u8], hist: &mut [u64]) {
    assert_eq!(hist.len(), 256, "an 8-bit histogram has 256 bins");
    let mut tables = [[0u32; 256]; 4];
    for run in samples.chunks(FLUSH_EVERY) {
        let (words, tail) = run.as_chunks::<8>();
        for word in words {
            let v = u64::from_le_bytes(*word);
            tables[0][(v & 0xff) as usize] += 1;
            tables[1][((v >> 8) & 0xff) as usize] += 1;
            tables[2][((v >> 16) & 0xff) as usize] += 1;
            tables[3][((v >> 24) & 0xff) as usize] += 1;
            tables[0][((v >> 32) & 0xff) as usize] += 1;
            tables[1][((v >> 40) & 0xff) as usize] += 1;
            tables[2][((v >> 48) & 0xff) as usize] += 1;
            tables[3][(v >> 56) as usize] += 1;
        }
        for &b in tail {
            tables[0][b as usize] += 1;
        }
        for (i, bin) in hist.iter_mut().enumerate() {
            *bin += tables.iter().map(|t| u64::from(t[i])).sum::<u64>();
        }
        tables = [[0u32; 256]; 4];
    }
}

/// Adds every `stride`-th sample from `offset` on to `hist` (`T::LEVELS` bins).
pub fn count_strided<T: Sample>(samples: &[T], stride: usize, offset: usize, hist: &mut [u64]) {
    assert_eq!(hist.len(), T::LEVELS);
    let mut pair = [vec![0u32; T::LEVELS], vec![0u32; T::LEVELS]];
    for run in samples.chunks(FLUSH_EVERY / 2 * stride) {
        let mut it = run.iter().skip(offset).step_by(stride);
        while let (Some(a), b) = (it.next(), it.next()) {
            pair[0][a.index()] += 1;
            if let Some(b) = b {
                pair[1][b.index()] += 1;
            }
        }
        for (i, bin) in hist.iter_mut().enumerate() {
            *bin += u64::from(pair[0][i]) + u64::from(pair[1][i]);
        }
        pair.iter_mut().for_each(|t| t.fill(0));
    }
}

/// Adds every sample of a contiguous plane to `hist`.
pub fn count<T: Sample>(samples: &[T], hist: &mut [u64]) {
    match T::as_bytes(samples) {
        Some(bytes) => count_u8(bytes, hist),
        None => count_strided(samples, 1, 0, hist),
    }
}

/// Adds the samples whose `mask` sample is nonzero to `hist`.
pub fn count_where<T: Sample>(samples: &[T], mask: &[u8], hist: &mut [u64]) {
    match T::as_bytes(samples) {
        Some(bytes) => count_where_u8(bytes, mask, hist),
        None => {
            for (v, &m) in samples.iter().zip(mask) {
                hist[v.index()] += u64::from(m != 0);
            }
        }
    }
}

/// The 8-bit masked counter: every sample is counted, outside ones in bins
/// 0–255 and inside ones in 256–511, so there is neither a branch (a
/// mask's edges would mispredict it) nor a multiply; four tables as in
/// [`count_u8`].
fn count_where_u8(samples: &[u8], mask: &[u8], hist: &mut [u64]) {
    let mut tables = [[0u32; 512]; 4];
    for (run, run_mask) in samples.chunks(FLUSH_EVERY).zip(mask.chunks(FLUSH_EVERY)) {
        let bin = |v: u8, m: u8| usize::from(v) | usize::from(m != 0) << 8;
        let (words, tail) = run.as_chunks::<8>();
        let (mask_words, mask_tail) = run_mask.as_chunks::<8>();
        for (w, m) in words.iter().zip(mask_words) {
            for k in 0..8 {
                tables[k % 4][bin(w[k], m[k])] += 1;
            }
        }
        for (&v, &m) in tail.iter().zip(mask_tail) {
            tables[0][bin(v, m)] += 1;
        }
        for (i, total) in hist.iter_mut().enumerate() {
            *total += tables.iter().map(|t| u64::from(t[256 + i])).sum::<u64>();
        }
        tables = [[0u32; 512]; 4];
    }
}

/// Sums `other` into `into`, bin by bin.
pub fn merge(into: &mut [u64], other: &[u64]) {
    assert_eq!(into.len(), other.len(), "histograms of different sizes");
    into.iter_mut().zip(other).for_each(|(a, b)| *a += b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive<T: Sample>(samples: &[T], stride: usize, offset: usize) -> Vec<u64> {
        let mut h = vec![0u64; T::LEVELS];
        samples.iter().skip(offset).step_by(stride).for_each(|v| h[v.index()] += 1);
        h
    }

    proptest! {
        #[test]
        fn fast_u8_counter_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut h = vec![0u64; 256];
            count_u8(&data, &mut h);
            prop_assert_eq!(h, naive(&data, 1, 0));
        }

        #[test]
        fn masked_counter_counts_the_inside(pairs in proptest::collection::vec((any::<u8>(), any::<u8>()), 0..300)) {
            let (data, mask): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
            let inside: Vec<u8> = data.iter().zip(&mask).filter(|(_, m)| **m != 0).map(|(v, _)| *v).collect();
            let mut h = vec![0u64; 256];
            count_where(&data, &mask, &mut h);
            prop_assert_eq!(h, naive(&inside, 1, 0));
        }

        #[test]
        fn strided_counter_matches_naive(data in proptest::collection::vec(any::<u16>(), 0..300),
                                         stride in 1usize..5, offset in 0usize..4) {
            let offset = offset % stride;
            let mut h = vec![0u64; 65536];
            count_strided(&data, stride, offset, &mut h);
            prop_assert_eq!(h, naive(&data, stride, offset));
        }
    }

    #[test]
    fn generic_count_takes_the_byte_path_for_u8() {
        let data: Vec<u8> = (0..=255).chain(0..10).collect();
        let mut h = vec![0u64; 256];
        count(&data, &mut h);
        assert_eq!(h[0], 2);
        assert_eq!(h[255], 1);
        assert_eq!(h.iter().sum::<u64>(), 266);
    }
}
