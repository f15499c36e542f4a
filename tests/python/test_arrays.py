"""histo on NumPy arrays: exact against OpenCV (8-bit global) and the
documented 16-bit rule, CLAHE within one level of OpenCV, on real photos
and the edge cases; views, Fortran order, out= and in place."""

import sys
import threading

import cv2
import numpy as np
import pytest

import histo
from support.images import gray16, low_contrast_gray
from support.references import CLAHE_CASES, EDGE_CASES, clahe_reference, mask_reference, max_diff, reference_equalize16, ycrcb_equalize


def test_gray_photos_are_bit_exact_with_opencv(gray_photos):
    for name, img in gray_photos.items():
        np.testing.assert_array_equal(histo.equalize(img), cv2.equalizeHist(img), err_msg=name)


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_cases_are_bit_exact_with_opencv(name):
    img = EDGE_CASES[name]
    np.testing.assert_array_equal(histo.equalize(img), cv2.equalizeHist(img))


def test_one_or_all_threads_give_the_same_bytes(gray_photos):
    img = low_contrast_gray(1999, 1001, 3)
    np.testing.assert_array_equal(histo.equalize(img, threads=1), histo.equalize(img, threads=2))


def test_colour_photos_luma_within_one_of_opencv_ycrcb(colour_photos):
    for name, rgb in colour_photos.items():
        want = ycrcb_equalize(rgb[..., ::-1])[..., ::-1]
        assert max_diff(histo.equalize(rgb), want) <= 1, name


def test_rgb_mode_is_bit_exact_per_channel(colour_photos):
    rgb = colour_photos["coffee"]
    want = np.dstack([cv2.equalizeHist(np.ascontiguousarray(rgb[..., c])) for c in range(3)])
    np.testing.assert_array_equal(histo.equalize(rgb, mode="rgb"), want)


def test_gray_mode_converts_as_opencv_does(colour_photos):
    rgb = colour_photos["astronaut"]
    out = histo.equalize(rgb, mode="gray")
    assert out.shape == rgb.shape[:2]
    np.testing.assert_array_equal(out, cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)))


def test_alpha_passes_through():
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (60, 70, 4), dtype=np.uint8)
    out = histo.equalize(rgba, mode="rgb")
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    la = rng.integers(0, 256, (60, 70, 2), dtype=np.uint8)
    out = histo.equalize(la)
    np.testing.assert_array_equal(out[..., 0], cv2.equalizeHist(np.ascontiguousarray(la[..., 0])))
    np.testing.assert_array_equal(out[..., 1], la[..., 1])


def test_sixteen_bit_follows_the_documented_rule():
    img = gray16(301, 257, 11)
    np.testing.assert_array_equal(histo.equalize(img), reference_equalize16(img))
    assert histo.equalize(img).dtype == np.uint16


@pytest.mark.parametrize(("shape", "clip", "tiles"), CLAHE_CASES)
def test_clahe_within_one_of_opencv(shape, clip, tiles):
    img = low_contrast_gray(*shape, seed=12)
    want = cv2.createCLAHE(clipLimit=clip, tileGridSize=tiles).apply(img)
    assert max_diff(histo.clahe(img, clip_limit=clip, tiles=tiles), want) <= 1


def test_clahe_on_photos_and_sixteen_bit_within_one_of_opencv(gray_photos):
    for name, img in gray_photos.items():
        assert max_diff(histo.clahe(img), cv2.createCLAHE(2.0, (8, 8)).apply(img)) <= 1, name
    img = gray16(400, 300, 5)
    assert max_diff(histo.clahe(img, tiles=(4, 4)), cv2.createCLAHE(2.0, (4, 4)).apply(img)) <= 1


def test_views_and_fortran_order_give_what_a_copy_gives(gray_photos, colour_photos):
    img = gray_photos["camera"]
    for view in (img[::2, ::3], img[10:400, 5:300], np.asfortranarray(img), img.T):
        np.testing.assert_array_equal(histo.equalize(view), cv2.equalizeHist(np.ascontiguousarray(view)))
    rgb = colour_photos["coffee"][:, ::-1]
    np.testing.assert_array_equal(histo.equalize(rgb), histo.equalize(np.ascontiguousarray(rgb)))
    assert histo.equalize(img[:, :, None]).shape == (*img.shape, 1)


def test_out_and_in_place(gray_photos):
    img = gray_photos["moon"]
    out = np.empty_like(img)
    assert histo.equalize(img, out=out) is out
    np.testing.assert_array_equal(out, cv2.equalizeHist(img))
    work = img.copy()
    assert histo.equalize(work, out=work) is work
    np.testing.assert_array_equal(work, out)
    work = img.copy()
    histo.clahe(work, out=work)
    np.testing.assert_array_equal(work, histo.clahe(img))


def test_the_pieces_compose_to_equalize(gray_photos, colour_photos):
    img = gray_photos["coins"]
    counts = histo.histogram(img)
    assert counts.dtype == np.uint64 and counts.shape == (256,) and counts.sum() == img.size
    np.testing.assert_array_equal(counts, np.bincount(img.ravel(), minlength=256))
    halves = histo.histogram(img[:150]) + histo.histogram(img[150:])
    np.testing.assert_array_equal(histo.apply(img, histo.table(halves)), cv2.equalizeHist(img))
    rgb = colour_photos["chelsea"]
    tables = histo.table(histo.histogram(rgb))
    assert tables.shape == (3, 256)
    np.testing.assert_array_equal(histo.apply(rgb, tables), histo.equalize(rgb, mode="rgb"))


def test_plan_bands_give_the_whole_image_result(colour_photos):
    rgb = colour_photos["astronaut"]
    for method in ("global", "clahe"):
        plan = histo.Plan(rgb.shape, rgb.dtype, method=method, tiles=(5, 3))
        cuts = [0, 1, 77, 200, 511, 512]
        bands = [(a, rgb[a:b]) for a, b in zip(cuts, cuts[1:])]
        tables = plan.reduce(sum(plan.map(band, y0) for y0, band in bands))
        out = np.concatenate([plan.apply(band, tables, y0) for y0, band in bands])
        np.testing.assert_array_equal(out, histo.equalize(rgb, method=method, tiles=(5, 3)), err_msg=method)


def test_a_mask_counts_only_the_pixels_inside(gray_photos, colour_photos):
    img = gray_photos["camera"]
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    mask = (yy - 256) ** 2 + (xx - 256) ** 2 < 150**2
    np.testing.assert_array_equal(histo.equalize(img, mask=mask), mask_reference(img, mask))
    np.testing.assert_array_equal(histo.histogram(img, mask=mask), np.bincount(img[mask], minlength=256))
    rgb = colour_photos["astronaut"]
    out = histo.equalize(rgb, mode="rgb", mask=mask)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], mask_reference(np.ascontiguousarray(rgb[..., c]), mask))


def test_a_mask_in_every_mode_and_inside_only(gray_photos, colour_photos):
    rgb = colour_photos["coffee"]
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[h // 4: 3 * h // 4, : w // 2] = True
    for mode in ("luma", "lab", "hsv", "hsl", "rgb"):
        inside = histo.equalize(rgb, mode=mode, mask=mask, mask_apply="inside")
        np.testing.assert_array_equal(inside[~mask], rgb[~mask], err_msg=f"{mode}: outside kept")
        everywhere = histo.equalize(rgb, mode=mode, mask=mask)
        np.testing.assert_array_equal(inside[mask], everywhere[mask], err_msg=f"{mode}: same table inside")
        assert not np.array_equal(everywhere[~mask], rgb[~mask]), f"{mode}: the table went everywhere"
    # In place, as without a mask.
    img = gray_photos["camera"].copy()
    want = histo.equalize(img, mask=img > 100)
    assert histo.equalize(img, mask=img > 100, out=img) is img
    np.testing.assert_array_equal(img, want)


def test_a_mask_with_clahe_counts_each_tile_inside(gray_photos):
    img = gray_photos["camera"][:501, :457]
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    # A disc that leaves whole tiles empty (identity tables) and cuts others.
    mask = (yy - 200) ** 2 + (xx - 230) ** 2 < 170**2
    for clip, tiles in ((2.0, (8, 8)), (0.0, (5, 3)), (40.0, (7, 9))):
        got = histo.equalize(img, method="clahe", clip_limit=clip, tiles=tiles, mask=mask)
        want = clahe_reference(img, clip, tiles, mask)
        assert max_diff(got, want) <= 1, (clip, tiles)
        inside = histo.equalize(img, method="clahe", clip_limit=clip, tiles=tiles, mask=mask, mask_apply="inside")
        np.testing.assert_array_equal(inside[~mask], img[~mask])
        np.testing.assert_array_equal(inside[mask], got[mask])
    everywhere = histo.equalize(img, method="clahe", mask=np.ones(img.shape, bool))
    np.testing.assert_array_equal(everywhere, histo.clahe(img))


def in_place_gray(colour):
    return histo.equalize(colour, mode="gray", out=colour)


BAD_CALLS = {
    "float array": (lambda img: histo.equalize(img.astype(np.float32)), TypeError, "uint8 or uint16"),
    "int16 array": (lambda img: histo.equalize(img.astype(np.int16)), TypeError, "int16"),
    "a list": (lambda img: histo.equalize(img.tolist()), TypeError, "NumPy array"),
    "4-D": (lambda img: histo.equalize(img.reshape(1, 1, *img.shape)), ValueError, "2-D"),
    "5 channels": (lambda img: histo.equalize(np.zeros((4, 4, 5), np.uint8)), ValueError, "channels"),
    "negative clip limit": (lambda img: histo.equalize(img, clip_limit=-3), ValueError, "clip limit"),
    "nan clip limit": (lambda img: histo.clahe(img, clip_limit=float("nan")), ValueError, "clip limit"),
    "zero tiles": (lambda img: histo.equalize(img, tiles=(0, 8)), ValueError, "tiles"),
    "unknown mode": (lambda img: histo.equalize(img, mode="hsv2"), ValueError, "mode"),
    "unknown method": (lambda img: histo.equalize(img, method="local"), ValueError, "method"),
    "mask of another size": (lambda img: histo.equalize(img, mask=np.ones((3, 3))), ValueError, "mask"),
    "empty mask": (lambda img: histo.equalize(img, mask=np.zeros(img.shape)), ValueError, "empty"),
    "unknown mask_apply": (lambda img: histo.equalize(img, mask=img > 9, mask_apply="outside"), ValueError, "inside"),
    "out of another shape": (lambda img: histo.equalize(img, out=np.empty((2, 2), np.uint8)), ValueError, "shape"),
    "out of another dtype": (lambda img: histo.equalize(img, out=np.empty(img.shape, np.uint16)), TypeError, "uint8"),
    "gray mode in place": (lambda img: in_place_gray(np.dstack([img] * 3)), ValueError, "gray"),
    "zero threads": (lambda img: histo.equalize(img, threads=0), ValueError, "threads"),
    "negative counts": (lambda img: histo.table(np.full(256, -1)), ValueError, "negative"),
    "wrong bin count": (lambda img: histo.table(np.ones(100, np.uint64)), ValueError, "bins"),
    "table of another dtype": (lambda img: histo.apply(img, np.arange(65536, dtype=np.uint16)), TypeError, "uint8"),
    "tiles too fine": (lambda img: histo.clahe(img[:16, :16], tiles=(256, 256)), ValueError, "too fine"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_raises_a_clear_error(gray_photos, case):
    call, error, words = BAD_CALLS[case]
    with pytest.raises(error) as info:
        call(gray_photos["camera"])
    message = str(info.value)
    assert words in message and "\n" not in message


def test_the_gil_is_released_while_histo_works():
    """With a 10 s switch interval a thread keeps the GIL until it lets go:
    the main thread wakes during the call only if histo lets go."""
    big = low_contrast_gray(4000, 4000, 1)
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        histo.equalize(big, threads=1)
        histo.clahe(big, threads=1)
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    try:
        thread = threading.Thread(target=work)
        thread.start()
        started.wait()
        spins = 0
        while not done.wait(0.001):
            spins += 1
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert spins >= 10
