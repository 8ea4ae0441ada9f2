'use strict';
// npm run test:pack (part of npm test): an app installs rmem from `npm pack`
// output on a machine with no C compiler, and runs the README's JavaScript.
//
//   1. npm pack (its prepack builds prebuilds/<platform>-<arch>/ with prebuildify)
//   2. a PATH with node and npm only: no cc, gcc, c++, make, python3 (checked)
//   3. npm install <tarball> in a new app: the prebuilt addon must be taken,
//      nothing compiled (no build/ in node_modules/rmem)
//   4. the README's CommonJS example, and its TypeScript example compiled by
//      tsc --strict (module nodenext, against the .d.ts files in the tarball)
//      as .js and .mjs, run in the app
//   5. npm install --ignore-scripts also works (node-gyp-build finds the
//      prebuilt binary at load); with no binary that fits, require('rmem')
//      says `npm rebuild rmem`
// Ends with "pack: N passed, N failed".
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { example } = require('./readme-examples');

const root = path.join(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-pack-'));
let passed = 0;
let failed = 0;

function report(ok, name, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}`);
  if (!ok && detail) console.log(String(detail).trim().replace(/^/gm, '    '));
  return ok;
}

function finish() {
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`pack: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

function npmCli() {
  const candidates = [process.env.npm_execpath,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')];
  return candidates.find((c) => c && /npm-cli\.js$/.test(c) && fs.existsSync(c));
}

// The environment of a machine without a compiler: PATH holds node, npm and
// sh (npm runs scripts with it) alone; nothing of the npm run that started
// this test leaks in.
const bin = path.join(tmp, 'bin');
fs.mkdirSync(bin);
const npm = npmCli();
fs.symlinkSync(process.execPath, path.join(bin, 'node'));
if (npm) fs.symlinkSync(npm, path.join(bin, 'npm'));
fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
const bare = { PATH: bin, HOME: process.env.HOME || os.homedir(), TMPDIR: os.tmpdir(), LANG: 'C.UTF-8' };
if (process.env.npm_config_cache) bare.npm_config_cache = process.env.npm_config_cache;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300000, ...opts });
  return { ok: r.status === 0, status: r.status ?? r.signal, out: `${r.stdout || ''}${r.stderr || ''}`, error: r.error };
}

if (!report(Boolean(npm), 'npm-cli.js found beside this node', 'npm_execpath unset and no lib/node_modules/npm')) finish();

// 1. npm pack
console.log('== npm pack (prepack: prebuildify)');
const pack = run(process.execPath, [npm, 'pack', '--json', '--pack-destination', tmp], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let tarball = null;
let files = [];
try {
  const info = JSON.parse(pack.out.slice(pack.out.indexOf('[')))[0];
  tarball = path.join(tmp, info.filename);
  files = info.files.map((f) => f.path);
} catch { /* reported below */ }
if (!report(pack.ok && tarball !== null && fs.existsSync(tarball), 'npm pack makes a tarball', pack.out)) finish();
const tuple = `${process.platform}-${process.arch}`;
report(files.some((f) => f.startsWith(`prebuilds/${tuple}/`) && f.endsWith('.node')),
  `the tarball ships a prebuilt addon in prebuilds/${tuple}/`, files.join('\n'));
report(!files.some((f) => f.startsWith('build/') || f === 'CMakeLists.txt'), 'the tarball holds no build/ and no CMake build',
  files.filter((f) => f.startsWith('build/') || f === 'CMakeLists.txt').join('\n'));
for (const f of ['lib/index.d.ts', 'lib/mems.d.ts', 'lib/index.mjs', 'lib/native.js', 'scripts/build.js']) {
  report(files.includes(f), `the tarball ships ${f}`);
}

// 2. no compiler on this PATH
const found = run('/bin/sh', ['-c', 'for t in cc gcc c++ g++ clang make python3 python; do command -v $t; done; true'],
  { env: bare });
report(found.ok && found.out.trim() === '', 'no C compiler, make or python on the app\'s PATH', found.out);

// 3. install in an app
function makeApp(name) {
  const app = path.join(tmp, name);
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2));
  return app;
}
const app = makeApp('app');
console.log(`== npm install ${path.basename(tarball)} in an app, PATH=${bin}`);
const install = run(process.execPath, [npm, 'install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball],
  { cwd: app, env: bare });
if (!report(install.ok, 'npm install from the tarball succeeds without a compiler', install.out)) finish();
report(/using the prebuilt addon prebuilds\//.test(install.out), 'the install script took the prebuilt addon', install.out);
report(!fs.existsSync(path.join(app, 'node_modules', 'rmem', 'build')), 'nothing was compiled (no node_modules/rmem/build)');

// 4. the README's examples, as written
fs.writeFileSync(path.join(app, 'readme-example.js'), example('cjs'));
const cjs = run(process.execPath, ['readme-example.js'], { cwd: app, env: bare });
report(cjs.ok && cjs.out.includes('ERR_RMEM_DOUBLE_FREE') && cjs.out.includes('MeMS'),
  'the README\'s CommonJS example runs in the app', `status ${cjs.status}\n${cjs.out}`);

fs.writeFileSync(path.join(app, 'readme-workers.js'), example('workers'));
const wk = run(process.execPath, ['readme-workers.js'], { cwd: app, env: bare });
report(wk.ok && wk.out.includes('from the worker: 300') && wk.out.includes('problems: 0 live blocks: 0'),
  'the README\'s worker_threads example runs in the app', `status ${wk.status}\n${wk.out}`);

const ts = example('ts');
fs.writeFileSync(path.join(app, 'example.ts'), ts);
fs.writeFileSync(path.join(app, 'example.mts'), ts);
fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
  compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: [] },
  files: ['example.ts', 'example.mts'],
}, null, 2));
let tsc = null;
try { tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'); } catch { /* reported */ }
if (report(tsc !== null, 'typescript (a devDependency) is installed')) {
  const c = run(process.execPath, [tsc, '-p', app, '--pretty', 'false'], { cwd: app, env: bare });
  report(c.ok, 'the README\'s TypeScript example type-checks against the packed .d.ts (tsc --strict, nodenext)', c.out);
  for (const f of ['example.js', 'example.mjs']) {
    const r = run(process.execPath, [f], { cwd: app, env: bare });
    report(r.ok && r.out.includes('ERR_RMEM_DOUBLE_FREE'), `the compiled TypeScript example runs in the app: node ${f}`,
      `status ${r.status}\n${r.out}`);
  }
}

// 5. --ignore-scripts, and the hint when nothing fits
const app2 = makeApp('app-ignore-scripts');
const install2 = run(process.execPath, [npm, 'install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball],
  { cwd: app2, env: bare });
if (report(install2.ok, 'npm install --ignore-scripts from the tarball succeeds', install2.out)) {
  const r = run(process.execPath, ['-e', 'const r = require("rmem"); r.init(); r.rFree(r.rAlloc(8)); console.log("ok")'],
    { cwd: app2, env: bare });
  report(r.ok && r.out.trim() === 'ok', 'after --ignore-scripts, require(\'rmem\') loads the prebuilt addon', r.out);
  fs.rmSync(path.join(app2, 'node_modules', 'rmem', 'prebuilds'), { recursive: true, force: true });
  const m = run(process.execPath, ['-e', 'try { require("rmem"); } catch (e) { console.log(e.code, e.message); }'],
    { cwd: app2, env: bare });
  report(/^ERR_RMEM_ADDON_MISSING .*`npm rebuild rmem`/.test(m.out), 'with no addon that fits, the error says `npm rebuild rmem`', m.out);
}

finish();
