'use strict';
// `npm run test:types` (part of npm test): the shipped types (lib/*.d.ts)
// against the README's TypeScript example and test/types/api.ts, each as a .ts
// (CommonJS under nodenext) and a .mts (ESM) file, with `tsc --strict` and no
// @types packages, under
//   module nodenext  + target es2022   (a default lib without esnext.disposable)
//   module nodenext  (target esnext implied: lib esnext's Symbol.dispose merges)
//   module esnext    + moduleResolution bundler + target es2022
//   module preserve  + moduleResolution bundler + target es2020 (the oldest lib the types need)
// with every TypeScript in devDependencies (5.9 and 7). Then the example is
// compiled (nodenext) and run, as a .js and as a .mjs: types and runtime agree.
// 'rmem' resolves to this repository through package.json's name and exports
// (self-reference), as it would from node_modules.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { example } = require('./readme-examples');

const root = path.join(__dirname, '..');
const work = path.join(root, 'build', 'test-types');

const compilers = ['typescript', 'typescript-7'].flatMap((pkg) => {
  try {
    const file = require.resolve(`${pkg}/package.json`);
    const { version, bin } = require(file);
    return [{ name: `tsc ${version}`, bin: path.join(path.dirname(file), typeof bin === 'string' ? bin : bin.tsc) }];
  } catch {
    return [];
  }
});

const configs = [
  { name: 'module nodenext, target es2022', options: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022' } },
  { name: 'module nodenext, default target', options: { module: 'nodenext', moduleResolution: 'nodenext' } },
  { name: 'bundler, target es2022', options: { module: 'esnext', moduleResolution: 'bundler', target: 'es2022' } },
  { name: 'bundler, module preserve, target es2020', options: { module: 'preserve', moduleResolution: 'bundler', target: 'es2020' } },
];

let passed = 0;
let failed = 0;
function report(ok, name, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}`);
  if (!ok && detail) console.log(detail.replace(/^/gm, '    '));
}

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const readme = example('ts');
const api = fs.readFileSync(path.join(root, 'test', 'types', 'api.ts'), 'utf8');
const sources = { 'readme.ts': readme, 'readme.mts': readme, 'api.ts': api, 'api.mts': api };
for (const [f, text] of Object.entries(sources)) fs.writeFileSync(path.join(work, f), text);

function tsc(compiler, dir, options, files) {
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    compilerOptions: { strict: true, types: [], skipLibCheck: false, ...options },
    files: files.map((f) => path.relative(dir, path.join(work, f))),
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const r = spawnSync(process.execPath, [compiler.bin, '-p', dir, '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

if (compilers.length === 0) report(false, 'a TypeScript compiler (npm install: typescript is a devDependency)');

for (const compiler of compilers) {
  for (const [i, cfg] of configs.entries()) {
    const dir = path.join(work, `check-${compiler.name.replace(/\W+/g, '_')}-${i}`);
    const r = tsc(compiler, dir, { ...cfg.options, noEmit: true }, Object.keys(sources));
    report(r.ok, `${compiler.name}: README example and test/types/api.ts, .ts and .mts, --strict, ${cfg.name}`, r.out);
  }
}

// Compiled and run: what type-checks also works.
if (compilers.length > 0) {
  const out = path.join(work, 'emit');
  const r = tsc(compilers[0], path.join(work, 'emit-config'),
    { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', outDir: out, rootDir: work }, ['readme.ts', 'readme.mts']);
  report(r.ok, `${compilers[0].name}: README example compiled (nodenext) to readme.js and readme.mjs`, r.out);
  for (const f of ['readme.js', 'readme.mjs']) {
    const run = spawnSync(process.execPath, [path.join(out, f)], { cwd: root, encoding: 'utf8' });
    const ok = run.status === 0 && run.stdout.includes('ERR_RMEM_DOUBLE_FREE');
    report(ok, `the compiled README example runs: node ${f}`, `status ${run.status}\n${run.stdout}${run.stderr}`);
  }
}

console.log(`types: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
