// cells.js - the heap map's model: a layout (Rmem#layout(), or one rebuilt
// from a trace, or a simulator's) cut into a grid of cells, each coloured by
// the owner of most of its bytes and shaded by how full that owner's memory
// is there. One file for Node (the SVG and terminal maps, lib/viz/heapmap.js)
// and for the browser (the live page draws the same cells on a canvas).
//
// A run is { offset, pages | bytes, owner, ... } as lib/layout.js makes them;
// `bytes` (a simulator's byte-exact blocks) takes precedence over `pages`.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.RmemCells = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  // Owner codes, in legend order. Colours are the base colour at full occupancy.
  const CODES = [
    { key: 'reserved', label: 'reserved (page 0, last page)', color: '#455a64', letter: '#' },
    { key: 'free', label: 'free (returned to the OS)', color: '#e3e8ec', letter: '.' },
    { key: 'dirty', label: 'free, still resident', color: '#f6df8b', letter: ':' },
    { key: 'untouched', label: 'never used', color: '#ffffff', letter: ' ' },
    { key: 'heap', label: 'heap slab (shade: live slots)', color: '#1e6fd9', letter: 'h' },
    { key: 'large', label: 'heap large block', color: '#0b3d91', letter: 'l' },
    { key: 'arena', label: 'arena chunk (shade: bumped)', color: '#d93025', letter: 'a' },
    { key: 'inter', label: 'intermediate arena slab / large', color: '#f08c00', letter: 'i' },
    { key: 'slab', label: 'slab cache slab (shade: live)', color: '#8e24aa', letter: 's' },
    { key: 'mems', label: 'MeMS main node (shade: PROCESS)', color: '#2e9d46', letter: 'm' },
    { key: 'block', label: 'first-fit blocks (shade: bytes in blocks)', color: '#00838f', letter: 'b' },
  ];
  const CODE = {};
  CODES.forEach((c, i) => { CODE[c.key] = i; });

  function runBytes(r, pageSize) {
    return r.bytes !== undefined ? r.bytes : r.pages * pageSize;
  }

  /** The owner code of a run. */
  function codeOf(r) {
    switch (r.owner) {
      case 'reserved': return CODE.reserved;
      case 'free': return r.untouched ? CODE.untouched : r.dirtyPages > 0 ? CODE.dirty : CODE.free;
      case 'heap': return r.kind === 'large' ? CODE.large : r.kind === 'block' ? CODE.block : CODE.heap;
      case 'arena': return r.kind === 'chunk' ? CODE.arena : CODE.inter;
      case 'slab': return CODE.slab;
      case 'mems': return CODE.mems;
      default: return CODE.reserved;
    }
  }

  /** How full the run is over [a, b) (byte offsets inside it), 0..1. */
  function fillIn(r, a, b, pageSize) {
    const len = b - a;
    if (len <= 0) return 0;
    switch (r.owner) {
      case 'reserved': return 1;
      case 'free': return r.untouched ? 0 : r.dirtyPages / r.pages;
      case 'mems': {
        let p = 0;
        for (const s of r.segments || []) {
          if (s.kind !== 'process') continue;
          const x = Math.max(a, s.offset);
          const y = Math.min(b, s.offset + s.size);
          if (y > x) p += y - x;
        }
        return r.segments && r.segments.length ? p / len : r.bytesInUse / runBytes(r, pageSize);
      }
      default:
        break;
    }
    if (r.kind === 'chunk') {
      const end = r.offset + r.used;
      return Math.max(0, Math.min(b, end) - a) / len;
    }
    if (r.kind === 'slab') return r.slots ? r.live / r.slots : 0;
    if (r.kind === 'large' && r.size !== undefined) return Math.min(1, r.size / runBytes(r, pageSize));
    return 1;
  }

  /**
   * The grid. options: columns (default 64), maxCells (default 4096: more
   * pages than that share a cell), full (draw the never-used pages above the
   * high-water mark too; default: they are summed up in `hidden`), trim
   * (draw only up to the end of the last run an allocator owns).
   * Returns { columns, rows, cellBytes, pagesPerCell, ncells, code: Uint8Array,
   * fill: Float32Array, run: Int32Array (the run that owns most of the cell),
   * shownBytes, hidden: { bytes, pages } }.
   */
  function model(layout, options) {
    const o = options || {};
    const pageSize = layout.pageSize || 4096;
    const columns = Math.max(1, Math.floor(o.columns || 64));
    const maxCells = Math.max(columns, Math.floor(o.maxCells || 4096));
    const runs = layout.runs;
    let shown = layout.capacity;
    let hidden = 0;
    if (!o.full) {
      // stop at the never-used pages above the high-water mark (and the reserved page after them)
      for (let i = runs.length - 1; i >= 0; i--) {
        const r = runs[i];
        if (r.owner === 'free' && r.untouched) {
          shown = r.offset;
          hidden = layout.capacity - r.offset;
          break;
        }
        if (r.owner !== 'reserved') break;
      }
      if (o.trim) {
        // only up to the end of the last run some allocator owns
        shown = pageSize;
        for (let i = runs.length - 1; i >= 0; i--) {
          const r = runs[i];
          if (r.owner !== 'free' && r.owner !== 'reserved') {
            shown = r.offset + runBytes(r, pageSize);
            break;
          }
        }
        hidden = layout.capacity - shown;
      }
      if (shown === 0) shown = pageSize;
    }
    const shownPages = Math.ceil(shown / pageSize);
    const pagesPerCell = Math.max(1, Math.ceil(shownPages / maxCells));
    const cellBytes = pagesPerCell * pageSize;
    const ncells = Math.ceil(shown / cellBytes);
    const rows = Math.ceil(ncells / columns);
    const code = new Uint8Array(ncells);
    const fill = new Float32Array(ncells);
    const runOf = new Int32Array(ncells);
    const acc = new Float64Array(CODES.length);
    const accFill = new Float64Array(CODES.length);
    const accRun = new Int32Array(CODES.length);
    const accRunBytes = new Float64Array(CODES.length);
    let ri = 0;
    for (let c = 0; c < ncells; c++) {
      const a = c * cellBytes;
      const b = Math.min(shown, a + cellBytes);
      acc.fill(0);
      accFill.fill(0);
      accRunBytes.fill(0);
      while (ri < runs.length && runs[ri].offset + runBytes(runs[ri], pageSize) <= a) ri++;
      for (let j = ri; j < runs.length && runs[j].offset < b; j++) {
        const r = runs[j];
        const x = Math.max(a, r.offset);
        const y = Math.min(b, r.offset + runBytes(r, pageSize));
        if (y <= x) continue;
        const k = codeOf(r);
        acc[k] += y - x;
        accFill[k] += fillIn(r, x, y, pageSize) * (y - x);
        if (y - x > accRunBytes[k]) {
          accRunBytes[k] = y - x;
          accRun[k] = j;
        }
      }
      let best = 0;
      for (let k = 1; k < CODES.length; k++) if (acc[k] > acc[best]) best = k;
      code[c] = best;
      // byte-exact blocks (a simulator's): the shade is how much of the cell they cover
      fill[c] = best === CODE.block ? acc[best] / (b - a) : acc[best] > 0 ? accFill[best] / acc[best] : 0;
      runOf[c] = acc[best] > 0 ? accRun[best] : -1;
    }
    return {
      columns, rows, cellBytes, pagesPerCell, ncells, code, fill, run: runOf, shownBytes: shown,
      hidden: { bytes: hidden, pages: hidden / pageSize },
    };
  }

  function hex2(n) {
    const s = Math.round(Math.max(0, Math.min(255, n))).toString(16);
    return s.length < 2 ? '0' + s : s;
  }

  /** The colour of a cell: its owner's, lighter the emptier its memory is. */
  function colorOf(codeIndex, f) {
    const base = CODES[codeIndex].color;
    const key = CODES[codeIndex].key;
    if (key === 'free' || key === 'dirty' || key === 'untouched' || key === 'reserved') return base;
    const t = 0.22 + 0.78 * Math.max(0, Math.min(1, f)); // never white: an empty slab is still a slab
    const r = parseInt(base.slice(1, 3), 16);
    const g = parseInt(base.slice(3, 5), 16);
    const b = parseInt(base.slice(5, 7), 16);
    return '#' + hex2(255 + (r - 255) * t) + hex2(255 + (g - 255) * t) + hex2(255 + (b - 255) * t);
  }

  function size(bytes) {
    if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) return (bytes / (1 << 30)) + ' GiB';
    if (bytes >= 1 << 20) return +(bytes / (1 << 20)).toFixed(2) + ' MiB';
    if (bytes >= 1 << 10) return +(bytes / 1024).toFixed(1) + ' KiB';
    return bytes + ' B';
  }

  /** One line that says what a run is (the hover title). */
  function describe(r, pageSize) {
    const where = `offset ${r.offset}, ${r.bytes !== undefined ? size(r.bytes) : `${r.pages} page${r.pages === 1 ? '' : 's'} (${size(r.pages * pageSize)})`}`;
    switch (r.owner) {
      case 'reserved': return `reserved: never handed out; ${where}`;
      case 'free':
        if (r.untouched) return `free, never used (above the high-water mark); ${where}`;
        return `free run: ${r.dirtyPages} of ${r.pages} pages still resident; ${where}`;
      case 'heap':
        if (r.kind === 'large') return `heap large block of ${size(r.size)}; ${where}`;
        if (r.kind === 'block') return `allocated block of ${size(r.bytes)}; ${where}`;
        return `heap slab, class ${r.slotSize} B: ${r.live} of ${r.slots} slots live, ${r.cached} cached; ${where}`;
      case 'arena':
        if (r.kind === 'chunk') return `${r.lifetime} arena ${r.arena} chunk${r.current ? ' (current)' : ''}: ${size(r.used)} bumped; ${where}`;
        if (r.kind === 'slab') return `intermediate arena ${r.arena} slab, class ${r.slotSize} B: ${r.live} of ${r.slots} live; ${where}`;
        return `intermediate arena ${r.arena} large object of ${size(r.size)}; ${where}`;
      case 'slab': return `slab cache '${r.name}' (${r.objSize} B objects): ${r.live} of ${r.slots} live, ${r.cached} cached; ${where}`;
      case 'mems': {
        const segs = (r.segments || []).map((s) => `${s.kind === 'process' ? 'P' : 'H'}[${s.sva}:${s.eva}]`).join(' ');
        return `MeMS main node ${r.mainIndex} [${r.sva}:${r.eva}]: ${r.bytesInUse} B in use${segs ? `; ${segs}` : ''}; ${where}`;
      }
      default: return where;
    }
  }

  return { CODES, CODE, model, colorOf, codeOf, fillIn, describe, size };
});
