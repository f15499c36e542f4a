"""A gigapixel job, in one run: `histo equalize` local, on N real
ZooKeeper workers (`--zk`), and `vips hist_equal`, on the same tiled
BigTIFF (see scripts/bench-big). The input is written tile by tile from a
generator (a pattern plus noise), so this script never holds the image;
each command's wall time and peak RSS (GNU time, or VmHWM for the
workers) are printed as Markdown. The page cache is flushed (`sync`)
before each command, as the input and output do not fit in it twice."""

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from bench_cluster import HISTO, Workers, timed
from support.procstat import peak_rss_bytes
from support.zookeeper import ZooKeeper

TILE = 256
NOISE = [np.random.default_rng(k).integers(0, 24, (TILE, TILE), dtype=np.uint8) for k in range(7)]


def tiles(width: int, height: int):
    across, down = -(-width // TILE), -(-height // TILE)
    for ty in range(down):
        for tx in range(across):
            base = 60 + (tx * 97 // across + ty * 41 // down) % 100
            yield NOISE[(tx + 3 * ty) % 7] + np.uint8(base)


def flushed(args):
    subprocess.run(["sync"], check=True)
    return timed(args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=100_000)
    ap.add_argument("--height", type=int, default=51_200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--held", type=int, default=None, help="each worker's --max-held-bytes (default: its own)")
    ap.add_argument("--dir", type=Path, default=None, help="where the input and outputs go (default: a temporary directory)")
    args = ap.parse_args()
    pixels = args.width * args.height
    work = Path(tempfile.mkdtemp(prefix="histo-bench-big-", dir=args.dir))
    limits = ["--max-pixels", str(pixels), "--max-input-bytes", str(2 * pixels)]
    src, out = work / "in.tif", work / "out.tif"
    zk = workers = None
    try:
        tifffile.imwrite(src, tiles(args.width, args.height), shape=(args.height, args.width), dtype=np.uint8,
                         tile=(TILE, TILE), bigtiff=True)
        rows = []
        rows.append(("`histo equalize` (local)", *flushed([HISTO, "equalize", src, "-o", out, *limits]), ""))
        local_size = out.stat().st_size
        out.unlink()
        zk = ZooKeeper(work / "zk")
        held = ["--max-held-bytes", str(args.held)] if args.held else []
        workers = Workers(zk, work, slots=None, args=held)
        workers.resize(args.workers)
        t, rss = flushed([HISTO, "equalize", src, "-o", out, "--zk", zk.hosts, *limits])
        peaks = [peak_rss_bytes(p.proc.pid) / 2**20 for p in workers.procs]
        budget = f", `--max-held-bytes {args.held}` each" if args.held else ""
        rows.append((f"`histo equalize --zk`, {args.workers} workers{budget}", t, rss,
                     ", ".join(f"{p:.0f}" for p in peaks) + " MB"))
        assert out.stat().st_size == local_size, "the cluster's output is the local one's size"
        out.unlink()
        rows.append(("`vips hist_equal`", *flushed(["vips", "hist_equal", src, f"{out}[bigtiff]"]), ""))
    finally:
        if workers:
            workers.resize(0)
        if zk:
            zk.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.width} × {args.height} ({pixels / 1e9:.2f} GP) 8-bit gray BigTIFF, 256² raw tiles, to a striped"
          " BigTIFF; one run each after `sync`\n")
    print("| run | wall time | peak RSS (master or process) | workers' peak RSS |")
    print("|---|---|---|---|")
    for name, t, rss, extra in rows:
        print(f"| {name} | {t:.1f} s | {rss:.0f} MB | {extra} |")


if __name__ == "__main__":
    main()
