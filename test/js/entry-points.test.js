'use strict';
// The package's faces agree: the names lib/index.d.ts and lib/mems.d.ts
// declare are exactly the names require('rmem') and import('rmem') give (and
// the same for rmem/mems), `default` is the module in both, the ESM views are
// live bindings, and SlabCache.name is the name C stores.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');

/** The value exports (not types) a .d.ts file declares, by the TypeScript compiler's own reading. */
function declaredValues(file) {
  const ts = require('typescript');
  const program = ts.createProgram([file], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022 });
  const checker = program.getTypeChecker();
  const sym = checker.getSymbolAtLocation(program.getSourceFile(file));
  return checker.getExportsOfModule(sym)
    .filter((s) => ((s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value) !== 0)
    .map((s) => s.name).sort();
}

for (const [spec, dts] of [['rmem', 'lib/index.d.ts'], ['rmem/mems', 'lib/mems.d.ts']]) {
  test(`${spec}: the names ${dts} declares are the names CommonJS and ESM export`, async () => {
    const declared = declaredValues(path.join(ROOT, dts));
    // in a child: reading the CommonJS getters would create no instance, but keep this process clean anyway
    const code = `
      const cjs = require(${JSON.stringify(spec)});
      import(${JSON.stringify(spec)}).then((esm) => {
        console.log(JSON.stringify({ cjs: [...Object.keys(cjs), 'default'].sort(), esm: Object.keys(esm).sort(),
          cjsDefault: cjs.default === cjs, esmDefault: esm.default === cjs }));
      });`;
    const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.deepEqual(got.esm, declared, 'ESM exports vs the .d.ts');
    assert.deepEqual(got.cjs, declared, 'CommonJS exports vs the .d.ts');
    assert.ok(got.cjsDefault, 'require(spec).default is the module');
    assert.ok(got.esmDefault, 'the ESM default export is the CommonJS module');
  });
}

test('ESM memory and views are live bindings: undefined before the default instance, its views after', () => {
  const code = `
    import { initArenas, instance, memory, HEAPU8, HEAP32, HEAPU64, dataView } from 'rmem';
    import * as cjs from 'rmem';
    const before = [memory, HEAPU8, HEAP32, HEAPU64, dataView].every((v) => v === undefined);
    initArenas(); // creates the default instance without init()
    const d = instance();
    const after = memory === d.memory && HEAPU8 === d.HEAPU8 && HEAP32 === d.HEAP32 && HEAPU64 === d.HEAPU64 &&
      dataView === d.dataView && HEAPU8.buffer === memory;
    console.log(JSON.stringify({ before, after }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { before: true, after: true });
});

test('ESM bindings follow a new default instance after the old one was destroyed', () => {
  const code = `
    import { init, instance, HEAPU8, memory } from 'rmem';
    init();
    const first = HEAPU8;
    instance().destroy();
    init(); // a destroyed default instance is replaced
    console.log(JSON.stringify({ moved: first !== HEAPU8, current: HEAPU8 === instance().HEAPU8 && memory === instance().memory }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { moved: true, current: true });
});

test('ESM bindings also follow an init() made through require()', () => {
  const code = `
    import { createRequire } from 'node:module';
    import { HEAPU8 } from 'rmem';
    const require = createRequire(import.meta.url);
    require('rmem').init();
    console.log(HEAPU8 === require('rmem').HEAPU8);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true');
});

test('SlabCache.name is the name C stores: 31 bytes of UTF-8 at most, whole characters, up to a NUL', () => {
  const { Rmem } = require('../../lib/index.js');
  const rm = new Rmem({ capacity: 1 << 20 });
  const cases = [
    ['session', 'session'],
    ['a'.repeat(40), 'a'.repeat(31)],
    ['é'.repeat(20), 'é'.repeat(15)], // 2 bytes each: 15 fit in 31
    ['x'.repeat(30) + 'é', 'x'.repeat(30)], // the é would need bytes 31 and 32
    ['😀'.repeat(9), '😀'.repeat(7)], // 4 bytes each
    ['ab\u0000cd', 'ab'],
    ['', ''],
    [null, ''],
    [undefined, ''],
  ];
  for (const [name, stored] of cases) {
    const c = rm.createSlabCache(name, 16);
    assert.equal(c.name, stored, JSON.stringify(name));
    assert.equal(c.stats().name, c.name, JSON.stringify(name));
    assert.ok(Buffer.byteLength(c.name) <= 31);
    c.destroy();
  }
  rm.destroy();
});

test('RMEM_ADDON names the addon to load, and is the only candidate', () => {
  const code = 'const r = require("rmem"); r.init(); r.rFree(r.rAlloc(8)); console.log("loaded")';
  const ok = spawnSync(process.execPath, ['-e', code], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, RMEM_ADDON: require('node-gyp-build').resolve(ROOT) },
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'loaded');
  const missing = path.join(ROOT, 'build', 'no-such-addon.node');
  const bad = spawnSync(process.execPath, ['-e', 'try { require("rmem"); } catch (e) { console.log(e.code, e.message); }'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, RMEM_ADDON: missing },
  });
  assert.match(bad.stdout, /^ERR_RMEM_ADDON_MISSING rmem: RMEM_ADDON=.*no-such-addon\.node could not be loaded/);
});
