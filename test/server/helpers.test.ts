import { describe, expect, it } from 'vitest';
import { createMetrics, renderMetrics } from '../../src/server/plugins/metrics.ts';
import { progressGate } from '../../src/server/progress-hub.ts';
import { canonicalJson, metricsCsv, prefersCsv } from '../../src/server/routes/jobs.ts';

describe('prefersCsv', () => {
  it.each([
    [undefined, false],
    ['application/json', false],
    ['text/csv', true],
    ['text/csv, application/json', false],
    ['application/json;q=0.5, text/csv', true],
    ['*/*', false],
    ['text/csv, */*', true],
    ['text/csv;q=0', false],
  ])('Accept %s → csv %s', (accept, want) => {
    expect(prefersCsv(accept)).toBe(want);
  });
});

describe('canonicalJson', () => {
  it('ignores key order, keeps array order and values', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: null, c: 'x' }] })).toBe(canonicalJson({ a: [2, { c: 'x', d: null }], b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson({ a: 5 })).not.toBe(canonicalJson({ a: '5' }));
  });
});

describe('metricsCsv', () => {
  it('writes a header and one row per epoch', () => {
    const csv = metricsCsv([{ epoch: 1, iteration: 3, trainLoss: 0.5, trainAccuracy: 0.9, testLoss: 0.6, testAccuracy: 0.8, learningRate: 0.01, durationMs: 7, samplesPerSecond: 1e4 }]);
    expect(csv.split('\n')).toEqual(['epoch,iteration,trainLoss,trainAccuracy,testLoss,testAccuracy,learningRate,durationMs,samplesPerSecond', '1,3,0.5,0.9,0.6,0.8,0.01,7,10000', '']);
  });
});

describe('progressGate', () => {
  it('passes one message per job per interval and none under back-pressure', () => {
    const gate = progressGate(200, 1000);
    expect(gate('a', 0, 1000)).toBe(true);
    expect(gate('a', 0, 1100)).toBe(false);
    expect(gate('b', 0, 1100)).toBe(true);
    expect(gate('a', 0, 1200)).toBe(true);
    expect(gate('a', 5000, 2000)).toBe(false);
  });
});

describe('Prometheus rendering', () => {
  it('renders counters with escaped labels, histograms with cumulative buckets', () => {
    const m = createMetrics();
    m.httpRequests.inc({ method: 'GET', route: '/a"b', status: '200' });
    m.httpDuration.observe({ method: 'GET', route: '/x' }, 0.02);
    m.httpDuration.observe({ method: 'GET', route: '/x' }, 3);
    const text = renderMetrics(m);
    expect(text).toContain('keiko_http_requests_total{method="GET",route="/a\\"b",status="200"} 1');
    expect(text).toContain('keiko_http_request_duration_seconds_bucket{method="GET",route="/x",le="0.01"} 0');
    expect(text).toContain('keiko_http_request_duration_seconds_bucket{method="GET",route="/x",le="0.025"} 1');
    expect(text).toContain('keiko_http_request_duration_seconds_bucket{method="GET",route="/x",le="5"} 2');
    expect(text).toContain('keiko_http_request_duration_seconds_count{method="GET",route="/x"} 2');
    expect(text).toContain('keiko_ws_connections 0');
  });
});
