// app.js - the live page (served by lib/viz/server.js). Three modes:
//   scenarios  steps recorded by scenarios.js: a timeline slider over them
//   live       one running instance, polled (rmem.serveViz)
//   trace      an allocation trace: blocks over time, and the heap at any moment
// Everything big is drawn on canvases (one fillRect per cell or block, never
// a DOM node per block); the tables are small. window.__viz exposes the
// state to the tests (test/viz/).
(function () {
  'use strict';
  const C = window.RmemCells;
  const cfg = window.RMEM_VIZ || { mode: 'scenarios' };
  const $ = (id) => document.getElementById(id);
  const fmtBytes = C.size;
  const state = {
    mode: cfg.mode, ready: false, index: 0, count: 0, steps: [], scenario: null, lastRedrawMs: 0, redraws: 0,
    owners: null, figures: null, follow: true, error: null,
  };
  window.__viz = state;

  function setText(id, s) { $(id).textContent = s; }

  // ---------------------------------------------------------------- heap map

  /** Draws a layout's cells on a canvas; remembers the model for hover titles. */
  function drawMap(canvas, layout, opts) {
    const width = canvas.parentElement.clientWidth - 18 || 900;
    const columns = 64;
    const m = C.model(layout, { columns, maxCells: columns * 24, ...(opts || {}) });
    const cell = Math.max(4, Math.floor(width / columns));
    canvas.width = columns * cell;
    canvas.height = Math.max(1, m.rows) * cell;
    const g = canvas.getContext('2d');
    g.fillStyle = '#fafbfc';
    g.fillRect(0, 0, canvas.width, canvas.height);
    const gap = cell >= 6 ? 1 : 0;
    for (let c = 0; c < m.ncells; c++) {
      g.fillStyle = C.colorOf(m.code[c], m.fill[c]);
      g.fillRect((c % columns) * cell, Math.floor(c / columns) * cell, cell - gap, cell - gap);
    }
    canvas._viz = { m, layout, cell };
    return m;
  }

  function legend(models) {
    const present = new Set();
    for (const m of models) for (let c = 0; c < m.ncells; c++) present.add(m.code[c]);
    const el = $('legend');
    el.textContent = '';
    C.CODES.forEach((code, k) => {
      if (!present.has(k)) return;
      const s = document.createElement('span');
      const i = document.createElement('i');
      i.style.background = code.color;
      s.appendChild(i);
      s.appendChild(document.createTextNode(code.label));
      el.appendChild(s);
    });
  }

  function hover(canvas, describeCell) {
    const tip = $('tooltip');
    canvas.addEventListener('mousemove', (ev) => {
      const v = canvas._viz;
      if (!v) return;
      const rect = canvas.getBoundingClientRect();
      const x = Math.floor((ev.clientX - rect.left) / v.cell);
      const y = Math.floor((ev.clientY - rect.top) / v.cell);
      const c = y * v.m.columns + x;
      const text = c >= 0 && c < v.m.ncells && x < v.m.columns ? describeCell(v, c) : '';
      if (!text) {
        tip.style.display = 'none';
        return;
      }
      tip.textContent = text;
      tip.style.display = 'block';
      tip.style.left = `${ev.clientX + 14}px`;
      tip.style.top = `${ev.clientY + 14}px`;
    });
    canvas.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  }

  const describeRunCell = (v, c) => {
    const r = v.m.run[c] >= 0 ? v.layout.runs[v.m.run[c]] : null;
    const at = c * v.m.cellBytes;
    return `${v.m.pagesPerCell > 1 ? `cell at offset ${at} (${v.m.pagesPerCell} pages): ` : ''}${r ? C.describe(r, v.layout.pageSize) : ''}`;
  };

  // ---------------------------------------------------------------- tables

  function table(id, rows, attrs) {
    const body = $(id).tBodies[0];
    body.textContent = '';
    for (const row of rows) {
      const tr = document.createElement('tr');
      if (attrs) for (const [k, v] of Object.entries(attrs(row))) tr.dataset[k] = v;
      for (const cellText of row.cells) {
        const td = document.createElement('td');
        td.textContent = cellText;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  /** Pages and runs per owner: what the test compares with layout(). */
  function ownerSummary(layout) {
    const own = {};
    for (const r of layout.runs) {
      const key = r.owner;
      const o = own[key] || (own[key] = { runs: 0, pages: 0 });
      o.runs++;
      o.pages += r.pages !== undefined && r.bytes === undefined ? r.pages : Math.round((r.bytes || 0) / layout.pageSize);
    }
    return own;
  }

  function showOwners(layout) {
    const own = ownerSummary(layout);
    state.owners = own;
    const order = ['heap', 'arena', 'slab', 'mems', 'free', 'reserved'];
    const rows = order.filter((k) => own[k]).map((k) => ({ key: k, cells: [k, String(own[k].runs), String(own[k].pages)] }));
    table('owners', rows, (r) => ({ owner: r.key, runs: own[r.key].runs, pages: own[r.key].pages }));
  }

  function showFigures(list) {
    state.figures = Object.fromEntries(list.map(([k, , raw]) => [k, raw]));
    table('figures', list.map(([k, v, raw]) => ({ key: k, raw, cells: [k, v] })), (r) => ({ key: r.key, value: r.raw }));
  }

  // ---------------------------------------------------------------- charts

  /** A white w x h canvas off screen to draw on (drawn onto the visible one in one step). */
  function offscreen(w, h) {
    const off = document.createElement('canvas');
    off.width = w;
    off.height = h;
    const g = off.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, w, h);
    return { off, g };
  }

  /**
   * A line chart of series [{ values, color, label }] over n points; the
   * background (lines, axes) is drawn once into an offscreen canvas, a redraw
   * copies it and adds the cursor.
   */
  function chart(canvas, series, yfmt) {
    const w = canvas.width = canvas.parentElement.clientWidth - 18 || 440;
    const h = canvas.height;
    const { off, g } = offscreen(w, h);
    let max = 0;
    let n = 0;
    for (const s of series) {
      n = Math.max(n, s.values.length);
      for (let i = 0; i < s.values.length; i++) if (s.values[i] > max) max = s.values[i];
    }
    if (!(max > 0)) max = 1;
    const left = 56;
    const bottom = h - 16;
    g.strokeStyle = '#cfd8dc';
    g.beginPath();
    g.moveTo(left, 4);
    g.lineTo(left, bottom);
    g.lineTo(w - 4, bottom);
    g.stroke();
    g.fillStyle = '#5f6b73';
    g.font = '10px sans-serif';
    g.fillText(yfmt(max), 2, 12);
    g.fillText(yfmt(0), 2, bottom);
    const X = (i) => left + (n > 1 ? (i / (n - 1)) * (w - left - 6) : 0);
    const Y = (v) => bottom - (v / max) * (bottom - 6);
    series.forEach((s, si) => {
      g.strokeStyle = s.color;
      g.lineWidth = 1.5;
      g.beginPath();
      const cols = Math.min(s.values.length, w - left);
      const per = s.values.length / Math.max(1, cols);
      for (let c = 0; c < cols; c++) {
        // one vertical span per pixel column (min..max of its points): a million points stay cheap
        const a = Math.floor(c * per);
        const b = Math.max(a + 1, Math.floor((c + 1) * per));
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = a; i < b && i < s.values.length; i++) {
          if (s.values[i] < lo) lo = s.values[i];
          if (s.values[i] > hi) hi = s.values[i];
        }
        const x = X(per >= 1 ? a : c);
        if (c === 0) g.moveTo(x, Y(lo));
        g.lineTo(x, Y(lo));
        if (hi !== lo) g.lineTo(x, Y(hi));
      }
      g.stroke();
      g.fillStyle = s.color;
      g.fillText(s.label, left + 6 + si * 150, 12);
    });
    return {
      draw(cursor) {
        const ctx = canvas.getContext('2d');
        ctx.drawImage(off, 0, 0);
        if (cursor >= 0 && n > 0) {
          ctx.strokeStyle = '#263238';
          ctx.beginPath();
          ctx.moveTo(X(cursor), 4);
          ctx.lineTo(X(cursor), bottom);
          ctx.stroke();
        }
      },
    };
  }

  const pct = (v) => `${(v * 100).toFixed(0)}%`;

  // ---------------------------------------------------------------- steps (scenarios, live)

  let charts = [];

  function showStep(i) {
    const t0 = performance.now();
    const st = state.steps[i];
    if (!st) return 0;
    state.index = i;
    $('slider').value = String(i);
    setText('step-index', `step ${i + 1} / ${state.steps.length}`);
    setText('step-label', st.label);
    setText('step-code', st.code || '');
    const models = [drawMap($('map'), st.layout)];
    if (st.compare) models.push(drawMap($('map2'), st.compare.layout));
    legend(models);
    showOwners(st.layout);
    const s = st.stats;
    const rows = [
      ['pages in use', fmtBytes(s.pagesInUse), s.pagesInUse],
      ['free pages', fmtBytes(s.pagesFree), s.pagesFree],
      ['largest free run', fmtBytes(s.largestFree), s.largestFree],
      ['resident', fmtBytes(s.resident), s.resident],
      ['live heap blocks', String(s.liveBlocks), s.liveBlocks],
      ['heap bytes in use', fmtBytes(s.heapUsed), s.heapUsed],
      ['heap fragmentation', s.fragmentation.toFixed(3), s.fragmentation],
    ];
    if (st.compare) {
      const f = st.compare.stats;
      rows.push(['first fit: heap extent', fmtBytes(f.extent), f.extent]);
      rows.push(['first fit: holes', String(f.holes), f.holes]);
      rows.push(['first fit: fragmentation', f.fragmentation.toFixed(3), f.fragmentation]);
      rows.push(['first fit: holes searched', String(f.searched), f.searched]);
    }
    showFigures(rows);
    $('report').textContent = st.text || '';
    for (const c of charts) c.draw(i);
    state.lastRedrawMs = performance.now() - t0;
    state.redraws++;
    return state.lastRedrawMs;
  }

  function buildCharts() {
    const steps = state.steps;
    const compare = steps.some((s) => s.compare);
    const frag = [{ values: steps.map((s) => s.stats.fragmentation), color: '#1e6fd9', label: 'rmem heap' }];
    const res = [{ values: steps.map((s) => s.stats.resident), color: '#1e6fd9', label: 'rmem resident' }];
    if (compare) {
      frag.push({ values: steps.map((s) => (s.compare ? s.compare.stats.fragmentation : 0)), color: '#00838f', label: 'first fit' });
      res.push({ values: steps.map((s) => (s.compare ? s.compare.stats.extent : 0)), color: '#00838f', label: 'first fit extent' });
    }
    setText('chart1-title', 'fragmentation: 1 − largest free / free');
    setText('chart2-title', compare ? 'resident memory (rmem) and heap extent (first fit)' : 'resident memory');
    charts = [chart($('chart1'), frag, pct), chart($('chart2'), res, fmtBytes)];
  }

  function controls(go) {
    const slider = $('slider');
    slider.addEventListener('input', () => { state.follow = false; go(+slider.value); });
    $('first').onclick = () => go(0);
    $('prev').onclick = () => go(Math.max(0, state.index - 1));
    $('next').onclick = () => go(Math.min(state.count - 1, state.index + 1));
    $('play').onclick = () => {
      if (state.playing) {
        clearInterval(state.playing);
        state.playing = null;
        $('play').textContent = '▶ play';
        return;
      }
      if (state.index >= state.count - 1) go(0);
      $('play').textContent = '❚❚ pause';
      state.playing = setInterval(() => {
        if (state.index >= state.count - 1) $('play').click();
        else go(state.index + 1);
      }, state.mode === 'trace' ? 40 : 700);
    };
    document.addEventListener('keydown', (e) => {
      if (e.target.tagName === 'SELECT') return;
      if (e.key === 'ArrowRight') $('next').click();
      if (e.key === 'ArrowLeft') $('prev').click();
    });
  }

  async function getJSON(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  async function scenarios() {
    setText('title', 'scenarios');
    const list = await getJSON('/api/scenarios');
    const sel = $('scenario');
    sel.classList.remove('hidden');
    for (const s of list) {
      const o = document.createElement('option');
      o.value = s.name;
      o.textContent = s.title;
      sel.appendChild(o);
    }
    const load = async (name) => {
      state.ready = false;
      const sc = await getJSON(`/api/scenario/${name}`);
      state.scenario = name;
      state.steps = sc.steps;
      state.count = sc.steps.length;
      setText('about', sc.about);
      $('slider').max = String(sc.steps.length - 1);
      $('compare-panel').classList.toggle('hidden', !sc.compare);
      setText('map-title', sc.compare ? "rmem's heap (size classes)" : 'heap map');
      buildCharts();
      showStep(0);
      state.ready = true;
    };
    sel.onchange = () => load(sel.value);
    const want = new URLSearchParams(location.search).get('scenario');
    if (want && list.some((s) => s.name === want)) sel.value = want;
    controls(showStep);
    window.__viz.load = load;
    window.__viz.go = showStep;
    await load(sel.value);
  }

  async function live() {
    setText('title', cfg.title || 'live');
    setText('about', 'the running program\'s own instance, refreshed while it runs; the slider goes back to earlier moments');
    controls((i) => { state.follow = i >= state.count - 1; return showStep(i); });
    window.__viz.go = showStep;
    const poll = async () => {
      try {
        const d = await getJSON('/api/live');
        if (d.destroyed) {
          setText('step-label', 'the instance was destroyed');
          return;
        }
        state.steps.push({ label: `at ${d.label}`, code: '', layout: d.layout, stats: d.stats, text: d.text });
        if (state.steps.length > 300) state.steps.shift();
        state.count = state.steps.length;
        $('slider').max = String(state.count - 1);
        const h = d.history;
        charts = [
          chart($('chart1'), [{ values: h.map((x) => x.fragmentation), color: '#1e6fd9', label: 'heap fragmentation' }], pct),
          chart($('chart2'), [{ values: h.map((x) => x.resident), color: '#1e6fd9', label: 'resident' }], fmtBytes),
        ];
        if (state.follow) showStep(state.count - 1);
        else for (const c of charts) c.draw(-1);
        state.polls = (state.polls || 0) + 1;
        state.ready = true;
      } catch (e) {
        state.error = String(e);
      }
    };
    await poll();
    setInterval(poll, cfg.interval || 500);
  }

  // ---------------------------------------------------------------- trace

  const CLASS_EDGES = [16, 32, 64, 128, 256, 512, 1024, 4096, 32768, 1 << 20, Infinity];
  const CLASS_NAMES = ['≤16 B', '≤32 B', '≤64 B', '≤128 B', '≤256 B', '≤512 B', '≤1 KiB', '≤4 KiB', '≤32 KiB', '≤1 MiB', '> 1 MiB'];
  const CLASS_COLORS = ['#4e79a7', '#59a14f', '#9c755f', '#f28e2b', '#edc948', '#b07aa1', '#e15759', '#76b7b2', '#ff9da7', '#bab0ac', '#263238'];
  const classOf = (size) => {
    let k = 0;
    while (size > CLASS_EDGES[k]) k++;
    return k;
  };

  async function trace() {
    setText('title', `trace ${cfg.file || ''}`);
    const sum = await getJSON('/api/trace');
    const procs = sum.processes;
    const sel = $('scenario');
    sel.classList.remove('hidden');
    for (const p of procs) {
      const o = document.createElement('option');
      o.value = String(p.pid);
      o.textContent = `pid ${p.pid}${p.parent ? ` (forked from ${p.parent})` : ''}: ${p.events} events, ${p.threads} thread${p.threads === 1 ? '' : 's'}`;
      o.dataset.events = String(p.events);
      sel.appendChild(o);
    }
    $('timeline-panel').classList.remove('hidden');
    $('report').classList.add('hidden');
    document.querySelector('#owners').previousElementSibling.textContent = 'live blocks by size class';
    setText('map-title', 'the heap at the moment shown: pages that ever held a block, in address order (colour: size class, shade: live bytes)');
    let go = () => 0;
    controls((i) => go(i));
    const load = async (pid) => {
      state.ready = false;
      const r = await fetch(`/api/trace/${pid}.bin`);
      const f = new Float64Array(await r.arrayBuffer());
      const info = procs.find((p) => p.pid === pid);
      const T = buildTrace(f, sum.pageSize || 4096);
      T.info = info;
      state.trace = T;
      state.count = T.n;
      state.index = -1;
      setText('about', `${info.events} events in ${info.seconds.toFixed(3)} s${info.shown < info.events ? ` (the first ${info.shown} shown: npm run viz -- trace FILE --max-events N)` : ''}; ${info.stats.balanced ? 'the events balance' : `${info.stats.unmatchedFrees} frees of no live block, ${info.stats.reused} addresses reused while live`}; ${info.stats.liveAtEnd} blocks live at the end`);
      $('slider').max = String(Math.max(0, T.n - 1));
      drawTimeline(T);
      charts = [
        chart($('chart1'), [{ values: T.liveBytes, color: '#1e6fd9', label: 'live bytes' }], fmtBytes),
        chart($('chart2'), [{ values: T.liveCount, color: '#e15759', label: 'live blocks' }], (v) => String(Math.round(v))),
      ];
      setText('chart1-title', 'live bytes over the events');
      setText('chart2-title', 'live blocks over the events');
      go = (i) => traceAt(T, i);
      window.__viz.go = go;
      go(T.n - 1);
      state.ready = true;
    };
    sel.onchange = () => load(+sel.value);
    window.__viz.load = load;
    await load(procs[0].pid);
  }

  /** The arrays of one process's trace, the compressed address axis, and the per-row live bytes. */
  function buildTrace(f, pageSize) {
    const n = f[0];
    const nb = f[1];
    let o = 2;
    const take = (len) => { const a = f.subarray(o, o + len); o += len; return a; };
    const T = { n, nb, t: take(n), liveBytes: take(n), liveCount: take(n), evSize: take(n), evKind: take(n),
      from: take(nb), to: take(nb), addr: take(nb), size: take(nb), pageSize };
    // the address axis: the page ranges that ever held a block, merged, each at most 32 rows
    const iv = [];
    for (let b = 0; b < nb; b++) {
      const p0 = Math.floor(T.addr[b] / pageSize);
      const p1 = Math.floor((T.addr[b] + Math.max(1, T.size[b]) - 1) / pageSize);
      iv.push([p0, p1]);
    }
    iv.sort((a, b) => a[0] - b[0]);
    const merged = [];
    for (const [a, b] of iv) {
      const last = merged[merged.length - 1];
      if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
      else merged.push([a, b]);
    }
    let rows = 0;
    T.iv = merged.map(([a, b]) => {
      const len = b - a + 1;
      const r = { a, b, row: rows, rows: Math.min(len, 32) }; // a huge mapping does not crowd out the heap
      rows += r.rows;
      return r;
    });
    T.rows = Math.max(1, rows);
    const ivStarts = T.iv.map((x) => x.a);
    T.rowOf = (page) => {
      let lo = 0;
      let hi = ivStarts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (ivStarts[mid] <= page) lo = mid;
        else hi = mid - 1;
      }
      const x = T.iv[lo];
      return x.row + Math.min(x.rows - 1, Math.floor(((page - x.a) * x.rows) / (x.b - x.a + 1)));
    };
    T.r0 = new Int32Array(nb);
    T.r1 = new Int32Array(nb);
    T.cls = new Uint8Array(nb);
    T.evStart = new Int32Array(n).fill(-1);
    T.evEnd = new Int32Array(n).fill(-1);
    T.rowClass = new Int16Array(T.rows).fill(-1);
    for (let b = 0; b < nb; b++) {
      T.r0[b] = T.rowOf(Math.floor(T.addr[b] / pageSize));
      T.r1[b] = T.rowOf(Math.floor((T.addr[b] + Math.max(1, T.size[b]) - 1) / pageSize));
      T.cls[b] = classOf(T.size[b]);
      if (T.from[b] < n) T.evStart[T.from[b]] = b;
      if (T.to[b] < n) T.evEnd[T.to[b]] = b;
      for (let r = T.r0[b]; r <= T.r1[b]; r++) if (T.rowClass[r] < 0) T.rowClass[r] = T.cls[b];
    }
    // blocks inherited from a parent (from == 0 before the first event) are live from the start
    T.rowLive = new Float64Array(T.rows);
    T.classLive = new Float64Array(CLASS_EDGES.length);
    T.classBytes = new Float64Array(CLASS_EDGES.length);
    T.cur = -1;
    return T;
  }

  function applyBlock(T, b, sign) {
    const span = T.r1[b] - T.r0[b] + 1;
    const share = (T.size[b] / span) * sign;
    for (let r = T.r0[b]; r <= T.r1[b]; r++) T.rowLive[r] += share;
    T.classLive[T.cls[b]] += sign;
    T.classBytes[T.cls[b]] += T.size[b] * sign;
  }

  /** Moves the replay to just after event i (forwards or backwards, applying only the events between). */
  function seek(T, i) {
    while (T.cur < i) {
      const e = ++T.cur;
      if (T.evEnd[e] >= 0) applyBlock(T, T.evEnd[e], -1);
      if (T.evStart[e] >= 0) applyBlock(T, T.evStart[e], +1);
    }
    while (T.cur > i) {
      const e = T.cur--;
      if (T.evStart[e] >= 0) applyBlock(T, T.evStart[e], -1);
      if (T.evEnd[e] >= 0) applyBlock(T, T.evEnd[e], +1);
    }
  }

  function drawTimeline(T) {
    const canvas = $('timeline');
    const w = canvas.width = canvas.parentElement.clientWidth - 18 || 900;
    const h = canvas.height = 300;
    const { off, g } = offscreen(w, h);
    const sx = w / Math.max(1, T.n);
    const sy = h / T.rows;
    // one colour at a time: the blocks of each size class, one fillRect each (villoc / mallocvis style)
    for (let k = 0; k < CLASS_EDGES.length; k++) {
      g.fillStyle = CLASS_COLORS[k];
      for (let b = 0; b < T.nb; b++) {
        if (T.cls[b] !== k) continue;
        const x = T.from[b] * sx;
        const y = T.r0[b] * sy;
        g.fillRect(x, y, Math.max(1, (T.to[b] - T.from[b]) * sx), Math.max(1, (T.r1[b] - T.r0[b] + 1) * sy));
      }
    }
    T.timeline = off;
    T.sx = sx;
    canvas._viz = null;
    canvas.onmousemove = null;
  }

  function traceAt(T, i) {
    const t0 = performance.now();
    i = Math.max(0, Math.min(T.n - 1, i | 0));
    seek(T, i);
    state.index = i;
    $('slider').value = String(i);
    setText('step-index', `event ${i + 1} / ${T.n}`);
    const kind = ['?', 'malloc', 'free', 'calloc', 'realloc', 'realloc (old block)', 'memalign', 'fork'][T.evKind[i]] || '?';
    setText('step-label', `${(T.t[i] / 1e6).toFixed(3)} ms: ${kind}${T.evSize[i] ? ` (${T.evSize[i]} B)` : ''}`);
    setText('step-code', '');
    // the timeline and its cursor
    const tl = $('timeline').getContext('2d');
    tl.drawImage(T.timeline, 0, 0);
    tl.strokeStyle = '#d93025';
    tl.beginPath();
    tl.moveTo(i * T.sx + 0.5, 0);
    tl.lineTo(i * T.sx + 0.5, $('timeline').height);
    tl.stroke();
    // the heap at this moment: rows of pages, shaded by live bytes
    const canvas = $('map');
    const columns = 64;
    const maxCells = columns * 20;
    const per = Math.max(1, Math.ceil(T.rows / maxCells));
    const ncells = Math.ceil(T.rows / per);
    const cell = Math.max(4, Math.floor((canvas.parentElement.clientWidth - 18 || 900) / columns));
    if (canvas.width !== columns * cell) canvas.width = columns * cell;
    const hh = Math.ceil(ncells / columns) * cell;
    if (canvas.height !== hh) canvas.height = hh;
    const g = canvas.getContext('2d');
    g.fillStyle = '#fafbfc';
    g.fillRect(0, 0, canvas.width, canvas.height);
    let usedRows = 0;
    for (let c = 0; c < ncells; c++) {
      let live = 0;
      let cls = -1;
      for (let r = c * per; r < Math.min(T.rows, (c + 1) * per); r++) {
        live += T.rowLive[r];
        if (cls < 0) cls = T.rowClass[r];
      }
      const fill = Math.max(0, Math.min(1, live / (per * T.pageSize)));
      if (fill > 0) usedRows++;
      const base = CLASS_COLORS[Math.max(0, cls)];
      const t = fill > 0 ? 0.25 + 0.75 * fill : 0;
      const rr = parseInt(base.slice(1, 3), 16);
      const gg = parseInt(base.slice(3, 5), 16);
      const bb = parseInt(base.slice(5, 7), 16);
      g.fillStyle = fill > 0 ? `rgb(${255 + (rr - 255) * t | 0},${255 + (gg - 255) * t | 0},${255 + (bb - 255) * t | 0})` : '#eceff1';
      g.fillRect((c % columns) * cell, Math.floor(c / columns) * cell, cell - 1, cell - 1);
    }
    const el = $('legend');
    el.textContent = '';
    CLASS_NAMES.forEach((name, k) => {
      const s = document.createElement('span');
      const ii = document.createElement('i');
      ii.style.background = CLASS_COLORS[k];
      s.appendChild(ii);
      s.appendChild(document.createTextNode(name));
      el.appendChild(s);
    });
    const liveCount = T.liveCount[i];
    showFigures([
      ['event', `${i + 1} of ${T.n}`, i],
      ['time', `${(T.t[i] / 1e6).toFixed(3)} ms`, T.t[i]],
      ['live blocks', String(liveCount), liveCount],
      ['live bytes', fmtBytes(T.liveBytes[i]), T.liveBytes[i]],
      ['peak live bytes', fmtBytes(T.info.stats.peakBytes), T.info.stats.peakBytes],
      ['cells with live bytes', String(usedRows), usedRows],
    ]);
    // the owners table shows the live blocks by size class here
    const rows = [];
    let sumLive = 0;
    for (let k = 0; k < CLASS_EDGES.length; k++) {
      sumLive += T.classLive[k];
      if (T.classLive[k] > 0) rows.push({ key: CLASS_NAMES[k], cells: [CLASS_NAMES[k], String(T.classLive[k]), fmtBytes(T.classBytes[k])] });
    }
    $('owners').tHead.rows[0].cells[1].textContent = 'live blocks';
    $('owners').tHead.rows[0].cells[2].textContent = 'bytes';
    table('owners', rows, (r) => ({ owner: r.key }));
    state.owners = { liveBlocks: sumLive };
    for (const c of charts) c.draw(i);
    state.lastRedrawMs = performance.now() - t0;
    state.redraws++;
    return state.lastRedrawMs;
  }

  hover($('map'), (v, c) => describeRunCell(v, c));
  hover($('map2'), (v, c) => describeRunCell(v, c));
  const run = state.mode === 'live' ? live : state.mode === 'trace' ? trace : scenarios;
  if (state.mode !== 'trace') $('timeline-panel').classList.add('hidden');
  run().catch((e) => {
    state.error = String(e && e.stack || e);
    setText('step-label', `error: ${e.message || e}`);
  });
})();
