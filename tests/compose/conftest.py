"""The compose topology (compose.yaml) on this machine's Docker Engine: the
images scripts/image made, a project of its own on free ports, torn down
with its volumes at the end. Without Docker the tests skip with a loud
reason, except under CI=true, where they fail: CI's machines have Docker."""

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from support.process import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ["histo:local", "histo-zookeeper:local", "histo-proxy:local"]
SESSION_TIMEOUT_S = 6
# Workers wait this long per task, so that jobs last long enough to be
# disturbed halfway (only in the tests' override, never in compose.yaml).
TASK_DELAY = "300ms"
OVERRIDE = f"""
x-test-env: &test-env
  HISTO_LOG: info
  HISTO_ZK: zk1:2181,zk2:2181,zk3:2181
  HISTO_ZK_SESSION_TIMEOUT: {SESSION_TIMEOUT_S}s
services:
  worker1: {{ environment: {{ <<: *test-env, HISTO_CHAOS_TASK_DELAY: {TASK_DELAY} }} }}
  worker2: {{ environment: {{ <<: *test-env, HISTO_CHAOS_TASK_DELAY: {TASK_DELAY} }} }}
  worker3: {{ environment: {{ <<: *test-env, HISTO_CHAOS_TASK_DELAY: {TASK_DELAY} }} }}
"""


def compose_command() -> list[str]:
    """`docker compose` (Compose v2) where the plugin is there, else
    Debian's `docker-compose`."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return []


def docker_missing() -> str | None:
    if not shutil.which("docker"):
        return "Docker is not installed"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "the Docker daemon does not answer"
    if not compose_command():
        return "neither `docker compose` nor `docker-compose` is installed"
    missing = [i for i in IMAGES if subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode]
    if missing:
        return f"images {', '.join(missing)} are missing: run scripts/image"
    return None


class Topology:
    """A running compose project, seen from the host."""

    def __init__(self, workdir: Path):
        self.project = f"histotest{uuid.uuid4().hex[:8]}"
        self.dir = workdir
        self.port = free_port()
        self.token = uuid.uuid4().hex
        token_file = workdir / "token"
        token_file.write_text(self.token)
        token_file.chmod(0o644)
        (workdir / "override.yaml").write_text(OVERRIDE)
        self.env = {**os.environ, "HISTO_TOKEN_FILE": str(token_file), "HISTO_HTTPS_PORT": str(self.port),
                    "HISTO_ZK_SESSION_TIMEOUT": f"{SESSION_TIMEOUT_S}s"}
        self.url = f"https://localhost:{self.port}"
        self.ca = workdir / "tls.crt"

    def compose(self, *args, timeout=300, check=True) -> subprocess.CompletedProcess:
        cmd = [*compose_command(), "-p", self.project, "-f", str(ROOT / "compose.yaml"),
               "-f", str(self.dir / "override.yaml"), *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[2:])} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def docker(self, *args, check=True, timeout=120) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr}")
        return proc

    def health(self) -> dict:
        ids = self.compose("ps", "-q").stdout.split()
        states = json.loads(self.docker("inspect", *ids).stdout) if ids else []
        return {s["Name"].lstrip("/"): (s["State"].get("Health") or {}).get("Status", s["State"]["Status"])
                for s in states}

    def wait_healthy(self, timeout=240.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if len(health) == 9 and all(h == "healthy" for h in health.values()):
                return health
            time.sleep(1)
        raise AssertionError(f"not healthy after {timeout}s: {self.health()}\n{self.compose('logs', '--tail', '30').stdout}")

    def network(self, name: str) -> str:
        return f"{self.project}_{name}"

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, headers=self.auth(), verify=str(self.ca), timeout=10, **kw)

    def upload(self, body: bytes, timeout=120) -> requests.Response:
        return requests.post(self.url + "/upload", data=body, headers={**self.auth(), "Content-Type": "image/png"},
                             verify=str(self.ca), timeout=timeout)

    def wait_whole(self, timeout=60.0):
        """Until the masters see both masters and all three workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = self.get("/api/cluster").json()
                if len(c["workers"]) == 3 and len(c["masters"]) == 2 and c["state"] in ("CONNECTED", "RECONNECTED"):
                    return c
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"the cluster is not whole after {timeout}s")


@pytest.fixture(scope="session")
def topology(tmp_path_factory):
    why = docker_missing()
    if why:
        message = f"COMPOSE TESTS NOT RUN: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the machine must have Docker)")
        pytest.skip(message)
    t = Topology(tmp_path_factory.mktemp("compose"))
    try:
        t.compose("up", "-d")
        t.wait_healthy()
        t.docker("cp", f"{t.container('proxy')}:/certs/tls.crt", str(t.ca))
        t.wait_whole()
        yield t
    finally:
        logs = t.compose("logs", "--no-color", check=False).stdout
        (t.dir / "compose.log").write_text(logs)
        t.compose("down", "-v", "--remove-orphans", check=False)
