"""`histo equalize IN... --out-dir DIR`: every output is the bytes the
one-image command writes; inputs from patterns and list files; a bad file
stops the batch or, with --keep-going, is reported and skipped, and never
leaves an output behind; names that cannot work are refused before any
work, with exit 2. With --shared-table, the NumPy reference of one table
from the summed counts (global, and CLAHE tile by tile)."""

import cv2
import numpy as np
import pytest

from support.images import low_contrast_color, low_contrast_gray
from support.process import assert_one_line_error
from support.references import clahe_reference, global_table, max_diff


@pytest.fixture
def inputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    paths = []
    for i in range(5):
        img = low_contrast_gray(120 + 7 * i, 90 + 11 * i, 40 + i) if i % 2 else low_contrast_color(80, 100 + i, 50 + i)
        path = src / f"img{i}.png"
        assert cv2.imwrite(str(path), img)
        paths.append(path)
    return paths


def one_by_one(histo, paths, out, *extra, suffix=None):
    out.mkdir()
    for path in paths:
        name = path.name if suffix is None else path.stem + suffix
        histo("equalize", path, "-o", out / name, *extra)
    return {p.name: p.read_bytes() for p in out.iterdir()}


def contents(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_a_batch_writes_what_one_image_at_a_time_writes(histo, tmp_path, inputs, jobs):
    extra = ["--method", "clahe", "--tiles", "4x3"]
    proc = histo("equalize", *inputs, "--out-dir", tmp_path / "out", "--jobs", jobs, *extra)
    assert contents(tmp_path / "out") == one_by_one(histo, inputs, tmp_path / "want", *extra)
    lines = proc.stderr.decode().splitlines()
    assert len([line for line in lines if line.startswith("histo: [")]) == 5, lines
    assert lines[-1].startswith("histo: equalized 5 of 5 images in "), lines


def test_patterns_list_files_and_format(histo, tmp_path, inputs):
    pattern = str(tmp_path / "in" / "img[0-2].png")
    listed = tmp_path / "list.txt"
    listed.write_text(f"# more\n\n{inputs[3]}\n{inputs[4]}\n")
    histo("equalize", pattern, "--from-list", listed, "--out-dir", tmp_path / "out", "--format", "tiff")
    want = one_by_one(histo, inputs, tmp_path / "want", "--format", "tiff", suffix=".tiff")
    assert contents(tmp_path / "out") == want
    # The list on standard input.
    histo("equalize", "--from-list", "-", "--out-dir", tmp_path / "again",
          stdin="\n".join(map(str, inputs)).encode())
    assert sorted(contents(tmp_path / "again")) == [p.name for p in inputs]


def test_a_bad_file_stops_the_batch_or_is_skipped(histo, tmp_path, inputs):
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(b"not an image")
    order = [inputs[0], bad, *inputs[1:]]
    stopped = histo("equalize", *order, "--out-dir", tmp_path / "stop", "--jobs", "1", check=False)
    assert stopped.returncode == 2
    assert sorted(contents(tmp_path / "stop")) == ["img0.png"], "no new image after the failure, no partial file"
    assert b"4 not started" in stopped.stderr
    assert stopped.stderr.decode().splitlines()[-1].startswith("histo: error: 1 of 6 images failed")

    going = histo("equalize", *order, "--out-dir", tmp_path / "going", "--keep-going", "--jobs", "2", check=False)
    assert going.returncode == 2
    assert sorted(contents(tmp_path / "going")) == sorted(p.name for p in inputs)
    assert b"failed: cannot equalize " + str(bad).encode() in going.stderr
    assert b"equalized 5 of 6 images" in going.stderr


@pytest.mark.parametrize(("args", "words"), [
    (lambda p, t: [p[0], p[1], "-o", t / "o.png"], "2 inputs and one output: use --out-dir DIR"),
    (lambda p, t: [p[0], p[0].parent / ".." / "in" / p[0].name, "--out-dir", t / "o"], "would both be written"),
    (lambda p, t: [p[0], "--out-dir", p[0].parent], "over its input"),
    (lambda p, t: [str(t / "in" / "*.gif"), "--out-dir", t / "o"], "no file matches"),
    (lambda p, t: ["-", p[0], "--out-dir", t / "o"], "standard input"),
])
def test_names_that_cannot_work_are_refused_first(histo, tmp_path, inputs, args, words):
    proc = histo("equalize", *args(inputs, tmp_path), check=False)
    assert_one_line_error(proc, words)
    assert proc.returncode == 2
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "o.png").exists()


def test_a_shared_table_is_the_table_of_the_summed_counts(histo, tmp_path):
    imgs = [low_contrast_gray(150, 120, 60), low_contrast_gray(90, 200, 61) // 2 + 100,
            low_contrast_gray(150, 120, 62) // 3 + 20]
    paths = []
    for i, img in enumerate(imgs):
        paths.append(tmp_path / f"s{i}.png")
        assert cv2.imwrite(str(paths[-1]), img)
    histo("equalize", *paths, "--out-dir", tmp_path / "out", "--shared-table", "--jobs", "2")
    table = global_table(sum(np.bincount(img.ravel(), minlength=256) for img in imgs))
    for path, img in zip(paths, imgs):
        np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out" / path.name), cv2.IMREAD_UNCHANGED), table[img])

    # CLAHE: tile by tile over the images of one size.
    same = [paths[0], paths[2]]
    histo("equalize", *same, "--out-dir", tmp_path / "clahe", "--shared-table", "--method", "clahe", "--tiles", "4x3")
    got = cv2.imread(str(tmp_path / "clahe" / paths[0].name), cv2.IMREAD_UNCHANGED)
    assert max_diff(got, clahe_reference(imgs[0], 2.0, (4, 3), shared=[imgs[2]])) <= 1
    other = histo("equalize", *paths, "--out-dir", tmp_path / "no", "--shared-table", "--method", "clahe", check=False)
    assert other.returncode == 2
    last = other.stderr.decode().splitlines()[-1]
    assert "CLAHE shares tiles between images of one size, not 120x150 and 200x90" in last, last
    assert not any((tmp_path / "no").iterdir())


def test_a_shared_table_with_a_bad_file_stops_or_goes_on_without_it(histo, tmp_path, inputs):
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(b"not an image")
    gray = [p for i, p in enumerate(inputs) if i % 2]
    stopped = histo("equalize", bad, *gray, "--out-dir", tmp_path / "stop", "--shared-table", "--jobs", "1",
                    check=False)
    assert stopped.returncode == 2 and not any((tmp_path / "stop").iterdir())
    histo("equalize", *gray, "--out-dir", tmp_path / "want", "--shared-table")
    going = histo("equalize", bad, *gray, "--out-dir", tmp_path / "going", "--shared-table", "--keep-going",
                  check=False)
    assert going.returncode == 2 and b"cannot count " + str(bad).encode() in going.stderr
    assert contents(tmp_path / "going") == contents(tmp_path / "want")
