'use strict';
/*
 * session-store.js - benchmark c: a server holding 1,000,000 live sessions
 * while every request replaces one (bench/servers/session-server.js), with
 * the sessions in an rmem slab cache + an index in rmem memory vs a plain JS
 * Map. Each store runs in its own server child (node --expose-gc) so its peak
 * RSS and its GC are its own.
 *
 * Per store and round: start the server (the fill is the start-up time), an
 * untimed warm-up load, the measured load (60 s, 50 connections), RSS sampled
 * every 500 ms, then one forced full GC timed inside the server, then the peak
 * RSS (VmHWM). Rounds alternate which store goes first; figures are medians.
 *
 * Targets vs the Map (issue 6): max latency <= 0.3x, peak RSS <= 0.3x,
 * forced full GC <= 5 ms, throughput >= 1.0x.
 *
 *   node bench/js/session-store.js [--quick] [--sessions=1000000] [--duration=60]
 *        [--connections=50] [--rounds=2]
 * Writes bench/results/session-store.json.
 */
const path = require('node:path');
const H = require('./harness');
const { startServer, stopServer, load, latencyFigures, sampleRss, getJson } = require('./load');

const SESSIONS = H.arg('sessions', H.pick(1000000, 1000000, 10000));
const DURATION = H.arg('duration', H.pick(60, 10, 1));
const WARMUP = H.arg('warmup', H.pick(5, 2, 1));
const CONNECTIONS = H.arg('connections', H.pick(50, 50, 10));
const ROUNDS = H.arg('rounds', H.pick(2, 1, 1));
const STORES = ['rmem', 'map'];
const SERVER = path.join(__dirname, '..', 'servers', 'session-server.js');

async function runStore(store) {
  const { child, ready } = await startServer(SERVER, [`--store=${store}`, `--sessions=${SESSIONS}`], {
    execArgv: ['--expose-gc'],
    timeoutMs: 180000,
  });
  const base = `http://127.0.0.1:${ready.port}`;
  try {
    const afterFill = H.procMemory(child.pid).rss;
    await load(`${base}/replace`, WARMUP, CONNECTIONS);
    const sampler = sampleRss(child.pid, 500);
    const res = await load(`${base}/replace`, DURATION, CONNECTIONS);
    const rssSamples = sampler.stop();
    const gc = await getJson(`${base}/gc`);
    if (gc.sessions !== SESSIONS) throw new Error(`${store} store holds ${gc.sessions} sessions, not ${SESSIONS}`);
    return {
      ...latencyFigures(res),
      startupMs: ready.startupMs,
      rssAfterFill: afterFill,
      peakRss: H.procMemory(child.pid).hwm,
      gcMs: gc.gcMs,
      gcMedianMs: gc.gcMedianMs,
      heapUsedAfterGc: gc.heapUsed,
      rssSamples,
    };
  } finally {
    await stopServer(child);
  }
}

const METRICS = ['p50', 'p97_5', 'p99', 'max', 'avg', 'reqPerSec', 'startupMs', 'rssAfterFill', 'peakRss', 'gcMs',
  'gcMedianMs', 'heapUsedAfterGc'];

async function main() {
  const runs = { rmem: [], map: [] };
  const bar = H.progress(`session store: ${SESSIONS.toLocaleString('en-US')} sessions, ${STORES.length} stores × ` +
    `${ROUNDS} round(s) × ${DURATION} s, ${CONNECTIONS} connections`);
  let step = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? STORES : [...STORES].reverse();
    for (const s of order) {
      bar.update(step++ / (ROUNDS * STORES.length), s);
      runs[s].push(await runStore(s));
    }
  }
  bar.done();
  const results = {};
  for (const s of STORES) {
    const m = {};
    for (const k of METRICS) m[k] = H.summary(runs[s].map((x) => x[k]));
    const byPeak = [...runs[s]].sort((a, b) => a.peakRss - b.peakRss);
    m.rssSamples = byPeak[byPeak.length >> 1].rssSamples;
    results[s] = m;
  }
  const R = results.rmem;
  const M = results.map;
  const targets = [
    { figure: 'max latency', rmem: R.max.median, map: M.max.median, unit: 'ms', ratio: H.ratio(R.max.median, M.max.median),
      target: '≤ 0.3×', met: R.max.median <= 0.3 * M.max.median },
    { figure: 'peak RSS', rmem: H.mb(R.peakRss.median, 1), map: H.mb(M.peakRss.median, 1), unit: 'MB',
      ratio: H.ratio(R.peakRss.median, M.peakRss.median), target: '≤ 0.3×', met: R.peakRss.median <= 0.3 * M.peakRss.median },
    { figure: 'forced full GC (first after the load)', rmem: Number(R.gcMs.median.toFixed(2)),
      map: Number(M.gcMs.median.toFixed(2)), unit: 'ms', ratio: H.ratio(R.gcMs.median, M.gcMs.median), target: '≤ 5 ms',
      met: R.gcMs.median <= 5 },
    { figure: 'forced full GC (median of 5 in a row)', rmem: Number(R.gcMedianMs.median.toFixed(2)),
      map: Number(M.gcMedianMs.median.toFixed(2)), unit: 'ms', ratio: H.ratio(R.gcMedianMs.median, M.gcMedianMs.median),
      target: '≤ 5 ms', met: R.gcMedianMs.median <= 5 },
    { figure: 'throughput', rmem: Math.round(R.reqPerSec.median), map: Math.round(M.reqPerSec.median), unit: 'req/s',
      ratio: H.ratio(R.reqPerSec.median, M.reqPerSec.median), target: '≥ 1.0×',
      met: R.reqPerSec.median >= M.reqPerSec.median },
    { figure: 'start-up (fill)', rmem: Math.round(R.startupMs.median), map: Math.round(M.startupMs.median), unit: 'ms',
      ratio: H.ratio(R.startupMs.median, M.startupMs.median), target: '(reported)', met: null },
  ];
  console.log(`\nLarge live session store: ${SESSIONS.toLocaleString('en-US')} sessions, every request replaces one ` +
    `(autocannon ${DURATION} s, ${CONNECTIONS} connections; medians of ${ROUNDS} round(s))`);
  const rows = {};
  for (const s of STORES) {
    const m = results[s];
    rows[s === 'rmem' ? 'rmem slab + index' : 'JS Map'] = {
      'p50 ms': m.p50.median,
      'p99 ms': m.p99.median,
      'max ms': m.max.median,
      'req/s': Math.round(m.reqPerSec.median),
      'start-up ms': Math.round(m.startupMs.median),
      'peak RSS MB': H.mb(m.peakRss.median, 1),
      'full GC ms (1st)': Number(m.gcMs.median.toFixed(2)),
      'full GC ms (median of 5)': Number(m.gcMedianMs.median.toFixed(2)),
    };
  }
  H.table(rows);
  for (const t of targets) {
    const mark = t.met === null ? ' ' : t.met ? '✓' : '✗';
    console.log(`${mark} ${t.figure}: rmem ${t.rmem} ${t.unit} vs Map ${t.map} ${t.unit} = ${t.ratio}× (target ${t.target})`);
  }
  const file = H.writeResult('session-store', {
    title: 'Large live session store: rmem vs JS Map',
    params: { sessions: SESSIONS, duration: DURATION, warmup: WARMUP, connections: CONNECTIONS, rounds: ROUNDS },
    results,
    targets,
  });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
