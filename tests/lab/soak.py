"""The soak: a bounded run of mixed uploads against the chaos lab's two
masters while faults are injected in turn, every answer checked against
the local engine (`histo equalize` with the same options), the processes'
memory sampled throughout.

The load behaves like `histo submit`: a refused or broken request (503, a
master gone) is sent again to the other master, a bounded number of times;
a job counts as lost only if every attempt failed. Used by
tests/lab/test_soak.py (a short run in the test command) and by
scripts/soak (the long run whose figures are in docs/RELIABILITY.md)."""

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from PIL import Image

from lab_harness import MASTER_PNG_FLAGS, MASTERS, ROLES, SERVERS, Lab, digest
from support.images import low_contrast_color, low_contrast_gray
from support.procstat import rss_bytes

ROOT = Path(__file__).resolve().parents[2]

# (name, image, upload options): sizes from a thumbnail to 9 MP, every mode,
# both methods, PNG and JPEG input.
CASES = [
    ("gray-512-global", lambda: low_contrast_gray(512, 512, seed=1), "png", {}),
    ("color-1mp-luma", lambda: low_contrast_color(1000, 1000, seed=2), "png", {"mode": "luma"}),
    ("color-2mp-rgb-clahe", lambda: low_contrast_color(1200, 1600, seed=3), "png",
     {"mode": "rgb", "method": "clahe", "clip_limit": "3", "tiles": "4x4"}),
    ("gray-9mp-clahe", lambda: low_contrast_gray(3000, 3000, seed=4), "png", {"method": "clahe"}),
    ("color-4mp-gray-jpeg", lambda: low_contrast_color(2000, 2000, seed=5), "jpeg", {"mode": "gray", "format": "png"}),
]
MAX_ATTEMPTS = 6
# The pause between one fault healed and the next: the jobs that start then
# show what the service does undisturbed.
CALM_S = 5.0


@dataclass
class Case:
    name: str
    body: bytes
    options: dict
    expected: str  # digest of the local engine's output


def prepare(histo: Path, workdir: Path) -> list[Case]:
    """Encodes every input and runs it through local `histo equalize`."""
    cases = []
    for name, make, fmt, options in CASES:
        buf = io.BytesIO()
        Image.fromarray(make()).save(buf, format=fmt.upper(), **({"quality": 90} if fmt == "jpeg" else {}))
        src, dst = workdir / f"{name}.{fmt}", workdir / f"{name}.out.png"
        src.write_bytes(buf.getvalue())
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items() if k != "format"]
        subprocess.run([str(histo), "equalize", str(src), "-o", str(dst), *MASTER_PNG_FLAGS, *flags], check=True, timeout=120)
        cases.append(Case(name, src.read_bytes(), options, digest(dst.read_bytes())))
    return cases


@dataclass
class Tally:
    jobs: int = 0
    correct: int = 0
    wrong: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    retries: int = 0
    statuses: dict = field(default_factory=dict)
    latencies: list = field(default_factory=list)  # (started, seconds) of each correct job
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(lab: Lab, cases: list[Case], tally: Tally, stop: threading.Event, seed: int, max_jobs: int):
    """Sends jobs until `stop` (or `max_jobs`), round-robin over the cases,
    starting at a different master per client."""
    session = requests.Session()
    for n in range(max_jobs):
        if stop.is_set():
            return
        case = cases[(seed + n) % len(cases)]
        start = time.monotonic()
        outcome = None
        for attempt in range(MAX_ATTEMPTS):
            master = MASTERS[(seed + n + attempt) % len(MASTERS)]
            try:
                r = session.post(lab.url(master) + "/upload", params=case.options, data=case.body,
                                 headers=lab.auth(), timeout=60)
                status = r.status_code
            except requests.RequestException as e:
                status, r = type(e).__name__, None
            with tally.lock:
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if attempt:
                    tally.retries += 1
            if status == 200:
                outcome = digest(r.content)
                break
            if status != 503 and r is not None:
                outcome = f"HTTP {status}: {r.text[:200]}"  # not a refusal to retry: a real failure
                break
            time.sleep(min(0.25 * 2**attempt, 2.0))
        with tally.lock:
            tally.jobs += 1
            if outcome == case.expected:
                tally.correct += 1
                tally.latencies.append((start, time.monotonic() - start))
            elif outcome is None:
                tally.lost.append(case.name)
            else:
                tally.wrong.append((case.name, outcome))


# Each fault: inject, hold, heal. The loop goes through them in turn.
FAULTS = [
    ("master s2 cut off ZooKeeper", ["partition", "s2"], ["heal", "s2"], 9.0),
    ("worker s3 killed", ["kill", "worker", "s3"], ["start", "worker", "s3"], 3.0),
    ("server s3 link down", ["link-down", "s3"], ["link-up", "s3"], 8.0),
    ("ZooKeeper s1 stopped", ["stop", "zk", "s1"], ["start", "zk", "s1"], 6.0),
    ("leader master killed", ["kill-leader"], None, 4.0),
    ("rolling restart of the workers", ["restart-workers"], None, 0.0),
]


def inject(lab: Lab, stop: threading.Event, log: list):
    """Injects faults in turn until `stop`, each healed and the cluster
    whole again before the next."""
    i = 0
    while not stop.is_set():
        name, fault, heal, hold = FAULTS[i % len(FAULTS)]
        t = time.monotonic()
        out = lab.chaos(*fault)
        stop.wait(hold)
        if heal:
            lab.chaos(*heal)
        for s in SERVERS:  # whatever the fault stopped (the killed leader)
            for role in ROLES[s]:
                if not lab.alive(role, s):
                    lab.chaos("start", role, s)
        lab.wait_whole(timeout=90)
        log.append({"fault": name, "detail": out, "start": t, "end": time.monotonic()})
        i += 1
        stop.wait(CALM_S)


def rss_mb(pid: int) -> float | None:
    rss = rss_bytes(pid)
    return rss / 2**20 if rss else None


def sample_memory(lab: Lab, stop: threading.Event, samples: dict):
    """Every second, each histo process's RSS, keyed by role, server and
    pid (a restarted process starts a series of its own)."""
    while not stop.wait(1.0):
        for s in SERVERS:
            for role in ("master", "worker"):
                if role not in ROLES[s]:
                    continue
                try:
                    pid = int((lab.dir / "run" / f"{role}-{s}.pid").read_text())
                except (OSError, ValueError):
                    continue
                mb = rss_mb(pid)
                if mb is not None:
                    samples.setdefault(f"{role}-{s} pid {pid}", []).append((time.monotonic(), mb))


def run(lab: Lab, cases: list[Case], seconds: float, clients: int = 3) -> dict:
    tally, stop, faults, memory = Tally(), threading.Event(), [], {}
    threads = [threading.Thread(target=client, args=(lab, cases, tally, stop, i, 100_000)) for i in range(clients)]
    threads.append(threading.Thread(target=sample_memory, args=(lab, stop, memory)))
    injector = threading.Thread(target=inject, args=(lab, stop, faults))
    start = time.monotonic()
    for t in threads:
        t.start()
    injector.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    injector.join(timeout=180)
    elapsed = time.monotonic() - start
    # Jobs that started while a fault was on (or up to 2 s before it) apart
    # from the rest: what a fault costs shows as the difference.
    disturbed = [(a["start"] - 2.0, a["end"]) for a in faults]
    calm = [d for t, d in tally.latencies if not any(a <= t <= b for a, b in disturbed)]
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "jobs": tally.jobs,
        "correct": tally.correct,
        "wrong": tally.wrong,
        "lost": tally.lost,
        "retried_requests": tally.retries,
        "answers": {str(k): v for k, v in sorted(tally.statuses.items(), key=str)},
        "latency_s": percentiles([d for _, d in tally.latencies]),
        "latency_s_no_fault": percentiles(calm),
        "latency_s_by_fault": {
            name: percentiles([d for t, d in tally.latencies
                               if any(f["fault"] == name and f["start"] - 2.0 <= t <= f["end"] for f in faults)])
            for name, *_ in FAULTS
        },
        "faults": [{"fault": a["fault"], "detail": a["detail"], "at_s": round(a["start"] - start, 1),
                    "seconds": round(a["end"] - a["start"], 1)} for a in faults],
        "memory_mb": {k: memory_summary(v, start) for k, v in sorted(memory.items())},
    }


def percentiles(values) -> dict:
    values = sorted(values)
    if not values:
        return {}
    at = lambda q: round(values[min(len(values) - 1, int(len(values) * q))], 3)  # noqa: E731
    return {"jobs": len(values), "p50": at(0.5), "p99": at(0.99), "max": round(values[-1], 3)}


def memory_summary(series, start) -> dict:
    """When the process was seen, its first, last and peak RSS, and the
    peaks of the first and last thirds (growth shows as a last third above
    the first)."""
    values = [mb for _, mb in series]
    third = max(1, len(values) // 3)
    minutes = {}
    for t, mb in series:
        minute = int((t - start) // 60)
        minutes[minute] = max(minutes.get(minute, 0), round(mb))
    return {
        "from_s": round(series[0][0] - start), "to_s": round(series[-1][0] - start),
        "first": round(values[0]), "last": round(values[-1]), "peak": round(max(values)),
        "peak_first_third": round(max(values[:third])), "peak_last_third": round(max(values[-third:])),
        "peak_each_minute": [minutes[m] for m in sorted(minutes)],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--histo", type=Path, default=Path(os.environ.get("HISTO_BIN", ROOT / "target/release/histo")))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/histo-soak"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    cases = prepare(args.histo, args.workdir)
    lab = Lab(args.histo, args.workdir / "lab", prefix="histosoak", net="10.79.0", task_delay="")
    lab.run("down")
    lab.run("up")
    try:
        lab.wait_whole()
        report = run(lab, cases, args.seconds, args.clients)
    finally:
        lab.run("down")
    print(json.dumps(report, indent=2))
    sys.exit(0 if not report["wrong"] and not report["lost"] else 1)


if __name__ == "__main__":
    main()
