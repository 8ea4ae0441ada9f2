'use strict';
/*
 * shared-heap.js - records handed between worker_threads (issue 14): a
 * producer allocates a record of 64..1024 bytes, writes every byte and hands
 * it to a consumer, which reads every byte and frees it (a 32-bit word at a
 * time on every side: a byte loop over a SharedArrayBuffer costs V8 about
 * three times what it costs over an ArrayBuffer, which would hide the
 * allocators behind the loop). The same work through
 *
 *   rmem        one shared instance (new Rmem({ shared: true })): records are
 *               passed as offsets through a ring of Int32 slots; the consumer
 *               frees what the producer allocated (a cross-thread free);
 *   thi.ng      @thi.ng/malloc's MemPool on a SharedArrayBuffer, every malloc
 *               and free behind an Atomics lock (it has no locking of its own:
 *               the only way to share it), passed through the same ring;
 *   post-copy   postMessage of a fresh Uint8Array with the record's bytes (the
 *               structured clone copies them);
 *   post-xfer   the same with the record's ArrayBuffer transferred;
 *   no-alloc    the ceiling: the rmem side's ring and byte work with no
 *               allocator at all (2048 blocks of 1 KiB taken once and
 *               cycled, free does nothing). No allocator can beat it, so
 *               ceiling / thi.ng bounds what "rmem / thi.ng" can reach here.
 *
 * 2 workers (one producer, one consumer) and 4 (two pairs); on 2 cores 4
 * workers can only share them, so both are reported. Sizes: uniform 64..1024
 * ("mixed") and 1024 ("1 KiB"). Every round runs every case and side, in
 * alternating order; figures are medians over the rounds of records per
 * second, and of ratios taken within one round, beside the load average.
 *
 *   node bench/js/shared-heap.js [--quick] [--records=N] [--rounds=N]
 * Writes bench/results/shared-heap.json. Targets: rmem >= 3 x thi.ng, >= 5 x
 * postMessage for 1 KiB records, and 4 workers above 2 as far as 2 cores let.
 */
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const H = require('./harness');

const RECORDS = H.arg('records', H.pick(200000, 60000, 3000)); // per producer
const ROUNDS = H.arg('rounds', H.pick(5, 3, 1));
const SIDES = ['rmem', 'thi.ng', 'post-copy', 'post-xfer', 'no-alloc'];
const SHAPES = [
  { name: 'mixed', min: 64, max: 1024 },
  { name: '1 KiB', min: 1024, max: 1024 },
];
const WORKERS = [2, 4];
const RING = 1024; // slots per producer/consumer pair
const INDEX = path.join(H.ROOT, 'lib', 'index.js');

// ------------------------------------------------------------------ the workers' code

// Runs in every worker. A pair shares a ring: Int32Array [head, tail, consumerWaits, producerWaits, slots...].
// The ring is the same for rmem and thi.ng: what differs between them is the allocator alone.
const WORKER = String.raw`
const { parentPort, workerData: d } = require('node:worker_threads');
const ring = new Int32Array(d.ring), CAP = ${RING}, S = 4, BATCH = 64;
let seed = (d.pair + 1) * 2654435761 >>> 0;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>>= 0); };
const sizeOf = () => d.min + (d.max > d.min ? (rnd() % ((d.max - d.min) / 8 + 1)) * 8 : 0); // multiples of 8

function put(v) {                              // producer side of the ring
  const h = ring[0];
  while (h - Atomics.load(ring, 1) >= CAP) {   // full: wait for the consumer
    Atomics.store(ring, 3, 1);
    if (h - Atomics.load(ring, 1) >= CAP) Atomics.wait(ring, 1, Atomics.load(ring, 1), 2);
    Atomics.store(ring, 3, 0);
  }
  ring[S + (h % CAP)] = v;
  Atomics.store(ring, 0, h + 1);
  // a sleeping consumer is woken for a batch (or the end), not for every record: one futex call per batch
  if (Atomics.load(ring, 2) && (v === -1 || h + 1 - Atomics.load(ring, 1) >= BATCH)) Atomics.notify(ring, 0);
}
function take() {                              // consumer side
  const t = ring[1];
  for (let spin = 0; Atomics.load(ring, 0) === t; spin++) {
    if (spin < 256) continue;
    Atomics.store(ring, 2, 1);
    if (Atomics.load(ring, 0) === t) Atomics.wait(ring, 0, t, 1);
    Atomics.store(ring, 2, 0);
  }
  const v = ring[S + (t % CAP)];
  Atomics.store(ring, 1, t + 1);
  if (Atomics.load(ring, 3)) Atomics.notify(ring, 1);
  return v;
}

// The hot loops live in plain functions (an async function keeps its locals in a heap context across
// awaits). Records are written and read whole, a 32-bit word at a time, on every side alike.
function produceShared(u32, alloc) {
  for (let i = 0; i < d.records; i++) {
    const n = sizeOf(), p = alloc(n);
    if (!p) throw new Error(d.side + ': out of memory');
    const w = p >>> 2;
    u32.fill(i, w + 1, w + (n >>> 2));
    u32[w] = n;                                // the length, so the consumer reads every word
    put(p);
  }
  put(-1);
}
function consumeShared(u32, free) {
  let sum = 0;
  for (;;) {
    const p = take();
    if (p === -1) break;
    const w = p >>> 2, end = w + (u32[w] >>> 2);
    for (let k = w + 1; k < end; k++) sum = (sum + u32[k]) | 0;
    free(p);
  }
  return sum;
}
function consumeOne(rec) {
  const u32 = new Uint32Array(rec.buffer, rec.byteOffset, rec.length >>> 2);
  let sum = 0;
  for (let k = 1; k < u32.length; k++) sum = (sum + u32[k]) | 0;
  return sum;
}

async function main() {
  let alloc, free, u32;
  if (d.side === 'rmem') {
    const { Rmem } = require(d.index);
    const m = Rmem.attach(d.token);
    u32 = m.HEAPU32;
    alloc = (n) => m.alloc(n);
    free = (p) => m.free(p);
    parentPort.once('close', () => m.destroy());
  } else if (d.side === 'no-alloc') {
    const { Rmem } = require(d.index);
    const m = Rmem.attach(d.token);
    u32 = m.HEAPU32;
    const pool = new Int32Array(2048);        // the ring holds at most 1024 records: none is reused while read
    if (d.role === 'producer') for (let i = 0; i < pool.length; i++) pool[i] = m.alloc(1024);
    let k = 0;
    alloc = () => pool[k++ & 2047];
    free = () => {};
    parentPort.once('close', () => m.destroy());
  } else if (d.side === 'thi.ng') {
    const { MemPool } = await import('@thi.ng/malloc');
    const pool = new MemPool({ buf: d.buf, skipInitialization: true });
    const L = new Int32Array(d.lock);
    const lock = () => {
      for (let spin = 0; Atomics.compareExchange(L, 0, 0, 1) !== 0; spin++) {
        if (spin > 64) { Atomics.compareExchange(L, 0, 1, 2); Atomics.wait(L, 0, 2, 1); }
      }
    };
    const unlock = () => { if (Atomics.exchange(L, 0, 0) === 2) Atomics.notify(L, 0, 1); };
    u32 = new Uint32Array(d.buf);
    alloc = (n) => { lock(); const p = pool.malloc(n); unlock(); return p; };
    free = (p) => { lock(); pool.free(p); unlock(); };
  }
  const go = new Int32Array(d.go);
  parentPort.postMessage('ready');
  Atomics.wait(go, 0, 0);
  let sum = 0;
  if (d.role === 'producer') {
    if (d.port) {                               // postMessage sides
      for (let i = 0; i < d.records; i++) {
        const n = sizeOf(), rec = new Uint8Array(n);
        new Uint32Array(rec.buffer).fill(i, 1);
        if (d.side === 'post-xfer') d.port.postMessage(rec, [rec.buffer]); else d.port.postMessage(rec);
        if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r)); // let the port drain
      }
      d.port.postMessage(null);
    } else {
      produceShared(u32, alloc);
    }
  } else if (d.port) {
    await new Promise((resolve) => {
      d.port.on('message', (rec) => {
        if (rec === null) { d.port.close(); resolve(); return; }
        sum = (sum + consumeOne(rec)) | 0;
      });
    });
  } else {
    sum = consumeShared(u32, free);
  }
  parentPort.postMessage({ done: true, sum });
}
main().catch((e) => { parentPort.postMessage({ error: e.stack }); });
`;

// ------------------------------------------------------------------ one trial

let thing = null; // the MemPool module, loaded once (main)

/** Runs one side with `workers` workers and records of shape; resolves with { ms, records, sum, check }. */
async function trial(side, workers, shape, rmem) {
  const pairs = workers / 2;
  const go = new SharedArrayBuffer(4);
  let token = null, mem = null, buf = null, lock = null, liveBefore = 0;
  if (side === 'rmem' || side === 'no-alloc') {
    mem = new rmem.Rmem({ shared: true, capacity: 256 << 20 });
    token = mem.share();
    liveBefore = mem.stats().heap.liveBlocks;
  } else if (side === 'thi.ng') {
    buf = new SharedArrayBuffer(256 << 20);
    new thing.MemPool({ buf }); // initialises the pool's state in the buffer
    lock = new SharedArrayBuffer(4);
  }
  const ws = [];
  const ready = [];
  const done = [];
  for (let k = 0; k < pairs; k++) {
    const ring = new SharedArrayBuffer((4 + RING) * 4);
    const ch = side.startsWith('post') ? new MessageChannel() : null;
    for (const role of ['producer', 'consumer']) {
      const port = ch ? (role === 'producer' ? ch.port1 : ch.port2) : undefined;
      const w = new Worker(WORKER, {
        eval: true,
        workerData: { side, role, pair: k, ring, go, token, buf, lock, port, index: INDEX, records: RECORDS, min: shape.min, max: shape.max },
        transferList: port ? [port] : [],
        env: { ...process.env },
      });
      ws.push(w);
      ready.push(new Promise((resolve) => w.once('message', resolve)));
      done.push(new Promise((resolve, reject) => {
        w.on('message', (m) => {
          if (m && m.error) reject(new Error(`${side} worker: ${m.error}`));
          else if (m && m.done) resolve(m.sum);
        });
        w.on('error', reject);
      }));
    }
  }
  await Promise.all(ready);
  const t0 = H.nowNs();
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const sums = await Promise.all(done);
  const ms = H.msSince(t0);
  await Promise.all(ws.map((w) => w.terminate()));
  let check = true;
  if (mem) {
    // no-alloc leaves its pool live on purpose (its producer's heap goes with the instance)
    check = mem.validate() === 0 && (side === 'no-alloc' || mem.stats().heap.liveBlocks === liveBefore);
    mem.destroy();
  }
  return { ms, records: RECORDS * pairs, sum: sums.reduce((a, b) => a + b, 0), check };
}

// ------------------------------------------------------------------ main

async function main() {
  const rmem = H.loadRmem();
  try {
    thing = await import('@thi.ng/malloc');
  } catch (e) {
    console.log(`@thi.ng/malloc is not installed (npm install): the thi.ng side is skipped (${e.message})`);
  }
  const sides = SIDES.filter((s) => s !== 'thi.ng' || thing);
  const load0 = os.loadavg();
  console.log(`shared heap: ${RECORDS.toLocaleString('en-US')} records per producer, ${ROUNDS} rounds, ${os.cpus().length} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' / ')}`);
  // Every round runs every case (shape x workers x side), in alternating order, so each ratio below is taken
  // between trials of one round, a few seconds apart: the machine's noise (steal time on shared cores moves
  // whole seconds of it by 2x) then moves both sides of a ratio alike. Figures are medians over the rounds of
  // those per-round ratios, and of records per second.
  const cases = [];
  for (const shape of SHAPES) for (const workers of WORKERS) cases.push({ shape, workers, runs: Object.fromEntries(sides.map((s) => [s, []])) });
  const bar = H.progress(`${cases.length} cases x ${sides.length} sides x ${ROUNDS} rounds`);
  let step = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const c of r % 2 === 0 ? cases : [...cases].reverse()) {
      for (const side of order) {
        const t = await trial(side, c.workers, c.shape, rmem);
        if (!t.check) throw new Error(`${side}: the shared instance did not validate, or blocks were left live`);
        c.runs[side].push(t.records / (t.ms / 1000));
        bar.update(++step / (ROUNDS * sides.length * cases.length), `${c.shape.name} ${c.workers}w ${side}`);
      }
    }
  }
  bar.done();
  /** The median over rounds of a's throughput / b's, each pair from one round. */
  const paired = (a, b) => H.median(a.map((x, i) => x / b[i]));
  const results = [];
  for (const c of cases) {
    const { shape, workers, runs } = c;
    const label = `${shape.name} records (${shape.min}..${shape.max} B), ${workers} workers`;
    const row = { shape: shape.name, min: shape.min, max: shape.max, workers, sides: {}, rmemOver: {} };
    for (const s of sides) row.sides[s] = H.summary(runs[s]);
    for (const s of sides) if (s !== 'rmem') row.rmemOver[s] = paired(runs.rmem, runs[s]);
    row.runs = runs;
    results.push(row);
    console.log(label);
    H.table(sides.map((s) => ({
      side: s,
      'records/s': H.fmt(row.sides[s].median, 0),
      'min..max': `${H.fmt(row.sides[s].min, 0)}..${H.fmt(row.sides[s].max, 0)}`,
      'rmem x (paired)': s === 'rmem' ? '' : H.fmt(row.rmemOver[s], 2),
    })));
  }
  const find = (shape, workers) => results.find((r) => r.shape === shape && r.workers === workers);
  const targets = [];
  for (const workers of WORKERS) {
    for (const shape of SHAPES) {
      const row = find(shape.name, workers);
      if (row.sides['thi.ng']) {
        const x = row.rmemOver['thi.ng'];
        const ceil = paired(row.runs['no-alloc'], row.runs['thi.ng']);
        targets.push({ figure: `${shape.name}, ${workers} workers: rmem / thi.ng MemPool with a lock (no-alloc ceiling ${H.fmt(ceil, 2)})`, value: x, target: '>= 3', met: x >= 3 });
      }
    }
    const kib = find('1 KiB', workers);
    const post = kib.runs['post-copy'].map((x, i) => Math.max(x, kib.runs['post-xfer'][i]));
    const x = paired(kib.runs.rmem, post);
    targets.push({ figure: `1 KiB, ${workers} workers: rmem / the faster postMessage`, value: x, target: '>= 5', met: x >= 5 });
  }
  for (const shape of SHAPES) {
    const x = paired(find(shape.name, 4).runs.rmem, find(shape.name, 2).runs.rmem);
    const ceil = paired(find(shape.name, 4).runs['no-alloc'], find(shape.name, 2).runs['no-alloc']);
    targets.push({ figure: `${shape.name}: rmem throughput, 4 workers / 2 workers (2 cores: at most ~1; no-alloc ${H.fmt(ceil, 2)})`, value: x, target: '> 1 where cores allow', met: x > 1 });
  }
  console.log('\ntargets');
  H.table(targets.map((t) => ({ figure: t.figure, measured: H.fmt(t.value, 2), target: t.target, met: t.met ? 'yes' : 'no' })));
  const load1 = os.loadavg();
  console.log(`load average at the end: ${load1.map((x) => x.toFixed(2)).join(' / ')}${load1[0] > os.cpus().length ? ' (above the core count: other work competed, expect noise)' : ''}`);
  const file = H.writeResult('shared-heap', {
    title: 'Records between worker_threads: rmem shared heap, thi.ng MemPool with a lock, postMessage',
    records: RECORDS, rounds: ROUNDS, ring: RING, loadBefore: load0, loadAfter: load1, results, targets,
  });
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { trial };
