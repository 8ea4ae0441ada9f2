'use strict';
// Slab caches from JS: slabCacheCreate / createSlabCache, slabAlloc, slabFree,
// slabCacheShrink, slabCacheDestroy and the SlabCache class; bad pointers,
// double frees, destroyed and forged handles.
const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const rmem = require('../../lib/index.js');
const { SlabCache } = rmem;

function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

test('slabCacheCreate before init() throws ERR_RMEM_NOT_INITIALIZED', () => {
  throwsCode(() => rmem.slabCacheCreate('x', 32), 'ERR_RMEM_NOT_INITIALIZED');
});

test('objects of one size: distinct, aligned, writable, counted', () => {
  rmem.init();
  const c = rmem.slabCacheCreate('session', 48);
  assert.equal(c.name, 'session');
  const ptrs = new Set();
  for (let i = 0; i < 5000; i++) {
    const p = rmem.slabAlloc(c);
    assert.equal(p % 8, 0);
    assert.ok(!ptrs.has(p));
    ptrs.add(p);
    rmem.view(p, 48).fill(i & 255);
  }
  const s = c.stats();
  assert.equal(s.objectsInUse, 5000);
  assert.equal(s.objSize, 48);
  assert.equal(s.name, 'session');
  // the counts are exact whichever side served a call: the JS front or C (refills, spills); C reports
  // allocs as frees + live objects
  assert.equal(s.allocs, 5000);
  assert.equal(s.frees, 0);
  assert.equal(rmem.validate(), 0);
  let k = 0;
  for (const p of ptrs) {
    rmem.slabFree(c, p);
    if (++k === 3000) {
      const h = c.stats();
      assert.deepEqual([h.allocs, h.frees, h.objectsInUse], [5000, 3000, 2000]);
    }
  }
  assert.deepEqual([c.stats().allocs, c.stats().frees], [5000, 5000]);
  assert.equal(c.stats().objectsInUse, 0);
  rmem.slabCacheShrink(c);
  assert.equal(c.stats().slabs, 0);
  rmem.slabCacheDestroy(c);
  assert.equal(rmem.validate(), 0);
});

test('alignment option and createSlabCache alias', () => {
  const c = rmem.createSlabCache('aligned', 40, { align: 64 });
  for (let i = 0; i < 10; i++) assert.equal(c.alloc() % 64, 0);
  c.destroy();
  throwsCode(() => rmem.createSlabCache('bad', 40, { align: 3 }), 'ERR_INVALID_ARG_VALUE');
  throwsCode(() => rmem.createSlabCache('bad', 0), 'ERR_OUT_OF_RANGE');
  throwsCode(() => rmem.createSlabCache(42, 8), 'ERR_INVALID_ARG_TYPE');
});

test('bad frees: double, interior, foreign, heap block; the cache stays intact', () => {
  const c = rmem.slabCacheCreate('objs', 64);
  const p = c.alloc();
  const q = c.alloc();
  c.free(p);
  throwsCode(() => c.free(p), 'ERR_RMEM_DOUBLE_FREE');
  throwsCode(() => c.free(q + 8), 'ERR_RMEM_INVALID_POINTER');
  const h = rmem.rAlloc(64);
  throwsCode(() => c.free(h), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => rmem.rFree(q), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => c.free(rmem.memory.byteLength + 8), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => c.free(-8), 'ERR_OUT_OF_RANGE');
  throwsCode(() => c.free('8'), 'ERR_INVALID_ARG_TYPE');
  assert.equal(rmem.validate(), 0);
  assert.equal(c.stats().objectsInUse, 1);
  c.free(q);
  rmem.rFree(h);
  c.destroy();
  assert.equal(rmem.validate(), 0);
});

test('strict caches refuse destroy with live objects (ERR_RMEM_BUSY)', () => {
  const c = rmem.createSlabCache('strict', 16, { strict: true });
  const p = c.alloc();
  throwsCode(() => c.destroy(), 'ERR_RMEM_BUSY');
  assert.equal(c.destroyed, false);
  c.free(p);
  c.destroy();
  assert.equal(c.destroyed, true);
});

test('destroyed and forged caches throw', () => {
  const c = rmem.slabCacheCreate('gone', 32);
  const p = c.alloc();
  c.destroy();
  throwsCode(() => c.alloc(), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.slabFree(c, p), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.slabCacheDestroy(c), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rmem.view(p, 8), 'ERR_RMEM_INVALID_POINTER');
  for (const forged of [{}, Object.create(SlabCache.prototype), 1, null]) {
    throwsCode(() => rmem.slabAlloc(forged), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => rmem.slabFree(forged, 8), 'ERR_INVALID_ARG_TYPE');
  }
  assert.throws(() => new SlabCache(), TypeError);
  const n = require('../../lib/instance.js').nativeOf(rmem.instance());
  assert.throws(() => n.cacheAlloc(2 ** 30 + 5), (e) => ['ERR_RMEM_INVALID_HANDLE', 'ERR_RMEM_DESTROYED'].includes(e.code));
  assert.equal(rmem.validate(), 0);
});

test('view() of a slab object is bounded by the slot', () => {
  const c = rmem.slabCacheCreate('v', 24);
  const p = c.alloc();
  assert.equal(rmem.view(p).length, c.stats().objSize);
  throwsCode(() => rmem.view(p, 4096), 'ERR_OUT_OF_RANGE');
  c.free(p);
  throwsCode(() => rmem.view(p), 'ERR_RMEM_INVALID_POINTER');
  c.destroy();
});

test('util.inspect shows the cache stats', () => {
  const c = rmem.slabCacheCreate('shown', 32);
  c.alloc();
  assert.match(util.inspect(c), /SlabCache.*name: 'shown'.*objectsInUse: 1/s);
  c.destroy();
  assert.equal(util.inspect(c), 'SlabCache <destroyed>');
});
