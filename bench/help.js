'use strict';
// help.js - `--help` for every script under bench/: prints the script's
// opening comment (each one says what it measures and how to run it) and
// exits before any work starts. bench/js/harness.js calls it for every script
// that loads the harness (adding the options the harness reads); the few
// tools that do without the harness call it themselves.
const fs = require('node:fs');
const path = require('node:path');

/** The opening comment of a JavaScript file, without its comment marks. */
function openingComment(file) {
  const text = fs.readFileSync(file, 'utf8').replace(/^#!.*\n/, '').replace(/^'use strict';\s*\n/, '');
  const block = /^\s*\/\*([\s\S]*?)\*\//.exec(text);
  if (block) return block[1].split('\n').map((l) => l.replace(/^\s?\*\s?/, '')).join('\n').trim();
  const lines = [];
  for (const l of text.split('\n')) {
    if (!/^\s*\/\//.test(l)) break;
    lines.push(l.replace(/^\s*\/\/\s?/, ''));
  }
  return lines.join('\n').trim();
}

/** If the command line asks for help, prints it for `file` (plus `extra`) and exits 0. */
function helpIfAsked(file, extra = '') {
  const argv = process.argv.slice(2);
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const rel = path.relative(path.join(__dirname, '..'), file);
  process.stdout.write(`${rel}\n\n${openingComment(file)}\n${extra ? `\n${extra.trim()}\n` : ''}\n  --help, -h   this text (nothing is run)\n`);
  process.exit(0);
}

module.exports = { openingComment, helpIfAsked };
