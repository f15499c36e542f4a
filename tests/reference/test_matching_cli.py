"""`histo equalize --match REF` and `--match-histogram FILE` against the
NumPy reference of the rule (tests/support/references.py): exact for gray,
16-bit, across depths and per channel; the histogram file formats; and a
one-line error with exit 2 for each bad reference."""

import json

import cv2
import numpy as np
import pytest

from support.images import gray16, low_contrast_color, low_contrast_gray
from support.process import assert_one_line_error
from support.references import reference_match


def write(path, img):
    assert cv2.imwrite(str(path), img)
    return path


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def smooth_reference(h, w, seed):
    """A reference with a histogram of its own: a wide, skewed spread."""
    rng = np.random.default_rng(seed)
    return (rng.gamma(2.5, 30, (h, w)) + 10).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize(("src", "ref"), [
    (lambda: low_contrast_gray(300, 200, 1), lambda: smooth_reference(150, 170, 2)),
    (lambda: gray16(180, 240, 3), lambda: gray16(90, 60, 4) // 3 + 1000),
    (lambda: gray16(120, 100, 5), lambda: smooth_reference(64, 64, 6)),
    (lambda: low_contrast_gray(100, 130, 7), lambda: (gray16(50, 50, 8) // 5)),
])
def test_gray_matching_is_exact(histo, tmp_path, src, ref):
    source, reference = src(), ref()
    out = tmp_path / "out.png"
    histo("equalize", write(tmp_path / "in.png", source), "-o", out, "--match", write(tmp_path / "ref.png", reference))
    np.testing.assert_array_equal(read(out), reference_match(source, reference))


def test_rgb_channels_are_matched_one_by_one(histo, tmp_path):
    source, reference = low_contrast_color(200, 150, 9), low_contrast_color(120, 90, 10)
    reference[..., 1] = smooth_reference(120, 90, 11)
    out = tmp_path / "out.png"
    histo("equalize", write(tmp_path / "in.png", source), "-o", out, "--mode", "rgb",
          "--match", write(tmp_path / "ref.png", reference))
    want = np.dstack([reference_match(np.ascontiguousarray(source[..., c]), np.ascontiguousarray(reference[..., c]))
                      for c in range(3)])
    np.testing.assert_array_equal(read(out), want)


def test_histogram_files_match_like_the_image(histo, tmp_path):
    source, reference = low_contrast_gray(160, 120, 12), smooth_reference(80, 90, 13)
    src = write(tmp_path / "in.png", source)
    counts = np.bincount(reference.ravel(), minlength=256)
    (tmp_path / "h.json").write_text(json.dumps(counts.tolist()))
    (tmp_path / "h.csv").write_text("# level counts\n" + "\n".join(str(c) for c in counts) + "\n")
    histo("equalize", src, "-o", tmp_path / "image.png", "--match", write(tmp_path / "ref.png", reference))
    for name in ("h.json", "h.csv"):
        histo("equalize", src, "-o", tmp_path / f"{name}.png", "--match-histogram", tmp_path / name)
        assert (tmp_path / f"{name}.png").read_bytes() == (tmp_path / "image.png").read_bytes(), name


BAD = {
    "negative count": ("h.json", "[1, -2]" , "level 1 is -2"),
    "too many counts": ("h.json", json.dumps([1] * 65537), "65537 levels"),
    "ragged csv": ("h.csv", "1,2\n3\n", "columns"),
    "empty histogram": ("h.json", json.dumps([0] * 256), "empty"),
    "three planes for gray": ("h.json", json.dumps([[1] * 256] * 3), "1 plane"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_histogram_files(histo, tmp_path, case):
    name, text, words = BAD[case]
    (tmp_path / name).write_text(text)
    src = write(tmp_path / "in.png", low_contrast_gray(40, 30, 14))
    proc = histo("equalize", src, "-o", tmp_path / "o.png", "--match-histogram", tmp_path / name, check=False)
    assert_one_line_error(proc, words)
    assert proc.returncode == 2
    assert not (tmp_path / "o.png").exists()


def test_bad_reference_images(histo, tmp_path):
    src = write(tmp_path / "in.png", low_contrast_color(40, 30, 15))
    gray = write(tmp_path / "gray.png", low_contrast_gray(20, 20, 16))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for extra, words in [
        (["--match", gray, "--mode", "rgb"], "reference: mode 'rgb' needs a colour image"),
        (["--match", tmp_path / "junk.png"], "not a supported image"),
        (["--match", gray, "--method", "clahe"], "global method"),
    ]:
        proc = histo("equalize", src, "-o", tmp_path / "o.png", *extra, check=False)
        assert_one_line_error(proc, words)
        assert proc.returncode == 2
        assert not (tmp_path / "o.png").exists()
    both = histo("equalize", src, "-o", tmp_path / "o.png", "--match", gray, "--match-histogram", gray, check=False)
    assert both.returncode == 2 and b"cannot be used with" in both.stderr
