"""Fixtures every Python test suite shares: the histo binary under test.

pytest puts this folder (`tests/`, the rootdir conftest's) on the import
path, which makes the shared `support` package importable from every suite."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def histo_bin() -> Path:
    """$HISTO_BIN, or the release build (scripts/test builds it first)."""
    path = Path(os.environ.get("HISTO_BIN", ROOT / "target" / "release" / "histo"))
    if not path.is_file():
        pytest.fail(f"histo binary not found at {path}: build it with `cargo build --release`")
    return path
