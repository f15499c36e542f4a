"""A real cluster on this machine for the tests: Apache ZooKeeper 3.8 (the
Debian package, started here on free ports with a temporary data directory)
and real `histo worker` / `histo master` processes. Everything started is
stopped at the end of the test that started it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.process import Process, free_port
from support.zookeeper import ZooKeeper

ROOT = Path(__file__).resolve().parents[2]

SESSION_TIMEOUT_S = 4
TOKEN = "cluster-test-token-0123456789"


class Cluster:
    def __init__(self, histo: Path, workdir: Path):
        self.histo = histo
        self.dir = workdir
        self.zk = ZooKeeper(workdir / "zk")
        self.procs: list[Process] = []

    def common(self):
        return ["--zk", self.zk.hosts, "--zk-session-timeout", f"{SESSION_TIMEOUT_S}s"]

    def worker(self, *extra, slots=2, env=None) -> Process:
        n = len(self.procs)
        p = Process([self.histo, "worker", *self.common(), "--listen", "127.0.0.1:0", "--slots", str(slots), *extra],
                    self.dir / f"worker-{n}.log", env)
        p.wait_for(r"listening on", 20)
        self.procs.append(p)
        return p

    def master(self, *extra, env=None) -> Process:
        n = len(self.procs)
        port = free_port()
        p = Process([self.histo, "master", *self.common(), "--listen", f"127.0.0.1:{port}", *extra],
                    self.dir / f"master-{n}.log", {"HISTO_TOKEN": TOKEN, **(env or {})})
        p.url = f"http://127.0.0.1:{port}"
        p.wait_for(r"joined the cluster", 20)
        self.procs.append(p)
        return p

    def equalize(self, src, dst, *extra, timeout=120, env=None):
        return subprocess.run(
            [self.histo, "equalize", src, *([] if dst is None else ["-o", dst]), *self.common(), *extra],
            capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
        )

    def close(self):
        for p in self.procs:
            p.kill()
        self.zk.stop()


@pytest.fixture
def cluster(histo_bin, tmp_path):
    c = Cluster(histo_bin, tmp_path)
    yield c
    c.close()
    if os.environ.get("KEEP_TEST_DIRS") is None:
        shutil.rmtree(tmp_path / "zk", ignore_errors=True)


@pytest.fixture
def kazoo_client(cluster):
    from kazoo.client import KazooClient

    clients = []

    def make(auth=None):
        c = KazooClient(hosts=cluster.zk.hosts, timeout=10,
                        auth_data=[("digest", auth)] if auth else None)
        c.start(timeout=15)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.stop()
        c.close()
