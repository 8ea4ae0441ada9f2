'use strict';
// bench-malloc.test.js - the drop-in malloc benchmark's runner and report stay
// in step with its workloads, without running any workload (the benchmark
// itself is `npm run bench:malloc`; nothing here times anything): every
// bench/malloc/wl_*.c has a row in workloads.js and the other way round,
// run.js --help and its argument checks answer at once, and the HTML report
// shows every workload kind of a malloc.json, run or not.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const dir = path.join(root, 'bench', 'malloc');
const { WORKLOADS } = require(path.join(dir, 'workloads.js'));
const { makeReport } = require(path.join(root, 'bench', 'report', 'make.js'));
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-bench-malloc-test-'));
test.after(() => fs.rmSync(out, { recursive: true, force: true }));

function runJs(args) {
  return spawnSync(process.execPath, [path.join(dir, 'run.js'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 30000, env: { ...process.env, RMEM_BENCH_RESULTS: out },
  });
}

test('every wl_*.c is in the workload table, and every table row has its program', () => {
  const files = fs.readdirSync(dir).filter((f) => /^wl_.*\.c$/.test(f)).map((f) => f.slice(0, -2));
  const bins = WORKLOADS.filter((w) => w.bin).map((w) => w.bin);
  for (const f of files) assert.ok(bins.includes(f), `${f}.c has no row in bench/malloc/workloads.js`);
  for (const b of bins) assert.ok(files.includes(b), `workloads.js names ${b}, but there is no bench/malloc/${b}.c`);
  const names = WORKLOADS.map((w) => w.name);
  assert.strictEqual(new Set(names).size, names.length, 'workload names are unique');
  for (const w of WORKLOADS) {
    assert.ok(w.bin || w.program, `${w.name}: a bin or a program`);
    assert.ok(w.what && w.threads >= 1, `${w.name}: what and threads`);
  }
});

test('run.js --help prints the usage and every workload, and runs nothing', () => {
  const r = runJs(['--help']);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /usage: node bench\/malloc\/run\.js/);
  for (const w of WORKLOADS) assert.ok(r.stdout.includes(w.name), `--help lacks ${w.name}`);
  assert.doesNotMatch(r.stdout, /malloc benchmark:/);
  assert.ok(!fs.existsSync(path.join(out, 'malloc.json')));
});

test('run.js refuses unknown workloads, allocators and options', () => {
  let r = runJs(['--only', 'cfrac,no-such-workload']);
  assert.strictEqual(r.status, 2);
  assert.match(r.stderr, /unknown workload no-such-workload/);
  assert.match(r.stderr, /larson-sized/, 'the error lists the workloads');
  r = runJs(['--allocators', 'glibc,nope', '--bin', out]);
  assert.strictEqual(r.status, 2);
  assert.match(r.stderr, /unknown allocator nope/);
  r = runJs(['--frobnicate']);
  assert.strictEqual(r.status, 2);
  assert.match(r.stderr, /unknown argument --frobnicate/);
  // the new names are accepted: with no build, the runner says where the binaries should be
  r = runJs(['--only', 'mstress,alloc-test-4t', '--bin', out]);
  assert.strictEqual(r.status, 2);
  assert.match(r.stderr, /wl_mstress not found/);
});

test('the report shows every workload kind of malloc.json, run or not, and rmem against the targets', () => {
  const ran = ['cfrac', 'malloc-large', 'cache-thrash-4t'];
  const allocators = ['glibc', 'rmem'];
  const results = {};
  for (const name of ran) {
    results[name] = {};
    for (const [i, a] of allocators.entries()) {
      results[name][a] = {
        wall: 1 + i, wall_min: 0.9 + i, wall_max: 1.1 + i, cpu: 1, maxrss_kb: 2048, ok: name !== 'cache-thrash-4t' || a !== 'rmem',
        status: 0, time_ratio: 1 + i, cpu_ratio: 1, rss_ratio: 1,
      };
    }
  }
  fs.writeFileSync(path.join(out, 'malloc.json'), JSON.stringify({
    name: 'malloc', date: new Date().toISOString(), machine: { cpu: 'test', cores: 2, node: process.version },
    loadavg: { start: [0.5, 0.4, 0.3], end: [3.5, 1, 1] }, runs: 1, scale: '1', allocators, results,
  }));
  const html = fs.readFileSync(makeReport(out), 'utf8');
  assert.ok(html.includes('id="malloc"'), 'the report has the malloc section');
  const section = html.slice(html.indexOf('id="malloc"'));
  for (const w of WORKLOADS) assert.ok(section.includes(`>${w.name}<`), `the report lacks ${w.name}`);
  assert.match(section, /Not run in this result: [^<]*larson-sized/);
  assert.match(section, /3.5 \/ 1 \/ 1 at the end — the machine was busy/);
  assert.match(section, /wrong output/);
  assert.match(html, /malloc-large: rmem wall time/);
  assert.match(html, /cache-thrash-4t: rmem&#39;s output|cache-thrash-4t: rmem's output/);
});
