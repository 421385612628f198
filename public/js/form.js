// The "New job" panel: a form that builds a job spec (API.md "Job spec"), a JSON editor for any spec, and
// problem+json errors shown next to the field their `path` names.

import { ApiError, Datasets, Jobs } from './api.js';
import { el } from './dom.js';

/** Offered when `GET /v1/datasets` is unavailable (API.md: mnist and small synthetic sets are built in). */
const BUILTIN_DATASETS = ['mnist', 'synthetic-blobs', 'synthetic-blobs-8', 'synthetic-spirals', 'synthetic-images'];

const DEFAULT_LR = { sgd: 0.01, momentum: 0.01, nesterov: 0.01, adagrad: 0.01, rmsprop: 0.01, adam: 0.001 };

/** COURSE.md (a): the overfitting experiments users compare (mnist, 300 train samples, 1,000 iterations). */
const COURSE_BASE = {
  preset: 'mlp', hiddenLayers: '6', units: '100', dropout: '', dataset: 'mnist', trainSize: '300', testSize: '',
  l1: '0', l2: '0', optimizer: 'sgd', learningRate: '0.01', epochs: '100', batchSize: '100',
  sampling: 'replacement', iterationsPerEpoch: '10', seed: '42',
};
export const TEMPLATES = {
  baseline: { ...COURSE_BASE, name: 'A1 baseline' },
  l2: { ...COURSE_BASE, name: 'A2 L2 λ=0.1', l2: '0.1' },
  l1: { ...COURSE_BASE, name: 'A3 L1 λ=0.005', l1: '0.005', learningRate: '0.1' },
  dropout: { ...COURSE_BASE, name: 'A5 dropout 0.15', dropout: '0.15', l2: '0.005' },
};

/** Build a job spec from the form. Empty optional fields are left out (the service's defaults apply). */
export function specFromForm(form) {
  const f = form.elements;
  const text = (name) => (f.namedItem(name)?.value ?? '').trim();
  const num = (name) => {
    const s = text(name);
    if (s === '') return undefined;
    const n = Number(s);
    return Number.isFinite(n) ? n : s; // leave a non-number as typed: the API names the field
  };
  const prune = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));

  const preset = text('preset');
  const model = prune({
    preset,
    dropout: num('dropout'),
    ...(preset === 'mlp' ? { hiddenLayers: num('hiddenLayers'), units: num('units') } : {}),
  });
  return prune({
    name: text('name') || undefined,
    dataset: prune({ id: text('dataset'), trainSize: num('trainSize'), testSize: num('testSize') }),
    model,
    regularization: prune({ l1: num('l1') ?? 0, l2: num('l2') ?? 0 }),
    optimizer: prune({ type: text('optimizer'), learningRate: num('learningRate') }),
    training: prune({
      epochs: num('epochs'),
      batchSize: num('batchSize'),
      seed: num('seed'),
      sampling: text('sampling') || undefined,
      iterationsPerEpoch: num('iterationsPerEpoch'),
    }),
  });
}

export function fillForm(form, values) {
  for (const [name, value] of Object.entries(values)) {
    const input = form.elements.namedItem(name);
    if (input && 'value' in input) input.value = value;
  }
  form.dispatchEvent(new Event('change'));
}

/** Remove every error shown in a form. */
export function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => (e.textContent = ''));
  form.querySelectorAll('[aria-invalid="true"]').forEach((e) => e.removeAttribute('aria-invalid'));
  form.querySelectorAll('.has-error').forEach((e) => e.classList.remove('has-error'));
  const general = form.querySelector('.form-errors');
  if (general) {
    general.hidden = true;
    general.replaceChildren();
  }
}

/** The error slot for a path: itself, or the nearest ancestor path that has one ("model.layers.3.kernelSize" → "model"). */
function slotFor(form, path) {
  const parts = path ? path.split('.') : [];
  for (let n = parts.length; n > 0; n--) {
    const p = parts.slice(0, n).join('.');
    const slot = form.querySelector(`.field-error[data-error-for="${CSS.escape(p)}"]`);
    if (slot) return { slot, exact: n === parts.length, path: p };
  }
  return undefined;
}

/**
 * Show an API error in a form: each `errors[]` entry next to its field, the rest (and a summary) at the top.
 * @returns {number} how many issues found a field
 */
export function showErrors(form, err) {
  clearErrors(form);
  const issues = err instanceof ApiError ? err.errors : [];
  const general = form.querySelector('.form-errors');
  const unplaced = [];
  let placed = 0;
  for (const issue of issues) {
    const found = slotFor(form, issue.path);
    if (!found) {
      unplaced.push(issue);
      continue;
    }
    const { slot, exact } = found;
    const message = exact ? issue.message : `${issue.path}: ${issue.message}`;
    slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
    const field = slot.closest('.field');
    field?.classList.add('has-error');
    field?.querySelector('input, select, textarea')?.setAttribute('aria-invalid', 'true');
    placed += 1;
  }
  if (general && (unplaced.length > 0 || issues.length === 0)) {
    const title = err instanceof ApiError ? err.problem.title || `HTTP ${err.status}` : 'Error';
    const detail = err instanceof ApiError ? err.problem.detail : String(err?.message ?? err);
    general.append(el('strong', {}, title), detail && detail !== title ? el('span', {}, ` — ${detail}`) : '');
    if (unplaced.length) general.append(el('ul', {}, ...unplaced.map((i) => el('li', {}, el('code', {}, i.path || '(spec)'), ' ', i.message))));
    general.hidden = false;
  }
  // Bring the first error into view.
  const first = form.querySelector('.has-error, .form-errors:not([hidden])');
  first?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  return placed;
}

/**
 * Wire the panel.
 * @param {{ onSubmitted: (job: any, spec: any) => void, toast: (msg: string, kind?: string) => void }} hooks
 */
export function setupJobForm(hooks) {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('job-form'));
  const jsonForm = /** @type {HTMLFormElement} */ (document.getElementById('json-form'));
  const textarea = /** @type {HTMLTextAreaElement} */ (document.getElementById('json-spec'));
  const jsonErrors = document.getElementById('json-errors');
  const tabForm = document.getElementById('tab-form');
  const tabJson = document.getElementById('tab-json');

  const showTab = (which) => {
    const json = which === 'json';
    form.hidden = json;
    jsonForm.hidden = !json;
    tabForm.setAttribute('aria-selected', String(!json));
    tabJson.setAttribute('aria-selected', String(json));
    if (json && !textarea.value.trim()) textarea.value = JSON.stringify(specFromForm(form), null, 2);
  };
  tabForm.addEventListener('click', () => showTab('form'));
  tabJson.addEventListener('click', () => showTab('json'));
  document.getElementById('form-to-json').addEventListener('click', () => {
    textarea.value = JSON.stringify(specFromForm(form), null, 2);
    showTab('json');
  });

  // Preset-specific fields, optimizer defaults.
  const syncPreset = () => {
    const preset = form.elements.namedItem('preset').value;
    form.querySelectorAll('[data-only-preset]').forEach((n) => (n.hidden = n.dataset.onlyPreset !== preset));
  };
  let lastOptimizer = form.elements.namedItem('optimizer').value;
  form.addEventListener('change', (ev) => {
    syncPreset();
    const opt = form.elements.namedItem('optimizer');
    if (ev.target === opt) {
      const lr = form.elements.namedItem('learningRate');
      if (lr.value === '' || Number(lr.value) === DEFAULT_LR[lastOptimizer]) lr.value = String(DEFAULT_LR[opt.value]);
      lastOptimizer = opt.value;
    }
  });
  // Typing in a field clears its error.
  form.addEventListener('input', (ev) => {
    const field = ev.target.closest?.('.field');
    if (field?.classList.contains('has-error')) {
      field.classList.remove('has-error');
      field.querySelector('[aria-invalid]')?.removeAttribute('aria-invalid');
      const slot = field.querySelector('.field-error');
      if (slot) slot.textContent = '';
    }
  });
  syncPreset();

  form.querySelectorAll('[data-template]').forEach((b) =>
    b.addEventListener('click', () => {
      fillForm(form, TEMPLATES[b.dataset.template]);
      lastOptimizer = form.elements.namedItem('optimizer').value;
      clearErrors(form);
    }),
  );

  const submit = async (theForm, button, spec) => {
    button.disabled = true;
    button.classList.add('busy');
    try {
      const job = await Jobs.submit(spec);
      clearErrors(theForm);
      if (theForm === jsonForm) jsonErrors.replaceChildren();
      hooks.onSubmitted(job, typeof spec === 'string' ? safeParse(spec) : spec);
      return true;
    } catch (err) {
      showErrors(theForm, err);
      if (theForm === jsonForm) renderJsonIssues(err);
      return false;
    } finally {
      button.disabled = false;
      button.classList.remove('busy');
    }
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(form, document.getElementById('submit-form'), specFromForm(form));
  });

  jsonForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearErrors(jsonForm);
    jsonErrors.replaceChildren();
    try {
      JSON.parse(textarea.value);
    } catch (e) {
      jsonErrors.append(el('li', {}, el('code', {}, 'JSON'), ' ', String(e.message)));
      textarea.setAttribute('aria-invalid', 'true');
      return;
    }
    textarea.removeAttribute('aria-invalid');
    submit(jsonForm, document.getElementById('submit-json'), textarea.value);
  });

  function renderJsonIssues(err) {
    jsonErrors.replaceChildren();
    if (!(err instanceof ApiError) || err.errors.length === 0) return;
    textarea.setAttribute('aria-invalid', 'true');
    for (const issue of err.errors) jsonErrors.append(el('li', { 'data-path': issue.path }, el('code', {}, issue.path || '(spec)'), ' ', issue.message));
    // The general box would repeat the list: keep only a summary line.
    const general = jsonForm.querySelector('.form-errors');
    if (general) {
      const n = err.errors.length;
      general.replaceChildren(el('strong', {}, err.problem.title || 'Invalid spec'), ` — ${n} field${n === 1 ? '' : 's'} to fix, listed below the editor.`);
      general.hidden = false;
    }
  }

  return {
    form,
    async loadDatasets() {
      const select = /** @type {HTMLSelectElement} */ (document.getElementById('dataset-select'));
      try {
        const list = await Datasets.list();
        if (!list.length) return;
        const current = select.value;
        select.replaceChildren(
          ...list.map((d) => {
            const label = d.name && d.name !== d.id ? `${d.id} — ${d.name}` : d.id;
            const shape = Array.isArray(d.inputShape) ? ` (${d.inputShape.join('×')}, ${d.classes ?? '?'} classes)` : '';
            return el('option', { value: d.id, title: d.description ?? '' }, label + shape);
          }),
        );
        if (list.some((d) => d.id === current)) select.value = current;
      } catch (err) {
        // Keep the built-ins the page knows so that the form stays usable; say why in the console.
        console.warn(`GET /v1/datasets failed (${err.message}); offering the built-in datasets only`);
        if (select.options.length <= 1) {
          select.replaceChildren(...BUILTIN_DATASETS.map((id) => el('option', { value: id }, id)));
        }
      }
    },
  };
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
