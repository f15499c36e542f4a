"""Resident memory of `histo serve` under sustained load: three client
threads upload a mix of 9 MP gray, 1 MP colour and 4 MP colour PNGs
(alternating global and CLAHE) for SECONDS, and the server's RSS is read
every 0.5 s; prints the peak of each 30 s window. A level series means no
growth. Usage: .venv/bin/python scripts/bench_serve_memory.py [SECONDS]"""

import io
import re
import sys
import threading
import time
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reference"))
from images import low_contrast_color, low_contrast_gray  # noqa: E402

from bench_http import TOKEN, start_server  # noqa: E402


def main(seconds: float):
    server, url = start_server(workers=2)
    bodies = []
    for pixels in [low_contrast_gray(3000, 3000, 4), low_contrast_color(1000, 1000, 2), low_contrast_color(2000, 2000, 5)]:
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
        bodies.append(buf.getvalue())
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
        status = Path(f"/proc/{server.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) // 1024
        window = int((time.monotonic() - start) // 30)
        peaks[window] = max(peaks.get(window, 0), rss)
        time.sleep(0.5)
    for c in clients:
        c.join()
    server.terminate()
    server.wait(timeout=15)
    print("peak RSS (MB) per 30 s:", [peaks[k] for k in sorted(peaks)])


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 300)
