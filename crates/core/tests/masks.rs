//! Masked jobs: the histograms count the pixels inside the mask only, the
//! tables go to every pixel or only to those inside, and neither depends
//! on how the image is cut into strips.

use histo_core::local::{self, equalize_masked_into};
use histo_core::options::{MaskApply, Method, Mode, Options};
use histo_core::plan::StripError;
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
fn empty_wrong_sized_and_clahe_masks_are_refused() {
    let shape = Shape { width: 8, height: 4, layout: Layout::Gray, depth: histo_core::Depth::U8 };
    let plan = Plan::new(shape, Options::default()).unwrap();
    let strips = local::plan_strips(&plan, Some(1));
    let (input, mut out) = (vec![5u8; 32], vec![0u8; 32]);
    let err = |mask: &[u8]| equalize_masked_into(&plan, &input, &mut out.clone(), &strips, mask, MaskApply::All);
    assert_eq!(err(&[0; 32]), Err(StripError::EmptyMask));
    assert_eq!(err(&[1; 31]), Err(StripError::Mask { want: 32, got: 31 }));
    let clahe = Plan::new(shape, Options { method: Method::Clahe(Default::default()), ..Default::default() }).unwrap();
    let refused = equalize_masked_into(&clahe, &input, &mut out, &strips, &[1; 32], MaskApply::All);
    assert_eq!(refused, Err(StripError::MaskMethod));
}
