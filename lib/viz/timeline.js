'use strict';
// timeline.js - blocks over time as an SVG (mallocvis / villoc style): x is
// the event index, y the block's address (the address pages that ever held a
// block, in order, gaps left out), one rect per block from its allocation to
// its free, coloured by size class. For small traces (the docs); the live
// page draws big ones on a canvas.

const EDGES = [16, 32, 64, 128, 256, 512, 1024, 4096, 32768, 1 << 20, Infinity];
const NAMES = ['≤16 B', '≤32 B', '≤64 B', '≤128 B', '≤256 B', '≤512 B', '≤1 KiB', '≤4 KiB', '≤32 KiB', '≤1 MiB', '> 1 MiB'];
const COLORS = ['#4e79a7', '#59a14f', '#9c755f', '#f28e2b', '#edc948', '#b07aa1', '#e15759', '#76b7b2', '#ff9da7', '#bab0ac', '#263238'];

function classOf(size) {
  let k = 0;
  while (size > EDGES[k]) k++;
  return k;
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * blocks: { from, to, addr, size } arrays (or arrays of objects); n: events.
 * options: width (800), height (300), title, pageSize (4096).
 */
function svg(blocks, n, options = {}) {
  const list = Array.isArray(blocks) ? blocks : Array.from({ length: blocks.n }, (_, b) => ({
    from: blocks.from[b], to: blocks.to[b], addr: blocks.addr[b], size: blocks.size[b] }));
  const W = options.width || 800;
  const H = options.height || 300;
  const pageSize = options.pageSize || 4096;
  const pad = 10;
  const top = options.title ? 40 : 14;
  const left = 60;
  // the address axis: touched pages in order
  const pages = new Set();
  for (const b of list) {
    for (let p = Math.floor(b.addr / pageSize); p <= Math.floor((b.addr + Math.max(1, b.size) - 1) / pageSize); p++) pages.add(p);
  }
  const sorted = [...pages].sort((a, b) => a - b);
  const rowOf = new Map(sorted.map((p, i) => [p, i]));
  const rows = Math.max(1, sorted.length);
  const sx = (W - left - pad) / Math.max(1, n);
  const sy = (H - top - 30) / rows;
  const out = [];
  const present = EDGES.map((_, k) => k).filter((k) => list.some((b) => classOf(b.size) === k));
  const perRow = Math.max(1, Math.floor((W - left - pad) / 80));
  const height = H + 8 + Math.ceil(present.length / perRow) * 16;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${height}" fill="#fafafa"/>`);
  if (options.title) out.push(`<text x="${pad}" y="18" font-size="14" font-weight="bold">${esc(options.title)}</text>`);
  const gh = H - top - 30;
  out.push(`<rect x="${left}" y="${top}" width="${W - left - pad}" height="${gh}" fill="#fff" stroke="#cfd8dc"/>`);
  out.push(`<text x="${left}" y="${top + gh + 14}" fill="#555">event 0</text>`);
  out.push(`<text x="${W - pad}" y="${top + gh + 14}" fill="#555" text-anchor="end">event ${n}</text>`);
  out.push(`<text x="${pad}" y="${top + 10}" fill="#555">low</text><text x="${pad}" y="${top + gh}" fill="#555">high</text>`);
  out.push(`<text x="${pad}" y="${top + gh / 2}" fill="#555">address</text>`);
  for (let k = 0; k < EDGES.length; k++) {
    const mine = list.filter((b) => classOf(b.size) === k);
    if (!mine.length) continue;
    out.push(`<g fill="${COLORS[k]}">`);
    for (const b of mine) {
      const r0 = rowOf.get(Math.floor(b.addr / pageSize));
      const r1 = rowOf.get(Math.floor((b.addr + Math.max(1, b.size) - 1) / pageSize));
      const x = left + b.from * sx;
      const y = top + r0 * sy;
      const w = Math.max(0.5, (b.to - b.from) * sx);
      const h = Math.max(0.5, (r1 - r0 + 1) * sy - (sy > 2 ? 0.5 : 0));
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(2)}"><title>${b.size} B at ${b.addr}, events ${b.from}..${b.to}</title></rect>`);
    }
    out.push('</g>');
  }
  present.forEach((k, i) => {
    const x = left + (i % perRow) * 80;
    const y = H + 4 + Math.floor(i / perRow) * 16;
    out.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[k]}"/><text x="${x + 16}" y="${y + 10}">${esc(NAMES[k])}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

module.exports = { svg, classOf, NAMES, COLORS };
