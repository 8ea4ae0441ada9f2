'use strict';
/*
 * viz-cost.js - what seeing the heap costs (issue 15's cost targets):
 *
 *   1. layout: mem.layout() of a 4 GiB instance holding 1,000,000 live heap
 *      blocks (sizes 8..4096, a few large), median of 5 calls; target < 100 ms.
 *   2. trace: the python3 workload of bench:malloc (dicts and lists built,
 *      serialised, parsed and indexed) under LD_PRELOAD of librmem-malloc.so,
 *      with and without RMEM_MALLOC_TRACE, runs alternated, medians of wall
 *      and CPU time; target traced <= 1.3 x. And the same for a stress case:
 *      200,000 dicts through json with PYTHONMALLOC=malloc (every object a
 *      malloc call: about 14 million events a second).
 *   3. scrub: the live page (npm run viz -- trace) on a trace of 1,000,000
 *      events in headless Chromium: 40 jumps of the timeline slider to
 *      random events, each one's redraw time; target < 50 ms.
 *
 * Each part reports what it needs and skips itself when that is missing
 * (librmem-malloc.so: npm run build:c; /usr/bin/chromium and
 * playwright-core for part 3). Figures go to bench/results/viz-cost.json.
 *
 *   node bench/js/viz-cost.js [--runs=5] [--blocks=1000000] [--events=1000000]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const H = require('./harness');
const { pythonSource } = require('../malloc/workloads');

const ROOT = path.join(__dirname, '..', '..');
const BLOCKS = H.arg('blocks', H.pick(1000000, 300000, 20000));
const EVENTS = H.arg('events', H.pick(1000000, 300000, 20000));
const RUNS = H.arg('runs', H.pick(5, 3, 1));
const PY_ITEMS = H.pick(200000, 100000, 5000);

const rmem = H.loadRmem();
const out = { load: os.loadavg() };

function layoutCost() {
  const mem = new rmem.Rmem({ capacity: 4 * 1024 ** 3 });
  const next = H.prng(15);
  for (let i = 0; i < BLOCKS; i++) mem.alloc(next() % 100 === 0 ? 8192 + (next() % 60000) : 8 + (next() % 4089));
  const times = [];
  let runs = 0;
  for (let k = 0; k < RUNS; k++) {
    const t0 = H.nowNs();
    const lay = mem.layout();
    times.push(H.msSince(t0));
    runs = lay.runs.length;
  }
  const s = H.summary(times);
  console.log(`layout(): 4 GiB instance, ${BLOCKS.toLocaleString('en-US')} live blocks, ${runs.toLocaleString('en-US')} runs: ` +
    `median ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}); target < 100 ms`);
  out.layout = { blocks: BLOCKS, runs, ms: s, pagesInUse: mem.stats().pagesInUse };
  mem.destroy();
}

const LIB = [process.env.RMEM_MALLOC_LIB, 'build/release/malloc/librmem-malloc.so', 'build/test-plain/malloc/librmem-malloc.so']
  .filter(Boolean).map((p) => path.resolve(ROOT, p)).find((p) => fs.existsSync(p));
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// the python3 workload of bench/malloc (npm run bench:malloc), as it runs there
const BENCH_PY = pythonSource(H.pick(60000, 30000, 2000), H.pick(20000, 10000, 500));
// the same kind of work with every object a malloc call (PYTHONMALLOC=malloc): the busiest case for the trace
const STRESS_PY = `import json
d = [{"k": i, "v": str(i) * 8, "l": [i, i + 1]} for i in range(${PY_ITEMS})]
s = json.dumps(d)
e = json.loads(s)
print(len(s), len(e))`;

/** One python3 workload, traced and not, alternated; medians of wall and CPU time. */
function tracedVsNot(label, script, extraEnv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-viz-cost-'));
  const file = path.join(dir, 'py.trace');
  const run = (traced) => {
    const env = { ...process.env, LD_PRELOAD: LIB, ...extraEnv };
    if (traced) env.RMEM_MALLOC_TRACE = file;
    else delete env.RMEM_MALLOC_TRACE;
    // bash's time gives the child's CPU time too (user + system), which a busy machine disturbs less than wall time
    const r = spawnSync('bash', ['-c', 'TIMEFORMAT="%3R %3U %3S"; time "$0" -c "$1"', PYTHON, script], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
    const [real, user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
    return { ms: real * 1000, cpu: (user + sys) * 1000 };
  };
  run(false);
  run(true); // warm-up
  const plain = [];
  const traced = [];
  for (let k = 0; k < RUNS; k++) {
    if (k % 2) {
      traced.push(run(true));
      plain.push(run(false));
    } else {
      plain.push(run(false));
      traced.push(run(true));
    }
  }
  const p = H.summary(plain.map((x) => x.ms));
  const t = H.summary(traced.map((x) => x.ms));
  const pc = H.summary(plain.map((x) => x.cpu));
  const tc = H.summary(traced.map((x) => x.cpu));
  const decoded = rmem.readTrace(file);
  const events = decoded.processes.reduce((n, q) => n + q.n, 0);
  const balanced = decoded.processes.every((q) => rmem.replayTrace(q, decoded).stats.balanced);
  const bytes = fs.statSync(file).size;
  const ratio = t.median / p.median;
  const cpuRatio = tc.median / pc.median;
  console.log(`trace, ${label}: untraced median ${p.median.toFixed(0)} ms, traced ${t.median.toFixed(0)} ms = ${ratio.toFixed(3)} x wall ` +
    `(CPU ${pc.median.toFixed(0)} -> ${tc.median.toFixed(0)} ms = ${cpuRatio.toFixed(3)} x); ${events.toLocaleString('en-US')} events, ` +
    `${(bytes / 1048576).toFixed(1)} MiB, ${balanced ? 'balanced' : 'NOT balanced'}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return { plain: p, traced: t, ratio, cpuPlain: pc, cpuTraced: tc, cpuRatio, events, bytes, balanced };
}

function traceCost() {
  if (!LIB) {
    console.log('trace: skipped (no librmem-malloc.so: npm run build:c)');
    out.trace = { skipped: 'no librmem-malloc.so' };
    return;
  }
  out.trace = {
    workload: tracedVsNot("python3, bench:malloc's workload (target <= 1.3 x)", BENCH_PY, {}),
    stress: tracedVsNot(`python3, ${PY_ITEMS.toLocaleString('en-US')} dicts through json with PYTHONMALLOC=malloc (every object a malloc)`, STRESS_PY,
      { PYTHONMALLOC: 'malloc' }),
  };
}

/** A trace of n events in the drop-in's format (malloc/trace.c), addresses from a real instance's heap (random replacement). */
function syntheticTrace(file, n) {
  const mem = new rmem.Rmem({ capacity: 1 << 30 });
  const base = 0x7f0000000000;
  const per = 4000;
  const buf = Buffer.alloc(32 + Math.ceil(n / per) * 48 + n * 16);
  buf.write('RMTRACE2', 0, 'latin1');
  buf.writeUInt32LE(2, 8);
  buf.writeUInt32LE(16, 12);
  buf.writeUInt32LE(48, 16);
  buf.writeUInt32LE(4096, 20);
  const w64 = (v, o) => {
    buf.writeUInt32LE(v % 4294967296, o);
    buf.writeUInt32LE(Math.floor(v / 4294967296), o + 4);
  };
  const next = H.prng(3);
  const live = [];
  let o = 32;
  let t = 1e9; // ticks are ns here: the (ticks, ns) pairs say so
  for (let ev = 0; ev < n;) {
    const cnt = Math.min(per, n - ev);
    buf.writeUInt32LE(0x42544d52, o);
    buf.writeUInt32LE(cnt, o + 4);
    buf.writeUInt32LE(1, o + 8);
    buf.writeUInt32LE(1, o + 12);
    w64(1e9, o + 16);
    w64(1e9, o + 24);
    w64(1e9 + n * 50, o + 32);
    w64(1e9 + n * 50, o + 40);
    o += 48;
    for (let i = 0; i < cnt; i++, ev++) {
      t += 50;
      let kind = 1;
      let size = 0;
      let p;
      if (live.length < n / 20 || next() % 2) {
        size = next() % 50 === 0 ? 5000 + (next() % 60000) : 8 + (next() % 600);
        p = mem.alloc(size);
        live.push(p);
      } else {
        const j = next() % live.length;
        p = live[j];
        live[j] = live[live.length - 1];
        live.pop();
        mem.free(p);
        kind = 2;
      }
      const addr = base + p;
      buf.writeUInt32LE(t % 4294967296, o);
      buf.writeUInt32LE(Math.floor(t / 4294967296) | (kind << 24), o + 4);
      buf.writeUInt32LE(addr % 4294967296, o + 8);
      buf.writeUInt32LE(Math.floor(addr / 4294967296) + size * 65536, o + 12);
      o += 16;
    }
  }
  fs.writeFileSync(file, buf.subarray(0, o));
  mem.destroy();
}

async function scrubCost() {
  const chromium = process.env.RMEM_CHROMIUM || '/usr/bin/chromium';
  let pw = null;
  try {
    pw = require('playwright-core');
  } catch {
    pw = null;
  }
  if (!fs.existsSync(chromium) || !pw) {
    console.log('scrub: skipped (needs /usr/bin/chromium and playwright-core)');
    out.scrub = { skipped: 'no chromium or playwright-core' };
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-viz-cost-'));
  const file = path.join(dir, 'big.trace');
  syntheticTrace(file, EVENTS);
  const server = require('../../lib/viz/server');
  let t0 = H.nowNs();
  const viz = server.serveTrace(file, { port: 0 });
  await viz.ready;
  const decodeMs = H.msSince(t0);
  const context = await pw.chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: chromium, headless: true, viewport: { width: 1300, height: 1100 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    t0 = H.nowNs();
    await page.goto(viz.url);
    await page.waitForFunction(() => window.__viz && (window.__viz.ready || window.__viz.error), null, { timeout: 300000 });
    const loadMs = H.msSince(t0);
    const times = await page.evaluate(() => {
      const res = [];
      let s = 7;
      for (let k = 0; k < 40; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        res.push(window.__viz.go(Math.floor((s / 4294967296) * window.__viz.count)));
      }
      return res;
    });
    const s = H.summary(times);
    console.log(`scrub: a trace of ${EVENTS.toLocaleString('en-US')} events in headless Chromium: page ready in ${(loadMs / 1000).toFixed(1)} s ` +
      `(server decode ${decodeMs.toFixed(0)} ms); 40 random jumps redraw in median ${s.median.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; target < 50 ms`);
    out.scrub = { events: EVENTS, loadMs, decodeMs, redrawMs: s };
  } finally {
    await context.close();
    await viz.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`viz-cost (${H.MODE}): load average ${out.load.map((x) => x.toFixed(2)).join(' ')}`);
  layoutCost();
  traceCost();
  await scrubCost();
  const f = H.writeResult('viz-cost', { title: 'the cost of seeing the heap', params: { blocks: BLOCKS, events: EVENTS, runs: RUNS }, ...out });
  console.log(`figures: ${path.relative(process.cwd(), f)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
