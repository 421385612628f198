// Tiny DOM and formatting helpers shared by the views.

/**
 * Create an element: `el('a', { href: '/x', class: 'btn', onclick: fn }, 'text', child)`.
 * Attributes starting with `on` become listeners; `dataset` and `hidden` are handled; strings become text.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'class') node.className = v;
    else if (k === 'hidden' || k === 'checked' || k === 'disabled') node[k] = Boolean(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== '') node.append(c instanceof Node ? c : String(c));
  return node;
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export function pct(v, digits = 1) {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : '–';
}

export function num(v, digits = 4) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en') : String(+v.toPrecision(digits));
}

export function relTime(iso) {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(t).toLocaleDateString();
}

export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
}

/** "mlp", "simple_convnet", or "8 layers" for an explicit network. */
export function modelLabel(spec) {
  const m = spec?.model;
  if (!m) return '–';
  if (m.preset) return m.preset;
  if (Array.isArray(m.layers)) return `${m.layers.length} layers`;
  return '–';
}

export function datasetLabel(spec) {
  const d = spec?.dataset;
  if (!d) return '–';
  return d.trainSize ? `${d.id} · ${d.trainSize.toLocaleString('en')}` : d.id;
}

export function jobName(job) {
  return job?.name || job?.spec?.name || shortId(job?.id);
}

export function shortId(id) {
  if (!id) return '';
  return id.length > 10 ? id.slice(0, 8) : id;
}
