import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZkpoaError } from '../attribution/errors.js';
import type { AdapterTensors } from './forward.js';
import { assertAdapterId, assertFitsBase, decodeAdapter, encodeAdapter, type Adapter } from './lora.js';
import type { BaseModel } from './model.js';
import { servingWeights, type ServingWeights } from './sgmv.js';
import { disposeAdapterTensors, servingTensors } from './train.js';

/**
 * Thousands of adapters in three tiers: files on disk (`<dir>/<id>.lora`), decoded
 * weights in host memory (an LRU of `maxHostAdapters`), and resident slots (an LRU of
 * `maxResidentAdapters`) in the serving layout the batcher computes with — host arrays
 * for the host SGMV kernel, tensors made on first use for the tensor kernel. A miss
 * loads just in time; `prefetch` warms the host tier ahead of traffic.
 */
export interface AdapterStoreOptions {
  maxResidentAdapters?: number;
  maxHostAdapters?: number;
}

export interface StoreStats {
  residentHits: number;
  hostHits: number;
  diskLoads: number;
  evictions: number;
}

/** An adapter in a resident slot. */
export class ResidentAdapter {
  private cached: AdapterTensors | undefined;
  private disposed = false;

  constructor(readonly weights: ServingWeights) {}

  /** Its tensors (made once, freed on eviction). */
  tensors(): AdapterTensors {
    if (this.disposed) throw new ZkpoaError('ZKPOA_ERR_INTERNAL', 'an evicted adapter slot was used');
    this.cached ??= servingTensors(this.weights);
    return this.cached;
  }

  dispose(): void {
    if (this.cached) disposeAdapterTensors(this.cached);
    this.cached = undefined;
    this.disposed = true;
  }
}

export class AdapterStore {
  readonly maxResident: number;
  readonly maxHost: number;
  readonly stats: StoreStats = { residentHits: 0, hostHits: 0, diskLoads: 0, evictions: 0 };
  private readonly ids = new Set<string>();
  private readonly host = new Map<string, Adapter>();
  private readonly resident = new Map<string, ResidentAdapter>();
  private readonly loading = new Map<string, Promise<Adapter>>();

  private constructor(
    readonly dir: string,
    readonly base: BaseModel,
    opts: AdapterStoreOptions,
  ) {
    this.maxResident = opts.maxResidentAdapters ?? 64;
    this.maxHost = opts.maxHostAdapters ?? 4096;
    if (!Number.isInteger(this.maxResident) || this.maxResident < 1) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'maxResidentAdapters must be a positive integer');
    if (!Number.isInteger(this.maxHost) || this.maxHost < this.maxResident) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'maxHostAdapters must be an integer ≥ maxResidentAdapters');
  }

  /** Opens (creating if needed) an adapter directory and indexes the files in it. */
  static async open(dir: string, base: BaseModel, opts: AdapterStoreOptions = {}): Promise<AdapterStore> {
    await mkdir(dir, { recursive: true });
    const store = new AdapterStore(dir, base, opts);
    for (const f of await readdir(dir)) if (f.endsWith('.lora')) store.ids.add(f.slice(0, -'.lora'.length));
    return store;
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  list(): string[] {
    return [...this.ids];
  }

  isResident(id: string): boolean {
    return this.resident.has(id);
  }

  residentIds(): string[] {
    return [...this.resident.keys()];
  }

  /** Writes an adapter (atomically) after checking it fits the base; replaces a cached copy. */
  async put(adapter: Adapter): Promise<void> {
    assertAdapterId(adapter.meta.id);
    assertFitsBase(adapter.meta, this.base);
    const path = this.path(adapter.meta.id);
    await writeFile(`${path}.tmp`, encodeAdapter(adapter));
    await rename(`${path}.tmp`, path);
    this.ids.add(adapter.meta.id);
    this.host.delete(adapter.meta.id);
    this.resident.get(adapter.meta.id)?.dispose();
    this.resident.delete(adapter.meta.id);
  }

  /** Decoded adapter weights (host tier, then disk). Unknown or corrupt adapters are typed errors. */
  async get(id: string): Promise<Adapter> {
    const cached = this.host.get(id);
    if (cached) {
      this.stats.hostHits++;
      this.touch(this.host, id, cached);
      return cached;
    }
    if (!this.ids.has(id)) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_ADAPTER', `unknown adapter ${JSON.stringify(id)}`);
    let pending = this.loading.get(id);
    if (!pending) {
      pending = (async () => {
        const bytes = await readFile(this.path(id));
        const adapter = decodeAdapter(bytes, this.base);
        if (adapter.meta.id !== id) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_CORRUPT', `adapter file ${id}.lora holds adapter ${adapter.meta.id}`);
        this.stats.diskLoads++;
        this.touch(this.host, id, adapter);
        while (this.host.size > this.maxHost) this.host.delete(this.host.keys().next().value!);
        return adapter;
      })().finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** Loads the adapters into host memory ahead of use (errors are left for the request that needs them). */
  prefetch(ids: readonly string[]): Promise<void> {
    return Promise.all(ids.filter((id) => this.ids.has(id) && !this.host.has(id)).map((id) => this.get(id).catch(() => undefined))).then(() => undefined);
  }

  /**
   * Resident slots for a batch's distinct adapters, loading misses and evicting the
   * least recently used adapters that the batch does not need.
   */
  async acquire(ids: readonly string[]): Promise<ResidentAdapter[]> {
    if (ids.length > this.maxResident) {
      throw new ZkpoaError('ZKPOA_ERR_BATCH_TOO_LARGE', `a batch may use at most ${this.maxResident} distinct adapters, got ${ids.length}`);
    }
    const missing = ids.filter((id) => !this.resident.has(id));
    const loaded = await Promise.all(missing.map((id) => this.get(id)));
    const needed = new Set(ids);
    for (const [i, id] of missing.entries()) {
      if (this.resident.has(id)) continue;
      while (this.resident.size >= this.maxResident) {
        const victim = [...this.resident.keys()].find((k) => !needed.has(k))!;
        this.resident.get(victim)!.dispose();
        this.resident.delete(victim);
        this.stats.evictions++;
      }
      this.resident.set(id, new ResidentAdapter(servingWeights(loaded[i]!)));
    }
    this.stats.residentHits += ids.length - missing.length;
    return ids.map((id) => {
      const t = this.resident.get(id)!;
      this.touch(this.resident, id, t);
      return t;
    });
  }

  /** Frees every resident tensor. */
  close(): void {
    for (const r of this.resident.values()) r.dispose();
    this.resident.clear();
    this.host.clear();
  }

  private path(id: string): string {
    assertAdapterId(id);
    return join(this.dir, `${id}.lora`);
  }

  private touch<V>(map: Map<string, V>, id: string, v: V): void {
    map.delete(id);
    map.set(id, v);
  }
}
