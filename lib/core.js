'use strict';
// core.js - the JavaScript classes over the native bridge (node/binding.c).
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
//   - JS checks argument types and ranges only where it takes a fast path of
//     its own; everything else goes to C, which checks again.
//   - Class instances are branded with private fields: a plain object passed
//     where an Arena or SlabCache is expected throws ERR_INVALID_ARG_TYPE.
//
// Arena fast path (the lease)
//   A bump arena (transient, persistent) leases the rest of its current chunk
//   to JS (rmem_arena_lease): [#ptr, #end) are plain numbers in the Arena
//   object and alloc() bumps #ptr without a native call. C's own bump pointer
//   has moved past the lease, so C never hands out the same bytes. When the
//   lease is exhausted alloc() calls C once for a new lease. reset(),
//   destroy() and scope() end the lease (#ptr = #end = 0) before C acts.
//   Invariant: #ptr <= #end, and [#ptr, #end) lies inside a chunk C gave this
//   arena since its last reset, or #ptr == #end == 0. Intermediate arenas
//   never lease (their objects can be freed one by one): every alloc is a
//   native call.
const util = require('node:util');
const native = require('./native');
const { rmemError, invalidArgType, outOfRange } = require('./errors');

const LIFETIME = Object.freeze({ TRANSIENT: 0, INTERMEDIATE: 1, PERSISTENT: 2 });
const LIFETIME_NAMES = ['transient', 'intermediate', 'persistent'];
const C = native.constants;
const DEFAULT_CHUNK = 64 * 1024;

// A private token: the classes below are made by their factories, not by `new`.
const TOKEN = Symbol('rmem.internal');
// Set by Rmem's static block.
let nativeOf;
let frontOf;
let setArenaHead;

function checkFunction(fn, name) {
  if (typeof fn !== 'function') throw invalidArgType(name, 'of type function', fn);
}

function toLifetime(v, name = 'lifetime') {
  if (typeof v === 'string') {
    const i = LIFETIME_NAMES.indexOf(v.toLowerCase());
    if (i >= 0) return i;
    throw outOfRange(name, `one of ${LIFETIME_NAMES.join(', ')} or 0, 1, 2`, v);
  }
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (v !== 0 && v !== 1 && v !== 2) throw outOfRange(name, '0, 1 or 2 (LIFETIME.*)', v);
  return v;
}

function checkLength(length, name = 'length') {
  if (typeof length !== 'number') throw invalidArgType(name, 'of type number', length);
  if (!(length >= 0 && length <= 0xffffffff) || Math.trunc(length) !== length) {
    throw outOfRange(name, 'an integer >= 0 && <= 4294967295', length);
  }
}

function checkPtr(ptr, name = 'ptr') {
  if (typeof ptr !== 'number') throw invalidArgType(name, 'of type number', ptr);
  if (!(ptr >= 0 && ptr <= 0xffffffff) || Math.trunc(ptr) !== ptr) {
    throw outOfRange(name, 'an integer >= 0 && <= 4294967295', ptr);
  }
}

// ---------------------------------------------------------------------------
// Arena
// ---------------------------------------------------------------------------

class Arena {
  #n; // the native functions of the owning instance
  #h; // handle (index + generation), validated by C on every native call
  #lifetime;
  #ptr = 0; // JS-side lease: next free byte
  #end = 0; // end of the lease
  #jsAllocs = 0; // allocations served from leases (C counts each lease as one)
  #leases = 0;
  #dead = false;
  #owner;
  // Links of the owner's list of live arenas (intrusive: O(1), no hashing), so
  // that destroying the instance can end every lease.
  #prev = null;
  #next = null;

  constructor(token, owner, n, h, lifetime, ptr, len) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use rmem.createArena() or Rmem#createArena()');
    this.#owner = owner;
    this.#n = n;
    this.#h = h;
    this.#lifetime = lifetime;
    if (len > 0) {
      this.#ptr = ptr;
      this.#end = ptr + len;
      this.#leases = 1;
    }
  }

  static isArena(x) {
    return typeof x === 'object' && x !== null && #h in x;
  }

  get lifetime() { return this.#lifetime; }
  get destroyed() { return this.#dead; }
  get instance() { return this.#owner; }

  /** Allocates size bytes (8-byte aligned); returns the byte offset in memory. */
  alloc(size) {
    const p = this.#ptr;
    if (typeof size === 'number' && size >= 1 && size < 0x7ffffff0) {
      const n = ((size | 0) + 7) & ~7; // fractions truncated, then the seed's 8-byte padding
      if (n <= this.#end - p) {
        this.#ptr = p + n;
        this.#jsAllocs++;
        return p;
      }
    }
    return this.#allocSlow(size);
  }

  #allocSlow(size) {
    const n = this.#n;
    if (this.#lifetime === LIFETIME.INTERMEDIATE || this.#dead || !(size < 0x7ffffff0)) {
      return n.arenaAlloc(this.#h, size, false); // C checks the handle and the size and throws
    }
    const used = ((size | 0) + 7) & ~7;
    if (used > 4096 && this.#end - this.#ptr >= 256) {
      // A big block while the lease still has room: C serves it from its own
      // bump pointer (past the lease), and the lease stays for the small ones.
      this.#jsAllocs++;
      this.#leases++; // counted by C as one of its allocations, like a lease
      return n.arenaAlloc(this.#h, size, false);
    }
    // Lease the rest of the current chunk (at least size bytes) and bump size past its start.
    const p = n.arenaAlloc(this.#h, size, true);
    const len = n.scratch[1];
    this.#ptr = p + used;
    this.#end = p + len;
    this.#leases++;
    this.#jsAllocs++;
    return p;
  }

  /** One native call per allocation (no lease): what the lease saves, for benchmarks. */
  allocNative(size) {
    return this.#n.arenaAlloc(this.#h, size, false);
  }

  /** Returns one object of an intermediate arena; size is the size it was allocated with. */
  free(ptr, size) {
    this.#n.arenaFree(this.#h, ptr, size);
  }

  /** Rewinds to empty (keeps the first chunk). Ends the JS lease first. */
  reset() {
    this.#ptr = this.#end = 0;
    this.#n.arenaReset(this.#h);
    this.#jsAllocs = 0;
    this.#leases = 0;
  }

  /** Gives every chunk back; the arena is dead afterwards (calls throw ERR_RMEM_DESTROYED). */
  destroy() {
    this.#ptr = this.#end = 0;
    this.#n.arenaDestroy(this.#h);
    this.#dead = true;
    const prev = this.#prev;
    const next = this.#next;
    if (next !== null) next.#prev = prev;
    if (prev !== null) prev.#next = next;
    else setArenaHead(this.#owner, next);
    this.#prev = this.#next = null;
  }

  /** @internal links a new arena in front of the owner's list (head: the old first). */
  static link(a, head) {
    a.#next = head;
    if (head !== null) head.#prev = a;
  }

  /** @internal the instance is being destroyed: end every lease of the list (C refuses the handles from now on). */
  static endLeases(head) {
    for (let a = head; a !== null;) {
      const next = a.#next;
      a.#ptr = a.#end = 0;
      a.#dead = true;
      a.#prev = a.#next = null;
      a = next;
    }
  }

  /**
   * Runs fn(arena) and resets the arena afterwards, also when fn throws or
   * when the promise fn returns settles. Returns what fn returns.
   */
  scope(fn) {
    checkFunction(fn, 'fn');
    let r;
    try {
      r = fn(this);
    } catch (e) {
      this.#resetQuietly();
      throw e;
    }
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      return Promise.resolve(r).finally(() => this.#resetAfterScope());
    }
    this.#resetAfterScope();
    return r;
  }

  #resetAfterScope() {
    if (!this.#dead) this.reset();
  }

  #resetQuietly() {
    if (this.#dead) return;
    try {
      this.reset();
    } catch {
      // the error of fn is the one to report
    }
  }

  stats() {
    const s = this.#n.arenaStats(this.#h);
    // Bytes still unbumped in the lease are not used; leased allocations count one by one.
    s.used -= this.#end - this.#ptr;
    s.allocs = s.allocs - this.#leases + this.#jsAllocs;
    s.leased = this.#end - this.#ptr;
    return s;
  }

  [util.inspect.custom](depth, options, inspect) {
    if (this.#dead) return 'Arena <destroyed>';
    let s;
    try {
      s = this.stats();
    } catch (e) {
      return `Arena <${e.code || e.message}>`;
    }
    return `Arena ${inspect({ ...s, lifetime: LIFETIME_NAMES[this.#lifetime] }, options)}`;
  }
}

// ---------------------------------------------------------------------------
// SlabCache
// ---------------------------------------------------------------------------

class SlabCache {
  #n;
  #h;
  #dead = false;
  #owner;
  #name;

  constructor(token, owner, n, h, name) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use Rmem#createSlabCache()');
    this.#owner = owner;
    this.#n = n;
    this.#h = h;
    this.#name = name;
  }

  static isSlabCache(x) {
    return typeof x === 'object' && x !== null && #h in x;
  }

  get name() { return this.#name; }
  get destroyed() { return this.#dead; }
  get instance() { return this.#owner; }

  /** One object; returns its byte offset. */
  alloc() { return this.#n.cacheAlloc(this.#h); }
  free(ptr) { this.#n.cacheFree(this.#h, ptr); }
  /** Gives empty slabs back to the page source. */
  shrink() { this.#n.cacheShrink(this.#h); }
  destroy() {
    this.#n.cacheDestroy(this.#h);
    this.#dead = true;
  }
  stats() { return this.#n.cacheStats(this.#h); }

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
// The heap front: rAlloc/rFree for small sizes without a native call.
//
// A Node-API call costs 7-17 ns here, so alloc + free as two native calls
// cannot beat V8's Buffer.allocUnsafe by 1.5x. The front keeps, per bin of
// 8-byte-padded sizes up to FRONT_MAX, a stack of blocks that C allocated in
// a batch (allocBatch) and takes back in a batch (freeBatch). C owns every
// one of them: each is a live heap block in C for as long as the front holds
// it, and C's validator checks that (tags_validate in binding.c).
//
// The tag map (n.tags: one byte per 8-byte granule, out of band: it is not
// part of `memory`, so no write into memory can touch it) says what the front
// holds: 0 = nothing (the pointer goes to C, which validates it), b = handed
// out from bin b, 0x80 | b = cached in bin b (free for the user). So rFree of a
// front block is checked exactly, at once: a double free, an interior or
// misaligned pointer, a fraction, all throw the same codes C would.
// Invariants: tags[p >>> 3] == 0x80 | b  iff  p is in stacks[b][0 .. counts[b]);
// tags[p >>> 3] == b  iff  the user holds p, allocated from bin b.
// ---------------------------------------------------------------------------

const FRONT_MAX = 512; // largest size served by the front (64 bins of 8 bytes)
const FRONT_BINS = FRONT_MAX >>> 3;
const FRONT_BIN_BYTES = 64 * 1024; // at most this many bytes cached per bin

function makeHeapFront(n) {
  const tags = n.tags;
  const scratch = n.scratch;
  const stacks = new Array(FRONT_BINS + 1).fill(null);
  const counts = new Int32Array(FRONT_BINS + 1);
  const caps = new Int32Array(FRONT_BINS + 1);
  for (let b = 1; b <= FRONT_BINS; b++) caps[b] = Math.max(16, Math.min(1024, (FRONT_BIN_BYTES / (b * 8)) | 0));
  let dead = false;

  function refill(b, size) {
    if (dead) return n.alloc(size); // throws ERR_RMEM_DESTROYED
    let st = stacks[b];
    if (st === null) st = stacks[b] = new Uint32Array(caps[b]);
    const k = retryAfterFlush(() => n.allocBatch(b * 8, caps[b] >>> 1));
    for (let i = 0; i < k; i++) {
      const p = scratch[i];
      st[i] = p;
      tags[p >>> 3] = 0x80 | b;
    }
    // hand out the last one
    const p = st[k - 1];
    counts[b] = k - 1;
    tags[p >>> 3] = b;
    return p;
  }

  // Gives the older half of bin b back to C.
  function spill(b) {
    const st = stacks[b];
    const c = counts[b];
    const k = c >>> 1;
    for (let i = 0; i < k; i++) {
      const p = st[i];
      scratch[i] = p;
      tags[p >>> 3] = 0;
    }
    st.copyWithin(0, k, c);
    counts[b] = c - k;
    n.freeBatch(k);
  }

  function alloc(size) {
    if (typeof size === 'number' && size >= 1 && size <= FRONT_MAX) {
      const b = ((size | 0) + 7) >>> 3;
      const c = counts[b] - 1;
      if (c >= 0) {
        const p = stacks[b][c];
        counts[b] = c;
        tags[p >>> 3] = b;
        return p;
      }
      return refill(b, size);
    }
    try {
      return n.alloc(size); // C checks the argument
    } catch (e) {
      if (e.code !== 'ERR_RMEM_OUT_OF_MEMORY' || cached() === 0) throw e;
      flush(); // out of memory while blocks are cached here: give them back, try once more
      return n.alloc(size);
    }
  }

  // Out of memory while the front caches blocks of other sizes: give them back and try once more.
  function retryAfterFlush(fn) {
    try {
      return fn();
    } catch (e) {
      if (e.code !== 'ERR_RMEM_OUT_OF_MEMORY' || cached() === 0) throw e;
      flush();
      return fn();
    }
  }

  function free(ptr) {
    // An integer, 8-aligned offset inside the range that the front handed out?
    if (typeof ptr === 'number' && ptr === ptr >>> 0 && (ptr & 7) === 0) {
      const g = ptr >>> 3;
      const t = tags[g];
      if (t !== 0 && t !== undefined) {
        if (t >= 0x80) throw rmemError('ERR_RMEM_DOUBLE_FREE', `rmem: double free of ${ptr}`);
        let c = counts[t];
        if (c === caps[t]) {
          spill(t);
          c = counts[t];
        }
        stacks[t][c] = ptr;
        counts[t] = c + 1;
        tags[g] = 0x80 | t;
        return;
      }
    }
    n.free(ptr); // not the front's: C validates it
  }

  // The state of ptr in the front: 0 not held, > 0 handed out from that bin, < 0 cached (free).
  function state(ptr) {
    if (typeof ptr === 'number' && ptr === ptr >>> 0 && (ptr & 7) === 0) {
      const t = tags[ptr >>> 3];
      if (t !== 0 && t !== undefined) return t >= 0x80 ? -1 : t;
    }
    return 0;
  }

  // Before a native call on a pointer (realloc, usableSize, view): a cached
  // block is free for the user; a handed-out block is a plain live C block.
  function checkLive(ptr) {
    const s = state(ptr);
    if (s < 0) throw rmemError('ERR_RMEM_INVALID_POINTER', `rmem: ${ptr} is not a live block (it was freed)`);
    return s;
  }

  function realloc(ptr, size) {
    if (checkLive(ptr) > 0) {
      // The block leaves the front and becomes a plain C block, which C reallocates.
      tags[ptr >>> 3] = 0;
    }
    return n.realloc(ptr, size);
  }

  // Returns every cached block to C (before defrag and stats, so C sees the truth).
  function flush() {
    if (dead) return;
    for (let b = 1; b <= FRONT_BINS; b++) {
      const st = stacks[b];
      let c = counts[b];
      while (c > 0) {
        const k = Math.min(c, scratch.length);
        for (let i = 0; i < k; i++) {
          const p = st[c - 1 - i];
          scratch[i] = p;
          tags[p >>> 3] = 0;
        }
        c -= k;
        counts[b] = c;
        n.freeBatch(k);
      }
    }
  }

  function cached() {
    let total = 0;
    for (let b = 1; b <= FRONT_BINS; b++) total += counts[b];
    return total;
  }

  function kill() {
    dead = true;
    counts.fill(0);
    tags.fill(0);
  }

  return { alloc, free, realloc, checkLive, flush, cached, kill };
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
  alloc(size) { return this.#f.alloc(size); }
  free(ptr) { this.#f.free(ptr); }
  calloc(count, size) { return this.#n.calloc(count, size); }
  realloc(ptr, size) { return this.#f.realloc(ptr, size); }
  alignedAlloc(alignment, size) { return this.#n.alignedAlloc(alignment, size); }
  usableSize(ptr) {
    this.#f.checkLive(ptr);
    return this.#n.usableSize(ptr);
  }
  defrag() {
    this.#f.flush();
    return this.#n.defrag();
  }
  stats() {
    this.#f.flush();
    return this.#n.stats().heap;
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

function toVaddr(v, name = 'vaddr') {
  if (typeof v === 'bigint') {
    if (v < 0n || v > 0xffffffffn) throw outOfRange(name, '>= 0n && <= 4294967295n', `${v}n`);
    return Number(v);
  }
  if (typeof v === 'number') {
    checkPtr(v, name);
    return v;
  }
  throw invalidArgType(name, 'of type bigint or number', v);
}

class Mems {
  #n;
  #owner;
  constructor(token, owner, n) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use rm.mems');
    this.#owner = owner;
    this.#n = n;
  }
  init() { this.#n.memsInit(); }
  /** size bytes, exactly; returns the virtual address as a BigInt. */
  malloc(size) { return BigInt(this.#n.memsMalloc(size)); }
  free(vaddr) { this.#n.memsFree(toVaddr(vaddr)); }
  /** The byte offset in memory of the byte at vaddr (a BigInt, as the seed returns addresses). */
  get(vaddr) { return BigInt(this.#n.memsGet(toVaddr(vaddr))); }
  /** Uint8Array over [vaddr, vaddr + length) (default: to the end of its segment). */
  view(vaddr, length) {
    const v = toVaddr(vaddr);
    const off = this.#n.memsExtent(v);
    const max = this.#n.scratch[1];
    if (length === undefined) length = max;
    checkLength(length);
    if (length > max) throw outOfRange('length', `<= ${max} (the rest of the segment)`, length);
    return new Uint8Array(this.#owner.memory, off, length);
  }
  printStats() { this.#n.memsPrintStats(); }
  stats() { return this.#n.memsStats(); }
  validate() { return this.#n.memsValidate(); }
  finish() { this.#n.memsFinish(); }
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
  #arenas = null; // first live arena (a list through the arenas), so destroy() can end their JS leases
  #views = null;
  #heap;
  #mems = null;
  #destroyed = false;

  /**
   * options.capacity: bytes of address space (default 64 MiB, 1 MiB .. 4 GiB);
   * options.junk: fill freed/new blocks with patterns; options.validate: run the
   * validator after every operation (slow; tests).
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const { capacity, junk = false, validate = false } = options;
    if (capacity !== undefined && typeof capacity !== 'number') {
      throw invalidArgType('options.capacity', 'of type number', capacity);
    }
    const flags = (junk ? C.OPT_JUNK : 0) | (validate ? C.OPT_VALIDATE : 0);
    // The addon builds the object property by property, which leaves it in
    // V8's dictionary mode (a hash lookup per call); a spread copy is a
    // fast-mode object, so every n.alloc / n.arenaCreate is a plain load.
    this.#n = { ...native.createInstance(capacity, flags) };
    this.#f = makeHeapFront(this.#n);
    this.#heap = new Heap(TOKEN, this.#n, this.#f);
  }

  // Module-private accessors (not reachable from the package's exports): the
  // native functions, the heap front, and the arena registry.
  static {
    nativeOf = (rm) => rm.#n;
    frontOf = (rm) => rm.#f;
    setArenaHead = (rm, head) => {
      rm.#arenas = head;
    };
  }

  get memory() { return this.#n.memory; }
  get capacity() { return this.#n.capacity; }
  get heap() { return this.#heap; }
  get destroyed() { return this.#destroyed; }
  get mems() {
    if (this.#mems === null) this.#mems = new Mems(TOKEN, this, this.#n);
    return this.#mems;
  }

  #view(name) {
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
  alloc(size) { return this.#f.alloc(size); }
  free(ptr) { this.#f.free(ptr); }
  calloc(count, size) { return this.#heap.calloc(count, size); }
  realloc(ptr, size) { return this.#f.realloc(ptr, size); }
  alignedAlloc(alignment, size) { return this.#heap.alignedAlloc(alignment, size); }
  usableSize(ptr) { return this.#heap.usableSize(ptr); }
  defrag() { return this.#heap.defrag(); }

  /**
   * A Uint8Array over the live block at ptr (of any allocator of this
   * instance), length bytes (default: all of it). Throws
   * ERR_RMEM_INVALID_POINTER if ptr is not a live block, ERR_OUT_OF_RANGE if
   * length is beyond its end.
   */
  view(ptr, length) {
    checkPtr(ptr);
    this.#f.checkLive(ptr);
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
    if (size !== null && typeof size === 'object') {
      lifetime = size.lifetime ?? LIFETIME.TRANSIENT;
      size = size.size ?? size.chunkSize ?? DEFAULT_CHUNK;
    }
    const lt = toLifetime(lifetime);
    const n = this.#n;
    const leaseMin = lt === LIFETIME.INTERMEDIATE ? 0 : 8;
    let h;
    try {
      h = n.arenaCreate(size, lt, leaseMin);
    } catch (e) {
      // out of memory while the heap front caches blocks: give them back, try once more
      if (e.code !== 'ERR_RMEM_OUT_OF_MEMORY' || this.#f.cached() === 0) throw e;
      this.#f.flush();
      h = n.arenaCreate(size, lt, leaseMin);
    }
    const a = new Arena(TOKEN, this, n, h, lt, n.scratch[0], n.scratch[1]);
    Arena.link(a, this.#arenas);
    this.#arenas = a;
    return a;
  }

  /** A slab cache of objects of objSize bytes. options: { align, strict } */
  createSlabCache(name, objSize, options = {}) {
    if (name !== undefined && name !== null && typeof name !== 'string') {
      throw invalidArgType('name', 'of type string', name);
    }
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const { align = 0, strict = false } = options;
    const h = this.#n.cacheCreate(name ?? undefined, objSize, align, strict ? C.SLAB_STRICT : 0);
    return new SlabCache(TOKEN, this, this.#n, h, name ?? '');
  }

  stats() {
    this.#f.flush();
    return this.#n.stats();
  }

  /** The number of problems the validators find (0 = healthy). */
  validate() { return this.#n.validate().problems; }

  /** Throws ERR_RMEM_CORRUPTED naming the first problem if the validators find any. */
  check() {
    const v = this.#n.validate();
    if (v.problems) {
      throw rmemError('ERR_RMEM_CORRUPTED', `rmem: ${v.problems} problem(s): ${v.message}`);
    }
  }

  /**
   * Unmaps the range. `memory` is detached first (views read as empty), every
   * pointer and handle of the instance dies; later calls throw ERR_RMEM_DESTROYED.
   */
  destroy() {
    if (!this.#destroyed) {
      this.#f.kill();
      Arena.endLeases(this.#arenas);
      this.#arenas = null;
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
  toLifetime,
  toVaddr,
  checkPtr,
  checkLength,
  constants: C,
};
