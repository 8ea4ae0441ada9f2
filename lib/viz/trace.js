'use strict';
// trace.js - reads an allocation trace of the drop-in malloc
// (RMEM_MALLOC_TRACE=file, malloc/trace.c) and replays it.
//
//   decode(buffer)    -> { version, pageSize, createdNs, processes: [proc] } (format: malloc/trace.c)
//                        proc: { pid, parent, t0, threads: [tid], n, t, kind, addr, size, aux, tid }
//                        (typed arrays of n events, in time order; t in ns
//                        from t0, the process's first event; parent: the pid
//                        it was forked from, or 0)
//   replay(proc)      -> { blocks, stats, timeline } : every block with its
//                        lifetime [from, to) in event indices, whether the
//                        events balance (every free names a live block), and
//                        live blocks and bytes after every event
//
// Events: MALLOC, FREE, CALLOC, REALLOC (its old block is the REALLOC_FREE
// just before it), REALLOC_FREE, MEMALIGN (aux: log2 of the alignment).
const fs = require('node:fs');

const KIND = { MALLOC: 1, FREE: 2, CALLOC: 3, REALLOC: 4, REALLOC_FREE: 5, MEMALIGN: 6, FORK: 7 };
const KIND_NAMES = ['?', 'malloc', 'free', 'calloc', 'realloc', 'realloc (old block)', 'memalign', 'fork'];
const HEADER = 32;
const TWO56 = 2 ** 56;

function fail(message) {
  return require('../errors').rmemError('ERR_RMEM_BAD_TRACE', `rmem trace: ${message}`);
}

/** Decodes a whole trace file's bytes (a Buffer or Uint8Array). */
function decode(bytes) {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER || buf.toString('latin1', 0, 7) !== 'RMTRACE') throw fail('not a trace (no RMTRACE header)');
  const version = buf.readUInt32LE(8);
  const evSize = buf.readUInt32LE(12);
  const blkSize = buf.readUInt32LE(16);
  if (version !== 2 || evSize !== 16 || blkSize !== 48) throw fail(`unknown format (version ${version}); this reader knows version 2`);
  const pageSize = buf.readUInt32LE(20);
  const createdNs = Number(buf.readBigUInt64LE(24));
  const u64 = (o) => buf.readUInt32LE(o + 4) * 4294967296 + buf.readUInt32LE(o);
  // first pass: the blocks, each process's events and its clock (ticks -> ns from its (ticks, ns) pairs)
  const counts = new Map();
  const clocks = new Map();
  const blocks = [];
  let at = HEADER;
  while (at + blkSize <= buf.length) {
    if (buf.readUInt32LE(at) !== 0x42544d52) throw fail(`bad block at byte ${at}`);
    const count = buf.readUInt32LE(at + 4);
    const pid = buf.readUInt32LE(at + 8);
    const tid = buf.readUInt32LE(at + 12);
    const end = at + blkSize + count * evSize;
    if (end > buf.length) break; // a block cut short (the program was killed while writing): ignored
    blocks.push({ at: at + blkSize, count, pid, tid });
    counts.set(pid, (counts.get(pid) || 0) + count);
    const c = clocks.get(pid) || { t0: u64(at + 16), n0: u64(at + 24), t1: 0, n1: 0 };
    const t1 = u64(at + 32);
    if (t1 >= c.t1) {
      c.t1 = t1;
      c.n1 = u64(at + 40);
    }
    clocks.set(pid, c);
    at = end;
  }
  const processes = [];
  for (const [pid, total] of counts) {
    const clock = clocks.get(pid);
    const rate = clock.t1 > clock.t0 && clock.n1 > clock.n0 ? (clock.n1 - clock.n0) / (clock.t1 - clock.t0) : 1;
    const ns = (ticks) => clock.n0 + (ticks - clock.t0) * rate;
    const t = new Float64Array(total);
    const kind = new Uint8Array(total);
    const addr = new Float64Array(total);
    const size = new Float64Array(total);
    const aux = new Uint8Array(total);
    const tid = new Uint32Array(total);
    const seq = new Float64Array(total);
    let k = 0;
    const threads = new Set();
    const lastOf = new Map(); // tid -> index of its last event (an extension belongs to it)
    for (const b of blocks) {
      if (b.pid !== pid) continue;
      threads.add(b.tid);
      for (let i = 0, o = b.at; i < b.count; i++, o += evSize) {
        const lo = buf.readUInt32LE(o);
        const hi = buf.readUInt32LE(o + 4);
        const kd = (hi >>> 24) & 7;
        if (kd === 0) { // an extension: the whole size of the event before it
          const j = lastOf.get(b.tid);
          if (j !== undefined) size[j] = u64(o + 8);
          continue;
        }
        t[k] = (hi & 0xffffff) * 4294967296 + lo;
        kind[k] = kd;
        aux[k] = hi >>> 27;
        const ahi = buf.readUInt32LE(o + 12);
        addr[k] = (ahi & 0xffff) * 4294967296 + buf.readUInt32LE(o + 8);
        size[k] = ahi >>> 16;
        tid[k] = b.tid;
        seq[k] = k;
        lastOf.set(b.tid, k);
        k++;
      }
    }
    const n = k;
    // time order; a thread's own events keep their order (equal ticks: file order)
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    idx.sort((a, b) => t[a] - t[b] || seq[a] - seq[b]);
    const first = n ? idx[0] : -1;
    const t0 = n ? ns(t[first]) : 0;
    const parent = first >= 0 && kind[first] === KIND.FORK ? addr[first] : 0;
    const p = { pid, parent, t0, threads: [...threads], n, t: new Float64Array(n), kind: new Uint8Array(n),
      addr: new Float64Array(n), size: new Float64Array(n), aux: new Uint8Array(n), tid: new Uint32Array(n) };
    for (let i = 0; i < n; i++) {
      const j = idx[i];
      p.t[i] = Math.max(0, ns(t[j]) - t0);
      p.kind[i] = kind[j];
      p.addr[i] = addr[j];
      p.size[i] = size[j];
      p.aux[i] = aux[j];
      p.tid[i] = tid[j];
    }
    processes.push(p);
  }
  processes.sort((a, b) => b.n - a.n || a.pid - b.pid); // the busiest first
  return { version, pageSize, createdNs, processes };
}

/**
 * address -> block index, open addressing with linear probing. A Map keyed by
 * addresses (doubles above 2^31, heap numbers to V8) collided so badly that a
 * replay of 3 million events took a minute; this is linear.
 */
class AddrMap {
  constructor() {
    this.bits = 12;
    this.keys = new Float64Array(1 << this.bits); // 0 = empty (no block lives at address 0)
    this.vals = new Int32Array(1 << this.bits);
    this.size = 0;
  }

  slot(a) {
    const lo = a % 4294967296;
    const hi = (a - lo) / 4294967296;
    const h = Math.imul((lo >>> 4) ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    return (h ^ (h >>> 15)) >>> (32 - this.bits);
  }

  get(a) {
    const mask = (1 << this.bits) - 1;
    for (let i = this.slot(a); ; i = (i + 1) & mask) {
      const k = this.keys[i];
      if (k === a) return this.vals[i];
      if (k === 0) return undefined;
    }
  }

  set(a, v) {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const mask = (1 << this.bits) - 1;
    for (let i = this.slot(a); ; i = (i + 1) & mask) {
      const k = this.keys[i];
      if (k === a) {
        this.vals[i] = v;
        return;
      }
      if (k === 0) {
        this.keys[i] = a;
        this.vals[i] = v;
        this.size++;
        return;
      }
    }
  }

  delete(a) {
    const mask = (1 << this.bits) - 1;
    let i = this.slot(a);
    while (this.keys[i] !== a) {
      if (this.keys[i] === 0) return false;
      i = (i + 1) & mask;
    }
    // backward-shift deletion: no tombstones, probe chains stay short
    for (let j = (i + 1) & mask; this.keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.slot(this.keys[j]);
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        this.keys[i] = this.keys[j];
        this.vals[i] = this.vals[j];
        i = j;
      }
    }
    this.keys[i] = 0;
    this.size--;
    return true;
  }

  grow() {
    const { keys, vals } = this;
    this.bits++;
    this.keys = new Float64Array(1 << this.bits);
    this.vals = new Int32Array(1 << this.bits);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.set(keys[i], vals[i]);
  }
}

function read(file) {
  return decode(fs.readFileSync(file));
}

/**
 * Replays a process's events: every block and its lifetime, and whether the
 * events balance. blocks: { from, to, addr, size, kind } (to = n while alive
 * at the end). stats: allocs, frees, reallocs, failed, unmatchedFrees (a free
 * of no live block), reused (an allocation at an address that was still live
 * by the trace: a block whose free the trace missed), liveAtEnd, peakLive,
 * peakBytes, bytesAllocated, inherited (a fork child: the parent's live blocks
 * at the fork, which it may free; give the whole trace for them). live and
 * liveBytes: after each event.
 */
function replay(p, trace) {
  const n = p.n;
  const live = new AddrMap(); // addr -> block index
  const inherited = new Map(); // a fork child: the parent's live blocks at the fork (addr -> size)
  if (p.parent && trace) {
    const par = trace.processes.find((q) => q.pid === p.parent);
    if (par) {
      const forkAt = p.t0;
      const pl = replay(par, trace);
      for (let b = 0; b < pl.blocks.n; b++) {
        const from = par.t[pl.blocks.from[b]] + par.t0;
        const to = pl.blocks.to[b] < par.n ? par.t[pl.blocks.to[b]] + par.t0 : Infinity;
        if (from <= forkAt && to > forkAt) inherited.set(pl.blocks.addr[b], pl.blocks.size[b]);
      }
    }
  }
  const blocks = { from: [], to: [], addr: [], size: [], kind: [] };
  const liveCount = new Uint32Array(n);
  const liveBytes = new Float64Array(n);
  const st = { events: n, allocs: 0, frees: 0, reallocs: 0, failed: 0, unmatchedFrees: 0, reused: 0, liveAtEnd: 0,
    peakLive: 0, peakBytes: 0, bytesAllocated: 0 };
  let bytes = 0;
  let pendingOld = -1; // the block a REALLOC_FREE took out, until its REALLOC
  const end = (b, i) => {
    blocks.to[b] = i;
    bytes -= blocks.size[b];
  };
  const add = (a, size, kind, i, old) => {
    const prev = live.get(a);
    if (prev !== undefined) {
      st.reused++;
      end(prev, i);
    }
    const b = blocks.from.length;
    blocks.from.push(i);
    blocks.to.push(n);
    blocks.addr.push(a);
    blocks.size.push(size);
    blocks.kind.push(kind);
    live.set(a, b);
    bytes += size;
    if (!old) st.bytesAllocated += size;
  };
  for (const [a, size] of inherited) add(a, size, 0, 0, true); // kind 0: from the parent
  st.inherited = inherited.size;
  for (let i = 0; i < n; i++) {
    const k = p.kind[i];
    const a = p.addr[i];
    if (k === KIND.FREE || k === KIND.REALLOC_FREE) {
      const b = live.get(a);
      if (b === undefined) {
        st.unmatchedFrees++;
        pendingOld = -1;
      } else {
        live.delete(a);
        end(b, i);
        if (k === KIND.FREE) st.frees++;
        pendingOld = k === KIND.REALLOC_FREE ? b : -1;
      }
    } else if (k === KIND.MALLOC || k === KIND.CALLOC || k === KIND.MEMALIGN || k === KIND.REALLOC) {
      if (k === KIND.REALLOC) st.reallocs++;
      else st.allocs++;
      if (a === 0) {
        if (k === KIND.REALLOC && p.aux[i] === 1 && pendingOld >= 0) {
          // the realloc failed: the old block lives on
          add(blocks.addr[pendingOld], blocks.size[pendingOld], blocks.kind[pendingOld], i, true);
        } else if (k === KIND.REALLOC && pendingOld >= 0) {
          st.frees++; // realloc(p, 0) freed it
        } else {
          st.failed++;
        }
      } else {
        add(a, p.size[i], k, i);
      }
      pendingOld = -1;
    }
    liveCount[i] = live.size;
    liveBytes[i] = bytes;
    if (live.size > st.peakLive) st.peakLive = live.size;
    if (bytes > st.peakBytes) st.peakBytes = bytes;
  }
  st.liveAtEnd = live.size;
  st.balanced = st.unmatchedFrees === 0 && st.reused === 0;
  return {
    blocks: {
      n: blocks.from.length, from: Uint32Array.from(blocks.from), to: Uint32Array.from(blocks.to),
      addr: Float64Array.from(blocks.addr), size: Float64Array.from(blocks.size), kind: Uint8Array.from(blocks.kind),
    },
    stats: st,
    live: liveCount,
    liveBytes,
  };
}

module.exports = { decode, read, replay, KIND, KIND_NAMES, AddrMap };
