// Compare runs: the ticked jobs' curves overlaid on one chart, one legend entry per job, metric selectable.
// History comes from `GET /v1/jobs/:id/metrics`; running jobs keep growing from `WS /v1/stream` epochs.

import { Jobs } from './api.js';
import { LineChart, PALETTE, alignRuns } from './charts.js';
import { el, jobName, num, pct } from './dom.js';
import { statusPill } from './jobs.js';

const $ = (id) => document.getElementById(id);

const METRIC_IS_PERCENT = { testAccuracy: true, trainAccuracy: true, testLoss: false, trainLoss: false };

export class CompareView {
  /** @param {import('./jobs.js').JobStore} store @param {{ toast: Function }} hooks */
  constructor(store, hooks) {
    this.store = store;
    this.hooks = hooks;
    this.section = $('compare');
    this.metricSelect = /** @type {HTMLSelectElement} */ ($('compare-metric'));
    /** jobId → Map(epoch → EpochMetrics) */
    this.history = new Map();
    this.loading = new Map();
    this.chart = undefined;
    this.seriesKey = '';
    this.pending = false;

    store.addEventListener('selection', () => this.sync());
    store.addEventListener('epoch', (ev) => {
      const { id, metrics } = ev.detail;
      const h = this.history.get(id);
      if (!h) return;
      h.set(metrics.epoch, metrics);
      if (store.selected.has(id)) this.schedule();
    });
    store.addEventListener('change', (ev) => {
      // Names may arrive after the tick (a job fetched late).
      if (ev.detail.all || store.selected.has(ev.detail.id)) this.schedule();
    });
    this.metricSelect.addEventListener('change', () => {
      this.seriesKey = '';
      this.schedule();
    });
    $('compare-clear').addEventListener('click', () => store.clearSelection());
  }

  sync() {
    const ids = [...this.store.selected];
    this.section.hidden = ids.length === 0;
    $('compare-clear').hidden = ids.length === 0;
    $('compare-count').textContent = ids.length ? `${ids.length} run${ids.length === 1 ? '' : 's'}` : '';
    for (const id of ids) if (!this.history.has(id)) this.load(id);
    this.schedule();
  }

  async load(id) {
    if (this.loading.has(id)) return;
    const h = new Map();
    this.history.set(id, h);
    const p = Jobs.metrics(id)
      .then((list) => {
        for (const m of list) if (typeof m?.epoch === 'number' && !h.has(m.epoch)) h.set(m.epoch, m);
      })
      .catch((err) => {
        this.hooks.toast(`Could not load the metrics of ${id}: ${err.message}`, 'error');
        this.history.delete(id);
      })
      .finally(() => {
        this.loading.delete(id);
        this.schedule();
      });
    this.loading.set(id, p);
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const ids = [...this.store.selected];
    if (ids.length === 0) return;
    const metric = this.metricSelect.value;
    const names = ids.map((id) => jobName(this.store.jobs.get(id)) || id);
    const labels = names.map((n, i) => (names.indexOf(n) !== i || names.lastIndexOf(n) !== i ? `${n} (${ids[i].slice(0, 6)})` : n));
    const runs = ids.map((id) => this.history.get(id) ?? new Map());
    const { xs, ys } = alignRuns(runs, metric);
    const key = JSON.stringify([metric, ids, labels]);
    if (!this.chart) {
      this.chart = new LineChart($('compare-chart'), {
        percent: METRIC_IS_PERCENT[metric],
        height: 300,
        empty: 'Loading curves…',
        series: labels.map((label, i) => ({ label, color: PALETTE[i % PALETTE.length] })),
      });
      this.chart.setData(xs, ys);
      this.seriesKey = key;
    } else if (key !== this.seriesKey) {
      this.chart.opts.percent = METRIC_IS_PERCENT[metric];
      this.chart.setSeries(labels.map((label, i) => ({ label, color: PALETTE[i % PALETTE.length] })), xs, ys);
      this.seriesKey = key;
    } else {
      this.chart.setData(xs, ys);
    }
    this.section.dataset.metric = metric;
    this.renderSummary(ids, labels, runs);
  }

  /** Final and best numbers per run: the train/test gap is what the course's overfitting experiments compare. */
  renderSummary(ids, labels, runs) {
    $('compare-body').replaceChildren(
      ...ids.map((id, i) => {
        const run = runs[i];
        const last = run.size ? run.get(Math.max(...run.keys())) : this.store.jobs.get(id)?.latestMetrics;
        const best = run.size ? Math.max(...[...run.values()].map((m) => m.testAccuracy ?? -Infinity)) : undefined;
        const gap = last && typeof last.trainAccuracy === 'number' && typeof last.testAccuracy === 'number' ? last.trainAccuracy - last.testAccuracy : undefined;
        const swatch = el('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` });
        return el(
          'tr',
          { 'data-job-id': id },
          el('td', {}, swatch, labels[i]),
          el('td', {}, statusPill(this.store.jobs.get(id)?.status)),
          el('td', { class: 'num' }, last?.epoch ?? '–'),
          el('td', { class: 'num' }, pct(last?.trainAccuracy, 2)),
          el('td', { class: 'num' }, pct(last?.testAccuracy, 2)),
          el('td', { class: 'num' }, gap === undefined ? '–' : `${(gap * 100).toFixed(1)} pt`),
          el('td', { class: 'num' }, pct(best === -Infinity ? undefined : best, 2)),
          el('td', { class: 'num' }, num(last?.testLoss)),
        );
      }),
    );
  }
}
