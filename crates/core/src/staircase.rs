//! A rising step function on [0, 1]: the level of a value is the number of
//! steps at or below it. The `lab` mode turns linear light back into sRGB
//! levels with one, instead of a power per channel.
//!
//! A binary search over 255 or 65535 steps costs 8 to 16 mispredicted
//! branches; instead the value's float exponent and top mantissa bits pick
//! a bucket, which stores the level at its lower edge, and a short walk
//! passes the few steps inside the bucket. Same answer as the search.

/// Values below 2^-LOWEST share bucket 0, which starts at level 0.
const LOWEST: i32 = 20;

/// The steps of one function, and where each bucket starts.
pub(crate) struct Staircase {
    steps: Vec<f64>,
    starts: Vec<u32>,
    /// Mantissa bits that choose a bucket within an octave.
    bits: u32,
    /// The bucket key (the bits above the chosen mantissa bits) of
    /// 2^-LOWEST: the first bucket past bucket 0.
    first_key: u64,
    /// 2^-LOWEST: below it, bucket 0.
    lowest: f64,
}

impl Staircase {
    /// `steps` must be ascending and within [0, 1]; more `bits` make the
    /// table bigger and the walks shorter.
    pub(crate) fn new(steps: Vec<f64>, bits: u32) -> Staircase {
        debug_assert!(steps.windows(2).all(|w| w[0] <= w[1]));
        let lowest = (2f64).powi(-LOWEST);
        let first_key = lowest.to_bits() >> (52 - bits);
        // Octaves 2^-LOWEST .. 2^0, then one bucket for 1.0 and above.
        let buckets = (LOWEST as usize) << bits;
        let mut starts = Vec::with_capacity(buckets + 2);
        starts.push(0);
        for key in first_key..=first_key + buckets as u64 {
            let edge = f64::from_bits(key << (52 - bits));
            starts.push(steps.partition_point(|&s| s <= edge) as u32);
        }
        Staircase { steps, starts, bits, first_key, lowest }
    }

    /// The number of steps at or below `x` (NaN counts as 0).
    #[inline]
    pub(crate) fn level(&self, x: f64) -> u32 {
        let bucket = if x >= self.lowest {
            let key = (x.to_bits() >> (52 - self.bits)) - self.first_key + 1;
            (key as usize).min(self.starts.len() - 1)
        } else {
            0
        };
        let mut level = self.starts[bucket] as usize;
        while self.steps.get(level).is_some_and(|&s| s <= x) {
            level += 1;
        }
        level as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(steps: Vec<f64>, bits: u32, probes: impl Iterator<Item = f64>) {
        let stairs = Staircase::new(steps.clone(), bits);
        for x in probes {
            assert_eq!(stairs.level(x) as usize, steps.partition_point(|&s| s <= x), "x = {x:e}");
        }
    }

    #[test]
    fn agrees_with_a_binary_search() {
        let squares: Vec<f64> = (0..255).map(|k| ((f64::from(k) + 0.5) / 255.0).powi(2)).collect();
        let probes = (0..=200_000).map(|i| f64::from(i) / 200_000.0);
        check(squares.clone(), 5, probes);
        // Exactly on the steps, just around them, and outside [0, 1].
        let edges = squares.iter().flat_map(|&s| [s, s.next_down(), s.next_up()]);
        check(squares.clone(), 5, edges.chain([-1.0, 0.0, 1e-30, 1.0, 1.5, f64::INFINITY]));
        let fine: Vec<f64> = (0..65535).map(|k| ((f64::from(k) + 0.5) / 65535.0).powf(2.4)).collect();
        check(fine, 12, (0..=300_000).map(|i| (f64::from(i) / 300_000.0).powi(3)));
    }

    #[test]
    fn nan_is_level_zero() {
        assert_eq!(Staircase::new(vec![0.5], 4).level(f64::NAN), 0);
    }
}
