'use strict';
// front.js - the heap's and the slab caches' fast paths, run in JS on C's own
// front.
//
// A Node-API call costs more here than an allocation does, so rAlloc/rFree
// and SlabCache#alloc/free would be slower than V8 if each made one. C's heap
// keeps freed blocks on per-class stacks out of band and checks every free
// with the live bitmap and the page tags (src/front.h, rmem.h "For language
// bindings"); the addon shows those very arrays to JS as typed arrays over
// C's memory (binding.c: make_front, cacheFront), and the functions below run
// the same few steps rmem_alloc / rmem_free / rmem_slab_alloc / rmem_slab_free
// run on them. There is no second cache and no JS-side state but two counters:
//
//   The invariant JS keeps is C's own (F1-F4 in src/types.h): a block on a
//   stack is free and its live bit is clear; a block in the user's hands has
//   its live bit set. JS pops only from stacks, pushes only blocks whose live
//   bit is set in a page of the right tag, and flips the bit with the move.
//   Who checks it: rmem_validate (validate(), check()), which the tests run
//   after every step.
//
// Everything else -- an empty stack, a full one, any pointer whose live bit is
// clear or whose page belongs to another owner, every debugging option --
// goes to C, which refills, spills, and refuses exactly, with the codes the
// tests pin. After destroy() the typed arrays are detached (length 0): every
// read is undefined, every test below fails, and the call goes to C, which
// throws ERR_RMEM_DESTROYED.
//
// A shared instance ({ shared: true }): each thread's front is its own heap in
// the instance (C gives every thread one), so the steps are the same, with
// C's two extra tests of a thread heap (rmem_local_alloc / rmem_local_free):
// the heap's fast word must hold this thread's key (C clears it when the
// heap is released, taken over or quarantined, or a debugging option is on),
// and a block to free must be this heap's (its page tag minus
// the heap's tag base is one of its classes) with its remote bit clear (no
// other thread freed it first). Slab caches of a shared instance take a lock
// in C: their calls always go there.
//
// The free of another thread's block (a record a producer allocated and a
// consumer frees) runs here too, as rmem_free runs it (rmem.h, "For language
// bindings", steps 1-4; heap.c remote_free): remote bit clear, then live bit
// set (read in that order), then one Atomics.or of the remote bit -- which decides the free: an OR
// that finds the bit set is a double free, thrown at this call with nothing
// changed -- and the owner's summaries marked so that it finds the block when
// it drains. Invariant R1 (src/types.h) is the one kept; rmem_validate checks
// it. The owner's summaries are 64-bit words in C; an Atomics.or on the
// 32-bit half that holds the bit is the same single atomic step, and marking
// on a 32-bit half that was zero marks at least what C marks.

const { rmemError } = require('./errors');

/**
 * The heap's fast paths for one instance. n: the native functions of the
 * instance (n.front: the typed arrays). Returns { alloc, free, counts }.
 */
function makeHeapFront(n) {
  const f = n.front;
  if (!f.fast) {
    // debugging options (junk, validate): every call goes to C, which runs them
    return { alloc: (size) => n.alloc(size), free: (ptr) => { n.free(ptr); }, counts: () => [0, 0] };
  }
  const { live, tags, n: count, cap, tagOf, stacks } = f;
  const STRIDE = f.stride;
  const NCLASSES = f.nclasses;
  const TABLE_MAX = f.tableMax;
  let allocs = 0;
  let frees = 0;
  if (f.shared) return makeThreadFront(n, f);

  function alloc(size) {
    if (typeof size === 'number' && size >= 1 && size <= TABLE_MAX) {
      const t = tagOf[(size + 7) >>> 3];
      const c = count[t];
      if (c > 0) {
        const off = stacks[t * STRIDE + c - 1];
        count[t] = c - 1;
        live[off >>> 8] |= 1 << ((off >>> 3) & 31);
        allocs++;
        return off;
      }
    }
    return n.alloc(size); // refill, large sizes, every argument error
  }

  function free(ptr) {
    if (typeof ptr === 'number' && (ptr & 7) === 0 && ptr === ptr >>> 0) {
      const w = ptr >>> 8;
      const bit = 1 << ((ptr >>> 3) & 31);
      const m = live[w];
      if ((m & bit) !== 0) {
        const t = tags[ptr >>> 12];
        if (t - 1 >>> 0 < NCLASSES) {
          const c = count[t];
          if (c < cap[t]) {
            live[w] = m & ~bit;
            stacks[t * STRIDE + c] = ptr;
            count[t] = c + 1;
            frees++;
            return;
          }
        }
      }
    }
    n.free(ptr); // a spill, a page run, and every pointer C must refuse
  }

  return { alloc, free, counts: () => [allocs, frees] };
}

function doubleFree(ptr) {
  return rmemError('ERR_RMEM_DOUBLE_FREE', `double free of the block at offset ${ptr} (another free of it came first; its owner has not taken it back yet)`);
}

/** The same fast paths on this thread's heap of a shared instance (see the top of this file). */
function makeThreadFront(n, f) {
  const { live, tags, n: count, cap, tagOf, stacks, remote, fastWord } = f;
  const STRIDE = f.stride;
  const NCLASSES = f.nclasses;
  const TABLE_MAX = f.tableMax;
  const KEY = f.fastKey;
  const TAG_BASE = f.tagBase;
  const CLASS_BITS = f.classBits;
  const CLASS_MASK = (1 << CLASS_BITS) - 1;
  const TAG_CACHE = f.tagCache;
  const REMOTE_CLASSES = f.remoteClasses;
  // Other heaps' remote layouts (rmem_remote_layout), by heap id, asked for at the first free into each.
  // Every heap's summaries have the same shape, so s2, s3 and the orphan state are the first one's. The
  // arrays hold typed arrays from the start (an empty one until asked): one elements kind, no deopt.
  const NONE = new Uint32Array(0);
  const sums = new Array(256).fill(NONE);
  const pendings = new Array(256).fill(NONE);
  const states = new Array(256).fill(NONE);
  let S2 = 0;
  let S3 = 0;
  let ORPHAN = -1;
  let allocs = 0;
  let frees = 0;

  function learn(id) {
    const o = n.remoteLayout(id);
    S2 = o.s2;
    S3 = o.s3;
    ORPHAN = o.orphan;
    sums[id] = o.sum;
    pendings[id] = o.pending;
    states[id] = o.state;
  }

  /*
   * The free of block ptr of heap id, another thread's, whose remote bit free() read clear and then its
   * live bit set, in that order (steps 2-4 of rmem.h); throws ERR_RMEM_DOUBLE_FREE if another free of it
   * came first. w, bit: ptr's 32-bit word and bit in both bitmaps.
   */
  function remoteFree(ptr, w, bit, id) {
    if (sums[id].length === 0) learn(id);
    const old = Atomics.or(remote, w, bit); // the OR decides: another free of it came first
    if ((old & bit) !== 0) throw doubleFree(ptr);
    if (old === 0) {
      const sum = sums[id], wi = ptr >>> 9; // the 64-bit remote word: sum1 bit wi, sum2 bit wi >> 6, sum3 bit wi >> 12
      if (Atomics.or(sum, wi >>> 5, 1 << (wi & 31)) === 0) {
        const k1 = wi >>> 6;
        if (Atomics.or(sum, S2 + (k1 >>> 5), 1 << (k1 & 31)) === 0) {
          const k2 = k1 >>> 6;
          if (Atomics.or(sum, S3 + (k2 >>> 5), 1 << (k2 & 31)) === 0) Atomics.store(pendings[id], 0, 1);
        }
      }
    }
    if (states[id][0] === ORPHAN) n.remoteSettle(id); // 4. its thread ended: the freer takes the block back
  }

  function alloc(size) {
    if (typeof size === 'number' && size >= 1 && size <= TABLE_MAX && fastWord[0] === KEY) {
      const t = tagOf[(size + 7) >>> 3];
      const c = count[t];
      if (c > 0) {
        const off = stacks[t * STRIDE + c - 1];
        count[t] = c - 1;
        live[off >>> 8] |= 1 << ((off >>> 3) & 31); // this heap's words: only this thread writes them
        allocs++;
        return off;
      }
    }
    return n.alloc(size);
  }

  function free(ptr) {
    if (typeof ptr === 'number' && (ptr & 7) === 0 && ptr === ptr >>> 0 && fastWord[0] === KEY) {
      const w = ptr >>> 8;
      const bit = 1 << ((ptr >>> 3) & 31);
      const rm = remote[w]; // the remote bit before the live bit: the order another heap's take-back needs (R1)
      const m = live[w];
      if ((m & ~rm & bit) !== 0) {
        const tag = tags[ptr >>> 12];
        const t = tag - TAG_BASE;
        if (t - 1 >>> 0 < NCLASSES) {
          const c = count[t];
          if (c < cap[t]) {
            live[w] = m & ~bit;
            stacks[t * STRIDE + c] = ptr;
            count[t] = c + 1;
            frees++;
            return;
          }
        } else if (tag < TAG_CACHE && tag > CLASS_MASK && (tag & CLASS_MASK) - 1 >>> 0 < REMOTE_CLASSES) {
          remoteFree(ptr, w, bit, tag >>> CLASS_BITS); // another thread's block
          return;
        }
      }
    }
    n.free(ptr); // a spill, a larger block of another thread, and every refusal
  }

  return { alloc, free, counts: () => [allocs, frees] };
}

/**
 * A slab cache's fast paths: st is its stack ([n, cap, offsets...]) over
 * C's memory, tag its pages' tag. Returns { alloc, free, counts }.
 */
function makeCacheFront(n, h, st, tag, fast) {
  const f = n.front;
  if (!f.fast || !fast) {
    return { alloc: () => n.cacheAlloc(h), free: (ptr) => { n.cacheFree(h, ptr); }, counts: () => [0, 0] };
  }
  const { live, tags } = f;
  let frees = 0; // C reports allocs as frees + live objects (cache.c C2): JS counts its frees alone

  function alloc() {
    const c = st[0];
    if (c > 0) {
      const off = st[1 + c]; // the newest entry: st[2 + (c - 1)]
      st[0] = c - 1;
      live[off >>> 8] |= 1 << ((off >>> 3) & 31);
      return off;
    }
    return n.cacheAlloc(h);
  }

  function free(ptr) {
    if (typeof ptr === 'number' && (ptr & 7) === 0 && ptr === ptr >>> 0) {
      const w = ptr >>> 8;
      const bit = 1 << ((ptr >>> 3) & 31);
      const m = live[w];
      if ((m & bit) !== 0 && tags[ptr >>> 12] === tag) {
        const c = st[0];
        if (c < st[1]) {
          live[w] = m & ~bit;
          st[c + 2] = ptr;
          st[0] = c + 1;
          frees++;
          return;
        }
      }
    }
    n.cacheFree(h, ptr);
  }

  return { alloc, free, counts: () => [frees, frees] }; // each frees here adds one to C's allocs too (C2)
}

module.exports = { makeHeapFront, makeCacheFront };
