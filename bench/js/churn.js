'use strict';
/*
 * churn.js - benchmark d: 10^7 mixed operations on each allocator (rmem's
 * heap, a transient arena, a slab cache, MeMS) and on V8 Buffers as the
 * twin, sampling the process's resident memory as it goes. Target: resident
 * memory grows by at most 1 MB after the first million operations.
 *
 * Each allocator runs in its own child process (this script with --one=NAME),
 * so one allocator's freed pages cannot hide another's growth. An operation
 * is an allocation (random size, every byte written with fill) or a free of a
 * live block (its first and last byte checked first), chosen by a seeded PRNG
 * over a bounded live set; the arena frees by reset every RESET_EVERY
 * operations.
 *
 *   node bench/js/churn.js [--quick] [--ops=10000000] [--only=heap,slab]
 * Writes bench/results/churn.json.
 */
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const H = require('./harness');

const OPS = H.arg('ops', H.pick(1e7, 3e6, 3e4));
const FIRST = Math.min(1e6, Math.floor(OPS / 3));
const SAMPLES = 100;
const ALLOCATORS = ['heap', 'arena', 'slab', 'mems', 'v8'];
const LABELS = {
  heap: 'rmem heap (rAlloc/rFree)',
  arena: 'rmem arena (rArena/rReset)',
  slab: 'rmem slab cache',
  mems: 'rmem MeMS',
  v8: 'V8 Buffer.allocUnsafe (twin)',
};
const LIMIT_BYTES = 1024 * 1024;

/* ------------------------------------------------------------------ one allocator (child) */

/** Sizes: mostly small (8..1024), some medium (..8 KiB), 1 in 256 large (..64 KiB). */
function size(x) {
  const k = x & 255;
  if (k === 0) return 8192 + ((x >>> 8) & 0xdfff);
  if (k < 16) return 1025 + ((x >>> 8) & 0x1bff);
  return 8 + ((x >>> 8) & 1015);
}

function runOne(name) {
  const next = H.prng(0xc0ffee);
  const every = Math.max(1, Math.floor(OPS / SAMPLES));
  const samples = [];
  // Beside the process's RSS, what rmem itself holds resident (its stats) and
  // V8's heap, so growth can be told apart: the allocator's or the JS engine's.
  const parts = [];
  const rmemResident = name === 'v8' ? () => 0 : () => require('./rmem-api').instance().stats().resident;
  let firstRss = NaN;
  let check = 0;
  let op = 0;
  const sample = () => {
    const rss = H.rss();
    samples.push([op, rss]);
    parts.push([op, rmemResident(), process.memoryUsage().heapTotal]);
    if (op === FIRST) firstRss = rss;
  };
  const bar = H.progress(`churn ${LABELS[name]}: ${OPS.toLocaleString('en-US')} ops`);
  const tick = () => {
    if (op % every === 0 || op === FIRST) {
      sample();
      bar.update(op / OPS);
    }
  };
  const t0 = H.nowNs();

  if (name === 'v8') {
    const LIVE = 10000;
    const live = new Array(LIVE).fill(null);
    for (op = 0; op < OPS; op++) {
      tick();
      const x = next();
      const k = x % LIVE;
      const b = live[k];
      if (b !== null) {
        if (b[0] !== (k & 255) || b[b.length - 1] !== (k & 255)) throw new Error('V8 block changed under us');
        check += b.length;
        live[k] = null;
      } else {
        const n = size(next());
        live[k] = Buffer.allocUnsafe(n).fill(k & 255);
      }
    }
  } else if (name === 'heap' || name === 'slab') {
    const api = require('./rmem-api');
    const LIVE = 10000;
    const OBJ = 96;
    const a = name === 'heap' ? api.openHeap() : api.openSlab('churn', OBJ);
    const ptr = new Float64Array(LIVE);
    const len = new Int32Array(LIVE);
    let u8 = api.u8();
    for (op = 0; op < OPS; op++) {
      tick();
      const x = next();
      const k = x % LIVE;
      const p = ptr[k];
      if (p !== 0) {
        const n = len[k];
        if (u8[p] !== (k & 255) || u8[p + n - 1] !== (k & 255)) throw new Error(`${name} block changed under us`);
        a.free(p);
        check += n;
        ptr[k] = 0;
      } else {
        const n = name === 'heap' ? size(next()) : OBJ;
        const q = name === 'heap' ? a.alloc(n) : a.alloc();
        u8 = api.u8();
        u8.fill(k & 255, q, q + n);
        ptr[k] = q;
        len[k] = n;
      }
    }
  } else if (name === 'arena') {
    const api = require('./rmem-api');
    const RESET_EVERY = 1000;
    const a = api.openArena();
    let u8 = api.u8();
    for (op = 0; op < OPS; op++) {
      tick();
      if (op % RESET_EVERY === RESET_EVERY - 1) {
        a.reset();
        continue;
      }
      const n = size(next());
      const q = a.alloc(n);
      u8 = api.u8();
      u8.fill(op & 255, q, q + n);
      if (u8[q + n - 1] !== (op & 255)) throw new Error('arena block not written');
      check += n;
    }
  } else if (name === 'mems') {
    const api = require('./rmem-api');
    const mems = api.openMems();
    const LIVE = 256;
    const vaddr = new Array(LIVE).fill(0n);
    const len = new Int32Array(LIVE);
    for (op = 0; op < OPS; op++) {
      tick();
      const x = next();
      const k = x % LIVE;
      const v = vaddr[k];
      if (v !== 0n) {
        const n = len[k];
        const view = mems.view(v, n);
        if (view[0] !== (k & 255) || view[n - 1] !== (k & 255)) throw new Error('MeMS block changed under us');
        mems.free(v);
        check += n;
        vaddr[k] = 0n;
      } else {
        const n = size(next());
        const nv = mems.malloc(n);
        mems.view(nv, n).fill(k & 255);
        vaddr[k] = nv;
        len[k] = n;
      }
    }
  } else {
    throw new Error(`unknown allocator ${name}`);
  }
  sample();
  const ms = H.msSince(t0);
  bar.done();
  const endRss = samples[samples.length - 1][1];
  const atFirst = parts.find((p) => p[0] === FIRST) || parts[0];
  const atEnd = parts[parts.length - 1];
  return {
    rmemResidentGrowthAfterFirst: atEnd[1] - atFirst[1],
    v8HeapGrowthAfterFirst: atEnd[2] - atFirst[2],
    parts,
    name,
    label: LABELS[name],
    ops: OPS,
    ms,
    opsPerSec: OPS / (ms / 1000),
    firstOps: FIRST,
    rssAtFirst: firstRss,
    rssEnd: endRss,
    growthAfterFirst: endRss - firstRss,
    maxAfterFirst: Math.max(...samples.filter((s) => s[0] >= FIRST).map((s) => s[1])) - firstRss,
    samples,
    check,
  };
}

/* ------------------------------------------------------------------ driver */

function main() {
  const only = H.arg('only', '');
  const names = only ? only.split(',') : ALLOCATORS;
  const results = {};
  for (const name of names) {
    // a fresh process per allocator; the mode travels in the environment
    const r = spawnSync(process.execPath, [__filename, `--one=${name}`, `--ops=${OPS}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      env: process.env,
      timeout: 15 * 60 * 1000,
    });
    if (r.status !== 0) throw new Error(`churn --one=${name} failed (${r.status ?? r.signal}): ${r.stdout}`);
    const lines = r.stdout.trim().split('\n');
    results[name] = JSON.parse(lines[lines.length - 1]);
  }
  console.log(`\nChurn: ${OPS.toLocaleString('en-US')} mixed operations per allocator; resident growth after the first ` +
    `${FIRST.toLocaleString('en-US')} (target ≤ 1 MB for rmem's allocators)`);
  const rows = {};
  for (const name of names) {
    const m = results[name];
    rows[m.label] = {
      'time (ms)': Math.round(m.ms),
      'ops/s': Math.round(m.opsPerSec),
      'RSS at 1st million (MB)': H.mb(m.rssAtFirst, 1),
      'RSS at end (MB)': H.mb(m.rssEnd, 1),
      'growth after (MB)': H.mb(m.growthAfterFirst, 3),
      'max growth after (MB)': H.mb(m.maxAfterFirst, 3),
      'of it rmem resident (MB)': name === 'v8' ? '' : H.mb(m.rmemResidentGrowthAfterFirst, 3),
      'of it V8 heap (MB)': H.mb(m.v8HeapGrowthAfterFirst, 3),
      met: name === 'v8' ? '(twin)' : m.growthAfterFirst <= LIMIT_BYTES ? '✓' : '✗',
    };
  }
  H.table(rows);
  const file = H.writeResult('churn', {
    title: 'Churn: resident memory over 10^7 mixed operations',
    params: { ops: OPS, firstOps: FIRST, limitBytes: LIMIT_BYTES },
    results,
  });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

const one = H.arg('one', '');
if (one) {
  process.stdout.write(JSON.stringify(runOne(one)) + '\n');
} else {
  try {
    main();
  } catch (e) {
    console.error(e.stack || e);
    process.exit(1);
  }
}
