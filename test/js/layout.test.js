'use strict';
// mem.layout() and the reports (printStats / formatStats) of every allocator:
// after random sequences of operations on the heap, arenas (all three
// lifetimes, with JS leases), slab caches and MeMS, the layout covers the
// capacity exactly and agrees with stats() of every allocator.
const test = require('node:test');
const assert = require('node:assert/strict');
const rmem = require('../../lib');

const { Rmem } = rmem;
const { prng } = require('../../lib/viz/scenarios'); // seeded: every run replays the same sequence
const PAGE = 4096;

/** Every check of the layout against stats(). */
function agree(mem, world) {
  const lay = mem.layout();
  assert.equal(lay.pageSize, PAGE);
  assert.equal(lay.capacity, mem.capacity);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(lay)));
  let at = 0;
  let used = 0;
  let free = 0;
  let largest = 0;
  let prevFree = 0;
  const heap = { live: 0, cached: 0, slabs: 0, large: 0 };
  const arenas = new Map();
  const caches = new Map();
  const mems = { pages: 0, segments: 0, holes: 0, bytes: 0, mains: 0 };
  for (const r of lay.runs) {
    assert.equal(r.offset, at, 'runs are contiguous, in address order');
    assert.ok(r.pages > 0);
    at += r.pages * PAGE;
    if (r.owner === 'free') {
      if (r.untouched) {
        largest = Math.max(largest, r.pages + prevFree);
      } else {
        free += r.pages;
        largest = Math.max(largest, r.pages);
        assert.ok(r.dirtyPages <= r.pages);
      }
      prevFree = r.untouched ? 0 : r.pages;
      continue;
    }
    prevFree = 0;
    if (r.owner === 'reserved') continue;
    used += r.pages;
    if (r.kind === 'slab') assert.ok(r.live + r.cached <= r.slots && r.slots * r.slotSize <= r.pages * PAGE);
    if (r.owner === 'heap') {
      if (r.kind === 'slab') {
        heap.live += r.live;
        heap.cached += r.cached;
        heap.slabs++;
      } else {
        heap.large++;
      }
    } else if (r.owner === 'arena') {
      const a = arenas.get(r.arena) ?? { pages: 0, used: 0, runs: 0 };
      a.pages += r.pages;
      a.runs++;
      a.used += r.kind === 'chunk' ? r.used : r.kind === 'slab' ? r.live * r.slotSize : r.pages * PAGE;
      arenas.set(r.arena, a);
    } else if (r.owner === 'slab') {
      const c = caches.get(r.cache) ?? { live: 0, slabs: 0, slots: 0, name: r.name };
      c.live += r.live;
      c.slabs++;
      c.slots += r.slots;
      caches.set(r.cache, c);
    } else if (r.owner === 'mems') {
      mems.pages += r.pages;
      mems.mains++;
      mems.bytes += r.bytesInUse;
      mems.segments += r.segments.length;
      let o = r.offset;
      for (const s of r.segments) {
        assert.equal(s.offset, o, 'a sub-chain covers its main node');
        o += s.size;
        if (s.kind === 'hole') mems.holes++;
      }
      assert.equal(o, r.offset + r.pages * PAGE);
    }
  }
  assert.equal(at, mem.capacity, 'the runs cover the capacity exactly');
  assert.equal(lay.runs[0].owner, 'reserved');
  assert.equal(lay.runs[lay.runs.length - 1].owner, 'reserved');
  const st = mem.stats();
  assert.equal(used * PAGE, st.pagesInUse);
  assert.equal(free * PAGE, st.pagesFree);
  assert.equal(largest * PAGE, st.largestFree);
  assert.equal(heap.live + heap.large, st.heap.liveBlocks);
  assert.equal(heap.slabs, st.heap.slabs);
  for (const a of world.arenas) {
    if (!a) continue;
    const s = a.stats();
    const l = arenas.get(a.handle) ?? { pages: 0, used: 0, runs: 0 };
    assert.equal(l.pages * PAGE, s.reserved, 'an arena holds the pages the layout gives it');
    assert.equal(l.runs, s.chunks);
    assert.equal(l.used, s.used, 'bump position / live slots agree with stats().used');
  }
  for (const c of world.caches) {
    if (!c) continue;
    const s = c.stats();
    const l = caches.get(c.handle) ?? { live: 0, slabs: 0, slots: 0, name: c.name };
    assert.equal(l.live, s.objectsInUse);
    assert.equal(l.slabs, s.slabs);
    assert.equal(l.slots, s.slots);
    assert.equal(l.name, c.name);
  }
  if (world.mems) {
    const s = mem.mems.stats();
    assert.equal(mems.pages, s.pagesUsed);
    assert.equal(mems.mains, s.mainChainLength);
    assert.equal(mems.segments, s.segments);
    assert.equal(mems.holes, s.holeSegments);
    assert.equal(mems.bytes, s.bytesInUse);
  }
  assert.equal(mem.validate(), 0);
  return lay;
}

function randomWorld(seed, steps) {
  const next = prng(seed);
  const mem = new Rmem({ capacity: 16 << 20 });
  const world = { arenas: [null, null, null, null, null, null], caches: [null, null, null, null], mems: false };
  const blocks = [];
  const iobj = [[], [], [], [], [], []];
  const cobj = [[], [], [], []];
  const segs = [];
  for (let step = 0; step < steps; step++) {
    const op = next();
    if (op < 0.35) {
      if (blocks.length < 300 && (blocks.length === 0 || next() < 0.6)) {
        const x = next();
        const size = x < 0.7 ? 1 + Math.floor(next() * 512) : x < 0.95 ? 1 + Math.floor(next() * 8192) : 40000 + Math.floor(next() * 200000);
        blocks.push(mem.alloc(size));
      } else if (blocks.length) {
        const k = Math.floor(next() * blocks.length);
        mem.free(blocks[k]);
        blocks[k] = blocks[blocks.length - 1];
        blocks.pop();
      }
    } else if (op < 0.55) {
      const i = Math.floor(next() * 6);
      const a = world.arenas[i];
      const what = next();
      if (!a) {
        world.arenas[i] = mem.createArena({ size: (4 + Math.floor(next() * 16)) * 1024, lifetime: i % 3 });
        iobj[i] = [];
      } else if (what < 0.05) {
        a.destroy();
        world.arenas[i] = null;
      } else if (what < 0.1) {
        a.reset();
        iobj[i] = [];
      } else if (i % 3 === 1) {
        if (iobj[i].length < 60 && next() < 0.6) {
          const size = next() < 0.9 ? 1 + Math.floor(next() * 4096) : 5000 + Math.floor(next() * 20000);
          iobj[i].push([a.alloc(size), size]);
        } else if (iobj[i].length) {
          const k = Math.floor(next() * iobj[i].length);
          a.free(iobj[i][k][0], iobj[i][k][1]);
          iobj[i][k] = iobj[i][iobj[i].length - 1];
          iobj[i].pop();
        }
      } else {
        for (let k = 0; k < 8; k++) a.alloc(1 + Math.floor(next() * 3000));
      }
    } else if (op < 0.8) {
      const i = Math.floor(next() * 4);
      const c = world.caches[i];
      const what = next();
      if (!c) {
        world.caches[i] = mem.createSlabCache(`cache${i}`, 24 + i * 200);
        cobj[i] = [];
      } else if (what < 0.03) {
        c.destroy();
        world.caches[i] = null;
      } else if (what < 0.06) {
        c.shrink();
      } else if (cobj[i].length < 200 && (cobj[i].length === 0 || next() < 0.5)) {
        for (let k = 0; k < 6; k++) cobj[i].push(c.alloc());
      } else if (cobj[i].length) {
        const k = Math.floor(next() * cobj[i].length);
        c.free(cobj[i][k]);
        cobj[i][k] = cobj[i][cobj[i].length - 1];
        cobj[i].pop();
      }
    } else if (op < 0.97) {
      if (!world.mems) {
        mem.mems.init();
        world.mems = true;
        segs.length = 0;
      } else if (segs.length < 200 && (segs.length === 0 || next() < 0.5)) {
        segs.push(mem.mems.malloc(1 + Math.floor(next() * 9000)));
      } else if (segs.length) {
        const k = Math.floor(next() * segs.length);
        mem.mems.free(segs[k]);
        segs[k] = segs[segs.length - 1];
        segs.pop();
      }
    } else if (op < 0.985) {
      mem.defrag();
    } else if (world.mems && next() < 0.3) {
      mem.mems.finish();
      world.mems = false;
    }
    agree(mem, world);
  }
  return { mem, world };
}

test('layout agrees with stats() after random operations on every allocator', () => {
  for (let seed = 1; seed <= 4; seed++) {
    const { mem } = randomWorld(seed * 7919, 400);
    mem.destroy();
  }
});

test('layout names every owner, with its details', () => {
  const mem = new Rmem({ capacity: 8 << 20 });
  const p = mem.alloc(100);
  const big = mem.alloc(100000);
  const t = mem.createArena({ lifetime: 'transient' });
  t.alloc(64);
  const inter = mem.createArena({ lifetime: 'intermediate' });
  inter.alloc(48);
  inter.alloc(10000);
  const c = mem.createSlabCache('session', 512);
  c.alloc();
  mem.mems.init();
  mem.mems.malloc(1000);
  const q = mem.alloc(3000);
  mem.free(q);
  mem.free(big);
  const lay = mem.layout();
  const owners = new Set(lay.runs.map((r) => r.owner));
  for (const o of ['free', 'heap', 'arena', 'slab', 'mems', 'reserved']) assert.ok(owners.has(o), o);
  const heapSlab = lay.runs.find((r) => r.owner === 'heap' && r.kind === 'slab' && r.slotSize === 112);
  assert.equal(heapSlab.live, 1);
  assert.ok(heapSlab.cached > 0);
  const chunk = lay.runs.find((r) => r.owner === 'arena' && r.kind === 'chunk');
  assert.equal(chunk.arena, t.handle);
  assert.equal(chunk.lifetime, 'transient');
  assert.equal(chunk.used, 64, 'the JS lease not yet bumped is not counted as used');
  assert.equal(chunk.current, true);
  const islab = lay.runs.find((r) => r.owner === 'arena' && r.kind === 'slab');
  assert.equal(islab.arena, inter.handle);
  assert.equal(islab.slotSize, 48);
  assert.equal(islab.live, 1);
  assert.equal(lay.runs.find((r) => r.owner === 'arena' && r.kind === 'large').size, 10000);
  const cs = lay.runs.find((r) => r.owner === 'slab');
  assert.deepEqual([cs.name, cs.objSize, cs.live, cs.cache], ['session', 512, 1, c.handle]);
  const m = lay.runs.find((r) => r.owner === 'mems');
  assert.deepEqual(m.segments.map((s) => [s.sva, s.eva, s.kind]), [[1000, 1999, 'process'], [2000, 5095, 'hole']]);
  assert.ok(lay.runs.some((r) => r.owner === 'free' && !r.untouched && r.dirtyPages === 25), 'the freed large block is dirty');
  assert.ok(lay.runs.some((r) => r.owner === 'free' && r.untouched));
  assert.equal(mem.layout({ segments: false }).runs.find((r) => r.owner === 'mems').segments.length, 0);
  assert.throws(() => mem.layout(null), { code: 'ERR_INVALID_ARG_TYPE' });
  mem.free(p);
  mem.destroy();
  assert.throws(() => mem.layout(), { code: 'ERR_RMEM_DESTROYED' });
});

test('printStats of every allocator; MeMS keeps the seed format', () => {
  const mem = new Rmem({ capacity: 8 << 20 });
  mem.alloc(64);
  const a = mem.createArena({ lifetime: 'persistent' });
  a.alloc(100);
  const c = mem.createSlabCache('rec', 64);
  c.alloc();
  mem.mems.init();
  mem.mems.malloc(1000);
  const all = mem.formatStats();
  assert.match(all, /^rmem Stats:\nRANGE\[0:8388607\] -> <R>\[0:4095\] <-> /);
  assert.ok(all.includes(mem.heap.formatStats()));
  assert.ok(all.includes('MeMS Stats:\nMAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>\n'));
  assert.match(a.formatStats(), /^Arena Stats:\nARENA\[\d+ persistent\] -> <A>\[OFF:\d+:END:\d+ used:\d+ cur\] <-> <NULL>\n/);
  assert.match(a.formatStats(), /Leased to JS, not yet handed out: \d+\n$/);
  assert.match(c.formatStats(), /^Slab Cache Stats:\nCACHE\[\d+ rec:64\] -> <S>\[OFF:\d+:END:\d+ live:1\/\d+\] <-> <NULL>\n/);
  // printStats writes what formatStats returns
  const writes = [];
  const orig = process.stdout.write;
  process.stdout.write = (s) => { writes.push(String(s)); return true; };
  try {
    mem.printStats();
    a.printStats();
    c.printStats();
    mem.heap.printStats();
  } finally {
    process.stdout.write = orig;
  }
  assert.deepEqual(writes, [mem.formatStats(), a.formatStats(), c.formatStats(), mem.heap.formatStats()]);
  a.destroy();
  assert.throws(() => a.formatStats(), { code: 'ERR_RMEM_DESTROYED' });
  c.destroy();
  assert.throws(() => c.printStats(), { code: 'ERR_RMEM_DESTROYED' });
  mem.destroy();
  assert.throws(() => mem.printStats(), { code: 'ERR_RMEM_DESTROYED' });
});

test('rmem.layout() and rmem.printStats() on the default instance', () => {
  rmem.init();
  const p = rmem.rAlloc(200);
  const lay = rmem.layout();
  assert.ok(lay.runs.some((r) => r.owner === 'heap' && r.live >= 1));
  assert.match(rmem.formatStats(), /^rmem Stats:/);
  rmem.rFree(p);
});

test('layout of a shared instance: its thread heap named by id, and agreeing with stats()', () => {
  const mem = new Rmem({ capacity: 16 << 20, shared: true });
  const ps = [];
  for (let i = 0; i < 3000; i++) ps.push(mem.alloc(16 + (i % 900)));
  for (let i = 0; i < ps.length; i += 2) mem.free(ps[i]);
  const lay = mem.layout();
  let live = 0;
  let pages = 0;
  for (const r of lay.runs) {
    if (r.owner === 'heap' && r.kind === 'slab') live += r.live;
    if (r.owner !== 'free' && r.owner !== 'reserved') pages += r.pages;
  }
  const st = mem.stats();
  assert.equal(live, st.heap.liveBlocks);
  assert.equal(pages * PAGE, st.pagesInUse);
  assert.match(mem.heap.formatStats(), /^Heap Stats:\nHEAP\[1\] CLASS\[16\] -> /);
  assert.equal(mem.validate(), 0);
  mem.destroy();
});
