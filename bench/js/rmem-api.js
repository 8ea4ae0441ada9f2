'use strict';
/*
 * rmem-api.js - the few handles the benchmarks take from rmem's JS API, in one
 * place: the default instance initialised with enough capacity, a Uint8Array
 * over its whole memory, a transient arena, a slab cache, the heap and MeMS.
 * Every benchmark's rmem side goes through these thin closures, so a change
 * of the JS API is one edit here; they add a call that V8 inlines, nothing else.
 */
const { loadRmem } = require('./harness');

let initialised = false;
let heapU8 = null;

/** Initialises the default instance once (capacity in bytes; 0 = the library's default). */
function instance(capacity = 0) {
  const rmem = loadRmem();
  if (!initialised) {
    rmem.init(capacity ? { capacity } : undefined);
    initialised = true;
  }
  return rmem;
}

/** A Uint8Array over the instance's whole memory (pointers are byte offsets into it). */
function u8() {
  const rmem = instance();
  if (heapU8 === null || heapU8.buffer !== rmem.memory) heapU8 = new Uint8Array(rmem.memory);
  return heapU8;
}

/** The general heap: alloc(size) -> offset, free(offset). */
function openHeap(capacity = 0) {
  const rmem = instance(capacity);
  return { alloc: (n) => rmem.rAlloc(n), free: (p) => rmem.rFree(p), u8 };
}

/** A transient arena: alloc(size) -> offset, reset(), destroy(). */
function openArena(chunkSize = 64 * 1024, capacity = 0) {
  const rmem = instance(capacity);
  const a = rmem.createArena(chunkSize, rmem.LIFETIME.TRANSIENT);
  return {
    handle: a,
    alloc: (n) => rmem.rArena(a, n),
    reset: () => rmem.rReset(a),
    destroy: () => rmem.rDestroy(a),
    u8,
  };
}

/** A slab cache of objects of objSize bytes: alloc() -> offset, free(offset), stats(), destroy(). */
function openSlab(name, objSize, capacity = 0) {
  const rmem = instance(capacity);
  const c = rmem.slabCacheCreate(name, objSize);
  return {
    handle: c,
    alloc: () => rmem.slabAlloc(c),
    free: (p) => rmem.slabFree(c, p),
    stats: () => rmem.slabCacheStats(c),
    destroy: () => rmem.slabCacheDestroy(c),
    u8,
  };
}

/** MeMS: malloc(size) -> BigInt virtual address, view(vaddr, len), free(vaddr). */
function openMems(capacity = 0) {
  const rmem = instance(capacity);
  const mems = rmem.mems;
  mems.init();
  return mems;
}

module.exports = { instance, u8, openHeap, openArena, openSlab, openMems };
