"""Deterministic test images: low-contrast content that equalization changes."""

import io

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


def png_bytes(pixels: np.ndarray, compress_level: int = 6) -> bytes:
    """An array (gray, or RGB in that order) as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def noisy_gray_png(width=64, height=48, seed=0) -> bytes:
    """A low-contrast gray PNG: uniform noise over 64 levels."""
    rng = np.random.default_rng(seed)
    return png_bytes((rng.integers(0, 64, size=(height, width)) + 80).astype("uint8"))


def tinted_gradient(width: int, height: int) -> np.ndarray:
    """A low-contrast, noisy, warm-tinted RGB picture (the web benchmarks'
    and the dashboard test's image)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    base = 90 + (40 * (x + y) / (width + height)) + rng.integers(0, 12, size=(height, width))
    return np.stack([base + 10, base + 3, base - 8], axis=-1).clip(0, 255).astype("uint8")
