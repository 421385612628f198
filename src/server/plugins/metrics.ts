import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Prometheus metrics, hand-rolled (a few counters, one histogram, two gauges do not need prom-client):
 * HTTP request counts and latency per route, jobs submitted, WebSocket connections and messages.
 * Text exposition format 0.0.4 at `GET /metrics`.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels = Record<string, string>;
const labelKey = (l: Labels) =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}="${l[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

class Counter {
  readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' = 'counter') {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  dec(labels: Labels = {}): void {
    this.inc(labels, -1);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.values.size === 0 && this.type === 'gauge') lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

class Histogram {
  readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string) {}
  observe(labels: Labels, value: number): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    BUCKETS.forEach((b, i) => {
      if (value <= b) s.counts[i]! += 1;
    });
    s.sum += value;
    s.count += 1;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      BUCKETS.forEach((b, i) => lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export function createMetrics() {
  return {
    httpRequests: new Counter('keiko_http_requests_total', 'HTTP requests by method, route and status code.'),
    httpDuration: new Histogram('keiko_http_request_duration_seconds', 'HTTP request latency by method and route.'),
    jobsSubmitted: new Counter('keiko_jobs_submitted_total', 'Training jobs created by POST /v1/jobs (idempotent replays not counted).'),
    jobsCancelRequested: new Counter('keiko_jobs_cancel_requested_total', 'Cancellations requested, by the state the job was in.'),
    wsConnections: new Counter('keiko_ws_connections', 'Open WebSocket stream connections, by route.', 'gauge'),
    wsConnectionsTotal: new Counter('keiko_ws_connections_total', 'WebSocket stream connections accepted, by route.'),
    wsMessages: new Counter('keiko_ws_messages_sent_total', 'Stream messages sent, by type.'),
    wsProgressDropped: new Counter('keiko_ws_progress_dropped_total', 'Progress messages dropped by throttling or back-pressure.'),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

export function renderMetrics(m: Metrics): string {
  const mem = process.memoryUsage();
  const proc = [
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${mem.rss}`,
    '# HELP process_uptime_seconds Seconds since the process started.',
    '# TYPE process_uptime_seconds gauge',
    `process_uptime_seconds ${process.uptime()}`,
  ].join('\n');
  return `${Object.values(m)
    .map((x) => x.render())
    .join('\n')}\n${proc}\n`;
}

/** Records every HTTP request and serves `GET /metrics`. */
async function metricsPluginImpl(app: FastifyInstance): Promise<void> {
  const m = app.keiko.metrics;
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: `/v1/jobs/:id` is one series, not one per job.
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    const labels = { method: request.method, route };
    m.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
    m.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(m));
  });
}

export const metricsPlugin = fp(metricsPluginImpl, { name: 'keiko-metrics' });
