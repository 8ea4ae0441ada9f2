'use strict';
/*
 * rmem-api.js - the rmem handles the benchmarks use, in one place. Each
 * benchmark process makes one rmem instance (the modern API's Rmem class,
 * with the capacity it needs) and takes from it a Uint8Array over its whole
 * memory, the heap, a transient arena, slab caches and MeMS. The handles are
 * the library's own objects (Arena, SlabCache, Mems), so the benchmarks
 * measure exactly what a user of the package gets, JS fast paths included.
 */
const { loadRmem } = require('./harness');

let rm = null;
let heapU8 = null;

/** The benchmark's instance, created on first use (capacity in bytes; 0 = the library's default). */
function instance(capacity = 0) {
  if (rm === null) {
    const { Rmem } = loadRmem();
    rm = new Rmem(capacity ? { capacity } : {});
  }
  return rm;
}

/** A Uint8Array over the instance's whole memory (pointers are byte offsets into it). */
function u8() {
  if (heapU8 === null) heapU8 = instance().HEAPU8;
  return heapU8;
}

/** The general heap: alloc(size) -> offset, free(offset). */
function openHeap(capacity = 0) {
  const r = instance(capacity);
  return { alloc: (n) => r.alloc(n), free: (p) => r.free(p), u8 };
}

/** A transient arena (rmem's Arena: alloc(size) -> offset, reset(), destroy(), scope(fn)), plus u8(). */
function openArena(chunkSize = 64 * 1024, capacity = 0) {
  const r = instance(capacity);
  const a = r.createArena(chunkSize, loadRmem().LIFETIME.TRANSIENT);
  a.u8 = u8;
  return a;
}

/** A slab cache of objects of objSize bytes (rmem's SlabCache: alloc(), free(p), stats()), plus u8(). */
function openSlab(name, objSize, capacity = 0) {
  const c = instance(capacity).createSlabCache(name, objSize);
  c.u8 = u8;
  return c;
}

/** The instance's MeMS, initialised (malloc(size) -> BigInt vaddr, view(vaddr, len), free(vaddr)). */
function openMems(capacity = 0) {
  const mems = instance(capacity).mems;
  mems.init();
  return mems;
}

module.exports = { instance, u8, openHeap, openArena, openSlab, openMems };
