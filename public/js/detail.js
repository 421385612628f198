// One job, live: its facts, a progress bar for the current epoch, loss and accuracy curves drawn as epochs
// arrive over `WS /v1/jobs/:id/stream` (resumed with `?from=<cursor>` after a drop), cancel and downloads.

import { Jobs, Models, download, getApiKey } from './api.js';
import { LineChart } from './charts.js';
import { TERMINAL, datasetLabel, duration, el, jobName, modelLabel, num, pct } from './dom.js';
import { epochMetrics, statusPill } from './jobs.js';
import { LiveStream } from './stream.js';

const $ = (id) => document.getElementById(id);

export class JobDetail {
  /** @param {import('./jobs.js').JobStore} store @param {{ toast: Function, onClose: Function, onAuthError: Function }} hooks */
  constructor(store, hooks) {
    this.store = store;
    this.hooks = hooks;
    this.section = $('detail');
    this.id = undefined;
    this.stream = undefined;
    /** epoch → EpochMetrics, exactly as received on this job's stream */
    this.points = new Map();
    this.duplicates = 0;
    this.live = undefined;
    this.logs = [];
    this.drawPending = false;
    this.lossChart = undefined;
    this.accChart = undefined;

    $('detail-close').addEventListener('click', () => this.hooks.onClose());
    $('detail-cancel').addEventListener('click', () => this.cancel());
    for (const [id, kind] of [['dl-weights', 'safetensors'], ['dl-onnx', 'onnx']]) {
      $(id).addEventListener('click', (ev) => {
        if (!getApiKey()) return; // a plain link does it
        ev.preventDefault();
        const a = /** @type {HTMLAnchorElement} */ (ev.currentTarget);
        download(a.getAttribute('href'), a.getAttribute('download') || `model.${kind}`).catch((err) => this.hooks.toast(`Download failed: ${err.message}`, 'error'));
      });
    }
    store.addEventListener('change', (ev) => {
      if (this.id && (ev.detail.all || ev.detail.id === this.id)) this.renderHeader();
    });
  }

  ensureCharts() {
    if (this.lossChart) return;
    this.lossChart = new LineChart($('chart-loss'), {
      series: [
        { label: 'train loss', color: '#2563eb' },
        { label: 'test loss', color: '#dc2626' },
      ],
    });
    this.accChart = new LineChart($('chart-acc'), {
      percent: true,
      series: [
        { label: 'train accuracy', color: '#2563eb' },
        { label: 'test accuracy', color: '#dc2626' },
      ],
    });
  }

  get job() {
    return this.id ? this.store.jobs.get(this.id) : undefined;
  }

  async open(id) {
    if (this.id === id) return;
    this.stop();
    this.id = id;
    this.points = new Map();
    this.duplicates = 0;
    this.live = undefined;
    this.logs = [];
    this.section.hidden = false;
    this.section.dataset.jobId = id;
    this.ensureCharts();
    this.draw();
    this.renderLogs();
    this.renderHeader();
    this.section.scrollIntoView({ block: 'start', behavior: 'smooth' });

    // The record (spec, modelId) first, then the stream: it replays every epoch so far, then goes live.
    try {
      const job = await Jobs.get(id);
      if (this.id !== id) return;
      this.store.upsert(job);
    } catch (err) {
      if (this.id !== id) return;
      this.hooks.toast(`Could not load job ${id}: ${err.message}`, 'error');
    }
    if (this.id !== id) return;
    this.stream = new LiveStream(`/v1/jobs/${encodeURIComponent(id)}/stream`, {
      onMessage: (msg) => this.onMessage(id, msg),
      onState: (state, info) => {
        this.section.dataset.stream = state;
        // A stream that keeps failing: is the job still there? (An unknown id is refused before the upgrade.)
        if (state === 'reconnecting' && info?.attempt === 3) {
          Jobs.get(id).catch((err) => {
            if (err.status === 404 && this.id === id) {
              this.stop();
              this.hooks.toast(`Job ${id} does not exist (any more)`, 'error');
            }
          });
        }
      },
      onAuthError: () => this.hooks.onAuthError(),
      isFinal: (msg) => msg.type === 'done',
      // The server may close a finished job's stream after the replay: then there is nothing more to wait for.
      reconnectAfterClose: () => !TERMINAL.has(this.job?.status),
    }).start();
  }

  stop() {
    this.stream?.close();
    this.stream = undefined;
  }

  close() {
    this.stop();
    this.id = undefined;
    this.section.hidden = true;
    delete this.section.dataset.jobId;
  }

  onMessage(id, msg) {
    if (this.id !== id) return;
    if (!msg.jobId) msg.jobId = id;
    switch (msg.type) {
      case 'epoch': {
        const m = epochMetrics(msg);
        if (this.points.has(m.epoch)) this.duplicates += 1; // must stay 0: the cursor resume makes it so
        this.points.set(m.epoch, m);
        this.live = undefined;
        this.scheduleDraw();
        break;
      }
      case 'progress':
        this.live = { epoch: msg.epoch, batch: msg.batch, batches: msg.batches };
        this.renderProgress();
        break;
      case 'log':
        this.logs.push(msg);
        if (this.logs.length > 200) this.logs.shift();
        this.renderLogs();
        break;
      case 'done':
        if (msg.status === 'completed') this.hooks.toast(`${jobName(this.job)} completed`, 'ok');
        break;
      default:
        break;
    }
    this.store.apply(msg);
  }

  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.draw();
    });
  }

  draw() {
    const epochs = [...this.points.keys()].sort((a, b) => a - b);
    const pick = (k) => epochs.map((e) => this.points.get(e)[k] ?? null);
    this.lossChart.setData(epochs, [pick('trainLoss'), pick('testLoss')]);
    this.accChart.setData(epochs, [pick('trainAccuracy'), pick('testAccuracy')]);
    this.section.dataset.duplicates = String(this.duplicates);
    this.renderProgress();
    this.renderFacts();
  }

  renderHeader() {
    const job = this.job;
    if (!job) return;
    $('detail-title').textContent = jobName(job);
    $('detail-id').textContent = job.id;
    const status = $('detail-status');
    status.replaceWith(Object.assign(statusPill(job.status), { id: 'detail-status' }));
    this.section.dataset.status = job.status ?? '';
    $('detail-cancel').hidden = !(job.status === 'queued' || job.status === 'active');
    const done = job.status === 'completed' && job.modelId;
    const base = (job.name || job.spec?.name || job.id).replace(/[^\w.-]+/g, '_');
    for (const [id, href, ext] of [
      ['dl-weights', done && Models.weightsUrl(job.modelId), 'safetensors'],
      ['dl-onnx', done && Models.onnxUrl(job.modelId), 'onnx'],
    ]) {
      const a = $(id);
      a.hidden = !done;
      if (done) {
        a.setAttribute('href', href);
        a.setAttribute('download', `${base}.${ext}`);
      } else a.removeAttribute('href');
    }
    const err = $('detail-error');
    err.hidden = !job.error;
    err.textContent = job.error ? `${job.error.code}: ${job.error.message}` : '';
    err.classList.toggle('notice', job.status === 'cancelled'); // a cancellation is not a failure
    this.renderProgress();
    this.renderFacts();
  }

  renderProgress() {
    const job = this.job;
    if (!job) return;
    const epochs = job.progress?.epochs ?? job.spec?.training?.epochs ?? 0;
    const doneEpochs = Math.max(job.progress?.epoch ?? 0, ...this.points.keys(), 0);
    const bar = $('progress-bar');
    const fill = $('progress-fill');
    let frac = 0;
    let text;
    if (job.status === 'completed') {
      frac = 1;
      text = `Completed ${doneEpochs} epoch${doneEpochs === 1 ? '' : 's'}`;
    } else if (TERMINAL.has(job.status)) {
      frac = epochs ? doneEpochs / epochs : 0; // how far it got
      text = `${job.status === 'cancelled' ? 'Cancelled' : 'Failed'} after ${doneEpochs} epoch${doneEpochs === 1 ? '' : 's'}`;
    } else if (this.live) {
      frac = this.live.batch / Math.max(1, this.live.batches);
      text = `Epoch ${this.live.epoch}${epochs ? ` of ${epochs}` : ''} · batch ${this.live.batch} / ${this.live.batches}`;
    } else if (job.status === 'active') {
      frac = 0;
      text = `Epoch ${Math.min(doneEpochs + 1, epochs || Infinity)}${epochs ? ` of ${epochs}` : ''} · starting`;
    } else {
      text = 'Queued — waiting for a worker';
    }
    fill.style.width = `${(frac * 100).toFixed(1)}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
    bar.dataset.state = job.status ?? '';
    $('progress-text').textContent = text;
    $('progress-overall').textContent = epochs ? `${doneEpochs} / ${epochs} epochs` : '';
  }

  renderFacts() {
    const job = this.job;
    if (!job) return;
    const s = job.spec ?? {};
    const lastEpoch = Math.max(0, ...this.points.keys());
    const latest = this.points.get(lastEpoch) ?? job.latestMetrics;
    const opt = s.optimizer ?? {};
    const reg = s.regularization ?? {};
    const dropout = s.model?.dropout ?? (Array.isArray(s.model?.layers) ? s.model.layers.find((l) => l.type === 'dropout')?.rate : undefined);
    const facts = [
      ['Dataset', datasetLabel(s)],
      ['Model', modelLabel(s) + (s.model?.preset === 'mlp' && s.model.hiddenLayers !== undefined ? ` ${s.model.hiddenLayers}×${s.model.units ?? 100}` : '')],
      ['Optimizer', opt.type ? `${opt.type} · lr ${opt.learningRate ?? 'default'}` : 'default'],
      ['L1 / L2 λ', `${reg.l1 ?? 0} / ${reg.l2 ?? 0}`],
      ['Dropout', dropout !== undefined ? String(dropout) : 'preset default'],
      ['Batch · sampling', `${s.training?.batchSize ?? '–'} · ${s.training?.sampling ?? 'shuffle'}`],
      ['Test accuracy', pct(latest?.testAccuracy, 2)],
      ['Train accuracy', pct(latest?.trainAccuracy, 2)],
      ['Test loss', num(latest?.testLoss)],
      ['Samples / s', num(latest?.samplesPerSecond, 3)],
      ['Epoch time', duration(latest?.durationMs)],
    ];
    $('detail-facts').replaceChildren(...facts.map(([k, v]) => el('div', { class: 'fact' }, el('dt', {}, k), el('dd', {}, v))));
  }

  renderLogs() {
    $('log-count').textContent = this.logs.length ? `(${this.logs.length})` : '';
    $('log-list').replaceChildren(
      ...this.logs.slice(-100).map((l) => el('li', { class: `log-${l.level}` }, el('span', { class: 'muted mono small' }, (l.at ?? '').slice(11, 19)), ' ', l.message)),
    );
  }

  async cancel() {
    const job = this.job;
    if (!job) return;
    const button = $('detail-cancel');
    button.disabled = true;
    try {
      const res = await Jobs.cancel(job.id);
      if (res && typeof res === 'object' && res.id === job.id) this.store.upsert(res);
      this.hooks.toast(`Cancellation requested for ${jobName(job)}`);
    } catch (err) {
      this.hooks.toast(`Cancel failed: ${err.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  }
}
