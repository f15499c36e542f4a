"""`histo.match` (histogram specification) against a NumPy reference written
from the rule in its docstring and README: exact on real photos, the edge
cases, 16-bit and across depths, per channel; within one level of OpenCV's
YCrCb pipeline for luma; bad references refused."""

import cv2
import numpy as np
import pytest
import skimage.exposure

import histo
from support.references import EDGE_CASES, max_diff, reference_match


def test_gray_photos_match_each_other_exactly(gray_photos):
    names = list(gray_photos)
    for name, other in zip(names, names[1:] + names[:1]):
        src, ref = gray_photos[name], gray_photos[other]
        np.testing.assert_array_equal(histo.match(src, ref), reference_match(src, ref), err_msg=f"{name} → {other}")


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_cases_exactly(name, gray_photos):
    img = EDGE_CASES[name]
    for ref in (gray_photos["camera"], img, np.full((3, 3), 200, np.uint8)):
        np.testing.assert_array_equal(histo.match(img, ref), reference_match(img, ref))


def test_sixteen_bit_and_across_depths():
    rng = np.random.default_rng(11)
    src16 = (rng.normal(30000, 4000, (300, 200)).clip(0, 65535)).astype(np.uint16)
    ref16 = (rng.gamma(2.0, 9000, (150, 170)).clip(0, 65535)).astype(np.uint16)
    ref8 = rng.integers(40, 90, (64, 64), dtype=np.uint8)
    np.testing.assert_array_equal(histo.match(src16, ref16), reference_match(src16, ref16))
    np.testing.assert_array_equal(histo.match(src16, ref8), reference_match(src16, ref8))
    src8 = rng.integers(0, 256, (120, 90), dtype=np.uint8)
    np.testing.assert_array_equal(histo.match(src8, ref16), reference_match(src8, ref16))


def test_rgb_channels_match_their_own_channel(colour_photos):
    src, ref = colour_photos["coffee"], colour_photos["astronaut"]
    want = np.dstack([reference_match(np.ascontiguousarray(src[..., c]), np.ascontiguousarray(ref[..., c]))
                      for c in range(3)])
    np.testing.assert_array_equal(histo.match(src, ref, mode="rgb"), want)


def test_luma_within_one_of_the_ycrcb_pipeline(colour_photos):
    src, ref = colour_photos["chelsea"], colour_photos["astronaut"]
    y_src = cv2.cvtColor(src, cv2.COLOR_RGB2YCrCb)
    y_ref = cv2.cvtColor(ref, cv2.COLOR_RGB2YCrCb)[..., 0]
    y_src[..., 0] = reference_match(np.ascontiguousarray(y_src[..., 0]), np.ascontiguousarray(y_ref))
    assert max_diff(histo.match(src, ref), cv2.cvtColor(y_src, cv2.COLOR_YCrCb2RGB)) <= 1


def test_the_result_follows_the_reference_more_closely_than_the_source(gray_photos):
    src, ref = gray_photos["camera"], gray_photos["moon"]
    out = histo.match(src, ref)
    cdf = lambda a: np.cumsum(np.bincount(a.ravel(), minlength=256)) / a.size  # noqa: E731
    assert np.abs(cdf(out) - cdf(ref)).max() < 0.25 * np.abs(cdf(src) - cdf(ref)).max()
    # scikit-image interpolates between quantiles: close, not equal.
    sk = skimage.exposure.match_histograms(src, ref)
    assert np.abs(out.astype(float) - sk).mean() < 3


BAD = {
    "empty reference": (lambda img: histo.match(img, np.zeros((0, 5), np.uint8)), ValueError, "empty"),
    "float reference": (lambda img: histo.match(img, img.astype(float)), TypeError, "reference"),
    "colour mode on a gray reference": (
        lambda img: histo.match(np.dstack([img] * 3), img, mode="rgb"), ValueError, "reference"),
    "unknown mode": (lambda img: histo.match(img, img, mode="sepia"), ValueError, "mode"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_references_are_refused(case, gray_photos):
    call, error, words = BAD[case]
    with pytest.raises(error, match=words):
        call(gray_photos["camera"])
