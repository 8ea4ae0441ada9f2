// index.mjs - the ESM entry point of rmem: the same module as index.js (one
// default instance per environment whichever way it is loaded), with the same
// names as lib/index.d.ts declares.
//
// `memory`, the HEAP* views and `dataView` are live bindings: undefined until
// the default instance exists (init(), or initArenas() / mems.init(), which
// create it, from ESM or CommonJS alike), that instance's from then on. So
//   import { init, rAlloc, HEAPU8 } from 'rmem';
//   init();
//   HEAPU8[rAlloc(8)] = 1;
// works. (In CommonJS they are getters that throw ERR_RMEM_NOT_INITIALIZED before.)
import rmem from './index.js';

export const {
  init, rAlloc, rFree, rDefrag, initArenas, createArena, rArena, rArenaFree, rReset, rDestroy, arenaStats,
  LIFETIME, slabCacheCreate, createSlabCache, slabAlloc, slabFree, slabCacheShrink, slabCacheDestroy,
  view, stats, validate, check, instance, layout, printStats, formatStats, heapMap, heapMapText, serveViz, readTrace, replayTrace,
  Rmem, Arena, SlabCache, Heap, Mems, codes, constants,
} = rmem;
export const mems = rmem.mems;

export let memory, HEAP8, HEAPU8, HEAP16, HEAPU16, HEAP32, HEAPU32, HEAPF32, HEAPF64, HEAP64, HEAPU64, dataView;
rmem._onDefault((d) => {
  ({ memory, HEAP8, HEAPU8, HEAP16, HEAPU16, HEAP32, HEAPU32, HEAPF32, HEAPF64, HEAP64, HEAPU64, dataView } = d);
});
export default rmem;
