'use strict';
/*
 * work.js - the per-request work of the HTTP benchmark, once for each side, so
 * the /arena and /native routes of every server do exactly the same thing.
 *
 * A request takes SCRATCH_BLOCKS scratch records of SCRATCH_BYTES each (4 KiB
 * in all), writes every byte of them, reads every byte back into a checksum,
 * and drops them. /native takes them from V8 (Buffer.allocUnsafe, the idiom a
 * Node developer reaches for: no zero-fill, pooled below 4 KiB); /arena takes
 * them from an rmem transient arena that is reset when the request ends. The
 * seed compared an arena route that never touched its memory with a V8 route
 * that zero-filled 4 KiB; here both write and read the same 4,096 bytes with
 * the same loop over a Uint8Array.
 */
const SCRATCH_BLOCKS = 16;
const SCRATCH_BYTES = 256;

/** Writes the block [off, off+len) of u8 with a pattern from seed, reads it back, returns the sum. */
function touch(u8, off, len, seed) {
  const end = off + len;
  let v = seed & 255;
  for (let i = off; i < end; i++) {
    u8[i] = v;
    v = (v + 7) & 255;
  }
  let sum = 0;
  for (let i = off; i < end; i++) sum += u8[i];
  return sum;
}

/** /native: scratch from V8 (blocks × bytes; the HTTP routes use the defaults). */
function nativeWork(seed, blocks = SCRATCH_BLOCKS, bytes = SCRATCH_BYTES) {
  let sum = 0;
  for (let b = 0; b < blocks; b++) {
    const buf = Buffer.allocUnsafe(bytes);
    sum += touch(buf, 0, bytes, seed + b);
  }
  return sum;
}

/**
 * /arena: scratch from one rmem transient arena, reset after each request.
 * `arena` is { alloc(size) -> offset, reset() , u8() -> Uint8Array over the
 * instance's memory } (see bench/js/rmem-api.js).
 */
function makeArenaWork(arena) {
  return function arenaWork(seed, blocks = SCRATCH_BLOCKS, bytes = SCRATCH_BYTES) {
    const u8 = arena.u8();
    let sum = 0;
    for (let b = 0; b < blocks; b++) {
      const p = arena.alloc(bytes);
      sum += touch(u8, p, bytes, seed + b);
    }
    arena.reset();
    return sum;
  };
}

module.exports = { SCRATCH_BLOCKS, SCRATCH_BYTES, touch, nativeWork, makeArenaWork };
