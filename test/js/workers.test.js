'use strict';
// The addon is context-aware: the API used from several worker_threads at
// once, each with its own default instance and memory, plus instances made
// and torn down with short-lived workers.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const INDEX = path.join(__dirname, '..', '..', 'lib', 'index.js');

// Runs in every worker: heap, arenas, slab cache and MeMS, with a pattern of
// its own written into every block and checked at the end.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const rmem = require(workerData.index);
const id = workerData.id;
rmem.init({ capacity: 8 << 20 });
rmem.initArenas();
const u8 = rmem.HEAPU8;
const blocks = [];
let seed = id * 7919 + 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
const cache = rmem.slabCacheCreate('w' + id, 40);
rmem.mems.init();
const v = rmem.mems.malloc(3000);
rmem.mems.view(v, 3000).fill(id);
for (let round = 0; round < 200; round++) {
  const a = rmem.createArena(16384, rmem.LIFETIME.TRANSIENT);
  for (let i = 0; i < 50; i++) {
    const p = rmem.rArena(a, 1 + Math.floor(rnd() * 200));
    u8[p] = id;
  }
  for (let i = 0; i < 20; i++) {
    const size = 1 + Math.floor(rnd() * 2000);
    const p = rmem.rAlloc(size);
    u8.fill(id, p, p + size);
    blocks.push([p, size]);
    const s = rmem.slabAlloc(cache);
    u8.fill(id, s, s + 40);
    blocks.push([s, 40, cache]);
  }
  while (blocks.length > 300) {
    const [p, size, c] = blocks.splice(Math.floor(rnd() * blocks.length), 1)[0];
    for (let k = 0; k < size; k++) if (u8[p + k] !== id) throw new Error('worker ' + id + ': foreign byte in its memory');
    if (c) rmem.slabFree(c, p); else rmem.rFree(p);
  }
  rmem.rDestroy(a);
}
for (const [p, size] of blocks) for (let k = 0; k < size; k++) if (u8[p + k] !== id) throw new Error('foreign byte');
if (!rmem.mems.view(v, 3000).every((b) => b === id)) throw new Error('mems bytes changed');
let doubleFree = '';
try { rmem.rFree(blocks[0][2] ? 1 : blocks[0][0] + 1); } catch (e) { doubleFree = e.code; }
parentPort.postMessage({ id, problems: rmem.validate(), bytes: rmem.memory.byteLength, code: doubleFree, mems: rmem.mems.get(v) >= 0n });
`;

function runWorker(id) {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { id, index: INDEX } });
    let msg = null;
    w.on('message', (m) => { msg = m; });
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`worker ${id} exited ${code}`))));
  });
}

test('four workers at once, each with its own instance, memory and allocators', async () => {
  const results = await Promise.all([1, 2, 3, 4].map(runWorker));
  for (const r of results) {
    assert.equal(r.problems, 0, `worker ${r.id}`);
    assert.equal(r.bytes, 8 << 20);
    assert.equal(r.code, 'ERR_RMEM_INVALID_POINTER');
    assert.equal(r.mems, true);
  }
});

test('the main thread keeps its own instance while workers come and go', async () => {
  const rmem = require(INDEX);
  rmem.init();
  const p = rmem.rAlloc(64);
  rmem.HEAPU8.fill(0xee, p, p + 64);
  for (let wave = 0; wave < 3; wave++) {
    const results = await Promise.all([10 + wave * 2, 11 + wave * 2].map(runWorker));
    for (const r of results) assert.equal(r.problems, 0);
  }
  assert.ok(rmem.view(p, 64).every((b) => b === 0xee), 'the main thread memory is untouched');
  assert.equal(rmem.validate(), 0);
  rmem.rFree(p);
});

test('a worker terminated mid-work does not disturb the others', async () => {
  const spin = new Worker(`
    const rmem = require(${JSON.stringify(INDEX)});
    rmem.init({ capacity: 4 << 20 });
    for (;;) { const p = rmem.rAlloc(32); rmem.rFree(p); }
  `, { eval: true });
  await new Promise((res) => setTimeout(res, 100));
  const [r] = await Promise.all([runWorker(99), spin.terminate()]);
  assert.equal(r.problems, 0);
});
