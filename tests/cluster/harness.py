"""Real cluster parts for tests and benchmarks: a standalone Apache
ZooKeeper 3.8 (the Debian package) on a free port with its own data
directory, and histo processes whose output is collected in a file."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port: int, word: bytes = b"ruok", timeout: float = 1.0) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word)
            return s.recv(4096)
    except OSError:
        return b""


class ZooKeeper:
    """One standalone ZooKeeper server that can be stopped and started again
    on the same port and data."""

    def __init__(self, workdir: Path):
        if not Path("/usr/share/java/zookeeper.jar").exists():
            raise RuntimeError("ZooKeeper is not installed: scripts/test installs the Debian package 'zookeeper'")
        self.port = free_port()
        self.dir = workdir
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "zoo.cfg").write_text(
            f"tickTime=500\ndataDir={self.dir / 'data'}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr\nminSessionTimeout=1000\nmaxSessionTimeout=20000\n"
        )
        self.proc = None
        self.start()

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        log = open(self.dir / "zookeeper.log", "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-cp", ZK_CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
             str(self.dir / "zoo.cfg")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        # `srvr` answers with the mode only once the server serves requests.
        while b"Mode:" not in four_letter(self.port, b"srvr"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper did not start; see {self.dir / 'zookeeper.log'}")
            time.sleep(0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


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
