"""References histo is checked against, written from their definitions
(OpenCV's pipelines, the documented 16-bit rule), not from histo's code,
and the edge-case images every interface is tried on: shared by the CLI's
suite (tests/reference) and the Python package's (tests/python)."""

import cv2
import numpy as np

from support.images import low_contrast_gray

EDGE_CASES = {
    "one_pixel": np.array([[42]], np.uint8),
    "constant": np.full((31, 17), 99, np.uint8),
    "all_black": np.zeros((20, 20), np.uint8),
    "all_white": np.full((20, 20), 255, np.uint8),
    "two_levels": np.array([[10, 200] * 8] * 9, np.uint8),
    "very_wide": low_contrast_gray(1, 20000, 1),
    "very_tall": low_contrast_gray(20000, 1, 2),
    "full_range": np.arange(256 * 64, dtype=np.uint32).reshape(64, 256).astype(np.uint8),
    "noise": np.random.default_rng(3).integers(0, 256, (333, 517), dtype=np.uint8),
    "large": low_contrast_gray(2003, 1501, 4),
}

CLAHE_CASES = [
    ((512, 512), 2.0, (8, 8)),
    ((480, 640), 2.0, (8, 8)),
    ((301, 257), 2.0, (8, 8)),  # uneven on both axes
    ((256, 250), 3.5, (8, 8)),  # uneven width only
    ((123, 457), 1.0, (4, 6)),
    ((100, 100), 0.0, (3, 5)),  # no clipping
    ((40, 9), 40.0, (8, 8)),  # tiles narrower than the padding
    ((2000, 1500), 2.0, (16, 16)),
]


def ycrcb_equalize(bgr):
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    ycrcb[:, :, 0] = cv2.equalizeHist(ycrcb[:, :, 0])
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)


def max_diff(a, b):
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


def reference_equalize16(img: np.ndarray) -> np.ndarray:
    """The documented 16-bit formula, computed independently with numpy:
    lut[v] = round_half_even((cdf(v) - cdf_min) * 65535 / (N - cdf_min))."""
    hist = np.bincount(img.ravel(), minlength=65536).astype(np.uint64)
    cdf = np.cumsum(hist)
    first = int(np.flatnonzero(hist)[0])
    n, cdf_min = img.size, int(hist[first])
    if cdf_min == n:
        return img.copy()
    lut = np.rint((cdf.astype(np.float64) - cdf_min) * 65535.0 / (n - cdf_min))
    return lut.clip(0, 65535).astype(np.uint16)[img]


def reference_table(source: np.ndarray, reference: np.ndarray, src_levels: int) -> np.ndarray:
    """Level v → the smallest u with S(v)·N_ref ≤ R(u)·N_src, rescaled to the
    source's depth; Python integers, so no product overflows."""
    ref_levels = 256 if reference.dtype == np.uint8 else 65536
    s = np.cumsum(np.bincount(source.ravel(), minlength=src_levels)).astype(object)
    r = np.cumsum(np.bincount(reference.ravel(), minlength=ref_levels)).astype(object)
    n_src, n_ref = int(s[-1]), int(r[-1])
    u = np.searchsorted(np.array([int(x) * n_src for x in r], dtype=object), [int(x) * n_ref for x in s])
    if ref_levels != src_levels:
        m_src, m_ref = src_levels - 1, ref_levels - 1
        u = (2 * u.astype(np.int64) * m_src + m_ref) // (2 * m_ref)
    return u.astype(np.uint8 if src_levels == 256 else np.uint16)


def reference_match(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    levels = 256 if source.dtype == np.uint8 else 65536
    return reference_table(source, reference, levels)[source]


def mask_reference(img, mask):
    """scikit-image's rule with OpenCV's table: count inside, apply everywhere."""
    return global_table(np.bincount(img[mask != 0], minlength=256))[img]


def global_table(hist):
    """OpenCV's equalizeHist table of 8-bit counts: the lowest level present
    maps to 0, the cdf above it is scaled to 255 in float32 and rounded."""
    first = int(np.flatnonzero(hist)[0])
    span = int(hist.sum()) - int(hist[first])
    lut = np.arange(256, dtype=np.uint8)
    if span:
        cdf = np.cumsum(hist) - hist[first]
        lut = np.rint(cdf.astype(np.float32) * (np.float32(255) / np.float32(span))).clip(0, 255).astype(np.uint8)
        lut[first] = 0
    return lut


def clahe_reference(img, clip_limit, tiles, mask=None, shared=()):
    """OpenCV's CLAHE on 8-bit gray, written out, with the mask rule: the
    image (and mask) padded right and bottom by reflection without the edge
    to whole tiles, as OpenCV pads; each tile counts the pixels inside; the clip limit is
    int(clip·inside/256), at least 1; the excess goes evenly to every level
    and what is left one by one from level 0 in steps of 256 // left; the
    table is round(cdf·255/inside), the identity for a tile with nothing
    inside; each pixel blends its four nearest tiles' tables bilinearly.
    With `shared` images (of img's size), each tile counts theirs too."""
    columns, rows = tiles
    h, w = img.shape
    inside = np.ones(img.shape, bool) if mask is None else mask != 0
    # OpenCV pads both axes as soon as either is uneven, a whole tile on an
    # even one.
    pad = ((0, 0), (0, 0)) if h % rows == 0 and w % columns == 0 else ((0, rows - h % rows), (0, columns - w % columns))
    images = [np.pad(i, pad, mode="reflect") for i in (img, *shared)]
    inside = np.pad(inside, pad, mode="reflect")
    th, tw = images[0].shape[0] // rows, images[0].shape[1] // columns
    luts = np.empty((rows, columns, 256))
    for ty in range(rows):
        for tx in range(columns):
            block = (slice(ty * th, (ty + 1) * th), slice(tx * tw, (tx + 1) * tw))
            hist = np.sum([np.bincount(p[block][inside[block]], minlength=256) for p in images], axis=0).astype(np.int64)
            counted = int(hist.sum())
            if counted == 0:
                luts[ty, tx] = np.arange(256)
                continue
            if clip_limit > 0:
                limit = max(int(clip_limit * counted / 256), 1)
                excess = int(np.maximum(hist - limit, 0).sum())
                hist = np.minimum(hist, limit) + excess // 256
                left = excess % 256
                if left:
                    for level in range(0, 256, max(256 // left, 1))[:left]:
                        hist[level] += 1
            luts[ty, tx] = np.rint(np.cumsum(hist) * (255 / counted)).clip(0, 255)

    def blend(n, size, count):
        position = np.arange(n) / size - 0.5
        low = np.floor(position)
        return np.maximum(low, 0).astype(int), np.minimum(low + 1, count - 1).astype(int), position - low

    top, bottom, ya = blend(h, th, rows)
    left_tile, right_tile, xa = blend(w, tw, columns)
    top, bottom, ya = top[:, None], bottom[:, None], ya[:, None]
    out = ((luts[top, left_tile, img] * (1 - xa) + luts[top, right_tile, img] * xa) * (1 - ya)
           + (luts[bottom, left_tile, img] * (1 - xa) + luts[bottom, right_tile, img] * xa) * ya)
    return np.rint(out).clip(0, 255).astype(np.uint8)
