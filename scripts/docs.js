'use strict';
// docs.js - `npm run docs`: makes the pictures of docs/ (docs/img/*.svg) from
// real runs of rmem, with the SVG renderers the package ships
// (lib/viz/heapmap.js, lib/viz/timeline.js). Every picture comes from a fixed
// sequence of operations on a fresh instance, and rmem is deterministic, so
// running this again gives the same bytes: test/js/docs.test.js checks that
// the committed pictures are current.
//
//   npm run docs                  writes docs/img/
//   node scripts/docs.js --out D  writes D/ instead (the test)
const fs = require('node:fs');
const path = require('node:path');
const { Rmem } = require('../lib');
const heapmap = require('../lib/viz/heapmap');
const timeline = require('../lib/viz/timeline');
const scenarios = require('../lib/viz/scenarios');

const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const OUT = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : path.join(__dirname, '..', 'docs', 'img');

const pictures = [];
function picture(name, make) {
  pictures.push([name, make]);
}

const map = (layout, title, opts = {}) => heapmap.svg(layout, { title, columns: 64, cell: 11, trim: true, ...opts });
const step = (name, k) => scenarios.run(name).steps[k];

// ---- the README's picture: one instance, every allocator
picture('overview.svg', () => {
  const mem = new Rmem({ capacity: 8 << 20 });
  const ps = [];
  for (let i = 0; i < 1200; i++) ps.push(mem.alloc(16 + ((i * 37) % 1500)));
  for (let i = 0; i < ps.length; i += 3) mem.free(ps[i]);
  mem.alloc(150000);
  const hole = mem.alloc(200000);
  mem.alloc(40000);
  mem.free(hole);
  const t = mem.createArena({ size: 64 * 1024, lifetime: 'transient' });
  for (let i = 0; i < 400; i++) t.alloc(100);
  const inter = mem.createArena({ size: 16 * 1024, lifetime: 'intermediate' });
  for (let i = 0; i < 120; i++) inter.alloc(96);
  const c = mem.createSlabCache('session', 512);
  for (let i = 0; i < 90; i++) c.alloc();
  mem.mems.init();
  for (const n of [1000, 5000, 300, 9000]) mem.mems.malloc(n);
  const svg = map(mem.layout(), 'One rmem instance: the heap, two arenas, a slab cache and MeMS on one range');
  mem.destroy();
  return svg;
});

// ---- the page source
picture('pages-new.svg', () => {
  const mem = new Rmem({ capacity: 1 << 20 });
  const svg = map(mem.layout(), 'A new 1 MiB instance: reserved first and last page, the rest never used', { trim: false, full: true, columns: 32 });
  mem.destroy();
  return svg;
});
/** A 4 MiB instance after twelve large blocks, six of them freed, and a 1.1 MB block made and freed. */
function largeRuns() {
  const mem = new Rmem({ capacity: 4 << 20 });
  const big = [];
  for (let i = 0; i < 12; i++) big.push(mem.alloc(40000 + i * 8192));
  for (const i of [1, 2, 5, 8, 9, 10]) mem.free(big[i]);
  const huge = mem.alloc(1100000);
  mem.alloc(40000);
  mem.free(huge);
  return mem;
}
picture('pages-runs.svg', () => {
  const mem = largeRuns();
  const svg = map(mem.layout(), 'Large blocks as page runs; freed runs merge with free neighbours at once', { columns: 48 });
  mem.destroy();
  return svg;
});
picture('pages-defrag.svg', () => {
  const mem = largeRuns();
  mem.defrag();
  const svg = map(mem.layout(), 'After rDefrag(): every free page went back to the OS', { columns: 48 });
  mem.destroy();
  return svg;
});

// ---- the heap (its scenario's steps)
picture('heap-full.svg', () => map(step('heap', 8).layout, 'The heap after 2,000 allocations: size-class slabs (blue) and large blocks'));
picture('heap-holes.svg', () => map(step('heap', 12).layout, 'Half of the blocks freed: half-empty slabs, free runs still resident'));
picture('heap-defrag.svg', () => map(step('heap', 13).layout, 'After rDefrag(): empty slabs and free pages given back'));
picture('firstfit.svg', () => map(step('firstfit', 12).compare.layout, 'First fit after 3,000 random operations: holes between live blocks'));
picture('sizeclasses.svg', () => map(step('firstfit', 12).layout, "rmem's size classes on the same operations: one slab per class"));

// ---- arenas
picture('arenas-filled.svg', () => map(step('arenas', 6).layout, 'Three arenas after five requests: bump chunks (red) and intermediate slabs (orange)'));
picture('arenas-reset.svg', () => map(step('arenas', 8).layout, 'After rReset(transient): it keeps its first chunk, the rest is free'));

// ---- slab caches
picture('cache-full.svg', () => map(step('slab', 7).layout, 'A slab cache of 1,800 records of 256 B: 64 KiB slabs, full'));
picture('cache-freed.svg', () => map(step('slab', 11).layout, 'Records freed at random: every slab partly empty'));
picture('cache-shrink.svg', () => map(step('slab', 12).layout, 'shrink(): the empty slabs went back'));

// ---- MeMS
picture('mems-chains.svg', () => map(step('mems', 12).layout, 'MeMS: four main nodes and their sub-chains, after seven mallocs, three frees and a first fit'));

// ---- the drop-in: blocks over time
picture('malloc-timeline.svg', () => {
  // a program's pattern replayed on one instance's heap: buffers that grow, short-lived temporaries, a cache
  const mem = new Rmem({ capacity: 8 << 20 });
  const blocks = [];
  const live = new Map();
  let ev = 0;
  const alloc = (size) => {
    const p = mem.alloc(size);
    live.set(p, blocks.length);
    blocks.push({ from: ev++, to: -1, addr: p, size });
    return p;
  };
  const free = (p) => {
    blocks[live.get(p)].to = ev++;
    live.delete(p);
    mem.free(p);
  };
  const next = scenarios.prng(21);
  const cache = [];
  let buf = alloc(64);
  for (let i = 0; i < 600; i++) {
    const tmp = [];
    for (let k = 0; k < 3; k++) tmp.push(alloc(16 + Math.floor(next() * 200)));
    if (i % 40 === 0) {
      const bigger = alloc(Math.min(60000, 64 << Math.floor(i / 40)));
      free(buf);
      buf = bigger;
    }
    if (next() < 0.3) cache.push(alloc(512 + Math.floor(next() * 1500)));
    if (cache.length > 40) free(cache.splice(Math.floor(next() * cache.length), 1)[0]);
    for (const p of tmp) free(p);
  }
  for (const b of blocks) if (b.to < 0) b.to = ev;
  mem.destroy();
  return timeline.svg(blocks, ev, { title: 'Blocks over time (x: events, y: address): temporaries, a growing buffer, a cache', width: 800, height: 320 });
});

function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, make] of pictures) {
    fs.writeFileSync(path.join(OUT, name), make());
  }
  console.log(`docs: ${pictures.length} pictures in ${path.relative(process.cwd(), OUT) || '.'}`);
}

if (require.main === module) main();
module.exports = { pictures: () => pictures.map(([n]) => n) };
