"""Equalization of Dask arrays, as one map → reduce → apply graph.

Each block's counts are one task (map), summed in a tree of tasks and
turned into tables by one task (reduce), then every block is mapped
through them (apply, with ``map_blocks``). No task holds more than a
block and the tables, so an array larger than the cluster's memory
streams through it; the result is byte-identical to
:func:`histo.equalize` on the whole array, for any chunking.

The global method takes any chunking (the channel axis is gathered into
one chunk). CLAHE needs each block to span the array's full width, since a
pixel's tables depend on its column: the array is rechunked to row bands,
keeping its row chunks.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

import histo

__all__ = ["equalize"]

#: Counts summed per reduce task.
FAN_IN = 8


def equalize(
    x,
    mode: str = "auto",
    method: str = "global",
    clip_limit: float = 2.0,
    tiles: Tuple[int, int] = (8, 8),
):
    """Equalizes a ``dask.array.Array`` (uint8 or uint16, 2-D or H×W×C) lazily;
    the options are :func:`histo.equalize`'s."""
    import dask
    import dask.array as da

    x = da.asarray(x)
    if x.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"x must be of dtype uint8 or uint16, not {x.dtype}")
    plan = histo.Plan(x.shape, x.dtype, mode=mode, method=method, clip_limit=clip_limit, tiles=tiles)
    if x.ndim == 3:
        x = x.rechunk({2: -1})
    if method == "clahe":
        x = x.rechunk({1: -1})
    starts = np.cumsum((0,) + x.chunks[0])[:-1]
    blocks = x.to_delayed()
    counts = [dask.delayed(_map, pure=True)(block, plan, int(starts[index[0]]))
              for index, block in np.ndenumerate(blocks)]
    while len(counts) > 1:
        counts = [dask.delayed(_sum, pure=True)(*counts[i:i + FAN_IN]) for i in range(0, len(counts), FAN_IN)]
    tables = dask.delayed(plan.reduce, pure=True)(counts[0])
    out_shape = plan.output_shape
    if len(out_shape) == x.ndim:
        chunks = x.chunks[:2] + ((out_shape[2],),) if x.ndim == 3 else x.chunks
        return x.map_blocks(_apply, plan, tables, dtype=x.dtype, chunks=chunks, meta=np.empty((0,) * x.ndim, x.dtype))
    return x.map_blocks(_apply, plan, tables, dtype=x.dtype, drop_axis=2, meta=np.empty((0, 0), x.dtype))


def _map(block: np.ndarray, plan: histo.Plan, y0: int) -> np.ndarray:
    return plan.map(block, y0)


def _sum(*counts: np.ndarray) -> np.ndarray:
    total = counts[0].copy()
    for c in counts[1:]:
        total += c
    return total


def _apply(block: np.ndarray, plan: histo.Plan, tables: np.ndarray, block_info=None) -> np.ndarray:
    y0 = block_info[0]["array-location"][0][0] if block_info else 0
    return plan.apply(block, tables, y0)
