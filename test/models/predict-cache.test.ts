import { describe, expect, it } from 'vitest';
import { PredictCache } from '../../src/models/predict-cache.ts';

function counting(store: Map<string, string>) {
  const loads: string[] = [];
  const load = async (id: string) => {
    loads.push(id);
    await new Promise((r) => setTimeout(r, 5));
    return store.get(id) ?? null;
  };
  return { loads, load };
}

describe('PredictCache', () => {
  it('serves hits from memory and evicts the least recently used beyond its capacity', async () => {
    const store = new Map([['a', 'A'], ['b', 'B'], ['c', 'C']]);
    const { loads, load } = counting(store);
    const cache = new PredictCache(2, load);
    expect(await cache.get('a')).toBe('A');
    expect(await cache.get('b')).toBe('B');
    expect(await cache.get('a')).toBe('A'); // a is now most recent
    expect(await cache.get('c')).toBe('C'); // evicts b
    expect(cache.has('b')).toBe(false);
    expect(cache.has('a')).toBe(true);
    expect(loads).toEqual(['a', 'b', 'c']);
    expect(await cache.get('b')).toBe('B');
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.size).toBe(2);
  });

  it('shares one load between concurrent misses and does not cache unknown ids', async () => {
    const { loads, load } = counting(new Map([['a', 'A']]));
    const cache = new PredictCache(4, load);
    const [x, y] = await Promise.all([cache.get('a'), cache.get('a')]);
    expect([x, y]).toEqual(['A', 'A']);
    expect(loads).toEqual(['a']);
    expect(await cache.get('zz')).toBeNull();
    expect(cache.has('zz')).toBe(false);
  });

  it('forgets an invalidated entry, also when it was still loading', async () => {
    const store = new Map([['a', 'A']]);
    const { loads, load } = counting(store);
    const cache = new PredictCache(4, load);
    const pending = cache.get('a');
    cache.invalidate('a');
    await pending;
    expect(cache.has('a')).toBe(false);
    await cache.get('a');
    cache.invalidate('a');
    store.delete('a');
    expect(await cache.get('a')).toBeNull();
    expect(loads).toEqual(['a', 'a', 'a']);
  });

  it('re-checks existence on a hit when asked to (a delete through another API instance)', async () => {
    const store = new Map([['a', 'A']]);
    const { load } = counting(store);
    const cache = new PredictCache(4, load, async (id) => store.has(id));
    expect(await cache.get('a')).toBe('A');
    store.delete('a');
    expect(await cache.get('a')).toBeNull();
    expect(cache.has('a')).toBe(false);
  });

  it('caches nothing with capacity 0', async () => {
    const { loads, load } = counting(new Map([['a', 'A']]));
    const cache = new PredictCache(0, load);
    await cache.get('a');
    await cache.get('a');
    expect(loads).toEqual(['a', 'a']);
  });
});
