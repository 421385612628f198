import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Docker itself is not available on the dev and CI machines (STACK.md): these parsing checks are the guard.
// When Debian's docker-compose is installed, it validates the file offline as well.

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  user?: string;
  ports?: string[];
  container_name?: string;
  init?: boolean;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number };
  volumes?: string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const { redis, api, worker } = compose.services;
const redisConf = readFileSync('docker/redis.conf', 'utf8');
const dockerfile = readFileSync('docker/Dockerfile', 'utf8');
const confValue = (name: string) =>
  redisConf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .find((l) => l.split(/\s+/)[0] === name)
    ?.split(/\s+/)
    .slice(1)
    .join(' ');

/** The stages of the Dockerfile: `FROM image AS name` and the instructions under it. */
function stages(text: string): { from: string; name?: string; lines: string[] }[] {
  const out: { from: string; name?: string; lines: string[] }[] = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (m) out.push({ from: m[1]!, ...(m[2] ? { name: m[2] } : {}), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

const isRoot = (user: string | undefined) => user === undefined || /^(root|0)(:|$)/.test(user);

describe('docker-compose.yml', () => {
  it('has redis, api and worker services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'redis', 'worker']);
  });

  it('gives Redis a healthcheck, and the API and workers wait for it to be healthy', () => {
    expect(redis?.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(redis?.healthcheck).toMatchObject({ interval: '5s', timeout: '3s', retries: 10 });
    for (const s of [api, worker]) expect(s?.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it('runs Redis with noeviction and AOF from the mounted redis.conf', () => {
    expect(redis?.command).toEqual(['redis-server', '/usr/local/etc/redis/redis.conf']);
    expect(redis?.volumes).toContain('./docker/redis.conf:/usr/local/etc/redis/redis.conf:ro');
    expect(confValue('maxmemory-policy')).toBe('noeviction');
    expect(confValue('appendonly')).toBe('yes');
    expect(redis?.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('runs no service as root', () => {
    for (const [name, s] of Object.entries(compose.services)) expect(isRoot(s.user), `${name} user ${s.user}`).toBe(false);
    const last = stages(dockerfile).at(-1);
    const user = last?.lines.filter((l) => /^USER\s/i.test(l)).at(-1)?.split(/\s+/)[1];
    expect(isRoot(user)).toBe(false);
  });

  it('lets the worker scale (--scale worker=N): no container_name, no published port', () => {
    expect(worker?.container_name).toBeUndefined();
    expect(worker?.ports).toBeUndefined();
    expect(worker?.command).toEqual(['node', 'dist/workers/training-worker.js']);
    expect(existsSync('workers/training-worker.ts')).toBe(true);
  });

  it('builds the API and workers from docker/Dockerfile, with init and the Redis URL', () => {
    for (const s of [api, worker]) {
      expect(s?.build).toEqual({ context: '.', dockerfile: 'docker/Dockerfile' });
      expect(s?.init).toBe(true);
      expect(s?.environment?.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(api?.command).toEqual(['node', 'dist/src/server.js']);
    expect(api?.environment?.HOST).toBe('0.0.0.0');
  });

  it('validates with docker-compose when it is installed', () => {
    const probe = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (probe.error) return; // not installed: the parsing checks above stand alone
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('docker/Dockerfile', () => {
  const s = stages(dockerfile);

  it('is multi-stage: deps, build, runtime', () => {
    expect(s.map((x) => x.name)).toEqual(['deps', 'build', 'runtime']);
  });

  it('installs production dependencies only in deps and builds in build', () => {
    expect(s[0]?.lines.some((l) => /npm ci --omit=dev/.test(l))).toBe(true);
    expect(s[1]?.lines.some((l) => /npm run build/.test(l))).toBe(true);
  });

  it('ships node_modules from deps and dist from build into a non-root runtime with an exec-form CMD', () => {
    const runtime = s[2]!;
    expect(runtime.lines).toContain('COPY --from=deps /app/node_modules ./node_modules');
    expect(runtime.lines).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime.lines.some((l) => /^ENV\s+NODE_ENV=production/.test(l))).toBe(true);
    expect(runtime.lines.filter((l) => /^USER\s/.test(l)).at(-1)).toBe('USER node');
    const cmd = runtime.lines.find((l) => l.startsWith('CMD'));
    expect(JSON.parse(cmd!.slice(3).trim())).toEqual(['node', 'dist/src/server.js']);
    expect(existsSync('src/server.ts')).toBe(true);
  });

  it('copies only paths that exist in the build context, and .dockerignore keeps local state out', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim());
    for (const stage of s) {
      for (const l of stage.lines.filter((x) => /^COPY\s/.test(x) && !/--from=/.test(x))) {
        const parts = l.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) {
          expect(existsSync(src), `${src} (in: ${l})`).toBe(true);
          expect(ignore, `${src} is copied but ignored`).not.toContain(src);
        }
      }
    }
    for (const p of ['node_modules', '.git', 'dist', '.redis-local']) expect(ignore).toContain(p);
  });
});
