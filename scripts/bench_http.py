"""Load benchmark of the web service (see scripts/bench-http).

Starts `histo serve` on a free port with a known token, then, for each
image size and concurrency level, keeps that many uploads in flight for a
fixed time (one persistent HTTP connection per client thread) and reports
jobs per second, input megapixels per second, and latency percentiles.
Every answer is checked (200 and a PNG); any other status is counted.
The client runs on the same machine as the server and shares its cores;
for the figures of docs/BENCHMARKS.md use scripts/bench-flask (wrk)."""

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from support.images import png_bytes, tinted_gradient
from support.serve import TOKEN, Server, server_env

ROOT = Path(__file__).resolve().parents[1]
HISTO = Path(os.environ.get("HISTO_BIN", ROOT / "target" / "release" / "histo"))


def low_contrast_png(megapixels: float) -> bytes:
    side = int((megapixels * 1_000_000) ** 0.5)
    return png_bytes(tinted_gradient(side, side), compress_level=1)


def start_server(workers: int) -> Server:
    env = server_env(HISTO_TOKEN=TOKEN, HISTO_LOG="warn")
    return Server(HISTO, Path(tempfile.mkdtemp()), env, args=["--max-queued", "1024"], workers=workers)


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
    server = start_server(args.workers)
    url = server.url
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
        server.stop()


if __name__ == "__main__":
    main()
