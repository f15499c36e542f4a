//! Masked jobs: the histograms count the pixels inside the mask only, the
//! tables go to every pixel or only to those inside, and neither depends
//! on how the image is cut into strips.

use histo_core::local::{self, equalize_masked_into};
use histo_core::options::{ClaheParams, MaskApply, Method, Mode, Options};
use histo_core::plan::{Luts, StripError};
use histo_core::{Layout, Plan, Shape, lut};

fn noise(n: usize, seed: u64, lo: u64, span: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (lo + state % span) as u8
        })
        .collect()
}

fn run(shape: Shape, mode: Mode, input: &[u8], mask: &[u8], apply: MaskApply, strips: usize) -> Vec<u8> {
    let plan = Plan::new(shape, Options { mode, method: Method::Global }).unwrap();
    let mut out = vec![0; plan.row_len() * shape.height as usize];
    equalize_masked_into(&plan, input, &mut out, &local::plan_strips(&plan, Some(strips)), mask, apply).unwrap();
    out
}

#[test]
fn gray_counts_inside_and_applies_everywhere() {
    let shape = Shape { width: 37, height: 29, layout: Layout::Gray, depth: histo_core::Depth::U8 };
    let input = noise(37 * 29, 3, 20, 200);
    // Inside: a disc; outside it the levels are brighter, and must not count.
    let mask: Vec<u8> =
        (0..37 * 29).map(|i| u8::from((i % 37 - 18i32).pow(2) + (i / 37 - 14i32).pow(2) < 120)).collect();
    let mut hist = vec![0u64; 256];
    input.iter().zip(&mask).filter(|(_, m)| **m != 0).for_each(|(&v, _)| hist[v as usize] += 1);
    let table: Vec<u8> = lut::equalize(&hist);
    let want: Vec<u8> = input.iter().map(|&v| table[v as usize]).collect();
    for strips in [1, 2, 5] {
        assert_eq!(run(shape, Mode::Auto, &input, &mask, MaskApply::All, strips), want, "{strips} strips");
        let inside = run(shape, Mode::Auto, &input, &mask, MaskApply::Inside, strips);
        for ((got, (&w, &v)), &m) in inside.iter().zip(want.iter().zip(&input)).zip(&mask) {
            assert_eq!(*got, if m != 0 { w } else { v });
        }
    }
}

#[test]
fn colour_modes_keep_outside_pixels_byte_identical() {
    let shape = Shape { width: 23, height: 17, layout: Layout::Rgba, depth: histo_core::Depth::U8 };
    let input = noise(23 * 17 * 4, 9, 30, 120);
    let mask: Vec<u8> = (0..23 * 17).map(|i| u8::from(i % 3 == 0)).collect();
    for mode in [Mode::Luma, Mode::Rgb, Mode::Lab, Mode::Hsv, Mode::Hsl] {
        let out = run(shape, mode, &input, &mask, MaskApply::Inside, 3);
        assert_eq!(out, run(shape, mode, &input, &mask, MaskApply::Inside, 1), "{mode}");
        for ((o, i), &m) in out.chunks_exact(4).zip(input.chunks_exact(4)).zip(&mask) {
            assert_eq!(o[3], i[3], "alpha, {mode}");
            if m == 0 {
                assert_eq!(o, i, "outside, {mode}");
            }
        }
    }
}

#[test]
fn empty_and_wrong_sized_masks_are_refused() {
    let shape = Shape { width: 8, height: 4, layout: Layout::Gray, depth: histo_core::Depth::U8 };
    let plan = Plan::new(shape, Options::default()).unwrap();
    let strips = local::plan_strips(&plan, Some(1));
    let (input, out) = (vec![5u8; 32], vec![0u8; 32]);
    let err = |mask: &[u8]| equalize_masked_into(&plan, &input, &mut out.clone(), &strips, mask, MaskApply::All);
    assert_eq!(err(&[0; 32]), Err(StripError::EmptyMask));
    assert_eq!(err(&[1; 31]), Err(StripError::Mask { want: 32, got: 31 }));
}

fn clahe(tiles_x: u32, tiles_y: u32) -> Options {
    Options { mode: Mode::Auto, method: Method::Clahe(ClaheParams { clip_limit: 2.0, tiles_x, tiles_y }) }
}

fn clahe_run(shape: Shape, options: Options, input: &[u8], mask: Option<&[u8]>, strips: usize) -> Vec<u8> {
    let plan = Plan::new(shape, options).unwrap();
    let strips = local::plan_strips(&plan, Some(strips));
    let mut out = vec![0; input.len()];
    match mask {
        Some(mask) => equalize_masked_into(&plan, input, &mut out, &strips, mask, MaskApply::All).unwrap(),
        None => local::equalize_into(&plan, input, &mut out, &strips).unwrap(),
    }
    out
}

#[test]
fn clahe_with_every_pixel_inside_is_plain_clahe() {
    // 45 × 31 in 4 × 3 tiles: OpenCV's padding is in play.
    let shape = Shape { width: 45, height: 31, layout: Layout::Gray, depth: histo_core::Depth::U8 };
    let input = noise(45 * 31, 5, 10, 180);
    let want = clahe_run(shape, clahe(4, 3), &input, None, 1);
    for strips in [1, 3, 7] {
        assert_eq!(clahe_run(shape, clahe(4, 3), &input, Some(&[1; 45 * 31]), strips), want, "{strips} strips");
    }
}

#[test]
fn masked_clahe_tiles_count_their_inside_and_an_empty_tile_is_the_identity() {
    // Two tiles side by side; only the right one has pixels inside, half of its own.
    let shape = Shape { width: 16, height: 8, layout: Layout::Gray, depth: histo_core::Depth::U8 };
    let input = noise(16 * 8, 11, 40, 100);
    let mask: Vec<u8> = (0..16 * 8).map(|i| u8::from(i % 16 >= 8 && i / 16 < 4)).collect();
    let plan = Plan::new(shape, clahe(2, 1)).unwrap();
    let strip = local::plan_strips(&plan, Some(1))[0];
    let counts = plan.map_inside(strip, histo_core::plan::Samples::U8(&input), &mask).unwrap();
    let Luts::U8(luts) = plan.reduce(&counts) else { unreachable!() };
    let identity: Vec<u8> = (0..=255).collect();
    assert_eq!(&luts[..256], &identity[..], "the tile with no pixel inside");

    // The right tile: OpenCV's table over its 32 inside pixels.
    let mut hist = [0u64; 256];
    input.iter().zip(&mask).filter(|(_, m)| **m != 0).for_each(|(&v, _)| hist[v as usize] += 1);
    let limit = ((2.0 * 32.0 / 256.0) as u64).max(1);
    let excess: u64 = hist.iter().map(|&c| c.saturating_sub(limit)).sum();
    let clipped: Vec<u64> = hist.iter().map(|&c| c.min(limit) + excess / 256).collect();
    let mut residual = excess % 256;
    let step = 256u64.checked_div(residual).map_or(1, |s| s as usize);
    let mut bins = clipped;
    for bin in bins.iter_mut().step_by(step.max(1)) {
        if residual == 0 {
            break;
        }
        *bin += 1;
        residual -= 1;
    }
    let mut sum = 0;
    let want: Vec<u8> = bins
        .iter()
        .map(|&c| {
            sum += c;
            (sum as f32 * 255.0 / 32.0).round_ties_even().min(255.0) as u8
        })
        .collect();
    assert_eq!(&luts[256..], &want[..], "the tile with pixels inside");

    // Strips do not change the result.
    let whole = clahe_run(shape, clahe(2, 1), &input, Some(&mask), 1);
    assert_eq!(clahe_run(shape, clahe(2, 1), &input, Some(&mask), 4), whole);
}
