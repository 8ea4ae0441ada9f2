'use strict';
/*
 * seed-three-way.js - the seed's own benchmark shape (issue 5 targets), on
 * the workload "64-byte blocks, 100 per request, 10,000 requests, first and
 * last byte written" (the words every figure of it is printed with; --size,
 * --per and --requests change the numbers in them): each block gets the same
 * two stores on every side, in
 *
 *   v8            Buffer.allocUnsafe(64)                         the baseline
 *   rAlloc/rFree  the seed API (JS heap front over C, see lib/instance.js)
 *   arena         per request: createArena, rArena x PER, rDestroy (JS lease)
 * and, to show what each design reaches:
 *   rAlloc/rFree, native call each   the same through one Node-API call per op
 *   arena, native call each          rArena through one Node-API call per alloc
 *
 * Every side runs once to warm up, then ROUNDS rounds, the order of the sides
 * rotating from round to round; medians are compared with V8's median of the
 * same run. Targets: arena >= 10x faster than V8, rAlloc/rFree >= 1.5x.
 * `npm start` (bench/tour.js) measures the same shape with every byte written
 * and read, which costs every side more, so its ratios are smaller.
 * Writes bench/results/seed-three-way.json (RMEM_BENCH_RESULTS redirects it).
 *
 *   node bench/js/seed-three-way.js           full (10,000 x 100, 9 rounds)
 *   node bench/js/seed-three-way.js --smoke   tiny parameters (also RMEM_BENCH_SMOKE=1)
 */
if (process.argv.includes('--smoke')) process.env.RMEM_BENCH_SMOKE = '1';
const H = require('./harness');

const REQUESTS = H.arg('requests', H.pick(10000, 10000, 200));
const PER = H.arg('per', 100);
const SIZE = H.arg('size', 64);
const ROUNDS = H.arg('rounds', H.pick(9, 5, 2));

const WORKLOAD = H.requestWorkload({ requests: REQUESTS, per: PER, size: SIZE, written: H.WRITTEN.ENDS });

const rmem = H.loadRmem();
rmem.init();
const u8 = rmem.HEAPU8;
const { TRANSIENT } = rmem.LIFETIME;
const nativeHeap = require('../../lib/instance.js').nativeOf(rmem.instance()); // one Node-API call per op, for comparison
const keep = new Array(PER); // V8: the request's buffers stay alive until the request ends, as its blocks do
const ptrs = new Int32Array(PER);
let sink = 0;

const SIDES = {
  v8() {
    for (let r = 0; r < REQUESTS; r++) {
      for (let i = 0; i < PER; i++) {
        const b = Buffer.allocUnsafe(SIZE);
        b[0] = i;
        b[SIZE - 1] = r;
        keep[i] = b;
      }
      sink += keep[PER - 1][0];
    }
  },
  'rAlloc/rFree'() {
    for (let r = 0; r < REQUESTS; r++) {
      for (let i = 0; i < PER; i++) {
        const p = rmem.rAlloc(SIZE);
        u8[p] = i;
        u8[p + SIZE - 1] = r;
        ptrs[i] = p;
      }
      sink += u8[ptrs[PER - 1]];
      for (let i = 0; i < PER; i++) rmem.rFree(ptrs[i]);
    }
  },
  arena() {
    for (let r = 0; r < REQUESTS; r++) {
      const a = rmem.createArena(64 * 1024, TRANSIENT);
      let p = 0;
      for (let i = 0; i < PER; i++) {
        p = rmem.rArena(a, SIZE);
        u8[p] = i;
        u8[p + SIZE - 1] = r;
      }
      sink += u8[p];
      rmem.rDestroy(a);
    }
  },
  'rAlloc/rFree, native call each'() {
    for (let r = 0; r < REQUESTS; r++) {
      for (let i = 0; i < PER; i++) {
        const p = nativeHeap.alloc(SIZE);
        u8[p] = i;
        u8[p + SIZE - 1] = r;
        ptrs[i] = p;
      }
      sink += u8[ptrs[PER - 1]];
      for (let i = 0; i < PER; i++) nativeHeap.free(ptrs[i]);
    }
  },
  'arena, native call each'() {
    for (let r = 0; r < REQUESTS; r++) {
      const a = rmem.createArena(64 * 1024, TRANSIENT);
      let p = 0;
      for (let i = 0; i < PER; i++) {
        p = a.allocNative(SIZE);
        u8[p] = i;
        u8[p + SIZE - 1] = r;
      }
      sink += u8[p];
      rmem.rDestroy(a);
    }
  },
};

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function main() {
  const names = Object.keys(SIDES);
  const ms = Object.fromEntries(names.map((n) => [n, []]));
  console.log(`seed three-way (${H.MODE}): workload ${WORKLOAD}; warm-up + ${ROUNDS} rounds, order rotating; medians`);
  for (const n of names) SIDES[n](); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(k + round) % names.length];
      ms[n].push(time(SIDES[n]));
    }
  }
  if (rmem.validate() !== 0) throw new Error('rmem: the validator found problems after the benchmark');
  const v8 = H.median(ms.v8);
  const rows = names.map((n) => {
    const med = H.median(ms[n]);
    return {
      side: n,
      ms: { median: med, min: Math.min(...ms[n]), max: Math.max(...ms[n]), all: ms[n] },
      nsPerAlloc: (med * 1e6) / (REQUESTS * PER),
      speedVsV8: v8 / med,
    };
  });
  const by = Object.fromEntries(rows.map((r) => [r.side, r]));
  const targets = [
    { figure: `arena (createArena, rArena x${PER}, rDestroy) vs V8, speed (${WORKLOAD})`, value: by.arena.speedVsV8,
      target: '>= 10x', met: by.arena.speedVsV8 >= 10 },
    { figure: `rAlloc/rFree vs V8, speed (${WORKLOAD})`, value: by['rAlloc/rFree'].speedVsV8, target: '>= 1.5x',
      met: by['rAlloc/rFree'].speedVsV8 >= 1.5 },
  ];
  H.table(rows.map((r) => ({
    side: r.side,
    'median ms': r.ms.median.toFixed(2),
    'min..max ms': `${r.ms.min.toFixed(2)}..${r.ms.max.toFixed(2)}`,
    'ns/alloc': r.nsPerAlloc.toFixed(2),
    'x faster than V8': r.speedVsV8.toFixed(2),
  })));
  for (const t of targets) {
    console.log(`${t.met ? 'MET   ' : 'NOT MET'} ${t.figure}: ${t.value.toFixed(2)}x (target ${t.target})`);
  }
  const file = H.writeResult('seed-three-way', {
    title: 'The seed\'s three-way benchmark (issue 5)',
    workload: WORKLOAD,
    params: { requests: REQUESTS, per: PER, size: SIZE, rounds: ROUNDS, written: H.WRITTEN.ENDS },
    table: rows,
    ratios: Object.fromEntries(rows.map((r) => [r.side, r.speedVsV8])),
    targets: targets.map((t) => ({ ...t, value: `${t.value.toFixed(2)}x` })),
    sink,
  });
  console.log(`results: ${file}`);
}

main();
