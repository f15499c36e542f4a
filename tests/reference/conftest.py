"""A runner for the histo binary under test (`histo_bin`, from tests/conftest.py)."""

import os
import subprocess

import pytest


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
