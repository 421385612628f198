// keiko's dashboard: wires the job list, the live global stream, the job form, the job view and the comparison.

import { getApiKey, onApiKeyChange, onUnauthorized, setApiKey } from './api.js';
import { CompareView } from './compare.js';
import { JobDetail } from './detail.js';
import { el, jobName } from './dom.js';
import { setupJobForm } from './form.js';
import { JobStore, JobTable } from './jobs.js';
import { LiveStream } from './stream.js';

const $ = (id) => document.getElementById(id);

function toast(message, kind = 'info') {
  const t = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  const box = $('toasts');
  box.append(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => t.classList.add('fade'), 4000);
  setTimeout(() => t.remove(), 4600);
}

function banner(message) {
  const b = $('banner');
  b.hidden = !message;
  b.textContent = message ?? '';
}

// ---- API key ---------------------------------------------------------------------------------------------
const dialog = /** @type {HTMLDialogElement} */ ($('key-dialog'));
function askForKey(reason) {
  if (dialog.open) return;
  $('key-input').value = getApiKey();
  if (reason) $('key-reason').textContent = reason;
  dialog.showModal();
}
$('key-button').addEventListener('click', () => askForKey());
dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'save') setApiKey($('key-input').value.trim());
  if (dialog.returnValue === 'clear') setApiKey('');
});
const syncKeyButton = () => {
  $('key-button').textContent = getApiKey() ? 'API key ✓' : 'API key';
};
syncKeyButton();
let askedForKey = false;
onUnauthorized((problem) => {
  // No point hammering the streams without a key: they restart when one is saved.
  if (globalStream && globalStream.state !== 'closed') {
    globalStream.close();
    $('live').textContent = 'key needed';
  }
  if (askedForKey) return;
  askedForKey = true;
  askForKey(`The service asks for an API key (${problem?.detail || problem?.title || 'unauthorized'}). It is kept in this browser's localStorage.`);
});
onApiKeyChange(() => {
  askedForKey = false;
  syncKeyButton();
  detail.close(); // its stream reopens with the new key (start() follows #job=…)
  start(); // reload everything with the new key
});

// ---- views -----------------------------------------------------------------------------------------------
const store = new JobStore();
const table = new JobTable(store, { onOpen: (id) => openJob(id) });
const detail = new JobDetail(store, {
  toast,
  onClose: () => {
    detail.close();
    table.setOpen(undefined);
    if (location.hash) history.replaceState(null, '', location.pathname);
  },
  onAuthError: () => askForKey('The stream refused the API key.'),
});
const compare = new CompareView(store, { toast });
const jobForm = setupJobForm({
  toast,
  onSubmitted: (job, spec) => {
    const now = new Date().toISOString();
    store.upsert({ createdAt: now, spec, name: spec?.name, progress: { epoch: 0, epochs: spec?.training?.epochs ?? 0 }, ...job });
    store.fetchJob(job.id);
    toast(`Submitted ${jobName(store.jobs.get(job.id))}`, 'ok');
    openJob(job.id);
  },
});

function openJob(id) {
  table.setOpen(id);
  detail.open(id);
  if (location.hash !== `#job=${id}`) history.replaceState(null, '', `#job=${encodeURIComponent(id)}`);
}

// ---- the global stream: every job's status changes and epochs ----------------------------------------------
let globalStream;
let wasLive = false;
function connectGlobal() {
  globalStream?.close();
  const live = $('live');
  globalStream = new LiveStream('/v1/stream', {
    // Cursors here are the global event stream's: resume after a drop, and resync the list with GET /v1/jobs too.
    resume: true,
    forgetCursorAfter: 8, // ~25 s of refusals: a reset Redis may no longer know the cursor
    onMessage: (msg) => store.apply(msg),
    onAuthError: () => askForKey('The live stream refused the API key.'),
    onState: (state) => {
      live.dataset.state = state;
      live.textContent = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', closed: 'offline' }[state] ?? state;
      if (state === 'live') {
        if (wasLive) store.refresh().catch(() => {});
        wasLive = true;
      }
    },
  }).start();
}

async function start() {
  banner('');
  connectGlobal();
  jobForm.loadDatasets();
  try {
    await store.refresh();
  } catch (err) {
    if (err.status !== 401 && err.status !== 403) banner(`Could not load jobs: ${err.message}`);
  }
  const m = /^#job=(.+)$/.exec(location.hash);
  if (m) openJob(decodeURIComponent(m[1]));
}

start();

// For debugging from the console (and for the end-to-end tests).
window.__keiko = { store, detail, compare, table, get globalStream() { return globalStream; } };
