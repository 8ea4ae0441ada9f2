'use strict';
// native.js - loads the addon built by `node scripts/build.js` (node-gyp).
// RMEM_ADDON may name another build of it (e.g. a sanitizer build).
const path = require('node:path');

// An explicit RMEM_ADDON is the only candidate: a test run meant for a
// sanitizer build must not fall back silently to the release build.
const candidates = process.env.RMEM_ADDON
  ? [path.resolve(process.env.RMEM_ADDON)]
  : [path.join(__dirname, '..', 'build', 'Release', 'rmem.node'), path.join(__dirname, '..', 'build', 'Debug', 'rmem.node')];

let addon = null;
let firstError = null;
for (const file of candidates) {
  try {
    addon = require(file);
    break;
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND' || firstError === null) firstError = firstError || e;
  }
}
if (addon === null) {
  const e = new Error(`rmem: the native addon is not built (run \`npm run build\`): ${firstError && firstError.message}`);
  e.code = 'ERR_RMEM_ADDON_MISSING';
  throw e;
}
module.exports = addon;
