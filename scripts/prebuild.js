'use strict';
// `npm pack` / `npm publish` run this (prepack): prebuildify builds the addon
// for this platform into prebuilds/<platform>-<arch>/rmem.napi.<libc>.node,
// which the package ships and lib/native.js loads through node-gyp-build, so
// a machine without a C compiler installs rmem from the package alone.
//
// The addon uses Node-API only (NAPI_VERSION 8 in binding.gyp), so one binary
// serves every Node.js version the package supports. Other platforms: run
// `npm run prepack` (or `node scripts/prebuild.js`) on each, gather their
// prebuilds/<platform>-<arch>/ folders into one tree, then `npm pack` with
// RMEM_PREBUILD_KEEP=1 so the folders already there are kept. This machine
// builds and tests linux-x64 (glibc).
//
// The build runs in a copy of the packaged files in a temporary folder:
// prebuildify starts with `node-gyp rebuild`, which deletes build/, and the
// repository's build/ also holds the CMake trees. The binary is thereby built
// from exactly the files the package ships.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const prebuildify = require('prebuildify');

const root = path.join(__dirname, '..');
const pkg = require('../package.json');

function findNodeGyp() {
  const candidates = [];
  try { candidates.push(require.resolve('node-gyp/bin/node-gyp.js')); } catch { /* not a dependency */ }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => c && fs.existsSync(c));
}

function nodeDir() {
  const dirs = [path.resolve(path.dirname(process.execPath), '..')];
  if (process.env.npm_config_nodedir) dirs.unshift(process.env.npm_config_nodedir);
  return dirs.find((d) => fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-prebuild-'));
for (const f of ['package.json', ...pkg.files]) {
  if (f === 'prebuilds/') continue;
  const from = path.join(root, f);
  if (fs.existsSync(from)) fs.cpSync(from, path.join(stage, f), { recursive: true });
}

const tuple = `${os.platform()}-${os.arch()}`;
if (process.env.RMEM_PREBUILD_KEEP !== '1') fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
else fs.rmSync(path.join(root, 'prebuilds', tuple), { recursive: true, force: true });

const dir = nodeDir();
if (dir) process.env.npm_config_nodedir = dir; // node-gyp reads npm_config_* (headers beside this node: no download)
const gyp = findNodeGyp();
if (!gyp) {
  console.error('rmem prebuild: node-gyp not found (it ships with npm).');
  process.exit(1);
}
console.log(`rmem prebuild: building the addon for ${tuple} in ${stage}`);
prebuildify({
  cwd: stage,
  out: root,
  napi: true,
  strip: true,
  tagLibc: true,
  nodeGyp: gyp,
  targets: [process.versions.node],
}, (err) => {
  fs.rmSync(stage, { recursive: true, force: true });
  if (err) {
    console.error(`rmem prebuild: ${err.message || err}`);
    process.exit(1);
  }
  for (const f of fs.readdirSync(path.join(root, 'prebuilds', tuple))) {
    console.log(`rmem prebuild: prebuilds/${tuple}/${f}`);
  }
});
