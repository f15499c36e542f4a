"""histo: histogram equalization on NumPy arrays, image files and Dask arrays.

Global equalization is bit-exact with OpenCV's ``cv2.equalizeHist`` on
8-bit images, and CLAHE follows ``cv2.createCLAHE`` (within one level).
Arrays are uint8 or uint16, 2-D (height, width) or 3-D (height, width,
channels) with 1 to 4 channels: gray, gray+alpha, RGB, RGBA (alpha is never
equalized). C-contiguous arrays are read in place; any other array
(a strided view, Fortran order) is copied once first. Every call releases
the GIL and runs on all cores, or on ``threads`` of them.

The map, reduce and apply phases are functions too (:func:`histogram`,
:func:`table`, :func:`apply`, and :class:`Plan` for whole jobs cut into
row bands), for users who distribute the work themselves; ``histo.dask``
builds them into Dask graphs.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

import numpy as np

from . import _histo

__version__: str = _histo.__version__

__all__ = ["Plan", "apply", "clahe", "equalize", "equalize_file", "histogram", "match", "table"]

def equalize(
    a: np.ndarray,
    mode: str = "auto",
    method: str = "global",
    clip_limit: float = 2.0,
    tiles: Tuple[int, int] = (8, 8),
    mask: Optional[np.ndarray] = None,
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
    mask_apply: str = "all",
) -> np.ndarray:
    """Equalizes an image array and returns the result.

    mode: ``"gray"`` (colour is converted to gray first: the result is 2-D,
        or gray+alpha), ``"luma"`` (the Y of YCbCr is equalized, chroma
        kept), ``"rgb"`` (each colour channel on its own), ``"lab"`` (CIE
        L* under D65, a* and b* kept), ``"hsv"`` (V, hue and saturation
        kept), ``"hsl"`` (L, hue and saturation kept), or ``"auto"`` (gray
        for gray input, luma for colour). Colour modes need colour input.
    method: ``"global"`` (one table for the image) or ``"clahe"``.
    clip_limit, tiles: CLAHE's clip limit (0 disables clipping) and grid
        as (columns, rows), as in ``cv2.createCLAHE``; checked whatever the
        method.
    mask: a 2-D array of the image's height and width: only pixels where
        it is nonzero are counted (an empty mask is a ``ValueError``), in
        every mode. With CLAHE each tile counts its pixels inside, the clip
        limit is relative to that count, and a tile with none inside keeps
        its levels (the identity table).
    mask_apply: ``"all"`` applies the table to every pixel (scikit-image's
        rule), ``"inside"`` only to the pixels inside the mask, leaving the
        others' samples as they were.
    out: where to write the result (C-contiguous, of the result's shape and
        dtype); ``out=a`` equalizes in place without another array.
    threads: threads to use (default: one per core).
    """
    return _histo.equalize(
        a, mode=mode, method=method, clip_limit=clip_limit, tiles=tuple(tiles),
        mask=None if mask is None else _mask(mask), mask_apply=mask_apply, out=out, threads=threads,
    )


def clahe(
    a: np.ndarray,
    clip_limit: float = 2.0,
    tiles: Tuple[int, int] = (8, 8),
    mode: str = "auto",
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
) -> np.ndarray:
    """Contrast-limited adaptive equalization: ``equalize(a, method="clahe", ...)``."""
    return equalize(a, mode=mode, method="clahe", clip_limit=clip_limit, tiles=tiles, out=out, threads=threads)


def match(
    a: np.ndarray,
    reference: np.ndarray,
    mode: str = "auto",
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
) -> np.ndarray:
    """Histogram specification: ``a`` mapped so that its histogram follows
    ``reference``'s (any size; uint8 or uint16, either depth).

    Each plane the mode equalizes (gray, luma, the key of lab/hsv/hsl, or
    each RGB channel) is matched to the same plane of the reference. Level
    v goes to the smallest reference level u whose cumulative count reaches
    v's, computed exactly in integers: S(v)·N_ref ≤ R(u)·N_src. A reference
    of another depth has its level u rescaled to ``a``'s:
    round(u·(2^d_a − 1)/(2^d_ref − 1)). Unlike scikit-image's
    ``exposure.match_histograms``, which interpolates between quantiles,
    every output level is one the reference has.
    """
    return _histo.match_histograms(a, reference, mode=mode, out=out, threads=threads)


def histogram(a: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Counts each level: shape (levels,) for a 2-D array, (channels, levels)
    for a 3-D one; levels is 256 for uint8, 65536 for uint16. With ``mask``
    (2-D, the image's height and width), only pixels where it is nonzero
    count. The counts are uint64 and add up across pieces of an image."""
    return _histo.histogram(a, None if mask is None else _mask(mask))


def table(hist: np.ndarray) -> np.ndarray:
    """The equalization table of a histogram of 256 (uint8 table) or 65536
    (uint16 table) bins, or of each row of a 2-D array of them: the table
    :func:`equalize` builds from the same counts."""
    hist = np.asarray(hist)
    if hist.dtype.kind not in "iu":
        raise TypeError(f"hist must hold integer counts, not {hist.dtype}")
    if hist.ndim not in (1, 2):
        raise ValueError(f"hist must be 1-D or 2-D, not of shape {hist.shape}")
    if hist.size and hist.min() < 0:
        raise ValueError("hist holds a negative count")
    rows = np.ascontiguousarray(hist.reshape(-1, hist.shape[-1]), dtype=np.uint64)
    tables = _histo.table(rows)
    return tables[0] if hist.ndim == 1 else tables


def apply(a: np.ndarray, table: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Maps every sample through ``table``: one table (levels,) for all
    channels, or one per channel (channels, levels). The table's dtype is
    the image's."""
    table = np.asarray(table)
    if table.ndim == 1:
        table = table.reshape(1, -1)
    table = np.ascontiguousarray(table)
    if out is not None and out is a:
        np.copyto(a, _histo.apply(a, table))
        return a
    return _histo.apply(a, table, out)


def equalize_file(
    src: "os.PathLike[str] | str",
    dst: "os.PathLike[str] | str",
    mode: str = "auto",
    method: str = "global",
    clip_limit: float = 2.0,
    tiles: Tuple[int, int] = (8, 8),
    format: Optional[str] = None,
    threads: Optional[int] = None,
    png_level: Optional[int] = None,
    tiff_compression: Optional[str] = None,
    jpeg_quality: Optional[int] = None,
) -> None:
    """Equalizes the image file ``src`` (PNG, JPEG, TIFF, BMP or WebP) into
    ``dst``, whose extension picks the format unless ``format`` is given.
    It runs the pipeline of ``histo equalize``: PNG, JPEG and TIFF input is
    decoded strip by strip and never held whole; ``dst`` appears only when
    complete. ``png_level`` (0-9, default 5), ``tiff_compression``
    ("none", "lzw" or "deflate", default "none") and ``jpeg_quality``
    (1-100, default 92) are the command's ``--png-level``,
    ``--tiff-compression`` and ``--jpeg-quality``."""
    _histo.equalize_file(
        os.fspath(src), os.fspath(dst), mode=mode, method=method, clip_limit=clip_limit,
        tiles=tuple(tiles), format=format, threads=threads, png_level=png_level,
        tiff_compression=tiff_compression, jpeg_quality=jpeg_quality,
    )


class Plan:
    """One equalization job over an image of ``shape`` and ``dtype``, for an
    image held in pieces: :meth:`map` counts a band of rows, the counts of
    all bands add up, :meth:`reduce` turns the total into tables, and
    :meth:`apply` maps each band through them. The result is the same
    bytes as :func:`equalize` on the whole image, however it was cut.

    For CLAHE a band spans the image's full width and ``y0`` is its first
    row; for the global method any block is a band (``y0`` is ignored).
    """

    def __init__(
        self,
        shape: Sequence[int],
        dtype: "np.typing.DTypeLike",
        mode: str = "auto",
        method: str = "global",
        clip_limit: float = 2.0,
        tiles: Tuple[int, int] = (8, 8),
    ) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.mode = mode
        self.method = method
        self.clip_limit = float(clip_limit)
        self.tiles = tuple(tiles)
        # The global method's counts do not depend on where a block is.
        self.height: Optional[int] = self.shape[0] if method == "clahe" and self.shape else None
        self.output_shape: Tuple[int, ...] = tuple(_histo.output_shape(list(self.shape), self.dtype.name, self))

    def _y0(self, y0: int) -> int:
        return int(y0) if self.height is not None else 0

    def map(self, block: np.ndarray, y0: int = 0) -> np.ndarray:
        """The counts of one band (uint64; add them up across bands)."""
        return _histo.map_block(block, self._y0(y0), self)

    def reduce(self, counts: np.ndarray) -> np.ndarray:
        """The tables for the image's summed counts."""
        counts = np.ascontiguousarray(counts, dtype=np.uint64)
        return _histo.reduce_bins(counts, list(self.shape), self.dtype.name, self)

    def apply(self, block: np.ndarray, tables: np.ndarray, y0: int = 0) -> np.ndarray:
        """One band of the output."""
        return _histo.apply_block(block, tables, self._y0(y0), self)

    def __repr__(self) -> str:
        return (f"Plan(shape={self.shape}, dtype={self.dtype.name}, mode={self.mode!r}, "
                f"method={self.method!r}, clip_limit={self.clip_limit}, tiles={self.tiles})")


def _mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), not of shape {mask.shape}")
    if mask.dtype in (np.bool_, np.uint8):
        # Nonzero is inside: these are read as they are, without a pass.
        return np.ascontiguousarray(mask).view(np.uint8)
    return np.ascontiguousarray(mask != 0).view(np.uint8)
