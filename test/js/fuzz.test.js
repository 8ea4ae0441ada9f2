'use strict';
// A deterministic randomized test of >= 10^6 mixed operations on one instance:
// heap, arenas, slab caches and MeMS, with random writes anywhere in memory,
// forged pointers, forged and destroyed handles, double frees. It runs in a
// child process, which must exit normally: nothing may crash. Every bad call
// must throw a documented code (never ERR_RMEM_CORRUPTED: no write into memory
// can reach the metadata), every good call must succeed, and the validators
// must find nothing, checked every 50,000 operations and at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const OPS = Number(process.env.RMEM_FUZZ_OPS || 1_000_000);

const CHILD = `
const { Rmem, LIFETIME, codes } = require('./lib/index.js');
const core = require('./lib/instance.js');
const OPS = ${OPS};
let seed = 0x2545f491;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 4294967296; };
const ri = (n) => Math.floor(rnd() * n);
const rm = new Rmem({ capacity: 16 << 20 });
const n = core.nativeOf(rm);
const u8 = rm.HEAPU8;
const cap = rm.capacity;
const BAD = new Set(Object.keys(codes)); BAD.delete('ERR_RMEM_CORRUPTED');
const thrown = {};
function bad(fn) {
  try { fn(); } catch (e) {
    if (!BAD.has(e.code)) throw new Error('unexpected error ' + e.code + ': ' + e.message);
    thrown[e.code] = (thrown[e.code] || 0) + 1;
    return;
  }
  // a forged value may by chance be valid; that is not a failure of rmem
  thrown.accepted = (thrown.accepted || 0) + 1;
}
const heap = [];       // live heap blocks
const freed = [];      // recently freed heap blocks
const arenas = [];     // live arenas
const dead = [];       // destroyed arenas
const cache = rm.createSlabCache('fuzz', 56);
const objs = [];
rm.mems.init();
const segs = [];
let ops = 0;
function pickOut(a) { const i = ri(a.length); const x = a[i]; a[i] = a[a.length - 1]; a.pop(); return x; }
for (; ops < OPS; ops++) {
  const op = ri(100);
  if (op < 30) {                                   // heap alloc
    const size = rnd() < 0.97 ? 1 + ri(600) : 1 + ri(200000);
    if (heap.length > 4000) { rm.free(pickOut(heap)); continue; }
    try { heap.push(rm.alloc(size)); } catch (e) { if (e.code !== 'ERR_RMEM_OUT_OF_MEMORY') throw e; rm.free(pickOut(heap)); }
  } else if (op < 55) {                            // heap free (good)
    if (heap.length) { const p = pickOut(heap); rm.free(p); freed.push(p); if (freed.length > 64) freed.shift(); }
  } else if (op < 58) {                            // double free / forged pointer
    const k = ri(4);
    if (k === 0 && freed.length) { const p = freed[ri(freed.length)]; if (!heap.includes(p)) bad(() => rm.free(p)); }
    else if (k === 1 && heap.length) bad(() => rm.free(heap[ri(heap.length)] + 1 + ri(7))); // interior: never a block start
    else if (k === 2) bad(() => rm.free(ri(cap + 8192) | 1));
    else bad(() => rm.free([-8, 0.5, NaN, '8', 8n, {}, null, 2 ** 40][ri(8)]));
  } else if (op < 70) {                            // arenas
    const k = ri(10);
    if (k < 2 && arenas.length < 40) arenas.push(rm.createArena(4096 * (1 + ri(8)), ri(3)));
    else if (k < 7 && arenas.length) { const a = arenas[ri(arenas.length)]; try { a.alloc(1 + ri(300)); } catch (e) { if (e.code !== 'ERR_RMEM_OUT_OF_MEMORY') throw e; a.reset(); } }
    else if (k < 8 && arenas.length) arenas[ri(arenas.length)].reset();
    else if (k < 9 && arenas.length) { const a = pickOut(arenas); a.destroy(); dead.push(a); if (dead.length > 20) dead.shift(); }
    else if (dead.length) { const a = dead[ri(dead.length)]; bad(() => [() => a.alloc(8), () => a.reset(), () => a.destroy(), () => a.stats()][ri(4)]()); }
  } else if (op < 72) {                            // forged handles straight at the native layer
    let h = [ri(2 ** 20), ri(65536) + 65536 * ri(100), -1, 2 ** 50, NaN, 0.5][ri(6)];
    // a forged number can name a live arena or the cache (index + generation is guessable): that is a
    // real handle, not a forged one, and its calls would rightly work on it
    if (h === cache.handle || arenas.some((a) => a.handle === h)) h = -1;
    bad(() => [() => n.arenaAlloc(h, 8, rnd() < 0.5), () => n.arenaReset(h), () => n.cacheAlloc(h), () => n.cacheFree(h, 4096), () => n.arenaDestroy(h)][ri(5)]());
  } else if (op < 80) {                            // slab cache
    if (rnd() < 0.55 && objs.length < 3000) objs.push(cache.alloc());
    else if (objs.length) { const p = pickOut(objs); cache.free(p); if (rnd() < 0.1) bad(() => cache.free(p)); }
  } else if (op < 84) {                            // MeMS
    const k = ri(4);
    if (k === 0 && segs.length < 200) { try { segs.push(rm.mems.malloc(1 + ri(9000))); } catch (e) { if (e.code !== 'ERR_RMEM_OUT_OF_MEMORY') throw e; } }
    else if (k === 1 && segs.length) rm.mems.free(pickOut(segs));
    else if (k === 2 && segs.length) { const v = segs[ri(segs.length)]; rm.mems.get(v); rm.mems.view(v, 1)[0] = 1; }
    else { const v = BigInt(ri(2 ** 24)); if (!segs.includes(v)) bad(() => rm.mems.free(v)); }
  } else if (op < 96) {                            // random writes anywhere in memory
    const k = ri(20);
    if (k === 0) u8.fill(ri(256), ri(cap - 65536), ri(cap));
    else for (let i = 0; i < 16; i++) u8[ri(cap)] = ri(256);
  } else {                                         // views of random pointers
    const p = rnd() < 0.5 && heap.length ? heap[ri(heap.length)] : ri(cap);
    bad(() => { const v = rm.view(p, ri(64)); v[0] = 1; });
  }
  if (ops % 50000 === 0) {
    const problems = rm.validate();
    if (problems) { rm.check(); }
  }
}
rm.check();
for (const p of heap) rm.free(p);
for (const p of objs) cache.free(p);
for (const a of arenas) a.destroy();
for (const v of segs) rm.mems.free(v);
rm.check();
if (rm.heap.stats().liveBlocks !== 0) throw new Error('blocks left');
console.log(JSON.stringify({ ops, thrown }));
`;

test(`${OPS} random operations with random writes and forged handles: the child exits normally`, () => {
  const r = spawnSync(process.execPath, ['-e', CHILD], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
  assert.equal(r.signal, null, `the child died of ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(out.ops, OPS);
  for (const code of ['ERR_RMEM_INVALID_POINTER', 'ERR_RMEM_DOUBLE_FREE', 'ERR_RMEM_DESTROYED', 'ERR_RMEM_INVALID_HANDLE',
    'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE']) {
    assert.ok(out.thrown[code] > 0, `${code} was exercised (${JSON.stringify(out.thrown)})`);
  }
});
