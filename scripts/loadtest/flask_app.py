"""The reference stack `histo serve` replaces, for scripts/bench-flask.

A minimal Flask + OpenCV upload endpoint, as the teaching system's web
tier did it: `POST /upload` with `Authorization: Bearer <token>` and the
raw image as the body, answered with the equalized image as PNG. The work
is what histo's default (`mode=auto`, `method=global`) does:

* colour input: BGR -> YCrCb, `equalizeHist` on Y, YCrCb -> BGR
  (histo's `luma` mode; tests/reference checks histo is within ±1 of this);
* gray input: `equalizeHist`.

PNG is encoded with OpenCV's default settings. Run it with one sync
worker per core, as the benchmark does:

    BENCH_TOKEN=secret gunicorn -w 2 -b 127.0.0.1:8000 --chdir scripts/loadtest flask_app:app
"""

import hmac
import os

import cv2
import numpy as np
from flask import Flask, Response, abort, request

TOKEN = os.environ["BENCH_TOKEN"].encode()
MAX_BYTES = 64 * 1024 * 1024  # histo serve's default --max-input-bytes

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = MAX_BYTES


def equalize(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return cv2.equalizeHist(img)
    ycrcb = cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb)
    ycrcb[:, :, 0] = cv2.equalizeHist(ycrcb[:, :, 0])
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)


@app.post("/upload")
def upload():
    auth = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(auth, b"Bearer " + TOKEN):
        abort(401)
    data = np.frombuffer(request.get_data(cache=False), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None or img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        abort(415)  # this reference handles 8-bit gray and BGR only
    ok, png = cv2.imencode(".png", equalize(img))
    if not ok:
        abort(500)
    return Response(png.tobytes(), mimetype="image/png")


@app.get("/healthz")
def healthz():
    return "ok\n"
