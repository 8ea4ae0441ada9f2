'use strict';
// arena.js - the Arena class: one arena of an instance, with the JS lease.
//
// Arena fast path (the lease)
//   A bump arena (transient, persistent) leases the rest of its current chunk
//   to JS (rmem_arena_lease): [#ptr, #end) are plain numbers in the Arena
//   object and alloc() bumps #ptr without a native call. C's own bump pointer
//   has moved past the lease, so C never hands out the same bytes. When the
//   lease is exhausted alloc() calls C once for a new lease. reset(),
//   destroy() and scope() end the lease (#ptr = #end = 0) before C acts.
//   Invariant: #ptr <= #end, and [#ptr, #end) lies inside a chunk C gave this
//   arena since its last reset, or #ptr == #end == 0. Who checks it: C owns
//   the chunk (rmem_validate checks the arena), and the lease is this
//   object's alone. Intermediate arenas never lease (their objects can be
//   freed one by one): every alloc is a native call.
const util = require('node:util');
const { LIFETIME, LIFETIME_NAMES, checkFunction } = require('./args');
const { invalidArgType } = require('./errors');

// A private token: Arena objects are made by Rmem#createArena, not by `new`.
const TOKEN = Symbol('rmem.arena');

/** A size as the seed pads it: a number >= 1 (fractions truncated), or a throw with a code. */
function sizeArg(size) {
  if (typeof size !== 'number') throw invalidArgType('size', 'of type number', size);
  return size;
}

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
  #unlink; // tells the owner this arena is gone

  constructor(token, owner, n, h, lifetime, ptr, len, unlink) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use rmem.createArena() or Rmem#createArena()');
    this.#owner = owner;
    this.#n = n;
    this.#h = h;
    this.#lifetime = lifetime;
    this.#unlink = unlink;
    if (len > 0) {
      this.#ptr = ptr;
      this.#end = ptr + len;
      this.#leases = 1;
    }
  }

  static isArena(x) {
    return typeof x === 'object' && x !== null && #h in x;
  }

  /** Throws ERR_INVALID_ARG_TYPE unless x is an Arena; returns it. */
  static check(x, name = 'this') {
    if (!Arena.isArena(x)) throw invalidArgType(name, 'an Arena (from createArena)', x);
    return x;
  }

  get lifetime() { return Arena.check(this).#lifetime; }
  /** The number layout() names this arena by (its index and generation in C). */
  get handle() { return Arena.check(this).#h; }
  get destroyed() { return Arena.check(this).#dead; }
  get instance() { return Arena.check(this).#owner; }

  /** Allocates size bytes (8-byte aligned); returns the byte offset in memory. */
  alloc(size) {
    if (!(#ptr in this)) Arena.check(this);
    const p = this.#ptr;
    if (typeof size === 'number' && size >= 1 && size < 0x7ffffff0) {
      const n = ((size | 0) + 7) & ~7; // fractions truncated, then the seed's 8-byte padding
      if (n <= this.#end - p) {
        this.#ptr = p + n;
        this.#jsAllocs++;
        return p;
      }
    }
    return this.#allocSlow(sizeArg(size));
  }

  #allocSlow(size) {
    const n = this.#n;
    if (this.#lifetime === LIFETIME.INTERMEDIATE || this.#dead || !(size < 0x7ffffff0)) {
      return n.arenaAlloc(this.#h, size, false); // C checks the handle and the size and throws
    }
    if (!(size >= 1)) return n.arenaAlloc(this.#h, size, false); // C throws ERR_OUT_OF_RANGE
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
    Arena.check(this);
    return this.#n.arenaAlloc(this.#h, sizeArg(size), false);
  }

  /** Returns one object of an intermediate arena; size is the size it was allocated with. */
  free(ptr, size) {
    Arena.check(this);
    this.#n.arenaFree(this.#h, ptr, sizeArg(size));
  }

  /** Rewinds to empty (keeps the first chunk). Ends the JS lease first. */
  reset() {
    Arena.check(this);
    this.#ptr = this.#end = 0;
    this.#n.arenaReset(this.#h);
    this.#jsAllocs = 0;
    this.#leases = 0;
  }

  /** Gives every chunk back; the arena is dead afterwards (calls throw ERR_RMEM_DESTROYED). */
  destroy() {
    Arena.check(this);
    this.#ptr = this.#end = 0;
    this.#n.arenaDestroy(this.#h);
    this.#dead = true;
    this.#unlink(this);
  }

  /** @internal [handle, bytes of the JS lease not yet bumped] (layout() counts only what was handed out). */
  static lease(a) {
    return [a.#h, a.#end - a.#ptr];
  }

  /** The arena's report (its chunks or slabs in address order, then its figures), as text. */
  formatStats() {
    Arena.check(this);
    const text = this.#n.report(2, this.#h);
    const left = this.#end - this.#ptr; // C counts the JS lease as used: say how much of it is not handed out yet
    return left > 0 ? `${text}Leased to JS, not yet handed out: ${left}\n` : text;
  }

  /** Prints formatStats() on stdout. */
  printStats() {
    process.stdout.write(this.formatStats());
  }

  /** @internal the instance is being destroyed: end the lease (C refuses the handle from now on). */
  static end(a) {
    a.#ptr = a.#end = 0;
    a.#dead = true;
  }

  /**
   * Runs fn(arena) and resets the arena afterwards, also when fn throws or
   * when the promise fn returns settles. Returns what fn returns.
   */
  scope(fn) {
    Arena.check(this);
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
    Arena.check(this);
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

module.exports = { Arena, TOKEN };
