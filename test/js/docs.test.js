'use strict';
// The pictures of docs/ are current: `npm run docs` (scripts/docs.js) run
// again into a temporary folder gives the very files committed in docs/img/,
// every picture a page shows exists, and the README shows one of them.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const docs = path.join(root, 'docs');

test('regenerating the docs pictures gives the committed files', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-docs-'));
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'docs.js'), '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const made = fs.readdirSync(out).sort();
  const committed = fs.readdirSync(path.join(docs, 'img')).filter((f) => f.endsWith('.svg')).sort();
  assert.deepEqual(made, committed, 'the same set of pictures');
  for (const f of made) {
    assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(docs, 'img', f))),
      `docs/img/${f} is out of date: run npm run docs`);
  }
  fs.rmSync(out, { recursive: true, force: true });
});

test('every picture a docs page shows exists; the README shows one', () => {
  const pages = fs.readdirSync(docs).filter((f) => f.endsWith('.md'));
  for (const p of ['README.md', 'pages.md', 'heap.md', 'arenas.md', 'caches.md', 'mems.md', 'malloc.md']) assert.ok(pages.includes(p), p);
  for (const p of pages) {
    const text = fs.readFileSync(path.join(docs, p), 'utf8');
    for (const m of text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) assert.ok(fs.existsSync(path.join(docs, m[1])), `${p}: ${m[1]}`);
    for (const m of text.matchAll(/\]\(([a-z]+\.md)\)/g)) assert.ok(fs.existsSync(path.join(docs, m[1])), `${p}: ${m[1]}`);
  }
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const pic = /!\[[^\]]*\]\((docs\/img\/[a-z-]+\.svg)\)/.exec(readme);
  assert.ok(pic, 'the README shows a picture from docs/');
  assert.ok(fs.existsSync(path.join(root, pic[1])));
  assert.match(readme, /docs\/README\.md/, 'and says where the rest is');
});
