'use strict';
// Shared instances ({ shared: true }): one heap for several worker_threads.
// The memory is a SharedArrayBuffer in every thread; share() / Rmem.attach()
// carry the instance; blocks are freed by any thread, double frees across
// threads throw at the second free, caches are found by name, Atomics work
// on HEAP32, and the instance outlives whichever thread lets go first.
// After every test: validate() === 0 and the live block count back where it
// started. More workers than the machine's two cores, on purpose.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { Rmem } = require('../../lib/index.js');

const INDEX = path.join(__dirname, '..', '..', 'lib', 'index.js');
const NW = 4;

/** Runs src in a worker with workerData = data; resolves with its messages (the last one is the result). */
function run(src, data, onMessage) {
  return new Promise((resolve, reject) => {
    const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads');
const { Rmem } = require(workerData.index);
${src}`, { eval: true, workerData: { index: INDEX, ...data } });
    const got = [];
    w.on('message', (m) => { got.push(m); if (onMessage) onMessage(m, w); });
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve(got) : reject(new Error(`worker exited with ${code}: ${JSON.stringify(got)}`))));
  });
}

function live(m) { return m.stats().heap.liveBlocks; }

function pattern(u8, p, n, seed) { for (let k = 0; k < n; k++) u8[p + k] = (seed * 31 + k) & 255; }
function intact(u8, p, n, seed) {
  for (let k = 0; k < n; k++) if (u8[p + k] !== ((seed * 31 + k) & 255)) return false;
  return true;
}

test('a shared instance: SharedArrayBuffer memory, the heap, errors of the shared-only calls', () => {
  const m = new Rmem({ shared: true, capacity: 8 << 20 });
  assert.equal(m.shared, true);
  assert.ok(m.memory instanceof SharedArrayBuffer);
  assert.equal(m.memory.byteLength, 8 << 20);
  const p = m.alloc(100);
  pattern(m.HEAPU8, p, 100, 1);
  assert.ok(intact(m.HEAPU8, p, 100, 1));
  assert.ok(m.usableSize(p) >= 100);
  const q = m.realloc(p, 5000);
  assert.ok(intact(m.HEAPU8, q, 100, 1));
  m.free(q);
  assert.throws(() => m.free(q), { code: 'ERR_RMEM_DOUBLE_FREE' });
  const tok = m.share();
  assert.equal(tok.memory, m.memory);
  assert.deepEqual(structuredClone(tok).id, tok.id);
  assert.equal(m.validate(), 0);
  assert.equal(live(m), 0);

  const priv = new Rmem({ capacity: 2 << 20 });
  assert.equal(priv.shared, false);
  assert.ok(!(priv.memory instanceof SharedArrayBuffer));
  assert.throws(() => priv.share(), { code: 'ERR_RMEM_NOT_SHARED' });
  assert.equal(priv.slabCache('none'), null);
  priv.destroy();

  assert.throws(() => Rmem.attach({}), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => Rmem.attach({ ...tok, memory: new SharedArrayBuffer(8 << 20) }), { code: 'ERR_RMEM_DESTROYED' });
  assert.throws(() => Rmem.attach({ ...tok, key: tok.key + 1 }), { code: 'ERR_RMEM_DESTROYED' });
  assert.throws(() => new Rmem({ shared: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Rmem({ shared: true, capacity: 1000 }), { code: 'ERR_OUT_OF_RANGE' });
  const again = Rmem.attach(tok); // a second attachment in the same thread
  assert.equal(again.memory, m.memory);
  again.destroy();
  assert.equal(m.validate(), 0); // the first attachment goes on
  m.destroy();
  assert.throws(() => m.alloc(8), { code: 'ERR_RMEM_DESTROYED' });
  assert.throws(() => Rmem.attach(tok), { code: 'ERR_RMEM_DESTROYED' });
});

test('blocks made in one thread, checked and freed in the next one; a slab cache found by name', async () => {
  const m = new Rmem({ shared: true, capacity: 64 << 20 });
  const cache = m.createSlabCache('records', 48);
  const base = live(m);
  // every worker allocates its batch, patterns it and hands it on; worker k frees worker k-1's batch
  const src = `
const m = Rmem.attach(workerData.tok);
const cache = m.slabCache('records');
const u8 = m.HEAPU8;
let seed = workerData.id * 7919 + 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
const mine = [];
for (let i = 0; i < 3000; i++) {
  const size = 1 + Math.floor(rnd() * 3000);
  const p = i % 3 === 0 ? cache.alloc() : m.alloc(size);
  const n = i % 3 === 0 ? 48 : size;
  for (let k = 0; k < Math.min(n, 16); k++) u8[p + k] = (workerData.id * 31 + i + k) & 255;
  mine.push([p, n, i % 3 === 0]);
}
parentPort.postMessage({ mine });
parentPort.once('message', (theirs) => {
  let bad = 0;
  for (const [p, n, c, owner, i] of theirs) {
    for (let k = 0; k < Math.min(n, 16); k++) if (u8[p + k] !== ((owner * 31 + i + k) & 255)) bad++;
    if (c) cache.free(p); else m.free(p);
  }
  let problems = 0, message = '';
  try { m.check(); } catch (e) { problems = 1; message = e.message; }
  parentPort.postMessage({ bad, problems, message });
  m.destroy();
});`;
  const tok = m.share();
  const batches = new Array(NW);
  const workers = [];
  const exits = [];
  const results = await new Promise((resolve, reject) => {
    const done = [];
    let ready = 0;
    for (let id = 0; id < NW; id++) {
      exits[id] = run(src, { tok, id }, (msg, w) => {
        if (msg.mine) {
          batches[id] = msg.mine.map(([p, n, c], i) => [p, n, c, id, i]);
          workers[id] = w;
          if (++ready === NW) for (let k = 0; k < NW; k++) workers[k].postMessage(batches[(k + NW - 1) % NW]);
        } else {
          done.push(msg);
          if (done.length === NW) resolve(done);
        }
      });
      exits[id].catch(reject);
    }
  });
  // each worker reports, then releases its heap (m.destroy(): drained, trimmed, orphaned): the counts
  // below are exact only once every worker is gone, not while one is still giving its blocks back
  await Promise.all(exits);
  for (const r of results) {
    assert.equal(r.bad, 0);
    assert.equal(r.problems, 0, `validator: ${r.message}`);
  }
  assert.doesNotThrow(() => m.check());
  assert.equal(live(m), base);
  assert.equal(cache.stats().objectsInUse, 0);
  assert.ok(m.stats().heap.remoteFrees > 0); // blocks freed by threads that did not own them, taken back
  cache.destroy();
  m.destroy();
});

test('random cross-thread frees, and double frees across threads throw at the second free', async () => {
  const m = new Rmem({ shared: true, capacity: 64 << 20 });
  const base = live(m);
  // a table of slots in shared memory: workers put blocks in and take others' blocks out, with Atomics
  const SLOTS = 4096;
  const table = m.alloc(SLOTS * 4);
  m.HEAPU32.fill(0, table >>> 2, (table >>> 2) + SLOTS);
  const src = `
const m = Rmem.attach(workerData.tok);
const t32 = m.HEAP32, u8 = m.HEAPU8, T = workerData.table >>> 2, SLOTS = ${SLOTS};
let seed = workerData.id * 104729 + 7;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
let frees = 0, bad = 0, doubles = 0;
for (let i = 0; i < 20000; i++) {
  const s = Math.floor(rnd() * SLOTS);
  const p = m.alloc(8 + Math.floor(rnd() * 500));
  u8[p] = s & 255;
  const old = Atomics.exchange(t32, T + s, p);
  if (old) {
    if (u8[old] !== (s & 255)) bad++;
    m.free(old);
    frees++;
    if ((i & 255) === 0) { try { m.free(old); } catch (e) { if (e.code === 'ERR_RMEM_DOUBLE_FREE') doubles++; } }
  }
}
parentPort.postMessage({ frees, bad, doubles, tries: Math.ceil(20000 / 256) });
m.destroy();`;
  const tok = m.share();
  const res = (await Promise.all(Array.from({ length: NW }, (_, id) => run(src, { tok, id, table })))).map((g) => g.at(-1));
  let freed = 0;
  for (const r of res) {
    assert.equal(r.bad, 0);
    freed += r.frees;
  }
  assert.ok(freed > NW * 15000);
  // the double frees the workers tried right after a free of theirs all threw (old was live until then)
  const doubles = res.reduce((a, r) => a + r.doubles, 0);
  assert.ok(doubles > 0);
  for (let s = 0; s < SLOTS; s++) {
    const p = m.HEAP32[(table >>> 2) + s];
    if (p) m.free(p);
  }
  m.free(table);
  assert.equal(m.validate(), 0);
  assert.equal(live(m), base);
  m.destroy();
});

test('a double free made by another thread than the first free throws ERR_RMEM_DOUBLE_FREE', async () => {
  const m = new Rmem({ shared: true, capacity: 8 << 20 });
  const ps = Array.from({ length: 50 }, (_, i) => m.alloc(16 + i * 40));
  for (const p of ps.slice(0, 25)) m.free(p); // freed here; the worker's frees of them are the second
  const [res] = await run(`
const m = Rmem.attach(workerData.tok);
const codes = [];
for (const p of workerData.ps.slice(0, 25)) { try { m.free(p); codes.push('none'); } catch (e) { codes.push(e.code); } }
for (const p of workerData.ps.slice(25)) m.free(p);                 // the first free, from this thread
for (const p of workerData.ps.slice(25)) { try { m.free(p); codes.push('none'); } catch (e) { codes.push(e.code); } }
parentPort.postMessage(codes);
m.destroy();`, { tok: m.share(), ps });
  assert.equal(res.length, 50);
  for (const code of res) assert.equal(code, 'ERR_RMEM_DOUBLE_FREE');
  for (const p of ps.slice(25)) assert.throws(() => m.free(p), { code: 'ERR_RMEM_DOUBLE_FREE' });
  assert.equal(m.validate(), 0);
  assert.equal(live(m), 0);
  m.destroy();
});

test('Atomics.wait / Atomics.notify hand records from a producer to consumers over HEAP32', async () => {
  const m = new Rmem({ shared: true, capacity: 32 << 20 });
  const base = live(m);
  const N = 2000;
  // a one-slot mailbox per consumer: [state, ptr]; state 0 empty, 1 full, 2 closed
  const box = m.alloc(8 * 3);
  m.HEAP32.fill(0, box >>> 2, (box >>> 2) + 6);
  // a consumer that fails says so in its slot (state 3) before it ends, so the producer, which waits
  // synchronously, stops instead of waiting for ever
  const consumer = `
const m = Rmem.attach(workerData.tok);
const i32 = m.HEAP32, u8 = m.HEAPU8, at = (workerData.box >>> 2) + workerData.k * 2;
let got = 0, bad = 0;
try {
  for (;;) {
    // a wake is no proof of a record: the producer's notify of the record just taken can come late,
    // after this consumer emptied the slot and slept again; only the state word says
    let s;
    while ((s = Atomics.load(i32, at)) === 0) Atomics.wait(i32, at, 0);
    if (s === 2) break;
    const p = Atomics.load(i32, at + 1);
    const len = u8[p];
    for (let j = 1; j < len; j++) if (u8[p + j] !== ((len + j) & 255)) bad++;
    m.free(p);
    got++;
    Atomics.compareExchange(i32, at, 1, 0); // not over a stop (2) the producer may have put there
    Atomics.notify(i32, at);
  }
} catch (e) {
  // the slot after the stop word holds nothing the producer reads: the message goes through the port
  parentPort.postMessage({ error: String(e && e.stack || e) });
  Atomics.store(i32, at, 3);
  Atomics.notify(i32, at);
  throw e;
}
parentPort.postMessage({ got, bad });
m.destroy();`;
  const tok = m.share();
  const consumers = [0, 1, 2].map((k) => run(consumer, { tok, box, k }));
  const i32 = m.HEAP32;
  // waits until consumer k's slot is empty; a failed consumer (3) or 60 s without progress ends the test
  const empty = (k, at) => {
    const deadline = Date.now() + 60000;
    for (let v; (v = Atomics.load(i32, at)) !== 0;) {
      if (v === 3) return false; // it failed: its error comes with its exit, below
      if (Date.now() > deadline) throw new Error(`consumer ${k} took no record for 60 s`);
      Atomics.wait(i32, at, v, 50);
    }
    return true;
  };
  try {
    for (let n = 0; n < N; n++) {
      const k = n % 3, at = (box >>> 2) + k * 2;
      if (!empty(k, at)) break;
      const len = 2 + (n % 250);
      const p = m.alloc(len);
      m.HEAPU8[p] = len;
      for (let j = 1; j < len; j++) m.HEAPU8[p + j] = (len + j) & 255;
      Atomics.store(i32, at + 1, p);
      Atomics.store(i32, at, 1);
      Atomics.notify(i32, at);
    }
    for (let k = 0; k < 3; k++) {
      const at = (box >>> 2) + k * 2;
      if (!empty(k, at)) continue;
      Atomics.store(i32, at, 2);
      Atomics.notify(i32, at);
    }
  } finally {
    // whatever happened, every consumer is told to stop, so no worker outlives the test
    for (let k = 0; k < 3; k++) {
      const at = (box >>> 2) + k * 2;
      if (Atomics.load(i32, at) !== 3) Atomics.store(i32, at, 2);
      Atomics.notify(i32, at);
    }
  }
  const res = (await Promise.all(consumers)).map((g) => g.at(-1));
  for (const r of res) assert.equal(r.error, undefined, r.error);
  assert.equal(res.reduce((a, r) => a + r.got, 0), N);
  for (const r of res) assert.equal(r.bad, 0);
  m.free(box);
  assert.equal(m.validate(), 0);
  assert.equal(live(m), base);
  m.destroy();
});

test('a worker terminated while it holds blocks and while it allocates: the others go on', async () => {
  const m = new Rmem({ shared: true, capacity: 64 << 20 });
  const base = live(m);
  const tok = m.share();
  const src = `
const m = Rmem.attach(workerData.tok);
const held = [];
for (let i = 0; i < 5000; i++) held.push(m.alloc(16 + (i % 700)));
parentPort.postMessage({ held });
// then allocate and free for ever, until terminated: a ring of 100 live blocks
const ring = new Array(100).fill(0);
for (let i = 0; ; i++) { const k = i % 100; if (ring[k]) m.free(ring[k]); ring[k] = m.alloc(8 + (i % 2000)); }`;
  const held = [];
  await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
    const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads');
const { Rmem } = require(workerData.index);
${src}`, { eval: true, workerData: { index: INDEX, tok } });
    w.once('message', (msg) => {
      held.push(...msg.held);
      setTimeout(() => w.terminate(), 30); // mid-allocation
    });
    w.on('error', reject);
    w.on('exit', resolve);
  })));
  // the blocks of the terminated threads are still theirs (live) until freed, by anyone
  assert.equal(m.validate(), 0);
  for (const p of held) m.free(p);
  // what the rings held when they were stopped is live still (at most 100 blocks a worker)
  const st = m.stats().heap;
  assert.ok(st.threads >= 2); // the main thread and at least one worker (an ended one's heap may be taken over)
  assert.equal(m.validate(), 0);
  // a new worker takes over an ended thread's heap
  const [r] = await run(`
const m = Rmem.attach(workerData.tok);
const ps = []; for (let i = 0; i < 1000; i++) ps.push(m.alloc(64));
for (const p of ps) m.free(p);
parentPort.postMessage({ problems: m.validate(), threads: m.stats().heap.threads });
m.destroy();`, { tok });
  assert.equal(r.problems, 0);
  assert.ok(r.threads <= st.threads + 1);
  assert.ok(live(m) - base <= 300, `${live(m) - base} blocks left`);
  m.destroy();
});

test('bad frees of a running thread\'s blocks from another thread: refused with their codes, the heap intact', async () => {
  const m = new Rmem({ shared: true, capacity: 16 << 20 });
  const base = live(m);
  let failure = null;
  const badFrees = (ps) => {
    assert.throws(() => m.free(ps[0] + 8), { code: 'ERR_RMEM_INVALID_POINTER' });  // interior
    assert.throws(() => m.free(ps[199]), { code: 'ERR_RMEM_DOUBLE_FREE' });        // freed by its owner
    assert.throws(() => m.free(ps[0] + 3), { code: 'ERR_RMEM_INVALID_POINTER' });  // not 8-aligned
    assert.equal(m.validate(), 0);
    for (let i = 0; i < 199; i++) assert.equal(m.HEAPU8[ps[i]], i & 255);          // nothing written over
    m.free(ps[0]);                                                                 // the remote path
    assert.throws(() => m.free(ps[0]), { code: 'ERR_RMEM_DOUBLE_FREE' });          // its OR finds the bit set
    for (let i = 1; i < 199; i++) m.free(ps[i]);
    assert.equal(m.validate(), 0);
  };
  // the worker allocates and waits, so its heap stays its own (these frees take the JS front's remote path)
  await run(`
const m = Rmem.attach(workerData.tok);
const ps = []; for (let i = 0; i < 200; i++) { ps.push(m.alloc(64)); m.HEAPU8[ps[i]] = i; }
m.free(ps[199]);                                 // freed by its owner: a free slot of its slab now
parentPort.postMessage({ ps });
parentPort.once('message', () => { m.destroy(); parentPort.close(); });`, { tok: m.share() }, (msg, w) => {
    if (!msg.ps) return;
    try { badFrees(msg.ps); } catch (e) { failure = e; }
    w.postMessage('done'); // the worker ends either way
  });
  if (failure) throw failure;
  assert.equal(m.validate(), 0);
  assert.equal(live(m), base);
  m.destroy();
});

test('blocks of a thread that has ended, freed by another: taken back at once, none left waiting', async () => {
  const m = new Rmem({ shared: true, capacity: 16 << 20 });
  const base = live(m);
  // the worker's heap is an orphan once it has ended: no thread drains it, so the free that marks it
  // takes the blocks back (rmem_remote_settle from the JS front, remote_free's tail in C)
  const [res] = await run(`
const m = Rmem.attach(workerData.tok);
const ps = []; for (let i = 0; i < 3000; i++) ps.push(m.alloc(8 + (i % 97) * 16));
parentPort.postMessage({ ps });
m.destroy();`, { tok: m.share() });
  assert.equal(live(m) - base, 3000);
  for (const p of res.ps) m.free(p);
  assert.equal(live(m), base);
  assert.equal(m.validate(), 0);
  // freed again: refused, the heap unchanged. The orphan gave its emptied slabs back, so a block inside
  // a page that is free now is "not a live block"; one at a page start is "already freed"
  for (const p of res.ps.slice(0, 50)) {
    const want = p % 4096 === 0 ? 'ERR_RMEM_DOUBLE_FREE' : 'ERR_RMEM_INVALID_POINTER';
    assert.throws(() => m.free(p), (e) => e.code === want || assert.fail(`${p}: ${e.code} ${e.message}`));
  }
  assert.equal(m.validate(), 0);
  m.destroy();
});

test('the instance outlives whichever thread lets go first; the last one destroys it', async () => {
  // made in a worker, which lets go and ends; the main thread goes on with it
  let m = null;
  const got = await run(`
const m = new Rmem({ shared: true, capacity: 8 << 20 });
const p = m.alloc(1000);
m.HEAPU8.fill(7, p, p + 1000);
parentPort.postMessage({ tok: m.share(), p });
parentPort.once('message', () => m.destroy()); // once the main thread is attached; then the worker ends`, {}, (msg, w) => {
    m = Rmem.attach(msg.tok);
    w.postMessage('attached');
  });
  const made = got[0];
  assert.ok(m.HEAPU8.subarray(made.p, made.p + 1000).every((b) => b === 7));
  m.free(made.p);
  assert.equal(m.validate(), 0);
  assert.equal(live(m), 0);
  // the main thread lets go first; a worker attached to it goes on
  const tok = m.share();
  const q = m.alloc(64);
  const w = run(`
const m = Rmem.attach(workerData.tok);
parentPort.postMessage('attached');
parentPort.once('message', () => {
  m.free(workerData.q);
  const ps = []; for (let i = 0; i < 500; i++) ps.push(m.alloc(200));
  for (const p of ps) m.free(p);
  parentPort.postMessage({ problems: m.validate(), live: m.stats().heap.liveBlocks });
  m.destroy();
});`, { tok, q }, (msg, worker) => {
    if (msg === 'attached') {
      m.destroy();
      worker.postMessage('go');
    }
  });
  const res = (await w).at(-1);
  assert.equal(res.problems, 0);
  assert.equal(res.live, 0);
  assert.throws(() => Rmem.attach(tok), { code: 'ERR_RMEM_DESTROYED' }); // every attachment released
});

test('a private instance posted to a worker is copied, as any ArrayBuffer is', async () => {
  const m = new Rmem({ capacity: 2 << 20 });
  const p = m.alloc(16);
  m.HEAPU8[p] = 42;
  const [res] = await run(`
parentPort.postMessage({ same: workerData.mem instanceof SharedArrayBuffer, byte: new Uint8Array(workerData.mem)[workerData.p] });
new Uint8Array(workerData.mem)[workerData.p] = 1;`, { mem: m.memory, p });
  assert.equal(res.same, false);
  assert.equal(res.byte, 42);
  assert.equal(m.HEAPU8[p], 42); // the worker wrote into its copy
  m.free(p);
  m.destroy();
});
