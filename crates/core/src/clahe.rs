//! Contrast-limited adaptive histogram equalization (CLAHE), OpenCV's way.
//!
//! The image is divided into a grid of tiles; each tile gets its own clipped
//! histogram and table, and every pixel blends the tables of the four nearest
//! tile centres. As in OpenCV's `createCLAHE`, an image the grid does not
//! divide evenly is first extended at the bottom and right by reflection
//! (`BORDER_REFLECT_101`) for the tile histograms only.
//!
//! The map phase works row by row: a row adds its levels to the tiles it
//! falls in, and again to the tiles of any reflected padding row or column it
//! stands for. So strips count their part of every tile independently, and
//! the sums are the same as counting the padded image in one piece.

use crate::histogram;
use crate::sample::Sample;

/// Tile rows at least this wide are counted with the unrolled counter,
/// whose set-up only pays off over a long run.
const FAST_COUNT_MIN: usize = 512;

/// The tile grid over an image, with OpenCV's padding.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    width: usize,
    height: usize,
    tiles_x: usize,
    tiles_y: usize,
    tile_w: usize,
    tile_h: usize,
    /// Padding rows as (row in the padded image, source row).
    pad_rows: Vec<(usize, usize)>,
    /// Padding columns as (column in the padded image, source column).
    pad_cols: Vec<(usize, usize)>,
}

/// OpenCV's `borderInterpolate` for `BORDER_REFLECT_101` (`gfedcb|abcdefgh|gfedcba`).
pub fn reflect_101(mut p: isize, len: usize) -> usize {
    let len = len as isize;
    if len == 1 {
        return 0;
    }
    while p < 0 || p >= len {
        p = if p < 0 { -p } else { 2 * (len - 1) - p };
    }
    p as usize
}

impl Grid {
    /// The grid of `tiles_x` × `tiles_y` tiles over a `width` × `height` image.
    /// Both tile counts must be at least 1 and the image non-empty.
    pub fn new(width: u32, height: u32, tiles_x: u32, tiles_y: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        let (tiles_x, tiles_y) = (tiles_x as usize, tiles_y as usize);
        assert!(width > 0 && height > 0 && tiles_x > 0 && tiles_y > 0);
        // OpenCV pads both axes as soon as either is uneven, and then by a
        // full tile count on an axis that was even.
        let even = width % tiles_x == 0 && height % tiles_y == 0;
        let (pad_x, pad_y) = if even { (0, 0) } else { (tiles_x - width % tiles_x, tiles_y - height % tiles_y) };
        let pad_rows = (height..height + pad_y).map(|r| (r, reflect_101(r as isize, height))).collect();
        let pad_cols = (width..width + pad_x).map(|c| (c, reflect_101(c as isize, width))).collect();
        Grid {
            width,
            height,
            tiles_x,
            tiles_y,
            tile_w: (width + pad_x) / tiles_x,
            tile_h: (height + pad_y) / tiles_y,
            pad_rows,
            pad_cols,
        }
    }

    /// Number of tiles.
    pub fn tiles(&self) -> usize {
        self.tiles_x * self.tiles_y
    }

    /// Pixels in one tile of the padded image.
    pub fn tile_area(&self) -> usize {
        self.tile_w * self.tile_h
    }

    /// Adds the levels of row `y` (one plane, `width` values) to the tile
    /// histograms (`tiles() * T::LEVELS` bins, tile-major); with a mask row,
    /// only the pixels whose mask sample is nonzero. A padding pixel counts
    /// when the pixel it reflects does.
    pub fn count_row<T: Sample>(&self, y: usize, values: &[T], inside: Option<&[u8]>, hists: &mut [u64]) {
        debug_assert_eq!(values.len(), self.width);
        debug_assert_eq!(hists.len(), self.tiles() * T::LEVELS);
        let padded = self.pad_rows.iter().filter(|&&(_, src)| src == y).map(|&(row, _)| row);
        for row in std::iter::once(y).chain(padded) {
            let band = (row / self.tile_h) * self.tiles_x;
            for tx in 0..self.tiles_x {
                let start = (tx * self.tile_w).min(self.width);
                let end = ((tx + 1) * self.tile_w).min(self.width);
                let hist = &mut hists[(band + tx) * T::LEVELS..][..T::LEVELS];
                let segment = &values[start..end];
                let fast = segment.len() >= FAST_COUNT_MIN;
                match inside.map(|m| &m[start..end]) {
                    Some(inside) if fast => histogram::count_where(segment, inside, hist),
                    Some(inside) => segment.iter().zip(inside).for_each(|(v, &m)| hist[v.index()] += u64::from(m != 0)),
                    None if fast => histogram::count(segment, hist),
                    None => segment.iter().for_each(|v| hist[v.index()] += 1),
                }
            }
            for &(col, src) in &self.pad_cols {
                if inside.is_none_or(|m| m[src] != 0) {
                    hists[(band + col / self.tile_w) * T::LEVELS + values[src].index()] += 1;
                }
            }
        }
    }

    /// Clips each tile histogram at `clip_limit` (OpenCV's meaning: a multiple
    /// of the mean bin height; 0 or less disables clipping), redistributes the
    /// excess, and returns the tile tables (`tiles() * T::LEVELS`, tile-major).
    ///
    /// The mean bin height is over the pixels the tile counted: its area
    /// (OpenCV's rule), or under a mask the pixels inside; a tile that
    /// counted none gets the identity table.
    pub fn tile_luts<T: Sample>(&self, clip_limit: f64, hists: &[u64]) -> Vec<T> {
        let levels = T::LEVELS;
        let mut luts = Vec::with_capacity(hists.len());
        let mut hist = vec![0u64; levels];
        for tile in hists.chunks_exact(levels) {
            let counted: u64 = tile.iter().sum();
            if counted == 0 {
                luts.extend((0..levels as u32).map(T::from_u32));
                continue;
            }
            let limit =
                if clip_limit > 0.0 { ((clip_limit * counted as f64 / levels as f64) as u64).max(1) } else { 0 };
            let scale = (levels - 1) as f32 / counted as f32;
            hist.copy_from_slice(tile);
            if limit > 0 {
                clip(&mut hist, limit);
            }
            let mut sum = 0u64;
            luts.extend(hist.iter().map(|&c| {
                sum += c;
                T::from_u32(round_non_negative(sum as f32 * scale, T::MAX))
            }));
        }
        luts
    }

    /// The per-column blend weights, computed once per job.
    pub fn columns(&self) -> Columns {
        let inv_tw = 1.0f32 / self.tile_w as f32;
        let mut columns = Columns::default();
        for x in 0..self.width {
            let txf = x as f32 * inv_tw - 0.5;
            let tx1 = txf.floor();
            let xa = txf - tx1;
            let tx1 = tx1 as isize;
            columns.left.push(tx1.max(0) as u32);
            columns.right.push((tx1 + 1).min(self.tiles_x as isize - 1) as u32);
            columns.weight.push(xa);
        }
        columns
    }

    /// The two tile rows row `y` blends, with the weight of the lower one.
    fn row_blend(&self, y: usize) -> (usize, usize, f32) {
        let tyf = y as f32 * (1.0f32 / self.tile_h as f32) - 0.5;
        let ty1 = tyf.floor();
        let ya = tyf - ty1;
        let ty1 = ty1 as isize;
        let top = ty1.max(0) as usize;
        let bottom = (ty1 + 1).min(self.tiles_y as isize - 1) as usize;
        (top, bottom, ya)
    }

    /// Maps one row of one plane through the blended tile tables, in place
    /// over `values`. `scratch` is reused between rows.
    ///
    /// Unless the row is much narrower than its tables, it first blends its
    /// two tile rows into one table per tile column, and each pixel then
    /// blends two entries instead of four (measured: the blend pays off down
    /// to rows half as wide as the tables). The sums are the same as
    /// OpenCV's up to float rounding, hence within one level of it.
    pub fn map_row<T: Sample>(
        &self,
        y: usize,
        luts: &[T],
        columns: &Columns,
        values: &mut [T],
        scratch: &mut Vec<f32>,
    ) {
        let (top, bottom, ya) = self.row_blend(y);
        let ya1 = 1.0 - ya;
        let levels = T::LEVELS;
        let band = self.tiles_x * levels;
        let upper = &luts[top * band..][..band];
        let lower = &luts[bottom * band..][..band];
        let entry = |t: T| -> f32 { t.into() as f32 };
        if band <= 4 * values.len() {
            scratch.clear();
            scratch.extend(upper.iter().zip(lower).map(|(&a, &c)| entry(a) * ya1 + entry(c) * ya));
            let weights = columns.left.iter().zip(&columns.right).zip(&columns.weight);
            for (value, ((&l, &r), &xa)) in values.iter_mut().zip(weights) {
                let v = value.index();
                let res = scratch[l as usize * levels + v] * (1.0 - xa) + scratch[r as usize * levels + v] * xa;
                *value = T::from_u32(round_non_negative(res, T::MAX));
            }
        } else {
            for (x, value) in values.iter_mut().enumerate() {
                let v = value.index();
                let (l, r, xa) = (columns.left[x] as usize, columns.right[x] as usize, columns.weight[x]);
                let xa1 = 1.0 - xa;
                let res = (entry(upper[l * levels + v]) * xa1 + entry(upper[r * levels + v]) * xa) * ya1
                    + (entry(lower[l * levels + v]) * xa1 + entry(lower[r * levels + v]) * xa) * ya;
                *value = T::from_u32(round_non_negative(res, T::MAX));
            }
        }
    }
}

/// Rounds half to even and clamps to `max`, for 0 <= v < 2^23: adding and
/// removing 2^23 leaves no fraction bits, so the FPU's own round-to-nearest-
/// even does the rounding (a plain `round_ties_even` is a libm call on
/// x86-64 without SSE4.1).
#[inline]
fn round_non_negative(v: f32, max: u32) -> u32 {
    const MAGIC: f32 = 8_388_608.0;
    (((v + MAGIC) - MAGIC) as u32).min(max)
}

/// Per-column tile indices and blend weight (of the right tile).
#[derive(Clone, Debug, Default)]
pub struct Columns {
    left: Vec<u32>,
    right: Vec<u32>,
    weight: Vec<f32>,
}

/// OpenCV's clipping: cut bins at `limit`, spread the excess evenly, and the
/// remainder one by one at a regular step from the bottom.
fn clip(hist: &mut [u64], limit: u64) {
    let levels = hist.len() as u64;
    let mut clipped = 0u64;
    for bin in hist.iter_mut() {
        if *bin > limit {
            clipped += *bin - limit;
            *bin = limit;
        }
    }
    let batch = clipped / levels;
    let mut residual = clipped - batch * levels;
    hist.iter_mut().for_each(|b| *b += batch);
    if let Some(step) = levels.checked_div(residual) {
        for bin in hist.iter_mut().step_by(step.max(1) as usize) {
            if residual == 0 {
                break;
            }
            *bin += 1;
            residual -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_101_matches_opencv() {
        let got: Vec<usize> = (5..12).map(|p| reflect_101(p, 5)).collect();
        assert_eq!(got, [3, 2, 1, 0, 1, 2, 3]);
        assert_eq!(reflect_101(-1, 5), 1);
        assert_eq!(reflect_101(7, 1), 0);
        assert_eq!(reflect_101(3, 2), 1);
    }

    #[test]
    fn uneven_images_pad_both_axes() {
        let g = Grid::new(10, 16, 8, 8);
        assert_eq!((g.tile_w, g.tile_h), (2, 3));
        assert_eq!(g.pad_cols.len(), 6);
        assert_eq!(g.pad_rows.len(), 8);
    }

    #[test]
    fn every_padded_pixel_is_counted_once() {
        let g = Grid::new(13, 7, 4, 3);
        let mut hists = vec![0u64; g.tiles() * 256];
        for y in 0..7 {
            g.count_row(y, &[1u8; 13], None, &mut hists);
        }
        let total: u64 = hists.iter().sum();
        assert_eq!(total as usize, g.tiles() * g.tile_area());
        for tile in hists.chunks(256) {
            assert_eq!(tile[1] as usize, g.tile_area());
        }
    }

    #[test]
    fn clipping_keeps_the_count() {
        let mut h = vec![0u64; 256];
        h[3] = 1000;
        h[9] = 17;
        clip(&mut h, 40);
        assert_eq!(h.iter().sum::<u64>(), 1017);
        assert!(h.iter().all(|&c| c <= 44));
    }

    #[test]
    fn flat_tiles_give_identity_like_tables() {
        let g = Grid::new(4, 4, 1, 1);
        let values: Vec<u8> = (0..16).map(|i| (i * 16) as u8).collect();
        let mut hists = vec![0u64; 256];
        for (y, row) in values.chunks(4).enumerate() {
            g.count_row(y, row, None, &mut hists);
        }
        let luts = g.tile_luts::<u8>(0.0, &hists);
        assert_eq!(luts[240], 255);
        assert_eq!(luts[0], 16);
    }
}
