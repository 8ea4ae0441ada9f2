'use strict';
// Arenas: the seed's initArenas, createArena, rArena (both forms), rArenaFree,
// rReset (both forms), rDestroy, LIFETIME; the JS lease (bumps in JS, a new
// lease when a chunk is exhausted, ended by reset/destroy/scope); scope()
// sync, async and on throw; destroyed and forged handles.
const test = require('node:test');
const assert = require('node:assert/strict');
const rmem = require('../../lib/index.js');
const { Rmem, Arena, LIFETIME } = rmem;
const { TRANSIENT, INTERMEDIATE, PERSISTENT } = LIFETIME;

function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

test('LIFETIME has the seed values and is frozen', () => {
  assert.deepEqual({ ...LIFETIME }, { TRANSIENT: 0, INTERMEDIATE: 1, PERSISTENT: 2 });
  assert.ok(Object.isFrozen(LIFETIME));
});

test('rArena(size, lifetime) before initArenas() throws ERR_RMEM_NOT_INITIALIZED', () => {
  throwsCode(() => rmem.rArena(8, TRANSIENT), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.rReset(TRANSIENT), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.createArena(4096, TRANSIENT), 'ERR_RMEM_NOT_INITIALIZED');
});

test('initArenas() creates the default instance and the three default arenas', () => {
  rmem.initArenas();
  assert.notEqual(rmem.instance(), null);
  rmem.initArenas(); // idempotent
  for (const lt of [TRANSIENT, INTERMEDIATE, PERSISTENT]) {
    const p = rmem.rArena(100, lt);
    assert.ok(p > 0 && p % 8 === 0);
    rmem.view(p, 100).fill(lt + 1);
    assert.equal(rmem.arenaStats(lt).lifetime, lt);
  }
  assert.equal(rmem.validate(), 0);
});

test('bump allocations are consecutive, 8-byte padded, fractions truncated', () => {
  const a = rmem.createArena(64 * 1024, TRANSIENT);
  const p = rmem.rArena(a, 102.4);
  const q = rmem.rArena(a, 1);
  const r = rmem.rArena(a, 8);
  assert.equal(q - p, 104);
  assert.equal(r - q, 8);
  const s = rmem.arenaStats(a);
  assert.equal(s.used, 104 + 8 + 8);
  assert.equal(s.allocs, 3);
  rmem.rDestroy(a);
});

test('a lease that runs out takes a new one; blocks never overlap', () => {
  const a = rmem.createArena(4096, PERSISTENT);
  const blocks = [];
  for (let i = 0; i < 3000; i++) {
    const size = 1 + ((i * 37) % 300);
    const p = rmem.rArena(a, size);
    rmem.HEAPU8.fill(i & 255, p, p + size);
    blocks.push([p, size, i & 255]);
  }
  // a big one, larger than a chunk
  const big = rmem.rArena(a, 20000);
  rmem.HEAPU8.fill(7, big, big + 20000);
  for (const [p, size, v] of blocks) {
    assert.ok(rmem.HEAPU8.subarray(p, p + size).every((b) => b === v), `block at ${p} overwritten`);
  }
  const s = a.stats();
  assert.ok(s.chunks > 1);
  assert.equal(s.allocs, 3001);
  assert.equal(rmem.validate(), 0);
  rmem.rDestroy(a);
  assert.equal(rmem.validate(), 0);
});

test('rReset(arena) rewinds: the next allocation starts over; the lease ended', () => {
  const a = rmem.createArena(64 * 1024, TRANSIENT);
  const first = rmem.rArena(a, 64);
  for (let i = 0; i < 100; i++) rmem.rArena(a, 64);
  rmem.rReset(a);
  assert.equal(a.stats().used, 0);
  const again = rmem.rArena(a, 64);
  assert.equal(again, first, 'after reset the first chunk is reused from its start');
  assert.equal(a.stats().resets, 1);
  rmem.rDestroy(a);
});

test('rReset(lifetime) resets the default arena of that lifetime', () => {
  rmem.rArena(64, TRANSIENT);
  assert.ok(rmem.arenaStats(TRANSIENT).used > 0);
  rmem.rReset(TRANSIENT);
  assert.equal(rmem.arenaStats(TRANSIENT).used, 0);
});

test('intermediate arenas free single objects: rArenaFree (arena or lifetime form)', () => {
  const a = rmem.createArena(64 * 1024, INTERMEDIATE);
  const p = rmem.rArena(a, 40);
  const q = rmem.rArena(a, 40);
  rmem.rArenaFree(a, p, 40);
  throwsCode(() => rmem.rArenaFree(a, p, 40), 'ERR_RMEM_DOUBLE_FREE');
  throwsCode(() => rmem.rArenaFree(a, q + 8, 40), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => rmem.rArenaFree(a, q, 4000), 'ERR_INVALID_ARG_VALUE');
  assert.equal(rmem.validate(), 0);
  rmem.rArenaFree(a, q, 40);
  rmem.rDestroy(a);
  const d = rmem.rArena(96, INTERMEDIATE);
  rmem.rArenaFree(INTERMEDIATE, d, 96);
  throwsCode(() => rmem.rArenaFree(INTERMEDIATE, d, 96), 'ERR_RMEM_DOUBLE_FREE');
  assert.equal(rmem.validate(), 0);
});

test('rArenaFree on a bump arena is refused', () => {
  const a = rmem.createArena(4096, TRANSIENT);
  const p = rmem.rArena(a, 16);
  throwsCode(() => rmem.rArenaFree(a, p, 16), 'ERR_INVALID_ARG_VALUE');
  rmem.rDestroy(a);
});

test('a destroyed arena throws ERR_RMEM_DESTROYED on every call (also through the JS fast path)', () => {
  const a = rmem.createArena(64 * 1024, TRANSIENT);
  rmem.rArena(a, 8); // the lease is live
  rmem.rDestroy(a);
  assert.equal(a.destroyed, true);
  throwsCode(() => rmem.rArena(a, 8), 'ERR_RMEM_DESTROYED');
  throwsCode(() => a.alloc(8), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.rReset(a), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.rDestroy(a), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.arenaStats(a), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.rArenaFree(a, 8, 8), 'ERR_RMEM_DESTROYED');
  assert.equal(rmem.validate(), 0);
});

test('forged arena handles throw ERR_INVALID_ARG_TYPE; Arena cannot be constructed', () => {
  for (const forged of [{}, { alloc() { return 8; } }, Object.create(Arena.prototype), 1n, 'arena', null]) {
    throwsCode(() => rmem.rArena(forged, 8), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => rmem.rDestroy(forged), 'ERR_INVALID_ARG_TYPE');
  }
  throwsCode(() => rmem.rReset({}), 'ERR_INVALID_ARG_TYPE');
  assert.throws(() => new Arena(), TypeError);
  assert.throws(() => Arena.prototype.alloc.call({}, 8), TypeError);
});

test('forged handle numbers are refused by C (the native layer checks index + generation)', () => {
  const n = require('../../lib/instance.js').nativeOf(rmem.instance());
  for (const h of [0, 123, 65535, 2 ** 40 + 3]) {
    assert.throws(() => n.arenaAlloc(h, 8, false), (e) => ['ERR_RMEM_INVALID_HANDLE', 'ERR_RMEM_DESTROYED'].includes(e.code));
  }
  for (const h of [-1, 0.5, 2 ** 60, NaN]) throwsCode(() => n.arenaAlloc(h, 8, false), 'ERR_RMEM_INVALID_HANDLE');
  throwsCode(() => n.arenaAlloc('1', 8, false), 'ERR_INVALID_ARG_TYPE');
  assert.equal(rmem.validate(), 0);
});

test('bad sizes and lifetimes throw argument errors', () => {
  const a = rmem.createArena(4096, TRANSIENT);
  for (const bad of [0, -1, NaN, 2 ** 32]) throwsCode(() => rmem.rArena(a, bad), 'ERR_OUT_OF_RANGE');
  for (const bad of ['8', undefined, {}]) throwsCode(() => rmem.rArena(a, bad), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => rmem.createArena(4096, 3), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.createArena(4096, 'forever'), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.createArena(0, TRANSIENT), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.rArena(8, 7), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.rArena('8', TRANSIENT), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => rmem.createArena(1 << 30, TRANSIENT), 'ERR_INVALID_ARG_VALUE');
  // the arena still works
  assert.ok(rmem.rArena(a, 8) > 0);
  rmem.rDestroy(a);
  assert.equal(rmem.validate(), 0);
});

test('arena.scope(fn) resets after fn, after a throw, and after an async fn settles', async () => {
  const a = rmem.createArena(64 * 1024, TRANSIENT);
  const r = a.scope((ar) => {
    assert.equal(ar, a);
    a.alloc(100);
    return 42;
  });
  assert.equal(r, 42);
  assert.equal(a.stats().used, 0);
  assert.throws(() => a.scope(() => {
    a.alloc(100);
    throw new Error('boom');
  }), /boom/);
  assert.equal(a.stats().used, 0);
  const v = await a.scope(async () => {
    a.alloc(100);
    await new Promise((res) => setImmediate(res));
    assert.ok(a.stats().used > 0, 'not reset before the promise settles');
    return 'done';
  });
  assert.equal(v, 'done');
  assert.equal(a.stats().used, 0);
  await assert.rejects(a.scope(async () => {
    a.alloc(8);
    throw new Error('async boom');
  }), /async boom/);
  assert.equal(a.stats().used, 0);
  throwsCode(() => a.scope(42), 'ERR_INVALID_ARG_TYPE');
  // destroying inside the scope is allowed: no reset afterwards
  a.scope(() => a.destroy());
  assert.equal(a.destroyed, true);
  assert.equal(rmem.validate(), 0);
});

test('allocNative serves from C with one call per allocation, consistent with the lease', () => {
  const a = rmem.createArena(4096, TRANSIENT);
  const p = a.alloc(64);
  const q = a.allocNative(64);
  assert.notEqual(p, q);
  rmem.HEAPU8.fill(1, p, p + 64);
  rmem.HEAPU8.fill(2, q, q + 64);
  assert.equal(rmem.HEAPU8[p + 63], 1);
  rmem.rDestroy(a);
  assert.equal(rmem.validate(), 0);
});

test('view() covers arena blocks', () => {
  const a = rmem.createArena(8192, TRANSIENT);
  const p = a.alloc(64);
  assert.ok(rmem.view(p, 64).length === 64);
  throwsCode(() => rmem.view(p, 100000), 'ERR_OUT_OF_RANGE');
  rmem.rDestroy(a);
  throwsCode(() => rmem.view(p, 8), 'ERR_RMEM_INVALID_POINTER');
});

test('util.inspect shows arena stats', () => {
  const util = require('node:util');
  const a = rmem.createArena(4096, PERSISTENT);
  a.alloc(10);
  const s = util.inspect(a);
  assert.match(s, /^Arena/);
  assert.match(s, /persistent/);
  assert.match(s, /used: 16/);
  rmem.rDestroy(a);
  assert.equal(util.inspect(a), 'Arena <destroyed>');
});

test('a big block that does not fit the lease does not throw the rest of it away', () => {
  const a = rmem.createArena(64 * 1024, TRANSIENT);
  const p = a.alloc(60000); // from the lease
  const big = a.alloc(20000); // does not fit the 5.5 KB left: C serves it
  const q = a.alloc(64); // still from the lease
  assert.equal(q, p + 60000, 'small blocks keep coming from the same lease');
  assert.ok(big + 20000 <= p || big >= p + 64 * 1024, 'the big block lies outside the leased chunk');
  rmem.HEAPU8[q] = 5;
  rmem.HEAPU8.fill(1, big, big + 20000);
  assert.equal(rmem.HEAPU8[q], 5);
  const s = a.stats();
  assert.equal(s.allocs, 3);
  assert.equal(s.chunks, 2);
  rmem.check();
  rmem.rDestroy(a);
  rmem.check();
});
