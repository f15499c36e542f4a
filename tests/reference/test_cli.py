"""`histo equalize` as a user meets it: formats, stdin/stdout, and a clear
one-line error (never a panic) for every kind of bad input."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from support.images import low_contrast_color, low_contrast_gray
from support.process import assert_one_line_error


@pytest.fixture
def gray_png(tmp_path):
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), low_contrast_gray(64, 48, 20))
    return path


@pytest.mark.parametrize("ext", ["png", "jpg", "tiff", "bmp", "webp"])
def test_every_format_reads_and_writes(histo, tmp_path, ext):
    img = low_contrast_color(40, 60, 21)
    src, dst = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
    Image.fromarray(img[:, :, ::-1]).save(src, lossless=True) if ext == "webp" else cv2.imwrite(str(src), img)
    histo("equalize", src, "-o", dst)
    out = np.asarray(Image.open(dst).convert("RGB"))
    assert out.shape == (40, 60, 3)
    assert out.std() > np.asarray(Image.open(src).convert("RGB")).std(), "contrast went up"


def test_format_flag_overrides_the_extension(histo, tmp_path, gray_png):
    dst = tmp_path / "out.dat"
    histo("equalize", gray_png, "-o", dst, "--format", "jpeg")
    assert dst.read_bytes()[:3] == b"\xff\xd8\xff"


def test_stdin_to_stdout(histo, gray_png):
    proc = histo("equalize", "-", "-o", "-", stdin=gray_png.read_bytes())
    assert proc.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    out = cv2.imdecode(np.frombuffer(proc.stdout, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(out, cv2.equalizeHist(cv2.imread(str(gray_png), cv2.IMREAD_UNCHANGED)))


def test_large_stdin_is_spooled_and_read_twice_and_its_limit_named(histo, tmp_path):
    # 6 MB of noise, stored: past the 1 MiB kept in memory, and several strips.
    img = np.random.default_rng(5).normal(120, 25, (3000, 2000)).clip(0, 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    assert ok and len(png) > 5_000_000
    dst = tmp_path / "out.png"
    histo("equalize", "-", "-o", dst, "--strip-rows", "97", "--max-held-bytes", "0", stdin=png.tobytes())
    np.testing.assert_array_equal(cv2.imread(str(dst), cv2.IMREAD_UNCHANGED), cv2.equalizeHist(img))
    over = histo("equalize", "-", "-o", dst, "--max-input-bytes", str(len(png) - 1), stdin=png.tobytes(), check=False)
    assert_one_line_error(over, "--max-input-bytes")


def test_version_and_help(histo):
    assert histo("--version").stdout.decode().startswith("histo ")
    help_text = histo("equalize", "--help").stdout.decode()
    for flag in ["--mode", "--method", "--clip-limit", "--tiles", "--format", "--max-pixels", "HISTO_MODE"]:
        assert flag in help_text


def bmp_declaring(width, height):
    """A BMP header for a 24-bit image, and no pixels: BMP is decoded whole."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + info + bytes(16)


def png_declaring(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_bytes():
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "GIF")
    return buf.getvalue()


BAD_INPUTS = {
    "truncated png": (lambda p: p.read_bytes()[:200], "cannot decode png"),
    "text": (lambda p: b"just some text\n", "not a supported image"),
    "empty": (lambda p: b"", "input is empty"),
    "gif": (lambda p: gif_bytes(), "not a supported image"),
    # A file's PNG is read a strip at a time, so only a side past 2²⁰ is a bomb.
    "bomb": (lambda p: png_declaring(2_000_000, 2_000_000), "exceeds the limits"),
    "bomb decoded whole": (lambda p: bmp_declaring(40_000, 40_000), "--max-whole-pixels"),
    "zero width": (lambda p: png_declaring(0, 10), "png"),
    "corrupt jpeg": (lambda p: b"\xff\xd8\xff\xe0" + b"\x00" * 100, "jpeg"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gives_one_clear_line(histo, tmp_path, gray_png, case):
    make, fragment = BAD_INPUTS[case]
    src = tmp_path / "bad.png"
    src.write_bytes(make(gray_png))
    proc = histo("equalize", src, "-o", tmp_path / "out.png", check=False)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "out.png").exists()
    assert list(tmp_path.glob(".out.png*")) == [], "no temporary file left behind"


def test_missing_file(histo, tmp_path):
    assert_one_line_error(histo("equalize", tmp_path / "nope.png", "-o", tmp_path / "o.png", check=False), "nope.png")


def test_directory_as_input(histo, tmp_path):
    assert_one_line_error(histo("equalize", tmp_path, "-o", tmp_path / "o.png", check=False), "directory")


def test_unwritable_output(histo, tmp_path, gray_png):
    proc = histo("equalize", gray_png, "-o", tmp_path / "no" / "such" / "dir" / "o.png", check=False)
    assert_one_line_error(proc, "cannot write")


def test_unknown_output_extension(histo, tmp_path, gray_png):
    proc = histo("equalize", gray_png, "-o", tmp_path / "o.xyz", check=False)
    assert_one_line_error(proc, "--format")


def test_input_over_the_byte_limit(histo, tmp_path, gray_png):
    proc = histo("equalize", gray_png, "-o", tmp_path / "o.png", "--max-input-bytes", 100, check=False)
    assert_one_line_error(proc, "over the limit")


def test_pixel_limit_from_the_environment(histo, tmp_path, gray_png):
    proc = histo("equalize", gray_png, "-o", tmp_path / "o.png", check=False, env={"HISTO_MAX_PIXELS": "100"})
    assert_one_line_error(proc, "exceeds the limits")


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--mode", "sepia"), ("--method", "magic"), ("--tiles", "0x8"), ("--tiles", "8"), ("--clip-limit", "-1")],
)
def test_invalid_options_are_usage_errors(histo, tmp_path, gray_png, flag, value):
    proc = histo("equalize", gray_png, "-o", tmp_path / "o.png", flag, value, check=False)
    assert proc.returncode == 2
    assert value in proc.stderr.decode()
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("mode", ["lab", "hsv", "hsl", "luma", "rgb"])
def test_a_colour_mode_on_a_gray_image_is_bad_input(histo, tmp_path, gray_png, mode):
    proc = histo("equalize", gray_png, "-o", tmp_path / "o.png", "--mode", mode, check=False)
    assert_one_line_error(proc, "needs a colour image")
    assert proc.returncode == 2
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(("flag", "value", "env"), [("--clip-limit", "3", None), ("--tiles", "4x4", None),
                                                    (None, None, {"HISTO_TILES": "4x4"})])
def test_a_clahe_setting_with_the_global_method_is_refused(histo, tmp_path, gray_png, flag, value, env):
    args = [flag, value] if flag else []
    proc = histo("equalize", gray_png, "-o", tmp_path / "o.png", *args, check=False, env=env)
    assert_one_line_error(proc, "CLAHE setting")
    assert proc.returncode == 2
    assert not (tmp_path / "o.png").exists()


def test_clahe_settings_from_the_environment_apply_to_clahe(histo, tmp_path, gray_png):
    env = {"HISTO_TILES": "2x2", "HISTO_CLIP_LIMIT": "4"}
    histo("equalize", gray_png, "-o", tmp_path / "env.png", "--method", "clahe", env=env)
    histo("equalize", gray_png, "-o", tmp_path / "flags.png", "--method", "clahe", "--tiles", "2x2",
          "--clip-limit", "4")
    assert (tmp_path / "env.png").read_bytes() == (tmp_path / "flags.png").read_bytes()
