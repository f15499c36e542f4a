"""histo.equalize_file: a file to a file through histo's own pipeline."""

import cv2
import numpy as np
import pytest
import tifffile

import histo
from support.images import low_contrast_color, low_contrast_gray
from support.references import max_diff, ycrcb_equalize


def test_png_to_png_is_bit_exact_with_opencv(tmp):
    img = low_contrast_gray(1234, 777, 2)
    cv2.imwrite(str(tmp / "in.png"), img)
    histo.equalize_file(tmp / "in.png", tmp / "out.png", threads=2)
    np.testing.assert_array_equal(cv2.imread(str(tmp / "out.png"), cv2.IMREAD_UNCHANGED), cv2.equalizeHist(img))
    assert sorted(p.name for p in tmp.iterdir()) == ["in.png", "out.png"]


def test_colour_clahe_and_a_format_by_name(tmp):
    bgr = low_contrast_color(300, 400, 3)
    cv2.imwrite(str(tmp / "in.png"), bgr)
    histo.equalize_file(str(tmp / "in.png"), str(tmp / "out.img"), format="tiff")
    assert max_diff(cv2.imread(str(tmp / "out.img")), ycrcb_equalize(bgr)) <= 1
    histo.equalize_file(tmp / "in.png", tmp / "clahe.png", method="clahe", tiles=(4, 4))
    assert cv2.imread(str(tmp / "clahe.png")).shape == bgr.shape


def test_output_settings_are_the_commands(tmp):
    img = low_contrast_gray(600, 500, 4)
    cv2.imwrite(str(tmp / "in.png"), img)
    histo.equalize_file(tmp / "in.png", tmp / "out.tif", tiff_compression="deflate")
    with tifffile.TiffFile(tmp / "out.tif") as tif:
        assert tif.pages[0].compression.name == "ADOBE_DEFLATE"
        np.testing.assert_array_equal(tif.pages[0].asarray(), cv2.equalizeHist(img))
    histo.equalize_file(tmp / "in.png", tmp / "q40.jpg", jpeg_quality=40)
    histo.equalize_file(tmp / "in.png", tmp / "q95.jpg", jpeg_quality=95)
    assert (tmp / "q40.jpg").stat().st_size < (tmp / "q95.jpg").stat().st_size
    histo.equalize_file(tmp / "in.png", tmp / "l0.png", png_level=0)
    np.testing.assert_array_equal(cv2.imread(str(tmp / "l0.png"), cv2.IMREAD_UNCHANGED), cv2.equalizeHist(img))
    assert (tmp / "l0.png").stat().st_size > img.size
    for bad, match in [({"png_level": 10}, "0 to 9"), ({"tiff_compression": "jpeg"}, "none, lzw or deflate"),
                       ({"jpeg_quality": 0}, "1 to 100"), ({"jpeg_quality": 300}, "1 to 100")]:
        with pytest.raises(ValueError, match=match):
            histo.equalize_file(tmp / "in.png", tmp / "bad.tif", **bad)
    assert not (tmp / "bad.tif").exists()


def test_bad_files_raise_and_leave_nothing(tmp):
    (tmp / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(ValueError, match="cannot equalize"):
        histo.equalize_file(tmp / "bad.png", tmp / "out.png")
    with pytest.raises(FileNotFoundError):
        histo.equalize_file(tmp / "missing.png", tmp / "out.png")
    cv2.imwrite(str(tmp / "in.png"), low_contrast_gray(10, 10))
    with pytest.raises(ValueError, match="output format"):
        histo.equalize_file(tmp / "in.png", tmp / "out.xyz")
    with pytest.raises(ValueError, match="clip limit"):
        histo.equalize_file(tmp / "in.png", tmp / "out.png", clip_limit=-1)
    assert sorted(p.name for p in tmp.iterdir()) == ["bad.png", "in.png"]
