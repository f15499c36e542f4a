"""TIFF input read band by band (strips, or rows of tiles) and TIFF output
written strip by strip: the pixels are those of the same image given as
PNG, whatever the TIFF's layout, compression and the job's strip size, and
the output is a TIFF that tifffile and OpenCV (libtiff) read, uncompressed
or compressed with LZW or Deflate."""

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from support.images import gray16, low_contrast_color, low_contrast_gray

LAYOUTS = {
    "strips of 7 rows": {"rowsperstrip": 7},
    "one strip": {},
    "Deflate with a predictor": {"compression": "zlib", "predictor": True, "rowsperstrip": 16},
    "tiles of 32x48, Deflate": {"tile": (32, 48), "compression": "zlib"},
}


def images():
    rgb = low_contrast_color(203, 157, 51)
    alpha = np.linspace(0, 255, 203 * 157).reshape(203, 157, 1).astype(np.uint8)
    wide = gray16(131, 97, 52)
    return {
        "gray": (low_contrast_gray(211, 149, 50), []),
        "rgb luma": (rgb, []),
        "rgba rgb": (np.concatenate([rgb, alpha], axis=2), ["--mode", "rgb"]),
        "gray 16": (wide, []),
        "rgb 16 clahe": (np.dstack([wide, wide[::-1], wide[:, ::-1]]), ["--method", "clahe", "--tiles", "3x5"]),
    }


def as_png(path, pixels):
    """The same pixels as PNG, through OpenCV (BGR order on disk)."""
    if pixels.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
        pixels = cv2.cvtColor(pixels, code)
    assert cv2.imwrite(str(path), pixels)


def read_png(path):
    out = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGRA2RGBA if out.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", images())
def test_tiff_bands_give_the_pixels_of_the_same_png(histo, tmp_path, layout, name):
    pixels, extra = images()[name]
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, pixels, photometric="rgb" if pixels.ndim == 3 else "minisblack",
                     extrasamples=["unassalpha"] if pixels.ndim == 3 and pixels.shape[2] == 4 else None,
                     **LAYOUTS[layout])
    as_png(tmp_path / "in.png", pixels)
    histo("equalize", tmp_path / "in.png", "-o", tmp_path / "want.png", *extra)
    want = read_png(tmp_path / "want.png")
    for rows in ([], ["--strip-rows", "1"], ["--strip-rows", "13"]):
        dst = tmp_path / "out.tif"
        histo("equalize", src, "-o", dst, *extra, *rows)
        np.testing.assert_array_equal(tifffile.imread(dst), want, err_msg=f"{name}, {layout}, {rows}")
    # libtiff (through OpenCV) reads the striped output too.
    back = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert back is not None and back.shape[:2] == pixels.shape[:2] and back.dtype == pixels.dtype


def test_png_to_tiff_and_tiff_to_png_keep_the_pixels(histo, tmp_path):
    img = low_contrast_gray(300, 200, 53)
    as_png(tmp_path / "in.png", img)
    histo("equalize", tmp_path / "in.png", "-o", tmp_path / "out.tif")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), cv2.equalizeHist(img))
    tifffile.imwrite(tmp_path / "in.tif", img, tile=(64, 64))
    histo("equalize", tmp_path / "in.tif", "-o", tmp_path / "out.png")
    np.testing.assert_array_equal(read_png(tmp_path / "out.png"), cv2.equalizeHist(img))


@pytest.mark.parametrize("compression", ["lzw", "deflate"])
@pytest.mark.parametrize("name", images())
def test_compressed_tiff_output_holds_the_same_pixels(histo, tmp_path, compression, name):
    pixels, extra = images()[name]
    as_png(tmp_path / "in.png", pixels)
    histo("equalize", tmp_path / "in.png", "-o", tmp_path / "want.tif", *extra)
    want = tifffile.imread(tmp_path / "want.tif")
    for rows in ([], ["--strip-rows", "1"], ["--strip-rows", "13"]):
        dst = tmp_path / "out.tif"
        histo("equalize", tmp_path / "in.png", "-o", dst, "--tiff-compression", compression, *extra, *rows)
        with tifffile.TiffFile(dst) as tif:
            page = tif.pages[0]
            assert page.compression.name == {"lzw": "LZW", "deflate": "ADOBE_DEFLATE"}[compression]
            assert page.predictor == 2
            np.testing.assert_array_equal(page.asarray(), want, err_msg=f"{name}, {compression}, {rows}")
    # libtiff decodes the strips itself, through Pillow, to the same samples.
    if pixels.dtype == np.uint8:
        np.testing.assert_array_equal(np.asarray(Image.open(dst)), want)


def test_an_unknown_tiff_compression_is_one_line_naming_the_choices(histo, tmp_path):
    as_png(tmp_path / "in.png", low_contrast_gray(20, 20, 1))
    done = histo("equalize", tmp_path / "in.png", "-o", tmp_path / "out.tif", "--tiff-compression", "jpeg", check=False)
    assert done.returncode == 2
    assert "none, lzw or deflate" in done.stderr.decode()
    assert not (tmp_path / "out.tif").exists()
