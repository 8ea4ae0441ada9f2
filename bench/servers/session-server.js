'use strict';
/*
 * session-server.js - the server of benchmark c: it holds SESSIONS live
 * sessions and every request replaces one of them. Run by
 * bench/js/session-store.js as a child with --expose-gc:
 *
 *   node --expose-gc bench/servers/session-server.js --store=map|rmem --sessions=1000000
 *
 * Start-up fills the store (timed: the start-up figure), then it binds
 * 127.0.0.1 on a free port and reports { ready, port, startupMs } over IPC.
 *   GET /replace  picks a live session at random, reads every byte of it,
 *                 removes it, and inserts a new session (new id, new token)
 *                 in its place; answers { id, sum }.
 *   GET /gc       times five forced full GCs (global.gc()) in a row and answers
 *                 { gcMs (the first), gcMedianMs, gcRuns, heapUsed, rss, sessions }.
 * Both stores see the same sequence of choices and tokens (one seeded PRNG).
 * node:http rather than a framework, so the store is what is measured.
 */
const http = require('node:http');
const { MapStore, RmemStore, TOKEN } = require('./session-stores');
const H = require('../js/harness');

const STORE = H.arg('store', 'map');
const SESSIONS = H.arg('sessions', 1000000);

function makeStore() {
  if (STORE === 'map') return new MapStore();
  if (STORE !== 'rmem') throw new Error(`--store must be map or rmem, not ${STORE}`);
  const api = require('../js/rmem-api');
  // records + index + slack; address space is reserved, pages are committed on touch
  let capacity = 64 << 20;
  while (capacity < SESSIONS * (64 + 16) * 1.5 + (32 << 20)) capacity *= 2;
  const rmem = api.instance(capacity);
  return new RmemStore(rmem, api.openSlab('session', 64), api.openHeap(), SESSIONS);
}

const next = H.prng(12345);
const token = new Uint8Array(TOKEN);
const HEX = Buffer.from('0123456789abcdef');
/** A fresh 32-character token (hex digits) in `token`. */
function newToken() {
  for (let i = 0; i < TOKEN; i += 8) {
    const x = next();
    for (let j = 0; j < 8; j++) token[i + j] = HEX[(x >>> (j * 4)) & 15];
  }
  return token;
}

const store = makeStore();
const live = new Int32Array(SESSIONS); // slot -> id of the session living there
const base = Date.now();

const t0 = process.hrtime.bigint();
for (let i = 0; i < SESSIONS; i++) {
  store.insert(i, i % 100000, base, newToken());
  live[i] = i;
}
const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
let nextId = SESSIONS;

function replace() {
  const k = next() % SESSIONS;
  const id = live[k];
  const sum = store.read(id);
  if (sum < 0 || !store.remove(id)) throw new Error(`session ${id} missing`);
  const nid = nextId++;
  store.insert(nid, nid % 100000, base + nid, newToken());
  live[k] = nid;
  return { id: nid, sum };
}

const server = http.createServer((req, res) => {
  if (req.url === '/replace') {
    const body = JSON.stringify(replace());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else if (req.url === '/gc') {
    // five forced full GCs in a row: the first also collects the load's garbage;
    // their median is the steady cost of a full GC over what the server holds
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const g0 = process.hrtime.bigint();
      global.gc();
      runs.push(Number(process.hrtime.bigint() - g0) / 1e6);
    }
    const m = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ gcMs: runs[0], gcMedianMs: H.median(runs), gcRuns: runs, heapUsed: m.heapUsed, rss: m.rss,
      sessions: store.size }));
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const msg = { ready: true, port, startupMs, sessions: store.size, store: STORE };
  if (process.send) process.send(msg);
  else console.log(JSON.stringify(msg));
});
process.on('disconnect', () => process.exit(0));
