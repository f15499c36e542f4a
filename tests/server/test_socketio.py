"""The Socket.IO v4 event stream, through an independent client
(python-socketio): the deployment replay in order and on time, then the
coordinator state, then live job progress and security events, which only
authenticated clients receive."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support.events import is_ok
from support.images import noisy_gray_png
from support.serve import ROOT, TOKEN, connect

PHASES = ["terraform", "tinkerbell", "ansible", "kubernetes", "argocd"]


def upload(server, token=TOKEN, body=None, headers=None):
    return requests.post(
        server.url + "/upload",
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        files={"file": ("in.png", body or noisy_gray_png(), "image/png")},
        timeout=30,
    )


@pytest.fixture
def rec(server):
    """The events of a client that authenticated, once the coordinator's
    state has arrived."""
    client, rec, _ = connect(server, auth={"token": TOKEN})
    try:
        rec.wait_for(is_ok, timeout=15)
        yield rec
    finally:
        client.disconnect()


def test_replay_in_order_then_coordinator_state(server):
    client, rec, started = connect(server)
    try:
        ok = rec.wait_for(is_ok, timeout=15)[0]
        logs = rec.of("deployment_log")
        assert len(logs) >= 20
        seqs = [d["seq"] for _, d in logs]
        assert seqs == list(range(len(logs))), "seq increases from 0 without gaps"
        phases = [d["phase"] for _, d in logs]
        assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == PHASES, (
            "all five phases, each once, in pipeline order"
        )
        for _, d in logs:
            assert (ROOT / d["source"]).is_file(), f"{d['source']} exists in the repo"
            assert d["source"].startswith(("deploy/", "k8s/"))
            assert d["message"] and d["ts"]
        sources = {d["source"] for _, d in logs}
        for must in ["deploy/gitops/argocd-app.yaml", "deploy/ansible/playbook.yml", "deploy/tinkerbell/hardware.yaml"]:
            assert must in sources
        assert any("kubeadm init" in d["message"] for _, d in logs)
        assert any("kubeadm join" in d["message"] for _, d in logs)
        last = logs[-1][0]
        assert last - started < 5.0, f"replay took {last - started:.2f}s"
        gaps = [b[0] - a[0] for a, b in zip(logs, logs[1:])]
        assert sum(gaps) / len(gaps) > 0.02, "paced for a person to read"
        assert ok[0] >= last, "the coordinator state comes after the replay"
        assert ok[2]["message"] == "Embedded coordinator Connection: OK"
        assert ok[2]["state"] == "CONNECTED"
    finally:
        client.disconnect()


def test_authenticated_client_sees_job_progress(server, rec):
    response = upload(server)
    assert response.status_code == 200
    job = response.headers["X-Histo-Job-Id"]
    done = rec.wait_for(lambda n, d: n == "job_progress" and d["job_id"] == job and d["phase"] == "done")
    assert done[0][2]["done"] == done[0][2]["total"] == 1
    phases = {d["phase"] for _, d in rec.of("job_progress") if d["job_id"] == job}
    assert {"decode", "map", "reduce", "apply", "done"} <= phases
    maps = [d for _, d in rec.of("job_progress") if d["job_id"] == job and d["phase"] == "map"]
    assert all(d["worker"] for d in maps), "map progress names the worker"


def test_a_client_follows_its_own_job_by_its_request_id(server, rec):
    """Two uploads at once: each job's events carry the request id its
    client chose, so a page follows its own job from the first event, not
    whichever job decodes first."""
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(
            lambda rid: upload(server, body=noisy_gray_png(900, 1400, seed=len(rid)),
                               headers={"X-Histo-Request-Id": rid}),
            ["page-a", "page-b-2"]))
    for rid, response in zip(["page-a", "page-b-2"], answers):
        assert response.status_code == 200
        assert response.headers["X-Histo-Request-Id"] == rid
        job = response.headers["X-Histo-Job-Id"]
        mine = rec.wait_for(lambda n, d, job=job: n == "job_progress" and d["job_id"] == job and d["phase"] == "done")
        assert mine[0][2]["request_id"] == rid
        assert all(d.get("request_id") == rid for _, d in rec.of("job_progress") if d["job_id"] == job)
    plain = upload(server)
    assert "X-Histo-Request-Id" not in plain.headers
    for bad in ["", "x" * 65, "has space", "semi;colon"]:
        refused = upload(server, headers={"X-Histo-Request-Id": bad})
        assert refused.status_code == 400, bad
        assert "x-histo-request-id" in refused.json()["detail"]


def test_anonymous_client_gets_no_job_or_security_events_until_it_authenticates(server):
    client, rec, _ = connect(server)
    try:
        rec.wait_for(is_ok, timeout=15)
        assert upload(server).status_code == 200
        time.sleep(0.5)
        assert rec.of("job_progress") == [] and rec.of("security") == []
        assert client.call("authenticate", {"token": "wrong-pytest-token"}, timeout=5) == {"ok": False}
        assert client.call("authenticate", {"token": TOKEN}, timeout=5) == {"ok": True}
        assert upload(server, token="wrong-pytest-token").status_code == 401
        event = rec.wait_for(lambda n, d: n == "security" and d["kind"] == "auth_failed")[-1][2]
        assert event["client"] == "127.0.0.1"
        assert "wrong" in event["detail"] and "wrong-pytest-token" not in event["detail"]
        job = upload(server).headers["X-Histo-Job-Id"]
        rec.wait_for(lambda n, d: n == "job_progress" and d["job_id"] == job and d["phase"] == "done")
    finally:
        client.disconnect()


def test_rejected_input_is_a_security_event(server, rec):
    response = upload(server, body=b"definitely not an image")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    rec.wait_for(lambda n, d: n == "security" and d["kind"] == "rejected_input" and "415" in d["detail"])
