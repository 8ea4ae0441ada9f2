'use strict';
/*
 * make.js - builds bench/results/report.html from the JSON files the
 * benchmarks wrote into bench/results/. One self-contained page: a summary of
 * every figure beside its target, then one section per benchmark with its
 * charts (inline SVG from svg.js: latency percentiles, throughput, memory over
 * time) and its table. A benchmark whose JSON is missing is listed as not run;
 * JSON files this script does not know are shown as tables of their numbers.
 * The drop-in malloc's section (malloc.json, written by npm run bench:malloc,
 * not by npm run bench) lists every workload kind, run or not.
 *
 *   node bench/report/make.js [resultsDir]
 */
const fs = require('node:fs');
const path = require('node:path');
const { bars, lines, esc } = require('./svg');

const MB = 1024 * 1024;
const f2 = (x, d = 2) => (Number.isFinite(x) ? Number(x).toLocaleString('en-US', { maximumFractionDigits: d }) : 'n/a');

function readResults(dir) {
  const out = {};
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      out[f.slice(0, -5)] = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (e) {
      out[f.slice(0, -5)] = { error: `unreadable: ${e.message}` };
    }
  }
  return out;
}

function htmlTable(rows, cols) {
  const head = `<tr>${cols.map((c) => `<th>${esc(c.label)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td class="${c.cls || ''}">${c.html ? c.get(r) : esc(c.get(r))}</td>`).join('')}</tr>`).join('');
  return `<table>${head}${body}</table>`;
}

const mark = (met) => (met === null || met === undefined ? '<span class="na">—</span>' : met ? '<span class="ok">✓ met</span>' : '<span class="no">✗ missed</span>');
const spread = (s) => (s && Number.isFinite(s.min) ? `${f2(s.min)}–${f2(s.max)}` : '');
function loadNote(m) {
  if (!m || !m.loadavg) return '';
  const busy = m.loadavg[0] > m.cores;
  return `; load average ${m.loadavg.join(' / ')}${busy ? ' — the machine was busy with other work, expect a wide spread' : ''}`;
}
const header = (doc) => `<p class="meta">${esc(doc.mode || '')} run, ${esc(doc.date || '')}; ${esc(doc.machine ? `${doc.machine.cpu}, ${doc.machine.cores} cores, Node ${doc.machine.node}${loadNote(doc.machine)}` : '')}</p>`;

/* ------------------------------------------------------------------ sections */

function tourSection(doc, targets) {
  const rows = doc.table || [];
  const out = [`<h2 id="tour">The tour's table (<code>npm start</code>)</h2>`, header(doc)];
  out.push(`<p>${esc(doc.workload || '')}</p>`);
  out.push(bars({
    title: 'Time per run (median, whisker = min–max)', unit: 'ms',
    groups: [{ label: 'time', bars: rows.map((r) => ({ label: r.side, value: r.ms.median, min: r.ms.min, max: r.ms.max })) }],
  }));
  out.push(htmlTable(rows, [
    { label: 'side', get: (r) => r.side },
    { label: 'time ms (median)', get: (r) => f2(r.ms.median), cls: 'n' },
    { label: 'min–max', get: (r) => spread(r.ms), cls: 'n' },
    { label: 'ops/s', get: (r) => f2(r.opsPerSec, 0), cls: 'n' },
    { label: 'mem growth MB (1st run)', get: (r) => f2(r.firstRssGrowth / MB), cls: 'n' },
  ]));
  if (doc.verdict) out.push(`<p class="verdict">${esc(doc.verdict)}</p>`);
  for (const t of doc.targets || []) targets.push({ bench: 'tour', ...t });
  return out.join('\n');
}

function backendSection(doc) {
  const names = Object.keys(doc.sides || {});
  const out = [`<h2 id="backend">Backend simulation</h2>`, header(doc)];
  const p = doc.params || {};
  out.push(`<p>${f2(p.requests, 0)} requests, ${p.users} users, 5% logins, 5% logouts; scratch ${p.scratchBlocks} × ${p.scratchBytes} B per request; medians of ${p.rounds} rounds. Speed vs V8: <b>${f2(doc.ratios && doc.ratios.speedVsV8)}×</b>.</p>`);
  out.push(bars({
    title: 'Throughput (requests/s at the median time)', unit: 'req/s',
    groups: [{ label: 'backend simulation', bars: names.map((n) => ({ label: n, value: doc.sides[n].reqPerSec })) }],
  }));
  out.push(htmlTable(names.map((n) => ({ n, ...doc.sides[n] })), [
    { label: 'side', get: (r) => r.n },
    { label: 'time ms (median)', get: (r) => f2(r.ms.median), cls: 'n' },
    { label: 'min–max', get: (r) => spread(r.ms), cls: 'n' },
    { label: 'req/s', get: (r) => f2(r.reqPerSec, 0), cls: 'n' },
    { label: 'mem growth MB (1st run)', get: (r) => f2(r.firstRssGrowth / MB), cls: 'n' },
  ]));
  return out.join('\n');
}

function httpSection(doc) {
  const out = [`<h2 id="http">HTTP servers: <code>/arena</code> vs <code>/native</code></h2>`, header(doc)];
  const p = doc.params || {};
  out.push(`<p>autocannon ${p.duration} s, ${p.connections} connections after a ${p.warmup} s warm-up, a fresh server process per route; medians of ${p.rounds} round(s).</p>`);
  const fws = Object.keys(doc.results || {});
  const groups = [];
  for (const fw of fws) for (const route of Object.keys(doc.results[fw])) groups.push({ fw, route, m: doc.results[fw][route] });
  const pct = [['p50', 'p50'], ['p97_5', 'p97.5'], ['p99', 'p99'], ['max', 'max']];
  out.push(bars({
    title: 'Latency percentiles', unit: 'ms',
    groups: groups.map((g) => ({ label: `${g.fw} /${g.route}`, bars: pct.map(([k, l]) => ({ label: l, value: g.m[k].median, min: g.m[k].min, max: g.m[k].max })) })),
  }));
  out.push(bars({
    title: 'Throughput', unit: 'req/s',
    groups: fws.map((fw) => ({ label: fw, bars: Object.keys(doc.results[fw]).map((r) => ({ label: `/${r}`, value: doc.results[fw][r].reqPerSec.median, min: doc.results[fw][r].reqPerSec.min, max: doc.results[fw][r].reqPerSec.max })) })),
  }));
  out.push(lines({
    title: 'Server resident memory during the measured load', xLabel: 'seconds', yLabel: 'RSS (MB)', xScale: 1000, yScale: MB,
    series: groups.map((g) => ({ label: `${g.fw} /${g.route}`, points: g.m.rssSamples || [] })),
  }));
  out.push(htmlTable(groups, [
    { label: 'server', get: (g) => `${g.fw} /${g.route}` },
    { label: 'p50 ms', get: (g) => f2(g.m.p50.median), cls: 'n' },
    { label: 'p97.5 ms', get: (g) => f2(g.m.p97_5.median), cls: 'n' },
    { label: 'p99 ms', get: (g) => f2(g.m.p99.median), cls: 'n' },
    { label: 'max ms', get: (g) => f2(g.m.max.median), cls: 'n' },
    { label: 'req/s', get: (g) => f2(g.m.reqPerSec.median, 0), cls: 'n' },
    { label: 'req/s min–max', get: (g) => spread(g.m.reqPerSec), cls: 'n' },
    { label: 'peak RSS MB', get: (g) => f2(g.m.peakRss.median / MB, 1), cls: 'n' },
  ]));
  if (doc.ratios) {
    out.push('<ul>' + Object.entries(doc.ratios).map(([fw, r]) => `<li>${esc(fw)}: /arena vs /native — throughput ${f2(r.throughput)}× (median of per-round pairs ${f2(r.pairedThroughput)}×), p99 ${f2(r.p99)}× (pairs ${f2(r.pairedP99)}×), max ${f2(r.max)}×, peak RSS ${f2(r.peakRss)}×</li>`).join('') + '</ul>');
  }
  return out.join('\n');
}

function sessionSection(doc, targets) {
  const out = [`<h2 id="sessions">Large live session store</h2>`, header(doc)];
  const p = doc.params || {};
  out.push(`<p>${f2(p.sessions, 0)} live sessions; every request replaces one; autocannon ${p.duration} s, ${p.connections} connections after a ${p.warmup} s warm-up; medians of ${p.rounds} round(s).</p>`);
  const R = doc.results || {};
  const names = Object.keys(R);
  const pct = [['p50', 'p50'], ['p97_5', 'p97.5'], ['p99', 'p99'], ['max', 'max']];
  out.push(bars({
    title: 'Latency percentiles', unit: 'ms',
    groups: names.map((n) => ({ label: n, bars: pct.map(([k, l]) => ({ label: l, value: R[n][k].median, min: R[n][k].min, max: R[n][k].max })) })),
  }));
  out.push(bars({
    title: 'Throughput, peak RSS, forced full GC, start-up', unit: '',
    groups: [
      { label: 'req/s ÷ 100', bars: names.map((n) => ({ label: n, value: R[n].reqPerSec.median / 100 })) },
      { label: 'peak RSS MB', bars: names.map((n) => ({ label: n, value: R[n].peakRss.median / MB })) },
      { label: 'full GC ms', bars: names.map((n) => ({ label: n, value: R[n].gcMs.median })) },
      { label: 'start-up ms ÷ 10', bars: names.map((n) => ({ label: n, value: R[n].startupMs.median / 10 })) },
    ],
  }));
  out.push(lines({
    title: 'Server resident memory during the measured load', xLabel: 'seconds', yLabel: 'RSS (MB)', xScale: 1000, yScale: MB,
    series: names.map((n) => ({ label: n, points: R[n].rssSamples || [] })),
  }));
  const t = doc.targets || [];
  out.push(htmlTable(t, [
    { label: 'figure', get: (r) => r.figure },
    { label: 'rmem', get: (r) => `${f2(r.rmem)} ${r.unit}`, cls: 'n' },
    { label: 'Map', get: (r) => `${f2(r.map)} ${r.unit}`, cls: 'n' },
    { label: 'ratio', get: (r) => `${f2(r.ratio)}×`, cls: 'n' },
    { label: 'target', get: (r) => r.target },
    { label: '', get: (r) => mark(r.met), html: true },
  ]));
  for (const x of t) targets.push({ bench: 'session store', figure: x.figure, value: `${f2(x.rmem)} vs ${f2(x.map)} ${x.unit} (${f2(x.ratio)}×)`, target: x.target, met: x.met });
  return out.join('\n');
}

function churnSection(doc, targets) {
  const out = [`<h2 id="churn">Churn</h2>`, header(doc)];
  const p = doc.params || {};
  const R = doc.results || {};
  const names = Object.keys(R);
  out.push(`<p>${f2(p.ops, 0)} mixed operations per allocator, each in its own process; target: resident growth ≤ ${f2(p.limitBytes / MB)} MB after the first ${f2(p.firstOps, 0)}.</p>`);
  out.push(lines({
    title: 'Resident memory over operations', xLabel: 'million operations', yLabel: 'RSS (MB)', xScale: 1e6, yScale: MB,
    series: names.map((n) => ({ label: R[n].label, points: R[n].samples })),
  }));
  out.push(htmlTable(names.map((n) => R[n]), [
    { label: 'allocator', get: (r) => r.label },
    { label: 'ops/s', get: (r) => f2(r.opsPerSec, 0), cls: 'n' },
    { label: 'RSS at first million MB', get: (r) => f2(r.rssAtFirst / MB, 1), cls: 'n' },
    { label: 'RSS at end MB', get: (r) => f2(r.rssEnd / MB, 1), cls: 'n' },
    { label: 'growth after MB', get: (r) => f2(r.growthAfterFirst / MB, 3), cls: 'n' },
    { label: 'of it rmem resident MB', get: (r) => (r.name === 'v8' ? '' : f2(r.rmemResidentGrowthAfterFirst / MB, 3)), cls: 'n' },
    { label: 'of it V8 heap MB', get: (r) => f2(r.v8HeapGrowthAfterFirst / MB, 3), cls: 'n' },
    { label: '', get: (r) => (r.name === 'v8' ? 'twin' : mark(r.growthAfterFirst <= p.limitBytes)), html: true },
  ]));
  for (const n of names) {
    if (n === 'v8') continue;
    targets.push({ bench: 'churn', figure: `${R[n].label}: RSS growth after first million`, value: `${f2(R[n].growthAfterFirst / MB, 3)} MB`, target: '≤ 1 MB', met: R[n].growthAfterFirst <= p.limitBytes });
  }
  return out.join('\n');
}

function threeWaySection(doc, targets) {
  const rows = doc.table || [];
  const p = doc.params || {};
  const out = [`<h2 id="three-way">The seed's three-way benchmark (issue 5)</h2>`, header(doc)];
  out.push(`<p>${esc(doc.workload || `${f2(p.requests, 0)} requests × ${p.per} allocations of ${p.size} B (${p.written || ''})`)}; ` +
    `medians of ${p.rounds} rounds.</p>`);
  out.push(bars({
    title: 'Time per run (median, whisker = min–max)', unit: 'ms',
    groups: [{ label: 'time', bars: rows.map((r) => ({ label: r.side, value: r.ms.median, min: r.ms.min, max: r.ms.max })) }],
  }));
  out.push(htmlTable(rows, [
    { label: 'side', get: (r) => r.side },
    { label: 'time ms (median)', get: (r) => f2(r.ms.median), cls: 'n' },
    { label: 'min–max', get: (r) => spread(r.ms), cls: 'n' },
    { label: 'ns/alloc', get: (r) => f2(r.nsPerAlloc), cls: 'n' },
    { label: '× V8 speed', get: (r) => f2(r.speedVsV8), cls: 'n' },
  ]));
  for (const t of doc.targets || []) targets.push({ bench: 'three-way (issue 5)', ...t });
  return out.join('\n');
}

/* Records between worker_threads (bench/js/shared-heap.js, issue 14). */
function sharedSection(doc, targets) {
  const out = [`<h2 id="shared">One heap for several worker_threads</h2>`, header(doc)];
  out.push(`<p>A producer allocates a record, writes it whole and hands it on; a consumer reads it whole and frees it. ` +
    `${f2(doc.records, 0)} records per producer, medians of ${doc.rounds} rounds, sides in alternating order. ` +
    `Load average ${esc((doc.loadBefore || []).join(' / '))} before, ${esc((doc.loadAfter || []).join(' / '))} after.</p>`);
  for (const row of doc.results || []) {
    const sides = Object.entries(row.sides);
    out.push(bars({
      title: `${row.shape} records (${row.min}..${row.max} B), ${row.workers} workers: records per second`, unit: '/s',
      groups: [{ label: 'records/s', bars: sides.map(([k, v]) => ({ label: k, value: v.median, min: v.min, max: v.max })) }],
    }));
    out.push(htmlTable(sides, [
      { label: 'side', get: ([k]) => k },
      { label: 'records/s (median)', get: ([, v]) => f2(v.median, 0), cls: 'n' },
      { label: 'min–max', get: ([, v]) => `${f2(v.min, 0)}–${f2(v.max, 0)}`, cls: 'n' },
      { label: 'rmem ×', get: ([k, v]) => (k === 'rmem' ? '' : f2(row.sides.rmem.median / v.median)), cls: 'n' },
    ]));
  }
  for (const t of doc.targets || []) targets.push({ bench: 'shared heap (issue 14)', figure: t.figure, value: `${f2(t.value)}×`, target: t.target, met: t.met });
  return out.join('\n');
}

function cSection(doc) {
  const out = [`<h2 id="c">C benchmarks (<code>npm run bench:c</code>)</h2>`, header(doc)];
  if (doc.skipped) out.push(`<p class="na">${esc(doc.skipped)}</p>`);
  if (doc.json) out.push(genericBody(doc.json));
  if (doc.output) out.push(`<pre>${esc(doc.output)}</pre>`);
  return out.join('\n');
}

/*
 * The drop-in malloc benchmark (npm run bench:malloc, bench/malloc/run.js):
 * every workload of bench/malloc/workloads.js, run or not, with every
 * allocator's wall time and peak RSS as ratios to the best of the run.
 */
function mallocSection(doc, targets) {
  const { WORKLOADS } = require('../malloc/workloads');
  const R = doc.results || {};
  const allocs = doc.allocators || Object.keys(Object.values(R)[0] || {});
  const ran = WORKLOADS.filter((w) => R[w.name]);
  // workloads in the results that the table no longer knows still show
  const extra = Object.keys(R).filter((n) => !WORKLOADS.some((w) => w.name === n)).map((n) => ({ name: n, what: '' }));
  const rows = [...ran, ...extra];
  const notRun = WORKLOADS.filter((w) => !R[w.name]);
  const out = [`<h2 id="malloc">Drop-in malloc (<code>npm run bench:malloc</code>)</h2>`];
  const m = doc.machine || {};
  const la = doc.loadavg || {};
  const busy = [la.start, la.end].some((l) => l && m.cores && l[0] > m.cores);
  out.push(`<p class="meta">${esc(doc.date || '')}; ${esc(m.cpu || '')}, ${esc(m.cores || '?')} cores, Node ${esc(m.node || '')}; load average ` +
    `${esc((la.start || []).join(' / '))} at the start, ${esc((la.end || []).join(' / '))} at the end${busy ? ' — the machine was busy with other work, expect a wide spread' : ''}</p>`);
  out.push(`<p>Each workload ran ${esc(doc.runs)} time(s) under every allocator (${allocs.map(esc).join(', ')}), interleaved, at scale ${esc(doc.scale)}; ` +
    'figures are medians, ratios are to the fastest (smallest) allocator of the same run, lower is better. An allocator whose output differed from the first allocator\'s (glibc\'s) is marked wrong and left out of the best.</p>');
  const ratio = (r, k) => (r && r.ok && Number.isFinite(r[k]) ? r[k] : NaN);
  // at most 5 workloads of 5 bars to a chart, or the value labels collide
  const nCharts = Math.ceil(rows.length / 5);
  const parts = [];
  for (let c = 0, i = 0; c < nCharts; c++) {
    const n = Math.ceil((rows.length - i) / (nCharts - c));
    parts.push(rows.slice(i, i + n));
    i += n;
  }
  for (const [key, title] of [['time_ratio', 'Wall time ÷ fastest'], ['rss_ratio', 'Peak RSS ÷ smallest']]) {
    for (const [c, part] of parts.entries()) {
      out.push(bars({
        title: `${title}${nCharts > 1 ? ` (${c + 1} of ${nCharts})` : ''}`, unit: '×', width: 940,
        groups: part.map((w) => ({
          label: w.name,
          bars: allocs.map((a) => {
            const r = R[w.name][a];
            const b = { label: a, value: ratio(r, key) };
            if (key === 'time_ratio' && Number.isFinite(b.value) && r.wall_min !== undefined) {
              const fastest = r.wall / r.time_ratio; // whisker: this allocator's min-max runs
              b.min = r.wall_min / fastest;
              b.max = r.wall_max / fastest;
            }
            return b;
          }),
        })),
      }));
    }
  }
  const cell = (r, v, x) => (!r ? 'n/a' : !r.ok ? `<span class="no">wrong output (status ${esc(r.status)})</span>` : `${esc(v)} (${esc(f2(x))}×)`);
  const tableOf = (get, ratioKey) => htmlTable(rows, [
    { label: 'workload', get: (w) => w.name },
    ...allocs.map((a) => ({ label: a, cls: 'n', html: true, get: (w) => cell(R[w.name][a], get(R[w.name][a] || {}), (R[w.name][a] || {})[ratioKey]) })),
  ]);
  out.push('<h3>Wall time, s (× fastest)</h3>', tableOf((r) => f2(r.wall, 3), 'time_ratio'));
  out.push('<h3>CPU time (user + sys), s (× least)</h3>', tableOf((r) => f2(r.cpu, 3), 'cpu_ratio'));
  out.push('<h3>Peak RSS, MB (× smallest)</h3>', tableOf((r) => f2(r.maxrss_kb / 1024, 1), 'rss_ratio'));
  out.push('<h3>The workloads</h3>', htmlTable(WORKLOADS, [
    { label: 'workload', get: (w) => w.name },
    { label: 'threads', get: (w) => w.threads || '', cls: 'n' },
    { label: 'what it exercises', get: (w) => w.what },
    { label: 'this run', html: true, get: (w) => (R[w.name] ? 'ran' : '<span class="na">not run</span>') },
  ]));
  if (notRun.length) out.push(`<p class="na">Not run in this result: ${notRun.map((w) => esc(w.name)).join(', ')}.</p>`);
  if (allocs.includes('rmem')) {
    for (const w of rows) {
      const r = R[w.name].rmem;
      if (!r) continue;
      if (!r.ok) {
        targets.push({ bench: 'malloc', figure: `${w.name}: rmem's output`, value: `wrong (status ${r.status})`, target: 'the same as glibc', met: false });
        continue;
      }
      targets.push({ bench: 'malloc', figure: `${w.name}: rmem wall time`, value: `${f2(r.time_ratio)}× fastest`, target: '≤ 1.10×', met: r.time_ratio <= 1.1 });
      targets.push({ bench: 'malloc', figure: `${w.name}: rmem peak RSS`, value: `${f2(r.rss_ratio)}× smallest`, target: '≤ 1.10×', met: r.rss_ratio <= 1.1 });
    }
  }
  return out.join('\n');
}

/** A flat table of every number in an unknown result file. */
function genericBody(doc) {
  const rows = [];
  const walk = (o, pre) => {
    if (rows.length > 300 || o === null || o === undefined) return;
    if (Array.isArray(o)) {
      if (o.length <= 12) o.forEach((v, i) => walk(v, `${pre}[${i}]`));
    } else if (typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) if (k !== 'machine') walk(v, pre ? `${pre}.${k}` : k);
    } else {
      rows.push({ k: pre, v: typeof o === 'number' ? f2(o, 3) : String(o) });
    }
  };
  walk(doc, '');
  return htmlTable(rows, [{ label: 'field', get: (r) => r.k }, { label: 'value', get: (r) => r.v, cls: 'n' }]);
}

/* ------------------------------------------------------------------ page */

const KNOWN = [
  ['tour', tourSection],
  ['backend-sim', backendSection],
  ['http', httpSection],
  ['session-store', sessionSection],
  ['churn', churnSection],
  ['seed-three-way', threeWaySection],
  ['shared-heap', sharedSection],
  ['c-bench', cSection],
  ['malloc', mallocSection],
];

function makeReport(dir, file = path.join(dir, 'report.html')) {
  const results = readResults(dir);
  const targets = [];
  const sections = [];
  const missing = [];
  for (const [name, fn] of KNOWN) {
    if (!results[name]) {
      missing.push(name);
      continue;
    }
    try {
      sections.push(fn(results[name], targets));
    } catch (e) {
      sections.push(`<h2>${esc(name)}</h2><p class="no">could not render: ${esc(e.message)}</p>`);
    }
  }
  for (const name of Object.keys(results).sort()) {
    if (KNOWN.some(([k]) => k === name)) continue;
    if (name.startsWith('c-')) continue; // the C benchmarks' own files: shown in the c-bench section
    sections.push(`<h2 id="${esc(name)}">${esc(results[name].title || name)}</h2>${header(results[name])}${genericBody(results[name])}`);
  }
  const summary = targets.length
    ? htmlTable(targets, [
      { label: 'benchmark', get: (t) => t.bench },
      { label: 'figure', get: (t) => t.figure },
      { label: 'measured', get: (t) => t.value, cls: 'n' },
      { label: 'target', get: (t) => t.target },
      { label: '', get: (t) => mark(t.met), html: true },
    ])
    : '<p>No targets measured yet.</p>';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rmem benchmark report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1f2937;background:#fafaf9}
h1{font-size:1.8em;margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #e7e5e4;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em;background:#fff}th,td{border:1px solid #e7e5e4;padding:.3em .6em;text-align:left}
th{background:#f5f5f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#047857;font-weight:600}.no{color:#b91c1c;font-weight:600}.na{color:#78716c}
.meta{color:#78716c;font-size:.85em;margin-top:-.5em}.verdict{font-weight:600;background:#ecfdf5;padding:.5em .8em;border-left:4px solid #0f766e}
figure{margin:1em 0;background:#fff;border:1px solid #e7e5e4;padding:.5em;overflow-x:auto}figcaption{color:#57534e;font-size:.85em}
svg .t{font-weight:600;font-size:14px;fill:#1f2937}svg .ax{font-size:11px;fill:#57534e}svg .val{font-size:10px;fill:#1f2937}
svg .grid{stroke:#e7e5e4}svg .wh{stroke:#1f2937;stroke-width:1.2}pre{background:#1c1917;color:#f5f5f4;padding:1em;overflow-x:auto;font-size:.8em}
nav a{margin-right:1em}
</style></head><body>
<h1>rmem benchmark report</h1>
<p class="meta">Generated ${esc(new Date().toISOString())} from ${esc(path.relative(process.cwd(), dir) || dir)}. Every comparison ran both sides in the same run, after a warm-up, with the order of sides alternated; figures are medians, with min–max beside them.</p>
<nav>${KNOWN.filter(([k]) => results[k]).map(([k]) => `<a href="#${{ tour: 'tour', 'backend-sim': 'backend', http: 'http', 'session-store': 'sessions', churn: 'churn', 'seed-three-way': 'three-way', 'shared-heap': 'shared', 'c-bench': 'c', malloc: 'malloc' }[k]}">${esc(k)}</a>`).join('')}</nav>
<h2>Every figure beside its target</h2>
${summary}
${missing.length ? `<p class="na">Not run: ${missing.map(esc).join(', ')}.</p>` : ''}
${sections.join('\n')}
</body></html>
`;
  fs.writeFileSync(file, html);
  return file;
}

if (require.main === module) {
  require('../help').helpIfAsked(__filename);
  const dir = path.resolve(process.argv[2] || path.join(__dirname, '..', 'results'));
  const file = makeReport(dir);
  console.log(`report: ${path.relative(process.cwd(), file)}`);
}

module.exports = { makeReport };
