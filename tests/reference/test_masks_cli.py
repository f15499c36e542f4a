"""`histo equalize --mask MASK [--mask-apply inside]` against the NumPy
references of the mask rules (tests/support/references.py): exact for the
global method, within one level for CLAHE; the outside's bytes kept with
`inside`; a one-line error with exit 2 for each bad mask."""

import cv2
import numpy as np
import pytest

from support.images import low_contrast_color, low_contrast_gray
from support.process import assert_one_line_error
from support.references import clahe_reference, mask_reference, max_diff, reference_table


def write(path, img):
    assert cv2.imwrite(str(path), img)
    return path


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.uint8) * 255


@pytest.fixture
def scene(tmp_path):
    img = low_contrast_gray(700, 530, 31)
    mask = disc(700, 530, 260, 300, 230)
    return img, mask, write(tmp_path / "in.png", img), write(tmp_path / "mask.png", mask)


def test_global_counts_inside_and_applies_everywhere_or_inside(histo, tmp_path, scene):
    img, mask, src, mask_path = scene
    histo("equalize", src, "-o", tmp_path / "all.png", "--mask", mask_path)
    np.testing.assert_array_equal(read(tmp_path / "all.png"), mask_reference(img, mask))
    histo("equalize", src, "-o", tmp_path / "inside.png", "--mask", mask_path, "--mask-apply", "inside")
    inside = read(tmp_path / "inside.png")
    np.testing.assert_array_equal(inside[mask == 0], img[mask == 0])
    np.testing.assert_array_equal(inside[mask != 0], mask_reference(img, mask)[mask != 0])


@pytest.mark.parametrize(("clip", "tiles"), [(2.0, (8, 8)), (0.0, (5, 3)), (40.0, (7, 9))])
def test_clahe_counts_each_tile_inside(histo, tmp_path, scene, clip, tiles):
    img, mask, src, mask_path = scene
    extra = ["--method", "clahe", "--clip-limit", str(clip), "--tiles", f"{tiles[0]}x{tiles[1]}", "--mask", mask_path]
    histo("equalize", src, "-o", tmp_path / "all.png", *extra)
    everywhere = read(tmp_path / "all.png")
    assert max_diff(everywhere, clahe_reference(img, clip, tiles, mask)) <= 1
    histo("equalize", src, "-o", tmp_path / "inside.png", *extra, "--mask-apply", "inside")
    inside = read(tmp_path / "inside.png")
    np.testing.assert_array_equal(inside[mask == 0], img[mask == 0])
    np.testing.assert_array_equal(inside[mask != 0], everywhere[mask != 0])


def test_matching_counts_the_inside_of_the_source(histo, tmp_path, scene):
    img, mask, src, mask_path = scene
    reference = low_contrast_gray(90, 140, 33) // 2 + 100
    ref = write(tmp_path / "ref.png", reference)
    histo("equalize", src, "-o", tmp_path / "out.png", "--match", ref, "--mask", mask_path, "--mask-apply", "inside")
    want = np.where(mask != 0, reference_table(img[mask != 0], reference, 256)[img], img)
    np.testing.assert_array_equal(read(tmp_path / "out.png"), want)


def test_a_colour_mask_with_alpha_is_inside_where_a_colour_sample_is_nonzero(histo, tmp_path, scene):
    img, mask, src, _ = scene
    bgra = np.zeros((*mask.shape, 4), np.uint8)
    bgra[..., 1] = mask  # green only
    bgra[..., 3] = 255 - mask  # alpha opposite, ignored
    histo("equalize", src, "-o", tmp_path / "out.png", "--mask", write(tmp_path / "mask.png", bgra))
    np.testing.assert_array_equal(read(tmp_path / "out.png"), mask_reference(img, mask))


def test_colour_images_in_every_mode_keep_the_outside(histo, tmp_path):
    bgr = low_contrast_color(300, 420, 32)
    mask = disc(300, 420, 150, 100, 90)
    src, mask_path = write(tmp_path / "in.png", bgr), write(tmp_path / "mask.png", mask)
    for mode in ("luma", "rgb", "lab", "hsv", "hsl"):
        for method in ("global", "clahe"):
            out = tmp_path / f"{mode}-{method}.png"
            histo("equalize", src, "-o", out, "--mode", mode, "--method", method, "--mask", mask_path,
                  "--mask-apply", "inside")
            got = read(out)
            np.testing.assert_array_equal(got[mask == 0], bgr[mask == 0], err_msg=f"{mode} {method}")
            assert not np.array_equal(got[mask != 0], bgr[mask != 0]), f"{mode} {method}: inside changed"


def test_bad_masks(histo, tmp_path, scene):
    _, mask, src, _ = scene
    (tmp_path / "junk.png").write_bytes(b"not an image")
    cases = [
        (["--mask", write(tmp_path / "small.png", mask[:-1])], "the mask is 530x699, the image is 530x700"),
        (["--mask", write(tmp_path / "empty.png", mask * 0)], "the mask is empty"),
        (["--mask", tmp_path / "junk.png"], "mask"),
    ]
    for extra, words in cases:
        proc = histo("equalize", src, "-o", tmp_path / "o.png", *extra, check=False)
        assert_one_line_error(proc, words)
        assert proc.returncode == 2, extra
        assert not (tmp_path / "o.png").exists()
    # A missing file fails as a missing input does (exit 1).
    missing = histo("equalize", src, "-o", tmp_path / "o.png", "--mask", tmp_path / "missing.png", check=False)
    assert_one_line_error(missing, "cannot read mask")
    alone = histo("equalize", src, "-o", tmp_path / "o.png", "--mask-apply", "inside", check=False)
    assert alone.returncode == 2 and b"--mask" in alone.stderr
    wrong = histo("equalize", src, "-o", tmp_path / "o.png", "--mask", tmp_path / "mask.png", "--mask-apply", "outside",
                  check=False)
    assert wrong.returncode == 2 and b"inside" in wrong.stderr
