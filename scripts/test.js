'use strict';
// `npm test`: the C tests (plain and ASan+UBSan, via ctest), then the JS tests
// (node:test). Fails if any test fails.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const root = path.join(__dirname, '..');

function step(name, cmd, args) {
  console.log(`\n### ${name}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`\n### ${name} FAILED (status ${r.status})`);
    process.exit(r.status || 1);
  }
}

step('C tests', 'bash', ['scripts/test-c.sh']);
step('JS tests', process.execPath, ['--test', '--test-concurrency=1', 'test/js/']);
