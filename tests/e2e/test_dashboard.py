"""End-to-end test of the dashboard in real headless Chromium.

Starts `histo serve` on a free port with a known token, opens the
dashboard in Debian's Chromium driven by Playwright from PyPI (launched with
`executable_path`: no browser is ever downloaded), and checks what a person
would: the deployment replay and the coordinator's OK line arrive, an
upload with the token shows the equalized image, live progress, the
histogram and CDF plots and the cluster panel, a second upload matched to
a dark reference comes back dark; a wrong token is refused and
shown in red. Nothing may be fetched from anywhere but the server, the page
must log no errors (a CSP violation would), and the token is neither logged
nor left in the address bar. Screenshots go to $HISTO_TEST_OUTPUT (default
.test-output/) for a person to look at."""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from support.images import png_bytes, tinted_gradient
from support.serve import ROOT, Server, server_env

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
OUT = Path(os.environ.get("HISTO_TEST_OUTPUT", ROOT / ".test-output"))
TOKEN = "e2e-token-5d1c7a93b04f4e28"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BLUE, GREEN, RED = "rgb(96, 165, 250)", "rgb(74, 222, 128)", "rgb(248, 113, 113)"


@pytest.fixture
def server(histo_bin, tmp_path):
    s = Server(histo_bin, tmp_path, server_env(HISTO_TOKEN=TOKEN, HISTO_LOG="info"))
    yield s
    s.stop()


@pytest.fixture
def page(server):
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is not installed: scripts/setup installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1440, "height": 1100})
        finally:
            browser.close()


# The mean level of the result image, drawn small on a canvas.
MEAN_BRIGHTNESS = """() => {
    const img = document.getElementById('img-after');
    if (!img.complete || !img.naturalWidth) return 255;
    const c = document.createElement('canvas');
    c.width = 64; c.height = 48;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0, 64, 48);
    const d = ctx.getImageData(0, 0, 64, 48).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
    return sum / (d.length / 4);
}"""


def color(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).color")


def test_dashboard_replay_upload_plots_and_refusal(server, page):
    OUT.mkdir(parents=True, exist_ok=True)
    foreign, problems = [], []
    local = (server.url, "blob:", "data:")
    page.on("request", lambda r: None if r.url.startswith(local) else foreign.append(r.url))
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not re.search(r"401|Unauthorized|422", m.text) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # The printed URL carries the token in the fragment: it fills the field
    # and disappears from the address bar.
    page.goto(f"{server.url}/#token={TOKEN}")
    assert page.title() == "SecOps & Infrastructure Observability · histo"
    assert page.input_value("#token") == TOKEN
    assert page.evaluate("location.hash") == ""

    # The deployment replay, in blue, then the coordinator's OK, in green.
    ok = page.locator("#feed li .ok", has_text="Connection: OK")
    ok.first.wait_for(timeout=15000)
    replay = page.locator("#feed li .iac").all_text_contents()
    assert len(replay) >= 20, f"replay lines: {len(replay)}"
    for phase in ["terraform", "tinkerbell", "ansible", "kubernetes", "argocd"]:
        assert any(line.startswith(f"[IaC / GitOps] [{phase}]") for line in replay), f"a {phase} line"
    assert color(page.locator("#feed li .iac").first) == BLUE
    assert color(ok.first) == GREEN
    page.wait_for_selector("#socket-badge.ok")

    # Upload with the token: result image, progress, plots, cluster panel.
    # 1280x960 RGB: several strips, so several map and apply tasks.
    body = png_bytes(tinted_gradient(1280, 960))
    page.set_input_files("#file", files=[{"name": "low-contrast.png", "mimeType": "image/png", "buffer": body}])
    page.select_option("#mode", "rgb")
    page.click("#start")
    page.wait_for_selector("#upload-status.ok", timeout=30000)
    page.wait_for_function("document.getElementById('img-after').naturalWidth === 1280")
    assert page.evaluate("document.getElementById('img-before').naturalWidth") == 1280
    page.wait_for_selector('#hist-before[data-plotted="true"]')
    page.wait_for_selector('#hist-after[data-plotted="true"]')
    painted = page.evaluate("""() => {
        const c = document.getElementById('hist-after');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lit = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 200) lit++;
        return lit;
    }""")
    assert painted > 500, f"the after plot has bars and a CDF ({painted} bright pixels)"
    tasks = page.locator("#tasks .task").all_text_contents()
    assert len(tasks) >= 2 and all(re.search(r"embedded-\d", t) for t in tasks), f"tasks name their worker: {tasks}"
    page.wait_for_selector("#feed li .job", timeout=10000)
    page.wait_for_function("document.querySelectorAll('#c-workers li').length === 2", timeout=10000)
    assert "CONNECTED" in page.text_content("#c-state")
    page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)

    # Matching a dark reference in lab mode makes the result dark.
    assert page.evaluate(MEAN_BRIGHTNESS) > 90, "the equalized result is not dark"
    levels = (np.arange(64 * 64).reshape(64, 64) % 8 + 30).astype(np.uint8)
    dark = png_bytes(np.dstack([levels, levels + 5, levels + 10]))
    page.select_option("#mode", "lab")
    page.set_input_files("#match", files=[{"name": "dark.png", "mimeType": "image/png", "buffer": dark}])
    page.click("#start")
    page.wait_for_function(f"() => ({MEAN_BRIGHTNESS})() < 60", timeout=30000)
    assert "ok" in page.get_attribute("#upload-status", "class")

    # A mask goes with the upload: one of another size is refused, saying so.
    page.set_input_files("#match", files=[])
    page.set_input_files("#mask", files=[{"name": "m.png", "mimeType": "image/png",
                                          "buffer": png_bytes(np.full((3, 3), 255, np.uint8))}])
    page.select_option("#mask-apply", "inside")
    page.click("#start")
    page.wait_for_selector("#upload-status.error", timeout=10000)
    assert "the image's size" in page.text_content("#upload-status")
    page.set_input_files("#mask", files=[])

    # A wrong token is refused: red status and a red security line.
    page.fill("#token", "not-the-token")
    page.click("#start")
    page.wait_for_selector("#upload-status.error", timeout=10000)
    assert "401" in page.text_content("#upload-status")
    security = page.locator("#feed li .sec", has_text="auth_failed")
    security.first.wait_for(timeout=10000)
    assert color(security.first) == RED
    page.locator("#feed li .sec").last.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "dashboard-refused.png"), full_page=True)

    assert foreign == [], "nothing is fetched from outside the server"
    assert problems == [], "no errors in the page"
    assert TOKEN not in server.output(), "the token is not logged"
