'use strict';
// bench/malloc/workloads.js - the table of the malloc benchmark's workloads:
// one entry per row of the results, in the order they run. run.js turns it into
// commands; the HTML report (bench/report/make.js) reads it for the names and
// descriptions, so a workload that was not run still shows up there as such.
//
//   bin      a program built from bench/malloc/<bin>.c (every wl_*.c needs an
//            entry here; test/js/bench-malloc.test.js checks it)
//   args     its arguments after the scale (the thread count, for threaded ones)
//   program  instead of bin: a real program found on PATH, with generated input
//   threads  threads the workload runs (for the report)
//   what     one line on what it exercises

const WORKLOADS = [
  { name: 'cfrac', bin: 'wl_cfrac', threads: 1, what: 'bignum arithmetic: a storm of small, short-lived, mostly LIFO blocks' },
  { name: 'espresso', bin: 'wl_espresso', threads: 1, what: 'logic-minimiser-like churn: mixed sizes up to 64 KiB, lifetimes from instant to whole-run, reallocs' },
  { name: 'larson', bin: 'wl_larson', args: ['4'], threads: 4, what: 'server churn, 16..400 B, tables handed to fresh threads (blocks freed by other threads)' },
  { name: 'xmalloc', bin: 'wl_xmalloc', threads: 2, what: 'one thread only allocates, another only frees what it gets' },
  { name: 'realloc', bin: 'wl_realloc', threads: 1, what: 'buffers grown by realloc to 1..24 MiB, shrunk, freed' },
  { name: 'barnes', bin: 'wl_barnes', threads: 1, what: 'Barnes-Hut n-body: an octree of small nodes built, walked and freed every step' },
  { name: 'cache-thrash-1t', bin: 'wl_cache_thrash', args: ['1'], threads: 1, what: 'active false sharing baseline: allocate 8 B, write it many times, free' },
  { name: 'cache-thrash-4t', bin: 'wl_cache_thrash', args: ['4'], threads: 4, what: 'active false sharing: the same loop in 4 threads at once' },
  { name: 'cache-scratch-1t', bin: 'wl_cache_scratch', args: ['1'], threads: 1, what: 'passive false sharing baseline: free an object from main, then allocate/write/free' },
  { name: 'cache-scratch-4t', bin: 'wl_cache_scratch', args: ['4'], threads: 4, what: "passive false sharing: 4 threads each free one of main's adjacent objects, then allocate/write/free" },
  { name: 'mleak', bin: 'wl_mleak', args: ['2'], threads: 2, what: 'churn in short-lived threads that leak 1 allocation in 100 (never freed)' },
  { name: 'rbstress', bin: 'wl_rbstress', args: ['1'], threads: 1, what: 'red-black tree insert/replace/delete churn, ~150k nodes with values' },
  { name: 'malloc-simple', bin: 'wl_malloc_simple', threads: 1, what: 'glibc benchtests style: batches of 25..1600 blocks of one fixed size 8..1024 B, then freed' },
  { name: 'mstress', bin: 'wl_mstress', args: ['8'], threads: 8, what: 'many threads, power-of-two mixed sizes, blocks swapped between threads, threads replaced per phase' },
  { name: 'larson-sized', bin: 'wl_larson_sized', args: ['4'], threads: 4, what: 'larson over 16 B..32 KiB (log-uniform): the size classes keep changing' },
  { name: 'rptest', bin: 'wl_rptest', args: ['4'], threads: 4, what: 'random sizes 16..8000 B, one block in eight posted to and freed by another thread' },
  { name: 'alloc-test-1t', bin: 'wl_alloc_test', args: ['1'], threads: 1, what: 'churn in windows of short- and long-lived blocks, Pareto-like sizes up to 1 KiB' },
  { name: 'alloc-test-4t', bin: 'wl_alloc_test', args: ['4'], threads: 4, what: 'the same churn in 4 threads, each with its own windows' },
  { name: 'malloc-large', bin: 'wl_malloc_large', threads: 1, what: '20 live buffers of 64 KiB..8 MiB replaced at random, every page written' },
  { name: 'sqlite3', program: 'sqlite3', threads: 1, what: 'sqlite3 :memory: running a generated SQL script (inserts, indexes, joins, vacuum)' },
  { name: 'python3', program: 'python3', threads: 1, what: 'python3 building, serialising and indexing dicts and lists' },
  { name: 'gcc', program: 'gcc', threads: 1, what: 'gcc -O2 compiling src/instance.c' },
];

/**
 * The python3 workload's script (dicts and lists built, serialised, parsed and indexed): `items`
 * records, and 20 rounds of dicts of `round` keys. bench:malloc runs it at the defaults;
 * bench/js/viz-cost.js traces the same script.
 */
function pythonSource(items = 60000, round = 20000) {
  return `import json, re, collections
data = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 17), "u%d" % (i % 5)], "v": i * 0.5} for i in range(${items})]
s = json.dumps(data)
back = json.loads(s)
idx = collections.defaultdict(list)
for d in back:
    for t in d["tags"]:
        idx[t].append(d["id"])
words = re.findall(r"item(\\d+)7", s)
acc = 0
for k in range(20):
    tmp = {str(i): [i] * (i % 7) for i in range(${round})}
    acc += sum(len(v) for v in tmp.values())
print(len(s), len(idx), len(words), acc, sum(len(v) for v in idx.values()))
`;
}

module.exports = { WORKLOADS, pythonSource };
