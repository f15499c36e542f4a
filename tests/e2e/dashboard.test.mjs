// End-to-end test of the dashboard in real headless Chromium.
//
// Starts `histo serve` (target/release/histo, or $HISTO_BIN) on a free port
// with a known token, opens the dashboard in Debian's Chromium driven by
// playwright-core (no browser download), and checks what a person would:
// the deployment replay and the coordinator's OK line arrive, an upload
// with the token shows the equalized image, live progress, the histogram
// and CDF plots and the cluster panel; a wrong token is refused and shown
// in red. Nothing may be fetched from anywhere but the server, and the page
// must log no errors (a CSP violation would). Screenshots go to
// $HISTO_TEST_OUTPUT (default .test-output/) for a person to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.HISTO_BIN || join(ROOT, 'target', 'release', 'histo');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.HISTO_TEST_OUTPUT || join(ROOT, '.test-output');
const TOKEN = 'e2e-token-5d1c7a93b04f4e28';

/** A low-contrast RGB PNG: a soft tinted gradient with texture. */
function png(width, height) {
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const v = 90 + Math.round((40 * (x + y)) / (width + height)) + ((x * 7 + y * 13) % 9);
      const at = y * stride + 1 + x * 3;
      raw[at] = v + 12; // a warm, washed-out tint
      raw[at + 1] = v + 4;
      raw[at + 2] = v - 10;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Starts `histo serve` and resolves with its base URL once it listens. */
function startServer() {
  const env = { ...process.env, HISTO_TOKEN: TOKEN, HISTO_LOG: 'info' };
  for (const k of Object.keys(env)) if (k.startsWith('HISTO_') && !['HISTO_TOKEN', 'HISTO_LOG'].includes(k)) delete env[k];
  const proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--workers', '2'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('histo serve did not start: ' + stderr)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        ok({ proc, url: m[1], logs: () => stderr });
      }
    });
    proc.on('exit', (code) => fail(new Error(`histo serve exited with ${code}: ${stderr}`)));
  });
}

test('dashboard: replay, upload with the token, plots, refusal of a wrong token', { timeout: 180000 }, async () => {
  assert.ok(existsSync(BIN), `${BIN} is built`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed`);
  mkdirSync(OUT, { recursive: true });
  const server = await startServer();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    const foreign = [];
    const problems = [];
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(server.url) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));

    // The printed URL carries the token in the fragment: it fills the
    // field and disappears from the address bar.
    await page.goto(`${server.url}/#token=${TOKEN}`);
    assert.equal(await page.title(), 'SecOps & Infrastructure Observability · histo');
    assert.equal(await page.inputValue('#token'), TOKEN);
    assert.equal(await page.evaluate(() => location.hash), '');

    // The deployment replay, in blue, then the coordinator's OK, in green.
    const ok = page.locator('#feed li .ok', { hasText: 'Connection: OK' });
    await ok.first().waitFor({ timeout: 15000 });
    const replay = await page.locator('#feed li .iac').allTextContents();
    assert.ok(replay.length >= 20, `replay lines: ${replay.length}`);
    for (const phase of ['terraform', 'tinkerbell', 'ansible', 'kubernetes', 'argocd']) {
      assert.ok(replay.some((l) => l.startsWith(`[IaC / GitOps] [${phase}]`)), `a ${phase} line`);
    }
    const blue = await page.locator('#feed li .iac').first().evaluate((e) => getComputedStyle(e).color);
    const green = await ok.first().evaluate((e) => getComputedStyle(e).color);
    assert.equal(blue, 'rgb(96, 165, 250)');
    assert.equal(green, 'rgb(74, 222, 128)');
    await page.waitForSelector('#socket-badge.ok');

    // Upload with the token: result image, progress, plots, cluster panel.
    // 1280x960 RGB: several strips, so several map and apply tasks.
    await page.setInputFiles('#file', { name: 'low-contrast.png', mimeType: 'image/png', buffer: png(1280, 960) });
    await page.selectOption('#mode', 'rgb');
    await page.click('#start');
    await page.waitForSelector('#upload-status.ok', { timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('img-after').naturalWidth === 1280);
    assert.equal(await page.evaluate(() => document.getElementById('img-before').naturalWidth), 1280);
    await page.waitForSelector('#hist-before[data-plotted="true"]');
    await page.waitForSelector('#hist-after[data-plotted="true"]');
    const painted = await page.evaluate(() => {
      const c = document.getElementById('hist-after');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 200) lit++;
      return lit;
    });
    assert.ok(painted > 500, `the after plot has bars and a CDF (${painted} bright pixels)`);
    const tasks = await page.locator('#tasks .task').allTextContents();
    assert.ok(tasks.length >= 2 && tasks.every((t) => /embedded-\d/.test(t)), `tasks name their worker: ${tasks}`);
    await page.waitForSelector('#feed li .job', { timeout: 10000 });
    await page.waitForFunction(() => document.querySelectorAll('#c-workers li').length === 2, null, { timeout: 10000 });
    assert.match(await page.textContent('#c-state'), /CONNECTED/);
    await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });

    // A wrong token is refused: red status and a red security line.
    await page.fill('#token', 'not-the-token');
    await page.click('#start');
    await page.waitForSelector('#upload-status.error', { timeout: 10000 });
    assert.match(await page.textContent('#upload-status'), /401/);
    const security = page.locator('#feed li .sec', { hasText: 'auth_failed' });
    await security.first().waitFor({ timeout: 10000 });
    const red = await security.first().evaluate((e) => getComputedStyle(e).color);
    assert.equal(red, 'rgb(248, 113, 113)');
    await page.locator('#feed li .sec').last().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, 'dashboard-refused.png'), fullPage: true });

    assert.deepEqual(foreign, [], 'nothing is fetched from outside the server');
    assert.deepEqual(problems, [], 'no errors in the page');
    assert.ok(!server.logs().includes(TOKEN), 'the token is not logged');
  } finally {
    await browser.close();
    server.proc.kill('SIGTERM');
  }
});
