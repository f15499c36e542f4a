"""histo serve against the Flask + OpenCV stack it replaces (see scripts/bench-flask).

Starts, on loopback and free ports, `histo serve` (one in-process worker
per core, default admission) and the reference stack of
scripts/loadtest/flask_app.py under gunicorn (one sync worker per core).
For each image size and concurrency level it runs `wrk` against one server
and then the other (the order alternates from level to level), with
scripts/loadtest/upload.lua POSTing the same PNG to both. It reports good
answers (200 and a PNG body) per second, wrk's p50/p99 latency, every
other status or socket error, the peak RSS of the server (sampled every
100 ms; gunicorn: master + workers), and the CPU time the server, wrk and
the rest of the machine used. One level (by default 4 MP at 32 clients)
runs longer and its RSS at each second shows whether memory grows.

Before measuring, one upload of each image to each server checks that
both answer a PNG with the same pixels (within ±1, the documented
difference between histo's luma mode and OpenCV's YCrCb round trip).
Everything is bounded in time and every process started is stopped."""

import argparse
import ctypes
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from support.images import png_bytes, tinted_gradient
from support.process import free_port
from support.procstat import Sampler, children, cpu_seconds, machine_busy_seconds, pss_bytes, rss_bytes

ROOT = Path(__file__).resolve().parents[1]
HISTO = Path(os.environ.get("HISTO_BIN", ROOT / "target" / "release" / "histo"))
LOADTEST = ROOT / "scripts" / "loadtest"
TOKEN = "bench-flask-token-7c1d9e2a"
CPUS = os.cpu_count() or 1


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def die_with_parent():
    """preexec_fn: the child gets SIGTERM if this script dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def low_contrast_png(side: int) -> bytes:
    """The colour test image of scripts/bench_http.py, side × side, as PNG."""
    return png_bytes(tinted_gradient(side, side), compress_level=1)


class Server:
    name = ""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.pids: list[int] = []

    def refresh_pids(self):
        self.pids = [self.proc.pid, *children(self.proc.pid)] if self.proc else []

    def rss(self) -> int:
        return sum(rss_bytes(p) for p in self.pids)

    def pss(self) -> int:
        return sum(pss_bytes(p) for p in self.pids)

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Histo(Server):
    name = "histo"

    def __init__(self, workers: int, extra: list[str]):
        super().__init__()
        self.workers, self.extra = workers, extra

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HISTO_")}
        env.update(HISTO_TOKEN=TOKEN, HISTO_LOG="warn")
        args = [str(HISTO), "serve", "--listen", "127.0.0.1:0", "--workers", str(self.workers), *self.extra]
        self.command = " ".join(["histo serve", "--workers", str(self.workers), *self.extra])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        for line in self.proc.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            raise RuntimeError("histo serve did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep the pipe drained
        self.refresh_pids()


class Flask(Server):
    name = "flask"

    def __init__(self, venv: Path, workers: int):
        super().__init__()
        self.venv, self.workers = venv, workers

    def start(self):
        port = free_port()
        env = dict(os.environ, BENCH_TOKEN=TOKEN)
        args = [str(self.venv / "bin" / "gunicorn"), "--workers", str(self.workers), "--worker-class", "sync",
                "--bind", f"127.0.0.1:{port}", "--chdir", str(LOADTEST), "--log-level", "warning", "flask_app:app"]
        self.command = f"gunicorn --workers {self.workers} --worker-class sync flask_app:app"
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                     preexec_fn=die_with_parent)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited; run it by hand to see why")
            self.refresh_pids()
            if len(self.pids) == 1 + self.workers:
                try:
                    urllib.request.urlopen(self.url + "/healthz", timeout=5).read()
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")


def post(url: str, body: bytes, token: str | None = TOKEN) -> tuple[int, bytes]:
    headers = {"Content-Type": "image/png"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "/upload", body, headers), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --- measuring -------------------------------------------------------------


def wrk(server: Server, body_path: Path, clients: int, seconds: int) -> dict:
    """One wrk run; its BENCH line, plus CPU used by wrk, the server and the rest of the machine."""
    threads = min(clients, CPUS)
    args = ["wrk", "--threads", str(threads), "--connections", str(clients), "--duration", f"{seconds}s",
            "--timeout", "120s", "--script", str(LOADTEST / "upload.lua"), server.url + "/upload"]
    env = dict(os.environ, BENCH_BODY=str(body_path), BENCH_TOKEN=TOKEN)
    server.refresh_pids()
    cpu0, busy0, t0 = server.cpu(), machine_busy_seconds(), time.monotonic()
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            preexec_fn=die_with_parent)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    wall = time.monotonic() - t0
    server_cpu, busy = server.cpu() - cpu0, machine_busy_seconds() - busy0
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()} {out.strip()}")
    result = json.loads(line[len("BENCH "):])
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["wall"] = wall
    result["server_cpu"] = server_cpu
    result["client_cpu"] = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    result["other_cpu"] = busy - server_cpu - result["client_cpu"]
    return result


def settle(server: Server, limit: float = 120.0):
    """Waits until the server is idle. When wrk stops, requests are still in
    flight or queued: histo drops a job whose client went away, but a
    gunicorn worker still processes each connection waiting in its listen
    backlog. Neither server starts a run with the last one's work."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = server.cpu()
        time.sleep(0.5)
        if server.cpu() - before < 0.05:
            return
    log(f"{server.name} still busy after {limit:.0f} s")


def measure(server: Server, body_path: Path, clients: int, seconds: int) -> dict:
    """One run: wrk's figures, the peak RSS (100 ms samples), the RSS at each
    whole second, and the idle RSS before and after."""
    settle(server)
    server.refresh_pids()
    idle_before = server.rss()
    with Sampler(server, 0.1) as sampler:
        result = wrk(server, body_path, clients, seconds)
    settle(server)
    server.refresh_pids()
    samples = sampler.samples
    series = [min(samples, key=lambda sample: abs(sample[0] - k))[1] for k in range(1, seconds + 1)] if samples else []
    result.update(
        peak_rss=sampler.peak(), series=series, idle_before=idle_before, idle_after=server.rss(),
        rps=result["good"] / (result["duration_us"] / 1e6),
        bad=result["requests"] - result["good"] + sum(result["errors"][k] for k in ("connect", "read", "write",
                                                                                      "timeout")))
    return result


# --- report ----------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:.0f}"


def ms(us: float) -> str:
    return f"{us / 1000:.0f}" if us >= 10_000 else f"{us / 1000:.1f}"


def check_same_work(servers: list[Server], images: dict[str, bytes]) -> list[str]:
    notes = []
    for label, body in images.items():
        outs = {}
        for s in servers:
            status, out = post(s.url, body)
            if status != 200 or out[:8] != b"\x89PNG\r\n\x1a\n":
                raise RuntimeError(f"{s.name} answered {status} to the {label} image: {out[:200]!r}")
            outs[s.name] = out
            status, _ = post(s.url, body[:1024], token="wrong-token")  # small: the body is never read
            if status != 401:
                raise RuntimeError(f"{s.name} answered {status}, not 401, to a wrong token")
        a, b = (cv2.imdecode(np.frombuffer(o, np.uint8), cv2.IMREAD_UNCHANGED) for o in outs.values())
        if a.shape != b.shape:
            raise RuntimeError(f"{label}: outputs differ in shape: {a.shape} vs {b.shape}")
        diff = np.abs(a.astype(int) - b.astype(int))
        if diff.max() > 1:
            raise RuntimeError(f"{label}: outputs differ by up to {diff.max()}")
        sizes = ", ".join(f"{n} {len(o) / 1e6:.2f} MB" for n, o in outs.items())
        notes.append(f"{label}: input {len(body) / 1e6:.2f} MB; output {sizes}; pixels within ±{diff.max()} "
                     f"({(diff > 0).mean() * 100:.2f} % differ by 1)")
    return notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="the venv with flask, gunicorn and OpenCV")
    ap.add_argument("--report", type=Path, metavar="JSON", help="only print the tables of a saved --json")
    ap.add_argument("--sizes", default="512,2048", help="image sides in pixels (square RGB PNGs)")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--seconds", default="15,30",
                    help="run length per server and level, one per size: several times the latency, or the "
                         "run counts only the first answers and cuts p99 at its own length")
    ap.add_argument("--soak", default="2048,32,60",
                    help="SIDE,CLIENTS,SECONDS of the memory run (its row replaces that level's); '' for none")
    ap.add_argument("--workers", type=int, default=CPUS, help="histo workers and gunicorn workers")
    ap.add_argument("--histo-arg", action="append", default=[], help="one more `histo serve` argument")
    ap.add_argument("--json", type=Path, help="also write every measurement here")
    args = ap.parse_args()
    if args.report:
        return report(json.loads(args.report.read_text()))
    if not args.venv:
        ap.error("--venv is required")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sizes = [int(s) for s in args.sizes.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    seconds = [int(s) for s in args.seconds.split(",")]
    seconds = dict(zip(sizes, seconds + seconds[-1:] * (len(sizes) - len(seconds))))
    soak = tuple(int(v) for v in args.soak.split(",")) if args.soak else None
    runs = [(side, clients, seconds[side]) for side in sizes for clients in levels]
    if soak:
        side, clients, secs = soak
        runs = [r for r in runs if r[:2] != (side, clients)] + [soak]
        seconds.setdefault(side, secs)
    histo, flask = Histo(args.workers, args.histo_arg), Flask(args.venv, args.workers)
    servers = [histo, flask]
    record = {"runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-flask-") as tmp:
        try:
            for s in servers:
                s.start()
                log(f"{s.name}: {s.url} (pids {s.pids})")
            images, paths = {}, {}
            for side in seconds:
                images[f"{side}×{side}"] = low_contrast_png(side)
                paths[side] = Path(tmp) / f"{side}.png"
                paths[side].write_bytes(images[f"{side}×{side}"])
            notes = check_same_work(servers, images)
            for note in notes:
                log(note)
            idle = {s.name: (s.rss(), s.pss()) for s in servers}
            load_before = os.getloadavg()

            warm = set()
            for turn, (side, clients, secs) in enumerate(runs):
                if side not in warm:
                    warm.add(side)
                    for s in servers:  # warm-up, not reported
                        measure(s, paths[side], 2, 3)
                results = {}
                for s in servers if turn % 2 == 0 else servers[::-1]:
                    log(f"{side}×{side} c={clients} {secs} s {s.name} ...")
                    results[s.name] = r = measure(s, paths[side], clients, secs)
                    log(f"  {r['rps']:.2f}/s p50 {ms(r['p50_us'])} ms p99 {ms(r['p99_us'])} ms "
                        f"rss {mb(r['peak_rss'])} MB bad {r['bad']} statuses {r['statuses']}")
                record["runs"].append({"side": side, "clients": clients, "seconds": secs, **results})
            load_after = os.getloadavg()
        finally:
            for s in servers:
                s.stop()

    record.update(commands=[histo.command, flask.command], notes=notes, idle=idle, load=[load_before[0], load_after[0]],
                  soak=list(soak) if soak else None)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    report(record)


def report(record: dict):
    """Prints the Markdown tables of docs/BENCHMARKS.md."""
    rows = sorted(((r["side"], r["clients"], r["seconds"], r) for r in record["runs"]), key=lambda r: r[:2])
    notes, idle, soak = record["notes"], record["idle"], record["soak"]
    p = print
    p(f"{CPUS} cores; `{record['commands'][0]}` and `{record['commands'][1]}` (scripts/loadtest/flask_app.py); "
      f"wrk on the same machine; servers alternating. Load average before {record['load'][0]:.2f}, "
      f"after {record['load'][1]:.2f}.\n")
    for note in notes:
        p(f"- {note}")
    p("- idle: " + "; ".join(f"{n} RSS {mb(r)} MB (PSS {mb(q)} MB)" for n, (r, q) in idle.items()))
    p()
    p("| image | clients | s | server | req/s | p50 ms | p99 ms | peak RSS MB | non-200/errors "
      "| histo/flask req/s | histo/flask p99 |")
    p("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for side, clients, secs, results in rows:
        h, f = results["histo"], results["flask"]
        for name in ("histo", "flask"):
            r = results[name]
            ratio = (f"**{h['rps'] / f['rps']:.2f}x**" if f["rps"] else "inf") if name == "histo" else ""
            p99 = f"{h['p99_us'] / f['p99_us']:.2f}" if name == "histo" and f["p99_us"] else ""
            p(f"| {side}×{side} | {clients} | {secs} | {name} | {r['rps']:.{2 if r['rps'] < 10 else 1}f} "
              f"| {ms(r['p50_us'])} | {ms(r['p99_us'])} | {mb(r['peak_rss'])} | {r['bad']} | {ratio} | {p99} |")
    p()
    p("CPU per good answer (server; wrk), the cores the server had on average, and the other load on the "
      "machine (cores busy with neither):\n")
    p("| image | clients | server | server CPU ms/req | wrk CPU ms/req | server cores | other load (cores) |")
    p("|---|---:|---|---:|---:|---:|---:|")
    for side, clients, secs, results in rows:
        for name in ("histo", "flask"):
            r = results[name]
            n = max(r["good"], 1)
            p(f"| {side}×{side} | {clients} | {name} | {r['server_cpu'] / n * 1000:.0f} "
              f"| {r['client_cpu'] / n * 1000:.1f} | {r['server_cpu'] / r['wall']:.2f} "
              f"| {max(r['other_cpu'], 0) / r['wall']:.2f} |")
    if soak:
        side, clients, secs = soak
        results = next(r for sd, c, _, r in rows if (sd, c) == (side, clients))
        p()
        p(f"Memory over the {secs} s run at {clients} clients, {side}×{side} (RSS at each second, MB):\n")
        p("| server | idle before | 1st second | last second | max (100 ms samples) | idle after |")
        p("|---|---:|---:|---:|---:|---:|")
        for name in ("histo", "flask"):
            r = results[name]
            series = r["series"] or [0]
            p(f"| {name} | {mb(r['idle_before'])} | {mb(series[0])} | {mb(series[-1])} | {mb(r['peak_rss'])} "
              f"| {mb(r['idle_after'])} |")
        for name in ("histo", "flask"):
            p(f"\n{name}, every second: " + " ".join(mb(v) for v in results[name]["series"]))

if __name__ == "__main__":
    main()
