// The Health page: small SVG line charts of the server's recent samples (GET
// /admin/health: one every 2 s, the last ten minutes). The router reloads it
// every 2 s while shown. The charts are SVG elements made with
// createElementNS (geometry in attributes, colours by class in console.css),
// each with a <title> that says what it shows and its latest values.

import { api } from './api.js';
import { $, el, fmtBytes, fmtMs, fmtNum, fmtTime, setText, svgEl } from './dom.js';

// value(sample) gives a series' number in a sample (null or missing: a gap).
const CHARTS = [
  { id: 'sessions', title: 'Sessions', format: fmtNum,
    series: () => [{ name: 'sessions', value: (s) => s.sessions }] },
  { id: 'commits', title: 'Commits per second', format: fmtNum,
    series: () => [{ name: 'commits/s', value: (s) => s.commits_per_s }] },
  { id: 'latency', title: 'Commit latency', format: fmtMs,
    series: () => [{ name: 'p50', value: (s) => s.commit_p50_ms },
                   { name: 'p99', value: (s) => s.commit_p99_ms }] },
  { id: 'errors', title: 'Errors per second by code', format: fmtNum,
    series: (samples, intervalS) => {
      const codes = new Set();
      for (const s of samples) for (const code of Object.keys(s.errors || {})) codes.add(code);
      return [{ name: 'all codes', value: (s) => s.errors_per_s },
              ...[...codes].sort().map((code) => ({
                name: code, value: (s) => ((s.errors || {})[code] || 0) / intervalS }))];
    } },
  { id: 'store', title: 'Store used', format: fmtBytes, bytes: true,
    series: () => [{ name: 'used', value: (s) => s.store_used_bytes }] },
];

const W = 400, H = 170, LEFT = 62, RIGHT = 10, TOP = 10, BOTTOM = 22;
const MIN_SPAN_MS = 20000;  // a new server's few samples still spread over the chart

// The chart's top: 1, 2 or 5 times a power of ten, at least x (and at least
// `floor`); for bytes, of a power of 1024 (so 48 KiB tops at 50 KiB).
function niceMax(x, floor, bytes) {
  x = Math.max(x, floor);
  let unit = 1;
  if (bytes) while (x >= 1024 * unit) unit *= 1024;
  const scaled = x / unit;
  const p = Math.pow(10, Math.floor(Math.log10(scaled)));
  for (const m of [1, 2, 5, 10]) if (m * p >= scaled) return m * p * unit;
  return 10 * p * unit;
}

function fmtAgo(ms) {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `−${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}` : `−${s} s`;
}

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

function drawChart(spec, samples, intervalS) {
  const series = spec.series(samples, intervalS);
  const titleId = `chart-${spec.id}-title`;
  const last = samples[samples.length - 1];
  const nowText = last ? series.map((s) => `${s.name} ${spec.format(s.value(last))}`).join(', ')
                       : 'no samples yet';
  const span = last ? Math.max(last.t_ms - samples[0].t_ms, MIN_SPAN_MS) : MIN_SPAN_MS;
  const t0 = last ? last.t_ms - span : 0;
  let top = 0;
  for (const s of series) {
    for (const sample of samples) {
      const v = s.value(sample);
      if (finite(v)) top = Math.max(top, v);
    }
  }
  top = niceMax(top, spec.bytes ? 1024 : 1, spec.bytes);
  const x = (t) => (LEFT + ((t - t0) / span) * (W - LEFT - RIGHT)).toFixed(1);
  const y = (v) => (TOP + (1 - v / top) * (H - TOP - BOTTOM)).toFixed(1);

  const desc = `${spec.title} over the last ${fmtAgo(span).slice(1)}: ${nowText}.`;
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': titleId,
                             'data-test': `chart-${spec.id}-svg` },
                    svgEl('title', { id: titleId }, desc));
  for (const frac of [0, 0.5, 1]) {
    const yy = y(top * frac);
    svg.append(svgEl('line', { class: frac ? 'chart-grid' : 'chart-axis', x1: LEFT, x2: W - RIGHT,
                               y1: yy, y2: yy }),
               svgEl('text', { class: 'chart-label', x: LEFT - 6, y: Number(yy) + 4,
                               'text-anchor': 'end' }, spec.format(top * frac)));
  }
  svg.append(svgEl('text', { class: 'chart-label', x: LEFT, y: H - 6 }, fmtAgo(span)),
             svgEl('text', { class: 'chart-label', x: W - RIGHT, y: H - 6, 'text-anchor': 'end' },
                   'now'));
  series.forEach((s, i) => {
    // A gap (null: no commit in that interval) lifts the pen; a point between
    // gaps gets a dot, as a line through it alone would draw nothing.
    const values = samples.map((sample) => s.value(sample));
    let d = '';
    let points = 0;
    values.forEach((v, j) => {
      if (!finite(v)) return;
      const start = !finite(values[j - 1]);
      d += `${start ? 'M' : 'L'}${x(samples[j].t_ms)} ${y(v)} `;
      if (start && !finite(values[j + 1])) {
        svg.append(svgEl('circle', { class: `chart-dot series-${i}`, cx: x(samples[j].t_ms),
                                     cy: y(v), r: 2.5 }));
      }
      points++;
    });
    if (d) {
      svg.append(svgEl('path', { class: `chart-line series-${i}`, d: d.trim(),
                                 'data-series': s.name, 'data-points': points }));
    }
  });
  if (!samples.length) {
    svg.append(svgEl('text', { class: 'chart-nodata', x: W / 2, y: H / 2, 'text-anchor': 'middle' },
                     'Waiting for the first sample…'));
  }
  // The legend repeats the title's series names for sighted users.
  const legend = el('ul', { class: 'legend', 'aria-hidden': 'true' },
                    ...series.map((s, i) => el('li', { class: `series-${i}` }, s.name)));
  return el('figure', { class: 'chart', id: `chart-${spec.id}`, 'data-test': `chart-${spec.id}`,
                        'data-samples': samples.length },
            el('figcaption', {}, el('span', {}, spec.title),
               el('span', { class: 'now', 'data-test': 'chart-now' }, nowText)),
            svg, legend);
}

// Loads the samples and redraws every chart; `still()` says whether the page
// is still shown.
export async function loadHealth(still = () => true) {
  const health = await api('GET', '/admin/health');
  if (!still()) return;
  const samples = health.samples || [];
  const intervalS = (health.interval_ms || 2000) / 1000;
  // Redrawn whole: the charts hold nothing focusable.
  $('charts').replaceChildren(...CHARTS.map((spec) => drawChart(spec, samples, intervalS)));
  const last = samples[samples.length - 1];
  $('charts').setAttribute('data-latest', last ? String(last.t_ms) : '');
  setText($('health-updated'), last
      ? `${samples.length} samples, one every ${intervalS} s; the latest at ${fmtTime(last.t_ms)} UTC.`
      : 'No samples yet: the server takes one every 2 s.');
}

export function forgetHealth() {
  $('charts').replaceChildren();
}
