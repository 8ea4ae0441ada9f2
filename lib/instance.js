'use strict';
// instance.js - the JavaScript classes of one rmem instance over the native
// bridge (node/binding.c): Rmem, its Heap, its SlabCaches and its Mems.
//
// Memory model: an Rmem instance's whole address range is ONE ArrayBuffer
// (`memory`), shared zero-copy with C. A pointer is a plain integer byte offset
// into it (0 = null); typed views over the whole memory (HEAPU8, HEAP32, ...)
// let hot code index directly, `view(ptr, length)` gives a checked Uint8Array
// over one live block. No BigInt and no JS object per allocation.
//
// Who validates what
//   - C validates every pointer that reaches an allocator and every arena /
//     slab-cache handle (index + generation, see binding.c), and all metadata
//     lives outside `memory`, so writes into `memory` can never corrupt it.
//   - The heap's and the slab caches' fast paths run in JS on C's own front
//     (front.js, which says which invariant it keeps and who checks it); the
//     arena lease is arena.js's. Everything else goes to C, which checks again.
//   - JS checks argument types before a fast path of its own; class instances
//     are branded with private fields: a plain object, a Proxy or a foreign
//     `this` throws ERR_INVALID_ARG_TYPE.
const util = require('node:util');
const native = require('./native');
const { rmemError, invalidArgType, outOfRange } = require('./errors');
const { LIFETIME, toLifetime, checkPtr, checkLength, toVaddr } = require('./args');
const { makeHeapFront, makeCacheFront } = require('./front');
const { Arena, TOKEN: ARENA_TOKEN } = require('./arena');
const layoutCodec = require('./layout');

const C = native.constants;
const DEFAULT_CHUNK = 64 * 1024;

// A private token: the classes below are made by their factories, not by `new`.
const TOKEN = Symbol('rmem.internal');
// Rmem.attach's way into the constructor with a native object it already has.
const ATTACH = Symbol('rmem.attach');
// What a share() token says it is (a plain object, so postMessage and structuredClone carry it).
const SHARE_KIND = 'rmem.shared-instance';
const WASM_PAGE = 65536;
// Set by Rmem's static block.
let nativeOf;
let frontOf;

function brand(ok, x, what) {
  if (!ok) throw invalidArgType('this', what, x);
}

// ---------------------------------------------------------------------------
// SlabCache
// ---------------------------------------------------------------------------

class SlabCache {
  #n;
  #h;
  #f; // its front (front.js)
  #dead = false;
  #owner;
  #name;

  constructor(token, owner, n, h, name) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use Rmem#createSlabCache()');
    this.#owner = owner;
    this.#n = n;
    this.#h = h;
    this.#name = name;
    const st = n.cacheFront(h);
    this.#f = makeCacheFront(n, h, st, n.scratch[0], n.scratch[1]);
  }

  static isSlabCache(x) {
    return typeof x === 'object' && x !== null && #h in x;
  }

  static #check(x) {
    brand(SlabCache.isSlabCache(x), x, 'a SlabCache');
    return x;
  }

  get name() { return SlabCache.#check(this).#name; }
  /** The number layout() names this cache by (its index and generation in C). */
  get handle() { return SlabCache.#check(this).#h; }
  get destroyed() { return SlabCache.#check(this).#dead; }
  get instance() { return SlabCache.#check(this).#owner; }

  /** One object; returns its byte offset. */
  alloc() { return SlabCache.#check(this).#f.alloc(); }
  free(ptr) { SlabCache.#check(this).#f.free(ptr); }
  /** Gives empty slabs (and the objects its front holds) back to the page source. */
  shrink() { SlabCache.#check(this).#n.cacheShrink(this.#h); }
  destroy() {
    SlabCache.#check(this).#n.cacheDestroy(this.#h);
    this.#dead = true;
  }
  /** The cache's report (its slabs in address order, then its figures), as text. */
  formatStats() { return SlabCache.#check(this).#n.report(3, this.#h); }
  /** Prints formatStats() on stdout. */
  printStats() { process.stdout.write(this.formatStats()); }
  stats() {
    const s = SlabCache.#check(this).#n.cacheStats(this.#h);
    const [a, f] = this.#f.counts();
    s.allocs += a;
    s.frees += f;
    return s;
  }

  [util.inspect.custom](depth, options, inspect) {
    if (this.#dead) return `SlabCache <destroyed>`;
    try {
      return `SlabCache ${inspect(this.stats(), options)}`;
    } catch (e) {
      return `SlabCache <${e.code || e.message}>`;
    }
  }
}

// ---------------------------------------------------------------------------
// Heap
// ---------------------------------------------------------------------------

class Heap {
  #n;
  #f;
  constructor(token, n, front) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use rm.heap');
    this.#n = n;
    this.#f = front;
  }
  static #check(x) {
    brand(typeof x === 'object' && x !== null && #n in x, x, 'a Heap');
    return x;
  }
  alloc(size) { return Heap.#check(this).#f.alloc(size); }
  free(ptr) { Heap.#check(this).#f.free(ptr); }
  calloc(count, size) { return Heap.#check(this).#n.calloc(count, size); }
  realloc(ptr, size) { return Heap.#check(this).#n.realloc(ptr, size); }
  alignedAlloc(alignment, size) { return Heap.#check(this).#n.alignedAlloc(alignment, size); }
  usableSize(ptr) { return Heap.#check(this).#n.usableSize(ptr); }
  defrag() { return Heap.#check(this).#n.defrag(); }
  /** The heap's report (each class's slabs, the large blocks, the figures), as text. */
  formatStats() { return Heap.#check(this).#n.report(1); }
  /** Prints formatStats() on stdout. */
  printStats() { process.stdout.write(this.formatStats()); }
  stats() {
    const h = Heap.#check(this).#n.stats().heap;
    const [a, f] = this.#f.counts();
    h.allocs += a;
    h.frees += f;
    return h;
  }
  [util.inspect.custom](depth, options, inspect) {
    try {
      return `Heap ${inspect(this.stats(), options)}`;
    } catch (e) {
      return `Heap <${e.code || e.message}>`;
    }
  }
}

// ---------------------------------------------------------------------------
// Mems: MeMS of one instance. Virtual addresses are BigInt (1000n first);
// get() answers the byte offset of that byte in `memory` as a BigInt, never a
// process address.
// ---------------------------------------------------------------------------

class Mems {
  #n;
  #owner;
  constructor(token, owner, n) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use rm.mems');
    this.#owner = owner;
    this.#n = n;
  }
  static #check(x) {
    brand(typeof x === 'object' && x !== null && #n in x, x, 'a Mems');
    return x;
  }
  init() { Mems.#check(this).#n.memsInit(); }
  /** size bytes, exactly; returns the virtual address as a BigInt. */
  malloc(size) {
    if (typeof size !== 'number') throw invalidArgType('size', 'of type number', size);
    return BigInt(Mems.#check(this).#n.memsMalloc(size));
  }
  free(vaddr) { Mems.#check(this).#n.memsFree(toVaddr(vaddr)); }
  /** The byte offset in memory of the byte at vaddr (a BigInt, as the seed returns addresses). */
  get(vaddr) { return BigInt(Mems.#check(this).#n.memsGet(toVaddr(vaddr))); }
  /** Uint8Array over [vaddr, vaddr + length) (default: to the end of its segment). */
  view(vaddr, length) {
    const v = toVaddr(vaddr);
    const n = Mems.#check(this).#n;
    const off = n.memsExtent(v);
    const max = n.scratch[1];
    if (length === undefined) length = max;
    checkLength(length);
    if (length > max) throw outOfRange('length', `<= ${max} (the rest of the segment)`, length);
    return new Uint8Array(this.#owner.memory, off, length);
  }
  printStats() { Mems.#check(this).#n.memsPrintStats(); }
  stats() { return Mems.#check(this).#n.memsStats(); }
  validate() { return Mems.#check(this).#n.memsValidate(); }
  finish() { Mems.#check(this).#n.memsFinish(); }
  [util.inspect.custom](depth, options, inspect) {
    try {
      return `Mems ${inspect(this.stats(), options)}`;
    } catch (e) {
      return `Mems <${e.code || e.message}>`;
    }
  }
}

// ---------------------------------------------------------------------------
// Rmem: one instance
// ---------------------------------------------------------------------------

const VIEW_TYPES = {
  HEAP8: Int8Array,
  HEAPU8: Uint8Array,
  HEAP16: Int16Array,
  HEAPU16: Uint16Array,
  HEAP32: Int32Array,
  HEAPU32: Uint32Array,
  HEAPF32: Float32Array,
  HEAPF64: Float64Array,
  HEAP64: BigInt64Array,
  HEAPU64: BigUint64Array,
};

class Rmem {
  #n;
  #f;
  #arenas = new Set(); // live arenas, so destroy() can end their JS leases
  #views = null;
  #heap;
  #mems = null;
  #destroyed = false;

  /**
   * options.capacity: bytes of address space (default 64 MiB, 1 MiB .. 4 GiB);
   * options.shared: a thread-safe instance whose memory is a SharedArrayBuffer
   * (see share() and Rmem.attach()); options.junk: fill freed/new blocks with
   * patterns; options.validate: run the validator after every operation
   * (slow; tests).
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    if (options[ATTACH] !== undefined) {
      this.#n = options[ATTACH];
    } else {
      const { capacity, shared = false, junk = false, validate = false } = options;
      if (capacity !== undefined && typeof capacity !== 'number') {
        throw invalidArgType('options.capacity', 'of type number', capacity);
      }
      if (typeof shared !== 'boolean') throw invalidArgType('options.shared', 'of type boolean', shared);
      const flags = (junk ? C.OPT_JUNK : 0) | (validate ? C.OPT_VALIDATE : 0) | (shared ? C.OPT_SHARED : 0);
      if (shared) {
        // The range is a shared WebAssembly.Memory: its buffer is a SharedArrayBuffer, page-aligned, zeroed,
        // committed on first touch, and every thread that gets it sees the same bytes at the same offsets.
        const cap = capacity === undefined ? C.DEFAULT_CAPACITY : capacity;
        if (!Number.isInteger(cap) || cap < C.MIN_CAPACITY || cap > C.MAX_CAPACITY) {
          throw outOfRange('options.capacity', `an integer >= ${C.MIN_CAPACITY} && <= ${C.MAX_CAPACITY}`, cap);
        }
        const pages = Math.ceil(cap / WASM_PAGE);
        let wasm;
        try {
          wasm = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
        } catch (e) {
          throw rmemError('ERR_RMEM_OUT_OF_MEMORY', `rmem: cannot make a shared memory of ${pages * WASM_PAGE} bytes (${e.message})`);
        }
        this.#n = native.createInstance(pages * WASM_PAGE, flags, new Uint8Array(wasm.buffer));
      } else {
        this.#n = native.createInstance(capacity, flags);
      }
    }
    this.#f = makeHeapFront(this.#n);
    this.#heap = new Heap(TOKEN, this.#n, this.#f);
  }

  /**
   * Another thread's Rmem over the shared instance that share() made the
   * token for: the same memory (SharedArrayBuffer), the same offsets, the same
   * heap and slab caches. Throws ERR_RMEM_DESTROYED once every attachment of
   * that instance was released.
   */
  static attach(token) {
    if (token === null || typeof token !== 'object' || token.kind !== SHARE_KIND ||
        !(token.memory instanceof SharedArrayBuffer)) {
      throw invalidArgType('token', 'a token of Rmem#share()', token);
    }
    return new Rmem({ [ATTACH]: native.attachInstance(token.id, token.key, new Uint8Array(token.memory)) });
  }

  static isRmem(x) {
    return typeof x === 'object' && x !== null && #n in x;
  }

  static #check(x) {
    brand(Rmem.isRmem(x), x, 'an Rmem');
    return x;
  }

  // Module-private accessors (not reachable from the package's exports): the
  // native functions and the heap front, for the seed API, tests and benchmarks.
  static {
    nativeOf = (rm) => Rmem.#check(rm).#n;
    frontOf = (rm) => Rmem.#check(rm).#f;
  }

  get memory() { return Rmem.#check(this).#n.memory; }
  get capacity() { return Rmem.#check(this).#n.capacity; }
  /** True for an instance made with { shared: true } or by Rmem.attach(). */
  get shared() { return Rmem.#check(this).#n.shared; }

  /**
   * A token for Rmem.attach() in another thread: a plain object (kind, id,
   * key, memory) that postMessage and structuredClone carry; the memory is
   * shared, not copied. Throws ERR_RMEM_NOT_SHARED for a private instance.
   */
  share() {
    Rmem.#check(this);
    if (this.#destroyed) throw rmemError('ERR_RMEM_DESTROYED', 'rmem: this instance was destroyed');
    const [id, key] = this.#n.share();
    return { kind: SHARE_KIND, id, key, memory: this.#n.memory };
  }
  get heap() { return Rmem.#check(this).#heap; }
  get destroyed() { return Rmem.#check(this).#destroyed; }
  get mems() {
    Rmem.#check(this);
    if (this.#mems === null) this.#mems = new Mems(TOKEN, this, this.#n);
    return this.#mems;
  }

  #view(name) {
    Rmem.#check(this);
    if (this.#destroyed) throw rmemError('ERR_RMEM_DESTROYED', 'rmem: this instance was destroyed');
    if (this.#views === null) this.#views = {};
    let v = this.#views[name];
    if (v === undefined) {
      v = name === 'DataView' ? new DataView(this.#n.memory) : new VIEW_TYPES[name](this.#n.memory);
      this.#views[name] = v;
    }
    return v;
  }
  get HEAP8() { return this.#view('HEAP8'); }
  get HEAPU8() { return this.#view('HEAPU8'); }
  get HEAP16() { return this.#view('HEAP16'); }
  get HEAPU16() { return this.#view('HEAPU16'); }
  get HEAP32() { return this.#view('HEAP32'); }
  get HEAPU32() { return this.#view('HEAPU32'); }
  get HEAPF32() { return this.#view('HEAPF32'); }
  get HEAPF64() { return this.#view('HEAPF64'); }
  get HEAP64() { return this.#view('HEAP64'); }
  get HEAPU64() { return this.#view('HEAPU64'); }
  get dataView() { return this.#view('DataView'); }

  // heap shortcuts (see Heap)
  alloc(size) { return Rmem.#check(this).#f.alloc(size); }
  free(ptr) { Rmem.#check(this).#f.free(ptr); }
  calloc(count, size) { return Rmem.#check(this).#heap.calloc(count, size); }
  realloc(ptr, size) { return Rmem.#check(this).#heap.realloc(ptr, size); }
  alignedAlloc(alignment, size) { return Rmem.#check(this).#heap.alignedAlloc(alignment, size); }
  usableSize(ptr) { return Rmem.#check(this).#heap.usableSize(ptr); }
  defrag() { return Rmem.#check(this).#heap.defrag(); }

  /**
   * A Uint8Array over the live block at ptr (of any allocator of this
   * instance), length bytes (default: all of it). Throws
   * ERR_RMEM_INVALID_POINTER if ptr is not a live block, ERR_OUT_OF_RANGE if
   * length is beyond its end.
   */
  view(ptr, length) {
    Rmem.#check(this);
    checkPtr(ptr);
    const max = this.#n.extent(ptr);
    if (max === 0) throw rmemError('ERR_RMEM_INVALID_POINTER', `rmem: ${ptr} is not a live block of this instance`);
    if (length === undefined) length = max;
    checkLength(length);
    if (length > max) throw outOfRange('length', `<= ${max} (the block's usable size)`, length);
    return new Uint8Array(this.#n.memory, ptr, length);
  }

  /**
   * createArena({ size, lifetime }) or createArena(size, lifetime): an arena
   * whose chunks are `size` bytes (default 64 KiB).
   */
  createArena(size = DEFAULT_CHUNK, lifetime = LIFETIME.TRANSIENT) {
    Rmem.#check(this);
    if (size !== null && typeof size === 'object') {
      lifetime = size.lifetime ?? LIFETIME.TRANSIENT;
      size = size.size ?? size.chunkSize ?? DEFAULT_CHUNK;
    }
    if (typeof size !== 'number') throw invalidArgType('size', 'of type number', size);
    const lt = toLifetime(lifetime);
    const n = this.#n;
    const h = n.arenaCreate(size, lt, lt === LIFETIME.INTERMEDIATE ? 0 : 8);
    const arenas = this.#arenas;
    const a = new Arena(ARENA_TOKEN, this, n, h, lt, n.scratch[0], n.scratch[1], (x) => arenas.delete(x));
    arenas.add(a);
    return a;
  }

  /** A slab cache of objects of objSize bytes. options: { align, strict } */
  createSlabCache(name, objSize, options = {}) {
    Rmem.#check(this);
    if (name !== undefined && name !== null && typeof name !== 'string') {
      throw invalidArgType('name', 'of type string', name);
    }
    if (typeof objSize !== 'number') throw invalidArgType('objSize', 'of type number', objSize);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const { align = 0, strict = false } = options;
    const h = this.#n.cacheCreate(name ?? undefined, objSize, align, strict ? C.SLAB_STRICT : 0);
    // The name as C stored it (at most 31 bytes of UTF-8, whole characters), so name === stats().name.
    const c = new SlabCache(TOKEN, this, this.#n, h, this.#n.cacheStats(h).name);
    return c;
  }

  /**
   * The live slab cache named name (made by this thread or, on a shared
   * instance, by any attached thread), or null if there is none.
   */
  slabCache(name) {
    Rmem.#check(this);
    if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
    const h = this.#n.cacheFind(name);
    return h === 0 ? null : new SlabCache(TOKEN, this, this.#n, h, this.#n.cacheStats(h).name);
  }

  stats() {
    const s = Rmem.#check(this).#n.stats();
    const [a, f] = this.#f.counts();
    s.heap.allocs += a;
    s.heap.frees += f;
    return s;
  }

  /** The number of problems the validators find (0 = healthy). */
  validate() { return Rmem.#check(this).#n.validate().problems; }

  /**
   * Every page run of the instance in address order with its owner (see
   * lib/layout.js): { pageSize, capacity, runs }. options.segments (default
   * true): list each MeMS main node's sub-chain.
   */
  layout(options = {}) {
    Rmem.#check(this);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const { segments = true } = options;
    const leased = new Map();
    for (const a of this.#arenas) {
      const [h, left] = Arena.lease(a);
      if (left > 0) leased.set(h, left);
    }
    return layoutCodec.decode(this.#n.layout(!!segments), this.#n.capacity, C.PAGE_SIZE, leased);
  }

  /** The whole instance's report: its runs, the page source, every allocator (MeMS in the seed's format). */
  formatStats() { return Rmem.#check(this).#n.report(0); }
  /** Prints formatStats() on stdout. */
  printStats() { process.stdout.write(this.formatStats()); }

  /** Throws ERR_RMEM_CORRUPTED naming the first problem if the validators find any. */
  check() {
    const v = Rmem.#check(this).#n.validate();
    if (v.problems) {
      throw rmemError('ERR_RMEM_CORRUPTED', `rmem: ${v.problems} problem(s): ${v.message}`);
    }
  }

  /**
   * Destroys the instance: every pointer and handle of it dies and later calls
   * throw ERR_RMEM_DESTROYED. Its pages go back to the OS at once: `memory`
   * and the views made of it stay valid objects over fresh zero pages (never
   * detached: a native job such as crypto.randomFill or zlib may still be
   * using one), and the range is unmapped when the buffer is collected.
   * On a shared instance, releases this thread's attachment only: its calls
   * throw ERR_RMEM_DESTROYED from now on and the other threads go on; the
   * last attachment released destroys the instance.
   */
  destroy() {
    Rmem.#check(this);
    if (!this.#destroyed) {
      for (const a of this.#arenas) Arena.end(a);
      this.#arenas.clear();
    }
    this.#n.destroy();
    this.#destroyed = true;
    this.#views = null;
  }

  [util.inspect.custom](depth, options, inspect) {
    if (this.#destroyed) return 'Rmem <destroyed>';
    return `Rmem ${inspect(this.stats(), { ...options, depth: options.depth == null ? 2 : options.depth })}`;
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Rmem.prototype[Symbol.dispose] = function dispose() { if (!this.destroyed) this.destroy(); };
  Arena.prototype[Symbol.dispose] = function dispose() { if (!this.destroyed) this.destroy(); };
  SlabCache.prototype[Symbol.dispose] = function dispose() { if (!this.destroyed) this.destroy(); };
}

module.exports = {
  nativeOf: (rm) => nativeOf(rm), // internal: the seed API, tests and benchmarks only
  frontOf: (rm) => frontOf(rm),
  Rmem,
  Arena,
  SlabCache,
  Heap,
  Mems,
  LIFETIME,
  constants: C,
};
