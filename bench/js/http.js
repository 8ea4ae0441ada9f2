'use strict';
/*
 * http.js - benchmark b: Express and Fastify on 127.0.0.1, each with an
 * /arena and a /native route doing the same per-request work
 * (bench/servers/work.js), under autocannon.
 *
 * Every (framework, route) pair runs in a fresh server child process so its
 * peak RSS (VmHWM) belongs to that route alone. The load runs in this process
 * (the server's CPU is its own). Each measured run comes after an untimed
 * warm-up run against the same server; rounds alternate the route order; the
 * figures are medians over rounds with min/max beside them.
 *
 *   node bench/js/http.js [--quick] [--duration=10] [--connections=100] [--rounds=5]
 * Writes bench/results/http.json.
 */
const path = require('node:path');
const H = require('./harness');
const { startServer, stopServer, load, latencyFigures, sampleRss } = require('./load');

const DURATION = H.arg('duration', H.pick(10, 3, 1));
const WARMUP = H.arg('warmup', H.pick(3, 1, 1));
const CONNECTIONS = H.arg('connections', H.pick(100, 100, 10));
const ROUNDS = H.arg('rounds', H.pick(5, 1, 1));
const FRAMEWORKS = ['express', 'fastify'];
const ROUTES = ['arena', 'native'];

/** One measured run of one route on a fresh server: warm-up, then the timed load. */
async function runRoute(framework, route) {
  const { child, ready } = await startServer(path.join(__dirname, '..', 'servers', `${framework}.js`));
  const url = `http://127.0.0.1:${ready.port}/${route}`;
  try {
    await load(url, WARMUP, CONNECTIONS);
    const sampler = sampleRss(child.pid);
    const res = await load(url, DURATION, CONNECTIONS);
    const rssSamples = sampler.stop();
    return { ...latencyFigures(res), peakRss: H.procMemory(child.pid).hwm, rssSamples };
  } finally {
    await stopServer(child);
  }
}

const METRICS = ['p50', 'p97_5', 'p99', 'max', 'avg', 'stddev', 'reqPerSec', 'peakRss'];

async function main() {
  const results = {};
  const bar = H.progress(`HTTP: ${FRAMEWORKS.length} frameworks × ${ROUTES.length} routes × ${ROUNDS} rounds, ` +
    `${DURATION} s each, ${CONNECTIONS} connections`);
  const steps = FRAMEWORKS.length * ROUTES.length * ROUNDS;
  let step = 0;
  for (const fw of FRAMEWORKS) {
    const runs = { arena: [], native: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ROUTES : [...ROUTES].reverse();
      for (const route of order) {
        bar.update(step / steps, `${fw} /${route}`);
        runs[route].push(await runRoute(fw, route));
        step++;
      }
    }
    results[fw] = {};
    for (const route of ROUTES) {
      const m = {};
      for (const k of METRICS) m[k] = H.summary(runs[route].map((x) => x[k]));
      // The memory-over-time chart shows the run whose peak RSS is the median one.
      const byPeak = [...runs[route]].sort((a, b) => a.peakRss - b.peakRss);
      m.rssSamples = byPeak[byPeak.length >> 1].rssSamples;
      results[fw][route] = m;
    }
  }
  bar.done();

  const rows = {};
  const ratios = {};
  for (const fw of FRAMEWORKS) {
    for (const route of ROUTES) {
      const m = results[fw][route];
      rows[`${fw} /${route}`] = {
        'p50 ms': m.p50.median,
        'p97.5 ms': m.p97_5.median,
        'p99 ms': m.p99.median,
        'max ms': m.max.median,
        'req/s': Math.round(m.reqPerSec.median),
        'req/s spread': `${(m.reqPerSec.spread * 100).toFixed(1)}%`,
        'peak RSS MB': H.mb(m.peakRss.median, 1),
      };
    }
    const a = results[fw].arena;
    const n = results[fw].native;
    // Paired: the two routes of one round ran back to back, so their ratio is
    // less exposed to a machine whose load drifts than the ratio of medians.
    const paired = (k) => H.ratio(H.median(a[k].runs.map((x, r) => x / n[k].runs[r])), 1);
    ratios[fw] = {
      throughput: H.ratio(a.reqPerSec.median, n.reqPerSec.median),
      p99: H.ratio(a.p99.median, n.p99.median),
      max: H.ratio(a.max.median, n.max.median),
      peakRss: H.ratio(a.peakRss.median, n.peakRss.median),
      pairedThroughput: paired('reqPerSec'),
      pairedP99: paired('p99'),
    };
  }
  console.log(`\nHTTP servers on 127.0.0.1 (autocannon ${DURATION} s, ${CONNECTIONS} connections, ` +
    `after a ${WARMUP} s warm-up; medians of ${ROUNDS} round(s))`);
  H.table(rows);
  for (const fw of FRAMEWORKS) {
    const r = ratios[fw];
    console.log(`${fw}: /arena vs /native — throughput ${r.throughput}× (per-round pairs: ${r.pairedThroughput}×), ` +
      `p99 ${r.p99}× (pairs: ${r.pairedP99}×), max ${r.max}×, peak RSS ${r.peakRss}×`);
  }
  const file = H.writeResult('http', {
    title: 'HTTP servers: /arena vs /native',
    params: { duration: DURATION, warmup: WARMUP, connections: CONNECTIONS, rounds: ROUNDS },
    results,
    ratios,
  });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
