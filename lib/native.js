'use strict';
// native.js - loads the addon through node-gyp-build, which takes the first of
//   build/Release/*.node, build/Debug/*.node   a build from source (node-gyp)
//   prebuilds/<platform>-<arch>/*.node          the prebuilt binary shipped in
//                                               the npm package (prebuildify)
// RMEM_ADDON may name another build of it (e.g. a sanitizer build); it is then
// the only candidate: a test run meant for a sanitizer build must not fall
// back silently to the release build.
const path = require('node:path');

const root = path.join(__dirname, '..');

function missing(message, cause) {
  const e = new Error(message, { cause });
  e.code = 'ERR_RMEM_ADDON_MISSING';
  return e;
}

let addon;
if (process.env.RMEM_ADDON) {
  const file = path.resolve(process.env.RMEM_ADDON);
  try {
    addon = require(file);
  } catch (e) {
    throw missing(`rmem: RMEM_ADDON=${file} could not be loaded: ${e.message}`, e);
  }
} else {
  try {
    addon = require('node-gyp-build')(root);
  } catch (e) {
    throw missing('rmem: no native addon fits this platform and Node.js, neither a prebuilt one nor a local build. ' +
      'Build it with `npm rebuild rmem` (needs a C compiler, make and python3; in rmem\'s own repository: ' +
      `\`npm run build\`). ${e.message.trim()}`, e);
  }
}
module.exports = addon;
