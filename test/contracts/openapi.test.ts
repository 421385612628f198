import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// openapi.yaml is generated from the zod schemas (`npm run openapi`); it must never drift from the code.
describe('openapi.yaml', () => {
  it('is what the generator writes (npm run openapi:check)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/tools/emit-openapi.ts', '--check'], { encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr + r.stdout).toContain('up to date');
    expect(r.status).toBe(0);
  }, 100_000);

  it('documents the contract: every route, the schemas as components, problem+json errors', () => {
    const doc = parse(readFileSync('openapi.yaml', 'utf8')) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/metrics', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/stream', '/v1/stream', '/healthz', '/readyz']));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['JobSpec', 'Job', 'JobList', 'JobMetrics', 'Problem', 'StreamMessage', 'Layer', 'Model', 'Optimizer', 'EpochMetrics']));
    const post = doc.paths['/v1/jobs']!.post!;
    expect(post.responses['202']!.content!['application/json']!.schema.$ref).toBe('#/components/schemas/Job');
    expect(post.responses['400']!.content!['application/json']!.schema.$ref).toBe('#/components/schemas/Problem');
    expect(Object.keys(doc.paths['/v1/jobs/{id}/metrics']!.get!.responses['200']!.content!)).toEqual(['application/json', 'text/csv']);
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth');
  });
});
