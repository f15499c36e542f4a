"""What /proc says about processes, for the benchmarks and the soak: a
process's children, resident and proportional memory, CPU time, the whole
machine's busy time, and a sampler of a server's memory over a run."""

import os
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def peak_rss_bytes(pid: int) -> int:
    """The process's high-water mark (VmHWM): unlike getrusage's maxrss, it
    starts afresh at exec, so a spawned child does not inherit its parent's."""
    return _kilobytes_field(f"/proc/{pid}/status", "VmHWM:")


def pss_bytes(pid: int) -> int:
    return _kilobytes_field(f"/proc/{pid}/smaps_rollup", "Pss:")


def _kilobytes_field(path: str, key: str) -> int:
    """A `key: N kB` line of a /proc file, in bytes (0 if the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICK


class Sampler:
    """Samples a server's RSS every `interval` seconds in a thread. The
    server has `rss()` (bytes, all its processes) and `refresh_pids()`."""

    def __init__(self, server, interval: float):
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            if n % 10 == 0:
                self.server.refresh_pids()  # a gunicorn worker may be replaced
            self.samples.append((time.monotonic() - start, self.server.rss()))
            n += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self) -> int:
        return max((r for _, r in self.samples), default=0)
