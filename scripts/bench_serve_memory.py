"""Resident memory of `histo serve` under sustained load: three client
threads upload a mix of 9 MP gray, 1 MP colour and 4 MP colour PNGs
(alternating global and CLAHE) for SECONDS, and the server's RSS is read
every 0.5 s; prints the peak of each 30 s window. A level series means no
growth. Usage: .venv/bin/python scripts/bench_serve_memory.py [SECONDS]"""

import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from support.images import low_contrast_color, low_contrast_gray, png_bytes
from support.serve import TOKEN, Server, server_env

HISTO = Path(__file__).resolve().parents[1] / "target" / "release" / "histo"


def main(seconds: float):
    server = Server(HISTO, Path(tempfile.mkdtemp()), server_env(HISTO_TOKEN=TOKEN, HISTO_LOG="warn"), workers=2)
    url = server.url
    bodies = [png_bytes(pixels, compress_level=1) for pixels in
              [low_contrast_gray(3000, 3000, 4), low_contrast_color(1000, 1000, 2), low_contrast_color(2000, 2000, 5)]]
    stop = time.monotonic() + seconds

    def client(n):
        session = requests.Session()
        while time.monotonic() < stop:
            r = session.post(url + "/upload", data=bodies[n % 3], headers={"Authorization": f"Bearer {TOKEN}"},
                             params={"method": "clahe"} if n % 2 else {}, timeout=120)
            assert r.status_code == 200, r.text
            n += 1

    clients = [threading.Thread(target=client, args=(i,)) for i in range(3)]
    for c in clients:
        c.start()
    start, peaks = time.monotonic(), {}
    while time.monotonic() < stop:
        rss = server.memory_kib("VmRSS") // 1024
        window = int((time.monotonic() - start) // 30)
        peaks[window] = max(peaks.get(window, 0), rss)
        time.sleep(0.5)
    for c in clients:
        c.join()
    server.stop()
    print("peak RSS (MB) per 30 s:", [peaks[k] for k in sorted(peaks)])


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 300)
