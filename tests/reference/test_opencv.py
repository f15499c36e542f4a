"""histo equalize against OpenCV (and numpy for 16-bit), through the CLI on
real files."""

import cv2
import numpy as np
import pytest
import tifffile

from support.images import gray16, low_contrast_color, low_contrast_gray
from support.references import CLAHE_CASES, EDGE_CASES, max_diff, reference_equalize16, ycrcb_equalize

def equalize_file(histo, tmp_path, img, *args, suffix=".png"):
    src, dst = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    assert cv2.imwrite(str(src), img)
    histo("equalize", src, "-o", dst, *args)
    out = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert out is not None, "output is not a readable image"
    return out


@pytest.mark.parametrize("name", EDGE_CASES)
def test_gray_global_is_bit_exact(histo, tmp_path, name):
    img = EDGE_CASES[name]
    out = equalize_file(histo, tmp_path, img)
    np.testing.assert_array_equal(out, cv2.equalizeHist(img))


def test_gray_output_is_the_same_on_one_or_many_threads(histo, tmp_path):
    img = low_contrast_gray(1200, 900, 5)
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), img)
    histo("equalize", src, "-o", tmp_path / "a.png", "--threads", 1)
    histo("equalize", src, "-o", tmp_path / "b.png", "--threads", 2)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize("shape", [(240, 320), (1, 1), (7, 1999)])
def test_rgb_mode_is_bit_exact_per_channel(histo, tmp_path, shape):
    img = low_contrast_color(*shape, seed=6)
    out = equalize_file(histo, tmp_path, img, "--mode", "rgb")
    want = np.dstack([cv2.equalizeHist(np.ascontiguousarray(img[:, :, c])) for c in range(3)])
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("mode", ["luma", "auto"])
def test_luma_mode_is_within_one_of_opencv_ycrcb(histo, tmp_path, mode):
    img = low_contrast_color(480, 640, seed=7)
    out = equalize_file(histo, tmp_path, img, "--mode", mode)
    assert max_diff(out, ycrcb_equalize(img)) <= 1


def test_gray_mode_on_colour_matches_opencv_gray(histo, tmp_path):
    img = low_contrast_color(300, 400, seed=8)
    out = equalize_file(histo, tmp_path, img, "--mode", "gray")
    assert out.ndim == 2
    np.testing.assert_array_equal(out, cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)))


def test_alpha_passes_through(histo, tmp_path):
    bgr = low_contrast_color(200, 300, seed=9)
    alpha = np.random.default_rng(9).integers(0, 256, (200, 300), dtype=np.uint8)
    out = equalize_file(histo, tmp_path, np.dstack([bgr, alpha]), "--mode", "rgb")
    np.testing.assert_array_equal(out[:, :, 3], alpha)
    want = np.dstack([cv2.equalizeHist(np.ascontiguousarray(bgr[:, :, c])) for c in range(3)])
    np.testing.assert_array_equal(out[:, :, :3], want)


def test_gray_alpha_works(histo, tmp_path):
    from PIL import Image  # noqa: PLC0415  (Pillow writes LA PNGs; OpenCV cannot)

    gray = low_contrast_gray(150, 160, 10)
    alpha = np.random.default_rng(10).integers(0, 256, gray.shape, dtype=np.uint8)
    src, dst = tmp_path / "la.png", tmp_path / "out.png"
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(src)
    histo("equalize", src, "-o", dst)
    out = np.asarray(Image.open(dst))
    assert Image.open(dst).mode == "LA"
    np.testing.assert_array_equal(out[:, :, 0], cv2.equalizeHist(gray))
    np.testing.assert_array_equal(out[:, :, 1], alpha)


@pytest.mark.parametrize(("compression", "tile"), [(None, None), ("zlib", None), ("zlib", (64, 64))])
def test_bigtiff_input(histo, tmp_path, compression, tile):
    """BigTIFF (64-bit offsets), striped or tiled, as tifffile writes it."""
    img = low_contrast_gray(300, 200, 12)
    rgb = np.dstack([img, img[::-1], img[:, ::-1]])
    for name, pixels, want in [("gray", img, cv2.equalizeHist(img)),
                               ("gray16", gray16(150, 130, 13), reference_equalize16(gray16(150, 130, 13))),
                               ("rgb", rgb, None)]:
        src, dst = tmp_path / f"{name}.tif", tmp_path / f"{name}-out.tif"
        tifffile.imwrite(src, pixels, bigtiff=True, compression=compression, tile=tile)
        assert src.read_bytes()[:4] in (b"II+\x00", b"MM\x00+")
        histo("equalize", src, "-o", dst, *(["--mode", "rgb"] if name == "rgb" else []))
        out = tifffile.imread(dst)
        if want is None:
            want = np.dstack([cv2.equalizeHist(np.ascontiguousarray(rgb[..., c])) for c in range(3)])
        np.testing.assert_array_equal(out, want, err_msg=name)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_gray_uses_65536_levels(histo, tmp_path, suffix):
    img = gray16(301, 257, 11)
    src, dst = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(src, img)
    else:
        cv2.imwrite(str(src), img)
    histo("equalize", src, "-o", dst)
    out = tifffile.imread(dst) if suffix == ".tif" else cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, reference_equalize16(img))
    assert (out.min(), out.max()) == (0, 65535)


@pytest.mark.parametrize(("shape", "clip", "tiles"), CLAHE_CASES)
def test_clahe_gray_within_one_of_opencv(histo, tmp_path, shape, clip, tiles):
    img = low_contrast_gray(*shape, seed=12)
    out = equalize_file(histo, tmp_path, img, "--method", "clahe", "--clip-limit", clip, "--tiles", f"{tiles[0]}x{tiles[1]}")
    want = cv2.createCLAHE(clipLimit=clip, tileGridSize=tiles).apply(img)
    assert max_diff(out, want) <= 1


def test_clahe_defaults_are_clip_2_and_8x8_tiles(histo, tmp_path):
    img = low_contrast_gray(333, 444, seed=13)
    out = equalize_file(histo, tmp_path, img, "--method", "clahe")
    assert max_diff(out, cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(img)) <= 1


def test_clahe_luma_within_one_of_opencv(histo, tmp_path):
    img = low_contrast_color(300, 500, seed=14)
    out = equalize_file(histo, tmp_path, img, "--method", "clahe")
    ycrcb = cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb)
    ycrcb[:, :, 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(np.ascontiguousarray(ycrcb[:, :, 0]))
    assert max_diff(out, cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)) <= 1


def photo_like(h, w, seed):
    """Smooth shading, edges and sensor noise: what a camera's JPEG holds."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 90 + 40 * np.sin(x / 37.0) * np.cos(y / 23.0) + 25 * ((x // 61 + y // 47) % 2)
    bgr = np.dstack([base + 10 * np.sin(y / 11.0), base, base - 15 * np.cos(x / 13.0)])
    return np.clip(bgr + rng.normal(0, 6, bgr.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("progressive", [0, 1])
@pytest.mark.parametrize("colour", [False, True])
def test_jpeg_input_decodes_to_opencvs_pixels(histo, tmp_path, colour, progressive):
    """libjpeg-turbo decodes for both, so equalizing a JPEG gives OpenCV's
    result bit for bit, baseline or progressive, 4:2:0 chroma included."""
    img = photo_like(301, 419, seed=11)
    img = img if colour else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    src, dst = tmp_path / "in.jpg", tmp_path / "out.png"
    assert cv2.imwrite(str(src), img, [cv2.IMWRITE_JPEG_QUALITY, 85, cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    histo("equalize", src, "-o", dst, "--mode", "rgb" if colour else "gray", "--strip-rows", 16)
    decoded = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    want = (
        np.dstack([cv2.equalizeHist(np.ascontiguousarray(decoded[:, :, c])) for c in range(3)])
        if colour
        else cv2.equalizeHist(decoded)
    )
    np.testing.assert_array_equal(cv2.imread(str(dst), cv2.IMREAD_UNCHANGED), want)


@pytest.mark.parametrize("colour", [False, True])
def test_jpeg_output_is_libjpeg_turbos_at_quality_92(histo, tmp_path, colour):
    """Written row by row, the output holds what OpenCV's libjpeg-turbo
    writes for the equalized image at quality 92 with full-resolution
    chroma: the same pixels once decoded."""
    img = photo_like(240, 320, seed=12)
    img = img if colour else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    src, dst = tmp_path / "in.png", tmp_path / "out.jpg"
    cv2.imwrite(str(src), img)
    histo("equalize", src, "-o", dst, "--mode", "rgb" if colour else "gray", "--strip-rows", 7)
    planes = [img[:, :, c] for c in range(3)] if colour else [img]
    want = np.dstack([cv2.equalizeHist(np.ascontiguousarray(p)) for p in planes]).squeeze()
    params = [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, theirs = cv2.imencode(".jpg", want, params)
    assert ok
    flag = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE
    np.testing.assert_array_equal(cv2.imread(str(dst), flag), cv2.imdecode(theirs, flag))
