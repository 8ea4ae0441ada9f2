'use strict';
// The seed's heap API on the package root: init, rAlloc, rFree, rDefrag,
// memory, view, stats, validate; the JS heap front's edge cases; every bad
// input throws with its code and leaves the heap intact (validate() === 0).
const test = require('node:test');
const assert = require('node:assert/strict');
const rmem = require('../../lib/index.js');

function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

test('before init(): every heap call throws ERR_RMEM_NOT_INITIALIZED', () => {
  // This file's process starts without a default instance.
  assert.equal(rmem.instance(), null);
  throwsCode(() => rmem.rAlloc(8), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.rFree(8), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.rDefrag(), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.memory, 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.view(8, 1), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.stats(), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => rmem.validate(), 'ERR_RMEM_NOT_INITIALIZED');
});

test('init() makes one default instance; a second init() keeps it', () => {
  rmem.init();
  const first = rmem.instance();
  rmem.init({ capacity: 2 << 20 });
  assert.equal(rmem.instance(), first);
  assert.ok(rmem.memory instanceof ArrayBuffer);
  assert.equal(rmem.memory.byteLength, 64 << 20);
  assert.equal(rmem.memory, rmem.memory, 'memory is exposed once, not re-created');
  assert.equal(rmem.validate(), 0);
});

test('rAlloc returns 8-aligned offsets inside memory, distinct, writable through views', () => {
  const sizes = [1, 7, 8, 9, 16, 63, 64, 65, 100, 102.4, 511, 512, 513, 1000, 4096, 40000, 1 << 20];
  const ptrs = sizes.map((s) => rmem.rAlloc(s));
  for (let i = 0; i < ptrs.length; i++) {
    const p = ptrs[i];
    assert.equal(typeof p, 'number');
    assert.ok(p > 0 && p % 8 === 0, `offset ${p}`);
    const n = Math.trunc(sizes[i]);
    assert.ok(p + n <= rmem.memory.byteLength);
    const v = rmem.view(p, n);
    assert.equal(v.length, n);
    v.fill(i + 1);
  }
  // no overlap: each block still holds its own fill
  for (let i = 0; i < ptrs.length; i++) {
    const v = rmem.view(ptrs[i], Math.trunc(sizes[i]));
    assert.ok(v.every((b) => b === i + 1), `block ${i} was overwritten`);
  }
  assert.equal(rmem.validate(), 0);
  for (const p of ptrs) rmem.rFree(p);
  assert.equal(rmem.validate(), 0);
});

test('102.4 is truncated to 102 (the seed passes fractions)', () => {
  const p = rmem.rAlloc(102.4);
  assert.ok(rmem.instance().usableSize(p) >= 102);
  assert.equal(rmem.view(p, 102).length, 102);
  rmem.rFree(p);
});

test('typed views over the whole memory index the same bytes', () => {
  const p = rmem.rAlloc(16);
  rmem.HEAP32[p >> 2] = -2;
  assert.equal(rmem.HEAPU8[p], 0xfe);
  assert.equal(rmem.HEAPU32[p >> 2], 0xfffffffe);
  rmem.HEAPF64[(p + 8) >> 3] = 1.5;
  assert.equal(rmem.dataView.getFloat64(p + 8, true), 1.5);
  assert.equal(rmem.HEAPU8.buffer, rmem.memory);
  rmem.rFree(p);
});

test('rFree(0) is a no-op; freed blocks are reused', () => {
  rmem.rFree(0);
  const p = rmem.rAlloc(64);
  rmem.rFree(p);
  const q = rmem.rAlloc(64);
  assert.equal(q, p, 'the most recently freed block of a size comes back first');
  rmem.rFree(q);
});

test('bad sizes throw argument errors and change nothing', () => {
  const before = rmem.stats().heap.liveBlocks;
  for (const bad of ['8', null, undefined, {}, 8n, [8]]) throwsCode(() => rmem.rAlloc(bad), 'ERR_INVALID_ARG_TYPE');
  for (const bad of [0, 0.5, -1, NaN, Infinity, -Infinity, 2 ** 32, 1e300]) throwsCode(() => rmem.rAlloc(bad), 'ERR_OUT_OF_RANGE');
  assert.equal(rmem.stats().heap.liveBlocks, before);
  assert.equal(rmem.validate(), 0);
});

test('a size larger than the instance throws ERR_RMEM_OUT_OF_MEMORY, and the heap still works', () => {
  throwsCode(() => rmem.rAlloc(2 ** 32 - 1), 'ERR_RMEM_OUT_OF_MEMORY');
  throwsCode(() => rmem.rAlloc(65 << 20), 'ERR_RMEM_OUT_OF_MEMORY');
  const p = rmem.rAlloc(64);
  rmem.rFree(p);
  assert.equal(rmem.validate(), 0);
});

test('double free throws ERR_RMEM_DOUBLE_FREE (small, front-cached and large blocks)', () => {
  for (const size of [8, 64, 512, 513, 4000, 100000]) {
    const p = rmem.rAlloc(size);
    rmem.rFree(p);
    throwsCode(() => rmem.rFree(p), 'ERR_RMEM_DOUBLE_FREE');
    assert.equal(rmem.validate(), 0, `after double free of a ${size}-byte block`);
  }
});

test('forged pointers throw ERR_RMEM_INVALID_POINTER or an argument error, never crash', () => {
  const p = rmem.rAlloc(64);
  const big = rmem.rAlloc(100000);
  const cap = rmem.memory.byteLength;
  for (const bad of [1, 4095, p + 1, p + 8, p + 63, big + 8, big + 4096, cap - 8, cap, cap + 4096, 2 ** 32 - 8]) {
    throwsCode(() => rmem.rFree(bad), 'ERR_RMEM_INVALID_POINTER');
  }
  for (const bad of [-8, p + 0.5, 2 ** 32, 2 ** 53, NaN]) throwsCode(() => rmem.rFree(bad), 'ERR_OUT_OF_RANGE');
  for (const bad of ['4096', 4096n, null, {}, undefined]) throwsCode(() => rmem.rFree(bad), 'ERR_INVALID_ARG_TYPE');
  assert.equal(rmem.validate(), 0);
  // the real blocks are intact and can still be freed exactly once
  rmem.rFree(p);
  rmem.rFree(big);
  assert.equal(rmem.validate(), 0);
});

test('view checks the pointer and the length', () => {
  const p = rmem.rAlloc(64);
  assert.equal(rmem.view(p).length, rmem.instance().usableSize(p));
  assert.equal(rmem.view(p, 0).length, 0);
  throwsCode(() => rmem.view(p, 65 + rmem.instance().usableSize(p)), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.view(p + 8, 8), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => rmem.view(p, -1), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.view(p, '8'), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => rmem.view('x', 8), 'ERR_INVALID_ARG_TYPE');
  rmem.rFree(p);
  throwsCode(() => rmem.view(p, 8), 'ERR_RMEM_INVALID_POINTER');
  assert.equal(rmem.validate(), 0);
});

test('rDefrag returns what it did and frees slabs and pages after a churn', () => {
  const live = rmem.stats().heap.liveBlocks;
  const ptrs = [];
  for (let i = 0; i < 20000; i++) ptrs.push(rmem.rAlloc(8 + (i % 300)));
  for (let i = 0; i < ptrs.length; i += 2) rmem.rFree(ptrs[i]);
  for (let i = 1; i < ptrs.length; i += 2) rmem.rFree(ptrs[i]);
  const before = rmem.stats();
  const rep = rmem.rDefrag();
  for (const k of ['merged', 'slabsReleased', 'pagesReleased', 'bytesReleased']) assert.equal(typeof rep[k], 'number');
  const after = rmem.stats();
  assert.equal(after.heap.liveBlocks, live);
  assert.ok(after.heap.slabs <= before.heap.slabs);
  assert.ok(rep.slabsReleased > 0 || rep.pagesReleased > 0, JSON.stringify(rep));
  assert.equal(rmem.validate(), 0);
});

test('stats() reports live blocks exactly (the JS front flushes first)', () => {
  const base = rmem.stats().heap.liveBlocks;
  const ptrs = [];
  for (let i = 0; i < 1000; i++) ptrs.push(rmem.rAlloc(32));
  assert.equal(rmem.stats().heap.liveBlocks, base + 1000);
  for (const p of ptrs) rmem.rFree(p);
  assert.equal(rmem.stats().heap.liveBlocks, base);
});

test('JS writes anywhere in memory never break the heap', () => {
  const ptrs = [];
  for (let i = 0; i < 500; i++) ptrs.push(rmem.rAlloc(1 + (i % 700)));
  const u8 = rmem.HEAPU8;
  // scribble over everything handed out and beyond (the whole first 4 MiB)
  for (let i = 0; i < 4 << 20; i += 7) u8[i] = (i * 131) & 255;
  assert.equal(rmem.validate(), 0);
  for (const p of ptrs) rmem.rFree(p);
  assert.equal(rmem.validate(), 0);
});

test('out of memory with blocks cached in the JS front: the front gives them back and the allocation succeeds', () => {
  const rm = new rmem.Rmem({ capacity: 1 << 20 });
  // fill the instance with small blocks, free them all (they stay cached in the front or in slabs)
  const ptrs = [];
  try {
    for (;;) ptrs.push(rm.alloc(64));
  } catch (e) {
    assert.equal(e.code, 'ERR_RMEM_OUT_OF_MEMORY');
  }
  // Free so that the last frees, which the front keeps cached (live in C), are
  // one block in every 64: each cached block pins a different slab.
  for (let i = 0; i < ptrs.length; i++) if (i % 64 !== 0) rm.free(ptrs[i]);
  for (let i = 0; i < ptrs.length; i += 64) rm.free(ptrs[i]);
  const big = rm.alloc(512 << 10);
  assert.ok(big > 0);
  rm.free(big);
  assert.equal(rm.validate(), 0);
  rm.destroy();
});
