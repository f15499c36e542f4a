"""Shared fixtures: the histo binary under test and a runner for it."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def histo_bin() -> Path:
    path = Path(os.environ.get("HISTO_BIN", ROOT / "target" / "release" / "histo"))
    if not path.is_file():
        pytest.fail(f"histo binary not found at {path}: build it with `cargo build --release`")
    return path


@pytest.fixture
def histo(histo_bin):
    """Runs `histo ARGS...`; returns the CompletedProcess (bytes output)."""

    def run(*args, stdin: bytes | None = None, check: bool = True, env: dict | None = None):
        proc = subprocess.run(
            [str(histo_bin), *map(str, args)],
            input=stdin,
            capture_output=True,
            timeout=120,
            env={**os.environ, **(env or {})},
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"histo {' '.join(map(str, args))} failed: {proc.stderr.decode()}")
        return proc

    return run
