'use strict';
/*
 * session-stores.js - the two session stores of benchmark c (a large live
 * session store), behind one interface so the server does the same work on
 * either:
 *   insert(id, userId, now, token)   token: 32 bytes in a Uint8Array
 *   read(id) -> checksum             reads every field and every token byte
 *   remove(id) -> boolean
 *   size
 *
 * MapStore is what a Node developer writes first: a Map from the session id
 * to a plain object whose token is a 32-character string.
 *
 * RmemStore keeps every session as one fixed-size 64-byte record in an rmem
 * slab cache and finds it through an open-addressing hash table of record
 * offsets, itself one block of the rmem heap. The table stores no keys: the
 * key is the id field of the record it points at (4 bytes a slot, not 8).
 * Nothing per session lives on the V8 heap, so a full GC has nothing to walk;
 * that is the point of the benchmark, and why the index is not a JS Map.
 *
 * Record layout (little-endian, 8-byte aligned):
 *   0  f64 id        8  f64 createdAt   16  f64 lastSeen
 *   24 u32 userId    28 u32 hits        32  token[32]
 *
 * Index invariants (linear probing with backward-shift deletion, no tombstones):
 *   - capacity is a power of two and at least twice the number of sessions;
 *   - slots[i] == 0 means empty (offset 0 is rmem's null); otherwise slots[i]
 *     is the byte offset of a live record, whose id field is the key;
 *   - every key sits in the probe run that starts at its home slot with no
 *     empty slot between home and it (backward shift keeps this on delete).
 */
const RECORD = 64;
const TOKEN = 32;

class MapStore {
  constructor() {
    this.map = new Map();
  }

  get size() {
    return this.map.size;
  }

  insert(id, userId, now, token) {
    // latin1 turns each byte into one character: the same 32 bytes, as a V8 string.
    const s = Buffer.from(token.buffer, token.byteOffset, TOKEN).toString('latin1');
    this.map.set(id, { id, createdAt: now, lastSeen: now, userId, hits: 0, token: s });
  }

  read(id) {
    const s = this.map.get(id);
    if (s === undefined) return -1;
    s.lastSeen = s.lastSeen + 1;
    s.hits++;
    let sum = s.id + s.createdAt + s.lastSeen + s.userId + s.hits;
    const t = s.token;
    for (let i = 0; i < t.length; i++) sum += t.charCodeAt(i);
    return sum;
  }

  remove(id) {
    return this.map.delete(id);
  }

  stats() {
    return { sessions: this.map.size };
  }
}

class RmemStore {
  /**
   * rmem: the Rmem instance; slab: a SlabCache of RECORD-byte objects; heap:
   * { alloc(size) } for the index block; expected: the number of sessions the
   * store will hold.
   */
  constructor(rmem, slab, heap, expected) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.rmem = rmem;
    this.slab = slab;
    this.cap = cap;
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.count = 0;
    // the index is one heap block of cap record offsets (0 = empty slot)
    this.indexPtr = heap.alloc(cap * 4);
    this.bind();
    this.slots.fill(0);
  }

  /** Binds the typed views; memory is one ArrayBuffer for the instance's life. */
  bind() {
    const mem = this.rmem.memory;
    this.u8 = new Uint8Array(mem);
    this.f64 = new Float64Array(mem);
    this.u32 = new Uint32Array(mem);
    this.slots = new Uint32Array(mem, this.indexPtr, this.cap);
  }

  get size() {
    return this.count;
  }

  home(id) {
    return Math.imul(id + 1, 0x9e3779b1) >>> this.shift;
  }

  /** The slot holding session id, or -1. The key is the record's own id field. */
  find(id) {
    const slots = this.slots;
    const f64 = this.f64;
    let i = this.home(id);
    for (;;) {
      const p = slots[i];
      if (p === 0) return -1;
      if (f64[p >>> 3] === id) return i;
      i = (i + 1) & this.mask;
    }
  }

  insert(id, userId, now, token) {
    const p = this.slab.alloc();
    const f = p >>> 3;
    const w = p >>> 2;
    this.f64[f] = id;
    this.f64[f + 1] = now;
    this.f64[f + 2] = now;
    this.u32[w + 6] = userId;
    this.u32[w + 7] = 0;
    // a plain loop: TypedArray#set costs more than 32 stores at this size
    const u8 = this.u8;
    for (let j = 0; j < TOKEN; j++) u8[p + 32 + j] = token[j];
    const slots = this.slots;
    let i = this.home(id);
    while (slots[i] !== 0) i = (i + 1) & this.mask;
    slots[i] = p;
    this.count++;
  }

  read(id) {
    const i = this.find(id);
    if (i < 0) return -1;
    const p = this.slots[i];
    const f = p >>> 3;
    const w = p >>> 2;
    const f64 = this.f64;
    const u32 = this.u32;
    f64[f + 2] = f64[f + 2] + 1;
    u32[w + 7] = u32[w + 7] + 1;
    let sum = f64[f] + f64[f + 1] + f64[f + 2] + u32[w + 6] + u32[w + 7];
    const u8 = this.u8;
    for (let j = p + 32, end = p + RECORD; j < end; j++) sum += u8[j];
    return sum;
  }

  remove(id) {
    let i = this.find(id);
    if (i < 0) return false;
    this.slab.free(this.slots[i]);
    const slots = this.slots;
    const f64 = this.f64;
    const mask = this.mask;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const p = slots[j];
      if (p === 0) break;
      const h = this.home(f64[p >>> 3]);
      // move it into the hole i unless its home lies cyclically in (i, j]
      const between = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!between) {
        slots[i] = p;
        i = j;
      }
    }
    slots[i] = 0;
    this.count--;
    return true;
  }

  stats() {
    return { sessions: this.count, indexSlots: this.cap, indexBytes: this.cap * 4 };
  }
}

module.exports = { RECORD, TOKEN, MapStore, RmemStore };
