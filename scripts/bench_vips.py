"""`histo equalize` beside `vips hist_equal` on the same files, in one run
(see scripts/bench-vips): a real photo upscaled and a synthetic pattern,
gray and colour, as striped TIFF, tiled Deflate TIFF, PNG and JPEG. Each
command runs whole, as a user would run it; best wall time of --repeat runs
and the peak RSS of the process (GNU time)."""

import argparse
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from bench_cluster import HISTO, best


def upscale(img: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)


def synthetic(side: int) -> np.ndarray:
    """A smooth low-contrast pattern plus noise, 8-bit gray."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    smooth = 90 + 40 * np.sin(6 * x) * np.cos(4 * y)
    noise = np.random.default_rng(7).normal(0, 6, (side, side)).astype(np.float32)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def images(side: int) -> dict[str, np.ndarray]:
    return {
        "camera ↑ (photo, gray)": upscale(skimage.data.camera(), side),
        "synthetic (gray)": synthetic(side),
        "astronaut ↑ (photo, RGB)": upscale(skimage.data.astronaut(), side),
    }


def write(path: Path, img: np.ndarray, kind: str) -> None:
    """PNG and JPEG by OpenCV; TIFF by vips from that PNG (its default
    strips, or 256² Deflate tiles)."""
    bgr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not kind.startswith("TIFF"):
        cv2.imwrite(str(path), bgr)
        return
    png = path.with_suffix(".source.png")
    cv2.imwrite(str(png), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    options = "[tile,tile-width=256,tile-height=256,compression=deflate]" if "tiles" in kind else ""
    subprocess.run(["vips", "copy", png, f"{path}{options}"], check=True)
    png.unlink()


# Per kind: the input's extension, histo's output flags and vips' output
# options. histo writes JPEG at quality 92 (chroma not subsampled at 90 and
# above, as vips does); vips' default is 75 (4:2:0): the same settings as
# well. Compressed TIFF output is asked of both, with the same predictor.
KINDS = {
    "TIFF, strips": (".tif", [], ""),
    "TIFF, tiles, Deflate": (".tif", [], ""),
    "TIFF, strips → Deflate": (".tif", ["--tiff-compression", "deflate"], "[compression=deflate,predictor=horizontal]"),
    "TIFF, strips → LZW": (".tif", ["--tiff-compression", "lzw"], "[compression=lzw,predictor=horizontal]"),
    "PNG": (".png", [], ""),
    "JPEG": (".jpg", [], ""),
    "JPEG, vips at Q 92": (".jpg", [], "[Q=92]"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="", help="formats whose name contains this (e.g. JPEG)")
    args = parser.parse_args()
    print(f"{args.side}×{args.side} ({args.side * args.side / 1e6:.0f} MP), best of {args.repeat};"
          " wall time / peak RSS; ratios above 1 favour histo\n")
    print("| image | format | histo equalize | vips hist_equal | time ratio | RSS ratio | size ratio |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, img in images(args.side).items():
            for kind, (ext, flags, options) in KINDS.items():
                if args.only not in kind:
                    continue
                src = tmp / f"in{ext}"
                write(src, img, kind)
                ours, theirs = tmp / f"histo{ext}", tmp / f"vips{ext}"
                t_h, m_h = best(args.repeat, [HISTO, "equalize", src, "-o", ours, *flags])
                t_v, m_v = best(args.repeat, ["vips", "hist_equal", src, f"{theirs}{options}"])
                size = theirs.stat().st_size / ours.stat().st_size
                print(f"| {name} | {kind} | {t_h:.2f} s / {m_h:.0f} MB | {t_v:.2f} s / {m_v:.0f} MB"
                      f" | {t_v / t_h:.2f}× | {m_v / m_h:.2f}× | {size:.2f}× |", flush=True)
                for p in (src, ours, theirs):
                    p.unlink()


if __name__ == "__main__":
    main()
