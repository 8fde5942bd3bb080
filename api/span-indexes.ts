import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZkpoaError } from '../attribution/errors.js';
import { SpanIndex, type SpanMatch } from '../inference/spans.js';
import type { SpanIndexTask } from '../inference/span-worker.js';
import { createTsPool } from '../lib/pool.js';
import type { DatanetStore } from './store/datanets.js';
import type { Host } from './store/hosts.js';

/** indexes kept in memory, the least recently used dropped first */
const KEPT = 8;

/**
 * The span indexes of published datanet versions (inference/spans.ts): built in a worker
 * when a version is published, or when first asked for if it was published before; kept
 * as files under `dir`, the latest few in memory. A lookup never waits for a build: it is
 * told to come back.
 */
export class SpanIndexes {
  private readonly builds = new Map<string, Promise<void>>();
  private readonly failed = new Map<string, string>();
  private readonly loaded = new Map<string, SpanIndex>();

  constructor(
    private readonly datanets: DatanetStore,
    private readonly dir: string,
  ) {}

  /** Starts building a version's index, unless it is built or being built. */
  build(host: Host, datanetId: string, version: number): void {
    const key = `${datanetId}-v${version}`;
    if (this.builds.has(key) || this.loaded.has(key)) return;
    const records = this.datanets.snapshot(host, datanetId, version).map((r) => ({ id: r.id, contributor: r.contributor, text: r.text }));
    const task: SpanIndexTask = { records, file: this.file(key) };
    const build = (async () => {
      await mkdir(this.dir, { recursive: true });
      if (await readFile(task.file).then(() => true, () => false)) return;
      const pool = createTsPool(new URL('../inference/span-worker.ts', import.meta.url), null, 1);
      try {
        await pool.run(task);
      } finally {
        await pool.close();
      }
    })();
    this.builds.set(key, build);
    this.failed.delete(key);
    build.then(
      () => this.builds.delete(key),
      (err: Error) => {
        this.builds.delete(key);
        this.failed.set(key, err.message);
        console.error(`zkpoa: the span index of ${datanetId} version ${version} failed to build: ${err.message}`);
      },
    );
  }

  /** An answer's spans in a version's records; ZKPOA_ERR_SPANS_NOT_READY while its index is built. */
  async find(host: Host, datanetId: string, version: number, text: string, opts: { minTokens?: number; maxOccurrences?: number }): Promise<SpanMatch> {
    this.datanets.version(host, datanetId, version); // the caller may read it, and it exists
    const key = `${datanetId}-v${version}`;
    let index = this.loaded.get(key);
    if (index) {
      this.loaded.delete(key); // most recently used last
    } else if (!this.builds.has(key)) {
      const bytes = await readFile(this.file(key)).catch(() => undefined);
      if (bytes) index = SpanIndex.fromBytes(bytes);
    }
    if (!index) {
      const failure = this.failed.get(key);
      this.build(host, datanetId, version);
      throw new ZkpoaError('ZKPOA_ERR_SPANS_NOT_READY', `the span index of ${datanetId} version ${version} is being built${failure ? ` (the last build failed: ${failure})` : ''}; ask again shortly`);
    }
    this.loaded.set(key, index);
    if (this.loaded.size > KEPT) this.loaded.delete(this.loaded.keys().next().value!);
    return index.find(text, opts);
  }

  /** Waits for the builds under way. */
  async close(): Promise<void> {
    await Promise.allSettled(this.builds.values());
  }

  private file(key: string): string {
    return join(this.dir, `${key}.spans`);
  }
}
