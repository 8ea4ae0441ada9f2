'use strict';
// firstfit.js - a tiny first-fit allocator, the textbook design the seeds
// started from (one address-ordered free list, a 16-byte header per block,
// split on allocation, coalesce on free, grow the heap at its end), so the
// live page can play one trace on it and on rmem's size classes side by side.
//
// It simulates addresses only (no memory), and says where every block and
// hole is as a layout the heap map draws: runs { offset, bytes, owner } with
// owner 'heap' (kind 'block') or 'free' (touched holes count as resident:
// a free list keeps them; the space past the heap's end is untouched).

const HEADER = 16;
const ALIGN = 16;

class FirstFit {
  constructor(capacity) {
    this.capacity = capacity;
    this.brk = 0; // the heap's end: everything below was touched
    this.holes = []; // [offset, bytes] sorted by offset, never adjacent
    this.blocks = new Map(); // user offset -> [block offset, bytes]
    this.nextId = 1;
    this.searched = 0; // holes looked at, over all allocations
  }

  /** Allocates size bytes; returns an id (the user pointer's offset), or 0 when out of space. */
  malloc(size) {
    const need = Math.ceil((size + HEADER) / ALIGN) * ALIGN;
    for (let i = 0; i < this.holes.length; i++) {
      this.searched++;
      const h = this.holes[i];
      if (h[1] >= need) {
        const at = h[0];
        if (h[1] - need >= ALIGN * 2) {
          h[0] += need;
          h[1] -= need;
        } else {
          this.holes.splice(i, 1);
          return this.#place(at, h[1]);
        }
        return this.#place(at, need);
      }
    }
    if (this.brk + need > this.capacity) return 0;
    const at = this.brk;
    this.brk += need;
    return this.#place(at, need);
  }

  #place(at, bytes) {
    this.blocks.set(at + HEADER, [at, bytes]);
    return at + HEADER;
  }

  free(ptr) {
    const b = this.blocks.get(ptr);
    if (!b) throw new Error(`first-fit: ${ptr} is not a block`);
    this.blocks.delete(ptr);
    let [at, bytes] = b;
    // find the insertion point, coalesce with the neighbours
    let lo = 0;
    let hi = this.holes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.holes[mid][0] < at) lo = mid + 1;
      else hi = mid;
    }
    const prev = this.holes[lo - 1];
    const next = this.holes[lo];
    if (prev && prev[0] + prev[1] === at) {
      at = prev[0];
      bytes += prev[1];
      this.holes.splice(--lo, 1);
    }
    const nx = this.holes[lo];
    if (nx && at + bytes === nx[0]) {
      bytes += nx[1];
      this.holes.splice(lo, 1);
    }
    void next;
    if (at + bytes === this.brk) this.brk = at; // the top hole goes back to the OS (brk shrinks)
    else this.holes.splice(lo, 0, [at, bytes]);
  }

  stats() {
    let free = 0;
    let largest = 0;
    for (const [, b] of this.holes) {
      free += b;
      if (b > largest) largest = b;
    }
    let used = 0;
    for (const [, [, b]] of this.blocks) used += b;
    return {
      blocks: this.blocks.size, holes: this.holes.length, used, free, largest, extent: this.brk,
      fragmentation: free ? 1 - largest / free : 0, searched: this.searched,
    };
  }

  /** The layout for the heap map: blocks and holes in address order, then the untouched rest. */
  layout(pageSize = 4096) {
    const runs = [];
    for (const [, [at, bytes]] of this.blocks) runs.push({ offset: at, bytes, owner: 'heap', kind: 'block' });
    for (const [at, bytes] of this.holes) runs.push({ offset: at, bytes, owner: 'free', dirtyPages: 1, pages: 1, untouched: false });
    runs.sort((a, b) => a.offset - b.offset);
    if (this.brk < this.capacity) {
      runs.push({ offset: this.brk, bytes: this.capacity - this.brk, owner: 'free', untouched: true, dirtyPages: 0, pages: 0 });
    }
    return { pageSize, capacity: this.capacity, runs };
  }
}

module.exports = { FirstFit, HEADER };
