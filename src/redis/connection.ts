import { Redis, type RedisOptions } from 'ioredis';

/**
 * One place that creates Redis clients. `blocking` clients (BullMQ workers, XREAD BLOCK, subscribers) need
 * `maxRetriesPerRequest: null` (BullMQ refuses others); plain clients fail a command after a few retries so an
 * HTTP request does not hang while Redis is down.
 */
export function createRedis(url: string, role: 'command' | 'blocking' = 'command', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'blocking' ? null : 2,
    enableReadyCheck: true,
    connectionName: `keiko-${role}`,
    ...extra,
  });
}
