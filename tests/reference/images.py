"""Deterministic test images: low-contrast content that equalization changes."""

import numpy as np


def low_contrast_gray(h: int, w: int, seed: int = 0, lo: int = 60, hi: int = 140) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = (np.sin(x / 23.0) + np.cos(y / 17.0) + 2) / 4  # 0..1, smooth
    noise = rng.normal(0, 0.08, (h, w))
    img = lo + (hi - lo) * np.clip(base + noise, 0, 1)
    return img.astype(np.uint8)


def low_contrast_color(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A BGR image (OpenCV's channel order)."""
    return np.dstack([low_contrast_gray(h, w, seed + i, 40 + 20 * i, 120 + 30 * i) for i in range(3)])


def gray16(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = low_contrast_gray(h, w, seed).astype(np.uint32) * 64 + 9000
    return (base + rng.integers(0, 64, (h, w))).astype(np.uint16)
