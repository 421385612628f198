// Line charts on uPlot (served from the project's node_modules at /vendor/uplot/: no CDN, works offline).
// A chart's container carries `data-points` (epochs drawn) and `data-series` so that tests and users can see
// what is plotted without reading the canvas.

import uPlot from '/vendor/uplot/uPlot.esm.js';

export const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563', '#65a30d', '#9333ea'];

const AXIS = { stroke: '#64748b', grid: { stroke: '#e2e8f0', width: 1 }, ticks: { stroke: '#e2e8f0', width: 1 }, font: '11px system-ui, sans-serif' };

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Number(v).toFixed(digits);
}

export class LineChart {
  /**
   * @param {HTMLElement} el
   * @param {{ series: { label: string, color?: string, dash?: number[] }[], percent?: boolean, height?: number, empty?: string }} opts
   */
  constructor(el, opts) {
    this.el = el;
    this.opts = { height: 240, empty: 'No epochs yet', ...opts };
    this.xs = [];
    this.ys = this.opts.series.map(() => []);
    this.plot = undefined;
    this.emptyEl = document.createElement('div');
    this.emptyEl.className = 'chart-empty';
    this.emptyEl.textContent = this.opts.empty;
    this.build();
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(el);
  }

  build() {
    this.plot?.destroy();
    this.el.replaceChildren();
    const percent = this.opts.percent;
    const show = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : percent ? `${(v * 100).toFixed(2)}%` : fmt(v, 4));
    const series = [
      { label: 'Epoch', value: (_u, v) => (v === null || v === undefined ? '–' : String(v)) },
      ...this.opts.series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        width: 2,
        dash: s.dash,
        spanGaps: true,
        points: { show: true, size: 5 },
        value: (_u, v) => show(v),
      })),
    ];
    const width = Math.max(240, this.el.clientWidth || 480);
    this.plot = new uPlot(
      {
        width,
        height: this.opts.height,
        series,
        cursor: { drag: { x: false, y: false } },
        legend: { show: true, live: true },
        scales: {
          x: { time: false },
          y: percent ? { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1)] } : { auto: true },
        },
        axes: [
          { ...AXIS, label: 'epoch', labelSize: 18, labelFont: '11px system-ui, sans-serif', incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000] },
          { ...AXIS, size: 50, values: (_u, ticks) => ticks.map((t) => (percent ? `${Math.round(t * 100)}%` : String(+t.toPrecision(3)))) },
        ],
      },
      [this.xs, ...this.ys],
      this.el,
    );
    this.el.append(this.emptyEl);
    this.sync();
  }

  resize() {
    if (!this.plot) return;
    const w = Math.max(240, this.el.clientWidth);
    if (Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.opts.height });
  }

  /** @param {number[]} xs @param {(number|null)[][]} ys one array per series, aligned with xs */
  setData(xs, ys) {
    this.xs = xs;
    this.ys = ys;
    this.plot.setData([xs, ...ys]);
    this.sync();
  }

  /** Replace the series (a different set of jobs to compare); keeps the element. */
  setSeries(series, xs, ys) {
    this.opts.series = series;
    this.xs = xs;
    this.ys = ys;
    this.build();
  }

  sync() {
    this.el.dataset.points = String(this.xs.length);
    this.el.dataset.series = String(this.opts.series.length);
    this.emptyEl.hidden = this.xs.length > 0;
  }

  destroy() {
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
    this.el.replaceChildren();
    this.el.dataset.points = '0';
  }
}

/**
 * Align several runs on one epoch axis for an overlay.
 * @param {Map<number, any>[]} runs each run's epoch → metrics
 * @param {string} metric
 */
export function alignRuns(runs, metric) {
  const epochs = new Set();
  for (const r of runs) for (const e of r.keys()) epochs.add(e);
  const xs = [...epochs].sort((a, b) => a - b);
  const ys = runs.map((r) => xs.map((e) => {
    const v = r.get(e)?.[metric];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }));
  return { xs, ys };
}
