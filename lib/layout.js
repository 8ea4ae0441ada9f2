'use strict';
// layout.js - Rmem#layout(): every page run of an instance, in address order,
// with its owner, as plain JSON-serialisable objects.
//
// The bridge makes one native call (binding.c js_layout: rmem_layout_walk)
// that fills one Float64Array with FIELDS numbers per run; the objects are
// made here, in JS, where making them is cheap. The runs cover [0, capacity)
// exactly, each starting where the one before ended.
//
//   owner 'reserved'  page 0 and the last page, never handed out
//   owner 'free'      dirtyPages: pages that may still be resident;
//                     untouched: true for the pages above the high-water mark
//   owner 'heap'      kind 'slab' (classIndex, slotSize, slots, live, cached)
//                     or 'large' (size)
//   owner 'arena'     arena (its handle), lifetime; kind 'chunk' (used: bytes
//                     bumped in it, current), 'slab' or 'large'
//   owner 'slab'      a slab cache's slab: cache (its handle), name, objSize,
//                     slotSize, slots, live, cached
//   owner 'mems'      a MeMS main node: mainIndex, sva, eva, bytesInUse,
//                     holeBytes, segments: its sub-chain [{ sva, eva, offset,
//                     size, kind: 'process' | 'hole' }]
//
// live: slots in the user's hands; cached: slots freed onto the owner's front
// stack (free for the user, not yet back in the slab).

const FIELDS = 23;
const F = {
  KIND: 0, OFFSET: 1, PAGES: 2, BYTES: 3, DIRTY: 4, SLOT_SIZE: 5, SLOTS: 6, LIVE: 7, CACHED: 8, CLASS: 9, OWNER: 10,
  GEN: 11, LIFETIME: 12, USED: 13, CURRENT: 14, SIZE: 15, MAIN: 16, SVA: 17, EVA: 18, SEGMENTS: 19, HOLES: 20,
  SEGKIND: 21, OBJ_SIZE: 22,
};
const K = {
  RESERVED: 0, FREE: 1, UNTOUCHED: 2, HEAP_SLAB: 3, HEAP_LARGE: 4, ARENA_CHUNK: 5, ARENA_SLAB: 6, ARENA_LARGE: 7,
  CACHE_SLAB: 8, MEMS: 9, MEMS_SEGMENT: 10,
};
const LIFETIMES = ['transient', 'intermediate', 'persistent'];
const HANDLE = 65536; // binding.c: handle = generation * 2^16 + index

/**
 * Decodes the bridge's records. leased: Map(arena handle -> bytes of its JS
 * lease not yet bumped), so a chunk's `used` counts what was handed out.
 */
function decode(raw, capacity, pageSize, leased) {
  const d = raw.records;
  const names = raw.names;
  const runs = [];
  let mems = null;
  for (let i = 0; i < d.length; i += FIELDS) {
    const kind = d[i + F.KIND];
    if (kind === K.MEMS_SEGMENT) {
      const size = d[i + F.BYTES];
      mems.segments.push({
        sva: d[i + F.SVA], eva: d[i + F.EVA], offset: d[i + F.OFFSET], size,
        kind: d[i + F.SEGKIND] === 1 ? 'process' : 'hole',
      });
      continue;
    }
    const offset = d[i + F.OFFSET];
    const pages = d[i + F.PAGES];
    let run;
    switch (kind) {
      case K.RESERVED:
        run = { offset, pages, owner: 'reserved' };
        break;
      case K.FREE:
        run = { offset, pages, owner: 'free', dirtyPages: d[i + F.DIRTY], untouched: false };
        break;
      case K.UNTOUCHED:
        run = { offset, pages, owner: 'free', dirtyPages: 0, untouched: true };
        break;
      case K.HEAP_SLAB:
        run = { offset, pages, owner: 'heap', kind: 'slab', classIndex: d[i + F.CLASS], slotSize: d[i + F.SLOT_SIZE],
          slots: d[i + F.SLOTS], live: d[i + F.LIVE], cached: d[i + F.CACHED] };
        break;
      case K.HEAP_LARGE:
        run = { offset, pages, owner: 'heap', kind: 'large', size: d[i + F.SIZE] };
        break;
      case K.ARENA_CHUNK:
      case K.ARENA_SLAB:
      case K.ARENA_LARGE: {
        const arena = d[i + F.GEN] * HANDLE + d[i + F.OWNER];
        run = { offset, pages, owner: 'arena', arena, lifetime: LIFETIMES[d[i + F.LIFETIME]] };
        if (kind === K.ARENA_CHUNK) {
          const current = d[i + F.CURRENT] === 1;
          let used = d[i + F.USED];
          if (current && leased && leased.has(arena)) used -= leased.get(arena);
          Object.assign(run, { kind: 'chunk', used, current });
        } else if (kind === K.ARENA_SLAB) {
          Object.assign(run, { kind: 'slab', classIndex: d[i + F.CLASS], slotSize: d[i + F.SLOT_SIZE],
            slots: d[i + F.SLOTS], live: d[i + F.LIVE], cached: d[i + F.CACHED] });
        } else {
          Object.assign(run, { kind: 'large', size: d[i + F.SIZE] });
        }
        break;
      }
      case K.CACHE_SLAB: {
        const index = d[i + F.OWNER];
        run = { offset, pages, owner: 'slab', kind: 'slab', cache: d[i + F.GEN] * HANDLE + index,
          name: names[index] ?? '', objSize: d[i + F.OBJ_SIZE], slotSize: d[i + F.SLOT_SIZE], slots: d[i + F.SLOTS],
          live: d[i + F.LIVE], cached: d[i + F.CACHED] };
        break;
      }
      case K.MEMS: {
        const bytesInUse = d[i + F.USED];
        run = { offset, pages, owner: 'mems', mainIndex: d[i + F.MAIN], sva: d[i + F.SVA], eva: d[i + F.EVA],
          bytesInUse, holeBytes: pages * pageSize - bytesInUse, segments: [] };
        mems = run;
        break;
      }
      default:
        run = { offset, pages, owner: 'reserved' };
    }
    runs.push(run);
  }
  return { pageSize, capacity, runs };
}

module.exports = { decode, FIELDS };
