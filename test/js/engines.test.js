'use strict';
// package.json's engines claims only what is tested, and every package that
// `npm install` brings (package-lock.json) supports that Node, so a fresh
// install prints no EBADENGINE. npm test runs the JS suite on the oldest
// claimed Node too (build/node18, scripts/get-node18.sh).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const semver = require('semver');

const ROOT = path.join(__dirname, '..', '..');
const pkg = require(path.join(ROOT, 'package.json'));
const lock = require(path.join(ROOT, 'package-lock.json'));
const oldest = semver.minVersion(pkg.engines.node).version;

test(`engines.node (${pkg.engines.node}) admits the Node running this test (${process.version})`, () => {
  assert.ok(semver.satisfies(process.version, pkg.engines.node));
});

test(`every package in package-lock.json supports Node ${oldest} and this Node`, () => {
  const bad = [];
  for (const [where, p] of Object.entries(lock.packages)) {
    const range = p.engines && p.engines.node;
    if (!where || !range) continue;
    for (const v of [oldest, process.versions.node]) {
      if (!semver.satisfies(v, range)) bad.push(`${where.replace(/^.*node_modules\//, '')}@${p.version} needs node ${range}, not ${v}`);
    }
  }
  assert.deepEqual(bad, []);
});
