'use strict';
// index.js - require('rmem'): the seed's API on a default instance, and the
// modern classes.
//
// The default instance is per JavaScript environment (main thread, each
// worker_thread): this module is loaded once per environment and the addon is
// context-aware, so every worker has its own instance and its own memory. It
// is created by init(options?) (the seed's init_heap), or on first use by
// initArenas() and mems.init(), and lives as long as the environment.
//
// Pointers are byte offsets into `memory` (0 is null). Sizes are finite
// numbers >= 1; fractions are truncated, as the seed's uint32 conversion does.
//
//   const rmem = require('rmem');
//   rmem.init();
//   const p = rmem.rAlloc(64);       // byte offset
//   rmem.HEAPU8[p] = 1;              // or rmem.view(p, 64)
//   rmem.rFree(p);
const core = require('./instance');
const { toLifetime } = require('./args');
const { notInitialized, invalidArgType, codes } = require('./errors');

const { Rmem, Arena, SlabCache, LIFETIME } = core;

let D = null; // the default Rmem of this environment
let F = null; // its heap front (alloc/free closures)
let defaultArenas = null; // [transient, intermediate, persistent] after initArenas()
const onDefault = []; // callbacks run whenever a default instance is created (index.mjs's live bindings)

function ensure() {
  if (D === null || D.destroyed) init();
  return D;
}

function need(what = 'init()') {
  if (D === null) throw notInitialized(what);
  return D;
}

/**
 * Creates this environment's default instance (the seed's init_heap). options:
 * { capacity, junk, validate } as for new Rmem(). A second call does nothing
 * (the options are ignored), as in C.
 */
function init(options) {
  if (D !== null && !D.destroyed) return;
  // first call, or the default instance was destroyed (rmem.instance().destroy()): start afresh, as
  // C's rmem_shutdown_default + init_heap do
  D = new Rmem(options === undefined ? {} : options);
  F = core.frontOf(D);
  defaultArenas = null;
  for (const fn of onDefault) fn(D);
}

/** size bytes from the heap; returns the byte offset of the block. */
function rAlloc(size) {
  if (F === null) throw notInitialized('init()');
  return F.alloc(size);
}

/** Frees a heap block (rFree(0) does nothing). */
function rFree(ptr) {
  if (F === null) throw notInitialized('init()');
  F.free(ptr);
}

/** Merges free runs, releases empty slabs and free pages; returns what it did. */
function rDefrag() {
  return need().defrag();
}

/** The seed's init_arenas: the three default arenas (64 KiB chunks), one per lifetime. */
function initArenas() {
  const rm = ensure();
  if (defaultArenas !== null) return;
  defaultArenas = [
    rm.createArena(64 * 1024, LIFETIME.TRANSIENT),
    rm.createArena(64 * 1024, LIFETIME.INTERMEDIATE),
    rm.createArena(64 * 1024, LIFETIME.PERSISTENT),
  ];
}

function defaultArena(lifetime) {
  const lt = toLifetime(lifetime);
  if (defaultArenas === null) throw notInitialized('initArenas()');
  return defaultArenas[lt];
}

/** A dynamic arena on the default instance; size is its chunk size. */
function createArena(size, lifetime = LIFETIME.TRANSIENT) {
  return need().createArena(size, lifetime);
}

function checkArena(arena) {
  if (!Arena.isArena(arena)) throw invalidArgType('arena', 'an Arena (from createArena)', arena);
  return arena;
}

/**
 * rArena(arena, size): size bytes from that arena.
 * rArena(size, lifetime): size bytes from the default arena of that lifetime.
 */
function rArena(first, second) {
  if (typeof first === 'object' && first !== null) return checkArena(first).alloc(second);
  if (typeof first === 'number') return defaultArena(second).alloc(first);
  throw invalidArgType('arena', 'an Arena or a size (number)', first);
}

function arenaOf(x) {
  if (typeof x === 'number' || typeof x === 'string') return defaultArena(x);
  return checkArena(x);
}

/**
 * rArenaFree(arena | lifetime, ptr, size): frees one object of an intermediate
 * arena (size: the size it was allocated with).
 */
function rArenaFree(arena, ptr, size) {
  arenaOf(arena).free(ptr, size);
}

/** Figures of an arena, or of the default arena of a lifetime. */
function arenaStats(arena) {
  return arenaOf(arena).stats();
}

/** rReset(arena) or rReset(lifetime): rewinds the arena to empty. */
function rReset(x) {
  arenaOf(x).reset();
}

/** Destroys a dynamic arena; its handle dies (later calls throw ERR_RMEM_DESTROYED). */
function rDestroy(arena) {
  checkArena(arena);
  arena.destroy();
}

// Slab caches, seed-style names (slab_cache_create, slab_alloc, slab_free, slab_cache_destroy).
function checkCache(cache) {
  if (!SlabCache.isSlabCache(cache)) throw invalidArgType('cache', 'a SlabCache (from slabCacheCreate)', cache);
  return cache;
}
/** A cache of objects of objSize bytes on the default instance. options: { align, strict } */
function slabCacheCreate(name, objSize, options) {
  return need().createSlabCache(name, objSize, options);
}
function slabAlloc(cache) {
  return checkCache(cache).alloc();
}
function slabFree(cache, ptr) {
  checkCache(cache).free(ptr);
}
function slabCacheShrink(cache) {
  checkCache(cache).shrink();
}
function slabCacheDestroy(cache) {
  checkCache(cache).destroy();
}

/** Uint8Array over the live block at ptr (length: default all of it). */
function view(ptr, length) {
  return need().view(ptr, length);
}

/** Page-source, heap and handle figures of the default instance. */
function stats() {
  return need().stats();
}

/** Number of problems the validators find in the default instance (0 = healthy). */
function validate() {
  return need().validate();
}

/** Throws ERR_RMEM_CORRUPTED naming the damage if validate() would be > 0. */
function check() {
  need().check();
}

/** Every page run of the default instance with its owner: see Rmem#layout. */
function layout(options) {
  return need().layout(options);
}

/** Prints the default instance's report (every allocator; MeMS in the seed's format) on stdout. */
function printStats() {
  need().printStats();
}

/** The default instance's report, as text. */
function formatStats() {
  return need().formatStats();
}

/**
 * The heap map of mem (an Rmem, or a layout from mem.layout()) as a
 * self-contained SVG string: one cell per page (or group of pages), coloured
 * by owner and shaded by occupancy, a legend, hover titles (lib/viz/heapmap.js).
 */
function heapMap(mem, options) {
  return require('./viz/heapmap').svg(mem === undefined ? need() : mem, options);
}

/** The same map as block characters for a terminal (colour when stdout is a TTY, or options.color). */
function heapMapText(mem, options) {
  return require('./viz/heapmap').text(mem === undefined ? need() : mem, options);
}

/**
 * Serves a live page of mem (an Rmem; default: the default instance) on
 * 127.0.0.1: its heap map, stats and report, refreshed while the program
 * runs. options: { port (0: any free port), host ('127.0.0.1'), interval (the
 * page's refresh, ms), unref (do not keep the process alive) }. Returns at once
 * { url, port, ready, close() }: await ready for url and port; close() stops it.
 */
function serveViz(mem, options) {
  return require('./viz/server').serveInstance(mem === undefined ? need() : mem, options);
}

/** Reads an allocation trace of the drop-in malloc (RMEM_MALLOC_TRACE=file): lib/viz/trace.js decode. */
function readTrace(file) {
  return require('./viz/trace').read(file);
}

/** Replays one process of a trace: every block's lifetime, and whether the events balance. */
function replayTrace(proc, trace) {
  return require('./viz/trace').replay(proc, trace);
}

/** The default instance (an Rmem), or null before init(). */
function instance() {
  return D;
}

const api = {
  // seed API
  init,
  rAlloc,
  rFree,
  rDefrag,
  initArenas,
  createArena,
  rArena,
  rArenaFree,
  rReset,
  rDestroy,
  arenaStats,
  LIFETIME,
  slabCacheCreate,
  createSlabCache: slabCacheCreate,
  slabAlloc,
  slabFree,
  slabCacheShrink,
  slabCacheDestroy,
  view,
  stats,
  validate,
  check,
  instance,
  layout,
  printStats,
  formatStats,
  heapMap,
  heapMapText,
  serveViz,
  readTrace,
  replayTrace,
  // modern API
  Rmem,
  Arena,
  SlabCache,
  Heap: core.Heap,
  Mems: core.Mems,
  codes,
  constants: core.constants,
};

// memory and the typed views of the default instance (they throw before init()).
for (const name of ['memory', 'HEAP8', 'HEAPU8', 'HEAP16', 'HEAPU16', 'HEAP32', 'HEAPU32', 'HEAPF32', 'HEAPF64',
  'HEAP64', 'HEAPU64', 'dataView']) {
  Object.defineProperty(api, name, { enumerable: true, get() { return need()[name]; } });
}
// rmem.mems is require('rmem/mems'): MeMS on the default instance.
Object.defineProperty(api, 'mems', { enumerable: true, get() { return require('./mems'); } });

module.exports = api;
// `default` is the module itself, so `import rmem from 'rmem'` gives the same
// object in every TypeScript and bundler interop mode (lib/index.d.ts declares
// a default export).
Object.defineProperty(module.exports, 'default', { value: api, enumerable: false });
// Internal hooks for ./mems.js and ./index.mjs (same environment, same default instance).
Object.defineProperty(module.exports, '_ensureDefault', { value: ensure, enumerable: false });
Object.defineProperty(module.exports, '_onDefault', {
  enumerable: false,
  value(fn) {
    onDefault.push(fn); // also for a later default instance, after the current one was destroyed
    if (D !== null) fn(D);
  },
});
