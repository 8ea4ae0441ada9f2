'use strict';
// The heap map (SVG and terminal), the scenarios, the first-fit simulator and
// the viz server without a browser (test/viz/ drives the page in Chromium).
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const rmem = require('../../lib');
const cells = require('../../lib/viz/cells');
const scenarios = require('../../lib/viz/scenarios');
const { FirstFit } = require('../../lib/viz/firstfit');
const server = require('../../lib/viz/server');

const { Rmem } = rmem;

/** An instance with a run of every owner. */
function everyOwner() {
  const mem = new Rmem({ capacity: 8 << 20 });
  const ps = [];
  for (let i = 0; i < 500; i++) ps.push(mem.alloc(16 + (i * 37) % 2000));
  for (let i = 0; i < ps.length; i += 2) mem.free(ps[i]);
  mem.alloc(100000);
  const clean = mem.alloc(2 << 20);
  mem.alloc(40000); // a page run between the two
  const dirty = mem.alloc(900000);
  mem.alloc(40000);
  mem.free(clean); // a large block's pages stay resident for the next one ...
  mem.defrag(); // ... until the heap is defragmented: a clean free run
  mem.free(dirty); // 220 pages: a free run that stays resident (dirty)
  const a = mem.createArena({ lifetime: 'transient' });
  for (let i = 0; i < 100; i++) a.alloc(100);
  const ia = mem.createArena({ lifetime: 'intermediate' });
  ia.alloc(200);
  const c = mem.createSlabCache('session', 512);
  c.alloc();
  mem.mems.init();
  mem.mems.malloc(1000);
  return mem;
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function request(url, method) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the SVG map renders every owner, with titles, and is the same for the same state', () => {
  const mem = everyOwner();
  const lay = mem.layout();
  const svg = rmem.heapMap(mem, { title: 'every owner' });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" /);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  for (const label of ['reserved', 'free (returned to the OS)', 'free, still resident', 'heap slab', 'heap large block',
    'arena chunk', 'intermediate arena', 'slab cache slab', 'MeMS main node']) assert.ok(svg.includes(label), label);
  assert.ok(svg.includes("<title>slab cache 'session' (512 B objects): 1 of 128 live"), 'hover titles say owner and details');
  assert.match(svg, /<title>heap slab, class \d+ B: \d+ of \d+ slots live, \d+ cached; offset \d+, 16 pages \(64 KiB\)<\/title>/);
  assert.match(svg, /<title>MeMS main node 0 \[1000:5095\]: 1000 B in use; P\[1000:1999\] H\[2000:5095\]; offset \d+/);
  assert.equal(rmem.heapMap(lay, { title: 'every owner' }), svg, 'the same layout gives the same bytes');
  assert.equal(rmem.heapMap(mem.layout(), { title: 'every owner' }), svg);
  assert.equal((svg.match(/<g>/g) || []).length, lay.runs.filter((r) => r.offset < lay.capacity - 4096 && !r.untouched).length,
    'one group per run drawn');
  assert.ok(!svg.includes('NaN') && !svg.includes('undefined'));
  // a big instance is drawn in at most maxCells cells
  const m = cells.model(lay, { maxCells: 64, full: true });
  assert.ok(m.ncells <= 64);
  assert.equal(m.ncells * m.cellBytes >= lay.capacity, true);
  mem.destroy();
});

test('the terminal map, with and without colour', () => {
  const mem = everyOwner();
  const plain = rmem.heapMapText(mem, { color: false });
  for (const ch of ['#', 'h', 'L', 'a', 'i', 's', 'm', ':', '.']) assert.ok(plain.includes(ch), ch);
  assert.ok(!plain.includes('\x1b['));
  const colour = rmem.heapMapText(mem, { color: true });
  assert.ok(colour.includes('\x1b[38;5;'));
  assert.ok(colour.includes('█') || colour.includes('▇'));
  const lines = rmem.heapMapText(mem, { color: false, columns: 32, legend: false }).trimEnd().split('\n');
  assert.ok(lines.slice(1).every((l) => l.length <= 34));
  rmem.init();
  assert.match(rmem.heapMapText(undefined, { color: false }), /^heap map: 64 MiB/);
  assert.throws(() => rmem.heapMap(42), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => rmem.heapMap(mem, 'x'), { code: 'ERR_INVALID_ARG_TYPE' });
  mem.destroy();
});

test('scenarios are deterministic and every step agrees with itself', () => {
  const names = scenarios.list().map((s) => s.name);
  assert.deepEqual(names, ['heap', 'arenas', 'slab', 'mems', 'fragmentation', 'firstfit']);
  for (const name of names) {
    const a = scenarios.run(name);
    const b = scenarios.run(name);
    const strip = (x) => JSON.stringify(x.steps.map((s) => ({ ...s, stats: { ...s.stats, resident: 0 }, text: s.text })));
    assert.equal(strip(a), strip(b), `${name} is the same every run`);
    assert.ok(a.steps.length >= 10);
    for (const s of a.steps) {
      let at = 0;
      for (const r of s.layout.runs) {
        assert.equal(r.offset, at);
        at += r.pages * 4096;
      }
      assert.equal(at, s.layout.capacity);
    }
  }
  assert.throws(() => scenarios.run('nope'), { code: 'ERR_OUT_OF_RANGE' });
  const ff = scenarios.run('firstfit');
  assert.ok(ff.steps.every((s) => s.compare && s.compare.layout && s.compare.stats));
  const mid = ff.steps[12];
  assert.ok(mid.compare.stats.fragmentation > mid.stats.fragmentation, 'first fit fragments more on this trace');
});

test('the first-fit simulator splits, coalesces and gives the top back', () => {
  const f = new FirstFit(1 << 20);
  const a = f.malloc(100);
  const b = f.malloc(100);
  const c = f.malloc(100);
  assert.equal(f.stats().extent, 3 * 128);
  f.free(b);
  assert.deepEqual(f.holes, [[128, 128]]);
  const d = f.malloc(50); // first fit: into the hole, split
  assert.equal(d, 128 + 16);
  assert.deepEqual(f.holes, [[208, 48]]);
  f.free(a);
  f.free(d);
  assert.deepEqual(f.holes, [[0, 256]], 'coalesced with both neighbours');
  f.free(c);
  assert.equal(f.stats().extent, 0, 'the top hole goes back');
  assert.equal(f.holes.length, 0);
  assert.throws(() => f.free(12345));
  assert.equal(new FirstFit(64).malloc(100), 0, 'out of space');
  const lay = (() => { const g = new FirstFit(1 << 20); g.malloc(10); const x = g.malloc(5000); g.malloc(10); g.free(x); return g.layout(); })();
  assert.deepEqual(lay.runs.map((r) => r.owner), ['heap', 'free', 'heap', 'free']);
});

test('serveViz serves the live instance on 127.0.0.1 and closes', async () => {
  const mem = everyOwner();
  const viz = rmem.serveViz(mem, { port: 0 });
  assert.equal(typeof viz.close, 'function');
  await viz.ready;
  assert.match(viz.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await get(viz.url);
  assert.equal(page.status, 200);
  assert.match(page.body.toString(), /window\.RMEM_VIZ = \{"mode":"live"/);
  assert.equal((await get(`${viz.url}cells.js`)).status, 200);
  assert.equal((await get(`${viz.url}app.js`)).status, 200);
  const live = JSON.parse((await get(`${viz.url}api/live`)).body);
  assert.deepEqual(live.layout, mem.layout());
  assert.equal(live.text, mem.formatStats());
  mem.alloc(5000);
  const again = JSON.parse((await get(`${viz.url}api/live`)).body);
  assert.deepEqual(again.layout, mem.layout(), 'every poll sees the instance as it is now');
  assert.equal(again.history.length, 2);
  assert.equal((await get(`${viz.url}../../package.json`)).status, 404);
  assert.equal((await get(`${viz.url}api/nope`)).status, 404);
  assert.equal(await request(`${viz.url}api/live`, 'POST'), 405);
  await viz.close();
  await assert.rejects(get(viz.url));
  await viz.close(); // twice is fine
  mem.destroy();
  assert.throws(() => rmem.serveViz({}), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => server.serveScenarios({ port: -1 }), { code: 'ERR_OUT_OF_RANGE' });
});

test('npm run viz -- --help says what it does and serves nothing', () => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'lib', 'viz', 'cli.js'), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /trace FILE/);
  const bad = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'lib', 'viz', 'cli.js'), '--frob'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
});
