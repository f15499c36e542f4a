"""`--strip-rows N`: the unit of work is a setting, and the output's pixels
do not depend on it, for every method, mode, mask and table source."""

import cv2
import numpy as np
import pytest

from support.images import low_contrast_color, low_contrast_gray


def write(path, img):
    assert cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize("extra", [
    [],
    ["--method", "clahe", "--tiles", "5x3"],
    ["--mode", "lab", "--method", "clahe"],
    ["--mode", "rgb", "--mask", "MASK", "--mask-apply", "inside"],
    ["--method", "clahe", "--mask", "MASK"],
    ["--match", "REF"],
])
def test_any_strip_size_gives_the_same_pixels(histo, tmp_path, extra):
    src = write(tmp_path / "in.png", low_contrast_color(301, 257, 70))
    yy, xx = np.mgrid[:301, :257]
    mask = write(tmp_path / "mask.png", (((yy - 120) ** 2 + (xx - 90) ** 2 < 100**2) * 255).astype(np.uint8))
    ref = write(tmp_path / "ref.png", low_contrast_color(50, 60, 71) // 2 + 90)
    extra = [{"MASK": mask, "REF": ref}.get(a, a) for a in extra]
    outputs = []
    for rows in (None, 1, 7, 300):
        out = tmp_path / f"out-{rows}.png"
        histo("equalize", src, "-o", out, *extra, *([] if rows is None else ["--strip-rows", rows]))
        outputs.append(cv2.imread(str(out), cv2.IMREAD_UNCHANGED))
    for rows, got in zip((1, 7, 300), outputs[1:]):
        np.testing.assert_array_equal(got, outputs[0], err_msg=f"--strip-rows {rows}")


def test_zero_rows_is_refused(histo, tmp_path):
    src = write(tmp_path / "in.png", low_contrast_gray(10, 10, 72))
    proc = histo("equalize", src, "-o", tmp_path / "o.png", "--strip-rows", "0", check=False)
    assert proc.returncode == 2 and b"--strip-rows" in proc.stderr
