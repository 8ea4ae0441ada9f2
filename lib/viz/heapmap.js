'use strict';
// heapmap.js - the heap map of an instance, as a self-contained SVG or as
// block characters for a terminal.
//
// Each cell is one page (or, for a large instance, pagesPerCell pages: at most
// maxCells cells), coloured by the owner of most of its bytes and shaded by
// how full that memory is (a slab's live slots, an arena chunk's bumped bytes,
// a MeMS node's PROCESS bytes). The SVG puts one <g> per run with a <title>
// (hover: offset, size, owner, details) and merges the run's neighbouring
// cells of one row and one shade into one <rect>. The same layout gives the
// same bytes: nothing depends on time or chance.
const cells = require('./cells');

const { CODES } = cells;

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function layoutOf(x, options) {
  if (x && typeof x === 'object' && Array.isArray(x.runs) && typeof x.capacity === 'number') return x;
  if (x && typeof x.layout === 'function') return x.layout(options && options.segments === false ? { segments: false } : {});
  const { invalidArgType } = require('../errors');
  throw invalidArgType('mem', 'an Rmem or a layout ({ pageSize, capacity, runs })', x);
}

function checkOptions(options) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    const { invalidArgType } = require('../errors');
    throw invalidArgType('options', 'of type object', options);
  }
  return options;
}

/**
 * SVG of the heap map. options: columns (64), cell (px, 10), maxCells (4096),
 * full (false), title (a caption), legend (true).
 */
function svg(memOrLayout, options) {
  const o = checkOptions(options);
  const lay = layoutOf(memOrLayout, o);
  const m = cells.model(lay, o);
  const cell = Math.max(2, Math.floor(o.cell || 10));
  const gap = cell >= 6 ? 1 : 0;
  const pad = 10;
  const top = o.title ? 42 : 24;
  const gridW = m.columns * cell;
  const gridH = m.rows * cell;
  const present = new Set();
  for (let c = 0; c < m.ncells; c++) present.add(m.code[c]);
  const legendKeys = CODES.map((_, i) => i).filter((i) => present.has(i));
  const legendCols = Math.max(1, Math.floor((gridW + 2 * pad) / 230));
  const legendRows = o.legend === false ? 0 : Math.ceil(legendKeys.length / legendCols);
  const width = Math.max(gridW + 2 * pad, 360, o.title ? Math.ceil(String(o.title).length * 8.6) + 2 * pad : 0);
  const height = top + gridH + 12 + legendRows * 18 + 22;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fafafa"/>`);
  if (o.title) out.push(`<text x="${pad}" y="18" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  const per = m.pagesPerCell === 1 ? '1 page (4 KiB) per cell' : `${m.pagesPerCell} pages (${cells.size(m.cellBytes)}) per cell`;
  out.push(`<text x="${pad}" y="${top - 8}" fill="#555">${esc(`capacity ${cells.size(lay.capacity)}; ${per}; ${m.ncells} cells`)}</text>`);
  // one group per run: its title, then its rects (runs of equal shade in a row merged)
  const byRun = new Map();
  for (let c = 0; c < m.ncells; c++) {
    const k = m.run[c];
    let list = byRun.get(k);
    if (!list) byRun.set(k, (list = []));
    list.push(c);
  }
  const keys = [...byRun.keys()].sort((a, b) => a - b);
  for (const k of keys) {
    const list = byRun.get(k);
    const r = k >= 0 ? lay.runs[k] : null;
    out.push(`<g>${r ? `<title>${esc(cells.describe(r, lay.pageSize))}</title>` : ''}`);
    for (let i = 0; i < list.length;) {
      const c = list[i];
      const color = cells.colorOf(m.code[c], m.fill[c]);
      const row = Math.floor(c / m.columns);
      let j = i + 1;
      while (j < list.length && list[j] === list[j - 1] + 1 && Math.floor(list[j] / m.columns) === row &&
             cells.colorOf(m.code[list[j]], m.fill[list[j]]) === color) j++;
      const x = pad + (c % m.columns) * cell;
      const y = top + row * cell;
      const w = (j - i) * cell - gap;
      const stroke = CODES[m.code[c]].key === 'untouched' ? ' stroke="#cfd8dc" stroke-width="0.5"' : '';
      out.push(`<rect x="${x}" y="${y}" width="${w}" height="${cell - gap}" fill="${color}"${stroke}/>`);
      i = j;
    }
    out.push('</g>');
  }
  let y = top + gridH + 12;
  if (legendRows) {
    legendKeys.forEach((k, i) => {
      const lx = pad + (i % legendCols) * 230;
      const ly = y + Math.floor(i / legendCols) * 18;
      out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${CODES[k].color}" stroke="#90a4ae" stroke-width="0.5"/>`);
      out.push(`<text x="${lx + 17}" y="${ly + 10}">${esc(CODES[k].label)}</text>`);
    });
    y += legendRows * 18;
  }
  const note = m.hidden.bytes > 0
    ? `not drawn: the last ${cells.size(m.hidden.bytes)} (${o.trim ? 'free or ' : ''}never used, and the reserved last page)`
    : 'the whole range is drawn';
  out.push(`<text x="${pad}" y="${y + 12}" fill="#777">${esc(note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// ANSI 256-colour codes for the owners, in CODES order
const ANSI = [240, 252, 222, 255, 33, 19, 160, 208, 91, 34, 30];
const BLOCKS = ' ▁▂▃▄▅▆▇█';

/**
 * The heap map as lines of text. options: columns (64), maxCells (1024),
 * color (default: process.stdout.isTTY), legend (true), full (false).
 * With colour, each cell's colour is its owner and its glyph how full it is;
 * without, each owner has a letter (capital when more than half full).
 */
function text(memOrLayout, options) {
  const o = checkOptions(options);
  const lay = layoutOf(memOrLayout, o);
  const m = cells.model(lay, { maxCells: 1024, ...o });
  const color = o.color !== undefined ? !!o.color : !!(process.stdout && process.stdout.isTTY);
  const lines = [];
  const per = m.pagesPerCell === 1 ? '1 page per cell' : `${m.pagesPerCell} pages (${cells.size(m.cellBytes)}) per cell`;
  lines.push(`heap map: ${cells.size(lay.capacity)}, ${per}${m.hidden.bytes ? `; the last ${cells.size(m.hidden.bytes)} (${o.trim ? 'free or ' : ''}never used) not drawn` : ''}`);
  for (let row = 0; row < m.rows; row++) {
    let s = '';
    let last = -1;
    for (let c = row * m.columns; c < Math.min(m.ncells, (row + 1) * m.columns); c++) {
      const k = m.code[c];
      const key = CODES[k].key;
      let ch;
      if (!color) {
        const l = CODES[k].letter;
        ch = m.fill[c] > 0.5 && /[a-z]/.test(l) ? l.toUpperCase() : l;
      } else if (key === 'free') ch = '·';
      else if (key === 'dirty') ch = '░';
      else if (key === 'untouched') ch = ' ';
      else if (key === 'reserved') ch = '▪';
      else ch = BLOCKS[Math.max(1, Math.round(m.fill[c] * 8))];
      if (color && k !== last) {
        s += `\x1b[38;5;${ANSI[k]}m`;
        last = k;
      }
      s += ch;
    }
    lines.push(`  ${s}${color ? '\x1b[39m' : ''}`);
  }
  if (o.legend !== false) {
    const present = new Set(m.code);
    const items = CODES.map((c, k) => [c, k]).filter(([, k]) => present.has(k)).map(([c, k]) => {
      const glyph = color ? `\x1b[38;5;${ANSI[k]}m${c.key === 'free' ? '·' : c.key === 'dirty' ? '░' : c.key === 'reserved' ? '▪' : '█'}\x1b[39m` : `'${c.letter}'`;
      return `${glyph} ${c.label}`;
    });
    lines.push(`  ${items.join('  ')}`);
    if (color) lines.push('  glyph height: how full (live slots, bumped bytes, PROCESS bytes)');
    else lines.push('  a capital letter: more than half full');
  }
  return lines.join('\n') + '\n';
}

module.exports = { svg, text, layoutOf };
