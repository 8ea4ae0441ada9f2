// Type definitions for rmem (hand-written), for `require('rmem')` and
// `import ... from 'rmem'` alike (lib/index.js and lib/index.mjs export the
// same names; `default` is the module object itself in both).
//
// Memory model: an instance's whole address range is ONE ArrayBuffer
// (`memory`). A pointer is a plain integer byte offset into it (0 = null), of
// type `Ptr` (a number). Sizes are finite numbers >= 1; fractions are
// truncated. Every failure throws an Error with a `code` (see `RmemErrorCode`).
//
// Needs lib es2020 or later (BigInt64Array); nothing newer: the one later
// name used, Symbol.dispose, is declared below for compilers whose lib lacks it.

declare global {
  interface SymbolConstructor {
    /** Node.js has it from 18.18 and 20.4; TypeScript's lib from esnext.disposable (the same declaration, merged). */
    readonly dispose: unique symbol;
  }
}


/** A byte offset into `memory` (0 = null). Always an integer in [0, 2^32). */
export type Ptr = number;

/** The three arena lifetimes of the seed. */
export declare const LIFETIME: {
  readonly TRANSIENT: 0;
  readonly INTERMEDIATE: 1;
  readonly PERSISTENT: 2;
};
export type Lifetime = 0 | 1 | 2;
/** The same lifetimes by name; every function that takes a lifetime takes either form. */
export type LifetimeName = 'transient' | 'intermediate' | 'persistent';

/** Every `code` rmem throws. */
export type RmemErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_RMEM_INVALID_POINTER'
  | 'ERR_RMEM_DOUBLE_FREE'
  | 'ERR_RMEM_OUT_OF_MEMORY'
  | 'ERR_RMEM_NOT_INITIALIZED'
  | 'ERR_RMEM_CORRUPTED'
  | 'ERR_RMEM_DESTROYED'
  | 'ERR_RMEM_INVALID_HANDLE'
  | 'ERR_RMEM_BUSY'
  | 'ERR_RMEM_WRONG_THREAD'
  | 'ERR_RMEM_NOT_SHARED'
  | 'ERR_RMEM_BAD_TRACE';

export interface RmemError extends Error {
  code: RmemErrorCode;
}

/** code -> description. */
export declare const codes: Readonly<Record<RmemErrorCode, string>>;

export declare const constants: {
  readonly PAGE_SIZE: 4096;
  readonly SMALL_MAX: number;
  readonly DEFAULT_CAPACITY: number;
  readonly MIN_CAPACITY: number;
  readonly MAX_CAPACITY: number;
  readonly OPT_JUNK: 1;
  readonly OPT_VALIDATE: 2;
  readonly OPT_SHARED: 4;
  readonly SLAB_STRICT: 1;
  readonly SCRATCH_WORDS: number;
  /** threads that may use one shared instance at once */
  readonly SHARED_MAX_THREADS: number;
};

export interface RmemOptions {
  /** Bytes of address space to reserve: 1 MiB .. 4 GiB, default 64 MiB. */
  capacity?: number;
  /** Fill freed blocks with 0xDF and new ones with 0xAB (debugging; costs time). */
  junk?: boolean;
  /** Run the full validator after every operation (tests; very slow). */
  validate?: boolean;
  /**
   * A thread-safe instance for worker_threads: `memory` is a SharedArrayBuffer, share() gives a
   * token for Rmem.attach() in another thread, and every thread may allocate and free any block.
   */
  shared?: boolean;
}

/** What Rmem#share() returns: a plain object that postMessage and structuredClone carry. */
export interface SharedToken {
  readonly kind: 'rmem.shared-instance';
  readonly id: number;
  readonly key: number;
  /** the instance's memory itself (shared, not copied) */
  readonly memory: SharedArrayBuffer;
}

/** Figures of the general heap. Sizes are in bytes, counts are counts. */
export interface HeapStats {
  /** bytes: usable size of the live blocks */
  used: number;
  /** bytes: free slots in the heap's slabs plus free pages of the page source */
  free: number;
  /** count of live blocks */
  liveBlocks: number;
  /** count of free slots in the heap's slabs */
  freeSlots: number;
  /** count of slabs the heap owns */
  slabs: number;
  /** count of live page-run blocks (larger than constants.SMALL_MAX) */
  largeBlocks: number;
  /** bytes: the largest block that can be allocated without merging */
  largestFree: number;
  /** 1 - largestFree / free, in [0, 1]; 0 when nothing is free */
  fragmentation: number;
  /** allocations since the instance was created */
  allocs: number;
  /** frees since the instance was created */
  frees: number;
  /** shared instances: thread heaps made (the most threads that used it at once); 0 for a private one */
  threads: number;
  /** shared instances: thread heaps owned by a running thread */
  threadsActive: number;
  /** shared instances: blocks freed by a thread that did not own them, taken back by their owner */
  remoteFrees: number;
}

/** Page-source figures of an instance. Every size here is in BYTES, the page figures included. */
export interface Stats {
  /** bytes of address space reserved */
  capacity: number;
  /** bytes of pages handed out at least once and not released to the OS since */
  committed: number;
  /** bytes actually resident (mincore); 0 if unknown */
  resident: number;
  /** BYTES (not a page count) of the pages some allocator owns now; divide by constants.PAGE_SIZE for pages */
  pagesInUse: number;
  /** BYTES (not a page count) of the free pages below the high-water mark */
  pagesFree: number;
  /** bytes: the largest run of free pages, never-used pages included */
  largestFree: number;
  /** bytes of out-of-band metadata committed */
  metadata: number;
  /** live arenas of the instance */
  arenas: number;
  /** live slab caches of the instance */
  slabCaches: number;
  /** bytes announced to V8 with napi_adjust_external_memory (follows pagesInUse) */
  externalReported: number;
  heap: HeapStats;
}

export interface DefragReport {
  merged: number;
  slabsReleased: number;
  pagesReleased: number;
  bytesReleased: number;
}

export interface ArenaStats {
  lifetime: Lifetime;
  /** count of chunks held (intermediate arenas: slabs and large runs) */
  chunks: number;
  /** bytes of the chunks held */
  reserved: number;
  /** bytes handed out since the last reset (bump arenas, padding and leases included); intermediate: bytes of live objects */
  used: number;
  /** allocations since the last reset made by library calls (the JS fast path counts its leases, not each bump) */
  allocs: number;
  /** resets since creation */
  resets: number;
  /** bytes leased to the JS fast path and not yet handed out */
  leased: number;
}

export interface SlabCacheStats {
  /** the cache's name as C stores it (see SlabCache.name) */
  name: string;
  /** bytes per object (the slot size) */
  objSize: number;
  objectsInUse: number;
  /** count of slots in all slabs */
  slots: number;
  slabs: number;
  /** bytes of pages held */
  slabBytes: number;
  /** objectsInUse * objSize / slabBytes */
  utilisation: number;
  /** allocations since creation: frees + objectsInUse (exact, whether JS or C served each call) */
  allocs: number;
  /** successful frees since creation (a refused free counts in neither figure) */
  frees: number;
}

/** MeMS figures, as printStats shows them. */
export interface MemsStats {
  /** count of 4 KiB pages of all main nodes ("Page used") */
  pagesUsed: number;
  /** bytes in holes ("Space unused") */
  spaceUnused: number;
  /** count of main nodes ("Main Chain Length") */
  mainChainLength: number;
  /** count of all sub-chain nodes */
  segments: number;
  processSegments: number;
  holeSegments: number;
  /** bytes in PROCESS segments */
  bytesInUse: number;
}

// ---------------------------------------------------------------- layout, reports, the heap map

/** Fields every run of a layout has: where it is and who owns it. */
interface RunBase {
  /** byte offset of its first page */
  offset: number;
  /** its length in 4 KiB pages */
  pages: number;
}
/** Page 0 and the last page: never handed out. */
export interface ReservedRun extends RunBase { owner: 'reserved' }
/** Free pages: a free run below the high-water mark, or (untouched) the never-used pages above it. */
export interface FreeRun extends RunBase {
  owner: 'free';
  /** pages of it that may still be resident (not yet returned to the OS) */
  dirtyPages: number;
  /** true for the pages above the high-water mark, never handed out */
  untouched: boolean;
}
/** Slots of a slab: live ones are in the user's hands, cached ones wait on the owner's front, its stack or depot (free for the user). */
interface SlabFields {
  kind: 'slab';
  classIndex: number;
  /** bytes per slot */
  slotSize: number;
  slots: number;
  live: number;
  cached: number;
}
export interface HeapSlabRun extends RunBase, SlabFields { owner: 'heap' }
export interface HeapLargeRun extends RunBase {
  owner: 'heap';
  kind: 'large';
  /** the block's usable size, bytes */
  size: number;
}
interface ArenaFields {
  owner: 'arena';
  /** the arena's handle (Arena#handle) */
  arena: number;
  lifetime: LifetimeName;
}
export interface ArenaChunkRun extends RunBase, ArenaFields {
  kind: 'chunk';
  /** bytes bumped in this chunk (handed out: a JS lease's rest is not counted) */
  used: number;
  /** the chunk the arena bumps in now */
  current: boolean;
}
export interface ArenaSlabRun extends RunBase, ArenaFields, SlabFields {}
export interface ArenaLargeRun extends RunBase, ArenaFields {
  kind: 'large';
  /** the size it was allocated with */
  size: number;
}
/** A slab of a slab cache. */
export interface CacheSlabRun extends RunBase, SlabFields {
  owner: 'slab';
  /** the cache's handle (SlabCache#handle) */
  cache: number;
  name: string;
  objSize: number;
}
/** One segment of a MeMS sub-chain. */
export interface MemsSegment {
  sva: number;
  eva: number;
  /** byte offset of its first byte in memory */
  offset: number;
  size: number;
  kind: 'process' | 'hole';
}
/** A MeMS main node and its sub-chain. */
export interface MemsRun extends RunBase {
  owner: 'mems';
  mainIndex: number;
  sva: number;
  eva: number;
  bytesInUse: number;
  holeBytes: number;
  /** its sub-chain in order (empty with layout({ segments: false })) */
  segments: MemsSegment[];
}
export type Run = ReservedRun | FreeRun | HeapSlabRun | HeapLargeRun | ArenaChunkRun | ArenaSlabRun | ArenaLargeRun
  | CacheSlabRun | MemsRun;
export type RunOwner = Run['owner'];
/** Every page run of an instance in address order; the runs cover [0, capacity) exactly. JSON-serialisable. */
export interface Layout {
  pageSize: 4096;
  capacity: number;
  runs: Run[];
}
export interface LayoutOptions {
  /** list each MeMS main node's sub-chain (default true) */
  segments?: boolean;
}
export interface HeapMapOptions {
  /** cells per row (default 64) */
  columns?: number;
  /** at most this many cells: more pages share a cell (default 4096; the text map: 1024) */
  maxCells?: number;
  /** also draw the never-used pages above the high-water mark (default false) */
  full?: boolean;
  /** draw only up to the end of the last run an allocator owns */
  trim?: boolean;
  /** SVG: a caption */
  title?: string;
  /** SVG: pixels per cell (default 10) */
  cell?: number;
  /** the legend (default true) */
  legend?: boolean;
  /** text: ANSI colours (default: stdout is a TTY) */
  color?: boolean;
}
export interface ServeVizOptions {
  /** default 0: any free port */
  port?: number;
  /** default '127.0.0.1' */
  host?: string;
  /** the page's refresh, ms (default 500) */
  interval?: number;
  /** do not keep the process alive for the server */
  unref?: boolean;
  title?: string;
}
/** One process of an allocation trace: its events in time order, as typed arrays of n. */
export interface TraceProcess {
  pid: number;
  /** the pid it was forked from, or 0 */
  parent: number;
  /** CLOCK_MONOTONIC ns of its first event (the time-stamp counter turned into ns) */
  t0: number;
  threads: number[];
  n: number;
  /** ns since t0 */
  t: Float64Array;
  /** 1 malloc, 2 free, 3 calloc, 4 realloc, 5 realloc's old block, 6 memalign, 7 fork */
  kind: Uint8Array;
  addr: Float64Array;
  size: Float64Array;
  aux: Uint8Array;
  tid: Uint32Array;
}
export interface Trace {
  version: 2;
  pageSize: number;
  createdNs: number;
  /** the busiest first */
  processes: TraceProcess[];
}
export interface TraceReplay {
  blocks: { n: number; from: Uint32Array; to: Uint32Array; addr: Float64Array; size: Float64Array; kind: Uint8Array };
  stats: {
    events: number; allocs: number; frees: number; reallocs: number; failed: number;
    /** frees of no live block */
    unmatchedFrees: number;
    /** allocations at an address that was still live by the trace */
    reused: number;
    liveAtEnd: number; peakLive: number; peakBytes: number; bytesAllocated: number;
    /** a fork child: its parent's live blocks at the fork */
    inherited: number;
    balanced: boolean;
  };
  /** live blocks after each event */
  live: Uint32Array;
  /** live bytes after each event */
  liveBytes: Float64Array;
}

/** The live page's server: url and port are set once `ready` resolves. */
export interface VizServer {
  url: string | null;
  port: number | null;
  readonly ready: Promise<VizServer>;
  close(): Promise<void>;
}

/** An arena. Made by `createArena`; a destroyed arena throws ERR_RMEM_DESTROYED. */
export declare class Arena {
  private constructor();
  readonly lifetime: Lifetime;
  readonly destroyed: boolean;
  readonly instance: Rmem;
  /** The number layout() names this arena by. */
  readonly handle: number;
  /** size bytes, 8-byte aligned. Bump arenas serve this in JS from a lease of the current chunk. */
  alloc(size: number): Ptr;
  /** The same, with one native call per allocation (for comparison). */
  allocNative(size: number): Ptr;
  /** Frees one object of an intermediate arena; size is the size it was allocated with. */
  free(ptr: Ptr, size: number): void;
  /** Rewinds to empty (every pointer from it dies). */
  reset(): void;
  /** Gives every chunk back; the arena is dead afterwards. */
  destroy(): void;
  /** Runs fn(arena) and resets the arena afterwards (also on throw, and after an async fn settles). */
  scope<T>(fn: (arena: this) => Promise<T>): Promise<T>;
  scope<T>(fn: (arena: this) => T): T;
  stats(): ArenaStats;
  /** Its report: its chunks (or slabs) in address order, then its figures. */
  formatStats(): string;
  /** Prints formatStats() on stdout. */
  printStats(): void;
  static isArena(x: unknown): x is Arena;
}

/** A slab cache of fixed-size objects. */
export declare class SlabCache {
  private constructor();
  /**
   * The name as C stores it: at most 31 bytes of UTF-8, cut before a character
   * that does not fit, and ending at an embedded NUL; '' for none. Always equal
   * to stats().name.
   */
  readonly name: string;
  readonly destroyed: boolean;
  readonly instance: Rmem;
  /** The number layout() names this cache by. */
  readonly handle: number;
  alloc(): Ptr;
  free(ptr: Ptr): void;
  /** Gives empty slabs back to the page source. */
  shrink(): void;
  destroy(): void;
  stats(): SlabCacheStats;
  /** Its report: its slabs in address order, then its figures. */
  formatStats(): string;
  /** Prints formatStats() on stdout. */
  printStats(): void;
  static isSlabCache(x: unknown): x is SlabCache;
}

/** The general heap of an instance. */
export declare class Heap {
  private constructor();
  alloc(size: number): Ptr;
  free(ptr: Ptr): void;
  calloc(count: number, size: number): Ptr;
  realloc(ptr: Ptr, size: number): Ptr;
  alignedAlloc(alignment: number, size: number): Ptr;
  usableSize(ptr: Ptr): number;
  defrag(): DefragReport;
  stats(): HeapStats;
  /** Its report: each class's slabs, the large blocks, then its figures. */
  formatStats(): string;
  printStats(): void;
}

/**
 * MeMS of an instance. Virtual addresses are BigInt (1000n for the first).
 * `get` returns the byte OFFSET of that byte in `memory` (a BigInt, as the
 * seed's get returns one) - never a process address.
 */
export declare class Mems {
  private constructor();
  init(): void;
  malloc(size: number): bigint;
  get(vaddr: bigint | number): bigint;
  free(vaddr: bigint | number): void;
  /** Uint8Array over the segment's bytes from vaddr; length defaults to the rest of the segment. */
  view(vaddr: bigint | number, length?: number): Uint8Array;
  /** The seed's stats format, on stdout. */
  printStats(): void;
  stats(): MemsStats;
  validate(): number;
  /** Returns every MeMS page; a later init() starts again from 1000n. */
  finish(): void;
}

/** One rmem instance: its own address range, heap, arenas, slab caches and MeMS. */
export declare class Rmem {
  constructor(options?: RmemOptions);
  /**
   * Another thread's Rmem over the shared instance a token names: the same memory, offsets, heap
   * and slab caches. Throws ERR_RMEM_DESTROYED once every attachment was released.
   */
  static attach(token: SharedToken): Rmem;
  /**
   * The whole range: one ArrayBuffer, or for a shared instance a SharedArrayBuffer (the same bytes in
   * every attached thread). After destroy() it reads fresh zero pages until it is collected.
   */
  readonly memory: ArrayBuffer | SharedArrayBuffer;
  readonly capacity: number;
  /** True for { shared: true } and for Rmem.attach(). */
  readonly shared: boolean;
  /** A token for Rmem.attach() in another thread. Throws ERR_RMEM_NOT_SHARED for a private instance. */
  share(): SharedToken;
  /** The live slab cache of that name (made by any attached thread), or null. */
  slabCache(name: string): SlabCache | null;
  readonly heap: Heap;
  readonly mems: Mems;
  readonly destroyed: boolean;
  readonly HEAP8: Int8Array;
  readonly HEAPU8: Uint8Array;
  readonly HEAP16: Int16Array;
  readonly HEAPU16: Uint16Array;
  readonly HEAP32: Int32Array;
  readonly HEAPU32: Uint32Array;
  readonly HEAPF32: Float32Array;
  readonly HEAPF64: Float64Array;
  readonly HEAP64: BigInt64Array;
  readonly HEAPU64: BigUint64Array;
  readonly dataView: DataView;
  alloc(size: number): Ptr;
  free(ptr: Ptr): void;
  calloc(count: number, size: number): Ptr;
  realloc(ptr: Ptr, size: number): Ptr;
  alignedAlloc(alignment: number, size: number): Ptr;
  usableSize(ptr: Ptr): number;
  defrag(): DefragReport;
  /** Uint8Array over the live block at ptr (any allocator); length defaults to all of it. */
  view(ptr: Ptr, length?: number): Uint8Array;
  createArena(size?: number, lifetime?: Lifetime | LifetimeName): Arena;
  createArena(options: { size?: number; chunkSize?: number; lifetime?: Lifetime | LifetimeName }): Arena;
  createSlabCache(name: string | undefined | null, objSize: number, options?: { align?: number; strict?: boolean }): SlabCache;
  stats(): Stats;
  /** Number of problems the validators find (0 = healthy). */
  validate(): number;
  /** Throws ERR_RMEM_CORRUPTED naming the first problem, if any. */
  check(): void;
  /** Every page run in address order with its owner and details. */
  layout(options?: LayoutOptions): Layout;
  /** The whole instance's report: its runs, the page source, every allocator (MeMS in the seed's format). */
  formatStats(): string;
  /** Prints formatStats() on stdout. */
  printStats(): void;
  /**
   * Destroys the instance: its pages go back at once, every pointer and handle dies, later calls throw
   * ERR_RMEM_DESTROYED. A shared instance: releases this thread's attachment (the last one released
   * destroys the instance).
   */
  destroy(): void;
  [Symbol.dispose](): void;
}

// ---------------------------------------------------------------- the seed's API (default instance)

/** Creates this environment's default instance (the seed's init_heap). A second call does nothing. */
export declare function init(options?: RmemOptions): void;
export declare function rAlloc(size: number): Ptr;
/** rFree(0) does nothing. */
export declare function rFree(ptr: Ptr): void;
export declare function rDefrag(): DefragReport;
/** The three default arenas (64 KiB chunks); creates the default instance if needed. */
export declare function initArenas(): void;
/** A dynamic arena on the default instance; size is its chunk size. */
export declare function createArena(size: number, lifetime?: Lifetime | LifetimeName): Arena;
/** size bytes from an arena. */
export declare function rArena(arena: Arena, size: number): Ptr;
/** size bytes from the default arena of a lifetime (after initArenas()). */
export declare function rArena(size: number, lifetime: Lifetime | LifetimeName): Ptr;
/** Frees one object of an intermediate arena (or of the default intermediate arena); size: its allocated size. */
export declare function rArenaFree(arena: Arena | Lifetime | LifetimeName, ptr: Ptr, size: number): void;
/** Rewinds an arena, or the default arena of a lifetime, to empty. */
export declare function rReset(arena: Arena | Lifetime | LifetimeName): void;
export declare function rDestroy(arena: Arena): void;
export declare function arenaStats(arena: Arena | Lifetime | LifetimeName): ArenaStats;
export declare function slabCacheCreate(name: string | undefined | null, objSize: number, options?: { align?: number; strict?: boolean }): SlabCache;
export declare function createSlabCache(name: string | undefined | null, objSize: number, options?: { align?: number; strict?: boolean }): SlabCache;
export declare function slabAlloc(cache: SlabCache): Ptr;
export declare function slabFree(cache: SlabCache, ptr: Ptr): void;
export declare function slabCacheShrink(cache: SlabCache): void;
export declare function slabCacheDestroy(cache: SlabCache): void;
export declare function view(ptr: Ptr, length?: number): Uint8Array;
export declare function stats(): Stats;
export declare function validate(): number;
export declare function check(): void;
/** The default instance, or null before init(). */
export declare function instance(): Rmem | null;
/** The default instance's layout. */
export declare function layout(options?: LayoutOptions): Layout;
/** Prints the default instance's report on stdout. */
export declare function printStats(): void;
/** The default instance's report, as text. */
export declare function formatStats(): string;
/** The heap map of mem (an Rmem or a Layout; default: the default instance) as a self-contained SVG. */
export declare function heapMap(mem?: Rmem | Layout, options?: HeapMapOptions): string;
/** The same map as lines of block characters for a terminal. */
export declare function heapMapText(mem?: Rmem | Layout, options?: HeapMapOptions): string;
/** Serves a live page of mem (default: the default instance) on 127.0.0.1; returns at once, closable. */
export declare function serveViz(mem?: Rmem, options?: ServeVizOptions): VizServer;
/** Reads an allocation trace of the drop-in malloc (RMEM_MALLOC_TRACE=file). Throws ERR_RMEM_BAD_TRACE. */
export declare function readTrace(file: string): Trace;
/** Replays one process of a trace (give the whole trace so a fork child starts with its parent's blocks). */
export declare function replayTrace(proc: TraceProcess, trace?: Trace): TraceReplay;

/**
 * The default instance's memory and typed views over all of it. The default
 * instance exists after init() (or initArenas() or mems.init(), which create
 * it). CommonJS: properties of the module that throw ERR_RMEM_NOT_INITIALIZED
 * before that. ESM: live bindings (`export let`), `undefined` before that and
 * the instance's views from then on, so `import { init, HEAPU8 } from 'rmem'`
 * works as in Emscripten: call init() first, then use HEAPU8.
 */
export declare const memory: ArrayBuffer;
export declare const HEAP8: Int8Array;
export declare const HEAPU8: Uint8Array;
export declare const HEAP16: Int16Array;
export declare const HEAPU16: Uint16Array;
export declare const HEAP32: Int32Array;
export declare const HEAPU32: Uint32Array;
export declare const HEAPF32: Float32Array;
export declare const HEAPF64: Float64Array;
export declare const HEAP64: BigInt64Array;
export declare const HEAPU64: BigUint64Array;
export declare const dataView: DataView;

/** MeMS on the default instance: the same object as require('rmem/mems'). */
export declare const mems: typeof import('./mems');

declare const rmem: {
  init: typeof init; rAlloc: typeof rAlloc; rFree: typeof rFree; rDefrag: typeof rDefrag;
  initArenas: typeof initArenas; createArena: typeof createArena; rArena: typeof rArena;
  rArenaFree: typeof rArenaFree; rReset: typeof rReset; rDestroy: typeof rDestroy; arenaStats: typeof arenaStats;
  LIFETIME: typeof LIFETIME; slabCacheCreate: typeof slabCacheCreate; createSlabCache: typeof createSlabCache;
  slabAlloc: typeof slabAlloc; slabFree: typeof slabFree; slabCacheShrink: typeof slabCacheShrink;
  slabCacheDestroy: typeof slabCacheDestroy; view: typeof view; stats: typeof stats; validate: typeof validate;
  check: typeof check; instance: typeof instance; layout: typeof layout; printStats: typeof printStats;
  formatStats: typeof formatStats; heapMap: typeof heapMap; heapMapText: typeof heapMapText; serveViz: typeof serveViz;
  readTrace: typeof readTrace; replayTrace: typeof replayTrace;
  Rmem: typeof Rmem; Arena: typeof Arena; SlabCache: typeof SlabCache;
  Heap: typeof Heap; Mems: typeof Mems; codes: typeof codes; constants: typeof constants;
  readonly memory: ArrayBuffer; readonly HEAP8: Int8Array; readonly HEAPU8: Uint8Array; readonly HEAP16: Int16Array;
  readonly HEAPU16: Uint16Array; readonly HEAP32: Int32Array; readonly HEAPU32: Uint32Array;
  readonly HEAPF32: Float32Array; readonly HEAPF64: Float64Array; readonly HEAP64: BigInt64Array;
  readonly HEAPU64: BigUint64Array; readonly dataView: DataView; readonly mems: typeof import('./mems');
};
export default rmem;
