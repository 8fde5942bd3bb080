import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZkpoaError } from '../attribution/errors.js';
import { tf } from './backend.js';
import { assertAdapterId } from './lora.js';
import { CausalLm } from './lm.js';
import { decodeLmAdapter, encodeLmAdapter, type LmAdapter } from './lm-lora.js';
import { GenerationEngine, type GenerationEngineOptions } from './generation.js';

/** decoded adapters kept in memory, the least recently used dropped first (the engine's bank holds the resident weights) */
const DECODED = 256;

/**
 * A host's language model side: the base model (loaded from `modelDir` when first
 * needed, after `prepare` has made it, e.g. trained the embedded default), its LoRA
 * adapters as .lora files under `adaptersDir`, and the generation engine that serves
 * them. Nothing is loaded until something generates or fine-tunes, so a service that
 * only classifies never pays for it.
 */
export class LmServing {
  private loaded: Promise<CausalLm> | undefined;
  private engineOnce: Promise<GenerationEngine> | undefined;
  private readonly decoded = new Map<string, LmAdapter>();
  private hash: string | undefined;

  constructor(
    private readonly opts: { modelDir: string; adaptersDir: string; prepare?: () => Promise<void>; engine?: GenerationEngineOptions },
  ) {}

  get modelDir(): string {
    return this.opts.modelDir;
  }

  /** What generates: the tensor backend and the base model's hash. */
  async identity(): Promise<{ backend: string; model: string }> {
    const lm = await this.model();
    this.hash ??= lm.hash();
    return { backend: tf.getBackend(), model: this.hash };
  }

  model(): Promise<CausalLm> {
    this.loaded ??= (async () => {
      await this.opts.prepare?.();
      const lm = await CausalLm.load(this.opts.modelDir);
      lm.freeze();
      return lm;
    })().catch((err: unknown) => {
      this.loaded = undefined; // a failed load is tried again by the next caller
      throw err;
    });
    return this.loaded;
  }

  engine(): Promise<GenerationEngine> {
    this.engineOnce ??= this.model().then((lm) => new GenerationEngine(lm, (id) => this.adapter(id), this.opts.engine));
    this.engineOnce.catch(() => (this.engineOnce = undefined));
    return this.engineOnce;
  }

  /** Checks an adapter file against the base model and stores it under its id. */
  async put(bytes: Uint8Array): Promise<LmAdapter> {
    const adapter = decodeLmAdapter(bytes, await this.model());
    const file = this.file(adapter.meta.id);
    await mkdir(this.opts.adaptersDir, { recursive: true });
    await writeFile(`${file}.tmp`, encodeLmAdapter(adapter));
    await rename(`${file}.tmp`, file);
    this.decoded.delete(adapter.meta.id);
    return adapter;
  }

  /** A stored adapter (ZKPOA_ERR_UNKNOWN_ADAPTER when there is none). */
  async adapter(id: string): Promise<LmAdapter> {
    const cached = this.decoded.get(id);
    if (cached) {
      this.decoded.delete(id);
      this.decoded.set(id, cached);
      return cached;
    }
    const file = this.file(id);
    if (!existsSync(file)) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_ADAPTER', `no language model adapter ${id}`);
    const adapter = decodeLmAdapter(await readFile(file), await this.model());
    this.decoded.set(id, adapter);
    if (this.decoded.size > DECODED) this.decoded.delete(this.decoded.keys().next().value!);
    return adapter;
  }

  async close(): Promise<void> {
    const engine = await this.engineOnce?.catch(() => undefined);
    await engine?.close();
    (await this.loaded?.catch(() => undefined))?.dispose();
  }

  private file(id: string): string {
    assertAdapterId(id);
    return join(this.opts.adaptersDir, `${id}.lora`);
  }
}
