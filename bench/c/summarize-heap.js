'use strict';
// Medians and ratios of bench_heap's JSON lines (one line per allocator per
// round), printed as a table with the targets beside rmem's figures.
//
//   node bench/c/summarize-heap.js INPUT.jsonl [OUTPUT.json]
// (scripts/bench-c.sh, i.e. npm run bench:c, runs it on the lines it collected.)
require('../help').helpIfAsked(__filename);
const fs = require('node:fs');
const [input, output] = process.argv.slice(2);
const rows = fs.readFileSync(input, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const by = {};
for (const r of rows) (by[r.allocator] ||= []).push(r);
const table = {};
for (const [name, rs] of Object.entries(by)) {
  table[name] = {
    runs: rs.length,
    lifo_ns_per_pair: median(rs.map((r) => r.lifo_ns_per_pair)),
    lifo_spread: Math.max(...rs.map((r) => r.lifo_ns_per_pair)) - Math.min(...rs.map((r) => r.lifo_ns_per_pair)),
    replace_ns: median(rs.map((r) => r.replace_ns)),
    replace_spread: Math.max(...rs.map((r) => r.replace_ns)) - Math.min(...rs.map((r) => r.replace_ns)),
    rss_over_live: median(rs.map((r) => r.replace_rss_over_live)),
  };
}
const fmt = (x, d = 2) => x.toFixed(d);
const rm = table.rmem;
const glibc = table.glibc;
console.log('\nmedians (ns; lower is better)');
console.table(Object.fromEntries(Object.entries(table).map(([k, v]) => [k, {
  'lifo pair ns': fmt(v.lifo_ns_per_pair), 'rmem / this': rm ? fmt(rm.lifo_ns_per_pair / v.lifo_ns_per_pair) : '',
  'replace ns': fmt(v.replace_ns), 'rmem / this ': rm ? fmt(rm.replace_ns / v.replace_ns) : '',
  'RSS / live': fmt(v.rss_over_live, 3), runs: v.runs,
}])));
if (rm) {
  const ok = (c) => (c ? 'MET' : 'NOT MET');
  console.log(`target (a) LIFO malloc(16..256)/free pair <= 5 ns: rmem ${fmt(rm.lifo_ns_per_pair)} ns` +
    (glibc ? ` (glibc ${fmt(glibc.lifo_ns_per_pair)} ns in this run)` : '') + ` -> ${ok(rm.lifo_ns_per_pair <= 5)}`);
  const best = Math.min(...Object.values(table).map((v) => v.replace_ns));
  console.log(`target (b) 100,000 live 8..4096 B, random replacement <= 45 ns: rmem ${fmt(rm.replace_ns)} ns ` +
    `(fastest in this run ${fmt(best)} ns) -> ${ok(rm.replace_ns <= 45)}`);
  console.log(`target (b) resident <= 1.10 x live bytes: rmem ${fmt(rm.rss_over_live, 3)} -> ${ok(rm.rss_over_live <= 1.10)}`);
  // the heap front's targets (issue 11): ratios to the baselines of this run
  const tc = table.tcmalloc;
  if (glibc && tc) {
    const lg = rm.lifo_ns_per_pair / glibc.lifo_ns_per_pair, lt = rm.lifo_ns_per_pair / tc.lifo_ns_per_pair;
    console.log(`target (front) LIFO pair <= 0.80 x glibc and <= 1.00 x tcmalloc: ${fmt(lg)} x glibc, ${fmt(lt)} x tcmalloc` +
      ` -> ${ok(lg <= 0.8 && lt <= 1)}`);
    const rt = rm.replace_ns / tc.replace_ns;
    console.log(`target (front) replacement <= 1.00 x tcmalloc, resident <= 1.10 x live: ${fmt(rt)} x tcmalloc, ` +
      `${fmt(rm.rss_over_live, 3)} x live -> ${ok(rt <= 1 && rm.rss_over_live <= 1.10)}`);
  }
}
if (output) fs.writeFileSync(output, JSON.stringify({ bench: 'c-heap', medians: table, rows }, null, 2));
