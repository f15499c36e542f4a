"""Type stubs of histo's extension module (crates/python/src). The public
API, with its documentation, is the `histo` package around it."""

from typing import Any, Optional, Protocol, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class _Spec(Protocol):
    mode: str
    method: str
    clip_limit: float
    tiles: Tuple[int, int]
    height: Optional[int]

def equalize(
    a: npt.NDArray[Any],
    *,
    mode: str = "auto",
    method: str = "global",
    clip_limit: float = 2.0,
    tiles: Tuple[int, int] = (8, 8),
    mask: Optional[npt.NDArray[np.uint8]] = None,
    mask_apply: str = "all",
    out: Optional[npt.NDArray[Any]] = None,
    threads: Optional[int] = None,
) -> npt.NDArray[Any]: ...
def match_histograms(
    a: npt.NDArray[Any],
    reference: npt.NDArray[Any],
    *,
    mode: str = "auto",
    out: Optional[npt.NDArray[Any]] = None,
    threads: Optional[int] = None,
) -> npt.NDArray[Any]: ...
def histogram(a: npt.NDArray[Any], mask: Optional[npt.NDArray[np.uint8]] = None) -> npt.NDArray[np.uint64]: ...
def table(hist: npt.NDArray[np.uint64]) -> npt.NDArray[Any]: ...
def apply(a: npt.NDArray[Any], table: npt.NDArray[Any], out: Optional[npt.NDArray[Any]] = None) -> npt.NDArray[Any]: ...
def map_block(block: npt.NDArray[Any], y0: int, spec: _Spec) -> npt.NDArray[np.uint64]: ...
def reduce_bins(bins: npt.NDArray[np.uint64], shape: list[int], dtype: str, spec: _Spec) -> npt.NDArray[Any]: ...
def apply_block(block: npt.NDArray[Any], tables: npt.NDArray[Any], y0: int, spec: _Spec) -> npt.NDArray[Any]: ...
def output_shape(shape: list[int], dtype: str, spec: _Spec) -> list[int]: ...
def equalize_file(
    src: str,
    dst: str,
    *,
    mode: str = "auto",
    method: str = "global",
    clip_limit: float = 2.0,
    tiles: Tuple[int, int] = (8, 8),
    format: Optional[str] = None,
    threads: Optional[int] = None,
    png_level: Optional[int] = None,
    tiff_compression: Optional[str] = None,
    jpeg_quality: Optional[int] = None,
) -> None: ...
