'use strict';
// bench-smoke.test.js - runs every benchmark script with tiny parameters
// (RMEM_BENCH_SMOKE=1) so the benchmarks cannot rot: each must exit 0 and write
// its JSON with the figures the report reads. No timing is asserted (speed is
// the benchmarks' business, not the tests'). Results go to a temporary
// directory, never over a real run's bench/results/.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-bench-smoke-'));
const env = { ...process.env, RMEM_BENCH_SMOKE: '1', RMEM_BENCH_RESULTS: out };

function run(script, args = []) {
  const r = spawnSync(process.execPath, [path.join(root, script), ...args], {
    cwd: root, env, encoding: 'utf8', timeout: 120000,
  });
  assert.strictEqual(r.error, undefined, `${script}: ${r.error}`);
  assert.strictEqual(r.status, 0, `${script} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r;
}

function result(name) {
  const file = path.join(out, `${name}.json`);
  assert.ok(fs.existsSync(file), `${name}.json was not written`);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.strictEqual(doc.mode, 'smoke');
  return doc;
}

const finite = (x, what) => assert.ok(Number.isFinite(x), `${what} is ${x}`);

test('npm start (bench/tour.js) shows every allocator and writes tour.json', () => {
  const r = run('bench/tour.js');
  for (const s of ['rDefrag', 'Arenas', 'slab cache', 'MeMS Stats', 'VERDICT']) {
    assert.ok(r.stdout.includes(s), `tour output lacks "${s}"`);
  }
  const doc = result('tour');
  assert.strictEqual(doc.heap.problems, 0);
  assert.strictEqual(doc.table.length, 6);
  for (const row of doc.table) finite(row.ms.median, `${row.side} time`);
  assert.match(doc.verdict, /Arena is/);
  // every figure names its workload, in the words the README and seed-three-way.js use
  const workload = '64-byte blocks, 100 per request, 200 requests, every byte written and read';
  assert.ok(r.stdout.includes(`VERDICT <<< (${workload})`), 'the verdict names its workload');
  assert.ok(doc.workload.startsWith(workload), doc.workload);
  for (const t of doc.targets) assert.ok(t.figure.includes(workload), t.figure);
});

test('backend simulation', () => {
  run('bench/js/backend-sim.js');
  const doc = result('backend-sim');
  const sides = Object.values(doc.sides);
  assert.strictEqual(sides.length, 2);
  for (const s of sides) finite(s.ms.median, 'time');
  assert.ok(doc.simulation.logins > 0 && doc.simulation.peakUsers > 0);
});

test('HTTP servers (Express, Fastify; /arena, /native)', () => {
  run('bench/js/http.js');
  const doc = result('http');
  for (const fw of ['express', 'fastify']) {
    for (const route of ['arena', 'native']) {
      const m = doc.results[fw][route];
      finite(m.reqPerSec.median, `${fw} /${route} req/s`);
      assert.ok(m.reqPerSec.median > 0);
      finite(m.peakRss.median, `${fw} /${route} peak RSS`);
      finite(m.p99.median, `${fw} /${route} p99`);
    }
  }
});

test('large live session store (rmem vs Map)', () => {
  run('bench/js/session-store.js');
  const doc = result('session-store');
  for (const s of ['rmem', 'map']) {
    finite(doc.results[s].gcMs.median, `${s} GC time`);
    finite(doc.results[s].startupMs.median, `${s} start-up`);
    assert.ok(doc.results[s].reqPerSec.median > 0);
  }
  assert.strictEqual(doc.targets.length, 6);
});

test('churn on every allocator', () => {
  run('bench/js/churn.js');
  const doc = result('churn');
  for (const n of ['heap', 'arena', 'slab', 'mems', 'v8']) {
    finite(doc.results[n].growthAfterFirst, `${n} growth`);
    assert.ok(doc.results[n].samples.length > 10);
  }
});

test('records between worker_threads: rmem shared heap, thi.ng MemPool, postMessage', () => {
  run('bench/js/shared-heap.js');
  const doc = result('shared-heap');
  assert.strictEqual(doc.results.length, 4); // two shapes x two worker counts
  for (const row of doc.results) {
    for (const side of ['rmem', 'post-copy', 'post-xfer']) finite(row.sides[side].median, `${row.shape} ${row.workers} ${side}`);
  }
  assert.ok(doc.targets.length >= 4);
});

test('C benchmark wrapper and the HTML report', () => {
  run('bench/js/c-bench.js');
  result('c-bench');
  run('bench/report/make.js', [out]);
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /<svg/);
  for (const id of ['tour', 'backend', 'http', 'sessions', 'churn']) assert.ok(html.includes(`id="${id}"`), `report lacks ${id}`);
});

test.after(() => fs.rmSync(out, { recursive: true, force: true }));

test("the session store's hash index agrees with a Map under random churn", () => {
  // the benchmark is only honest if the rmem store really finds every session
  const { Rmem } = require(root);
  const { RmemStore, MapStore, TOKEN } = require(path.join(root, 'bench', 'servers', 'session-stores.js'));
  const rm = new Rmem({ capacity: 16 << 20 });
  try {
    const slab = rm.createSlabCache('t', 64);
    const store = new RmemStore(rm, slab, { alloc: (n) => rm.alloc(n) }, 2000);
    const model = new MapStore();
    const token = new Uint8Array(TOKEN);
    let x = 12345;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8);
    const live = [];
    for (let op = 0; op < 50000; op++) {
      const id = rnd() % 4000;
      token.fill(id & 255);
      if (model.map.has(id)) {
        assert.ok(store.read(id) >= 0, `read ${id}`);
        assert.strictEqual(store.remove(id), model.remove(id));
      } else if (model.size < 2000) {
        store.insert(id, id, op, token);
        model.insert(id, id, op, token);
        live.push(id);
      } else {
        assert.strictEqual(store.read(id), -1);
        assert.strictEqual(store.remove(id), false);
      }
      assert.strictEqual(store.size, model.size);
    }
    for (const id of model.map.keys()) {
      // the record holds what was written: id field and token bytes
      const i = store.find(id);
      assert.ok(i >= 0);
      const p = store.slots[i];
      assert.strictEqual(store.f64[p / 8], id);
      assert.strictEqual(store.u8[p + 32], id & 255);
    }
    assert.strictEqual(rm.validate(), 0);
  } finally {
    rm.destroy();
  }
});
