"""A corpus of hostile uploads against a real `histo serve` with small limits:
truncated and corrupt images, decompression bombs, huge and zero declared
sizes, things that are not images, multipart tricks, path names with `../`,
oversized bodies, invalid options and malformed HTTP, each answered with
its exact status and a clear JSON error; then slow clients (slowloris),
which are cut off while others are served. At the end the server is alive
and equalizes a good image correctly, its peak memory stayed within what
its limits allow, no file appeared outside its own place, and every
rejected input was a `security` event."""

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
import requests

import hostile_inputs as hi
from support.events import is_ok
from support.serve import ROOT, TOKEN, Server, connect, server_env

# The server's limits: small, so that the memory bound below means something.
MAX_INPUT_BYTES = 1 << 20
MAX_SIDE = 4096
MAX_PIXELS = 1 << 22
MAX_RUNNING = 2
REQUEST_TIMEOUT = 3  # seconds, for a body; headers get min(this, 10 s)
ARGS = [
    f"--max-input-bytes={MAX_INPUT_BYTES}",
    f"--max-width={MAX_SIDE}",
    f"--max-height={MAX_SIDE}",
    f"--max-pixels={MAX_PIXELS}",
    f"--max-running={MAX_RUNNING}",
    "--max-queued=8",
    f"--request-timeout={REQUEST_TIMEOUT}s",
    # The corpus has a few token failures of its own; the limiter is
    # tested in test_auth_and_secrets.py.
    "--auth-max-failures=1000",
]

# Marks every file name an upload proposes, so that a file written under
# such a name can be found anywhere.
MARK = f"evil-{uuid.uuid4().hex[:12]}"

RESULTS = {}


@pytest.fixture(scope="module")
def hostile(histo_bin, tmp_path_factory):
    """The server under attack, run from an empty working directory with a
    TMPDIR of its own, logging at debug level; and an authenticated
    Socket.IO client recording its events."""
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "cwd").mkdir()
    (tmp / "tmp").mkdir()
    env = server_env(HISTO_TOKEN=TOKEN, HISTO_LOG="debug", TMPDIR=str(tmp / "tmp"))
    server = Server(histo_bin, tmp, env, ARGS, cwd=tmp / "cwd")
    server.tmp = tmp
    server.tmp_before = {p.name for p in Path("/tmp").iterdir()}
    assert post(server, hi.good_png()).status == 200, "a good upload works before the attack"
    server.baseline_kib = server.memory_kib("VmRSS")
    client, rec, _ = connect(server, auth={"token": TOKEN})
    rec.wait_for(is_ok, timeout=15)
    server.events = rec
    yield server
    client.disconnect()
    assert server.stop() == 0, "graceful shutdown on SIGTERM exits 0"
    out = server.output()
    assert TOKEN not in out, "the token never appears in the logs"
    assert "panicked" not in out, out[-4000:]


# --- sending --------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def post(server, body=b"", query="", headers=None, token=TOKEN, files=None) -> Answer:
    h = {"Authorization": f"Bearer {token}"} if token is not None else {}
    h.update(headers or {})
    r = requests.post(f"{server.url}/upload{query}", data=body, headers=h, files=files, timeout=30)
    return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)


def form(server, body: bytes, content_type=hi.MULTIPART_TYPE) -> Answer:
    return post(server, body, headers={"Content-Type": content_type})


def address(server):
    u = urlsplit(server.url)
    return u.hostname, u.port


def raw(server, head: bytes, body_parts=(), pause=0.0, timeout=15.0) -> Answer:
    """One request over a socket of its own, written as given (so it can be
    malformed), body in pieces with a pause between them; reads the answer
    to the end (requests here say `Connection: close`)."""
    with socket.create_connection(address(server), timeout=timeout) as s:
        s.sendall(head)
        for piece in body_parts:
            try:
                s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered early and closed
            if pause:
                time.sleep(pause)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return parse_answer(data)


def parse_answer(data: bytes) -> Answer:
    if not data:
        return Answer(0, {}, b"")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2 :]
        body = out
    return Answer(status, headers, body)


def request_head(method="POST", path="/upload", headers=(), token=TOKEN) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: histo", "Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(data: bytes, size=16384):
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


# --- the corpus -----------------------------------------------------------


@dataclass
class Case:
    id: str
    send: Callable[[Server], Answer]
    status: int
    # The JSON `error` code; None where hyper refuses the request before
    # histo sees it (malformed HTTP), which has no JSON body.
    error: Optional[str]
    # Something the detail must say, to be clear about what was wrong.
    says: str = ""


def raw_png(data_fn, query=""):
    return lambda s: post(s, data_fn(), query)


GOOD = hi.good_png()
TINY = hi.good_png(16, 16)
UNDECODABLE = "undecodable_image"
TOO_LARGE = "image_too_large"
NOT_IMAGE = "unsupported_media_type"
BAD = "bad_request"


def many_fields(n):
    return hi.multipart(*[hi.part(f"x{i}", b"1") for i in range(n)], hi.part("file", TINY, "a.png"))


CASES = [
    # Truncated and corrupt images: 422, the decoder's reason in the detail.
    Case("png-truncated-half", raw_png(lambda: GOOD[: len(GOOD) // 2]), 422, UNDECODABLE, "png"),
    Case("png-signature-only", raw_png(lambda: hi.PNG_SIGNATURE), 422, UNDECODABLE, "png"),
    Case(
        "png-header-no-pixels",
        raw_png(lambda: hi.PNG_SIGNATURE + hi.ihdr(16, 16) + hi.chunk(b"IEND", b"")),
        422,
        UNDECODABLE,
        "png",
    ),
    Case("png-bad-crc", raw_png(hi.png_bad_crc), 422, UNDECODABLE, "png"),
    Case("png-garbage-idat", raw_png(hi.png_garbage_idat), 422, UNDECODABLE, "png"),
    Case("png-idat-too-short", raw_png(hi.png_idat_too_short), 422, UNDECODABLE, "png"),
    Case("jpeg-truncated-scan", raw_png(hi.jpeg_truncated), 422, UNDECODABLE, "jpeg"),
    Case("jpeg-headers-only", raw_png(hi.jpeg_headers_only), 422, UNDECODABLE, "jpeg"),
    Case("jpeg-soi-only", raw_png(lambda: b"\xff\xd8\xff"), 422, UNDECODABLE, "jpeg"),
    Case("tiff-truncated-half", raw_png(lambda: (t := hi.good_tiff())[: len(t) // 2]), 422, UNDECODABLE, "tiff"),
    Case("tiff-ifd-past-end", raw_png(lambda: b"II*\x00\x00\xff\xff\xff"), 422, UNDECODABLE, "tiff"),
    Case("tiff-strip-past-end", raw_png(lambda: hi.tiff_gray(16, 16, b"\x80" * 10)), 422, UNDECODABLE, "tiff"),
    Case("bmp-truncated-pixels", raw_png(lambda: hi.bmp_declaring(64, 64, bytes(100))), 422, UNDECODABLE, "bmp"),
    Case("webp-truncated-half", raw_png(lambda: (w := hi.good_webp())[: len(w) // 2]), 422, UNDECODABLE, "webp"),
    # Bombs and absurd sizes: refused from the header (422), never allocated.
    Case("png-declares-100000x100000", raw_png(lambda: hi.png_declaring(100_000, 100_000)), 422, TOO_LARGE, "limit"),
    Case("png-declares-2^31-1x1", raw_png(lambda: hi.png_declaring(2**31 - 1, 1)), 422, TOO_LARGE, "limit"),
    Case("png-pixel-bomb-8mpx", raw_png(lambda: hi.png_pixel_bomb(4096, 2048)), 422, TOO_LARGE, "limit"),
    Case("jpeg-declares-65000x65000", raw_png(lambda: hi.jpeg_with_size(65000, 65000)), 422, TOO_LARGE, "limit"),
    Case(
        "tiff-declares-1e6x1e6",
        raw_png(lambda: hi.tiff_gray(1_000_000, 1_000_000, bytes(16))),
        422,
        TOO_LARGE,
        "limit",
    ),
    Case("bmp-declares-30000x30000", raw_png(lambda: hi.bmp_declaring(30000, 30000)), 422, TOO_LARGE, "limit"),
    Case("webp-declares-16384x16384", raw_png(lambda: hi.webp_lossless_declaring(16384, 16384)), 422, TOO_LARGE, "limit"),
    # Zero-size.
    Case("png-zero-width", raw_png(lambda: hi.png_declaring(0, 16)), 422, UNDECODABLE, "png"),
    Case("jpeg-zero-width", raw_png(lambda: hi.jpeg_with_size(0, 48)), 422, UNDECODABLE, "jpeg"),
    Case("bmp-height-int-min", raw_png(lambda: hi.bmp_declaring(16, -(2**31))), 422, UNDECODABLE, "bmp"),
    Case("empty-body", lambda s: post(s, b""), 415, NOT_IMAGE, "empty"),
    Case(
        "multipart-empty-file",
        lambda s: form(s, hi.multipart(hi.part("file", b"", "in.png", "image/png"))),
        415,
        NOT_IMAGE,
        "empty",
    ),
    # Not images, whatever the request says they are.
    Case(
        "text-labelled-png",
        lambda s: post(s, b"hello, world", headers={"Content-Type": "image/png"}),
        415,
        NOT_IMAGE,
        "not a supported image",
    ),
    Case("gif", raw_png(hi.gif), 415, NOT_IMAGE, "not a supported image"),
    Case(
        "svg-with-script",
        lambda s: post(s, b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                       headers={"Content-Type": "image/svg+xml"}),
        415,
        NOT_IMAGE,
        "not a supported image",
    ),
    Case("pdf", raw_png(lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"), 415, NOT_IMAGE, "not a supported image"),
    Case("elf-binary", raw_png(lambda: b"\x7fELF\x02\x01\x01" + bytes(200)), 415, NOT_IMAGE, "not a supported image"),
    Case(
        "gzip-content-encoding-not-inflated",
        lambda s: post(s, hi.deflate_zeros(1 << 24), headers={"Content-Encoding": "deflate"}),
        415,
        NOT_IMAGE,
        "not a supported image",
    ),
    Case(
        "multipart-part-type-lies",
        lambda s: form(s, hi.multipart(hi.part("file", b"#!/bin/sh\nrm -rf /\n", "x.png", "image/png"))),
        415,
        NOT_IMAGE,
        "not a supported image",
    ),
    # Multipart tricks: 400 for a form that is not one, or is ambiguous.
    Case("multipart-no-boundary", lambda s: form(s, hi.multipart(hi.part("file", TINY, "a.png")),
                                                 "multipart/form-data"), 400, BAD, "multipart"),
    Case(
        "multipart-wrong-boundary",
        lambda s: form(s, hi.multipart(hi.part("file", TINY, "a.png")), "multipart/form-data; boundary=other"),
        400,
        BAD,
        "multipart",
    ),
    Case(
        "multipart-unterminated",
        lambda s: form(s, hi.multipart(hi.part("file", TINY, "a.png"), close=False)[:-40]),
        400,
        BAD,
        "multipart",
    ),
    Case("multipart-no-file-field", lambda s: form(s, hi.multipart(hi.part("mode", b"gray"))), 400, BAD, "'file'"),
    Case(
        "multipart-two-file-fields",
        lambda s: form(s, hi.multipart(hi.part("file", TINY, "a.png"), hi.part("file", b"other", "b.png"))),
        400,
        BAD,
        "'file'",
    ),
    Case(
        "multipart-two-match-fields",
        lambda s: form(s, hi.multipart(hi.part("match", TINY, "r.png"), hi.part("match", TINY, "s.png"),
                                       hi.part("file", TINY, "a.png"))),
        400,
        BAD,
        "'match'",
    ),
    Case(
        "match-not-an-image",
        lambda s: form(s, hi.multipart(hi.part("match", b"not an image", "r.png"), hi.part("file", TINY, "a.png"))),
        415,
        "unsupported_media_type",
        "not a supported image",
    ),
    Case(
        "match-with-clahe",
        lambda s: form(s, hi.multipart(hi.part("match", TINY, "r.png"), hi.part("method", b"clahe"),
                                       hi.part("file", TINY, "a.png"))),
        422,
        "invalid_options",
        "global method",
    ),
    Case(
        "mask-of-another-size",
        lambda s: form(s, hi.multipart(hi.part("mask", GOOD, "m.png"), hi.part("file", TINY, "a.png"))),
        422,
        "invalid_options",
        "the image's size",
    ),
    Case(
        "mask-empty",
        lambda s: form(s, hi.multipart(hi.part("mask", hi.black_png(), "m.png"),
                                       hi.part("file", TINY, "a.png"))),
        422,
        "invalid_options",
        "empty",
    ),
    Case(
        "mask-not-an-image",
        lambda s: form(s, hi.multipart(hi.part("mask", b"not an image", "m.png"), hi.part("file", TINY, "a.png"))),
        415,
        "unsupported_media_type",
        "not a supported image",
    ),
    Case("mask-apply-without-mask", raw_png(lambda: GOOD, "?mask_apply=inside"), 400, BAD, "'mask'"),
    Case(
        "mask-apply-unknown",
        lambda s: form(s, hi.multipart(hi.part("mask", TINY, "m.png"), hi.part("mask_apply", b"outside"),
                                       hi.part("file", TINY, "a.png"))),
        400,
        BAD,
        "inside",
    ),
    Case(
        "multipart-two-mode-fields",
        lambda s: form(s, hi.multipart(hi.part("mode", b"gray"), hi.part("mode", b"rgb"), hi.part("file", TINY, "a.png"))),
        400,
        BAD,
        "'mode'",
    ),
    Case(
        "multipart-option-too-long",
        lambda s: form(s, hi.multipart(hi.part("mode", b"g" * 5000), hi.part("file", TINY, "a.png"))),
        400,
        BAD,
        "too long",
    ),
    Case("multipart-5000-fields", lambda s: form(s, many_fields(5000)), 400, BAD, "fields"),
    Case(
        "multipart-field-name-traversal",
        lambda s: form(s, hi.multipart(hi.part("../file", TINY, "a.png"))),
        400,
        BAD,
        "field",
    ),
    Case(
        "multipart-filename-traversal-not-image",
        lambda s: form(s, hi.multipart(hi.part("file", b"#!/bin/sh\n", f"../../../{MARK}.sh"))),
        415,
        NOT_IMAGE,
        "not a supported image",
    ),
    # Too large: 413, from Content-Length before reading, or while reading.
    Case(
        "declared-length-over-limit",
        lambda s: raw(s, request_head(headers=[f"Content-Length: {MAX_INPUT_BYTES + 1}"])),
        413,
        "payload_too_large",
        "limit",
    ),
    Case(
        "declared-length-petabyte",
        lambda s: raw(s, request_head(headers=["Content-Length: 1000000000000000"])),
        413,
        "payload_too_large",
        "limit",
    ),
    Case(
        "expect-100-continue-over-limit",
        lambda s: raw(s, request_head(headers=["Expect: 100-continue", f"Content-Length: {10 * MAX_INPUT_BYTES}"])),
        413,
        "payload_too_large",
        "limit",
    ),
    Case(
        "chunked-body-over-limit",
        lambda s: raw(s, request_head(headers=["Transfer-Encoding: chunked"]),
                      chunked(GOOD + bytes(MAX_INPUT_BYTES))),
        413,
        "payload_too_large",
        "limit",
    ),
    Case(
        "multipart-declared-over-limit",
        lambda s: raw(s, request_head(headers=[f"Content-Type: {hi.MULTIPART_TYPE}",
                                               f"Content-Length: {MAX_INPUT_BYTES + 100_000}"])),
        413,
        "payload_too_large",
        "limit",
    ),
    Case(
        "multipart-chunked-file-over-limit",
        lambda s: raw(
            s,
            request_head(headers=[f"Content-Type: {hi.MULTIPART_TYPE}", "Transfer-Encoding: chunked"]),
            chunked(hi.multipart(hi.part("file", GOOD + bytes(MAX_INPUT_BYTES), "a.png"))),
        ),
        413,
        "payload_too_large",
        "limit",
    ),
    # Invalid options: 400 naming the option.
    Case("mode-unknown", raw_png(lambda: GOOD, "?mode=sepia"), 400, BAD, "mode"),
    Case("method-unknown", raw_png(lambda: GOOD, "?method=magic"), 400, BAD, "method"),
    Case("clip-limit-nan", raw_png(lambda: GOOD, "?method=clahe&clip_limit=NaN"), 400, BAD, "clip"),
    Case("clip-limit-negative", raw_png(lambda: GOOD, "?method=clahe&clip_limit=-1"), 400, BAD, "clip"),
    Case("clip-limit-infinite", raw_png(lambda: GOOD, "?method=clahe&clip_limit=1e999"), 400, BAD, "clip"),
    Case("tiles-zero", raw_png(lambda: GOOD, "?method=clahe&tiles=0x8"), 400, BAD, "tile"),
    Case("tiles-over-max", raw_png(lambda: GOOD, "?method=clahe&tiles=257x1"), 400, BAD, "tile"),
    Case("tiles-not-cxr", raw_png(lambda: GOOD, "?method=clahe&tiles=8"), 400, BAD, "tile"),
    # Checked whatever the method: the global method does not read them.
    Case("clip-limit-negative-global", raw_png(lambda: GOOD, "?clip_limit=-3"), 400, BAD, "clip"),
    Case("tiles-zero-global", raw_png(lambda: GOOD, "?method=global&tiles=0x99999"), 400, BAD, "tile"),
    Case("clip-limit-with-global", raw_png(lambda: GOOD, "?clip_limit=3"), 400, BAD, "CLAHE setting"),
    Case("tiles-with-global", raw_png(lambda: GOOD, "?method=global&tiles=4x4"), 400, BAD, "CLAHE setting"),
    Case("colour-mode-on-gray", raw_png(lambda: GOOD, "?mode=lab"), 422, "invalid_options", "colour image"),
    Case("format-unknown", raw_png(lambda: GOOD, "?format=gif"), 400, BAD, "format"),
    Case("format-path", raw_png(lambda: GOOD, "?format=../../etc/passwd"), 400, BAD, "format"),
    Case("query-invalid-utf8", raw_png(lambda: GOOD, "?mode=%FF%FE"), 400, BAD, "mode"),
    Case("query-mode-twice", raw_png(lambda: GOOD, "?mode=gray&mode=rgb"), 400, BAD, "mode"),
    # Tile grids whose tables would outweigh the image (a 16x16 16-bit image
    # with 256x256 tiles asks for 32 GiB of histograms): 422.
    Case("tiles-256x256-on-16x16", raw_png(lambda: TINY, "?method=clahe&tiles=256x256"), 422, "invalid_options", "too fine"),
    Case(
        "tiles-256x256-on-16x16-16bit",
        raw_png(hi.good_png16, "?method=clahe&tiles=256x256"),
        422,
        "invalid_options",
        "too fine",
    ),
    Case("tiles-16x16-on-16bit", raw_png(hi.good_png16, "?method=clahe&tiles=16x16"), 422, "invalid_options", "65536"),
    # No token: refused before the body is read (tests/hostile/test_auth_and_secrets.py has every variant).
    Case("no-token", lambda s: post(s, GOOD, token=None), 401, "unauthorized", "missing"),
    Case("token-in-query", lambda s: post(s, GOOD, f"?token={TOKEN}", token=None), 401, "unauthorized", "missing"),
    # Malformed HTTP: hyper answers before histo sees a request (no JSON).
    Case(
        "content-length-not-a-number",
        lambda s: raw(s, request_head(headers=["Content-Length: 12abc"])),
        400,
        None,
    ),
    Case(
        "transfer-encoding-not-chunked",
        lambda s: raw(s, request_head(headers=["Transfer-Encoding: gzip"])),
        400,
        None,
    ),
    Case(
        "header-of-1mib",
        lambda s: raw(s, request_head(headers=["X-Junk: " + "a" * (1 << 20)])),
        431,
        None,
    ),
    Case(
        "path-traversal-in-url",
        lambda s: raw(s, request_head(path="/upload/../../etc/passwd", headers=["Content-Length: 0"])),
        404,
        "not_found",
        "route",
    ),
    # Content-Length and chunked at once (request smuggling): chunked wins,
    # so the body is "hello", not empty.
    Case(
        "content-length-and-chunked",
        lambda s: raw(s, request_head(headers=["Content-Length: 0", "Transfer-Encoding: chunked"]),
                      chunked(b"hello")),
        415,
        NOT_IMAGE,
        "not a supported image",
    ),
]

# Hostile, but harmless: the answer is the equalized image, and the server
# spends no more than its limits on it.
HARMLESS = [
    ("filename-traversal", lambda s: form(s, hi.multipart(hi.part("file", TINY, f"../../{MARK}.png")))),
    ("filename-absolute", lambda s: form(s, hi.multipart(hi.part("file", TINY, f"/tmp/{MARK}.png")))),
    ("filename-backslashes", lambda s: form(s, hi.multipart(hi.part("file", TINY, f"..\\..\\{MARK}.png")))),
    ("png-labelled-text", lambda s: post(s, TINY, headers={"Content-Type": "text/plain"})),
    # A colour profile and a comment that inflate to 512 MiB each: the
    # decoder caps the profile at its allocation limit and never inflates
    # the comment.
    ("png-iccp-bomb-512mib", raw_png(lambda: hi.png_iccp_bomb(512 << 20))),
    ("png-ztxt-bomb-512mib", raw_png(lambda: hi.png_ztxt_bomb(512 << 20))),
    # A strip whose deflate stream goes on far past the image.
    ("tiff-strip-inflates-past-its-size", raw_png(lambda: hi.tiff_gray(16, 16, hi.deflate_zeros(256 << 20), 8))),
    ("unknown-query-parameter", raw_png(lambda: TINY, "?evil=../../x&mode=auto")),
    # More CLAHE tiles than the image has pixels, within the default 8x8:
    # OpenCV pads the image, and so does histo.
    ("tiles-8x8-on-3x2", raw_png(lambda: hi.good_png(3, 2), "?method=clahe&tiles=8x8")),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_upload_is_refused(hostile, case):
    answer = case.send(hostile)
    RESULTS[case.id] = answer
    assert answer.status == case.status, f"{case.id}: {answer.status} {answer.body[:300]!r}"
    if case.error is None:
        return
    assert answer.headers.get("content-type") == "application/json", answer.headers
    body = answer.json()
    assert body["error"] == case.error, body
    detail = body["detail"]
    assert isinstance(detail, str) and 0 < len(detail) <= 300, body
    assert case.says.lower() in detail.lower(), f"{case.id}: the detail says {case.says!r}: {detail!r}"
    if case.status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("send", [s for _, s in HARMLESS], ids=[i for i, _ in HARMLESS])
def test_harmless_hostile_upload_is_equalized(hostile, send):
    answer = send(hostile)
    assert answer.status == 200, answer.body[:300]
    image = cv2.imdecode(np.frombuffer(answer.body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape[:2] in ((16, 16), (2, 3))
    assert MARK not in json.dumps(answer.headers), "the proposed file name is not echoed"


# --- slow clients ---------------------------------------------------------


def closed_within(server, head: bytes, seconds: float, trickle: bytes = b"", every=0.5) -> float:
    """Sends `head`, then `trickle` a byte at a time; returns how long the
    server took to close the connection (fails past `seconds`)."""
    started = time.monotonic()
    with socket.create_connection(address(server), timeout=seconds) as s:
        s.sendall(head)
        s.settimeout(every)
        for byte in trickle:
            try:
                s.sendall(bytes([byte]))
                if s.recv(65536) == b"":
                    return time.monotonic() - started
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            assert time.monotonic() - started < seconds, "still open"
        s.settimeout(max(0.1, seconds - (time.monotonic() - started)))
        try:
            while s.recv(65536):
                pass
        except socket.timeout:
            pytest.fail(f"the server kept the connection open past {seconds}s")
        except ConnectionResetError:
            pass
    return time.monotonic() - started


HEADER_TIMEOUT = min(REQUEST_TIMEOUT, 10)
SLACK = 3.0

SLOW = [
    ("silent-connection", b"", b""),
    ("three-bytes-then-silence", b"POS", b""),
    ("http2-preface-then-silence", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b""),
    ("headers-trickled", b"POST /upload HTTP/1.1\r\n", b"Host: histo\r\nX-Slow: " + b"a" * 200),
    ("request-line-trickled", b"", b"POST /upload HTTP/1.1\r\nHost: histo\r\n" * 3),
]


@pytest.mark.parametrize("first,trickle", [(f, t) for _, f, t in SLOW], ids=[i for i, _, _ in SLOW])
def test_slow_headers_are_cut_off(hostile, first, trickle):
    took = closed_within(hostile, first, HEADER_TIMEOUT + SLACK, trickle, every=0.3)
    assert took >= HEADER_TIMEOUT - 0.5 or trickle == b"", f"closed after {took:.1f}s"


def test_slow_bodies_get_408_while_others_are_served(hostile):
    """Stalled and trickled bodies are answered 408 after the request
    timeout; meanwhile the server answers everyone else promptly."""
    length = 50_000
    head = request_head(headers=[f"Content-Length: {length}", "Content-Type: image/png"])
    results = {}

    def stalled():
        results["stalled"] = raw(hostile, head, [GOOD[:100]], timeout=REQUEST_TIMEOUT + 10)

    def trickled():
        # One byte every 100 ms: 50 KB would take well over an hour.
        results["trickled"] = raw(hostile, head, (bytes([b]) for b in GOOD), pause=0.1, timeout=REQUEST_TIMEOUT + 10)

    def idle_connections():
        # Many connections that never say anything, all at once.
        socks = [socket.create_connection(address(hostile)) for _ in range(50)]
        time.sleep(HEADER_TIMEOUT + SLACK)
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                closed += s.recv(1) == b""
            except (socket.timeout, ConnectionResetError):
                closed += 0
            s.close()
        results["idle_closed"] = closed

    threads = [threading.Thread(target=f) for f in (stalled, trickled, idle_connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    # While they hang on, others are served at once.
    latencies = []
    while time.monotonic() - started < REQUEST_TIMEOUT - 0.5:
        t0 = time.monotonic()
        assert requests.get(hostile.url + "/healthz", timeout=5).status_code == 200
        latencies.append(time.monotonic() - t0)
        time.sleep(0.1)
    assert post(hostile, TINY).status == 200, "a good upload is served meanwhile"
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT + SLACK + 10)
    assert max(latencies) < 1.0, f"healthz latencies {latencies}"
    for name in ("stalled", "trickled"):
        answer = results[name]
        assert answer.status == 408, f"{name}: {answer}"
        assert answer.json()["error"] == "request_timeout"
        assert f"{REQUEST_TIMEOUT}s" in answer.json()["detail"]
    took = time.monotonic() - started
    assert took < REQUEST_TIMEOUT + SLACK + 10, f"{took:.1f}s"
    assert results["idle_closed"] == 50, "every idle connection was closed"


# --- after the attack -------------------------------------------------------


def expected_equalized(png_bytes):
    gray = cv2.imdecode(np.frombuffer(png_bytes, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.equalizeHist(gray)


def files_named(root: Path, mark: str, depth: int):
    """Paths under `root` (down to `depth` levels) whose name has `mark`."""
    found = []
    if depth < 0 or not root.is_dir():
        return found
    try:
        entries = list(root.iterdir())
    except PermissionError:
        return found
    for p in entries:
        if mark in p.name:
            found.append(p)
        if p.is_dir() and not p.is_symlink():
            found.extend(files_named(p, mark, depth - 1))
    return found


def test_after_the_corpus_the_server_is_alive_bounded_and_wrote_nothing(hostile):
    missing = [c.id for c in CASES if c.id not in RESULTS]
    if missing:
        pytest.skip(f"the corpus did not run in full here (missing {missing[:3]}...)")
    # Alive, and right.
    assert requests.get(hostile.url + "/healthz", timeout=5).json()["status"] == "ok"
    answer = post(hostile, GOOD)
    assert answer.status == 200
    out = cv2.imdecode(np.frombuffer(answer.body, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(out, expected_equalized(GOOD))

    # Memory: the peak resident set stayed within what the limits allow for
    # the jobs that may run at once: per job, the body (twice: as read, as
    # handed to the job), the decoder's allocation cap (8 bytes a pixel
    # plus 64 MiB, the codec's `Limits::max_alloc`) and three more images
    # of 16-bit RGBA (the decoded one, the equalized one, the output being
    # encoded). Without the limits, one bomb of the corpus alone declares
    # 10^10 pixels, and the iCCP bomb inflates to 512 MiB.
    mib = 1 << 20
    image = MAX_PIXELS * 8
    per_job = 2 * MAX_INPUT_BYTES + (image + 64 * mib) + 3 * image
    bound_kib = hostile.baseline_kib + (MAX_RUNNING * per_job + 64 * mib) // 1024
    peak_kib = hostile.memory_kib("VmHWM")
    print(f"peak RSS {peak_kib // 1024} MiB, baseline {hostile.baseline_kib // 1024} MiB, bound {bound_kib // 1024} MiB")
    assert peak_kib <= bound_kib, f"peak RSS {peak_kib} KiB over {bound_kib} KiB"

    # Nothing written: the working directory is still empty, and no file
    # named after an upload appeared here, in /tmp, in the repository or
    # at the root of the file system.
    assert list((hostile.tmp / "cwd").iterdir()) == []
    found = files_named(hostile.tmp.parent, MARK, 4) + files_named(Path("/tmp"), MARK, 1)
    found += files_named(ROOT, MARK, 1) + files_named(Path("/"), MARK, 0)
    assert found == [], found
    new_in_tmp = {p.name for p in Path("/tmp").iterdir()} - hostile.tmp_before
    assert not any(name.startswith(("histo", MARK)) for name in new_in_tmp), new_in_tmp
    # Its temporary directory holds its upload spool, and nothing is left
    # in that.
    spools = os.listdir(hostile.tmp / "tmp")
    assert len(spools) == 1 and spools[0].startswith("histo-spool-"), spools
    assert os.listdir(hostile.tmp / "tmp" / spools[0]) == [], "every spooled upload was removed"

    # Every rejected input (413, 415, 422) was a security event naming the
    # client and what was wrong, never the token.
    want = {}
    for c in CASES:
        if c.status in (413, 415, 422):
            key = f"{c.status} {c.error}"
            want[key] = want.get(key, 0) + 1
    events = hostile.events

    def rejected():
        got = {}
        for _, d in events.of("security"):
            if d["kind"] == "rejected_input":
                key = " ".join(d["detail"].split(":")[0].split()[:2])
                got[key] = got.get(key, 0) + 1
        return got

    deadline = time.monotonic() + 5
    while rejected() != want and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rejected() == want
    for _, d in events.of("security"):
        assert d["client"] == "127.0.0.1"
        assert TOKEN not in json.dumps(d)
