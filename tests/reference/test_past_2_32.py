"""Past 2³² pixels: a 65 536 × 65 537 gray BigTIFF (4 295 032 832 pixels)
streamed through `histo equalize`, its counts exact (a 32-bit count would
wrap), in bounded memory. The input is raw tiles written from a generator
and the expected table comes from counts summed tile by tile, so the test
never holds the image either."""

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from support.references import global_table

WIDTH, HEIGHT, TILE = 65_536, 65_537, 256
NOISE = [np.random.default_rng(k).integers(0, 24, (TILE, TILE), dtype=np.uint8) for k in range(7)]


def base(tx: int, ty: int) -> int:
    return 60 + (tx * 97 // (WIDTH // TILE) + ty * 41 // (HEIGHT // TILE)) % 100


def tile(tx: int, ty: int) -> np.ndarray:
    return NOISE[(tx + 3 * ty) % 7] + np.uint8(base(tx, ty))


def tile_counts() -> np.ndarray:
    """The image's histogram: each tile's noise counts shifted by its base;
    the last row of tiles has one row inside the image."""
    inside_rows = HEIGHT - (HEIGHT // TILE) * TILE
    full = [np.bincount(n.ravel(), minlength=256)[:256] for n in NOISE]
    last = [np.bincount(n[:inside_rows].ravel(), minlength=256)[:256] for n in NOISE]
    hist = np.zeros(512, dtype=np.int64)
    for ty in range(-(-HEIGHT // TILE)):
        counts = last if (ty + 1) * TILE > HEIGHT else full
        for tx in range(WIDTH // TILE):
            b = base(tx, ty)
            hist[b:b + 256] += counts[(tx + 3 * ty) % 7]
    assert not hist[256:].any()
    return hist[:256]


def row(y: int) -> np.ndarray:
    ty = y // TILE
    return np.concatenate([tile(tx, ty)[y % TILE] for tx in range(WIDTH // TILE)])


def test_an_image_past_2_32_pixels_is_counted_exactly_in_bounded_memory(histo_bin, tmp_path):
    src, dst = tmp_path / "big.tif", tmp_path / "big-out.tif"
    try:
        tiles = (tile(tx, ty) for ty in range(-(-HEIGHT // TILE)) for tx in range(WIDTH // TILE))
        tifffile.imwrite(src, tiles, shape=(HEIGHT, WIDTH), dtype=np.uint8, tile=(TILE, TILE), bigtiff=True)
        with tempfile.NamedTemporaryFile() as rss:
            proc = subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", rss.name, str(histo_bin), "equalize", str(src), "-o", str(dst),
                 "--max-pixels", "5000000000", "--max-input-bytes", "5000000000"],
                capture_output=True, timeout=600)
            assert proc.returncode == 0, proc.stderr.decode()
            peak_mb = int(Path(rss.name).read_text().split()[-1]) / 1024
        assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"
        hist = tile_counts()
        assert hist.sum() == WIDTH * HEIGHT > 2**32
        lut = global_table(hist)
        out = tifffile.memmap(dst)
        assert out.shape == (HEIGHT, WIDTH)
        for y in (0, 255, 256, 32_768, 65_535, 65_536):
            np.testing.assert_array_equal(out[y], lut[row(y)], err_msg=f"row {y}")
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
