'use strict';
/*
 * backend-sim.js - benchmark a: the seed's backend simulation, rmem against
 * its V8 twin in the same process.
 *
 * 100,000 requests from 100 users: 5% are logins (a session record is
 * created, replacing the user's old one), 5% logouts (the session is
 * dropped), the rest ordinary requests (the user's session, if any, is read
 * in full and its lastSeen/hits updated). Every request also takes scratch
 * records (4 × 256 bytes), writes and reads every byte of them, and drops
 * them at the end of the request.
 *   rmem: sessions are 64-byte records in a slab cache found through an index
 *         in rmem memory (bench/servers/session-stores.js RmemStore); scratch
 *         comes from a transient arena reset after each request.
 *   V8:   sessions are plain objects in a Map (MapStore); scratch is
 *         Buffer.allocUnsafe.
 * Both sides see the same request sequence (one seeded PRNG per run).
 *
 *   node bench/js/backend-sim.js [--quick] [--requests=100000] [--rounds=7]
 * Writes bench/results/backend-sim.json.
 */
const path = require('node:path');
const H = require('./harness');
const api = require('./rmem-api');
const { MapStore, RmemStore, TOKEN } = require('../servers/session-stores');
const { nativeWork, makeArenaWork } = require('../servers/work');

const REQUESTS = H.arg('requests', H.pick(100000, 100000, 2000));
const USERS = H.arg('users', 100);
const ROUNDS = H.arg('rounds', H.pick(7, 3, 1));
const SCRATCH_BLOCKS = 4;
const SCRATCH_BYTES = 256;

/**
 * One simulation over `store` with `scratch(seed, blocks, bytes)`; returns
 * { checksum, peakUsers, finalUsers, logins, logouts }.
 */
function simulate(store, scratch) {
  const next = H.prng(2026);
  const token = new Uint8Array(TOKEN);
  const loggedIn = new Uint8Array(USERS);
  let users = 0;
  let peakUsers = 0;
  let logins = 0;
  let logouts = 0;
  let checksum = 0;
  for (let r = 0; r < REQUESTS; r++) {
    const u = next() % USERS;
    const kind = next() % 100;
    if (kind < 5) {
      if (loggedIn[u]) store.remove(u);
      else users++;
      for (let i = 0; i < TOKEN; i += 4) {
        const x = next();
        token[i] = 97 + (x & 15);
        token[i + 1] = 97 + ((x >>> 4) & 15);
        token[i + 2] = 97 + ((x >>> 8) & 15);
        token[i + 3] = 97 + ((x >>> 12) & 15);
      }
      store.insert(u, u, r, token);
      loggedIn[u] = 1;
      logins++;
      if (users > peakUsers) peakUsers = users;
    } else if (kind < 10) {
      if (loggedIn[u]) {
        store.remove(u);
        loggedIn[u] = 0;
        users--;
        logouts++;
      }
    } else if (loggedIn[u]) {
      checksum += store.read(u);
    }
    checksum += scratch(r, SCRATCH_BLOCKS, SCRATCH_BYTES);
  }
  // log everyone out so the next run starts from an empty store
  for (let u = 0; u < USERS; u++) if (loggedIn[u]) store.remove(u);
  return { checksum, peakUsers, finalUsers: users, logins, logouts };
}

function main() {
  const rmem = api.instance();
  const slab = api.openSlab('backend-session', 64);
  const heap = api.openHeap();
  const arena = api.openArena();
  const rmemStore = new RmemStore(rmem, slab, heap, USERS);
  const mapStore = new MapStore();
  const arenaWork = makeArenaWork(arena);
  const info = {};

  const sides = [
    {
      name: 'rmem (slab sessions + arena scratch)',
      run() {
        const r = simulate(rmemStore, arenaWork);
        info.rmem = r;
        return r.checksum;
      },
    },
    {
      name: 'V8 (Map of objects + Buffers)',
      run() {
        const r = simulate(mapStore, nativeWork);
        info.v8 = r;
        return r.checksum;
      },
    },
  ];
  const res = H.compareSides({ label: `backend simulation: ${REQUESTS.toLocaleString('en-US')} requests × ${ROUNDS} rounds`,
    sides, rounds: ROUNDS, warmup: 1 });
  if (info.rmem.peakUsers !== info.v8.peakUsers || info.rmem.logins !== info.v8.logins) {
    throw new Error('the two sides did not see the same request sequence');
  }
  const [R, V] = sides.map((s) => res[s.name]);
  const rows = {};
  for (const s of sides) {
    const m = res[s.name];
    rows[s.name] = {
      'Time (ms)': Number(m.ms.median.toFixed(2)),
      'min–max (ms)': `${m.ms.min.toFixed(1)}–${m.ms.max.toFixed(1)}`,
      'Req/Sec': Math.round(REQUESTS / (m.ms.median / 1000)),
      'Mem growth (MB, 1st run)': H.mb(m.firstRssGrowth),
    };
  }
  console.log(`\nBackend simulation: ${REQUESTS.toLocaleString('en-US')} requests, ${USERS} users, 5% logins, ` +
    `5% logouts; peak users ${info.rmem.peakUsers} (medians of ${ROUNDS} rounds, order alternated)`);
  H.table(rows);
  const speed = H.ratio(V.ms.median, R.ms.median);
  console.log(`rmem is ${speed}× the speed of V8 here (V8 time / rmem time)`);
  const heapStats = rmem.stats();
  const file = H.writeResult('backend-sim', {
    title: 'Backend simulation',
    params: { requests: REQUESTS, users: USERS, rounds: ROUNDS, scratchBlocks: SCRATCH_BLOCKS, scratchBytes: SCRATCH_BYTES },
    sides: Object.fromEntries(sides.map((s) => [s.name, { ...res[s.name], reqPerSec: REQUESTS / (res[s.name].ms.median / 1000) }])),
    simulation: info.rmem,
    ratios: { speedVsV8: speed },
    rmemStats: heapStats,
  });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main();
