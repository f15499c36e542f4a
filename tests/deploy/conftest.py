"""pytest fixtures for tests/deploy (helpers live in deploy_helpers.py)."""
from __future__ import annotations

import pytest

from deploy_helpers import OVERLAYS, REPO, render_kustomization


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    name = request.param
    return name, render_kustomization(REPO / "k8s" / "overlays" / name)
