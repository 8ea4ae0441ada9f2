'use strict';
/*
 * harness.js - the shared machinery of every JS benchmark under bench/.
 *
 * One place for: the run mode (full, --quick, or RMEM_BENCH_SMOKE=1 for the
 * smoke test), loading rmem, timing a set of sides against each other
 * (warm-up first, the order of the sides alternated every round, medians and
 * spread over several rounds), resident memory figures (this process from
 * /proc/self/status, a child's peak from /proc/<pid>/status VmHWM), progress
 * lines for any step longer than a second, and the JSON files in
 * bench/results/ that the HTML report reads.
 *
 * Rules every benchmark follows (issue 6, "Honesty"): both sides of a
 * comparison do the same work, writing and reading every byte they allocate;
 * nothing is timed before a warm-up; no side always runs first; figures are
 * medians with their min and max beside them; ratios are taken within one run
 * of one process, never against numbers from another machine or another day.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
// RMEM_BENCH_RESULTS redirects the JSON (the smoke test writes to a temporary directory).
const RESULTS = process.env.RMEM_BENCH_RESULTS ? path.resolve(process.env.RMEM_BENCH_RESULTS) : path.join(ROOT, 'bench', 'results');

/* ------------------------------------------------------------------ mode */

const argv = process.argv.slice(2);
const SMOKE = process.env.RMEM_BENCH_SMOKE === '1';
const QUICK = !SMOKE && (argv.includes('--quick') || process.env.RMEM_BENCH_QUICK === '1');
const MODE = SMOKE ? 'smoke' : QUICK ? 'quick' : 'full';

/** Picks the parameter of the current mode: pick(full, quick, smoke). */
function pick(full, quick, smoke) {
  return SMOKE ? smoke : QUICK ? quick : full;
}

/** `--name=value` from the command line, or the default. Numbers accept 1e6 and 1_000_000. */
function arg(name, def) {
  const prefix = `--${name}=`;
  const a = argv.find((s) => s.startsWith(prefix));
  if (a === undefined) return def;
  const v = a.slice(prefix.length);
  if (typeof def === 'number') {
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isFinite(n)) throw new Error(`--${name} wants a number, got ${v}`);
    return n;
  }
  return v;
}

/* ------------------------------------------------------------------ --help */

// Every script that loads the harness answers --help with its opening
// comment and these options, and runs nothing.
if (require.main && require.main.filename) {
  require('../help').helpIfAsked(require.main.filename, `
Options the benchmark harness reads (bench/js/harness.js), where the script uses them:
  --quick                 shorter loads and fewer rounds (also RMEM_BENCH_QUICK=1)
  RMEM_BENCH_SMOKE=1      tiny parameters, as npm test's smoke test runs them
  RMEM_BENCH_RESULTS=DIR  write the JSON results to DIR instead of bench/results/
  --NAME=VALUE            the script's own parameters, listed above`);
}

/* ------------------------------------------------------------------ workloads */

/** How the blocks of the seed's request workload are touched, in the words every figure uses. */
const WRITTEN = {
  ALL: 'every byte written and read',
  ENDS: 'first and last byte written',
};

/**
 * The words that name the seed's request workload wherever one of its figures
 * is printed or quoted (npm start, bench/js/seed-three-way.js, the README), so
 * figures of different shapes cannot be taken for one another:
 *   requestWorkload({ requests: 10000, per: 100, size: 64, written: WRITTEN.ALL })
 *   -> '64-byte blocks, 100 per request, 10,000 requests, every byte written and read'
 */
function requestWorkload({ requests, per, size, written }) {
  return `${size}-byte blocks, ${per} per request, ${requests.toLocaleString('en-US')} requests, ${written}`;
}

/* ------------------------------------------------------------------ rmem */

let rmemCache;
/**
 * The rmem package as `require('rmem')` gives it (the repository root). Fails
 * with a clear message if the addon has not been built.
 */
function loadRmem() {
  if (rmemCache) return rmemCache;
  try {
    rmemCache = require(ROOT);
  } catch (e) {
    const err = new Error(`cannot load rmem from ${ROOT} (run \`npm install\` to build the addon): ${e.message}`);
    err.cause = e;
    throw err;
  }
  return rmemCache;
}

/* ------------------------------------------------------------------ statistics */

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** { median, min, max, spread, runs }: spread = (max - min) / median. */
function summary(xs) {
  const m = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { median: m, min, max, spread: m ? (max - min) / m : 0, runs: xs.slice() };
}

/** a / b rounded for printing; "n/a" when b is 0 or either is missing. */
function ratio(a, b, digits = 2) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return Number((a / b).toFixed(digits));
}

/* ------------------------------------------------------------------ memory */

/** Resident figures of a process from /proc/<pid>/status, in bytes (rss, hwm = peak). */
function procMemory(pid = 'self') {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : NaN;
    };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: pid === 'self' ? process.memoryUsage.rss() : NaN, hwm: NaN };
  }
}

function rss() {
  return procMemory('self').rss;
}

const MB = 1024 * 1024;
const mb = (bytes, digits = 2) => Number((bytes / MB).toFixed(digits));

/* ------------------------------------------------------------------ progress */

/**
 * A progress line for a step that may take more than a second. On a terminal
 * it redraws one line (at most every 100 ms); elsewhere it prints the start and
 * the end so logs stay short. Writes to stderr so JSON on stdout stays clean.
 */
function progress(label) {
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  let last = 0;
  if (!tty) process.stderr.write(`  … ${label}\n`);
  return {
    update(fraction, note = '') {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && fraction < 1) return;
      last = now;
      const width = 24;
      const full = Math.max(0, Math.min(width, Math.round(fraction * width)));
      const bar = '█'.repeat(full) + '░'.repeat(width - full);
      const secs = ((now - t0) / 1000).toFixed(1);
      process.stderr.write(`\r\x1b[2K  ${bar} ${label} ${(fraction * 100).toFixed(0)}% ${secs}s ${note}`);
    },
    done(note = '') {
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (tty) process.stderr.write(`\r\x1b[2K  ✓ ${label} (${secs}s) ${note}\n`);
      else process.stderr.write(`  ✓ ${label} (${secs}s) ${note}\n`);
    },
  };
}

/* ------------------------------------------------------------------ timing */

const nowNs = () => process.hrtime.bigint();
const msSince = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/**
 * Times sides against each other.
 *   sides: [{ name, run(): any }] - run does one whole measured unit of work and
 *          returns a checksum (kept, so the work cannot be optimised away).
 *   rounds: measured rounds; warmup: untimed runs of each side first.
 * Round r runs the sides in order when r is even and reversed when r is odd.
 * Returns { [name]: { ms: summary, rssGrowth: summary (bytes, per run),
 *                     firstRssGrowth (bytes, the first measured run), checksum } }.
 */
function compareSides({ label, sides, rounds = 5, warmup = 1, onRound }) {
  const out = {};
  for (const s of sides) out[s.name] = { ms: [], rss: [], checksum: 0 };
  const bar = progress(label);
  const total = warmup * sides.length + rounds * sides.length;
  let done = 0;
  for (let w = 0; w < warmup; w++) {
    for (const s of sides) {
      out[s.name].checksum = s.run();
      bar.update(++done / total, `warm-up ${s.name}`);
    }
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      const before = rss();
      const t0 = nowNs();
      const sum = s.run();
      const ms = msSince(t0);
      const after = rss();
      out[s.name].ms.push(ms);
      out[s.name].rss.push(after - before);
      out[s.name].checksum = sum;
      bar.update(++done / total, s.name);
    }
    if (onRound) onRound(r);
  }
  bar.done();
  const result = {};
  for (const s of sides) {
    const o = out[s.name];
    result[s.name] = {
      ms: summary(o.ms),
      rssGrowth: summary(o.rss),
      firstRssGrowth: o.rss[0],
      checksum: o.checksum,
    };
  }
  return result;
}

/* ------------------------------------------------------------------ output */

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpu: cpus.length ? cpus[0].model : 'unknown',
    cores: cpus.length,
    memory: os.totalmem(),
    // the 1/5/15-minute load averages when the result was written: on a shared
    // machine, a load above the core count means other work competed with the run
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/**
 * Writes bench/results/<name>.json ({ name, mode, date, machine, ...data }) and
 * returns its path.
 */
function writeResult(name, data) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.json`);
  const doc = { name, mode: MODE, date: new Date().toISOString(), machine: machine(), ...data };
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  return file;
}

/** console.table with the column order given and numbers formatted as in the seed. */
function table(rows) {
  console.table(rows);
}

function fmt(n, digits = 2) {
  if (n === undefined || n === null || Number.isNaN(n)) return 'n/a';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A deterministic PRNG (xorshift32) so both sides of a comparison see the same sequence. */
function prng(seed = 0x9e3779b9) {
  let x = seed >>> 0 || 1;
  return function next() {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

module.exports = {
  ROOT,
  RESULTS,
  MODE,
  SMOKE,
  QUICK,
  pick,
  arg,
  loadRmem,
  median,
  summary,
  ratio,
  procMemory,
  rss,
  MB,
  mb,
  progress,
  nowNs,
  msSince,
  compareSides,
  machine,
  writeResult,
  table,
  fmt,
  prng,
  WRITTEN,
  requestWorkload,
};
