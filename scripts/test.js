'use strict';
// `npm test`: every suite, one after the other, each one's output streamed as
// it comes (builds show their progress), then one line per suite and a last
// line that totals them all: `total: N passed, N failed` (`, N skipped` when a
// suite could not run here). Exits non-zero if anything failed.
//
// A suite is a command in SUITES below. Its counts are read from its own
// output, whatever runs it: ctest's "N% tests passed, N tests failed out of N",
// node:test's "# pass N" / "# fail N" / "# cancelled N", or a line
// "[name:] N passed, N failed" (what scripts/test-types.js, test-c-install.sh
// and test-pack.js print). A suite whose output has none of these counts as one
// test, passed or failed by its exit status; one that exits non-zero with no
// failure counted gets one failure (a build that broke, say). So adding a
// suite is one line here.
//
//   npm test                      all suites
//   npm test -- types pack        only the suites whose names contain one of the words
//
// The viz suite (test/viz/: the live page in headless Chromium, through
// playwright-core) is skipped with its reason when /usr/bin/chromium (Debian's
// chromium; RMEM_CHROMIUM names another) is missing, unless RMEM_TEST_VIZ=1
// (CI sets it: .ci/run installs chromium, so there a missing one fails).
//
// The Windows suite (the C tests cross-built with mingw-w64 and run under wine,
// scripts/test-windows.sh, about a minute) is skipped with its reason when
// mingw-w64 or wine is missing, unless RMEM_TEST_WINDOWS=1 (CI sets it: then a
// missing tool fails); RMEM_TEST_WINDOWS=0 skips it.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const node = process.execPath;

/** Other Node.js binaries to run the JS tests with: build/node18/node (scripts/get-node18.sh), RMEM_TEST_NODES. */
function otherNodes() {
  const list = (process.env.RMEM_TEST_NODES || '').split(':').filter(Boolean);
  const node18 = path.join(root, 'build', 'node18', 'node');
  if (fs.existsSync(node18) && !list.includes(node18)) list.push(node18);
  return list.map((bin) => {
    const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    return { bin, version: r.status === 0 ? r.stdout.trim() : null };
  });
}

function jsArgs(version) {
  const [major, minor] = version.split('.').map(Number);
  // --test-concurrency: Node 20.10 and later; older runners take the files one by one on 2 cores anyway
  const conc = major > 20 || (major === 20 && minor >= 10) ? ['--test-concurrency=1'] : [];
  return ['--test', ...conc, 'test/js/'];
}

/** The C tests for Windows under wine, or why they cannot run here. */
function windowsSuite() {
  const name = 'C (Windows, under wine)';
  const want = process.env.RMEM_TEST_WINDOWS;
  if (want === '0') return { name, skip: 'RMEM_TEST_WINDOWS=0' };
  const check = spawnSync('bash', ['scripts/test-windows.sh', '--check'], { cwd: root, encoding: 'utf8' });
  if (check.status === 0 || want === '1') return { name, cmd: 'bash', args: ['scripts/test-windows.sh'] };
  const why = (check.stdout || '').trim() || 'mingw-w64 or wine not found';
  return { name, skip: `${why}; apt-get install gcc-mingw-w64-x86-64 wine64` };
}

/**
 * Every C test under valgrind's memcheck, test_track's bugs included (about a minute; three on a busy
 * machine), or why it cannot run here (CI, where it must, fails instead).
 */
function valgrindSuite() {
  const name = 'C (valgrind memcheck)';
  const has = spawnSync('bash', ['-c', 'command -v valgrind && test -f /usr/include/valgrind/memcheck.h'], { encoding: 'utf8' });
  if (has.status === 0 || process.env.CI) return { name, cmd: 'bash', args: ['scripts/test-c.sh', 'valgrind'] };
  return { name, skip: 'valgrind not found; apt-get install valgrind' };
}

/** The live page in headless Chromium (test/viz/), or why it cannot run here. */
function vizSuite() {
  const name = 'viz (Chromium)';
  const chromium = process.env.RMEM_CHROMIUM || '/usr/bin/chromium';
  let why = null;
  if (!fs.existsSync(chromium)) why = `chromium not found at ${chromium}; apt-get install chromium`;
  else if (!fs.existsSync(path.join(root, 'node_modules', 'playwright-core'))) why = 'playwright-core not installed: npm install';
  if (!why) return { name, cmd: node, args: ['--test', 'test/viz/'] };
  // CI sets RMEM_TEST_VIZ=1: there a missing browser is a failure, not a skip
  if (process.env.RMEM_TEST_VIZ === '1') return { name, cmd: node, args: ['-e', `console.error(${JSON.stringify(why)}); process.exit(1)`] };
  return { name, skip: why };
}

const SUITES = [
  { name: 'addon build', build: true, cmd: node, args: ['scripts/build.js'] },
  { name: 'C (plain)', cmd: 'bash', args: ['scripts/test-c.sh', 'plain'] },
  { name: 'C (ASan+UBSan)', cmd: 'bash', args: ['scripts/test-c.sh', 'asan'] },
  { name: 'C (TSan, threads)', cmd: 'bash', args: ['scripts/test-c.sh', 'tsan'] },
  valgrindSuite(),
  { name: 'fuzz corpus replay', cmd: 'bash', args: ['scripts/fuzz.sh', '--replay'] },
  { name: `JS (Node ${process.versions.node})`, cmd: node, args: jsArgs(process.versions.node) },
  ...otherNodes().map(({ bin, version }) => (version
    ? { name: `JS (Node ${version})`, cmd: bin, args: jsArgs(version) }
    : { name: `JS (${bin})`, skip: `${bin} does not run` })),
  vizSuite(),
  { name: 'types', cmd: node, args: ['scripts/test-types.js'] },
  { name: 'C install', cmd: 'bash', args: ['scripts/test-c-install.sh'] },
  windowsSuite(),
  { name: 'pack', cmd: node, args: ['scripts/test-pack.js'] },
];
if (!otherNodes().some((n) => n.version && n.version.startsWith('18.'))) {
  SUITES.splice(SUITES.findIndex((s) => s.name.startsWith('JS (Node ')) + 1, 0,
    { name: 'JS (Node 18)', skip: 'no Node 18 here: bash scripts/get-node18.sh' });
}

/** { passed, failed } read from a suite's output, or null if it prints no counts. */
function counts(text) {
  const ctest = [...text.matchAll(/^\d+% tests passed, (\d+) tests? failed out of (\d+)/gm)];
  if (ctest.length) {
    return ctest.reduce((c, m) => ({ passed: c.passed + (+m[2] - +m[1]), failed: c.failed + +m[1] }), { passed: 0, failed: 0 });
  }
  const num = (re) => [...text.matchAll(re)].reduce((s, m) => s + +m[1], 0);
  if (/^(?:#|ℹ) pass \d+/m.test(text)) {
    return { passed: num(/^(?:#|ℹ) pass (\d+)/gm), failed: num(/^(?:#|ℹ) fail (\d+)/gm) + num(/^(?:#|ℹ) cancelled (\d+)/gm) };
  }
  const plain = [...text.matchAll(/^(?:[\w-]+: )?(\d+) passed, (\d+) failed/gm)];
  if (plain.length) {
    return plain.reduce((c, m) => ({ passed: c.passed + +m[1], failed: c.failed + +m[2] }), { passed: 0, failed: 0 });
  }
  return null;
}

function runSuite(s) {
  return new Promise((resolve) => {
    let text = '';
    const child = spawn(s.cmd, s.args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { text += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { text += d; process.stderr.write(d); });
    child.on('error', (e) => { text += `\n${e.message}\n`; });
    child.on('close', (code, signal) => resolve({ status: code ?? signal, text }));
  });
}

async function main() {
  const words = process.argv.slice(2).map((w) => w.toLowerCase());
  const chosen = SUITES.filter((s) => s.build || words.length === 0 || words.some((w) => s.name.toLowerCase().includes(w)));
  const rows = [];
  const t00 = Date.now();
  for (const s of chosen) {
    if (s.skip) {
      console.log(`\n### ${s.name}: skipped (${s.skip})`);
      rows.push({ name: s.name, passed: 0, failed: 0, skipped: 1, note: s.skip });
      continue;
    }
    console.log(`\n### ${s.name}: ${path.basename(s.cmd)} ${s.args.join(' ')}`);
    const t0 = Date.now();
    const r = await runSuite(s);
    const secs = (Date.now() - t0) / 1000;
    let c = s.build ? { passed: 0, failed: 0 } : counts(r.text);
    if (c === null) c = r.status === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
    else if (r.status !== 0 && c.failed === 0) c.failed = 1;
    rows.push({ name: s.name, ...c, skipped: 0, secs, build: s.build });
    if (r.status !== 0) console.log(`### ${s.name} FAILED (status ${r.status})`);
  }
  const total = rows.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }),
    { passed: 0, failed: 0, skipped: 0 });
  console.log('\n### summary');
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const what = r.skipped ? `skipped: ${r.note}` : r.build && r.failed === 0 ? 'built' : `${r.passed} passed, ${r.failed} failed`;
    console.log(`  ${r.name.padEnd(width)}  ${what}${r.secs !== undefined ? `  (${r.secs.toFixed(1)} s)` : ''}`);
  }
  console.log(`  in ${((Date.now() - t00) / 1000).toFixed(0)} s`);
  console.log(`total: ${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  process.exit(total.failed === 0 ? 0 : 1);
}

main();
