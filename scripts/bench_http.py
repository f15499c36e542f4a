"""Load benchmark of the web service (see scripts/bench-http).

Starts `histo serve` on a free port with a known token, then, for each
image size and concurrency level, keeps that many uploads in flight for a
fixed time (one persistent HTTP connection per client thread) and reports
jobs per second, input megapixels per second, and latency percentiles.
Every answer is checked (200 and a PNG); any other status is counted.
The client runs on the same machine as the server and shares its cores;
for the figures of docs/BENCHMARKS.md use scripts/bench-flask (wrk)."""

import argparse
import io
import os
import re
import statistics
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
HISTO = Path(os.environ.get("HISTO_BIN", ROOT / "target" / "release" / "histo"))
TOKEN = "bench-http-token-1f2e3d4c"


def low_contrast_png(megapixels: float) -> bytes:
    return low_contrast_square_png(int((megapixels * 1_000_000) ** 0.5))


def low_contrast_square_png(side: int) -> bytes:
    """A low-contrast, noisy colour picture, side × side, as PNG."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:side, 0:side]
    base = 90 + (40 * (x + y) / (2 * side)) + rng.integers(0, 12, size=(side, side))
    rgb = np.stack([base + 10, base + 3, base - 8], axis=-1).clip(0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def start_server(workers: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISTO_")}
    env.update(HISTO_TOKEN=TOKEN, HISTO_LOG="warn")
    args = [str(HISTO), "serve", "--listen", "127.0.0.1:0", "--workers", str(workers), "--max-queued", "1024"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in proc.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError("histo serve did not start")


def run_level(url: str, body: bytes, clients: int, seconds: float):
    latencies, statuses, lock = [], {}, threading.Lock()
    deadline = time.perf_counter() + seconds

    def client():
        session = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "image/png"}
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            r = session.post(url + "/upload?format=png", data=body, headers=headers, timeout=120)
            elapsed = time.perf_counter() - t
            ok = r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
            if r.status_code != 200 and os.environ.get("BENCH_DEBUG"):
                print(r.status_code, r.headers, r.text[:300], flush=True)
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if ok:
                    latencies.append(elapsed)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - start


def pct(values, q):
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--megapixels", default="1,4")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    proc, url = start_server(args.workers)
    try:
        print(f"`histo serve --workers {args.workers}` on {os.cpu_count()} cores, client on the same machine; "
              f"{args.seconds:g} s per row, RGB PNG in and out (mode auto = luma, global).\n")
        print("| image | clients | jobs/s | MP/s | p50 ms | p95 ms | p99 ms | non-200 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for mp in [float(m) for m in args.megapixels.split(",")]:
            body = low_contrast_png(mp)
            run_level(url, body, 1, 1.0)  # warm-up
            for clients in [int(c) for c in args.concurrency.split(",")]:
                lat, statuses, wall = run_level(url, body, clients, args.seconds)
                bad = sum(n for s, n in statuses.items() if s != 200)
                if bad:
                    print(f"<!-- statuses: {statuses} -->", flush=True)
                jobs = len(lat) / wall
                print(f"| {mp:g} MP ({len(body) / 1e6:.1f} MB) | {clients} | {jobs:.1f} | {jobs * mp:.1f} "
                      f"| {pct(lat, 50) * 1000:.0f} | {pct(lat, 95) * 1000:.0f} | {pct(lat, 99) * 1000:.0f} | {bad} |",
                      flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
