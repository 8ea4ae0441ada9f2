'use strict';
// The modern API: Rmem instances (independent ranges), destroy() detaching
// memory, the Heap object, util.inspect, Symbol.dispose, the ESM entry points
// and the CommonJS / ESM sameness of the default instance.
const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const rmem = require('../../lib/index.js');
const { Rmem } = rmem;

const ROOT = path.join(__dirname, '..', '..');

function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

test('instances have separate memories; pointers of one are refused by another', () => {
  const a = new Rmem({ capacity: 1 << 20 });
  const b = new Rmem({ capacity: 2 << 20 });
  assert.equal(a.capacity, 1 << 20);
  assert.equal(b.memory.byteLength, 2 << 20);
  assert.notEqual(a.memory, b.memory);
  const pa = a.alloc(100000);
  throwsCode(() => b.free(pa), 'ERR_RMEM_INVALID_POINTER');
  a.free(pa);
  assert.equal(a.validate(), 0);
  assert.equal(b.validate(), 0);
  a.destroy();
  b.destroy();
});

test('capacity is checked', () => {
  throwsCode(() => new Rmem({ capacity: 1000 }), 'ERR_OUT_OF_RANGE');
  throwsCode(() => new Rmem({ capacity: 2 ** 33 }), 'ERR_OUT_OF_RANGE');
  throwsCode(() => new Rmem({ capacity: '1M' }), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => new Rmem(42), 'ERR_INVALID_ARG_TYPE');
});

test('destroy() gives the memory back and every later call throws ERR_RMEM_DESTROYED', () => {
  const rm = new Rmem({ capacity: 1 << 20 });
  const u8 = rm.HEAPU8;
  const mem = rm.memory;
  const p = rm.alloc(64);
  const a = rm.createArena(4096, 0);
  const c = rm.createSlabCache('c', 16);
  u8[p] = 1;
  rm.destroy();
  assert.equal(rm.destroyed, true);
  // never detached (a native job may still use it, see destroy.test.js): fresh zero pages, mapped until collected
  assert.equal(mem.byteLength, 1 << 20);
  assert.equal(u8[p], 0);
  throwsCode(() => rm.alloc(8), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rm.free(p), 'ERR_RMEM_DESTROYED');
  throwsCode(() => a.alloc(8), 'ERR_RMEM_DESTROYED');
  throwsCode(() => c.alloc(), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rm.stats(), 'ERR_RMEM_DESTROYED');
  throwsCode(() => rm.HEAPU8, 'ERR_RMEM_DESTROYED');
  throwsCode(() => rm.mems.init(), 'ERR_RMEM_DESTROYED');
  rm.destroy(); // idempotent
  assert.equal(util.inspect(rm), 'Rmem <destroyed>');
});

test('the heap object and the instance shortcuts', () => {
  const rm = new Rmem({ capacity: 4 << 20 });
  const h = rm.heap;
  const p = h.calloc(10, 10);
  assert.ok(rm.view(p, 100).every((b) => b === 0));
  rm.view(p, 100).fill(9);
  const q = h.realloc(p, 5000);
  assert.equal(rm.view(q, 100).every((b) => b === 9), true, 'realloc keeps the bytes');
  const r = h.alignedAlloc(4096, 10);
  assert.equal(r % 4096, 0);
  assert.ok(h.usableSize(r) >= 10);
  // realloc of a block the JS front handed out
  const s = rm.alloc(24);
  rm.view(s, 24).fill(3);
  const t = rm.realloc(s, 2000);
  assert.ok(rm.view(t, 24).every((b) => b === 3));
  throwsCode(() => rm.free(s === t ? -1 : s), s === t ? 'ERR_OUT_OF_RANGE' : 'ERR_RMEM_DOUBLE_FREE');
  throwsCode(() => h.alignedAlloc(3, 10), 'ERR_INVALID_ARG_VALUE');
  throwsCode(() => h.calloc(2 ** 31, 2 ** 31), 'ERR_OUT_OF_RANGE');
  for (const x of [q, r, t]) h.free(x);
  assert.equal(h.stats().liveBlocks, 0);
  assert.equal(typeof h.defrag().merged, 'number');
  rm.check();
  rm.destroy();
});

test('util.inspect shows the stats of an instance and its heap', () => {
  const rm = new Rmem({ capacity: 1 << 20 });
  rm.alloc(64);
  const s = util.inspect(rm);
  assert.match(s, /^Rmem \{/);
  assert.match(s, /capacity: 1048576/);
  assert.match(s, /liveBlocks: 1/);
  assert.match(util.inspect(rm.heap), /^Heap \{/);
  rm.destroy();
});

test('Symbol.dispose destroys', { skip: typeof Symbol.dispose !== 'symbol' }, () => {
  const rm = new Rmem({ capacity: 1 << 20 });
  rm[Symbol.dispose]();
  assert.equal(rm.destroyed, true);
});

test('instances made and dropped in a loop are collected (finalisers free their ranges)', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
    const { Rmem } = require('rmem');
    for (let i = 0; i < 300; i++) { const rm = new Rmem({ capacity: 64 << 20 }); rm.HEAPU8[rm.alloc(8)] = 1; if (i % 50 === 0) gc(); }
    gc();
    console.log('ok');
  `], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
});

test('ESM entry points: named and default exports, one default instance shared with CommonJS', () => {
  const code = `
    import rmem, { init, rAlloc, rFree, Rmem, LIFETIME, mems } from 'rmem';
    import * as m from 'rmem/mems';
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)('rmem');
    init();
    const p = rAlloc(10);
    rmem.HEAPU8[p] = 7;
    if (cjs.HEAPU8[p] !== 7 || cjs.instance() !== rmem.instance()) throw new Error('two default instances');
    rFree(p);
    if (mems !== m.default || typeof m.malloc !== 'function') throw new Error('mems');
    if (LIFETIME.PERSISTENT !== 2 || typeof Rmem !== 'function') throw new Error('exports');
    console.log('esm ok');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'esm ok');
});

test('the .d.ts files declare every runtime export', () => {
  const fs = require('node:fs');
  const dts = fs.readFileSync(path.join(ROOT, 'lib', 'index.d.ts'), 'utf8');
  for (const name of Object.keys(rmem)) {
    assert.match(dts, new RegExp(`(function|const|class) ${name}\\b`), `index.d.ts lacks ${name}`);
  }
  const mdts = fs.readFileSync(path.join(ROOT, 'lib', 'mems.d.ts'), 'utf8');
  for (const name of Object.keys(rmem.mems)) assert.match(mdts, new RegExp(`function ${name}\\b`), `mems.d.ts lacks ${name}`);
});

test('V8 is told about the off-heap bytes in use (napi_adjust_external_memory)', () => {
  // V8 does not show these adjustments in process.memoryUsage(); the bridge
  // reports what it announced (stats().externalReported), which follows the
  // pages in use.
  const rm = new Rmem({ capacity: 32 << 20 });
  const before = rm.stats().externalReported;
  const p = rm.alloc(8 << 20);
  const during = rm.stats().externalReported;
  assert.ok(during - before >= 8 << 20, `announced ${during - before} more bytes`);
  assert.ok(Math.abs(during - rm.stats().pagesInUse) < 256 << 10);
  rm.free(p);
  rm.defrag();
  const after = rm.stats().externalReported;
  assert.ok(during - after >= 8 << 20, `announced ${during - after} fewer bytes`);
  rm.destroy();
});
