"""`histo serve` and `histo healthcheck` as an operator runs them: the
one-time dashboard URL with a generated token, errors on bad token
configuration, graceful shutdown, the answers' PNG settings, and the health
check's exit codes."""

import re
import signal
import socket
import subprocess
import time

import requests

from support.images import noisy_gray_png
from support.process import free_port
from support.serve import TOKEN, Server, server_env


def test_generated_token_is_printed_once_in_the_url_fragment(histo_bin, tmp_path):
    s = Server(histo_bin, tmp_path, server_env())
    try:
        out = s.stdout_path.read_text()
        urls = re.findall(r"(http://127\.0\.0\.1:\d+)/#token=([0-9a-f]{64})\b", out)
        assert len(urls) == 1, out
        base, token = urls[0]
        assert out.count(token) == 1
        ok = requests.get(base + "/api/cluster", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["workers"]
        assert requests.get(base + "/api/cluster", timeout=10).status_code == 401
    finally:
        s.proc.send_signal(signal.SIGINT)
        assert s.proc.wait(timeout=15) == 0, "SIGINT shuts down cleanly"
    assert token not in s.stderr_path.read_text()


def test_token_file_and_bad_configurations(histo_bin, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file-123\n")
    s = Server(histo_bin, tmp_path, server_env(), args=["--token-file", str(token_file)])
    try:
        assert "#token=" not in s.stdout_path.read_text()
        r = requests.get(s.url + "/api/cluster", headers={"Authorization": "Bearer from-a-file-123"}, timeout=10)
        assert r.status_code == 200
    finally:
        assert s.stop() == 0
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_addr = "127.0.0.1:%d" % busy.getsockname()[1]
    for env, args, message in [
        (server_env(HISTO_TOKEN="x"), ["--token-file", str(token_file)], "both set"),
        (server_env(), ["--token-file", str(tmp_path / "missing")], "cannot read token file"),
        (server_env(HISTO_TOKEN="   "), [], "empty"),
        (server_env(HISTO_TOKEN="t"), ["--listen", busy_addr], "cannot listen on"),
        (server_env(HISTO_TOKEN="t"), ["--listen", "256.0.0.1:1"], "invalid value"),
    ]:
        p = subprocess.run([histo_bin, "serve", *args], env=env, capture_output=True, text=True, timeout=20)
        assert p.returncode != 0
        first = p.stderr.strip().splitlines()[0]
        assert first.startswith(("histo: error: ", "error: ")) and message in first, p.stderr
        if first.startswith("histo: error: "):
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "panicked" not in p.stderr
    busy.close()


def test_answers_are_the_local_engines_bytes_at_the_servers_png_settings(histo_bin, tmp_path):
    """Level 1 by default (the command line's is 2), and the flags change it."""
    src = tmp_path / "in.png"
    src.write_bytes(noisy_gray_png(300, 200, seed=5))

    def local(*flags):
        dst = tmp_path / "local.png"
        subprocess.run([histo_bin, "equalize", src, "-o", dst, *flags], check=True, timeout=60)
        return dst.read_bytes()

    def served(*args):
        s = Server(histo_bin, tmp_path, server_env(HISTO_TOKEN=TOKEN), args=args)
        try:
            r = requests.post(s.url + "/upload", data=src.read_bytes(),
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            assert r.status_code == 200, r.text
            return r.content
        finally:
            assert s.stop() == 0

    default = served()
    assert default == local("--png-level", "1", "--png-filter", "sub") != local()
    assert served("--png-level", "9", "--png-filter", "paeth") == local("--png-level", "9", "--png-filter", "paeth")


def test_healthcheck_exit_codes(histo_bin, server):
    ok = subprocess.run([histo_bin, "healthcheck", "--url", server.url + "/healthz"], capture_output=True, timeout=20)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [histo_bin, "healthcheck", "--url", server.url + "/nope"], capture_output=True, text=True, timeout=20
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "404" in missing.stderr
    down = subprocess.run(
        [histo_bin, "healthcheck", "--url", "http://127.0.0.1:9/healthz", "--timeout", "1s"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert down.returncode == 1 and "cannot connect" in down.stderr


def test_metrics_can_be_served_on_a_port_of_their_own(histo_bin, tmp_path):
    """`--metrics-listen`: /metrics there (for a network policy to open to
    the monitoring system only), and nowhere else; the API port keeps the rest."""
    port = free_port()
    s = Server(histo_bin, tmp_path, server_env(HISTO_TOKEN=TOKEN), args=["--metrics-listen", f"127.0.0.1:{port}"])
    try:
        metrics_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                metrics = requests.get(metrics_url + "/metrics", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the metrics port never opened"
                time.sleep(0.1)
        assert metrics.status_code == 200 and "histo_" in metrics.text
        assert requests.get(s.url + "/metrics", timeout=5).status_code == 404
        assert requests.get(metrics_url + "/healthz", timeout=5).status_code == 404
        assert requests.get(metrics_url + "/api/cluster", timeout=5).status_code == 404
        assert requests.get(s.url + "/healthz", timeout=5).status_code == 200
    finally:
        assert s.stop() == 0
