"""Authentication of every state-changing route, and the token's secrecy.

Every route that is not a GET (read from the server's own OpenAPI document,
so a new one cannot be forgotten) refuses each missing, malformed or wrong
credential with 401 and `WWW-Authenticate: Bearer`, and processes nothing;
repeated failures are blocked (429). The token never appears in the
server's debug-level logs, in any Socket.IO event, or in /metrics.

ZooKeeper's side (`--zk-auth`: another identity is denied every znode) is
tests/cluster/test_cluster.py::test_zookeeper_acls_deny_another_identity,
on a real ZooKeeper."""

import base64
import json
import re
import socket
import time

import pytest
import requests

import hostile_inputs as hi
from support.events import is_ok
from support.serve import TOKEN, Server, connect, server_env

WRONG = "wrong-hostile-token-5d1c"


def credentials():
    """(name, Authorization header values) of every refused variant."""
    basic = base64.b64encode(f"histo:{TOKEN}".encode()).decode()
    return [
        ("none", []),
        ("empty", [""]),
        ("scheme-only", ["Bearer"]),
        ("scheme-and-space", ["Bearer "]),
        ("wrong-token", [f"Bearer {WRONG}"]),
        ("basic-with-token", [f"Basic {basic}"]),
        ("basic-raw-token", [f"Basic {TOKEN}"]),
        ("other-scheme", [f"Token {TOKEN}"]),
        ("no-scheme", [TOKEN]),
        ("no-space", [f"Bearer{TOKEN}"]),
        ("tab-separated", [f"Bearer\t{TOKEN}"]),
        ("prefixed", [f"Bearer x{TOKEN}"]),
        ("suffixed", [f"Bearer {TOKEN}x"]),
        ("truncated", [f"Bearer {TOKEN[:-1]}"]),
        ("upper-case", [f"Bearer {TOKEN.upper()}"]),
        ("twice-in-one", [f"Bearer {TOKEN} {TOKEN}"]),
        ("comma-list", [f"Bearer {TOKEN}, Bearer {TOKEN}"]),
        ("right-then-wrong", [f"Bearer {TOKEN}", f"Bearer {WRONG}"]),
        ("wrong-then-right", [f"Bearer {WRONG}", f"Bearer {TOKEN}"]),
    ]


CREDENTIALS = credentials()


@pytest.fixture(scope="module")
def guarded(histo_bin, tmp_path_factory):
    """A server logging at debug level, with an authenticated Socket.IO
    client that records every event it is sent."""
    tmp = tmp_path_factory.mktemp("guarded")
    env = server_env(HISTO_TOKEN=TOKEN, HISTO_LOG="debug")
    server = Server(histo_bin, tmp, env, ["--auth-max-failures=1000"])
    client, rec, _ = connect(server, auth={"token": TOKEN})
    rec.wait_for(is_ok, timeout=15)
    server.events = rec
    yield server
    client.disconnect()
    assert server.stop() == 0
    out = server.output()
    assert "DEBUG" in out, "the server did log at debug level"
    assert TOKEN not in out and TOKEN.upper() not in out, "the token never appears in the logs"
    assert WRONG not in out, "nor does a presented token"


def state_changing_routes(server):
    doc = requests.get(server.url + "/openapi.json", timeout=10).json()
    return sorted(
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if method.lower() not in ("get", "head", "options")
    )


def metric(server, name) -> float:
    text = requests.get(server.url + "/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def send(server, method, path, authorization, body: bytes):
    """The request as written: several Authorization headers, odd spacing."""
    u = requests.utils.urlparse(server.url)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {u.hostname}", "Connection: close", "Content-Type: image/png"]
    lines += [f"Authorization: {v}" for v in authorization]
    lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((u.hostname, u.port), timeout=15) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = dict(
        (k.strip().lower(), v.strip())
        for k, _, v in (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:])
    )
    return status, headers, payload


def test_the_state_changing_routes_are_known(guarded):
    routes = state_changing_routes(guarded)
    assert ("POST", "/upload") in routes
    doc = requests.get(guarded.url + "/openapi.json", timeout=10).json()
    for method, path in routes:
        assert doc["paths"][path][method.lower()].get("security"), f"{method} {path} is documented as protected"


@pytest.mark.parametrize("authorization", [c for _, c in CREDENTIALS], ids=[n for n, _ in CREDENTIALS])
def test_every_state_changing_route_refuses_bad_credentials(guarded, authorization):
    body = hi.good_png()
    for method, path in state_changing_routes(guarded):
        before = {m: metric(guarded, m) for m in ("histo_upload_bytes_total", "histo_jobs_total")}
        failures = metric(guarded, "histo_auth_failures_total")
        status, headers, payload = send(guarded, method, path, authorization, body)
        assert status == 401, f"{method} {path} with {authorization!r}: {status} {payload[:200]!r}"
        assert headers["www-authenticate"].startswith("Bearer")
        assert headers["content-type"] == "application/json"
        error = json.loads(payload)
        assert error["error"] == "unauthorized" and error["detail"]
        assert TOKEN not in error["detail"] and WRONG not in error["detail"]
        # Nothing was processed: no bytes taken in, no job counted; the
        # failure was.
        assert {m: metric(guarded, m) for m in before} == before
        assert metric(guarded, "histo_auth_failures_total") == failures + 1


def test_the_token_never_leaks_into_events_or_metrics(guarded):
    rec = guarded.events
    # Some of everything: a job, failed logins, a rejected input, a
    # Socket.IO authentication with a wrong token.
    good = requests.post(
        guarded.url + "/upload", data=hi.good_png(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert good.status_code == 200
    job = good.headers["X-Histo-Job-Id"]
    rec.wait_for(lambda n, d: n == "job_progress" and d["job_id"] == job and d["phase"] == "done")
    for token in (WRONG, f"x{TOKEN}"):
        r = requests.post(guarded.url + "/upload", data=b"x", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 401
    r = requests.post(guarded.url + "/upload", data=b"x", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 415
    other, other_rec, _ = connect(guarded)
    try:
        other_rec.wait_for(is_ok, timeout=15)
        assert other.call("authenticate", {"token": WRONG}, timeout=5) == {"ok": False}
        assert other.call("authenticate", {"token": f"{TOKEN} "}, timeout=5) == {"ok": False}
    finally:
        other.disconnect()
    rec.wait_for(lambda n, d: n == "security" and d["kind"] == "rejected_input")
    time.sleep(0.5)
    with rec.lock:
        seen = [(n, d) for _, n, d in rec.events]
    kinds = {n for n, _ in seen}
    assert {"deployment_log", "observability", "job_progress", "security"} <= kinds
    dump = json.dumps(seen)
    assert TOKEN not in dump and WRONG not in dump, "no event carries a token"
    failed = [d for n, d in seen if n == "security" and d["kind"] == "auth_failed"]
    assert len(failed) >= 4, "each failed login is an event (HTTP and Socket.IO)"
    metrics = requests.get(guarded.url + "/metrics", timeout=10).text
    assert "histo_auth_failures_total" in metrics
    assert TOKEN not in metrics and WRONG not in metrics


def test_repeated_failures_are_blocked_even_with_the_right_token(histo_bin, tmp_path):
    server = Server(histo_bin, tmp_path, server_env(HISTO_TOKEN=TOKEN), ["--auth-max-failures=3"])
    try:
        body = hi.good_png()
        for _ in range(3):
            status, _, _ = send(server, "POST", "/upload", [f"Bearer {WRONG}"], body)
            assert status == 401
        status, headers, payload = send(server, "POST", "/upload", [f"Bearer {TOKEN}"], body)
        assert status == 429, payload
        assert json.loads(payload)["error"] == "rate_limited"
        assert 1 <= int(headers["retry-after"]) <= 60
        assert metric(server, "histo_upload_bytes_total") == 0, "nothing was processed"
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200, "open routes still answer"
    finally:
        assert server.stop() == 0
