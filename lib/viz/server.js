'use strict';
// server.js - the live page's server: a small HTTP server on 127.0.0.1 (never
// another address unless asked) that serves one page (page.html, app.js,
// cells.js) and its data, in one of three modes:
//
//   scenarios  (npm run viz)              the scenarios of scenarios.js, step by step
//   live       (rmem.serveViz(mem))       a running program's own instance: its
//                                         layout, figures and report, fresh on every poll
//   trace      (npm run viz -- trace F)   an allocation trace of the drop-in malloc
//
// Only GET of the fixed routes below; nothing else of the disk is served.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { invalidArgType, rmemError } = require('../errors');

const HERE = __dirname;
const STATIC = {
  '/': ['page.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/cells.js': ['cells.js', 'text/javascript; charset=utf-8'],
};

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

function json(res, value) {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value));
}

/**
 * Starts a server for `mode` with `api(route, res)` answering /api/...; returns
 * { url, port, server, ready, close } at once (url and port once ready resolves).
 */
function start(mode, api, options = {}) {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (typeof port !== 'number' || !(port >= 0 && port <= 65535) || Math.trunc(port) !== port) {
    throw rmemError('ERR_OUT_OF_RANGE', `The value of "options.port" is out of range. It must be an integer 0 .. 65535. Received ${port}`);
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'GET only\n');
    if (url.pathname === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
    const st = STATIC[url.pathname];
    if (st) {
      let body = fs.readFileSync(path.join(HERE, st[0]), 'utf8');
      if (st[0] === 'page.html') body = body.replace('/*RMEM_VIZ_CONFIG*/', `window.RMEM_VIZ = ${JSON.stringify({ mode, ...(options.config || {}) })};`);
      return send(res, 200, st[1], body);
    }
    if (url.pathname.startsWith('/api/')) {
      try {
        if (api(url.pathname.slice(5), res, url.searchParams) !== false) return undefined;
      } catch (e) {
        return send(res, 500, 'application/json', JSON.stringify({ error: e.message, code: e.code }));
      }
    }
    return send(res, 404, 'text/plain', 'not found\n');
  });
  // returned at once: close() works before the server listens; ready resolves to the handle with url and port
  const handle = {
    url: null,
    port: null,
    server,
    ready: null,
    close: () => new Promise((done) => {
      if (!server.listening) return done();
      server.close(() => done());
      server.closeAllConnections?.();
      return undefined;
    }),
  };
  handle.ready = new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const actual = server.address().port;
      const shown = host.includes(':') ? `[${host}]` : host;
      handle.url = `http://${shown}:${actual}/`;
      handle.port = actual;
      resolve(handle);
    });
  });
  if (options.unref) server.unref();
  return handle;
}

/** npm run viz: the scenarios. */
function serveScenarios(options) {
  const scenarios = require('./scenarios');
  const cache = new Map();
  return start('scenarios', (route, res) => {
    if (route === 'scenarios') return json(res, scenarios.list());
    const m = /^scenario\/([a-z]+)$/.exec(route);
    if (!m) return false;
    if (!cache.has(m[1])) cache.set(m[1], JSON.stringify(scenarios.run(m[1])));
    return send(res, 200, 'application/json; charset=utf-8', cache.get(m[1]));
  }, options);
}

/** rmem.serveViz(mem): a running program's instance, live. */
function serveInstance(mem, options = {}) {
  const { Rmem } = require('../instance');
  if (!Rmem.isRmem(mem)) throw invalidArgType('mem', 'an Rmem', mem);
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const { figures } = require('./scenarios');
  const history = [];
  const t0 = Date.now();
  const interval = options.interval ?? 500;
  return start('live', (route, res) => {
    if (route !== 'live') return false;
    if (mem.destroyed) return json(res, { destroyed: true, history });
    const f = figures(mem);
    history.push({ t: Date.now() - t0, fragmentation: f.fragmentation, resident: f.resident, pagesInUse: f.pagesInUse });
    if (history.length > 600) history.splice(0, history.length - 600);
    return json(res, { label: `${((Date.now() - t0) / 1000).toFixed(1)} s`, layout: mem.layout(), stats: f, text: mem.formatStats(), history });
  }, { ...options, config: { interval, title: options.title ?? 'this program\'s instance' } });
}

/**
 * npm run viz -- trace FILE: an allocation trace, decoded and replayed once.
 * options.maxEvents (default 2,000,000): the page gets at most this many of a
 * process's events, the first ones (its figures count all of them).
 */
function serveTrace(file, options = {}) {
  const trace = require('./trace');
  const data = trace.read(file);
  const maxEvents = options.maxEvents ?? 2000000;
  const replays = new Map();
  const replayOf = (p) => {
    if (!replays.has(p.pid)) replays.set(p.pid, trace.replay(p, data));
    return replays.get(p.pid);
  };
  const summary = () => ({
    file: path.resolve(file), pageSize: data.pageSize,
    processes: data.processes.map((p) => ({ pid: p.pid, parent: p.parent, events: p.n, shown: Math.min(p.n, maxEvents),
      threads: p.threads.length, seconds: p.n ? p.t[p.n - 1] / 1e9 : 0, stats: replayOf(p).stats })),
  });
  return start('trace', (route, res) => {
    if (route === 'trace') return json(res, summary());
    const m = /^trace\/(\d+)\.bin$/.exec(route);
    if (!m) return false;
    const p = data.processes.find((q) => q.pid === +m[1]);
    if (!p) return send(res, 404, 'text/plain', 'no such process\n');
    // n events: t, live bytes, live blocks, size, addr; then the blocks: from, to, addr, size (Float64)
    const r = replayOf(p);
    const n = Math.min(p.n, maxEvents);
    let nb = 0; // blocks are in order of their first event: those born in the events shown
    while (nb < r.blocks.n && r.blocks.from[nb] < n) nb++;
    const out = new Float64Array(2 + 5 * n + 4 * nb);
    out[0] = n;
    out[1] = nb;
    let o = 2;
    out.set(p.t.subarray(0, n), o); o += n;
    out.set(r.liveBytes.subarray(0, n), o); o += n;
    for (let i = 0; i < n; i++) out[o + i] = r.live[i];
    o += n;
    out.set(p.size.subarray(0, n), o); o += n;
    for (let i = 0; i < n; i++) out[o + i] = p.kind[i];
    o += n;
    for (let b = 0; b < nb; b++) out[o + b] = r.blocks.from[b];
    o += nb;
    for (let b = 0; b < nb; b++) out[o + b] = Math.min(r.blocks.to[b], n);
    o += nb;
    out.set(r.blocks.addr.subarray(0, nb), o); o += nb;
    out.set(r.blocks.size.subarray(0, nb), o);
    return send(res, 200, 'application/octet-stream', Buffer.from(out.buffer));
  }, { ...options, config: { file: path.basename(file) } });
}

module.exports = { start, serveScenarios, serveInstance, serveTrace };
