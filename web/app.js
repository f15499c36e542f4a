// histo dashboard: upload panel, live MapReduce progress, images and their
// histograms/CDFs, the cluster panel and the event feed.
//
// Everything comes from the histo server itself: the REST API (with the
// bearer token) and the Socket.IO stream (deployment_log, observability,
// job_progress, security). The token lives in sessionStorage (this tab only);
// a `#token=...` fragment, as printed by `histo serve`, is read once and
// removed from the address bar. Untrusted text is only ever set with
// textContent.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  // A random id for one upload (getRandomValues works on plain http too,
  // where randomUUID does not).
  const requestId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  const TOKEN_KEY = 'histo.token';
  const FEED_MAX = 600;

  // --- token ---------------------------------------------------------------
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const tokenField = $('token');
  tokenField.value = sessionStorage.getItem(TOKEN_KEY) || '';
  const token = () => tokenField.value.trim();
  tokenField.addEventListener('change', () => {
    sessionStorage.setItem(TOKEN_KEY, token());
  });
  // A token the server accepted (socket auth or a successful request):
  // only then is /api/cluster polled, so a wrong token is never retried.
  let goodToken = null;
  let socketAuthed = false;

  // --- event feed ------------------------------------------------------------
  const feed = $('feed');
  function feedLine(cls, text, source, ts) {
    const li = document.createElement('li');
    const time = document.createElement('span');
    time.className = 'ts';
    time.textContent = (ts ? new Date(ts) : new Date()).toLocaleTimeString() + ' ';
    const body = document.createElement('span');
    body.className = cls;
    body.textContent = text;
    li.append(time, body);
    if (source) {
      const src = document.createElement('span');
      src.className = 'src';
      src.textContent = '  ← ' + source;
      li.append(src);
    }
    li.dataset.kind = cls;
    const atBottom = feed.scrollTop + feed.clientHeight >= feed.scrollHeight - 4;
    feed.append(li);
    while (feed.children.length > FEED_MAX) feed.firstElementChild.remove();
    if (atBottom) feed.scrollTop = feed.scrollHeight;
  }
  $('clear-feed').addEventListener('click', () => feed.replaceChildren());

  function stateClass(state, message) {
    if (/^(CONNECTED|RECONNECTED|OK)$/.test(state) || / OK\b|: OK$/.test(message)) return 'ok';
    if (/^(SUSPENDED|READ_ONLY)$/.test(state) || /^WARNING/.test(message)) return 'warn';
    return 'err';
  }
  function setBadge(el, text, cls) {
    el.textContent = text;
    el.className = 'badge ' + cls;
  }

  // --- upload status ------------------------------------------------------------
  const status = $('upload-status');
  function setStatus(text, cls) {
    status.textContent = text;
    status.className = 'status ' + (cls || '');
  }

  // --- progress --------------------------------------------------------------
  let currentJob = null; // job id we display
  let awaitingJob = false; // an upload is running and its id is not known yet
  let myRequest = null; // the X-Histo-Request-Id of that upload: its events carry it
  const tasksEl = $('tasks');
  function resetProgress() {
    for (const p of ['map', 'reduce', 'apply']) {
      $('p-' + p).value = 0;
      $('p-' + p).max = 1;
      $('t-' + p).textContent = '0/0';
    }
    tasksEl.replaceChildren();
    $('timings').textContent = '';
    $('job-id').textContent = '';
  }
  function ensureTasks(total) {
    while (tasksEl.children.length < total) {
      const cell = document.createElement('span');
      cell.className = 'task';
      cell.textContent = 'strip ' + tasksEl.children.length;
      tasksEl.append(cell);
    }
  }
  function onProgress(p) {
    if (awaitingJob && !currentJob && myRequest && p.request_id === myRequest) {
      currentJob = p.job_id;
      $('job-id').textContent = p.job_id.slice(0, 8);
    }
    const mine = p.job_id === currentJob;
    if (p.phase === 'map' || p.phase === 'apply' || p.phase === 'done' || p.phase === 'failed') {
      feedLine('job', `[job ${p.job_id.slice(0, 8)}] ${p.phase} ${p.done}/${p.total}${p.worker ? ' on ' + p.worker : ''}`);
    }
    if (!mine) return;
    if (p.phase === 'map' || p.phase === 'apply' || p.phase === 'reduce') {
      $('p-' + p.phase).max = Math.max(1, p.total);
      $('p-' + p.phase).value = p.done;
      $('t-' + p.phase).textContent = `${p.done}/${p.total}`;
    }
    if (p.phase === 'map' || p.phase === 'apply') {
      ensureTasks(p.total);
      const cell = tasksEl.children[p.done - 1];
      if (cell) {
        cell.className = 'task ' + (p.phase === 'map' ? 'mapped' : 'done');
        cell.textContent = `${p.phase} · ${p.worker}`;
        cell.title = `${p.phase} finished on ${p.worker}`;
      }
    }
  }
  function showTasks(record) {
    tasksEl.replaceChildren();
    for (const t of record.tasks || []) {
      const cell = document.createElement('span');
      cell.className = 'task ' + (t.phase === 'done' ? 'done' : t.phase === 'mapped' ? 'mapped' : '');
      cell.textContent = `#${t.strip} ${t.rows}r · ${t.worker || '?'}`;
      cell.title = `strip ${t.strip}: rows ${t.y0}..${t.y0 + t.rows - 1}, ${t.phase} on ${t.worker || '?'}, ${t.attempts} attempt(s)`;
      tasksEl.append(cell);
    }
    const n = (record.tasks || []).length;
    for (const p of ['map', 'apply']) {
      $('p-' + p).max = Math.max(1, n);
      $('p-' + p).value = n;
      $('t-' + p).textContent = `${n}/${n}`;
    }
    $('p-reduce').value = $('p-reduce').max;
    const t = record.timings || {};
    const f = (x) => (x || 0).toFixed(1);
    $('timings').textContent =
      `${record.width}×${record.height} ${record.layout} ${record.bits}-bit · ${record.mode}/${record.method} · ` +
      `decode ${f(t.decode_ms)} · map ${f(t.map_ms)} · reduce ${f(t.reduce_ms)} · apply ${f(t.apply_ms)} · ` +
      `encode ${f(t.encode_ms)} · total ${f(t.total_ms)} ms`;
  }

  // --- histograms and CDFs ---------------------------------------------------
  const PLANE_COLORS = { gray: '#cbd5e1', luma: '#cbd5e1', r: '#f87171', g: '#4ade80', b: '#60a5fa' };
  function plot(canvas, planes, hists) {
    const ctx = canvas.getContext('2d');
    const { width: w, height: h } = canvas;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#050a16';
    ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = '#1e2a44';
    for (let i = 1; i < 4; i++) {
      ctx.beginPath();
      ctx.moveTo(0, (h * i) / 4);
      ctx.lineTo(w, (h * i) / 4);
      ctx.stroke();
    }
    const bw = w / 256;
    hists.forEach((hist, k) => {
      const color = PLANE_COLORS[planes[k]] || '#cbd5e1';
      const max = Math.max(1, ...hist);
      ctx.globalAlpha = hists.length > 1 ? 0.45 : 0.8;
      ctx.fillStyle = color;
      hist.forEach((v, i) => {
        const bh = (v / max) * (h - 4);
        ctx.fillRect(i * bw, h - bh, Math.max(1, bw - 0.2), bh);
      });
      // CDF on the same axes, 0..1.
      const total = hist.reduce((a, b) => a + b, 0) || 1;
      ctx.globalAlpha = 1;
      ctx.strokeStyle = color === '#cbd5e1' ? '#fbbf24' : color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      let acc = 0;
      hist.forEach((v, i) => {
        acc += v;
        const x = i * bw + bw / 2;
        const y = h - (acc / total) * (h - 4);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    });
    ctx.globalAlpha = 1;
    ctx.fillStyle = '#7d8aa5';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(planes.join(' ') + '  (bars: histogram, line: CDF)', 6, 13);
    canvas.dataset.plotted = 'true';
  }

  // --- API calls -------------------------------------------------------------
  async function api(path) {
    const res = await fetch(path, { headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store' });
    if (!res.ok) throw await apiError(res);
    return res.json();
  }
  async function apiError(res) {
    let detail = res.statusText;
    try {
      const body = await res.json();
      detail = `${body.error}: ${body.detail}`;
    } catch (_) {
      /* not JSON */
    }
    const e = new Error(`${res.status} ${detail}`);
    e.status = res.status;
    return e;
  }

  async function refreshCluster() {
    if (!goodToken || goodToken !== token()) return;
    try {
      showCluster(await api('/api/cluster'));
    } catch (e) {
      if (e.status === 401 || e.status === 429) goodToken = null;
    }
  }
  function showCluster(c) {
    $('c-coord').textContent = c.coordinator;
    setBadge($('c-state'), c.state, stateClass(c.state, ''));
    setBadge($('coord-badge'), `${c.coordinator}: ${c.state}`, stateClass(c.state, ''));
    $('c-leader').textContent = c.leader || '(none)';
    $('c-masters').textContent = c.masters.map((m) => m.id + (m.id === c.leader ? ' ★' : '')).join(', ');
    $('c-jobs').textContent = `${c.jobs_running} running, ${c.jobs_waiting} waiting`;
    const list = $('c-workers');
    list.replaceChildren();
    for (const w of c.workers) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'mono';
      name.textContent = `${w.id} (${w.address}) ${w.busy}/${w.slots}`;
      const load = document.createElement('div');
      load.className = 'load';
      const bar = document.createElement('i');
      bar.style.width = `${Math.min(100, (100 * w.busy) / Math.max(1, w.slots))}%`;
      load.append(bar);
      li.append(name, load);
      list.append(li);
    }
    if (!c.workers.length) list.textContent = 'no workers';
  }
  setInterval(refreshCluster, 2000);

  // --- Socket.IO ---------------------------------------------------------------
  const socketBadge = $('socket-badge');
  const socket = io({
    auth: (cb) => cb(token() ? { token: token() } : {}),
    reconnectionDelayMax: 5000,
  });
  socket.on('connect', () => setBadge(socketBadge, 'stream: live', 'ok'));
  socket.on('disconnect', (reason) => {
    socketAuthed = false;
    setBadge(socketBadge, 'stream: ' + reason, 'warn');
  });
  socket.on('connect_error', () => setBadge(socketBadge, 'stream: unreachable', 'err'));
  socket.on('deployment_log', (e) => {
    feedLine('iac', `[IaC / GitOps] [${e.phase}] ${e.message}`, e.source, e.ts);
  });
  socket.on('observability', (e) => {
    const cls = stateClass(e.state, e.message);
    feedLine(cls, `[${e.component}] ${e.message}`, null, e.ts);
    if (e.component === 'coordinator' || e.component === 'zookeeper') setBadge($('coord-badge'), `${e.component}: ${e.state}`, cls);
  });
  socket.on('job_progress', (p) => {
    socketAuthed = true; // only authenticated sockets get these
    onProgress(p);
  });
  socket.on('security', (e) => {
    socketAuthed = true;
    feedLine('sec', `[SECURITY] ${e.kind} from ${e.client}: ${e.detail}`, null, e.ts);
  });

  function authenticateSocket(t) {
    return new Promise((resolve) => {
      if (!socket.connected) return resolve(null);
      const timer = setTimeout(() => resolve(null), 2000);
      socket.emit('authenticate', { token: t }, (ack) => {
        clearTimeout(timer);
        resolve(Boolean(ack && ack.ok));
      });
    });
  }

  // --- upload ------------------------------------------------------------------
  let file = null;
  const fileInput = $('file');
  const drop = $('drop');
  function pick(f) {
    if (!f) return;
    file = f;
    $('drop-text').textContent = `${f.name} (${(f.size / 1024).toFixed(1)} KiB)`;
    const before = $('img-before');
    if (before.src.startsWith('blob:')) URL.revokeObjectURL(before.src);
    before.src = URL.createObjectURL(f);
  }
  fileInput.addEventListener('change', () => pick(fileInput.files[0]));
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    pick(e.dataTransfer.files[0]);
  });
  $('method').addEventListener('change', () => {
    document.querySelector('.clahe').hidden = $('method').value !== 'clahe';
    document.querySelector('.global').hidden = $('method').value !== 'global';
  });

  $('upload-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = token();
    sessionStorage.setItem(TOKEN_KEY, t);
    if (!t) return setStatus('Enter the API token first.', 'error');
    if (!file) return setStatus('Choose an image first.', 'error');
    const button = $('start');
    button.disabled = true;
    try {
      if (!socketAuthed) {
        const ok = await authenticateSocket(t);
        if (ok === false) {
          setStatus('Refused: 401 unauthorized (wrong token)', 'error');
          feedLine('err', '[upload] token refused by the server (401 unauthorized)');
          return;
        }
        if (ok) socketAuthed = true;
      }
      resetProgress();
      currentJob = null;
      awaitingJob = true;
      myRequest = requestId();
      setStatus('Running MapReduce…');
      const form = new FormData();
      form.append('file', file, file.name);
      for (const [name, el] of [['mode', 'mode'], ['method', 'method'], ['format', 'format']]) {
        if ($(el).value) form.append(name, $(el).value);
      }
      if ($('method').value === 'clahe') {
        form.append('clip_limit', $('clip').value);
        form.append('tiles', $('tiles').value);
      } else if ($('match').files[0]) {
        form.append('match', $('match').files[0], $('match').files[0].name);
      }
      if ($('mask').files[0]) {
        form.append('mask', $('mask').files[0], $('mask').files[0].name);
        form.append('mask_apply', $('mask-apply').value);
      }
      const headers = { Authorization: 'Bearer ' + t, 'X-Histo-Request-Id': myRequest };
      const res = await fetch('/upload', { method: 'POST', body: form, headers });
      if (!res.ok) {
        const err = await apiError(res);
        setStatus('Refused: ' + err.message, 'error');
        feedLine('err', '[upload] refused: ' + err.message);
        if (res.status === 401 || res.status === 429) goodToken = null;
        return;
      }
      goodToken = t;
      const id = res.headers.get('X-Histo-Job-Id');
      currentJob = id;
      $('job-id').textContent = id ? id.slice(0, 8) : '';
      const blob = await res.blob();
      const after = $('img-after');
      if (after.src.startsWith('blob:')) URL.revokeObjectURL(after.src);
      after.src = URL.createObjectURL(blob);
      setStatus(`Done: job ${id} (${(blob.size / 1024).toFixed(1)} KiB ${blob.type})`, 'ok');
      const record = await api('/api/jobs/' + id);
      showTasks(record);
      if (record.histograms) {
        plot($('hist-before'), record.histograms.planes, record.histograms.before);
        plot($('hist-after'), record.histograms.planes, record.histograms.after);
      }
      refreshCluster();
    } catch (err) {
      setStatus('Error: ' + err.message, 'error');
      feedLine('err', '[upload] ' + err.message);
    } finally {
      awaitingJob = false;
      button.disabled = false;
    }
  });
})();
