"""Fixtures for tests/server: one `histo serve` per test module (the binary
is the shared `histo_bin` fixture of tests/conftest.py)."""

import pytest
from support.serve import TOKEN, Server, server_env


@pytest.fixture(scope="module")
def server(histo_bin, tmp_path_factory):
    """One server per test module, logging at debug level (to check that
    the token never shows up in logs)."""
    tmp = tmp_path_factory.mktemp("serve")
    s = Server(histo_bin, tmp, server_env(HISTO_TOKEN=TOKEN, HISTO_LOG="debug"))
    yield s
    assert s.stop() == 0, "graceful shutdown on SIGTERM exits 0"
    out = s.output()
    assert TOKEN not in out, "the token never appears in logs"
    assert "wrong-pytest-token" not in out, "presented tokens never appear in logs"
