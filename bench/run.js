'use strict';
/*
 * run.js - `npm run bench`: the full benchmark set, each benchmark in its own
 * Node process, each against its V8 twin in the same run, then the HTML
 * report (bench/results/report.html) from the JSON they wrote.
 *
 *   npm run bench                  the full set (about 11 minutes on 2 cores)
 *   npm run bench -- --quick       shorter loads and fewer rounds
 *   npm run bench -- --only=http,churn
 *     (names: backend-sim, http, session-store, churn, seed-three-way, shared-heap, c-bench)
 * A benchmark that fails is reported and the others still run; the exit
 * status is non-zero if any failed.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { makeReport } = require('./report/make');
const H = require('./js/harness');

const BENCHES = [
  ['backend-sim', 'bench/js/backend-sim.js'],
  ['http', 'bench/js/http.js'],
  ['session-store', 'bench/js/session-store.js'],
  ['churn', 'bench/js/churn.js'],
  // the Node bridge's own three-way benchmark (issue 5), when present
  ['seed-three-way', 'bench/js/seed-three-way.js'],
  // records between worker_threads through one shared heap (issue 14)
  ['shared-heap', 'bench/js/shared-heap.js'],
  ['c-bench', 'bench/js/c-bench.js'],
];

function main() {
  const only = H.arg('only', '');
  const pass = process.argv.slice(2).filter((a) => a === '--quick' || (!a.startsWith('--only=') && a.startsWith('--')));
  const chosen = BENCHES.filter(([name]) => !only || only.split(',').includes(name));
  const failed = [];
  const t0 = Date.now();
  console.log(`rmem benchmarks (${H.MODE}): ${chosen.map(([n]) => n).join(', ')}`);
  for (const [name, file] of chosen) {
    const abs = path.join(H.ROOT, file);
    if (!fs.existsSync(abs)) {
      console.log(`\n=== ${name}: ${file} not present, skipped`);
      continue;
    }
    console.log(`\n=== ${name} (${file})`);
    const r = spawnSync(process.execPath, [abs, ...pass], { cwd: H.ROOT, stdio: 'inherit', timeout: 30 * 60 * 1000 });
    if (r.status !== 0) {
      console.error(`=== ${name} FAILED (${r.status ?? r.signal})`);
      failed.push(name);
    }
  }
  const report = makeReport(H.RESULTS);
  console.log(`\nreport: ${path.relative(process.cwd(), report)}  (${((Date.now() - t0) / 1000).toFixed(0)} s in all)`);
  if (failed.length) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}

main();
