import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Piscina } from 'piscina';
import { ZkpoaError } from '../attribution/errors.js';
import { SpanIndex, type SpanMatch } from '../inference/spans.js';
import type { SpanIndexTask } from '../inference/span-worker.js';
import { createTsPool } from '../lib/pool.js';
import type { DatanetStore } from './store/datanets.js';
import type { Host } from './store/hosts.js';

/** indexes kept in memory, the least recently used dropped first */
const KEPT = 8;
/** a failed build is not tried again before this */
const RETRY_AFTER_MS = 60_000;

/**
 * The span indexes of published datanet versions (inference/spans.ts): built one at a
 * time in a worker thread when a version is published, or when first asked for if it was
 * published before; kept as files under `dir`, the latest few in memory. A lookup never
 * waits for a build: it is told to come back.
 */
export class SpanIndexes {
  private pool: Piscina | undefined;
  private readonly builds = new Map<string, Promise<void>>();
  private readonly failed = new Map<string, { message: string; at: number }>();
  private readonly loaded = new Map<string, SpanIndex>();

  constructor(
    private readonly datanets: DatanetStore,
    private readonly dir: string,
  ) {}

  /** Starts building a version's index, unless it is built, being built, or failed a moment ago. */
  build(host: Host, datanetId: string, version: number): void {
    const key = `${datanetId}-v${version}`;
    const failure = this.failed.get(key);
    if (this.builds.has(key) || this.loaded.has(key) || (failure && Date.now() - failure.at < RETRY_AFTER_MS)) return;
    const records = this.datanets.snapshot(host, datanetId, version).map((r) => ({ id: r.id, contributor: r.contributor, text: r.text }));
    const task: SpanIndexTask = { records, file: this.file(key) };
    const build = (async () => {
      await mkdir(this.dir, { recursive: true });
      if (await stat(task.file).then(() => true, () => false)) return;
      // one worker thread, builds queued: a build takes a core, and proofs need the others
      this.pool ??= createTsPool(new URL('../inference/span-worker.ts', import.meta.url), null, 1);
      await this.pool.run(task);
    })();
    this.builds.set(key, build);
    this.failed.delete(key);
    build.then(
      () => this.builds.delete(key),
      (err: Error) => {
        this.builds.delete(key);
        this.failed.set(key, { message: err.message, at: Date.now() });
        console.error(`zkpoa: the span index of ${datanetId} version ${version} failed to build: ${err.message}`);
      },
    );
  }

  /** An answer's spans in a version's records; ZKPOA_ERR_SPANS_NOT_READY while its index is built. */
  async find(host: Host, datanetId: string, version: number, text: string, opts: { minTokens?: number; maxOccurrences?: number }): Promise<SpanMatch> {
    this.datanets.version(host, datanetId, version); // the caller may read it, and it exists
    const key = `${datanetId}-v${version}`;
    let index = this.loaded.get(key);
    if (index) this.loaded.delete(key); // most recently used last
    else if (!this.builds.has(key)) index = await this.read(key);
    if (!index) {
      this.build(host, datanetId, version);
      const failure = this.failed.get(key);
      throw new ZkpoaError('ZKPOA_ERR_SPANS_NOT_READY', `the span index of ${datanetId} version ${version} ${failure ? `failed to build (${failure.message}); it is tried again a minute after` : 'is being built; ask again shortly'}`);
    }
    this.loaded.set(key, index);
    if (this.loaded.size > KEPT) this.loaded.delete(this.loaded.keys().next().value!);
    return index.find(text, opts);
  }

  /** Waits for the builds under way, then stops the worker. */
  async close(): Promise<void> {
    await Promise.allSettled(this.builds.values());
    await this.pool?.close();
  }

  /** The index file, or undefined when there is none; a file that does not read as one is removed, to be built again. */
  private async read(key: string): Promise<SpanIndex | undefined> {
    const bytes = await readFile(this.file(key)).catch(() => undefined);
    if (!bytes) return undefined;
    try {
      return SpanIndex.fromBytes(bytes);
    } catch (err) {
      console.error(`zkpoa: ${this.file(key)}: ${(err as Error).message}; building it again`);
      await rm(this.file(key), { force: true });
      return undefined;
    }
  }

  private file(key: string): string {
    return join(this.dir, `${key}.spans`);
  }
}
