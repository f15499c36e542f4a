"""Fixtures for tests/hostile: a `histo serve` with small, known limits,
started by tests/server's harness (which this directory shares: its
`server_harness` module is put on the import path here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
