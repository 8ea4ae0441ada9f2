'use strict';
// MeMS from JS: require('rmem/mems') and rmem.mems - init, malloc, get, free,
// printStats, finish, view, stats; bad virtual addresses; and the seed
// README's example run unchanged in a child process, compared line by line.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const rmem = require('../../lib/index.js');
const mems = require('rmem/mems');

const ROOT = path.join(__dirname, '..', '..');

function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

// The seed README's example, verbatim but for the package name.
const README_EXAMPLE = `const mems = require('rmem/mems');

// Initialize MeMS
mems.init();
console.log('MeMS initialized');

// Allocate 1000 bytes
const ptr = mems.malloc(1000);
console.log('Allocated at virtual address:', ptr);

// Get physical address
const phyPtr = mems.get(ptr);
console.log('Physical address:', phyPtr);

// Print memory stats
mems.printStats();

// Free memory
mems.free(ptr);
console.log('Memory freed');

// Clean up
mems.finish();
console.log('MeMS finished');
`;

// The README's "Example Output". Two lines cannot be printed as written:
// the physical address (the README leaves it open; rmem prints the byte offset
// in rmem.memory), and the virtual address: malloc returns a BigInt (the
// README's API table), and console.log prints a BigInt as "1000n".
const README_OUTPUT = [
  'MeMS initialized',
  'Allocated at virtual address: 1000n',
  null, // Physical address: <some_physical_address>
  'MeMS Stats:',
  'MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>',
  'Page used: 1',
  'Space unused: 3096',
  'Main Chain Length: 1',
  'Sub-chain Length array: 2',
  'Memory freed',
  '..........Successfully UnMapped the Memory without Errors .........',
  'MeMS finished',
];

test('the seed README example runs unchanged and prints its output line by line', () => {
  const r = spawnSync(process.execPath, ['-e', README_EXAMPLE], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  assert.equal(lines.length, README_OUTPUT.length, r.stdout);
  for (let i = 0; i < lines.length; i++) {
    if (README_OUTPUT[i] === null) {
      assert.match(lines[i], /^Physical address: \d+n$/);
    } else {
      assert.equal(lines[i], README_OUTPUT[i], `line ${i + 1}`);
    }
  }
});

test('mems before init() throws ERR_RMEM_NOT_INITIALIZED', () => {
  throwsCode(() => mems.malloc(10), 'ERR_RMEM_NOT_INITIALIZED');
  throwsCode(() => mems.printStats(), 'ERR_RMEM_NOT_INITIALIZED');
});

test('rmem.mems is require("rmem/mems")', () => {
  assert.equal(rmem.mems, mems);
});

test('malloc returns BigInt virtual addresses from 1000n; get maps every byte to its offset in memory', () => {
  mems.init();
  const a = mems.malloc(1000);
  const b = mems.malloc(5000);
  assert.equal(a, 1000n);
  assert.equal(b, 5096n, 'no hole of the first main node fits 5000 bytes: a new main node follows it');
  const off = mems.get(a);
  assert.equal(typeof off, 'bigint');
  assert.ok(off > 0n && off < BigInt(rmem.memory.byteLength));
  assert.equal(mems.get(a + 999n), off + 999n);
  assert.equal(mems.get(1500), off + 500n, 'numbers are accepted too');
  // view writes where get points
  const v = mems.view(a, 1000);
  v.fill(0x5a);
  assert.equal(rmem.HEAPU8[Number(off) + 10], 0x5a);
  assert.equal(mems.view(a + 10n).length, 990, 'view defaults to the rest of the segment');
  const s = mems.stats();
  assert.equal(s.processSegments, 2);
  assert.equal(s.bytesInUse, 6000);
  assert.equal(mems.validate(), 0);
  mems.free(a);
  mems.free(b);
  assert.equal(mems.stats().processSegments, 0);
  assert.equal(rmem.validate(), 0);
});

test('bad virtual addresses and sizes throw; MeMS stays intact', () => {
  const a = mems.malloc(100);
  throwsCode(() => mems.free(999n), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => mems.free(a + 1n), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => mems.free(123456789n), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => mems.get(a + 100000n), 'ERR_RMEM_INVALID_POINTER');
  throwsCode(() => mems.view(a, 101), 'ERR_OUT_OF_RANGE');
  throwsCode(() => mems.free(-1n), 'ERR_OUT_OF_RANGE');
  throwsCode(() => mems.free(2n ** 64n), 'ERR_OUT_OF_RANGE');
  throwsCode(() => mems.free('1000'), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => mems.malloc(0), 'ERR_OUT_OF_RANGE');
  throwsCode(() => mems.malloc('10'), 'ERR_INVALID_ARG_TYPE');
  // more than this instance can hold, now or ever, is out of memory (as for rAlloc)
  throwsCode(() => mems.malloc(1 << 30), 'ERR_RMEM_OUT_OF_MEMORY');
  const huge = mems.malloc(40 << 20);
  throwsCode(() => mems.malloc(40 << 20), 'ERR_RMEM_OUT_OF_MEMORY');
  mems.free(huge);
  mems.free(a);
  throwsCode(() => mems.free(a), 'ERR_RMEM_DOUBLE_FREE');
  throwsCode(() => mems.get(a), 'ERR_RMEM_INVALID_POINTER');
  assert.equal(mems.validate(), 0);
  assert.equal(rmem.validate(), 0);
});

test('finish() releases everything; a later init() starts from 1000n again', () => {
  mems.malloc(10);
  mems.finish();
  throwsCode(() => mems.malloc(10), 'ERR_RMEM_NOT_INITIALIZED');
  mems.init();
  assert.equal(mems.malloc(10), 1000n);
  mems.finish();
});

test('Rmem#mems is per instance and its finish() is silent', () => {
  const rm = new rmem.Rmem({ capacity: 1 << 20 });
  rm.mems.init();
  assert.equal(rm.mems.malloc(64), 1000n);
  assert.match(require('node:util').inspect(rm.mems), /Mems.*processSegments: 1/s);
  rm.mems.finish();
  rm.destroy();
});

test('rmem.view() does not open MeMS pages by offset (holes included): mems.view() does, by virtual address', () => {
  mems.init();
  const v = mems.malloc(100);
  const off = Number(mems.get(v));
  assert.throws(() => rmem.view(off, 8), (e) => e.code === 'ERR_RMEM_INVALID_POINTER');
  assert.equal(mems.view(v, 100).length, 100);
  mems.finish();
});
