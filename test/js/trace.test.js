'use strict';
// The drop-in's allocation trace (RMEM_MALLOC_TRACE, malloc/trace.c) on real
// programs: python3 (threads and a fork) and sqlite3 under LD_PRELOAD of
// librmem-malloc.so. The trace must decode and its events balance: every
// free names a block the trace saw allocated (a fork child's may be the
// parent's), no address is handed out twice while live.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const trace = require('../../lib/viz/trace');

const root = path.join(__dirname, '..', '..');
const LIB = [process.env.RMEM_MALLOC_LIB, 'build/test-plain/malloc/librmem-malloc.so', 'build/release/malloc/librmem-malloc.so']
  .filter(Boolean).map((p) => path.resolve(root, p)).find((p) => fs.existsSync(p));
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const have = (cmd) => spawnSync(cmd, ['--version'], { encoding: 'utf8' }).status === 0;
const noLib = LIB ? false : 'librmem-malloc.so is not built (npm run test:c or npm run build:c)';

function traced(cmd, args, file, extraEnv = {}) {
  const env = { ...process.env, LD_PRELOAD: LIB, RMEM_MALLOC_TRACE: file, ...extraEnv };
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `${cmd} failed: ${r.stderr}`);
  return r;
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-trace-'));

test('python3 with threads and a fork: the trace decodes and balances', { skip: noLib || (!have(PYTHON) && 'python3 not installed') }, () => {
  const dir = tmp();
  const file = path.join(dir, 'py.trace');
  const script = `
import os, sys, threading, json
def work(n):
    d = [{"k": i, "v": "x" * (i % 300)} for i in range(n)]
    return len(json.dumps(d))
ts = [threading.Thread(target=work, args=(3000,)) for _ in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
pid = os.fork()
if pid == 0:
    work(2000)
    sys.exit(0)  # exit() flushes the trace; os._exit would lose what is still buffered
os.waitpid(pid, 0)
print(work(5000))
`;
  traced(PYTHON, ['-c', script], file);
  const d = trace.read(file);
  assert.equal(d.version, 2);
  assert.equal(d.pageSize, 4096);
  const main = d.processes.find((p) => p.parent === 0);
  assert.ok(main.n > 1000, `${main.n} events`);
  assert.ok(main.threads.length >= 4, 'the main thread and three more');
  for (let i = 1; i < main.n; i++) assert.ok(main.t[i] >= main.t[i - 1], 'time order');
  const r = trace.replay(main, d);
  assert.equal(r.stats.unmatchedFrees, 0, 'every free names a live block');
  assert.equal(r.stats.reused, 0, 'no address is handed out twice while live');
  assert.ok(r.stats.balanced);
  assert.equal(r.live[main.n - 1], r.stats.liveAtEnd);
  const child = d.processes.find((p) => p.parent === main.pid);
  assert.ok(child, 'the fork child wrote its own events');
  const rc = trace.replay(child, d);
  assert.ok(rc.stats.inherited > 0, 'a fork child starts with its parent\'s live blocks');
  assert.equal(rc.stats.unmatchedFrees, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('sqlite3: the trace decodes and balances', { skip: noLib || (!have('sqlite3') && 'sqlite3 not installed') }, () => {
  const dir = tmp();
  const file = path.join(dir, 'sq.trace');
  traced('sqlite3', [':memory:', 'CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000) INSERT INTO t SELECT x, hex(randomblob(x % 100)) FROM c; CREATE INDEX ti ON t(b); SELECT count(*) FROM t;'], file);
  const d = trace.read(file);
  assert.equal(d.processes.length, 1);
  const r = trace.replay(d.processes[0], d);
  assert.ok(r.stats.allocs > 1000);
  assert.ok(r.stats.frees > 1000);
  assert.ok(r.stats.balanced, JSON.stringify(r.stats));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('off, it writes nothing; a file that cannot be opened is reported and the program runs on', { skip: noLib || (!have('sqlite3') && 'sqlite3 not installed') }, () => {
  const dir = tmp();
  const r = spawnSync('sqlite3', [':memory:', 'SELECT 1;'], { env: { ...process.env, LD_PRELOAD: LIB, RMEM_MALLOC_TRACE: '' }, encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.deepEqual(fs.readdirSync(dir), []);
  const bad = traced('sqlite3', [':memory:', 'SELECT 1;'], path.join(dir, 'no', 'such', 'dir', 't.trace'));
  assert.match(bad.stderr, /rmem-malloc: cannot open the trace file/);
  assert.equal(bad.stdout.trim(), '1');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a second run truncates the file; a damaged file is refused with a code', { skip: noLib || (!have('sqlite3') && 'sqlite3 not installed') }, () => {
  const dir = tmp();
  const file = path.join(dir, 't.trace');
  traced('sqlite3', [':memory:', 'SELECT 1;'], file);
  const first = fs.statSync(file).size;
  traced('sqlite3', [':memory:', 'SELECT 1;'], file);
  assert.ok(Math.abs(fs.statSync(file).size - first) < first / 2, 'not appended to the last run');
  assert.equal(trace.read(file).processes.length, 1);
  fs.writeFileSync(file, 'not a trace at all, no header here');
  assert.throws(() => trace.read(file), { code: 'ERR_RMEM_BAD_TRACE' });
  // a block cut short (the program died while writing) is left out, the rest still reads
  traced('sqlite3', [':memory:', 'SELECT 1;'], file);
  const whole = fs.readFileSync(file);
  const cut = path.join(dir, 'cut.trace');
  fs.writeFileSync(cut, whole.subarray(0, whole.length - 10));
  assert.ok(trace.read(cut).processes.length <= 1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the replay\'s address table agrees with a Map under random inserts and deletes', () => {
  const m = new trace.AddrMap();
  const ref = new Map();
  let s = 1;
  const rnd = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s; };
  for (let i = 0; i < 200000; i++) {
    const k = 0x7f0000000000 + (rnd() % 4000) * 16 + (rnd() % 3) * 2 ** 32;
    if (rnd() % 3) {
      m.set(k, i);
      ref.set(k, i);
    } else {
      assert.equal(m.delete(k), ref.delete(k));
    }
    if (i % 4999 === 0) {
      assert.equal(m.size, ref.size);
      for (const [key, v] of ref) assert.equal(m.get(key), v);
    }
  }
  assert.equal(m.get(12345), undefined);
});
