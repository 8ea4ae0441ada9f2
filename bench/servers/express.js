'use strict';
/*
 * express.js - the Express app of the HTTP benchmark. Run as a child process
 * by bench/js/http.js: binds 127.0.0.1 on a free port and reports
 * { ready, port } over IPC. Routes:
 *   GET /native  per-request scratch from V8 Buffers
 *   GET /arena   the same scratch from an rmem transient arena
 * Both do the same work (bench/servers/work.js) and send the same JSON.
 */
const express = require('express');
const { nativeWork, makeArenaWork } = require('./work');
const { openArena } = require('../js/rmem-api');

const arenaWork = makeArenaWork(openArena());
const app = express();
let n = 0;

app.get('/native', (req, res) => {
  res.json({ route: 'native', sum: nativeWork(n++) });
});
app.get('/arena', (req, res) => {
  res.json({ route: 'arena', sum: arenaWork(n++) });
});

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  if (process.send) process.send({ ready: true, port });
  else console.log(`express bench server on http://127.0.0.1:${port}`);
});
process.on('disconnect', () => process.exit(0));
