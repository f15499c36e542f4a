"""The chaos lab as the fault tests and the soak see it from the host:
`scripts/lab` with its own names and subnet (so it never meets a lab a
person runs), the masters' API, and what "the cluster is whole" means."""

import hashlib
import os
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]

LAB = ROOT / "scripts" / "lab"
SERVERS = ["s1", "s2", "s3"]
MASTERS = ["s1", "s2"]
ROLES = {"s1": ["zk", "master", "worker"], "s2": ["zk", "master", "worker"], "s3": ["zk", "worker"]}
NET = "10.78.0"
SESSION_TIMEOUT_S = 6.0
# zookeeper-client's connection timeout is 2/5 of the session timeout: the
# time without an answer after which a connection counts as lost.
CONNECTION_TIMEOUT_S = SESSION_TIMEOUT_S * 0.4
# Each task waits this long on the workers, so that jobs last long enough
# to be disturbed halfway through.
TASK_DELAY = "150ms"
# The masters answer uploads with `histo serve`/`master`'s PNG settings, not
# `histo equalize`'s: the local engine makes the expected bytes with these.
MASTER_PNG_FLAGS = ["--png-level", "1", "--png-filter", "sub"]


class Lab:
    """The running lab, seen from the host."""

    def __init__(self, histo: Path, workdir: Path, prefix="histotest", net=NET, task_delay=TASK_DELAY):
        self.dir = workdir
        self.net = net
        self.prefix = prefix
        self.env = {
            **os.environ,
            "HISTO_BIN": str(histo),
            "HISTO_LAB_DIR": str(workdir),
            "HISTO_LAB_PREFIX": prefix,
            "HISTO_LAB_NET": net,
            "HISTO_LAB_SESSION_TIMEOUT": f"{SESSION_TIMEOUT_S:g}s",
            "HISTO_LAB_TASK_DELAY": task_delay,
        }

    def run(self, *args, timeout=180) -> str:
        proc = subprocess.run([str(LAB), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"scripts/lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def chaos(self, *args) -> str:
        return self.run("chaos", *args).strip()

    @property
    def token(self) -> str:
        return (self.dir / "token").read_text().strip()

    def addr(self, server: str) -> str:
        return f"{self.net}.1{server[1:]}"

    def url(self, server: str) -> str:
        return f"http://{self.addr(server)}:8080"

    def alive(self, role: str, server: str) -> bool:
        try:
            os.kill(int((self.dir / "run" / f"{role}-{server}.pid").read_text()), 0)
            return True
        except (OSError, ValueError):
            return False

    def log(self, role: str, server: str) -> str:
        return (self.dir / "log" / f"{role}-{server}.log").read_text(errors="replace")

    def cluster(self, server: str) -> dict:
        r = requests.get(self.url(server) + "/api/cluster", headers=self.auth(), timeout=5)
        r.raise_for_status()
        return r.json()

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def upload(self, server: str, body: bytes, timeout=120) -> requests.Response:
        return requests.post(self.url(server) + "/upload", data=body,
                             headers={**self.auth(), "Content-Type": "image/png"}, timeout=timeout)

    def whole(self) -> str | None:
        """Why the cluster is not whole yet, or None when it is: every
        master answers, sees both masters and all three workers, and they
        agree on a leader."""
        leaders = set()
        for s in MASTERS:
            try:
                c = self.cluster(s)
            except requests.RequestException as e:
                return f"master on {s}: {e}"
            if c["state"] not in ("CONNECTED", "RECONNECTED"):
                return f"master on {s} is {c['state']}"
            if len(c["workers"]) != len(SERVERS) or len(c["masters"]) != len(MASTERS):
                return f"master on {s} sees {len(c['masters'])} masters and {len(c['workers'])} workers"
            leaders.add(c["leader"])
        if len(leaders) != 1 or None in leaders:
            return f"masters disagree on the leader: {leaders}"
        return None

    def wait_whole(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while (why := self.whole()) is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster is not whole after {timeout}s: {why}")
            time.sleep(0.2)

    def firewall_rules(self) -> list[str]:
        """The host's iptables rules (every backend) that the lab added."""
        rules = []
        for ipt in ["iptables-nft", "iptables-legacy"]:
            proc = subprocess.run([ipt, "-S"], capture_output=True, text=True, timeout=10)
            rules += [f"{ipt} {r}" for r in proc.stdout.splitlines() if f"{self.prefix}-lab" in r]
        return rules

    def heal(self):
        """Undoes every fault: rules, links, stopped processes."""
        for s in SERVERS:
            self.chaos("heal", s)
            self.chaos("link-up", s)
        for s in SERVERS:
            for role in ROLES[s]:
                if not self.alive(role, s):
                    self.chaos("start", role, s)
        self.wait_whole()


def digest(data: bytes) -> str:
    """What tests compare outputs by (a readable failure, unlike megabytes of bytes)."""
    return hashlib.sha256(data).hexdigest()[:16]
