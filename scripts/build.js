'use strict';
// Builds the Node addon (build/Release/rmem.node) with node-gyp, against the
// Node headers that came with this Node when they are installed beside it
// (--nodedir: nothing to download), else node-gyp's own header cache.
//
//   node scripts/build.js            `npm run build`: always from source
//   node scripts/build.js --install  `npm install` / `npm rebuild rmem`: in an
//       installed package, nothing to do when a prebuilt binary from prebuilds/
//       (shipped in the npm package, see scripts/prebuild.js) loads on this
//       machine; otherwise, and always in a git checkout, a build from source.
//       npm_config_build_from_source=true (`npm install --build-from-source`)
//       forces the build.
//
// Only the addon: the C library, tools and tests are CMake's (`npm run build:c`,
// and `npm test` builds the trees it needs), never part of installing the package.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const installing = process.argv.includes('--install');

function fail(message) {
  console.error(`rmem build: ${message}`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    fail(`${path.basename(args[0] || cmd)} ${args.slice(1).join(' ')} failed with status ${r.status ?? r.signal}.` +
      (installing ? ' No prebuilt binary fits this machine, so the addon is built from source: that needs a C ' +
        'compiler, make and python3 (Debian: apt-get install build-essential python3).' : ''));
  }
}

/** The path of a prebuilt addon that loads here, or null (checked in a child: a bad binary cannot hurt this one). */
function loadablePrebuild() {
  const code = 'const r = require("node-gyp-build").resolve(process.argv[1]); require(r); console.log(r);';
  const env = { ...process.env };
  delete env.RMEM_ADDON;
  const r = spawnSync(process.execPath, ['-e', code, root], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) return null;
  const file = r.stdout.trim();
  return file.includes(`${path.sep}prebuilds${path.sep}`) ? file : null;
}

function findNodeGyp() {
  const candidates = [];
  try { candidates.push(require.resolve('node-gyp/bin/node-gyp.js')); } catch { /* not a dependency */ }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => c && fs.existsSync(c));
}

function findNodeDir() {
  // Headers installed beside this node binary (Debian/NodeSource: /usr/include/node,
  // official tarballs: <prefix>/include/node).
  const dirs = [path.resolve(path.dirname(process.execPath), '..')];
  if (process.env.npm_config_nodedir) dirs.unshift(process.env.npm_config_nodedir);
  return dirs.find((d) => fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

if (installing) {
  const checkout = fs.existsSync(path.join(root, '.git'));
  if (!checkout && process.env.npm_config_build_from_source !== 'true') {
    const prebuilt = loadablePrebuild();
    if (prebuilt) {
      console.log(`rmem: using the prebuilt addon ${path.relative(root, prebuilt)}`);
      process.exit(0);
    }
  }
}

const gyp = findNodeGyp();
if (!gyp) fail('node-gyp not found (it ships with npm).');
const nodedir = findNodeDir();
const dirArgs = nodedir ? [`--nodedir=${nodedir}`] : [];
if (!nodedir) {
  console.warn(`rmem build: no Node headers (include/node/node_api.h) beside ${process.execPath}; ` +
    'node-gyp will use its own header cache (and download the headers if it has none).');
}
// configure + build, not rebuild: rebuild starts by deleting all of build/,
// which would take the CMake trees (build/release, build/test-*) with it.
run(process.execPath, [gyp, 'configure', ...dirArgs]);
run(process.execPath, [gyp, 'build', ...dirArgs, '--jobs=2']);
