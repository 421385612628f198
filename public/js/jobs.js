// The job list: a store kept current from `GET /v1/jobs` and `WS /v1/stream`, and the table that shows it.

import { Jobs } from './api.js';
import { TERMINAL, datasetLabel, el, jobName, modelLabel, pct, relTime } from './dom.js';

const EPOCH_FIELDS = ['epoch', 'iteration', 'trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'learningRate', 'durationMs', 'samplesPerSecond'];

/** The EpochMetrics fields of an `epoch` stream message. */
export function epochMetrics(msg) {
  const m = {};
  for (const k of EPOCH_FIELDS) if (msg[k] !== undefined) m[k] = msg[k];
  return m;
}

export class JobStore extends EventTarget {
  constructor() {
    super();
    /** @type {Map<string, any>} */
    this.jobs = new Map();
    /** Live batch progress per job: `{ epoch, batch, batches }`. */
    this.progress = new Map();
    /** Jobs ticked for comparison, in tick order. */
    this.selected = new Set();
    this.fetching = new Map();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Newest first (by creation time, then id). */
  sorted() {
    return [...this.jobs.values()].sort((a, b) => (Date.parse(b.createdAt ?? 0) || 0) - (Date.parse(a.createdAt ?? 0) || 0) || String(b.id).localeCompare(String(a.id)));
  }

  /** (Re)load the newest page of jobs. Older pages stay as loaded. */
  async refresh() {
    const { items, nextCursor } = await Jobs.page(100);
    for (const j of items) this.upsert(j, { quiet: true });
    if ((this.pagesLoaded ?? 0) <= 1) this.nextCursor = nextCursor; // older pages already loaded keep their cursor
    this.pagesLoaded = Math.max(this.pagesLoaded ?? 0, 1);
    this.emit('change', { all: true });
  }

  /** Load the next page of older jobs (`?cursor=`). */
  async loadOlder() {
    if (!this.nextCursor) return;
    const { items, nextCursor } = await Jobs.page(100, this.nextCursor);
    for (const j of items) this.upsert(j, { quiet: true });
    this.nextCursor = nextCursor;
    this.pagesLoaded = (this.pagesLoaded ?? 1) + 1;
    this.emit('change', { all: true });
  }

  upsert(job, { quiet = false } = {}) {
    if (!job?.id) return;
    const prev = this.jobs.get(job.id);
    // A late GET must not undo what the stream already told us (e.g. a newer status).
    const merged = prev ? { ...prev, ...job } : { ...job };
    if (prev && TERMINAL.has(prev.status) && !TERMINAL.has(job.status)) merged.status = prev.status;
    if (prev?.latestMetrics && job.latestMetrics && prev.latestMetrics.epoch > job.latestMetrics.epoch) merged.latestMetrics = prev.latestMetrics;
    if (prev?.progress && job.progress && (prev.progress.epoch ?? 0) > (job.progress.epoch ?? 0)) merged.progress = prev.progress;
    this.jobs.set(job.id, merged);
    if (!quiet) this.emit('change', { id: job.id });
  }

  /** Fetch one job we heard of on the stream but do not know yet. */
  fetchJob(id) {
    if (this.fetching.has(id)) return this.fetching.get(id);
    const p = Jobs.get(id)
      .then((job) => this.upsert(job))
      .catch(() => {})
      .finally(() => this.fetching.delete(id));
    this.fetching.set(id, p);
    return p;
  }

  /** Apply one message of `WS /v1/stream` (or of a job's own stream). */
  apply(msg) {
    const id = msg.jobId;
    if (!id) return;
    const job = this.jobs.get(id);
    if (!job) {
      if (msg.type !== 'progress' && msg.type !== 'log') this.fetchJob(id);
      return;
    }
    switch (msg.type) {
      case 'status':
        if (TERMINAL.has(job.status) && !TERMINAL.has(msg.status)) break; // an old message replayed late
        job.status = msg.status;
        if (msg.status === 'active' && !job.startedAt) job.startedAt = msg.at;
        if (TERMINAL.has(msg.status)) {
          job.finishedAt ??= msg.at;
          this.progress.delete(id);
        }
        if (msg.error) job.error = msg.error;
        break;
      case 'epoch': {
        const m = epochMetrics(msg);
        if (!job.latestMetrics || (job.latestMetrics.epoch ?? 0) <= m.epoch) job.latestMetrics = m;
        job.progress = { ...(job.progress ?? {}), epoch: Math.max(job.progress?.epoch ?? 0, m.epoch) };
        if (job.status === 'queued') job.status = 'active';
        this.emit('epoch', { id, metrics: m });
        break;
      }
      case 'progress':
        if (TERMINAL.has(job.status)) return;
        this.progress.set(id, { epoch: msg.epoch, batch: msg.batch, batches: msg.batches });
        break;
      case 'done':
        job.status = msg.status;
        if (msg.modelId) job.modelId = msg.modelId;
        if (msg.error) job.error = msg.error;
        this.progress.delete(id);
        break;
      default:
        return;
    }
    this.emit('change', { id });
  }

  toggleSelected(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.emit('selection', {});
  }

  clearSelection() {
    this.selected.clear();
    this.emit('selection', {});
  }
}

const STATUS_LABEL = { queued: 'queued', active: 'running', completed: 'completed', failed: 'failed', cancelled: 'cancelled' };

export function statusPill(status) {
  return el('span', { class: `status status-${status ?? 'unknown'}`, 'data-status': status ?? '' }, STATUS_LABEL[status] ?? status ?? '?');
}

/** The jobs table: one keyed row per job, updated in place (ticks and focus survive updates). */
export class JobTable {
  /** @param {JobStore} store @param {{ onOpen: (id: string) => void }} hooks */
  constructor(store, hooks) {
    this.store = store;
    this.hooks = hooks;
    this.body = document.getElementById('jobs-body');
    this.empty = document.getElementById('jobs-empty');
    this.count = document.getElementById('jobs-count');
    this.more = document.getElementById('jobs-more');
    this.more.addEventListener('click', async () => {
      this.more.disabled = true;
      try {
        await store.loadOlder();
      } finally {
        this.more.disabled = false;
      }
    });
    this.rows = new Map();
    this.openId = undefined;
    this.pending = false;
    store.addEventListener('change', () => this.schedule());
    store.addEventListener('selection', () => this.schedule());
    setInterval(() => this.schedule(), 30_000); // relative times
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  setOpen(id) {
    this.openId = id;
    this.schedule();
  }

  render() {
    const jobs = this.store.sorted();
    this.empty.hidden = jobs.length > 0;
    this.count.textContent = jobs.length ? `${jobs.length}${this.store.nextCursor ? '+' : ''}` : '';
    this.more.hidden = !this.store.nextCursor;
    const seen = new Set();
    let prev = null;
    for (const job of jobs) {
      seen.add(job.id);
      let row = this.rows.get(job.id);
      if (!row) {
        row = this.createRow(job.id);
        this.rows.set(job.id, row);
      }
      this.updateRow(row, job);
      const want = prev ? prev.tr.nextSibling : this.body.firstChild;
      if (want !== row.tr) this.body.insertBefore(row.tr, want);
      prev = row;
    }
    for (const [id, row] of this.rows) if (!seen.has(id)) {
      row.tr.remove();
      this.rows.delete(id);
    }
  }

  createRow(id) {
    const check = el('input', { type: 'checkbox', class: 'compare-check', 'aria-label': 'compare this job' });
    check.addEventListener('click', (ev) => ev.stopPropagation());
    check.addEventListener('change', () => this.store.toggleSelected(id, check.checked));
    const cells = {
      check: el('td', { class: 'col-check' }, check),
      status: el('td', { class: 'col-status' }),
      name: el('td', { class: 'col-name' }),
      dataset: el('td', { class: 'col-dataset' }),
      model: el('td', { class: 'col-model mono' }),
      epoch: el('td', { class: 'col-epoch' }),
      acc: el('td', { class: 'col-acc num' }),
      created: el('td', { class: 'col-created muted' }),
    };
    const tr = el('tr', { class: 'job-row', 'data-job-id': id, tabindex: '0' }, ...Object.values(cells));
    tr.addEventListener('click', () => this.hooks.onOpen(id));
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && ev.target === tr) this.hooks.onOpen(id);
    });
    return { tr, check, cells, key: '' };
  }

  updateRow(row, job) {
    const live = this.store.progress.get(job.id);
    const epochs = job.progress?.epochs ?? job.spec?.training?.epochs;
    const epoch = job.progress?.epoch ?? job.latestMetrics?.epoch ?? 0;
    const frac = live && job.status === 'active' ? live.batch / Math.max(1, live.batches) : 0;
    const key = JSON.stringify([job.status, job.name, epoch, epochs, job.latestMetrics?.testAccuracy, Math.round(frac * 50), relTime(job.createdAt), this.store.selected.has(job.id), this.openId === job.id]);
    if (row.key === key) return;
    row.key = key;
    const c = row.cells;
    row.tr.dataset.status = job.status ?? '';
    row.tr.classList.toggle('open', this.openId === job.id);
    row.check.checked = this.store.selected.has(job.id);
    c.status.replaceChildren(statusPill(job.status));
    c.name.replaceChildren(el('span', { class: 'job-name' }, jobName(job)), el('span', { class: 'muted small mono id' }, job.id));
    c.dataset.textContent = datasetLabel(job.spec);
    c.model.textContent = modelLabel(job.spec);
    const overall = epochs ? Math.min(1, (epoch + frac) / epochs) : 0;
    c.epoch.replaceChildren(
      el('span', { class: 'epoch-text' }, epochs ? `${epoch} / ${epochs}` : String(epoch)),
      job.status === 'active' ? el('span', { class: 'mini-bar' }, el('span', { style: `width:${(overall * 100).toFixed(1)}%` })) : '',
    );
    c.acc.textContent = pct(job.latestMetrics?.testAccuracy, 2);
    c.created.textContent = relTime(job.createdAt);
    c.created.title = job.createdAt ?? '';
  }
}
