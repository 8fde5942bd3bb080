import { ZkpoaError } from '../attribution/errors.js';
import { AttributionPool } from '../inference/attribution-pool.js';
import { quantizeQuery } from '../inference/attribution-index.js';
import type { StoredIndex } from './attribution-service.js';

/**
 * An answer's test features t, computed in a worker pool per adapter so that the serving
 * loop never runs the gradient pass. Pools are kept for the most recently used adapters;
 * an evicted pool closes once its last query is done, never under one. At most `maxPools`
 * are alive at once, counting evicted pools still answering, so no tenant's traffic over
 * many adapters can start threads without bound (ZKPOA_ERR_ATTRIBUTION_BUSY).
 */
export class FeaturePools {
  /** pools by adapter key, least recently used first */
  private readonly cached = new Map<string, AttributionPool>();
  /** queries in flight per pool, cached or evicted */
  private readonly users = new Map<AttributionPool, number>();
  /** pools being closed: close() waits for them, so no worker thread outlives the service */
  private readonly closing = new Set<Promise<void>>();
  private closed = false;

  constructor(
    /** folder of the base model the workers load */
    private readonly baseDir: string,
    private readonly opts: { maxPools: number; keep?: number },
  ) {}

  /** Pools alive now: cached ones and evicted ones still answering. */
  get alive(): number {
    return new Set([...this.cached.values(), ...this.users.keys()]).size;
  }

  async testFeatures(adapterKey: string, stored: StoredIndex, input: string): Promise<bigint[]> {
    if (this.closed) throw new ZkpoaError('ZKPOA_ERR_CLOSED', 'the attribution pools are closed');
    const pool = this.acquire(adapterKey, stored);
    try {
      return quantizeQuery(stored.index, (await pool.query(input)).features);
    } finally {
      this.release(pool);
    }
  }

  private acquire(adapterKey: string, stored: StoredIndex): AttributionPool {
    let pool = this.cached.get(adapterKey);
    if (pool) this.cached.delete(adapterKey);
    else {
      // make room among idle cached pools first; a pool in use is never closed under its query
      for (const [key, p] of this.cached) {
        if (this.alive < this.opts.maxPools) break;
        if (this.users.get(p)) continue;
        this.cached.delete(key);
        this.retire(p);
      }
      if (this.alive >= this.opts.maxPools) throw new ZkpoaError('ZKPOA_ERR_ATTRIBUTION_BUSY', `all ${this.opts.maxPools} attribution worker pools are busy with other adapters; try again shortly`);
      pool = AttributionPool.create({ baseDir: this.baseDir, checkpoints: stored.checkpoints, projection: stored.index.projection, ...(stored.index.basis ? { basis: stored.index.basis } : {}), threads: 1 });
    }
    this.cached.set(adapterKey, pool);
    this.users.set(pool, (this.users.get(pool) ?? 0) + 1);
    while (this.cached.size > (this.opts.keep ?? 4)) {
      const [oldest, p] = this.cached.entries().next().value!;
      this.cached.delete(oldest);
      if (!this.users.get(p)) this.retire(p);
    }
    return pool;
  }

  private release(pool: AttributionPool): void {
    const n = this.users.get(pool)! - 1;
    if (n > 0) return void this.users.set(pool, n);
    this.users.delete(pool);
    if (![...this.cached.values()].includes(pool)) this.retire(pool);
  }

  private retire(pool: AttributionPool): void {
    const p: Promise<void> = pool.close().catch(() => undefined).finally(() => this.closing.delete(p));
    this.closing.add(p);
  }

  /** Closes every pool; queries in flight finish first. */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.cached.values()];
    this.cached.clear(); // pools in use are retired by their last query's release
    for (const p of pools) if (!this.users.get(p)) this.retire(p);
    while (this.closing.size > 0 || this.users.size > 0) {
      await Promise.race([...this.closing, new Promise((r) => setTimeout(r, 20))]);
    }
  }
}
