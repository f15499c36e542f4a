"""The Python package against OpenCV and scikit-image, from Python, on the
same arrays: real photos (scikit-image's, some upscaled) and synthetic
ones, one thread and all cores; then histo.dask against Dask baselines on a
Zarr array larger than its workers' memory. Prints Markdown."""

import argparse
import os
import tempfile
import time

import cv2
import numpy as np
import skimage.color
import skimage.data
import skimage.exposure

import histo
from support.procstat import peak_rss_bytes

CORES = os.cpu_count() or 1


def best_ms(fn, repeat: int) -> float:
    """Best of `repeat` samples, each the mean of enough calls to last about
    50 ms, so that sub-millisecond kernels are not timed at the clock's grain."""
    fn()
    t = time.perf_counter()
    fn()
    calls = max(1, int(0.05 / max(time.perf_counter() - t, 1e-6)))
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t) / calls)
    return min(samples) * 1000


def once_ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def upscale(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    f = side / max(h, w)
    return cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC)


def gray_images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    camera = skimage.data.camera()
    retina = cv2.cvtColor(skimage.data.retina(), cv2.COLOR_RGB2GRAY)
    yy, xx = np.mgrid[:2048, :2048]
    return {
        "camera 512² (photo)": camera,
        "moon 512² (photo)": skimage.data.moon(),
        "retina 1411² (photo)": retina,
        "camera ↑ 4096² (photo)": upscale(camera, 4096),
        "retina ↑ 4096² (photo)": upscale(retina, 4096),
        "noise 2048² (synthetic)": rng.integers(0, 256, (2048, 2048), dtype=np.uint8),
        "gradient 2048² (synthetic)": ((xx + yy) // 32 % 100 + 80).astype(np.uint8),
    }


def colour_images() -> dict[str, np.ndarray]:
    return {
        "astronaut 512² (photo)": skimage.data.astronaut(),
        "retina ↑ 4096² (photo)": upscale(skimage.data.retina(), 4096),
        "noise 2048² (synthetic)": np.random.default_rng(8).integers(0, 256, (2048, 2048, 3), dtype=np.uint8),
    }


def cv_luma(rgb: np.ndarray) -> np.ndarray:
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y[..., 0] = cv2.equalizeHist(np.ascontiguousarray(y[..., 0]))
    return cv2.cvtColor(y, cv2.COLOR_YCrCb2RGB)


def kernels(repeat: int) -> None:
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    cases = []
    for name, img in gray_images().items():
        cases.append(("global", name, img, lambda a, t: histo.equalize(a, threads=t), cv2.equalizeHist,
                      skimage.exposure.equalize_hist))
        cases.append(("clahe", name, img, lambda a, t: histo.clahe(a, threads=t), clahe.apply,
                      lambda a: skimage.exposure.equalize_adapthist(a, clip_limit=0.01)))
    for name, img in colour_images().items():
        cases.append(("luma", name, img, lambda a, t: histo.equalize(a, threads=t), cv_luma, None))
    print(f"| kernel | image | threads | histo ms | OpenCV ms | histo vs OpenCV | scikit-image ms | histo vs scikit-image |")
    print("|---|---|---|---|---|---|---|---|")
    worst: dict[tuple[str, int], tuple[float, str]] = {}
    for kernel, name, img, ours, cv, sk in cases:
        sk_ms = once_ms(lambda: sk(img)) if sk is not None and img.size <= 4_200_000 else None
        for threads in sorted({1, CORES}):
            cv2.setNumThreads(threads)
            h = best_ms(lambda: ours(img, threads), repeat)
            c = best_ms(lambda: cv(img), repeat)
            ratio = c / h
            key = (kernel, threads)
            if key not in worst or ratio < worst[key][0]:
                worst[key] = (ratio, name)
            sk_cells = f"{sk_ms:.1f} | {sk_ms / h:.0f}×" if sk_ms is not None else "— | —"
            print(f"| {kernel} | {name} | {threads} | {h:.2f} | {c:.2f} | {ratio:.2f}× | {sk_cells} |")
    cv2.setNumThreads(CORES)
    print()
    print("Worst image per kernel (histo vs OpenCV; above 1 is histo faster):")
    print()
    for (kernel, threads), (ratio, name) in sorted(worst.items()):
        print(f"- {kernel}, {threads} thread(s): {ratio:.2f}× on {name}")


def cv_pipeline(to, back, channel):
    def run(rgb: np.ndarray) -> np.ndarray:
        converted = cv2.cvtColor(rgb, to)
        converted[..., channel] = cv2.equalizeHist(np.ascontiguousarray(converted[..., channel]))
        return cv2.cvtColor(converted, back)
    return run


def sk_pipeline(to, back, channel, scale):
    def run(rgb: np.ndarray) -> np.ndarray:
        converted = to(rgb)
        converted[..., channel] = skimage.exposure.equalize_hist(converted[..., channel]) * scale
        return back(converted)
    return run


COLOUR_MODES = {
    "luma": (cv_luma, None),
    "lab": (cv_pipeline(cv2.COLOR_RGB2Lab, cv2.COLOR_Lab2RGB, 0),
            sk_pipeline(skimage.color.rgb2lab, skimage.color.lab2rgb, 0, 100)),
    "hsv": (cv_pipeline(cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB, 2),
            sk_pipeline(skimage.color.rgb2hsv, skimage.color.hsv2rgb, 2, 1)),
    "hsl": (cv_pipeline(cv2.COLOR_RGB2HLS, cv2.COLOR_HLS2RGB, 1), None),
    "rgb": (lambda a: np.dstack([cv2.equalizeHist(np.ascontiguousarray(a[..., c])) for c in range(3)]), None),
}


def colour_modes(repeat: int) -> None:
    """Each colour mode on one thread beside histo's luma kernel and beside
    the OpenCV and scikit-image pipelines that convert, equalize one channel
    and convert back (OpenCV's 8-bit conversions use their own tables and
    rounding, so they are a yardstick of cost, not of output)."""
    cv2.setNumThreads(1)
    print()
    print("| mode | image | histo ms | vs histo luma | OpenCV pipeline ms | histo vs OpenCV | "
          "scikit-image ms | histo vs scikit-image |")
    print("|---|---|---|---|---|---|---|---|")
    for name, img in colour_images().items():
        luma_ms = best_ms(lambda: histo.equalize(img, mode="luma", threads=1), repeat)
        for mode, (cv, sk) in COLOUR_MODES.items():
            h = luma_ms if mode == "luma" else best_ms(lambda: histo.equalize(img, mode=mode, threads=1), repeat)
            c = best_ms(lambda: cv(img), repeat)
            sk_cells = "— | —"
            if sk is not None and img.size <= 4_200_000 * 3:
                s = once_ms(lambda: sk(img))
                sk_cells = f"{s:.0f} | {s / h:.0f}×"
            print(f"| {mode} | {name} | {h:.1f} | {h / luma_ms:.1f}× | {c:.1f} | {c / h:.2f}× | {sk_cells} |")
    print()
    print("| image | global ms | with a mask (half the pixels) ms | mask cost | match to moon ms | "
          "match cost | scikit-image match_histograms ms | histo vs scikit-image |")
    print("|---|---|---|---|---|---|---|---|")
    reference = skimage.data.moon()
    for name, img in gray_images().items():
        mask = np.zeros(img.shape, np.uint8)
        mask[:, : img.shape[1] // 2] = 1
        plain = best_ms(lambda: histo.equalize(img, threads=1), repeat)
        masked = best_ms(lambda: histo.equalize(img, mask=mask, threads=1), repeat)
        matched = best_ms(lambda: histo.match(img, reference, threads=1), repeat)
        sk = once_ms(lambda: skimage.exposure.match_histograms(img, reference))
        print(f"| {name} | {plain:.2f} | {masked:.2f} | {masked / plain:.2f}× | {matched:.2f} | "
              f"{matched / plain:.2f}× | {sk:.1f} | {sk / matched:.0f}× |")
    cv2.setNumThreads(CORES)


def masked_clahe(repeat: int) -> None:
    """CLAHE (8x8 tiles) on one thread with and without a mask: half the
    pixels (every tile cut), and a disc (a quarter of the pixels; corner
    tiles empty, so identity tables), beside OpenCV's CLAHE unmasked."""
    cv2.setNumThreads(1)
    print()
    print("| image | CLAHE ms | half mask ms | half cost | disc mask ms | disc cost | OpenCV CLAHE ms |")
    print("|---|---|---|---|---|---|---|")
    for name, img in gray_images().items():
        h, w = img.shape
        half = np.zeros(img.shape, np.uint8)
        half[:, : w // 2] = 1
        yy, xx = np.ogrid[:h, :w]
        disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) * 0.28) ** 2).astype(np.uint8)
        plain = best_ms(lambda: histo.clahe(img, threads=1), repeat)
        by_half = best_ms(lambda: histo.equalize(img, method="clahe", mask=half, threads=1), repeat)
        by_disc = best_ms(lambda: histo.equalize(img, method="clahe", mask=disc, threads=1), repeat)
        opencv = cv2.createCLAHE(2.0, (8, 8))
        cv = best_ms(lambda: opencv.apply(img), repeat)
        print(f"| {name} | {plain:.2f} | {by_half:.2f} | {by_half / plain:.2f}× | {by_disc:.2f} | "
              f"{by_disc / plain:.2f}× | {cv:.2f} |")
    cv2.setNumThreads(CORES)


def dask_run(repeat: int) -> None:
    import dask
    import dask.array as da
    import dask_image.ndmeasure
    from distributed import Client, LocalCluster

    import histo.dask

    side, limit = 32768, 320 * 2**20
    print()
    print(f"Dask: a {side}×{side} uint8 Zarr array ({side * side / 2**30:.0f} GiB, 2048² chunks) through a "
          f"LocalCluster of 2 worker processes, 1 thread each, memory_limit {limit >> 20} MiB each; "
          "the output is written to Zarr. Best of "
          f"{repeat}; a fresh cluster per method, so peak RSS is each method's.")
    print()
    print("| method | wall s | worker peak RSS MB | output equal to histo.equalize |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        y = da.arange(side, chunks=2048, dtype=np.uint32)[:, None]
        x = da.arange(side, chunks=2048, dtype=np.uint32)[None, :]
        with dask.config.set(scheduler="threads"):
            ((x * 7 + y * 3 + (x * y) % 13) % 97 + 60).astype(np.uint8).to_zarr(f"{tmp}/in.zarr")
            want = histo.equalize(da.from_zarr(f"{tmp}/in.zarr").compute())

        def baseline_lut(counts: np.ndarray) -> np.ndarray:
            return histo.table(np.asarray(counts, dtype=np.uint64))

        def with_map_blocks(src):
            counts = src.map_blocks(lambda b: np.bincount(b.ravel(), minlength=256).reshape(1, 1, 256),
                                    new_axis=2, chunks=(1, 1, 256), dtype=np.int64).sum(axis=(0, 1)).compute()
            return src.map_blocks(lambda b, t=baseline_lut(counts): t[b], dtype=np.uint8)

        def with_bincount(src):
            counts = da.bincount(src.ravel(), minlength=256).compute()
            return src.map_blocks(lambda b, t=baseline_lut(counts): t[b], dtype=np.uint8)

        def with_dask_image(src):
            counts = dask_image.ndmeasure.histogram(src, 0, 256, 256).compute()
            return src.map_blocks(lambda b, t=baseline_lut(counts): t[b], dtype=np.uint8)

        methods = {
            "histo.dask.equalize": histo.dask.equalize,
            "map_blocks(np.bincount) + sum, map_blocks(NumPy take)": with_map_blocks,
            "dask_image.ndmeasure.histogram, map_blocks(NumPy take)": with_dask_image,
            "da.bincount(x.ravel()), map_blocks(NumPy take)": with_bincount,
        }
        for label, make in methods.items():
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=limit,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                times = []
                try:
                    for i in range(repeat):
                        t = time.perf_counter()
                        make(da.from_zarr(f"{tmp}/in.zarr")).to_zarr(f"{tmp}/out{i}.zarr", overwrite=True)
                        times.append(time.perf_counter() - t)
                except Exception as e:  # a baseline that cannot run under the cap is a result too
                    print(f"| {label} | failed: {type(e).__name__} | — | — |")
                    continue
                peak = max(peak_rss_bytes(pid) for pid in client.run(os.getpid).values())
            with dask.config.set(scheduler="threads"):
                got = da.from_zarr(f"{tmp}/out0.zarr").compute()
            print(f"| {label} | {min(times):.1f} | {peak / 1e6:.0f} | {np.array_equal(got, want)} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-kernels", action="store_true")
    parser.add_argument("--skip-colour", action="store_true")
    parser.add_argument("--skip-masked-clahe", action="store_true")
    args = parser.parse_args()
    print(f"histo {histo.__version__}, OpenCV {cv2.__version__}, scikit-image {skimage.__version__}, "
          f"{CORES} cores; best of {args.repeat} (scikit-image: one run, images up to 4.2 MP)")
    print()
    if not args.skip_kernels:
        kernels(args.repeat)
    if not args.skip_colour:
        colour_modes(args.repeat)
    if not args.skip_masked_clahe:
        masked_clahe(args.repeat)
    if not args.skip_dask:
        dask_run(min(args.repeat, 2))


if __name__ == "__main__":
    main()
