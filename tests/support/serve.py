"""A real `histo serve` on a free port for the suites, the browser test and
the benchmarks: its stdout and stderr go to files (so tests can check what
it logged), and it is reached through its printed URL."""

import os
import pathlib
import re
import subprocess
import time

from support import events

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "pytest-token-7f3a9c0d2b5e4f61"


class Server:
    """A running `histo serve`, with its base URL and output files."""

    def __init__(self, histo_bin, tmp: pathlib.Path, env: dict, args=(), cwd=None, workers=2):
        self.stdout_path = tmp / "stdout.txt"
        self.stderr_path = tmp / "stderr.txt"
        self.proc = subprocess.Popen(
            [str(histo_bin), "serve", "--listen", "127.0.0.1:0", "--workers", str(workers), *args],
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


def connect(server, auth=None):
    """A Socket.IO client of `server`, the Recorder of its events, and when
    it connected."""
    return events.connect(server.url, auth)


def server_env(**extra):
    """This process's environment without any HISTO_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISTO_")}
    env.update(extra)
    return env
