#!/usr/bin/env node
'use strict';
// cli.js - `npm run viz`: the live page on 127.0.0.1.
//
//   npm run viz                          the scenarios, step by step
//   npm run viz -- trace FILE            an allocation trace (RMEM_MALLOC_TRACE=FILE program ...)
//   npm run viz -- --port 0              any free port (default 8421)
//   npm run viz -- --help
const USAGE = `npm run viz [-- [trace FILE] [--port N] [--host ADDR]]

Serves the live page on http://127.0.0.1:8421/ (Ctrl-C stops it):
  (no arguments)   the scenarios: the seeds' flows (heap, arenas, slab cache, MeMS),
                   fragmentation over time, and first fit against rmem's size classes,
                   step by step with a timeline slider, the heap map, the figures and
                   charts of fragmentation and resident memory
  trace FILE       an allocation trace of a real program, made with the drop-in malloc:
                     RMEM_MALLOC_TRACE=FILE LD_PRELOAD=build/release/malloc/librmem-malloc.so program
                   shown as blocks over time (coloured by size class) and the heap at any moment
  --max-events N   trace: show at most the first N events of a process (default 2000000)
  --port N         the port (0: any free one)
  --host ADDR      the address to listen on (default 127.0.0.1: this machine only)`;

function main(argv) {
  let port = 8421;
  let host = '127.0.0.1';
  let file = null;
  let maxEvents;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return null;
    }
    if (a === '--port') port = Number(argv[++i]);
    else if (a.startsWith('--port=')) port = Number(a.slice(7));
    else if (a === '--host') host = argv[++i];
    else if (a === '--max-events') maxEvents = Number(argv[++i]);
    else if (a === 'trace') file = argv[++i];
    else {
      console.error(`rmem viz: unknown argument ${a}\n\n${USAGE}`);
      process.exitCode = 2;
      return null;
    }
  }
  const server = require('./server');
  if (file === undefined) {
    console.error('rmem viz: trace needs a FILE');
    process.exitCode = 2;
    return null;
  }
  let viz;
  try {
    viz = file ? server.serveTrace(file, { port, host, maxEvents }) : server.serveScenarios({ port, host });
  } catch (e) {
    console.error(`rmem viz: ${e.message}`);
    process.exitCode = 1;
    return null;
  }
  viz.ready.then(() => {
    console.log(`rmem viz: ${viz.url}${file ? ` (trace ${file})` : ''}  (Ctrl-C to stop)`);
  }, (e) => {
    console.error(`rmem viz: cannot listen on ${host}:${port}: ${e.message}`);
    process.exitCode = 1;
  });
  process.on('SIGINT', () => viz.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => viz.close().then(() => process.exit(0)));
  return viz;
}

if (require.main === module) main(process.argv.slice(2));
module.exports = { main };
