"""Upload bodies past a megabyte wait in the spool directory, not in
memory: the answer is the same as from memory, and the file is gone on
every path (answered, refused, client gone, and at start after a crash)."""

import socket
import subprocess

import cv2
import numpy as np
import requests

from support.images import low_contrast_gray
from support.process import wait_until
from support.serve import TOKEN, Server, server_env

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def spooled(spool):
    return sorted(p.name for p in spool.iterdir())


def test_large_uploads_are_spooled_answered_and_removed(histo_bin, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    # What a process that died left, and files that are not its to remove.
    (spool / "upload-4294967295-00ab-0").write_bytes(b"left by a crash")
    (spool / "upload-1-00ab-0").write_bytes(b"pid 1 is running")
    (spool / "notes.txt").write_bytes(b"not an upload")
    s = Server(histo_bin, tmp_path, server_env(HISTO_TOKEN=TOKEN), args=["--spool-dir", spool])
    try:
        kept = ["notes.txt", "upload-1-00ab-0"]
        assert spooled(spool) == kept, "the crash's file is removed at start"

        # Noise keeps the PNG past a megabyte, so the body goes to a file.
        img = np.random.default_rng(3).integers(40, 160, (1400, 1100), dtype=np.uint8)
        src = tmp_path / "big.png"
        cv2.imwrite(str(src), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert src.stat().st_size > 1 << 20
        want = subprocess.run(
            [histo_bin, "equalize", src, "-o", tmp_path / "local.png", "--png-level", "1", "--png-filter", "sub"], check=True, timeout=60
        )
        assert want.returncode == 0
        for send in (
            lambda: requests.post(s.url + "/upload", data=src.read_bytes(), headers=AUTH, timeout=60),
            lambda: requests.post(s.url + "/upload", files={"file": src.read_bytes()}, headers=AUTH, timeout=60),
        ):
            r = send()
            assert r.status_code == 200, r.text
            assert r.content == (tmp_path / "local.png").read_bytes()
            assert spooled(spool) == kept

        garbage = bytes(range(256)) * 8192
        r = requests.post(s.url + "/upload", data=garbage, headers=AUTH, timeout=60)
        assert r.status_code == 415, r.text
        assert spooled(spool) == kept, "a refused upload leaves nothing"

        # A client that sends 3 of the 8 MB it announced, then goes.
        port = int(s.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(
                b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {8 << 20}\r\n\r\n".encode()
                + src.read_bytes()[: 3 << 20]
            )
            wait_until(lambda: len(spooled(spool)) == 3, timeout=10, what="the upload is spooled")
        wait_until(lambda: spooled(spool) == kept, timeout=10, what="the client's file is removed")

        # The spooled input is read a strip at a time: a gray photo-sized
        # JPEG gives OpenCV's decode, equalized.
        gray = low_contrast_gray(1500, 1200, 4)
        ok, jpeg = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 100])
        assert ok and len(jpeg) > 1 << 20
        r = requests.post(s.url + "/upload?format=png", data=jpeg.tobytes(), headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text
        out = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(out, cv2.equalizeHist(cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)))
        assert spooled(spool) == kept
    finally:
        assert s.stop() == 0


def test_a_spool_directory_that_cannot_be_used_is_a_clear_error(histo_bin, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    proc = subprocess.run(
        [histo_bin, "serve", "--listen", "127.0.0.1:0", "--spool-dir", link],
        env=server_env(HISTO_TOKEN=TOKEN),
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "--spool-dir" in err and "not a directory of this user" in err, err
