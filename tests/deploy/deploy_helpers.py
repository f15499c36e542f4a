"""Shared helpers for the deployment tests (tests/deploy).

Everything here works offline: HCL is parsed with python-hcl2, YAML with
PyYAML, kustomizations are rendered with a real kustomize (``kubectl
kustomize`` or ``kustomize build``) found on PATH.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
OVERLAYS = ("laptop", "baremetal")


def load_yaml_docs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def load_schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def kustomize_command(directory: Path) -> list[str] | None:
    """A real kustomize invocation for `directory`, or None if none is installed."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(directory)]
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(directory)]
    return None


def render_kustomization(directory: Path) -> list[dict]:
    cmd = kustomize_command(directory)
    if cmd is None:
        pytest.fail("no kustomize renderer on PATH (need kubectl or kustomize)")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]
