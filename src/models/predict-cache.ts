/**
 * A bounded LRU of built models for `POST /v1/models/:id/predict`, so a prediction does not fetch and decode
 * the weights from Redis every time. Concurrent misses for one id share one load. Entries are dropped by
 * `invalidate` (on delete in this process) and, when `stillExists` is given, re-checked on every hit with a
 * cheap existence test, so a model deleted through another API instance is not served from a stale cache.
 * A model's weights never change under an id (ids are fresh UUIDs), so existence is the only thing to check.
 */
export class PredictCache<T> {
  private readonly entries = new Map<string, T>();
  private readonly loading = new Map<string, Promise<T | null>>();
  /** Incremented on invalidation so a load that started before a delete does not re-insert the model. */
  private readonly generation = new Map<string, number>();
  hits = 0;
  misses = 0;

  constructor(
    readonly capacity: number,
    private readonly load: (id: string) => Promise<T | null>,
    private readonly stillExists?: (id: string) => Promise<boolean>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  async get(id: string): Promise<T | null> {
    const hit = this.entries.get(id);
    if (hit !== undefined) {
      if (this.stillExists && !(await this.stillExists(id))) {
        this.invalidate(id);
        return null;
      }
      // Map iteration order is insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(id);
      this.entries.set(id, hit);
      this.hits++;
      return hit;
    }
    this.misses++;
    let p = this.loading.get(id);
    if (!p) {
      const gen = this.generation.get(id) ?? 0;
      p = this.load(id)
        .then((v) => {
          if (v !== null && this.capacity > 0 && (this.generation.get(id) ?? 0) === gen) this.insert(id, v);
          return v;
        })
        .finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  private insert(id: string, v: T): void {
    this.entries.delete(id);
    this.entries.set(id, v);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  invalidate(id: string): void {
    this.entries.delete(id);
    this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
  }

  clear(): void {
    for (const id of this.entries.keys()) this.invalidate(id);
  }
}
