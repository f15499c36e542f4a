"""histo.dask: the map → reduce → apply graph gives the in-memory result
for any chunking, on the threaded scheduler and on a real
distributed.LocalCluster of worker processes, from Zarr, and with the
workers' memory capped below the array's size."""

import os

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster

import histo
import histo.dask
from support.images import gray16, low_contrast_color, low_contrast_gray
from support.procstat import peak_rss_bytes

CHUNKINGS = [(64, 64), (100, 37), (1, 300), (250, 1000), (333, 7)]


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("method", ["global", "clahe"])
def test_any_chunking_gives_the_in_memory_result(chunks, method):
    images = {
        "gray": low_contrast_gray(250, 300, 1),
        "rgb": low_contrast_color(250, 300, 2),
        "gray16": gray16(250, 300, 3),
    }
    with dask.config.set(scheduler="threads"):
        for name, img in images.items():
            x = da.from_array(img, chunks=chunks + img.shape[2:])
            for mode in ("auto", "gray", "rgb", "lab", "hsl") if img.ndim == 3 else ("auto",):
                got = histo.dask.equalize(x, mode=mode, method=method, tiles=(5, 3)).compute()
                want = histo.equalize(img, mode=mode, method=method, tiles=(5, 3))
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {mode}")


def test_bad_input_is_refused_before_any_work():
    with pytest.raises(TypeError, match="uint8 or uint16"):
        histo.dask.equalize(da.zeros((10, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="clip limit"):
        histo.dask.equalize(da.zeros((10, 10), dtype=np.uint8), clip_limit=-1)
    with pytest.raises(ValueError, match="2-D"):
        histo.dask.equalize(da.zeros((2, 10, 10, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="320MiB",
                      dashboard_address=None) as c, Client(c) as client:
        yield client


def test_from_zarr_on_worker_processes(cluster, tmp):
    img = low_contrast_color(1500, 1100, 5)
    da.from_array(img, chunks=(256, 300, 3)).to_zarr(str(tmp / "in.zarr"))
    x = da.from_zarr(str(tmp / "in.zarr"))
    for method in ("global", "clahe"):
        got = histo.dask.equalize(x, method=method).compute()
        np.testing.assert_array_equal(got, histo.equalize(img, method=method), err_msg=method)


def test_an_array_larger_than_the_workers_memory(cluster, tmp):
    """1 GiB through two workers capped at 320 MiB each: the input is made
    on the workers and stored in Zarr, and the output goes back to Zarr;
    neither ever sits whole in a worker."""
    side = 32768
    y = da.arange(side, chunks=2048, dtype=np.uint32)[:, None]
    x = da.arange(side, chunks=2048, dtype=np.uint32)[None, :]
    image = ((x * 7 + y * 3 + (x * y) % 13) % 97 + 60).astype(np.uint8)
    image.to_zarr(str(tmp / "big.zarr"))
    source = da.from_zarr(str(tmp / "big.zarr"))
    assert source.nbytes > 2 * 320 * 2**20
    histo.dask.equalize(source).to_zarr(str(tmp / "out.zarr"))
    peaks = {pid: peak_rss_bytes(pid) for pid in cluster.run(os.getpid).values()}
    assert all(0 < peak < 320 * 2**20 for peak in peaks.values()), peaks
    whole = source.compute(scheduler="threads")
    np.testing.assert_array_equal(da.from_zarr(str(tmp / "out.zarr")).compute(scheduler="threads"),
                                  histo.equalize(whole))
