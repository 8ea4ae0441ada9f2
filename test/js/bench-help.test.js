'use strict';
// Every script under bench/ answers --help with what it measures and how to
// run it, and runs nothing (bench/run.js --help used to start the full
// 11-minute set). Libraries (files that only export) and bench/malloc/run.js
// (which has a --help of its own) are left out.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');

function scripts(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'results' ? [] : scripts(file);
    if (!e.name.endsWith('.js')) return [];
    const rel = path.relative(ROOT, file);
    if (rel === path.join('bench', 'malloc', 'run.js') || rel === path.join('bench', 'help.js')) return [];
    const text = fs.readFileSync(file, 'utf8');
    const library = /module\.exports/.test(text) && !/require\.main === module/.test(text);
    return library ? [] : [rel];
  });
}

const found = scripts(BENCH);

test('bench/ has scripts to check', () => {
  for (const s of ['bench/run.js', 'bench/tour.js', 'bench/js/seed-three-way.js']) assert.ok(found.includes(s), s);
});

for (const rel of found) {
  test(`node ${rel} --help prints its usage and runs nothing`, () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-bench-help-'));
    const r = spawnSync(process.execPath, [path.join(ROOT, rel), '--help'], {
      cwd: ROOT, encoding: 'utf8', timeout: 30000, env: { ...process.env, RMEM_BENCH_RESULTS: out },
    });
    assert.equal(r.status, 0, `${rel} --help exited ${r.status ?? r.signal}\n${r.stderr}`);
    assert.ok(r.stdout.startsWith(`${rel}\n\n`), r.stdout.slice(0, 200));
    assert.match(r.stdout, /--help, -h/);
    assert.ok(r.stdout.split('\n').length > 5, 'a usage text, not a line');
    assert.deepEqual(fs.readdirSync(out), [], 'it wrote results: it ran');
    fs.rmSync(out, { recursive: true, force: true });
  });
}
