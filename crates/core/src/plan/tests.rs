//! The plan's own rules: the tile grid limit and the grouped luma pass.

use super::*;
use crate::options::ClaheParams;

fn clahe(tiles_x: u32, tiles_y: u32) -> Options {
    Options { mode: Mode::Auto, method: Method::Clahe(ClaheParams { clip_limit: 2.0, tiles_x, tiles_y }) }
}

#[test]
fn a_tile_grid_too_fine_for_the_image_is_refused() {
    // Up to 8x8 tiles always, as OpenCV pads tiny images.
    assert!(Plan::new(Shape { width: 3, height: 2, layout: Layout::Gray, depth: Depth::U16 }, clahe(8, 8)).is_ok());
    // Past that, a tile needs as many pixels as its histogram has bins.
    assert!(
        Plan::new(Shape { width: 16, height: 16, layout: Layout::Gray, depth: Depth::U8 }, clahe(256, 256)).is_err()
    );
    assert!(
        Plan::new(Shape { width: 16, height: 16, layout: Layout::Gray, depth: Depth::U16 }, clahe(16, 16)).is_err()
    );
    assert!(
        Plan::new(Shape { width: 160, height: 160, layout: Layout::Gray, depth: Depth::U8 }, clahe(10, 10)).is_ok()
    );
    assert!(
        Plan::new(Shape { width: 160, height: 159, layout: Layout::Gray, depth: Depth::U8 }, clahe(10, 10)).is_err()
    );
    let err =
        Plan::new(Shape { width: 16, height: 16, layout: Layout::Rgb, depth: Depth::U8 }, clahe(9, 9)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a 9x9 tile grid is too fine for a 16x16 image: past 64 tiles, each needs at least 256 pixels"
    );
    assert!(
        Plan::new(Shape { width: 4096, height: 4096, layout: Layout::Gray, depth: Depth::U16 }, clahe(16, 16)).is_ok()
    );
}

/// The grouped luma pass against the per-pixel formula, on every depth and
/// colour layout, with a width that leaves a remainder after the groups.
fn luma_pass_is_per_pixel<T: Sample>(channels: usize, sample: impl Fn(usize) -> T) {
    let pixels = 16 * 40 + 7;
    let original: Vec<T> = (0..pixels * channels).map(&sample).collect();
    // Any table will do: a reversal moves every level.
    let lut: Vec<T> = (0..T::LEVELS).rev().map(|v| T::from_u32(v as u32)).collect();
    let mut fast = original.clone();
    match channels {
        3 => color::apply_luma::<T, 3>(&mut fast, &lut),
        _ => color::apply_luma::<T, 4>(&mut fast, &lut),
    }
    for (px, got) in original.chunks_exact(channels).zip(fast.chunks_exact(channels)) {
        let (y, cr, cb) = color::to_ycrcb(px[0], px[1], px[2]);
        let (r, g, b) = color::from_ycrcb(lut[y.index()], cr, cb);
        assert_eq!([got[0], got[1], got[2]].map(Into::<u32>::into), [r, g, b].map(Into::<u32>::into));
        assert_eq!(
            got[3..].iter().map(|&v| v.into()).collect::<Vec<u32>>(),
            px[3..].iter().map(|&v| v.into()).collect::<Vec<u32>>()
        );
    }
}

#[test]
fn grouped_luma_pass_matches_the_per_pixel_formula() {
    // A spread of colours, extremes included (the clamps' cases).
    let spread = |i: usize, max: u32| ((i as u64 * 2_654_435_761 % (u64::from(max) + 1)) as u32).min(max);
    let edge = |i: usize, max: u32| {
        if i.is_multiple_of(5) {
            0
        } else if i.is_multiple_of(7) {
            max
        } else {
            spread(i, max)
        }
    };
    for channels in [3, 4] {
        luma_pass_is_per_pixel::<u8>(channels, |i| edge(i, 255) as u8);
        luma_pass_is_per_pixel::<u16>(channels, |i| edge(i, 65535) as u16);
    }
}
