//! The output must not depend on how the image is cut into strips: every
//! mode and method, both depths, every layout.

use histo_core::Plan;
use histo_core::local::{self, equalize_in_strips};
use histo_core::options::{ClaheParams, Method, Mode, Options};
use histo_core::{Image, Layout, Pixels};
use proptest::prelude::*;

const LAYOUTS: [Layout; 4] = [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba];

fn image(width: u32, height: u32, layout: Layout, sixteen: bool, seed: u64) -> Image {
    let n = (width * height) as usize * layout.channels();
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pixels = if sixteen {
        Pixels::U16((0..n).map(|_| 20_000 + (next() % 3000) as u16).collect())
    } else {
        Pixels::U8((0..n).map(|_| 60 + (next() % 90) as u8).collect())
    };
    Image::new(width, height, layout, pixels).unwrap()
}

fn options(mode: usize, clahe: Option<(f64, u32, u32)>) -> Options {
    let method = match clahe {
        None => Method::Global,
        Some((clip_limit, tiles_x, tiles_y)) => Method::Clahe(ClaheParams { clip_limit, tiles_x, tiles_y }),
    };
    Options { mode: Mode::ALL[mode], method }
}

/// `equalize_into` (and `equalize_in_place`, which must agree with it).
fn equalize_borrowed(img: &Image, opts: Options, strips: usize) -> Pixels {
    let plan = Plan::new(img.shape(), opts).unwrap();
    let strips = local::plan_strips(&plan, Some(strips));
    let out_len = plan.row_len() * img.height() as usize;
    match img.pixels() {
        Pixels::U8(src) => {
            let mut out = vec![0; out_len];
            local::equalize_into(&plan, src, &mut out, &strips).unwrap();
            if !plan.converts_to_gray() {
                let mut in_place = src.clone();
                local::equalize_in_place(&plan, &mut in_place, &strips).unwrap();
                assert_eq!(in_place, out);
            }
            Pixels::U8(out)
        }
        Pixels::U16(src) => {
            let mut out = vec![0; out_len];
            local::equalize_into(&plan, src, &mut out, &strips).unwrap();
            Pixels::U16(out)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn output_is_the_same_for_any_strip_count(
        width in 1u32..40, height in 1u32..40, layout in 0usize..4, sixteen: bool, seed: u64,
        mode in 0usize..Mode::ALL.len(), clahe in proptest::option::of((0.0f64..5.0, 1u32..6, 1u32..6)),
        strips in 2usize..12,
    ) {
        let img = image(width, height, LAYOUTS[layout], sixteen && clahe.is_none(), seed);
        // Gray images take only `auto` and `gray`: the first two modes.
        let mode = if img.layout().is_color() { mode } else { mode % 2 };
        let opts = options(mode, clahe);
        let one = equalize_in_strips(img.clone(), opts, Some(1)).unwrap();
        // The borrowed-samples entry points, as the Python package calls them.
        prop_assert_eq!(&equalize_borrowed(&img, opts, strips), one.pixels());
        let many = equalize_in_strips(img, opts, Some(strips)).unwrap();
        prop_assert_eq!(one, many);
    }
}

#[test]
fn alpha_is_untouched_in_every_mode() {
    for mode in 0..Mode::ALL.len() {
        for clahe in [None, Some((2.0, 3, 3))] {
            let img = image(17, 9, Layout::Rgba, false, 5);
            let out = equalize_in_strips(img.clone(), options(mode, clahe), Some(3)).unwrap();
            let (Pixels::U8(a), Pixels::U8(b)) = (img.pixels(), out.pixels()) else { panic!() };
            let (ca, cb) = (img.layout().channels(), out.layout().channels());
            let alpha_in: Vec<u8> = a.chunks(ca).map(|p| p[ca - 1]).collect();
            let alpha_out: Vec<u8> = b.chunks(cb).map(|p| p[cb - 1]).collect();
            assert_eq!(alpha_in, alpha_out, "mode {mode} clahe {clahe:?}");
        }
    }
}

#[test]
fn gray_mode_drops_colour_and_keeps_alpha() {
    let out = equalize_in_strips(image(5, 5, Layout::Rgba, false, 1), options(1, None), None).unwrap();
    assert_eq!(out.layout(), Layout::GrayAlpha);
}

#[test]
fn sixteen_bit_clahe_works() {
    let img = image(30, 20, Layout::Gray, true, 9);
    let out = equalize_in_strips(img.clone(), options(0, Some((2.0, 4, 4))), Some(3)).unwrap();
    assert_eq!(out, equalize_in_strips(img, options(0, Some((2.0, 4, 4))), Some(1)).unwrap());
}

#[test]
fn colour_modes_on_a_gray_image_are_refused() {
    for mode in [Mode::Luma, Mode::Rgb, Mode::Lab, Mode::Hsv, Mode::Hsl] {
        let img = image(4, 4, Layout::GrayAlpha, false, 3);
        let err = Plan::new(img.shape(), Options { mode, method: Method::Global }).unwrap_err();
        assert_eq!(err.to_string(), format!("mode '{mode}' needs a colour image; this one is gray (use auto or gray)"));
    }
}
