import { hostname } from 'node:os';
import type { CircuitVariant } from '../circuits/variants.js';
import type { ModelFactory } from '../inference/factory.js';
import { buildAdapterIndex } from './attribution-service.js';
import type { FineTuneSpec } from '../inference/train.js';
import { AdapterRegistryStore } from './store/adapters.js';
import { DatanetStore } from './store/datanets.js';
import type { Db } from './store/db.js';
import type { JobQueue } from './store/jobs.js';

/** Runs `finetune` jobs: reads the datanet version's records, fine-tunes off the main thread, records progress. */
export const FINETUNE_JOB = 'finetune';

export interface FineTuneJobPayload {
  hostId: number;
  adapterId: string;
  datanetId: string;
  version: number;
  hyper?: FineTuneSpec['hyper'];
  seed?: number;
}

export class FineTuneRunner {
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly worker = `${hostname()}:${process.pid}:finetune`;

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly factory: ModelFactory,
    /** the circuit variant the attribution index is built for, and where the base model lives */
    private readonly attribution: { variant: CircuitVariant; buildDir: string },
    private readonly pollMs = 200,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    const adapters = new AdapterRegistryStore(this.db);
    const datanets = new DatanetStore(this.db);
    const lease = 10 * 60_000;
    while (this.running) {
      const job = this.queue.claim(FINETUNE_JOB, this.worker, lease);
      if (!job) {
        await new Promise((r) => setTimeout(r, this.pollMs));
        continue;
      }
      const p = job.payload as FineTuneJobPayload;
      try {
        const host = { id: p.hostId, name: '' };
        const records = datanets.snapshot(host, p.datanetId, p.version).map((r) => ({ text: r.text, label: r.label, contributor: r.contributor }));
        const root = datanets.version(host, p.datanetId, p.version).root;
        const out = await this.factory.fineTune(
          { adapterId: p.adapterId, datanet: { id: p.datanetId, versionRoot: root, records }, ...(p.hyper ? { hyper: p.hyper } : {}), ...(p.seed !== undefined ? { seed: p.seed } : {}) },
          (progress) => this.queue.renew(job.id, this.worker, lease, progress.step / progress.steps),
        );
        // the attribution index: needed for proofs, not for answers, so its failure (say, more
        // contributors than the circuit holds) leaves the adapter serving and says why
        let index: { root: string; contributors: number } | { error: string };
        try {
          const built = await buildAdapterIndex(this.db, {
            adapterId: p.adapterId,
            datanet: { id: p.datanetId, versionRoot: root },
            records,
            checkpoints: out.checkpoints.map((c) => ({ path: c.path, learningRate: c.learningRate })),
            variant: this.attribution.variant,
            buildDir: this.attribution.buildDir,
          });
          index = { root: '0x' + built.index.root.toString(16), contributors: built.index.contributors.length };
        } catch (err) {
          index = { error: (err as Error).message };
        }
        adapters.setStatus(p.adapterId, 'ready');
        this.queue.complete(job.id, this.worker, { checkpoints: out.checkpoints.map((c) => ({ epoch: c.epoch, learningRate: c.learningRate })), durationMs: out.durationMs, index });
      } catch (err) {
        adapters.setStatus(p.adapterId, 'failed');
        this.queue.fail(job.id, this.worker, (err as Error).message, false);
      }
    }
  }
}
