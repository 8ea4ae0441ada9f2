'use strict';
// The live page end to end in headless Chromium (Debian's chromium, driven by
// playwright-core): `npm run viz` (the scenarios), rmem.serveViz (a live
// instance) and `npm run viz -- trace FILE` (a python3 run traced by the
// drop-in). Each test loads the page, steps or scrubs, checks what the DOM
// shows against layout() (or the trace's replay), and keeps a screenshot in
// build/viz-test/. Skipped, with the reason, where chromium or playwright-core
// is missing (.ci/run installs chromium).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const CHROMIUM = process.env.RMEM_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(root, 'build', 'viz-test');
let pw = null;
try {
  pw = require('playwright-core');
} catch {
  pw = null;
}
const SKIP = !fs.existsSync(CHROMIUM) ? `chromium not found at ${CHROMIUM} (apt-get install chromium)`
  : !pw ? 'playwright-core is not installed (npm install)' : false;

const rmem = require('../../lib');
const scenarios = require('../../lib/viz/scenarios');
const trace = require('../../lib/viz/trace');

let context = null;
let profile = null;

async function browser() {
  if (context) return context;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-chromium-'));
  // Without the background-networking flags Chromium tries to reach the network, which is closed here.
  context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1300, height: 1100 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return context;
}

test.after(async () => {
  if (context) await context.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

async function open(url) {
  const page = await (await browser()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.__viz && (window.__viz.ready || window.__viz.error), null, { timeout: 60000 });
  assert.equal(await page.evaluate(() => window.__viz.error), null);
  page.errors = errors;
  return page;
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Runs, pages per owner, as the page's table shows them. */
function summary(layout) {
  const own = {};
  for (const r of layout.runs) {
    const o = own[r.owner] || (own[r.owner] = { runs: 0, pages: 0 });
    o.runs++;
    o.pages += r.pages;
  }
  return own;
}

async function ownersShown(page) {
  return page.$$eval('#owners tbody tr', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.owner,
    { runs: +r.dataset.runs, pages: +r.dataset.pages }])));
}

async function figure(page, key) {
  return page.$eval(`#figures tr[data-key="${key}"]`, (r) => +r.dataset.value);
}

/** How many distinct colours the map canvas shows (a blank canvas shows one). */
async function colours(page, id = 'map') {
  return page.$eval(`#${id}`, (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  });
}

async function slide(page, i) {
  await page.$eval('#slider', (el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input'));
  }, i);
}

/** Starts `npm run viz` (lib/viz/cli.js) with args on a free port; resolves { url, child }. */
function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'lib', 'viz', 'cli.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`viz did not start: ${out}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /rmem viz: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => reject(new Error(`viz exited (${code}): ${out}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

test('npm run viz: the scenarios step by step, the DOM agrees with layout()', { skip: SKIP, timeout: 120000 }, async () => {
  const { url, child } = await cli([]);
  try {
    const page = await open(url);
    const names = await page.$$eval('#scenario option', (o) => o.map((x) => x.value));
    assert.deepEqual(names, scenarios.list().map((s) => s.name));
    // the heap scenario (the first), stepped with the buttons and the slider
    const heap = scenarios.run('heap');
    assert.equal(await page.evaluate(() => window.__viz.count), heap.steps.length);
    for (let k = 0; k < 3; k++) await page.click('#next');
    assert.equal(await page.evaluate(() => window.__viz.index), 3);
    for (const k of [3, 9, heap.steps.length - 3]) {
      await slide(page, k);
      const st = heap.steps[k];
      assert.equal(await page.textContent('#step-label'), st.label);
      assert.match(await page.textContent('#step-index'), new RegExp(`step ${k + 1} / ${heap.steps.length}`));
      assert.deepEqual(await ownersShown(page), summary(st.layout), `step ${k}: pages by owner as layout() says`);
      assert.equal(await figure(page, 'pages in use'), st.stats.pagesInUse);
      assert.equal(await figure(page, 'live heap blocks'), st.stats.liveBlocks);
      assert.equal(await page.textContent('#report'), st.text);
      assert.ok(await colours(page) > 3, 'the heap map is drawn');
      if (k === 9) await shot(page, 'scenario-heap');
    }
    // the comparison: two maps, two curves
    await page.selectOption('#scenario', 'firstfit');
    await page.waitForFunction(() => window.__viz.ready && window.__viz.scenario === 'firstfit');
    const ff = scenarios.run('firstfit');
    await slide(page, 12);
    assert.ok(await page.isVisible('#compare-panel'));
    assert.ok(await colours(page, 'map2') > 3, 'the first-fit map is drawn');
    assert.equal(await figure(page, 'first fit: holes'), ff.steps[12].compare.stats.holes);
    assert.deepEqual(await ownersShown(page), summary(ff.steps[12].layout));
    await shot(page, 'scenario-firstfit');
    // every scenario loads and draws
    for (const name of ['arenas', 'slab', 'mems', 'fragmentation']) {
      await page.selectOption('#scenario', name);
      await page.waitForFunction((n) => window.__viz.ready && window.__viz.scenario === n, name);
      const sc = scenarios.run(name);
      const k = Math.floor(sc.steps.length / 2);
      await slide(page, k);
      assert.deepEqual(await ownersShown(page), summary(sc.steps[k].layout), name);
    }
    await shot(page, 'scenario-fragmentation');
    // play moves on by itself
    await page.selectOption('#scenario', 'mems');
    await page.waitForFunction(() => window.__viz.ready && window.__viz.scenario === 'mems');
    await page.click('#play');
    await page.waitForFunction(() => window.__viz.index >= 2, null, { timeout: 10000 });
    await page.click('#play');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await stop(child);
  }
});

test('rmem.serveViz shows a running program\'s instance live', { skip: SKIP, timeout: 60000 }, async () => {
  const mem = new rmem.Rmem({ capacity: 16 << 20 });
  const blocks = [];
  for (let i = 0; i < 2000; i++) blocks.push(mem.alloc(16 + (i * 13) % 900));
  const viz = rmem.serveViz(mem, { port: 0, interval: 200 });
  await viz.ready;
  try {
    const page = await open(viz.url);
    assert.deepEqual(await ownersShown(page), summary(mem.layout()));
    // the program goes on: an arena, a slab cache, MeMS, frees
    const a = mem.createArena({ lifetime: 'persistent' });
    for (let i = 0; i < 500; i++) a.alloc(200);
    const c = mem.createSlabCache('conn', 256);
    for (let i = 0; i < 300; i++) c.alloc();
    mem.mems.init();
    mem.mems.malloc(10000);
    for (let i = 0; i < blocks.length; i += 3) mem.free(blocks[i]);
    const polls = await page.evaluate(() => window.__viz.polls);
    await page.waitForFunction((p) => window.__viz.polls >= p + 2, polls, { timeout: 10000 });
    const want = summary(mem.layout());
    assert.deepEqual(await ownersShown(page), want, 'the page shows the instance as it is now');
    for (const o of ['heap', 'arena', 'slab', 'mems', 'free', 'reserved']) assert.ok(want[o], o);
    assert.equal(await figure(page, 'pages in use'), mem.stats().pagesInUse);
    assert.match(await page.textContent('#report'), /^rmem Stats:/);
    assert.ok(await colours(page) > 3);
    await shot(page, 'live');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await viz.close();
    mem.destroy();
  }
});

const LIB = ['build/test-plain/malloc/librmem-malloc.so', 'build/release/malloc/librmem-malloc.so']
  .map((p) => path.join(root, p)).find((p) => fs.existsSync(p));
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

test('npm run viz -- trace FILE renders a python3 run: blocks over time, the heap at any moment',
  { skip: SKIP || (!LIB && 'librmem-malloc.so is not built (npm run test:c)'), timeout: 120000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-viz-trace-'));
    const file = path.join(dir, 'python3.trace');
    const r = spawnSync(PYTHON, ['-c', 'import json; d = [{"k": i, "v": str(i) * 20} for i in range(30000)]; print(len(json.dumps(d)))'],
      { env: { ...process.env, LD_PRELOAD: LIB, RMEM_MALLOC_TRACE: file }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const d = trace.read(file);
    const p = d.processes[0];
    const rep = trace.replay(p, d);
    const { url, child } = await cli(['trace', file]);
    try {
      const page = await open(url);
      assert.equal(await page.evaluate(() => window.__viz.count), p.n);
      assert.match(await page.textContent('#about'), /the events balance/);
      assert.equal(await figure(page, 'live blocks'), rep.stats.liveAtEnd, 'at the last event');
      for (const i of [Math.floor(p.n / 3), 10, p.n - 50]) {
        await slide(page, i);
        assert.equal(await figure(page, 'live blocks'), rep.live[i], `after event ${i}`);
        assert.equal(await figure(page, 'live bytes'), rep.liveBytes[i]);
        assert.equal((await page.evaluate(() => window.__viz.owners)).liveBlocks, rep.live[i], 'the heap map\'s replay agrees');
      }
      assert.ok(await colours(page, 'timeline') > 3, 'the timeline is drawn');
      assert.ok(await colours(page, 'map') > 2, 'the heap map is drawn');
      await slide(page, Math.floor(p.n / 2));
      await shot(page, 'trace-python3');
      assert.deepEqual(page.errors, []);
      await page.close();
    } finally {
      await stop(child);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
