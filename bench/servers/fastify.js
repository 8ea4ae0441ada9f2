'use strict';
/*
 * fastify.js - the Fastify app of the HTTP benchmark, the twin of express.js:
 * binds 127.0.0.1 on a free port, reports { ready, port } over IPC, serves
 * GET /native (V8 Buffers) and GET /arena (an rmem transient arena) doing the
 * same work (bench/servers/work.js).
 */
const Fastify = require('fastify');
const { nativeWork, makeArenaWork } = require('./work');
const { openArena } = require('../js/rmem-api');

const arenaWork = makeArenaWork(openArena());
const app = Fastify({ logger: false });
let n = 0;

app.get('/native', async () => ({ route: 'native', sum: nativeWork(n++) }));
app.get('/arena', async () => ({ route: 'arena', sum: arenaWork(n++) }));

app.listen({ port: 0, host: '127.0.0.1' }).then(() => {
  const { port } = app.server.address();
  if (process.send) process.send({ ready: true, port });
  else console.log(`fastify bench server on http://127.0.0.1:${port}`);
}, (err) => {
  console.error(err);
  process.exit(1);
});
process.on('disconnect', () => process.exit(0));
