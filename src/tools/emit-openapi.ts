import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadEnv } from '../config/env.ts';
import { createKeys } from '../redis/keys.ts';
import { buildApp } from '../server/app.ts';

/**
 * `npm run openapi`: write `openapi.yaml` at the repository root from the routes' zod schemas.
 * `--check`: write nothing, exit 1 when the file differs from what the code generates (CI and a test run this).
 * The app is built with idle dependencies: a Redis client that never connects and a queue that is never used,
 * and a fixed environment, so the document does not depend on the machine.
 */
export const OPENAPI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi.yaml');

export async function generateOpenApi(): Promise<string> {
  const env = loadEnv({});
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  const app = await buildApp(
    {
      redis,
      keys: createKeys(env.KEIKO_PREFIX),
      env,
      queue: {
        enqueue: () => Promise.reject(new Error('not connected')),
        removeQueued: () => Promise.reject(new Error('not connected')),
        close: () => Promise.resolve(),
      },
    },
    { logger: false },
  );
  try {
    await app.ready();
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const yaml = await generateOpenApi();
  if (!check) {
    writeFileSync(OPENAPI_PATH, yaml);
    console.log(`wrote ${OPENAPI_PATH}`);
    return;
  }
  let current = '';
  try {
    current = readFileSync(OPENAPI_PATH, 'utf8');
  } catch {
    /* missing: drift */
  }
  if (current !== yaml) {
    console.error('openapi.yaml is out of date: run `npm run openapi` and commit it');
    process.exit(1);
  }
  console.log('openapi.yaml is up to date');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
