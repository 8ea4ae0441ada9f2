'use strict';
/*
 * tour.js - `npm start`, the package's main job: every allocator of rmem on
 * real work, shown, in well under a minute.
 *
 *   1. the general heap: fragment it, rDefrag(), stats before and after
 *   2. the three arenas (initArenas, rArena(size, lifetime), rReset) and a
 *      per-request arena (createArena, rArena(arena, size), rDestroy)
 *   3. a slab cache of fixed-size records
 *   4. MeMS, with the seed's printStats
 *   5. the seed's table, on the workload "64-byte blocks, 100 per request,
 *      10,000 requests, every byte written and read" (the words every figure
 *      of it is printed with), on V8, rAlloc/rFree, a per-request arena (the
 *      seed's shape), one arena reset per request, a slab cache and MeMS;
 *      time, operations/s and memory growth measured in this run (medians of
 *      several rounds, order alternated), and a verdict of ratios.
 *      bench/js/seed-three-way.js measures another workload ("first and last
 *      byte written"), so its ratios differ from these.
 *
 * The figures also go to bench/results/tour.json. Everything here uses the
 * seed's API on the package root (`require('rmem')`), as a user would.
 *
 *   npm start            (node bench/tour.js [--rounds=5] [--requests=10000])
 */
const path = require('node:path');
const H = require('./js/harness');
const { touch } = require('./servers/work');

const REQUESTS = H.arg('requests', H.pick(10000, 10000, 200));
const PER_REQUEST = 100;
const SIZE = 64;
const ROUNDS = H.arg('rounds', H.pick(5, 3, 1));

const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[22m` : s);
const green = (s) => (tty ? `\x1b[32m${s}\x1b[39m` : s);
const MB = H.MB;
const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;

// The heap map (rmem.heapMapText): one glyph per group of pages, coloured by owner, its height how full.
function map(caption, opts = {}) {
  console.log(dim(caption));
  process.stdout.write(rmem.heapMapText(undefined, { columns: 64, maxCells: 192, legend: false, ...opts }));
}
let legendShown = false;
function legend() {
  if (legendShown) return;
  legendShown = true;
  const text = rmem.heapMapText(undefined, { columns: 64, maxCells: 64, legend: true });
  console.log(dim(text.split('\n').slice(-3).join('\n').trimEnd()));
}

function section(n, title, what) {
  console.log(`\n${bold(`━━ ${n}. ${title} `)}${bold('━'.repeat(Math.max(2, 66 - title.length)))}`);
  if (what) console.log(dim(what));
}

const rmem = H.loadRmem();

/* ------------------------------------------------------------------ 1. heap */

function heapTour(out) {
  section(1, 'The general heap: rAlloc, rFree, rDefrag', 'Allocate 20,000 blocks of mixed sizes (written), free every other one, then rDefrag().');
  rmem.init();
  const u8 = new Uint8Array(rmem.memory);
  const next = H.prng(7);
  const ptrs = [];
  for (let i = 0; i < 20000; i++) {
    const size = i % 50 === 0 ? 40000 + (next() % 20000) : 16 + (next() % 2000);
    const p = rmem.rAlloc(size);
    u8.fill(i & 255, p, p + size);
    ptrs.push(p);
  }
  map('heap map after 20,000 allocations (every slab full):');
  for (let i = 0; i < ptrs.length; i += 2) rmem.rFree(ptrs[i]);
  const before = rmem.stats();
  map('after freeing every other block: half-empty slabs, holes where the large blocks were (free, still resident):');
  const report = rmem.rDefrag();
  const after = rmem.stats();
  map('after rDefrag(): the free pages went back to the OS:');
  legend();
  const row = (s) => ({
    'live blocks': s.heap.liveBlocks,
    'used': kb(s.heap.used),
    'free': kb(s.heap.free),
    'largest free': kb(s.heap.largestFree),
    'fragmentation': s.heap.fragmentation.toFixed(3),
    'resident': kb(s.resident),
  });
  console.table({ 'before rDefrag': row(before), 'after rDefrag': row(after) });
  console.log(`rDefrag(): merged ${report.merged} free runs, released ${report.slabsReleased} empty slabs and ` +
    `${report.pagesReleased} pages (${kb(report.bytesReleased)}) to the OS`);
  for (let i = 1; i < ptrs.length; i += 2) rmem.rFree(ptrs[i]);
  rmem.rDefrag();
  const problems = rmem.validate();
  console.log(`validate(): ${problems === 0 ? green('0 problems') : `${problems} problems`}`);
  out.heap = { before, after, defrag: report, problems };
}

/* ------------------------------------------------------------------ 2. arenas */

function arenaTour(out) {
  section(2, 'Arenas: three lifetimes and a per-request arena',
    'initArenas(); rArena(size, LIFETIME.*) on each default arena; rReset(LIFETIME.TRANSIENT); then arena objects.');
  rmem.initArenas();
  const u8 = new Uint8Array(rmem.memory);
  const { TRANSIENT, INTERMEDIATE, PERSISTENT } = rmem.LIFETIME;
  const plan = [['transient', TRANSIENT, 5000, 48], ['intermediate', INTERMEDIATE, 2000, 96], ['persistent', PERSISTENT, 500, 256]];
  const pages = () => rmem.stats().pagesInUse;
  const p0 = pages();
  for (const [, lt, count, size] of plan) {
    for (let i = 0; i < count; i++) {
      const p = rmem.rArena(size, lt);
      u8.fill(lt + 1, p, p + size);
    }
  }
  const p1 = pages();
  map('heap map with the three default arenas filled (a: transient and persistent chunks, i: intermediate slabs):', { trim: true });
  rmem.rReset(TRANSIENT);
  const p2 = pages();
  map('after rReset(LIFETIME.TRANSIENT): the transient arena keeps its first chunk (its later chunks are free now):', { trim: true });
  console.log(`default arenas: 5,000 × 48 B transient, 2,000 × 96 B intermediate, 500 × 256 B persistent (all written)\n` +
    `  pages in use: ${kb(p0)} before → ${kb(p1)} after the allocations → ${kb(p2)} after rReset(LIFETIME.TRANSIENT)`);

  // the same work on arena objects, whose stats() show each arena
  const arenas = plan.map(([name, lt]) => [name, rmem.createArena(64 * 1024, lt)]);
  const kept = [];
  for (const [i, [, a]] of arenas.entries()) {
    const [, lt, count, size] = plan[i];
    for (let j = 0; j < count; j++) {
      const p = rmem.rArena(a, size);
      u8.fill(lt + 1, p, p + size);
      if (lt === INTERMEDIATE && j % 2 === 0) kept.push(p);
    }
  }
  // intermediate objects can be handed back one by one
  const inter = arenas[1][1];
  for (const p of kept) rmem.rArenaFree(inter, p, 96);
  const show = () => {
    const rows = {};
    for (const [name, a] of arenas) {
      const s = a.stats();
      rows[name] = { chunks: s.chunks, reserved: kb(s.reserved), used: kb(s.used), allocs: s.allocs, resets: s.resets };
    }
    console.table(rows);
    return rows;
  };
  console.log('createArena(64 KiB, lifetime) for each lifetime, the same allocations, half the intermediate ones freed with rArenaFree:');
  const before = show();
  rmem.rReset(arenas[0][1]);
  console.log('after rReset(transientArena):');
  const after = show();
  for (const [, a] of arenas) rmem.rDestroy(a);

  // the seed's per-request arena: createArena, rArena(arena, size) × 100, rDestroy
  const a = rmem.createArena(64 * 1024, TRANSIENT);
  let sum = 0;
  for (let i = 0; i < 100; i++) sum += touch(u8, rmem.rArena(a, SIZE), SIZE, i);
  rmem.rDestroy(a);
  console.log(`createArena → 100 × rArena(arena, 64) written and read (checksum ${sum}) → rDestroy(arena)`);
  out.arenas = { pagesInUse: { before: p0, allocated: p1, transientReset: p2 }, objects: before, afterTransientReset: after };
}

/* ------------------------------------------------------------------ 3. slab */

function slabTour(out) {
  section(3, 'A slab cache: fixed-size session records', 'A cache of 64-byte records; 10,000 allocated and written, half freed.');
  const cache = rmem.slabCacheCreate('session', 64);
  const u8 = new Uint8Array(rmem.memory);
  const ptrs = [];
  for (let i = 0; i < 10000; i++) {
    const p = cache.alloc();
    u8.fill(i & 255, p, p + 64);
    ptrs.push(p);
  }
  const full = cache.stats();
  map('the slab cache filled (s): 10,000 records of 64 B in 64 KiB slabs, after the arenas of section 2:', { trim: true });
  for (let i = 0; i < ptrs.length; i += 2) cache.free(ptrs[i]);
  const half = cache.stats();
  map('every other record freed: each slab half full (lower-case s, lower glyphs):', { trim: true });
  const row = (s) => ({ 'objects in use': s.objectsInUse, slots: s.slots, slabs: s.slabs, 'slab bytes': kb(s.slabBytes),
    utilisation: `${(s.utilisation * 100).toFixed(1)}%` });
  console.table({ '10,000 allocated': row(full), 'every other freed': row(half) });
  for (let i = 1; i < ptrs.length; i += 2) cache.free(ptrs[i]);
  cache.shrink();
  const empty = cache.stats();
  console.log(`all freed and shrink(): ${empty.slabs} slabs, ${kb(empty.slabBytes)} held`);
  cache.destroy();
  out.slab = { full, half, empty };
}

/* ------------------------------------------------------------------ 4. MeMS */

function memsTour(out) {
  section(4, 'MeMS: the page-based allocator, with printStats', 'The MeMS README example: malloc(1000), get, printStats, free, finish.');
  const mems = rmem.mems;
  mems.init();
  const ptr = mems.malloc(1000);
  console.log('Allocated at virtual address:', ptr);
  const phy = mems.get(ptr);
  console.log('Physical address (byte offset in rmem.memory):', phy);
  const v = mems.view(ptr, 1000);
  v.fill(0x5a);
  const p2 = mems.malloc(5000);
  mems.view(p2, 5000).fill(0xa5);
  mems.printStats();
  const stats = mems.stats();
  map('the two MeMS main nodes (m, the last cells), shaded by their PROCESS bytes:', { trim: true });
  mems.free(ptr);
  mems.free(p2);
  console.log('after freeing both:');
  mems.printStats();
  mems.finish();
  out.mems = { stats };
}

/* ------------------------------------------------------------------ 5. the table */

function seedTable(out) {
  const allocs = REQUESTS * PER_REQUEST;
  const workload = H.requestWorkload({ requests: REQUESTS, per: PER_REQUEST, size: SIZE, written: H.WRITTEN.ALL });
  section(5, "The seed's table", `Workload: ${workload}; medians of ${ROUNDS} rounds after a warm-up, order alternated.`);
  const u8 = new Uint8Array(rmem.memory);
  const { TRANSIENT } = rmem.LIFETIME;
  const cache = rmem.slabCacheCreate('table', SIZE);
  const reused = rmem.createArena(64 * 1024, TRANSIENT);
  const mems = rmem.mems;
  mems.init();
  const ptrs = new Float64Array(PER_REQUEST);
  const vptrs = new Array(PER_REQUEST);

  const sides = [
    {
      name: 'V8 Engine',
      run() {
        let sum = 0;
        for (let r = 0; r < REQUESTS; r++) {
          for (let i = 0; i < PER_REQUEST; i++) sum += touch(Buffer.allocUnsafe(SIZE), 0, SIZE, r + i);
        }
        return sum;
      },
    },
    {
      name: 'Base Allocator (rAlloc/rFree)',
      run() {
        let sum = 0;
        for (let r = 0; r < REQUESTS; r++) {
          for (let i = 0; i < PER_REQUEST; i++) {
            const p = rmem.rAlloc(SIZE);
            sum += touch(u8, p, SIZE, r + i);
            ptrs[i] = p;
          }
          for (let i = 0; i < PER_REQUEST; i++) rmem.rFree(ptrs[i]);
        }
        return sum;
      },
    },
    {
      name: 'Arena Allocator (per request)',
      run() {
        let sum = 0;
        for (let r = 0; r < REQUESTS; r++) {
          const a = rmem.createArena(64 * 1024, TRANSIENT);
          for (let i = 0; i < PER_REQUEST; i++) sum += touch(u8, rmem.rArena(a, SIZE), SIZE, r + i);
          rmem.rDestroy(a);
        }
        return sum;
      },
    },
    {
      // the arena as meant for a server: one arena, rReset when the request ends
      name: 'Arena Allocator (reused, rReset)',
      run() {
        let sum = 0;
        for (let r = 0; r < REQUESTS; r++) {
          for (let i = 0; i < PER_REQUEST; i++) sum += touch(u8, rmem.rArena(reused, SIZE), SIZE, r + i);
          rmem.rReset(reused);
        }
        return sum;
      },
    },
    {
      name: 'Slab Cache',
      run() {
        let sum = 0;
        for (let r = 0; r < REQUESTS; r++) {
          for (let i = 0; i < PER_REQUEST; i++) {
            const p = cache.alloc();
            sum += touch(u8, p, SIZE, r + i);
            ptrs[i] = p;
          }
          for (let i = 0; i < PER_REQUEST; i++) cache.free(ptrs[i]);
        }
        return sum;
      },
    },
    {
      name: 'MeMS',
      run() {
        let sum = 0;
        for (let r = 0; r < REQUESTS; r++) {
          for (let i = 0; i < PER_REQUEST; i++) {
            const v = mems.malloc(SIZE);
            sum += touch(u8, Number(mems.get(v)), SIZE, r + i);
            vptrs[i] = v;
          }
          for (let i = 0; i < PER_REQUEST; i++) mems.free(vptrs[i]);
        }
        return sum;
      },
    },
  ];
  const res = H.compareSides({ label: "the seed's table", sides, rounds: ROUNDS, warmup: 1 });
  const sums = new Set(sides.map((s) => res[s.name].checksum));
  if (sums.size !== 1) throw new Error('the sides did not do the same work (checksums differ)');
  const rows = {};
  const table = [];
  for (const s of sides) {
    const m = res[s.name];
    rows[s.name] = {
      'Time (ms)': m.ms.median.toFixed(2),
      'min–max': `${m.ms.min.toFixed(1)}–${m.ms.max.toFixed(1)}`,
      'Req/Sec': Math.round(REQUESTS / (m.ms.median / 1000)),
      'Allocs/Sec': Math.round(allocs / (m.ms.median / 1000)).toLocaleString('en-US'),
      'Mem Growth (MB)': (m.firstRssGrowth / MB).toFixed(2),
    };
    table.push({ side: s.name, ms: m.ms, opsPerSec: allocs / (m.ms.median / 1000), reqPerSec: REQUESTS / (m.ms.median / 1000),
      firstRssGrowth: m.firstRssGrowth, rssGrowth: m.rssGrowth });
  }
  console.table(rows);
  mems.finish();
  cache.destroy();
  rmem.rDestroy(reused);

  const t = (name) => res[name].ms.median;
  const v8 = t('V8 Engine');
  const x = (name) => H.ratio(v8, t(name));
  const verdict = [
    `Arena is ${x('Arena Allocator (per request)')}x the speed of V8 (reused with rReset: ${x('Arena Allocator (reused, rReset)')}x)`,
    `rAlloc/rFree ${x('Base Allocator (rAlloc/rFree)')}x`,
    `Slab ${x('Slab Cache')}x`,
    `MeMS ${x('MeMS')}x`,
    `Arena vs rAlloc/rFree ${H.ratio(t('Base Allocator (rAlloc/rFree)'), t('Arena Allocator (per request)'))}x`,
  ].join('; ');
  console.log(`\n${bold('>>> VERDICT <<<')} (${workload})\n${verdict} (V8 time ÷ side time; > 1 means faster than V8)`);
  out.table = table;
  out.verdict = verdict;
  out.targets = [
    { figure: `per-request arena vs V8, speed (${workload})`, value: `${x('Arena Allocator (per request)')}×`,
      target: '≥ 10× (issue 5)',
      met: x('Arena Allocator (per request)') >= 10 },
    { figure: `reused arena vs V8, speed (${workload})`, value: `${x('Arena Allocator (reused, rReset)')}×`, target: '(reported)',
      met: null },
    { figure: `rAlloc/rFree vs V8, speed (${workload})`, value: `${x('Base Allocator (rAlloc/rFree)')}×`,
      target: '≥ 1.5× (issue 5)',
      met: x('Base Allocator (rAlloc/rFree)') >= 1.5 },
  ];
  out.workload = `${workload}; medians of ${ROUNDS} rounds`;
}

/* ------------------------------------------------------------------ main */

function main() {
  const t0 = Date.now();
  console.log(bold('rmem — a memory manager in C, reached from JavaScript'));
  console.log(dim(`Node ${process.version}, ${H.machine().cpu}; all allocators draw pages from one address range, ` +
    'shown to JS as one ArrayBuffer (pointers are byte offsets).'));
  const out = {};
  heapTour(out);
  arenaTour(out);
  slabTour(out);
  memsTour(out);
  seedTable(out);
  const file = H.writeResult('tour', { title: 'npm start: the tour', params: { requests: REQUESTS, perRequest: PER_REQUEST,
    size: SIZE, rounds: ROUNDS }, ...out });
  console.log(dim(`\nfigures: ${path.relative(process.cwd(), file)}; the tour took ${((Date.now() - t0) / 1000).toFixed(1)} s. ` +
    'The full benchmark set with its HTML report: npm run bench'));
}

main();
