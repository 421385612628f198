// HTTP side of the dashboard: every /v1 call goes through `api()`, which adds the API key and turns an
// RFC 9457 problem+json answer into an ApiError carrying its `errors: [{ path, message }]`.

const KEY_STORAGE = 'keiko.apiKey';

export function getApiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* private mode: the key lives for this page only */
  }
  authListeners.forEach((fn) => fn(key));
}

const authListeners = new Set();
/** Called with the new key whenever it changes. */
export function onApiKeyChange(fn) {
  authListeners.add(fn);
}

const unauthorizedListeners = new Set();
/** Called when the API answers 401/403: the page asks for a key. */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

export class ApiError extends Error {
  /** @param {number} status @param {any} problem the problem+json body (or a stand-in) */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem ?? {};
    this.code = problem?.code;
    /** @type {{ path: string, message: string }[]} */
    this.errors = Array.isArray(problem?.errors) ? problem.errors.map(normalizeIssue) : [];
  }
}

/** An issue's path as "a.b.3.c", whatever form the server used ("a.b", "/a/b", ["a","b"]). */
export function normalizePath(path) {
  if (Array.isArray(path)) return path.join('.');
  if (typeof path !== 'string') return '';
  let p = path.trim();
  if (p.startsWith('#')) p = p.slice(1);
  if (p.startsWith('/')) p = p.slice(1).split('/').join('.');
  if (p.startsWith('body.')) p = p.slice(5);
  return p.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}

function normalizeIssue(e) {
  return { path: normalizePath(e?.path ?? e?.pointer ?? ''), message: String(e?.message ?? e?.detail ?? 'invalid') };
}

export function authHeaders() {
  const key = getApiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/**
 * fetch() a /v1 route. JSON bodies are sent as JSON; JSON answers are parsed; non-2xx answers throw ApiError.
 * @param {string} path
 * @param {{ method?: string, body?: any, headers?: Record<string,string>, raw?: boolean, signal?: AbortSignal }} [opts]
 */
export async function api(path, opts = {}) {
  const headers = { accept: 'application/json', ...authHeaders(), ...(opts.headers ?? {}) };
  let body;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method ?? 'GET', headers, body, signal: opts.signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, { title: 'Network error', detail: `The service did not answer (${err?.message ?? err}).` });
  }
  if (opts.raw && res.ok) return res;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => undefined) : await res.text().catch(() => undefined);
  if (!res.ok) {
    const problem = data && typeof data === 'object' ? data : { title: res.statusText, status: res.status, detail: typeof data === 'string' ? data.slice(0, 300) : undefined };
    if (res.status === 401 || res.status === 403) unauthorizedListeners.forEach((fn) => fn(problem));
    throw new ApiError(res.status, problem);
  }
  return data;
}

/** The array inside a list answer, whatever its envelope (`[...]`, `{ items }`, `{ jobs }`, `{ data }`, …). */
export function listOf(data, ...names) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    for (const n of [...names, 'items', 'data', 'results']) if (Array.isArray(data[n])) return data[n];
    for (const v of Object.values(data)) if (Array.isArray(v)) return v;
  }
  return [];
}

export const Jobs = {
  list: (limit = 200) => api(`/v1/jobs?limit=${limit}`).then((d) => listOf(d, 'jobs')),
  /** One page, newest first: `{ items, nextCursor }` (nextCursor absent on the last page). */
  page: (limit = 100, cursor) =>
    api(`/v1/jobs?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).then((d) => ({ items: listOf(d, 'jobs'), nextCursor: d?.nextCursor ?? undefined })),
  get: (id) => api(`/v1/jobs/${encodeURIComponent(id)}`),
  submit: (spec) => api('/v1/jobs', { method: 'POST', body: spec }),
  cancel: (id) => api(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  metrics: (id) => api(`/v1/jobs/${encodeURIComponent(id)}/metrics`).then((d) => listOf(d, 'metrics', 'epochs', 'history')),
};

export const Datasets = {
  list: () => api('/v1/datasets').then((d) => listOf(d, 'datasets')),
};

export const Models = {
  weightsUrl: (modelId) => `/v1/models/${encodeURIComponent(modelId)}/weights`,
  onnxUrl: (modelId) => `/v1/models/${encodeURIComponent(modelId)}/onnx`,
};

/**
 * Download a protected file: with a key, fetch it with the Authorization header and save the blob; without one,
 * let the browser follow the link.
 */
export async function download(url, filename) {
  const res = await api(url, { raw: true, headers: { accept: '*/*' } });
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/** ws:// or wss:// URL of a stream path on this origin, with `?token=` when a key is set and extra query params. */
export function wsUrl(path, params = {}) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const key = getApiKey();
  if (key) url.searchParams.set('token', key);
  return url.toString();
}
