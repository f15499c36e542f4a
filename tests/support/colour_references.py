"""References for the `lab`, `hsv` and `hsl` modes, written from the rules
in README (scikit-image's colour conversions where it has them), not from
histo's code: the key plane is computed, equalized by the function given
(OpenCV's, or the documented 16-bit rule), and the pixels rebuilt around it.
Alpha is copied through."""

import warnings

import numpy as np
import skimage.color


def _hsv(c, top, equalize_key, dtype):
    new = equalize_key(c.max(-1).astype(dtype)).astype(np.float64)
    hsv = skimage.color.rgb2hsv(c / top)
    hsv[..., 2] = new / top
    return skimage.color.hsv2rgb(hsv) * top


def _hsl(c, top, equalize_key, dtype):
    lightness = (c.max(-1) + c.min(-1)) / 2
    new = equalize_key(np.round(lightness).astype(dtype)).astype(np.float64)  # half to even
    old_distance = np.minimum(lightness, top - lightness)
    new_distance = np.minimum(new, top - new)
    scale = np.divide(new_distance, old_distance, out=np.zeros_like(new), where=old_distance > 0)
    return new[..., None] + (c - lightness[..., None]) * scale[..., None]


def _lab(c, top, equalize_key, dtype):
    lab = skimage.color.rgb2lab(c / top)
    key = np.clip(np.round(lab[..., 0] * top / 100), 0, top).astype(dtype)
    lab[..., 0] = equalize_key(key).astype(np.float64) * 100 / top
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lab2rgb warns when it clips z < 0
        return skimage.color.lab2rgb(lab) * top


MODES = {"hsv": _hsv, "hsl": _hsl, "lab": _lab}


def colour_mode(rgb: np.ndarray, mode: str, equalize_key) -> np.ndarray:
    """`rgb` (H×W×3 or ×4, uint8 or uint16) with its `mode` key replaced by
    `equalize_key(key)`, the colour kept."""
    top = np.iinfo(rgb.dtype).max
    out = MODES[mode](rgb[..., :3].astype(np.float64), top, equalize_key, rgb.dtype)
    result = rgb.copy()
    result[..., :3] = np.clip(np.rint(out), 0, top)
    return result
