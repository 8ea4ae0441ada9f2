'use strict';
// bench/malloc/run.js - the malloc benchmark: every workload under every
// allocator, in the same run, interleaved (run k of every allocator before run
// k+1 of any, the order reversed every other run), so machine noise hits all
// allocators alike. Reports medians of wall time and peak RSS and their ratios
// against the best of the run.
//
//   node bench/malloc/run.js --bin build/bench-malloc/malloc [--runs 5] [--scale 1]
//        [--only cfrac,larson] [--allocators glibc,rmem] [--json out.json]
//
// --bin holds the workload executables, measure and librmem-malloc.so (the CMake
// build of malloc/); the workloads are the table in workloads.js (--help lists
// them). The outputs of every run are compared with glibc's: an allocator that
// changes a program's output is reported as WRONG, whatever its speed. Lower
// is better. Wall time is what the issue's targets name; the
// machine is shared and noisy, so CPU time (user + sys of the process and its
// children) is reported beside it and is the steadier figure for single-threaded
// workloads. The load average is printed (and kept in the JSON) at the start and
// the end: a load above the core count means other work competed with the run.
// The JSON goes to bench/results/malloc.json unless --json says otherwise; the
// HTML report (bench/report/make.js) shows it.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { WORKLOADS, pythonSource } = require('./workloads');

const root = path.join(__dirname, '..', '..');
const args = process.argv.slice(2);

const USAGE = `usage: node bench/malloc/run.js [options]
  --bin DIR          the CMake build of malloc/ with the wl_* programs, measure and
                     librmem-malloc.so (default build/bench-malloc/malloc;
                     scripts/bench-malloc.sh builds it and passes it)
  --runs N           runs of every workload under every allocator, medians (default 5)
  --scale S          multiplies the work of the wl_* workloads (default 1)
  --only a,b         only these workloads
  --allocators a,b   only these allocators: glibc,jemalloc,mimalloc,tcmalloc,rmem
  --with NAME=LIB    one more allocator, the shared library LIB preloaded as NAME
                     (repeatable; say, another commit's librmem-malloc.so, to
                     compare two builds in the same interleaved run)
  --json FILE        where the results go (default bench/results/malloc.json,
                     or $RMEM_BENCH_RESULTS/malloc.json; "none": nowhere)
  --help             this text
workloads: ${WORKLOADS.map((w) => w.name).join(' ')}`;

if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const known = ['bin', 'runs', 'scale', 'only', 'allocators', 'with', 'json'];
for (let i = 0; i < args.length; i++) {
  const m = /^--([a-z]+)(=.*)?$/.exec(args[i]);
  if (!m || !known.includes(m[1])) {
    console.error(`unknown argument ${args[i]}\n${USAGE}`);
    process.exit(2);
  }
  if (m[2] === undefined) i++; // its value
}
/** `--name value` or `--name=value`. */
function opt(name, def) {
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 3);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
}
const bin = path.resolve(root, opt('bin', 'build/bench-malloc/malloc'));
const runs = Math.max(1, parseInt(opt('runs', '5'), 10) || 1);
const scale = opt('scale', '1');
if (!(Number(scale) > 0)) {
  console.error(`--scale wants a positive number, got ${scale}`);
  process.exit(2);
}
const libdir = '/usr/lib/x86_64-linux-gnu';
const allAllocators = {
  glibc: '',
  jemalloc: path.join(libdir, 'libjemalloc.so.2'),
  mimalloc: path.join(libdir, 'libmimalloc.so.2'),
  tcmalloc: path.join(libdir, 'libtcmalloc_minimal.so.4'),
  rmem: path.join(bin, 'librmem-malloc.so'),
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rmem-bench-malloc-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// The real programs get generated inputs (deterministic, so outputs compare).
function sqliteInput() {
  const f = path.join(tmp, 'bench.sql');
  const lines = ['CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, tag TEXT);', 'BEGIN;'];
  for (let i = 0; i < 60000; i++) {
    lines.push(`INSERT INTO t(name, v, tag) VALUES('name-${(i * 7919) % 100003}', ${(i * 31) % 977}.5, '${'x'.repeat(i % 40)}');`);
  }
  lines.push('COMMIT;', 'CREATE INDEX t_name ON t(name);', 'CREATE INDEX t_v ON t(v);');
  lines.push("SELECT count(*), sum(v), max(length(tag)) FROM t WHERE name LIKE 'name-1%';");
  lines.push('SELECT tag, count(*) FROM t GROUP BY tag ORDER BY 2 DESC LIMIT 5;');
  lines.push('SELECT a.id FROM t a JOIN t b ON a.v = b.v AND a.id < b.id WHERE a.id % 97 = 0 ORDER BY a.id LIMIT 3;');
  lines.push("UPDATE t SET tag = upper(tag) || name WHERE id % 3 = 0;");
  lines.push('SELECT sum(length(tag)) FROM t;');
  lines.push('DELETE FROM t WHERE id % 2 = 0;', 'VACUUM;', 'SELECT count(*) FROM t;');
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}
function pythonScript() {
  const f = path.join(tmp, 'bench.py');
  fs.writeFileSync(f, pythonSource());
  return f;
}
function gccInput() {
  return path.join(root, 'src', 'instance.c');
}

const which = (p) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;
// the real programs' command lines (their inputs are generated above)
const programs = {
  sqlite3: () => ({ cmd: ['sqlite3', ':memory:'], stdin: sqliteInput() }),
  python3: () => ({ cmd: ['python3', pythonScript()] }),
  gcc: () => ({
    cmd: ['gcc', '-O2', '-std=c11', '-D_GNU_SOURCE', `-I${path.join(root, 'include')}`, '-c', gccInput(), '-o', path.join(tmp, 'x.o')],
  }),
};

const extraNames = [];
args.forEach((a, i) => {
  const spec = a === '--with' ? args[i + 1] : a.startsWith('--with=') ? a.slice(7) : null;
  if (spec === null) return;
  const eq = spec ? spec.indexOf('=') : -1;
  if (eq <= 0 || eq === spec.length - 1) {
    console.error(`--with wants NAME=LIB, got ${spec}`);
    process.exit(2);
  }
  allAllocators[spec.slice(0, eq)] = path.resolve(spec.slice(eq + 1));
  extraNames.push(spec.slice(0, eq));
});
const allocNames = [...opt('allocators', 'glibc,jemalloc,mimalloc,tcmalloc,rmem').split(','), ...extraNames];
const allocators = allocNames.filter((a) => {
  if (!(a in allAllocators)) {
    console.error(`unknown allocator ${a}; the allocators are: ${Object.keys(allAllocators).join(' ')}`);
    process.exit(2);
  }
  if (allAllocators[a] && !fs.existsSync(allAllocators[a])) {
    console.warn(`skipping ${a}: ${allAllocators[a]} not found`);
    return false;
  }
  return true;
});

const only = opt('only', '');
const wanted = only ? only.split(',').filter(Boolean) : WORKLOADS.map((w) => w.name);
const unknownNames = wanted.filter((n) => !WORKLOADS.some((w) => w.name === n));
if (unknownNames.length) {
  console.error(`unknown workload ${unknownNames.join(', ')}; the workloads are: ${WORKLOADS.map((w) => w.name).join(' ')}`);
  process.exit(2);
}
const selected = [];
for (const w of WORKLOADS.filter((x) => wanted.includes(x.name))) {
  if (w.bin) {
    const exe = path.join(bin, w.bin);
    if (!fs.existsSync(exe)) {
      console.error(`${exe} not found: build it with scripts/bench-malloc.sh (npm run bench:malloc), or point --bin at the build`);
      process.exit(2);
    }
    selected.push({ ...w, cmd: [exe, scale, ...(w.args || [])] });
  } else if (which(w.program)) {
    selected.push({ ...w, ...programs[w.program]() });
  } else {
    console.warn(`skipping ${w.name}: ${w.program} not found`);
  }
}

const measure = path.join(bin, 'measure');
if (!fs.existsSync(measure)) {
  console.error(`${measure} not found: build it with scripts/bench-malloc.sh (npm run bench:malloc), or point --bin at the build`);
  process.exit(2);
}
function runOnce(w, alloc) {
  const out = path.join(tmp, `out-${w.name}-${alloc}.txt`);
  const margs = ['--preload', allAllocators[alloc], '--stdout', out];
  if (w.stdin) margs.push('--stdin', w.stdin);
  margs.push('--', ...w.cmd);
  const r = spawnSync(measure, margs, { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });
  if (r.status !== 0) throw new Error(`measure failed for ${w.name}/${alloc}: ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop());
  m.output = fs.readFileSync(out, 'utf8');
  return m;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

const loadavg = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const cores = os.cpus().length;
const loadNote = (l) => `load average ${l.join(' / ')} (1/5/15 min)${l[0] > cores ? ` - above the ${cores} cores: other work is competing, expect noise` : ''}`;
const loadStart = loadavg();
const startedAt = new Date();
const results = {};
console.log(`malloc benchmark: ${runs} runs, scale ${scale}, ${cores} CPUs, allocators ${allocators.join(' ')}`);
console.log(`at the start: ${loadNote(loadStart)}`);
for (const w of selected) {
  results[w.name] = {};
  const samples = Object.fromEntries(allocators.map((a) => [a, []]));
  let reference = null;
  for (let k = 0; k < runs; k++) {
    // odd runs go in reverse order, so no allocator always runs first (or last)
    for (const a of k % 2 ? [...allocators].reverse() : allocators) {
      const m = runOnce(w, a);
      if (a === allocators[0] && reference === null) reference = m.output;
      samples[a].push(m);
    }
  }
  const rows = [];
  for (const a of allocators) {
    const ms = samples[a];
    const bad = ms.find((m) => m.status !== 0) || ms.find((m) => m.output !== reference);
    results[w.name][a] = {
      wall: median(ms.map((m) => m.wall)),
      wall_min: Math.min(...ms.map((m) => m.wall)),
      wall_max: Math.max(...ms.map((m) => m.wall)),
      cpu: median(ms.map((m) => m.user + m.sys)),
      maxrss_kb: median(ms.map((m) => m.maxrss_kb)),
      ok: !bad,
      status: bad ? bad.status : 0,
    };
  }
  const ok = allocators.filter((a) => results[w.name][a].ok);
  const bestT = Math.min(...ok.map((a) => results[w.name][a].wall));
  const bestR = Math.min(...ok.map((a) => results[w.name][a].maxrss_kb));
  const bestC = Math.min(...ok.map((a) => results[w.name][a].cpu));
  for (const a of allocators) {
    const r = results[w.name][a];
    r.time_ratio = r.wall / bestT;
    r.cpu_ratio = r.cpu / bestC;
    r.rss_ratio = r.maxrss_kb / bestR;
    rows.push({
      allocator: a,
      'time s': r.wall.toFixed(3),
      'x fastest': r.time_ratio.toFixed(2),
      'cpu s': r.cpu.toFixed(3),
      'cpu x best': r.cpu_ratio.toFixed(2),
      'peak RSS MB': (r.maxrss_kb / 1024).toFixed(1),
      'x smallest': r.rss_ratio.toFixed(2),
      output: r.ok ? 'same' : `WRONG (status ${r.status})`,
    });
  }
  console.log(`\n${w.name}: ${w.what}  (medians of ${runs}; cmd: ${w.cmd.map((c) => path.basename(c)).join(' ')})`);
  console.table(rows);
}

// The targets compare rmem with the best of the four standard allocators alone: not with itself, nor with
// an allocator added by --with (another build of rmem, say), so a ratio below 1 says rmem beat them all.
const STANDARD = ['glibc', 'jemalloc', 'mimalloc', 'tcmalloc'];
const standard = allocators.filter((a) => STANDARD.includes(a));
if (allocators.includes('rmem') && standard.length) {
  console.log(`\nrmem against the targets (time <= 1.10 x the fastest, peak RSS <= 1.10 x the smallest of ${standard.join(', ')}):`);
  const verdict = (x) => (x <= 1.1 ? 'met' : 'MISSED');
  const width = Math.max(...selected.map((w) => w.name.length));
  for (const w of selected) {
    const res = results[w.name], r = res.rmem;
    const ok = standard.filter((a) => res[a].ok);
    if (!ok.length) continue;
    const t = r.wall / Math.min(...ok.map((a) => res[a].wall));
    const c = r.cpu / Math.min(...ok.map((a) => res[a].cpu));
    const m = r.maxrss_kb / Math.min(...ok.map((a) => res[a].maxrss_kb));
    console.log(`  ${w.name.padEnd(width)} wall ${t.toFixed(2)}x (${verdict(t)})  ` +
      `cpu ${c.toFixed(2)}x (${verdict(c)})  RSS ${m.toFixed(2)}x (${verdict(m)})` +
      `${r.ok ? '' : '  OUTPUT WRONG'}`);
  }
}
const loadEnd = loadavg();
console.log(`\nat the end: ${loadNote(loadEnd)}`);
const resultsDir = process.env.RMEM_BENCH_RESULTS ? path.resolve(process.env.RMEM_BENCH_RESULTS) : path.join(root, 'bench', 'results');
const json = opt('json', path.join(resultsDir, 'malloc.json'));
if (json !== 'none') {
  const cpus = os.cpus();
  const doc = {
    name: 'malloc',
    title: 'Drop-in malloc',
    date: startedAt.toISOString(),
    machine: { cpu: cpus.length ? cpus[0].model : 'unknown', cores, node: process.version, memory: os.totalmem(), loadavg: loadEnd },
    loadavg: { start: loadStart, end: loadEnd },
    runs,
    scale,
    allocators,
    workloads: selected.map((w) => ({ name: w.name, what: w.what, threads: w.threads, cmd: w.cmd.map((c) => path.basename(c)).join(' ') })),
    results,
  };
  fs.mkdirSync(path.dirname(path.resolve(json)), { recursive: true });
  fs.writeFileSync(json, JSON.stringify(doc, null, 2) + '\n');
  const rel = path.relative(process.cwd(), path.resolve(json));
  console.log(`results: ${rel.startsWith('..') ? path.resolve(json) : rel}`);
}
