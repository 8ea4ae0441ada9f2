'use strict';
// scenarios.js - what the live page plays: each scenario runs the seeds' own
// flows on a fresh instance and records, after every step, the layout, the
// figures and the report. Every run of a scenario gives the same steps (a
// seeded generator, and rmem is deterministic), so the page, the tests and
// the docs can all rely on step k being the same state.
const { Rmem } = require('../instance');
const { FirstFit } = require('./firstfit');

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The figures the page charts and tabulates, from one instance. */
function figures(mem) {
  const s = mem.stats();
  return {
    pagesInUse: s.pagesInUse, pagesFree: s.pagesFree, committed: s.committed, resident: s.resident,
    largestFree: s.largestFree, metadata: s.metadata, liveBlocks: s.heap.liveBlocks, heapUsed: s.heap.used,
    heapFree: s.heap.free, fragmentation: s.heap.fragmentation, slabs: s.heap.slabs,
  };
}

/** Writes the block, as a program would (so resident memory is what a program would see). */
function touch(mem, p, size) {
  mem.HEAPU8.fill(0x5a, p, p + size);
  return p;
}

function recorder(mem, extra) {
  const steps = [];
  return {
    steps,
    step(label, code, more) {
      steps.push({ label, code, layout: mem.layout(), stats: figures(mem), text: mem.formatStats(), ...(extra ? extra() : {}), ...more });
    },
  };
}

const SCENARIOS = [
  {
    name: 'heap',
    title: "The seed's heap: rAlloc, rFree, rDefrag",
    about: 'Blocks of mixed sizes fill size-class slabs and large page runs; freeing every other one leaves half-empty slabs and holes; rDefrag() gives empty slabs and free pages back.',
    run(mem, rec) {
      const next = prng(7);
      const ptrs = [];
      rec.step('a new instance', 'const mem = new Rmem({ capacity: 8 << 20 })');
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 250; i++) {
          const size = i % 50 === 0 ? 20000 + Math.floor(next() * 30000) : 16 + Math.floor(next() * 1500);
          ptrs.push(touch(mem, mem.alloc(size), size));
        }
        rec.step(`${ptrs.length} blocks allocated`, 'for (...) ptrs.push(rAlloc(16 + rand(1500)))  // and every 50th: 20..50 KB');
      }
      for (let k = 0; k < 4; k++) {
        for (let i = k; i < ptrs.length; i += 8) mem.free(ptrs[i]);
        rec.step(`every eighth block freed (round ${k + 1} of 4: half of them by the last)`, 'rFree(ptrs[i])  // i = k, k + 8, k + 16, ...');
      }
      const r = mem.defrag();
      rec.step(`rDefrag(): ${r.slabsReleased} empty slabs, ${r.pagesReleased} pages released`, 'rDefrag()');
      for (let i = 0; i < ptrs.length; i++) if (i % 8 >= 4) mem.free(ptrs[i]);
      rec.step('the rest freed', 'rFree(ptrs[i])  // the other half');
      mem.defrag();
      rec.step('rDefrag() again: the heap is empty', 'rDefrag()');
    },
  },
  {
    name: 'arenas',
    title: 'Arenas: transient, intermediate, persistent',
    about: 'Three arenas, one per lifetime: bump chunks for transient and persistent, size-class slabs for intermediate (objects can be freed one by one); reset rewinds a transient arena to its first chunk.',
    run(mem, rec) {
      rec.step('a new instance', 'const mem = new Rmem({ capacity: 8 << 20 })');
      const t = mem.createArena({ size: 16 * 1024, lifetime: 'transient' });
      const i = mem.createArena({ size: 16 * 1024, lifetime: 'intermediate' });
      const p = mem.createArena({ size: 16 * 1024, lifetime: 'persistent' });
      rec.step('three arenas created (16 KiB chunks)', "createArena(16 * 1024, 'transient' | 'intermediate' | 'persistent')");
      const kept = [];
      for (let round = 1; round <= 5; round++) {
        for (let k = 0; k < 200; k++) touch(mem, t.alloc(48), 48);
        for (let k = 0; k < 80; k++) kept.push(touch(mem, i.alloc(96), 96));
        for (let k = 0; k < 30; k++) touch(mem, p.alloc(256), 256);
        rec.step(`request ${round}: 200 × 48 B transient, 80 × 96 B intermediate, 30 × 256 B persistent`, 'rArena(a, size)');
      }
      for (let k = 0; k < kept.length; k += 2) i.free(kept[k], 96);
      rec.step('half the intermediate objects freed one by one', 'rArenaFree(inter, ptr, 96)');
      t.reset();
      rec.step('rReset(transient): back to its first chunk', 'rReset(transient)');
      for (let k = 0; k < 100; k++) t.alloc(48);
      rec.step('the transient arena reused', 'rArena(transient, 48)');
      i.reset();
      rec.step('rReset(intermediate): every slab back', 'rReset(intermediate)');
      t.destroy();
      i.destroy();
      rec.step('rDestroy: only the persistent arena is left', 'rDestroy(transient); rDestroy(intermediate)');
      p.destroy();
      rec.step('rDestroy(persistent)', 'rDestroy(persistent)');
    },
  },
  {
    name: 'slab',
    title: 'A slab cache filling and emptying',
    about: 'A cache of 256-byte records: each slab is 64 KiB of equal slots; the shade is how many slots are live. Freed records wait on the front stack (cached) before their slot goes back.',
    run(mem, rec) {
      rec.step('a new instance', 'const mem = new Rmem({ capacity: 8 << 20 })');
      const c = mem.createSlabCache('record', 256);
      rec.step("slabCacheCreate('record', 256)", "const cache = mem.createSlabCache('record', 256)");
      const objs = [];
      for (let round = 1; round <= 6; round++) {
        for (let k = 0; k < 300; k++) objs.push(touch(mem, c.alloc(), 256));
        rec.step(`${objs.length} records`, 'cache.alloc()');
      }
      const next = prng(3);
      for (let round = 1; round <= 4; round++) {
        for (let k = 0; k < 300; k++) {
          const j = Math.floor(next() * objs.length);
          if (objs[j]) {
            c.free(objs[j]);
            objs[j] = 0;
          }
        }
        rec.step(`random records freed (round ${round})`, 'cache.free(ptr)');
      }
      c.shrink();
      rec.step('shrink(): empty slabs and the front stack go back', 'cache.shrink()');
      c.destroy();
      rec.step('destroy()', 'cache.destroy()');
    },
  },
  {
    name: 'mems',
    title: "MeMS: main chain and sub-chains",
    about: 'Each main node is a run of pages with a sub-chain of PROCESS and HOLE segments; malloc takes the first hole that fits (first fit), free merges holes inside one main node.',
    run(mem, rec) {
      const m = mem.mems;
      rec.step('a new instance', 'const mem = new Rmem({ capacity: 8 << 20 })');
      m.init();
      rec.step('mems.init()', 'mems.init()');
      const v = [];
      for (const size of [1000, 3000, 5000, 200, 12000, 700, 2500]) {
        v.push(m.malloc(size));
        m.view(v[v.length - 1]).fill(0x5a);
        rec.step(`mems.malloc(${size}) -> ${v[v.length - 1]}n`, `mems.malloc(${size})`);
      }
      for (const k of [1, 3, 5]) {
        m.free(v[k]);
        rec.step(`mems.free(${v[k]}n): a hole`, `mems.free(${v[k]}n)`);
      }
      v.push(m.malloc(2000));
      rec.step(`mems.malloc(2000) -> ${v[v.length - 1]}n: first fit, in a hole`, 'mems.malloc(2000)');
      m.free(v[2]);
      rec.step(`mems.free(${v[2]}n): merged with its neighbour holes`, `mems.free(${v[2]}n)`);
      m.finish();
      rec.step('mems.finish(): every page back', 'mems.finish()');
    },
  },
  {
    name: 'fragmentation',
    title: 'Fragmentation over time',
    about: 'Blocks of random sizes are replaced at random for a long time: holes of every size appear; the heap keeps each size in its own slabs, so the chart shows how much of the free space is in one piece.',
    run(mem, rec) {
      const next = prng(11);
      const live = [];
      rec.step('a new instance', 'const mem = new Rmem({ capacity: 8 << 20 })');
      for (let round = 1; round <= 30; round++) {
        for (let k = 0; k < 300; k++) {
          if (live.length < 1500 || next() < 0.45) {
            const size = next() < 0.03 ? 8192 + Math.floor(next() * 60000) : 8 + Math.floor(next() * 2000);
            live.push(touch(mem, mem.alloc(size), size));
          } else {
            const j = Math.floor(next() * live.length);
            mem.free(live[j]);
            live[j] = live[live.length - 1];
            live.pop();
          }
        }
        rec.step(`round ${round}: ${live.length} live blocks`, 'random alloc / free (sizes 8..2000, a few large)');
      }
      for (const p of live) mem.free(p);
      rec.step('all freed', 'rFree(...)');
      mem.defrag();
      rec.step('rDefrag()', 'rDefrag()');
    },
  },
  {
    name: 'firstfit',
    title: "First fit vs rmem's size classes, on one trace",
    about: "The same allocations and frees on a textbook first-fit free list (one address-ordered list of holes, a header per block) and on rmem's heap. First fit leaves holes of every size between live blocks and searches the list on every allocation; size classes keep equal blocks together and find a slot in O(1).",
    compare: true,
    run(mem, rec) {
      const ff = new FirstFit(mem.capacity);
      const next = prng(5);
      const live = [];
      const snapshot = () => ({ compare: { layout: ff.layout(), stats: ff.stats() } });
      const rec2 = { step: (l, c) => rec.step(l, c, snapshot()) };
      rec2.step('both empty', 'same trace on both');
      for (let round = 1; round <= 24; round++) {
        for (let k = 0; k < 250; k++) {
          if (live.length < 1200 || next() < 0.48) {
            const size = next() < 0.1 ? 2000 + Math.floor(next() * 6000) : 16 + Math.floor(next() * 300);
            live.push([touch(mem, mem.alloc(size), size), ff.malloc(size)]);
          } else {
            const j = Math.floor(next() * live.length);
            mem.free(live[j][0]);
            ff.free(live[j][1]);
            live[j] = live[live.length - 1];
            live.pop();
          }
        }
        rec2.step(`round ${round}: ${live.length} live blocks`, 'malloc(16..316 B, 10%: 2..8 KB) / free at random');
      }
      for (const [a, b] of live) {
        mem.free(a);
        ff.free(b);
      }
      rec2.step('all freed', 'free(...)');
    },
  },
];

/** Runs a scenario; returns { name, title, about, compare, steps }. */
function run(name) {
  const sc = SCENARIOS.find((s) => s.name === name);
  if (!sc) {
    const e = new RangeError(`rmem viz: no scenario '${name}' (${SCENARIOS.map((s) => s.name).join(', ')})`);
    e.code = 'ERR_OUT_OF_RANGE';
    throw e;
  }
  const mem = new Rmem({ capacity: 8 << 20 });
  try {
    const rec = recorder(mem);
    sc.run(mem, rec);
    return { name: sc.name, title: sc.title, about: sc.about, compare: !!sc.compare, steps: rec.steps };
  } finally {
    mem.destroy();
  }
}

function list() {
  return SCENARIOS.map((s) => ({ name: s.name, title: s.title, about: s.about, compare: !!s.compare }));
}

module.exports = { run, list, figures, prng };
