'use strict';
/*
 * svg.js - the two chart kinds of the benchmark report, as inline SVG strings
 * (no library, nothing to download, the HTML stays one self-contained file):
 *   bars(...)  grouped horizontal-axis bar chart, a min–max whisker per bar
 *   lines(...) line chart of series over time (or operations)
 * Every number that reaches the markup goes through num(); every text through esc().
 */

const PALETTE = ['#0f766e', '#c2410c', '#1d4ed8', '#a21caf', '#4d7c0f', '#b45309', '#475569', '#be123c'];

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function num(x) {
  return Number.isFinite(x) ? Number(x.toFixed(2)) : 0;
}

/** Legend entries laid out in rows that fit the width; returns { rows, items: [{x, row, text, colour}] }. */
function legendLayout(labels, width, x0) {
  const items = [];
  let x = x0;
  let row = 0;
  labels.forEach((text, i) => {
    const w = 28 + String(text).length * 6.5;
    if (x + w > width && x > x0) {
      row++;
      x = x0;
    }
    items.push({ x, row, text, colour: PALETTE[i % PALETTE.length] });
    x += w;
  });
  return { rows: row + 1, items };
}

function legendSvg(layout, top) {
  return layout.items.map((it) => `<rect x="${num(it.x)}" y="${top + it.row * 18}" width="12" height="12" fill="${it.colour}"/>` +
    `<text x="${num(it.x + 16)}" y="${top + it.row * 18 + 10}" class="ax">${esc(it.text)}</text>`).join('');
}

/** A "nice" axis maximum and tick step for values up to max. */
function niceScale(max, ticks = 5) {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

function label(v) {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(v % 1e6 ? 1 : 0)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(v % 1e3 ? 1 : 0)}k`;
  if (Math.abs(v) < 10 && v % 1) return v.toFixed(2).replace(/0+$/, '');
  return String(Math.round(v * 100) / 100);
}

/**
 * groups: [{ label, bars: [{ label, value, min?, max? }] }]; every group has
 * the same bar labels (the legend), coloured by position.
 */
function bars({ title, unit, groups, width = 720, height = 300, note = '' }) {
  const legend = groups.length ? groups[0].bars.map((b) => b.label) : [];
  const padL = 64;
  const padR = 16;
  const padT = 40;
  const lay = legendLayout(legend, width - padR, padL);
  height += (lay.rows - 1) * 18;
  const padB = 38 + lay.rows * 18;
  const plotW = width - padL - padR;
  const plotH = height - padT - padB;
  const maxV = Math.max(0, ...groups.flatMap((g) => g.bars.map((b) => Math.max(b.value || 0, b.max || 0))));
  const { top, step } = niceScale(maxV);
  const y = (v) => padT + plotH - (v / top) * plotH;
  const gw = plotW / Math.max(1, groups.length);
  const bw = Math.min(48, (gw * 0.8) / Math.max(1, legend.length));
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`);
  out.push(`<text x="${padL}" y="20" class="t">${esc(title)}${unit ? ` (${esc(unit)})` : ''}</text>`);
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(`<line x1="${padL}" x2="${width - padR}" y1="${num(y(v))}" y2="${num(y(v))}" class="grid"/>`);
    out.push(`<text x="${padL - 6}" y="${num(y(v) + 4)}" class="ax" text-anchor="end">${esc(label(v))}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = padL + gi * gw + (gw - bw * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const x = x0 + bi * bw;
      const v = b.value || 0;
      const colour = PALETTE[bi % PALETTE.length];
      out.push(`<rect x="${num(x + 2)}" y="${num(y(v))}" width="${num(bw - 4)}" height="${num(padT + plotH - y(v))}" fill="${colour}"><title>${esc(`${g.label} — ${b.label}: ${label(v)}${unit ? ' ' + unit : ''}`)}</title></rect>`);
      if (Number.isFinite(b.min) && Number.isFinite(b.max) && b.max > b.min) {
        const cx = num(x + bw / 2);
        out.push(`<line x1="${cx}" x2="${cx}" y1="${num(y(b.max))}" y2="${num(y(b.min))}" class="wh"/>`);
        out.push(`<line x1="${num(cx - 4)}" x2="${num(cx + 4)}" y1="${num(y(b.max))}" y2="${num(y(b.max))}" class="wh"/>`);
        out.push(`<line x1="${num(cx - 4)}" x2="${num(cx + 4)}" y1="${num(y(b.min))}" y2="${num(y(b.min))}" class="wh"/>`);
      }
      out.push(`<text x="${num(x + bw / 2)}" y="${num(y(v) - 4)}" class="val" text-anchor="middle">${esc(label(v))}</text>`);
    });
    out.push(`<text x="${num(padL + gi * gw + gw / 2)}" y="${padT + plotH + 18}" class="ax" text-anchor="middle">${esc(g.label)}</text>`);
  });
  out.push(legendSvg(lay, height - lay.rows * 18 - 4));
  out.push('</svg>');
  return `<figure>${out.join('')}${note ? `<figcaption>${esc(note)}</figcaption>` : ''}</figure>`;
}

/** series: [{ label, points: [[x, y], ...] }]; xScale/yScale divide the raw values for the axes. */
function lines({ title, series, xLabel, yLabel, xScale = 1, yScale = 1, width = 720, height = 300, note = '' }) {
  const padL = 64;
  const padR = 16;
  const padT = 40;
  const lay = legendLayout(series.map((x) => x.label), width - padR, padL);
  height += (lay.rows - 1) * 18;
  const padB = 46 + lay.rows * 18;
  const plotW = width - padL - padR;
  const plotH = height - padT - padB;
  const pts = series.map((s) => s.points.map(([a, b]) => [a / xScale, b / yScale]));
  const all = pts.flat();
  const maxX = Math.max(1e-9, ...all.map((p) => p[0]));
  const maxY = Math.max(1e-9, ...all.map((p) => p[1]));
  const xs = niceScale(maxX);
  const ys = niceScale(maxY);
  const X = (v) => padL + (v / xs.top) * plotW;
  const Y = (v) => padT + plotH - (v / ys.top) * plotH;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`);
  out.push(`<text x="${padL}" y="20" class="t">${esc(title)}</text>`);
  for (let v = 0; v <= ys.top + 1e-9; v += ys.step) {
    out.push(`<line x1="${padL}" x2="${width - padR}" y1="${num(Y(v))}" y2="${num(Y(v))}" class="grid"/>`);
    out.push(`<text x="${padL - 6}" y="${num(Y(v) + 4)}" class="ax" text-anchor="end">${esc(label(v))}</text>`);
  }
  for (let v = 0; v <= xs.top + 1e-9; v += xs.step) {
    out.push(`<text x="${num(X(v))}" y="${padT + plotH + 16}" class="ax" text-anchor="middle">${esc(label(v))}</text>`);
  }
  out.push(`<text x="${padL + plotW / 2}" y="${padT + plotH + 32}" class="ax" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="14" y="${padT + plotH / 2}" class="ax" text-anchor="middle" transform="rotate(-90 14 ${padT + plotH / 2})">${esc(yLabel)}</text>`);
  pts.forEach((p, i) => {
    if (!p.length) return;
    const d = p.map(([a, b], j) => `${j ? 'L' : 'M'}${num(X(a))},${num(Y(b))}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"><title>${esc(series[i].label)}</title></path>`);
  });
  out.push(legendSvg(lay, height - lay.rows * 18 - 2));
  out.push('</svg>');
  return `<figure>${out.join('')}${note ? `<figcaption>${esc(note)}</figcaption>` : ''}</figure>`;
}

module.exports = { bars, lines, esc, PALETTE };
