"""The compose topology as an operator runs it: images built here, every
service healthy, uploads through the one published HTTPS port answered with
the exact bytes of local `histo equalize`, and the faults a small
on-premises install meets (a worker killed mid-job, a master cut off from
ZooKeeper, a ZooKeeper member stopped, the whole topology restarted)."""

import hashlib
import os
import re
import subprocess
import threading
import time

import requests
from conftest import ROOT, SESSION_TIMEOUT_S

from support import events
from support.events import is_ok, observed
from support.images import low_contrast_gray, png_bytes
from support.process import wait_until

# The masters answer with `histo serve`/`master`'s PNG settings.
MASTER_PNG_FLAGS = ["--png-level", "1", "--png-filter", "sub"]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def local_equalize(histo_bin, tmp_path, body: bytes) -> bytes:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    src.write_bytes(body)
    subprocess.run([histo_bin, "equalize", src, "-o", dst, *MASTER_PNG_FLAGS], check=True, timeout=60)
    return dst.read_bytes()


def image(side: int, seed: int) -> bytes:
    return png_bytes(low_contrast_gray(side, side, seed=seed), compress_level=1)


def test_the_image_is_small_unprivileged_shell_less_and_read_only(topology):
    size = int(topology.docker("image", "inspect", "-f", "{{.Size}}", "histo:local").stdout)
    assert size <= 60_000_000, f"histo:local is {size / 1e6:.1f} MB"
    config = topology.docker("image", "inspect", "-f", "{{.Config.User}}", "histo:local").stdout.strip()
    assert config == "65532:65532"
    no_shell = topology.docker("run", "--rm", "--entrypoint", "/bin/sh", "histo:local", "-c", "true", check=False)
    assert no_shell.returncode != 0, "the image has no shell"
    master = topology.container("master1")
    read_only = topology.docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", master).stdout.strip()
    assert read_only == "true"
    # The published port is the proxy's only; ZooKeeper and workers have none.
    published = topology.compose("port", "proxy", "8443").stdout.strip()
    assert published.endswith(f":{topology.port}")
    for service in ["zk1", "master1", "worker1"]:
        ports = topology.docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", topology.container(service))
        assert ports.stdout.strip() in ("{}", "null"), f"{service} publishes {ports.stdout}"


def test_an_upload_through_the_published_port_is_exact(topology, histo_bin, tmp_path):
    body = image(1500, seed=3)
    response = topology.upload(body)
    assert response.status_code == 200, response.text
    assert digest(response.content) == digest(local_equalize(histo_bin, tmp_path, body))
    assert topology.get("/healthz").status_code == 200
    wrong = requests.get(topology.url + "/api/cluster", headers={"Authorization": "Bearer wrong"},
                         verify=str(topology.ca), timeout=10)
    assert wrong.status_code == 401


def upload_while(topology, body: bytes, disturb, delay: float) -> bytes:
    """Uploads `body`; `delay` seconds in, runs `disturb()`, which must
    land while the job runs. The answer."""
    result = {}

    def upload():
        result["response"] = topology.upload(body, timeout=180)
        result["answered"] = time.monotonic()

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(delay)
    disturbed = time.monotonic()
    disturb()
    thread.join(timeout=200)
    response = result["response"]
    assert response.status_code == 200, response.text
    assert result["answered"] > disturbed, "the job was still running when it was disturbed"
    return response.content


def test_a_worker_killed_mid_job_still_gives_the_exact_image(topology, histo_bin, tmp_path):
    body = image(3000, seed=5)  # nine strips, each task waiting 300 ms on its worker
    worker = topology.container("worker2")
    answer = upload_while(topology, body, lambda: topology.docker("kill", worker), delay=0.6)
    assert digest(answer) == digest(local_equalize(histo_bin, tmp_path, body))
    topology.docker("start", worker)
    topology.wait_healthy()
    topology.wait_whole()


def test_a_stopped_zookeeper_member_fails_no_job(topology, histo_bin, tmp_path):
    bodies = [image(1200, seed=s) for s in range(3)]
    expected = [digest(local_equalize(histo_bin, tmp_path, b)) for b in bodies]
    zk = topology.container("zk1")
    topology.docker("stop", zk)
    try:
        for body, want in zip(bodies, expected):
            response = topology.upload(body)
            assert response.status_code == 200, response.text
            assert digest(response.content) == want
    finally:
        topology.docker("start", zk)
    topology.wait_healthy()
    topology.wait_whole()


def test_a_master_cut_off_zookeeper_is_suspended_then_lost_and_recovers(topology):
    """The dashboard's stream, through the proxy, from the master the proxy
    keeps this client on: SUSPENDED, LOST after the session timeout, then
    back (RECONNECTED, Connection: OK) once the network is back."""
    client, rec, _ = events.connect(topology.url, auth={"token": topology.token}, ssl_verify=False)
    try:
        rec.wait_for(is_ok, timeout=20)
        mine = topology.get("/api/cluster").json()["master"]
        master = next(s for s in ["master1", "master2"] if mine in topology.compose("logs", s).stdout)
        network, container = topology.network("coordination"), topology.container(master)
        cut = time.monotonic()
        topology.docker("network", "disconnect", network, container)
        try:
            rec.wait_for(observed("SUSPENDED"), timeout=SESSION_TIMEOUT_S + 10, since=cut)
            rec.wait_for(observed("LOST"), timeout=SESSION_TIMEOUT_S + 20, since=cut)
        finally:
            topology.docker("network", "connect", network, container)
        healed = time.monotonic()
        rec.wait_for(lambda n, d: n == "observability" and d["state"] == "RECONNECTED", timeout=60, since=healed)
        rec.wait_for(is_ok, timeout=60, since=healed)
    finally:
        client.disconnect()
    topology.wait_whole()


def zk_children(topology, path: str) -> list[str]:
    """The children of a znode, read inside a member with Debian's zkCli."""
    out = topology.docker("exec", topology.container("zk2"), "/usr/share/zookeeper/bin/zkCli.sh",
                          "-server", "127.0.0.1:2181", "ls", path).stdout
    listed = [line for line in out.splitlines() if line.startswith("[")]
    return [c.strip() for c in listed[-1].strip("[]").split(",") if c.strip()] if listed else []


def test_zookeeper_is_backed_up_and_restored_with_restic(topology, tmp_path):
    """scripts/zk-backup against this topology: a job's summary znode,
    backed up, deleted, then back after a restore of all three members."""
    env = {**os.environ, "HISTO_COMPOSE_PROJECT": topology.project,
           "RESTIC_REPOSITORY": str(tmp_path / "repository"), "RESTIC_PASSWORD_FILE": str(tmp_path / "password")}
    (tmp_path / "password").write_text("zk-backup-test-password")
    job = topology.upload(image(400, seed=9)).headers["X-Histo-Job-Id"]
    wait_until(lambda: job in zk_children(topology, "/histo/jobs"), 30, "the job's summary in ZooKeeper", 0.5)

    def zk_backup(*args):
        proc = subprocess.run([ROOT / "scripts" / "zk-backup", *args], env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "backed up" in zk_backup("backup")
    topology.docker("exec", topology.container("zk2"), "/usr/share/zookeeper/bin/zkCli.sh",
                    "-server", "127.0.0.1:2181", "delete", f"/histo/jobs/{job}")
    assert job not in zk_children(topology, "/histo/jobs")
    assert "restored" in zk_backup("restore")
    topology.wait_healthy()
    assert job in zk_children(topology, "/histo/jobs"), "the summary is back"
    topology.wait_whole(timeout=60)
    assert topology.upload(image(300, seed=10)).status_code == 200, "and the cluster works on"


def test_a_restarted_topology_keeps_no_stale_members(topology):
    before = topology.wait_whole()
    old = {w["id"] for w in before["workers"]} | {m["id"] for m in before["masters"]}
    topology.compose("restart", "-t", "20")
    topology.wait_healthy()
    # Members leave ZooKeeper as they stop: the new ones are all there is,
    # well before an old session could have expired.
    after = topology.wait_whole(timeout=SESSION_TIMEOUT_S)
    now = {w["id"] for w in after["workers"]} | {m["id"] for m in after["masters"]}
    assert not now & old, f"stale members: {now & old}"
    assert len(after["workers"]) == 3 and len(after["masters"]) == 2
    assert all(re.fullmatch(r"worker\d:7070", w["address"]) for w in after["workers"]), after["workers"]
