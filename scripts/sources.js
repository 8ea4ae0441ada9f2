'use strict';
// The one list of the library's C sources, read by binding.gyp (via this
// script) and by CMakeLists.txt (file(STRINGS src/sources.txt)), so the two
// builds cannot drift.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
const list = fs.readFileSync(path.join(root, 'src', 'sources.txt'), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
if (require.main === module) process.stdout.write(list.join(' ') + '\n');
module.exports = list;
