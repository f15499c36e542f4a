"""Faults injected into the chaos lab (scripts/lab), each checked the way a
user sees it: the events on a master's Socket.IO stream, the API's answers,
and output bytes identical to local `histo equalize`."""

import os
import socket
import subprocess
import threading
import time

from support import events
from support.events import is_ok, observed
from lab_harness import CONNECTION_TIMEOUT_S, MASTERS, SERVERS, SESSION_TIMEOUT_S, digest


def stream(lab, server):
    """A Socket.IO client on the master of `server` that has seen the
    coordinator's OK (authenticated, so it gets job progress too)."""
    client, rec, _ = events.connect(lab.url(server), auth={"token": lab.token})
    rec.wait_for(is_ok, timeout=15)
    return client, rec


def job_disturbed_by(lab, image, fault, server="s1"):
    """Uploads the test image to the master on `server`, calls `fault` once
    the job's first map task is done, and checks the job's answer."""
    body, expected = image
    client, rec = stream(lab, server)
    answer = {}
    sender = threading.Thread(target=lambda: answer.setdefault("r", lab.upload(server, body)))
    try:
        start = time.monotonic()
        sender.start()
        rec.wait_for(lambda n, d: n == "job_progress" and d["phase"] == "map", timeout=30, since=start)
        fault()
        sender.join(timeout=150)
        r = answer["r"]
        assert r.status_code == 200, r.text
        assert digest(r.content) == digest(expected), "output identical to the local engine's"
        return r
    finally:
        client.disconnect()


def leader_of(lab, server):
    c = lab.cluster(server)
    return c["leader"], c["master"]


def test_master_cut_off_zookeeper_suspends_loses_and_heals(lab):
    """The seed's chaos command inside a master's server."""
    client, rec = stream(lab, "s1")
    try:
        cut = time.monotonic()
        lab.chaos("partition", "s1")
        suspended = rec.wait_for(observed("SUSPENDED"), timeout=CONNECTION_TIMEOUT_S + 10, since=cut)[0]
        assert suspended[2]["message"].startswith("WARNING: SUSPENDED")
        assert suspended[2]["component"] == "zookeeper"
        assert suspended[0] - cut <= CONNECTION_TIMEOUT_S + 2.0, "SUSPENDED within 2 s of the connection timeout"
        assert lab.cluster("s1")["state"] in ("SUSPENDED", "LOST"), "the API says so too"

        lost = rec.wait_for(observed("LOST"), timeout=SESSION_TIMEOUT_S + 10, since=cut)[0]
        assert lost[2]["message"].startswith("ERROR: LOST")
        assert SESSION_TIMEOUT_S <= lost[0] - cut <= SESSION_TIMEOUT_S + CONNECTION_TIMEOUT_S + 3.0

        # The other master leads by now: s1's session is gone.
        deadline = time.monotonic() + SESSION_TIMEOUT_S
        while (lead := leader_of(lab, "s2"))[0] != lead[1]:
            assert time.monotonic() < deadline, f"s2 does not lead while s1 is cut off: {lead}"
            time.sleep(0.2)

        healed = time.monotonic()
        lab.chaos("heal", "s1")
        back = rec.wait_for(lambda n, d: is_ok(n, d) and d["state"] == "RECONNECTED", timeout=20, since=healed)[0]
        assert back[2]["message"] == "ZooKeeper Connection: OK"
        lab.wait_whole(timeout=30)  # s1's master and worker registered again, one leader
        assert lab.cluster("s1")["state"] == "RECONNECTED"
    finally:
        client.disconnect()


def test_worker_server_cut_off_mid_job(lab, image):
    job_disturbed_by(lab, image, lambda: lab.chaos("link-down", "s3"))


def test_worker_killed_mid_job(lab, image):
    job_disturbed_by(lab, image, lambda: lab.chaos("kill", "worker", "s2"))


def zookeeper_leader(lab) -> str:
    for s in SERVERS:
        try:
            with socket.create_connection((lab.addr(s), 2181), timeout=2) as conn:
                conn.sendall(b"srvr")
                if b"Mode: leader" in conn.recv(4096):
                    return s
        except OSError:
            pass
    raise AssertionError("no ZooKeeper server says it leads")


def test_one_zookeeper_of_three_stopped_no_job_fails(lab, image):
    body, expected = image
    stopped = zookeeper_leader(lab)  # the hardest one to lose: the ensemble elects anew
    lab.chaos("stop", "zk", stopped)
    for i in range(4):
        r = lab.upload(MASTERS[i % 2], body)
        assert r.status_code == 200, r.text
        assert digest(r.content) == digest(expected)


def test_two_zookeepers_of_three_stopped_suspend_then_heal(lab, image):
    body, expected = image
    client, rec = stream(lab, "s1")
    try:
        cut = time.monotonic()
        for s in ["s2", "s3"]:
            lab.chaos("stop", "zk", s)
        rec.wait_for(observed("SUSPENDED"), timeout=CONNECTION_TIMEOUT_S + 10, since=cut)
        # Jobs go on with the workers the master knows, or are refused clearly.
        r = lab.upload("s1", body)
        if r.status_code == 200:
            assert digest(r.content) == digest(expected)
        else:
            assert r.status_code == 503, r.text
            assert r.json()["error"] and r.headers.get("Retry-After")
        restart = time.monotonic()
        for s in ["s2", "s3"]:
            lab.chaos("start", "zk", s)
        rec.wait_for(is_ok, timeout=60, since=restart)
        lab.wait_whole(timeout=60)
        r = lab.upload("s2", body)
        assert r.status_code == 200 and digest(r.content) == digest(expected)
    finally:
        client.disconnect()


def test_leader_killed_another_leads_and_submit_fails_over(lab, image, histo_bin, tmp_path):
    body, expected = image
    killed = lab.chaos("kill-leader")
    assert killed in MASTERS
    other = next(s for s in MASTERS if s != killed)
    start = time.monotonic()
    while (lead := leader_of(lab, other))[0] != lead[1]:
        assert time.monotonic() - start < SESSION_TIMEOUT_S + 1.0, f"no new leader within the session timeout: {lead}"
        time.sleep(0.1)

    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    src.write_bytes(body)
    servers = f"{lab.url(killed)},{lab.url(other)}"
    proc = subprocess.run([str(histo_bin), "submit", str(src), "-o", str(dst), "--server", servers],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "HISTO_TOKEN": lab.token})
    assert proc.returncode == 0, proc.stderr
    assert digest(dst.read_bytes()) == digest(expected)


def test_rolling_restart_of_workers_fails_no_job(lab, image):
    body, expected = image
    done = threading.Event()
    results = []

    def jobs(server):
        for _ in range(60):  # bounded, whatever happens
            if done.is_set():
                return
            r = lab.upload(server, body)
            results.append((r.status_code, digest(r.content) if r.ok else r.text))

    streams = [threading.Thread(target=jobs, args=(s,)) for s in MASTERS]
    for t in streams:
        t.start()
    try:
        time.sleep(1.0)
        lab.chaos("restart-workers")
    finally:
        done.set()
        for t in streams:
            t.join(timeout=180)
    assert len(results) >= 4, "jobs ran during the restart"
    failed = [r for r in results if r != (200, digest(expected))]
    assert not failed, f"{len(failed)} of {len(results)} jobs failed: {failed[:3]}"
