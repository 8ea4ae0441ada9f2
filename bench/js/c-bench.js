'use strict';
/*
 * c-bench.js - benchmark e: runs the C benchmarks (`npm run bench:c`, that is
 * scripts/bench-c.sh, owned by the C library) and keeps their output and the
 * files they leave in bench/results/ (c-*.json, c-*.txt) for the report. If the script does not
 * exist yet the result says so instead of pretending. Not run in smoke mode
 * (it builds the C library, which takes longer than the smoke test allows).
 *
 *   node bench/js/c-bench.js [--quick]
 * Writes bench/results/c-bench.json.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const H = require('./harness');

function main() {
  const script = path.join(H.ROOT, 'scripts', 'bench-c.sh');
  if (H.SMOKE) {
    H.writeResult('c-bench', { title: 'C benchmarks', skipped: 'not run in smoke mode (it builds the C library)' });
    return;
  }
  if (!fs.existsSync(script)) {
    const doc = { title: 'C benchmarks', skipped: 'scripts/bench-c.sh does not exist in this checkout' };
    H.writeResult('c-bench', doc);
    console.log(doc.skipped);
    return;
  }
  const bar = H.progress('C benchmarks (scripts/bench-c.sh)');
  const env = { ...process.env, ...(H.QUICK ? { RMEM_BENCH_QUICK: '1' } : {}) };
  const r = spawnSync('bash', [script, ...(H.QUICK ? ['--quick'] : [])], {
    cwd: H.ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60 * 1000,
  });
  bar.done(`exit ${r.status ?? r.signal}`);
  const output = `${r.stdout || ''}${r.stderr ? `\n--- stderr ---\n${r.stderr}` : ''}`;
  process.stdout.write(r.stdout || '');
  // what the C benchmarks wrote (scripts/bench-c.sh writes into bench/results/ itself)
  const json = {};
  const dir = path.join(H.ROOT, 'bench', 'results');
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).filter((x) => /^c-.*\.json$/.test(x) && x !== 'c-bench.json')) {
      try {
        json[f] = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      } catch {
        json[f] = 'unreadable';
      }
    }
  }
  H.writeResult('c-bench', {
    title: 'C benchmarks',
    status: r.status,
    output: output.length > 200000 ? output.slice(-200000) : output,
    json: Object.keys(json).length ? json : undefined,
  });
  if (r.status !== 0) {
    console.error(`scripts/bench-c.sh failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
}

main();
