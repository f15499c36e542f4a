"""The `lab`, `hsv` and `hsl` modes against references that follow the
rules in README (tests/support/colour_references.py): real photos, 8 and
16-bit, global and CLAHE, alpha kept, gray input refused."""

import cv2
import numpy as np
import pytest

import histo
from support.colour_references import colour_mode
from support.references import mask_reference, max_diff, reference_equalize16

MODES = ["lab", "hsv", "hsl"]


def clahe_key(clip, tiles):
    return lambda key: cv2.createCLAHE(clipLimit=clip, tileGridSize=tiles).apply(np.ascontiguousarray(key))


def sixteen_bit(rgb, seed):
    noise = np.random.default_rng(seed).integers(0, 257, rgb.shape)
    return (rgb.astype(np.uint32) * 257 // 2 + noise).astype(np.uint16)


@pytest.mark.parametrize("mode", MODES)
def test_global_on_photos_within_one_of_the_reference(colour_photos, mode):
    for name, rgb in colour_photos.items():
        want = colour_mode(rgb, mode, cv2.equalizeHist)
        assert max_diff(histo.equalize(rgb, mode=mode), want) <= 1, name


@pytest.mark.parametrize("mode", MODES)
def test_sixteen_bit_within_one_of_the_reference(colour_photos, mode):
    rgb = sixteen_bit(colour_photos["coffee"], 1)
    want = colour_mode(rgb, mode, reference_equalize16)
    assert max_diff(histo.equalize(rgb, mode=mode), want) <= 1


@pytest.mark.parametrize("mode", MODES)
def test_clahe_on_photos_near_the_reference(colour_photos, mode):
    # histo's CLAHE is within one level of OpenCV's; rebuilding a pixel
    # around a key one level off moves a channel by up to two.
    for name, rgb in colour_photos.items():
        want = colour_mode(rgb, mode, clahe_key(2.0, (8, 8)))
        assert max_diff(histo.equalize(rgb, mode=mode, method="clahe"), want) <= 2, name


@pytest.mark.parametrize("mode", MODES)
def test_alpha_passes_through(mode):
    rgba = np.random.default_rng(5).integers(0, 256, (50, 61, 4), dtype=np.uint8)
    out = histo.equalize(rgba, mode=mode)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    assert max_diff(out, colour_mode(rgba, mode, cv2.equalizeHist)) <= 1


@pytest.mark.parametrize("mode", MODES)
def test_gray_and_extreme_pixels(mode):
    # Black, white, grays and full saturation: the rules' special cases.
    levels = np.array([0, 1, 127, 128, 254, 255], np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 6, 3)
    rgb = np.ascontiguousarray(np.repeat(grid, 3, axis=0))
    assert max_diff(histo.equalize(rgb, mode=mode), colour_mode(rgb, mode, cv2.equalizeHist)) <= 1


@pytest.mark.parametrize("mode", MODES)
def test_masked_modes_count_inside_only(colour_photos, mode):
    rgb = colour_photos["astronaut"]
    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    mask = (yy - 200) ** 2 + (xx - 300) ** 2 < 120**2

    assert max_diff(histo.equalize(rgb, mode=mode, mask=mask), colour_mode(rgb, mode, lambda key: mask_reference(key, mask))) <= 1


@pytest.mark.parametrize("mode", MODES + ["luma", "rgb"])
def test_a_colour_mode_on_gray_input_is_a_value_error(gray_photos, mode):
    with pytest.raises(ValueError, match="needs a colour image"):
        histo.equalize(gray_photos["camera"], mode=mode)
