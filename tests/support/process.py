"""Processes for tests and benchmarks: free loopback ports, and histo
processes whose output is collected in a file that tests can wait on."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """Polls `predicate` until it returns something true, which is returned;
    fails the test after `timeout` seconds, naming `what` it waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A histo process whose output is collected in a file."""

    def __init__(self, args, log: Path, env=None):
        self.log_path = log
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HISTO_LOG": "info", "NO_COLOR": "1", **(env or {})},
        )

    def output(self) -> str:
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log_path.read_text(errors="replace"))

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> int:
        """Waits until `pattern` appears in the output after offset `after`;
        returns the offset just past the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            m = re.search(pattern, out[after:])
            if m:
                return after + m.end()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not seen within {timeout}s in:\n{self.output()[-3000:]}")

    def signal(self, sig):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self):
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def assert_one_line_error(proc, *fragments):
    """A failed `histo` command: nothing on stdout, one `histo: error:` line
    on stderr containing each fragment, no panic."""
    err = proc.stderr.decode()
    assert proc.returncode != 0, "expected a failure"
    assert proc.stdout == b""
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("histo: error: "), lines[0]
    assert "panicked" not in err and "RUST_BACKTRACE" not in err
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"
