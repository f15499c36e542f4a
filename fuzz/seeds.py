"""Writes the seed corpus of the decode_equalize fuzz target: small images of
every format and depth histo reads (PNG gray/gray+alpha/RGB/RGBA/palette,
8 and 16 bit, interlaced; JPEG gray/colour/progressive; TIFF raw, LZW,
deflate, 16-bit; BMP; WebP lossless and lossy), plus a few broken ones
(truncated, huge declared size). Deterministic: the same files every run.

Usage: python fuzz/seeds.py DIR
"""

import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def save(img, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def seeds():
    rng = np.random.default_rng(1)
    g8 = Image.fromarray((rng.integers(0, 48, (12, 20)) + 100).astype("uint8"))
    rgb = Image.fromarray((rng.integers(0, 64, (10, 14, 3)) + 60).astype("uint8"))
    rgba = Image.fromarray(np.dstack([np.asarray(rgb), np.full((10, 14), 200, "uint8")]))
    g16 = Image.fromarray((rng.integers(0, 4000, (9, 11)) + 20000).astype("uint16"))
    yield "gray8.png", save(g8, "PNG")
    yield "gray8-interlaced.png", save(g8, "PNG", interlace=1)
    yield "gray-alpha.png", save(g8.convert("LA"), "PNG")
    yield "rgb.png", save(rgb, "PNG")
    yield "rgba.png", save(rgba, "PNG")
    yield "palette.png", save(rgb.convert("P"), "PNG")
    yield "gray16.png", save(g16, "PNG")
    yield "gray.jpg", save(g8, "JPEG", quality=85)
    yield "rgb.jpg", save(rgb, "JPEG", quality=85)
    yield "rgb-progressive.jpg", save(rgb, "JPEG", quality=85, progressive=True)
    yield "gray8.tif", save(g8, "TIFF")
    yield "rgb-lzw.tif", save(rgb, "TIFF", compression="tiff_lzw")
    yield "rgba-deflate.tif", save(rgba, "TIFF", compression="tiff_adobe_deflate")
    yield "gray16.tif", save(g16, "TIFF")
    yield "rgb.bmp", save(rgb, "BMP")
    yield "gray.bmp", save(g8, "BMP")
    yield "rgb-lossless.webp", save(rgb, "WEBP", lossless=True)
    yield "rgba-lossy.webp", save(rgba, "WEBP", quality=80)
    png = save(g8, "PNG")
    yield "truncated.png", png[: len(png) // 2]
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    yield "bomb-header.png", (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    jpg = save(rgb, "JPEG")
    yield "truncated.jpg", jpg[: len(jpg) * 2 // 3]


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
