"""A real standalone Apache ZooKeeper 3.8 (the Debian package) for tests and
benchmarks, on a free port with its own data directory; it can be stopped
and started again on the same port and data."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from support.process import free_port

ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"


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
