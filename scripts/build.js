'use strict';
// `npm install` runs this. It builds the Node addon with node-gyp against the
// Node headers that came with this Node (no download: --nodedir points at the
// installation's own include/node), then the C library, tools and tests with
// CMake when CMake is present.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`rmem build: ${cmd} ${args.join(' ')} failed with status ${r.status}`);
    process.exit(r.status || 1);
  }
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

const gyp = findNodeGyp();
if (!gyp) {
  console.error('rmem build: node-gyp not found (it ships with npm).');
  process.exit(1);
}
const nodedir = findNodeDir();
if (!nodedir) {
  console.error('rmem build: the Node headers (include/node/node_api.h) are not installed beside ' +
    process.execPath + '; install the nodejs package that provides them.');
  process.exit(1);
}
// configure + build, not rebuild: rebuild starts by deleting all of build/,
// which would take the CMake trees (build/release, build/test-*) with it.
run(process.execPath, [gyp, 'configure', `--nodedir=${nodedir}`]);
run(process.execPath, [gyp, 'build', `--nodedir=${nodedir}`, '--jobs=max']);

const haveCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
if (haveCmake && !process.env.RMEM_SKIP_CMAKE) {
  const dir = path.join(root, 'build', 'release');
  run('cmake', ['-S', root, '-B', dir, '-DCMAKE_BUILD_TYPE=Release', '-DRMEM_BUILD_TESTS=OFF']);
  run('cmake', ['--build', dir, '-j', '2']);
} else if (!haveCmake) {
  console.warn('rmem build: cmake not found; the addon is built, the C tools are not.');
}
