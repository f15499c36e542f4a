"""The Python package's suite: runs in .venv-python against the wheel
`scripts/test python` builds and installs (never against the source tree)."""

from pathlib import Path

import numpy as np
import pytest
import skimage.data


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photos that ship inside scikit-image's wheel (no download)."""
    return {
        name: np.ascontiguousarray(getattr(skimage.data, name)())
        for name in ("camera", "moon", "coins", "page", "astronaut", "coffee", "chelsea")
    }


@pytest.fixture(scope="session")
def gray_photos(photos) -> dict[str, np.ndarray]:
    return {k: v for k, v in photos.items() if v.ndim == 2}


@pytest.fixture(scope="session")
def colour_photos(photos) -> dict[str, np.ndarray]:
    return {k: v for k, v in photos.items() if v.ndim == 3}


@pytest.fixture()
def tmp(tmp_path: Path) -> Path:
    return tmp_path
