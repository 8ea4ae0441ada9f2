'use strict';
// The issue-5 benchmark (bench/js/seed-three-way.js) runs end to end in its
// smoke mode and writes a well-formed result. No timing is asserted here:
// speed is the benchmark's business, not the tests'.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');

test('seed-three-way --smoke runs and writes its JSON', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-three-way-'));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bench', 'js', 'seed-three-way.js'), '--smoke'], {
    cwd: ROOT, encoding: 'utf8', timeout: 60000, env: { ...process.env, RMEM_BENCH_RESULTS: dir },
  });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(fs.readFileSync(path.join(dir, 'seed-three-way.json'), 'utf8'));
  assert.equal(doc.mode, 'smoke');
  const sides = doc.table.map((row) => row.side);
  for (const s of ['v8', 'rAlloc/rFree', 'arena', 'rAlloc/rFree, native call each', 'arena, native call each']) {
    assert.ok(sides.includes(s), s);
  }
  for (const row of doc.table) assert.ok(row.ms.median > 0 && Number.isFinite(row.speedVsV8), row.side);
  assert.equal(doc.targets.length, 2);
  // every figure names its workload, in the words the README and the tour use
  const workload = '64-byte blocks, 100 per request, 200 requests, first and last byte written';
  assert.equal(doc.workload, workload);
  for (const t of doc.targets) assert.ok(t.figure.includes(workload), t.figure);
  for (const line of r.stdout.split('\n').filter((l) => /^(MET|NOT MET)/.test(l))) assert.ok(line.includes(workload), line);
  assert.ok(r.stdout.includes(`workload ${workload}`), 'the header names the workload');
  fs.rmSync(dir, { recursive: true, force: true });
});
