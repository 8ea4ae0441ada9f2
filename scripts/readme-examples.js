'use strict';
// The README's examples, exactly as a reader sees them: each fenced block that
// follows a line `<!-- example: NAME ... -->` in README.md. The type test
// (scripts/test-types.js) and the package test (scripts/test-pack.js) write
// them to files and check or run those, so the README cannot drift from what
// the package does.
//
//   node scripts/readme-examples.js           lists the examples
//   node scripts/readme-examples.js NAME      prints one
const fs = require('node:fs');
const path = require('node:path');

const README = path.join(__dirname, '..', 'README.md');

/** { name: code } for every marked example of README.md. */
function examples(file = README) {
  const text = fs.readFileSync(file, 'utf8');
  const re = /^<!-- example: ([\w-]+)[^\n]*-->\n```\w*\n([\s\S]*?)^```$/gm;
  const out = {};
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (out[m[1]] !== undefined) throw new Error(`README.md: two examples named ${m[1]}`);
    out[m[1]] = m[2];
  }
  return out;
}

function example(name, file) {
  const code = examples(file)[name];
  if (code === undefined) throw new Error(`README.md has no example named ${name} (<!-- example: ${name} -->)`);
  return code;
}

module.exports = { examples, example };

if (require.main === module) {
  const [name] = process.argv.slice(2);
  if (name) process.stdout.write(example(name));
  else console.log(Object.keys(examples()).join('\n'));
}
