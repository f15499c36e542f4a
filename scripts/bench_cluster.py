"""The distributed job measured beside the local one and OpenCV, on the same
PNG files in one run (see scripts/bench-cluster). Every process is timed on
its wall clock; "master RSS" is the peak resident memory of the process that
ran the job as its master."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from support.images import low_contrast_gray
from support.process import Process
from support.zookeeper import ZooKeeper

ROOT = Path(__file__).resolve().parents[1]

HISTO = ROOT / "target" / "release" / "histo"
CV_SCRIPT = "import sys, cv2\nimg = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)\ncv2.imwrite(sys.argv[2], cv2.equalizeHist(img))\n"


def timed(args):
    """Wall time and peak RSS (MB) of one process. The RSS comes from GNU
    time: a child forked straight from this (large) process would report
    this process's peak as its own."""
    with tempfile.NamedTemporaryFile() as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *map(str, args)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{args} failed: {proc.stderr.decode()}")
        return elapsed, int(Path(rss.name).read_text().split()[-1]) / 1024


def best(n, args):
    runs = [timed(args) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


class Workers:
    def __init__(self, zk, workdir, slots=1, args=()):
        self.zk, self.dir, self.procs = zk, workdir, []
        self.args = [*(["--slots", str(slots)] if slots else []), *args]

    def resize(self, n):
        while len(self.procs) > n:
            self.procs.pop().kill()
        while len(self.procs) < n:
            p = Process([HISTO, "worker", "--zk", self.zk.hosts, "--listen", "127.0.0.1:0", *self.args],
                        self.dir / f"worker-{len(self.procs)}.log")
            p.wait_for("listening on", 20)
            self.procs.append(p)
        time.sleep(0.5)  # let ZooKeeper watchers settle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,16,64,256")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not Path("/usr/bin/time").exists():
        sys.exit("scripts/bench-cluster needs GNU time: apt-get install time")
    work = Path(tempfile.mkdtemp(prefix="histo-bench-cluster-"))
    zk = ZooKeeper(work / "zk")
    workers = Workers(zk, work)
    cv_py = work / "cv3.py"
    cv_py.write_text(CV_SCRIPT)
    images = {}
    for mp in sorted(set(sizes + [64])):
        side = int((mp * 1e6) ** 0.5)
        path = work / f"in-{mp}.png"
        img = low_contrast_gray(side, side, 1)
        cv2.imwrite(str(path), img)
        del img
        images[mp] = path
    zk_args = ["--zk", zk.hosts]
    out = work / "out.png"
    try:
        workers.resize(2)
        big = images[64]
        cv_t, cv_rss = best(args.repeat, [sys.executable, cv_py, big, out])
        local_t, local_rss = best(args.repeat, [HISTO, "equalize", big, "-o", out])
        zk_t, zk_rss = best(args.repeat, [HISTO, "equalize", big, "-o", out, *zk_args])

        scaling = []
        for n in (1, 2, 4):
            workers.resize(n)
            scaling.append((n, *best(args.repeat, [HISTO, "equalize", big, "-o", out, *zk_args])))

        workers.resize(2)
        by_size = []
        for mp in sizes:
            t_local, _ = best(args.repeat, [HISTO, "equalize", images[mp], "-o", out])
            t_zk, rss = best(args.repeat, [HISTO, "equalize", images[mp], "-o", out, *zk_args])
            by_size.append((mp, t_local, t_zk, rss))
    finally:
        workers.resize(0)
        zk.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"## Cluster ({os.cpu_count()} cores; ZooKeeper 3.8 and workers on loopback; best of {args.repeat})\n")
    print("64 MP gray PNG, 2 workers (1 slot each):\n")
    print("| run | wall time | vs local | vs OpenCV | peak RSS |")
    print("|---|---|---|---|---|")
    print(f"| OpenCV 3-line script | {cv_t:.2f} s | | 1.00x | {cv_rss:.0f} MB |")
    print(f"| `histo equalize` (local) | {local_t:.2f} s | 1.00x | {local_t / cv_t:.2f}x | {local_rss:.0f} MB |")
    print(f"| `histo equalize --zk` | {zk_t:.2f} s | {zk_t / local_t:.2f}x | {zk_t / cv_t:.2f}x | {zk_rss:.0f} MB |")
    print("\nWorkers (64 MP, 1 slot each; this machine has 2 cores, so past 2 they share them):\n")
    print("| workers | wall time | master peak RSS |")
    print("|---|---|---|")
    for n, t, rss in scaling:
        print(f"| {n} | {t:.2f} s | {rss:.0f} MB |")
    print("\nImage size (2 workers):\n")
    print("| megapixels | local | `--zk` | `--zk` / local | master peak RSS |")
    print("|---|---|---|---|---|")
    for mp, t_local, t_zk, rss in by_size:
        print(f"| {mp} | {t_local:.2f} s | {t_zk:.2f} s | {t_zk / t_local:.2f}x | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
