"""Helpers for tests/server and tests/hostile: a real `histo serve` process
on a free port, whose stdout and stderr go to files (so tests can check
what it logged), a Socket.IO client that records every event, and test
images."""

import os
import pathlib
import re
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "pytest-token-7f3a9c0d2b5e4f61"


class Server:
    """A running `histo serve`, with its base URL and output files."""

    def __init__(self, histo_bin, tmp: pathlib.Path, env: dict, args=(), cwd=None):
        self.stdout_path = tmp / "stdout.txt"
        self.stderr_path = tmp / "stderr.txt"
        self.proc = subprocess.Popen(
            [str(histo_bin), "serve", "--listen", "127.0.0.1:0", "--workers", "2", *args],
            stdout=open(self.stdout_path, "wb"),
            stderr=open(self.stderr_path, "wb"),
            env=env,
            cwd=cwd,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            m = re.search(r"listening on (http://\S+)", self.stdout_path.read_text())
            if m:
                self.url = m.group(1)
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"histo serve exited: {self.stderr_path.read_text()}")
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("histo serve did not start")

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def memory_kib(self, field="VmHWM") -> int:
        """A memory figure of the process from /proc (VmHWM: peak resident
        set so far; VmRSS: now), in KiB."""
        status = pathlib.Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))


class Recorder:
    """Collects every event of a client, with arrival times."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    def handler(self, name):
        def on(data):
            with self.lock:
                self.events.append((time.monotonic(), name, data))
                self.changed.notify_all()

        return on

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [e for e in self.events if predicate(e[1], e[2])]
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.events[-5:]
                    names = [(n, d.get("message", d.get("phase")) if isinstance(d, dict) else d) for _, n, d in last]
                    raise AssertionError(f"timed out; last events: {names}")
                self.changed.wait(left)

    def of(self, name):
        with self.lock:
            return [(t, d) for t, n, d in self.events if n == name]


def connect(server, auth=None):
    """A Socket.IO client of `server` (websocket transport) and the
    Recorder of its events."""
    import socketio

    rec = Recorder()
    client = socketio.Client(reconnection=False)
    for name in ["deployment_log", "observability", "job_progress", "security"]:
        client.on(name, rec.handler(name))
    # Any other event too (python-socketio's catch-all handler).
    client.on("*", lambda name, data=None: rec.handler(name)(data))
    started = time.monotonic()
    client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=10)
    return client, rec, started


def is_ok(name, data):
    """Whether an event is the coordinator's `... Connection: OK`, the end
    of what a client gets on connect."""
    return name == "observability" and data["message"].endswith("Connection: OK")


def server_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISTO_")}
    env.update(extra)
    return env


def png(width=64, height=48, seed=0) -> bytes:
    """A low-contrast gray PNG."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = (rng.integers(0, 64, size=(height, width)) + 80).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()
