"""histo vs OpenCV, measured in one run on the same bytes (see scripts/bench).

Kernel figures time the equalization of an image already in memory (best of
N); command figures time whole processes (decode, equalize, encode, write).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from support.images import low_contrast_gray

ROOT = Path(__file__).resolve().parents[1]

HISTO = ROOT / "target" / "release" / "histo"
KERNEL = ROOT / "target" / "release" / "histo-bench"
CV_SCRIPT = "import sys, cv2\nimg = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)\ncv2.imwrite(sys.argv[2], cv2.equalizeHist(img))\n"


def best_of(n, fn):
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def histo_kernel(raw, w, h, method, threads, repeat):
    out = subprocess.run(
        [KERNEL, "--raw", raw, "--width", str(w), "--height", str(h), "--method", method,
         "--threads", str(threads), "--repeat", str(repeat)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--megapixels", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    side = int((args.megapixels * 1e6) ** 0.5)
    w, h = side, side
    mp = w * h / 1e6
    work = Path(tempfile.mkdtemp(prefix="histo-bench-"))
    img = low_contrast_gray(h, w, 1)
    raw, png = work / "in.raw", work / "in.png"
    img.tofile(raw)
    cv2.imwrite(str(png), img)
    cores = os.cpu_count()

    rows = []

    # Kernel: global, one thread each.
    cv2.setNumThreads(1)
    dst = np.empty_like(img)
    cv_t = best_of(args.repeat, lambda: cv2.equalizeHist(img, dst=dst))
    ours = histo_kernel(raw, w, h, "global", 1, args.repeat)
    assert ours["checksum"] == int(dst.sum(dtype=np.uint64)), "histo and OpenCV disagree"
    rows.append(("kernel: global, 1 thread", mp / ours["best_s"], mp / cv_t, "MP/s"))

    cl = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    cv_t = best_of(max(2, args.repeat // 2), lambda: cl.apply(img, dst=dst))
    ours = histo_kernel(raw, w, h, "clahe", 1, max(2, args.repeat // 2))
    rows.append(("kernel: CLAHE 2.0 8x8, 1 thread", mp / ours["best_s"], mp / cv_t, "MP/s"))

    # Kernel: all cores each.
    cv2.setNumThreads(cores)
    cv_t = best_of(args.repeat, lambda: cv2.equalizeHist(img, dst=dst))
    ours = histo_kernel(raw, w, h, "global", cores, args.repeat)
    rows.append((f"kernel: global, {cores} threads", mp / ours["best_s"], mp / cv_t, "MP/s"))
    cv_t = best_of(max(2, args.repeat // 2), lambda: cl.apply(img, dst=dst))
    ours = histo_kernel(raw, w, h, "clahe", cores, max(2, args.repeat // 2))
    rows.append((f"kernel: CLAHE, {cores} threads", mp / ours["best_s"], mp / cv_t, "MP/s"))

    # Whole command: decode + equalize + encode PNG.
    cv_py = work / "cv3.py"
    cv_py.write_text(CV_SCRIPT)
    cv_out, histo_out = work / "cv.png", work / "histo.png"
    n = max(2, args.repeat // 2)
    cv_t = best_of(n, lambda: subprocess.run([sys.executable, cv_py, png, cv_out], check=True))
    histo_t = best_of(n, lambda: subprocess.run([HISTO, "equalize", png, "-o", histo_out], check=True))
    np.testing.assert_array_equal(cv2.imread(str(histo_out), cv2.IMREAD_UNCHANGED), cv2.imread(str(cv_out), cv2.IMREAD_UNCHANGED))
    size_ratio = histo_out.stat().st_size / cv_out.stat().st_size

    print(f"## Engine and codecs ({w}x{h} = {mp:.0f} MP, 8-bit gray, low contrast)\n")
    print(f"Machine: {platform.machine()}, {cores} cores; OpenCV {cv2.__version__}; best of {args.repeat}.\n")
    print("| what | histo | OpenCV | ratio (histo / OpenCV throughput) |")
    print("|---|---|---|---|")
    for name, ours_v, cv_v, unit in rows:
        print(f"| {name} | {ours_v:.0f} {unit} | {cv_v:.0f} {unit} | {ours_v / cv_v:.2f}x |")
    print()
    print("| whole command (PNG in, PNG out) | histo | OpenCV 3-line script | ratio |")
    print("|---|---|---|---|")
    print(f"| wall time | {histo_t:.2f} s | {cv_t:.2f} s | {histo_t / cv_t:.2f}x |")
    print(f"| output size | {histo_out.stat().st_size / 1e6:.1f} MB | {cv_out.stat().st_size / 1e6:.1f} MB | {size_ratio:.2f}x |")
    print(f"\nInput PNG: {png.stat().st_size / 1e6:.1f} MB. Outputs decode to identical pixels.")
    for f in work.iterdir():
        f.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
