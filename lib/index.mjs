// index.mjs - the ESM entry point of rmem: the same module as index.js (one
// default instance per environment whichever way it is loaded).
// `memory` and the HEAP* views are getters on the default export: they exist
// only after init(), so they are not named exports.
import rmem from './index.js';

export const {
  init, rAlloc, rFree, rDefrag, initArenas, createArena, rArena, rArenaFree, rReset, rDestroy, arenaStats,
  LIFETIME, slabCacheCreate, createSlabCache, slabAlloc, slabFree, slabCacheShrink, slabCacheDestroy,
  view, stats, validate, check, instance, Rmem, Arena, SlabCache, Heap, Mems, codes, constants,
} = rmem;
export const mems = rmem.mems;
export default rmem;
