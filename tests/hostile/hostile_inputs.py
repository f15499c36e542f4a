"""Hostile files, made by code: truncated and corrupt PNG/JPEG/TIFF/BMP/WebP,
decompression bombs, huge or zero declared dimensions, things that are not
images, and multipart bodies written by hand (with the tricks a library
would never produce). Nothing here is a committed binary file."""

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _encode(pixels, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **kw)
    return buf.getvalue()


def gray(width=64, height=48, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 64, size=(height, width)) + 80).astype("uint8")


def rgb(width=64, height=48, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 64, size=(height, width, 3)) + 80).astype("uint8")


def good_png(width=64, height=48, seed=0) -> bytes:
    return _encode(gray(width, height, seed), "PNG")


def black_png(width=16, height=16) -> bytes:
    return _encode(np.zeros((height, width), "uint8"), "PNG")


def good_png16(width=16, height=16) -> bytes:
    pixels = (np.arange(width * height).reshape(height, width) * 37 + 20000).astype("uint16")
    return _encode(pixels, "PNG")


def good_jpeg() -> bytes:
    return _encode(rgb(64, 48), "JPEG", quality=90)


def good_tiff() -> bytes:
    return _encode(gray(64, 48), "TIFF")


def good_bmp() -> bytes:
    return _encode(rgb(64, 48), "BMP")


def good_webp() -> bytes:
    return _encode(rgb(64, 48), "WEBP", lossless=True)


def gif() -> bytes:
    return _encode(gray(16, 16), "GIF")


# --- PNG, chunk by chunk ----------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ihdr(width, height, depth=8, color=0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))


def png_of(width, height, idat: bytes, extra=b"", depth=8, color=0) -> bytes:
    return PNG_SIGNATURE + ihdr(width, height, depth, color) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def deflate_zeros(total: int) -> bytes:
    """A zlib stream of `total` zero bytes (about 1/1000 of that), made
    without compressing them all: once the window is full of zeros, every
    further MiB compresses to the same block, so it is repeated; the
    Adler-32 of n zeros is (n mod 65521) << 16 | 1."""
    piece = bytes(1 << 20)
    n, rest = divmod(total, len(piece))
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    blocks = []
    if n:
        blocks.append(z.compress(piece) + z.flush(zlib.Z_SYNC_FLUSH))
    if n > 1:
        blocks.append((z.compress(piece) + z.flush(zlib.Z_SYNC_FLUSH)) * (n - 1))
    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    blocks.append(end.compress(bytes(rest)) + end.flush())
    adler = ((total % 65521) << 16) | 1
    return b"\x78\xda" + b"".join(blocks) + adler.to_bytes(4, "big")


def png_pixel_bomb(width, height) -> bytes:
    """A valid, all-black 8-bit gray PNG: a few KiB that inflate to
    width × height bytes."""
    return png_of(width, height, deflate_zeros((width + 1) * height))


def png_declaring(width, height) -> bytes:
    """A PNG whose header declares a size and whose data is a stub."""
    return png_of(width, height, b"\x78\x9c\x03\x00\x00\x00\x00\x01")


def png_with_chunk_before_idat(kind: bytes, data: bytes) -> bytes:
    """A valid 16×16 gray PNG with one more chunk before its pixels."""
    return png_of(16, 16, zlib.compress(bytes(17 * 16)), extra=chunk(kind, data))


def png_iccp_bomb(inflated: int) -> bytes:
    """16×16 PNG whose iCCP colour profile inflates to `inflated` bytes."""
    return png_with_chunk_before_idat(b"iCCP", b"icc\x00\x00" + deflate_zeros(inflated))


def png_ztxt_bomb(inflated: int) -> bytes:
    """16×16 PNG whose zTXt comment inflates to `inflated` bytes."""
    return png_with_chunk_before_idat(b"zTXt", b"Comment\x00\x00" + deflate_zeros(inflated))


def png_bad_crc() -> bytes:
    data = bytearray(good_png())
    data[29] ^= 0xFF  # the IHDR's CRC (8 signature + 8 length/type + 13 data)
    return bytes(data)


def png_garbage_idat() -> bytes:
    rng = np.random.default_rng(7)
    return png_of(16, 16, b"\x78\x9c" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())


def png_idat_too_short() -> bytes:
    """A 64×64 header whose (valid) zlib stream holds one row only."""
    return png_of(64, 64, zlib.compress(bytes(65)))


# --- JPEG ---------------------------------------------------------------------


def jpeg_with_size(width, height) -> bytes:
    """A valid small JPEG whose frame header (SOF0) is rewritten."""
    data = bytearray(good_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_scan_offset(data: bytes) -> int:
    """Where the entropy-coded data of the first scan starts."""
    sos = data.index(b"\xff\xda")
    return sos + 2 + struct.unpack(">H", data[sos + 2 : sos + 4])[0]


def jpeg_truncated() -> bytes:
    """Cut in the middle of its scan: no end-of-image marker."""
    data = good_jpeg()
    start = jpeg_scan_offset(data)
    return data[: start + (len(data) - start) // 3]


def jpeg_headers_only() -> bytes:
    """Every header up to the start of scan, and not one byte of pixels."""
    data = good_jpeg()
    return data[: jpeg_scan_offset(data)]


# --- TIFF ---------------------------------------------------------------------


def tiff_of(entries, data=b"", ifd_offset=8) -> bytes:
    """Little-endian TIFF: header, one IFD of (tag, type, value) entries
    (types 3 SHORT, 4 LONG), then `data` (the strip)."""
    ifd_size = 2 + 12 * len(entries) + 4
    strip_at = 8 + ifd_size
    out = b"II*\x00" + struct.pack("<I", ifd_offset) + struct.pack("<H", len(entries))
    for tag, kind, value in sorted(entries):
        value = strip_at if value == "strip" else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return out + struct.pack("<I", 0) + data


def tiff_gray(width, height, strip_bytes: bytes, compression=1) -> bytes:
    return tiff_of(
        [
            (256, 4, width),
            (257, 4, height),
            (258, 3, 8),
            (259, 3, compression),
            (262, 3, 1),
            (273, 4, "strip"),
            (277, 3, 1),
            (278, 4, height),
            (279, 4, len(strip_bytes)),
        ],
        strip_bytes,
    )


# --- BMP and WebP -------------------------------------------------------------


def bmp_declaring(width, height, pixel_bytes=b"") -> bytes:
    """24-bit BMP (BITMAPINFOHEADER) with a given declared size."""
    header_size = 14 + 40
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixel_bytes), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", header_size + len(pixel_bytes), 0, 0, header_size) + info + pixel_bytes


def webp_lossless_declaring(width, height) -> bytes:
    """A lossless WebP (VP8L) whose header declares `width`×`height` (at
    most 16384 a side) and whose image data is a stub."""
    bits = (width - 1) | (height - 1) << 14
    vp8l = b"\x2f" + struct.pack("<I", bits) + bytes(16)
    chunk_ = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", 4 + len(chunk_)) + b"WEBP" + chunk_


# --- multipart by hand --------------------------------------------------------

BOUNDARY = "histo-hostile-boundary"


def part(name, body: bytes, filename=None, content_type=None, headers=()) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    lines = [f"Content-Disposition: {disposition}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.extend(headers)
    return f"--{BOUNDARY}\r\n".encode() + "\r\n".join(lines).encode() + b"\r\n\r\n" + body + b"\r\n"


def multipart(*parts: bytes, close=True) -> bytes:
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
