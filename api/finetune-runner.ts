import { ZkpoaError } from '../attribution/errors.js';
import { variantForContributors, type CircuitVariant } from '../circuits/variants.js';
import type { ModelFactory } from '../inference/factory.js';
import { buildAdapterIndex } from './attribution-service.js';
import { JobConsumer } from './job-consumer.js';
import type { FineTuneSpec } from '../inference/train.js';
import type { LmFineTuneSpec } from '../inference/lm-lora.js';
import { AdapterRegistryStore, type AdapterModel } from './store/adapters.js';
import { DatanetStore } from './store/datanets.js';
import type { Db } from './store/db.js';
import type { JobQueue } from './store/jobs.js';

/**
 * Runs `finetune` jobs: reads the datanet version's records, fine-tunes off the main
 * thread, records progress, and for the classifier builds the attribution index. A
 * language model's adapter is trained on the records' texts; its answers are attributed by
 * their spans, from the version's span index (no gradient index is built for it yet).
 */
export const FINETUNE_JOB = 'finetune';

export interface FineTuneJobPayload {
  hostId: number;
  adapterId: string;
  datanetId: string;
  version: number;
  /** absent in jobs queued before language models: the classifier */
  model?: AdapterModel;
  hyper?: FineTuneSpec['hyper'] | LmFineTuneSpec['hyper'];
  seed?: number;
}

export class FineTuneRunner extends JobConsumer {
  constructor(
    db: Db,
    queue: JobQueue,
    factory: ModelFactory,
    /**
     * the circuits an attribution index may be built for (smallest first: an index gets the
     * smallest that holds its datanet's contributors), what to tell when one is chosen (its
     * keys are built then, if they were not), and where the base model lives
     */
    attribution: { ladder: readonly CircuitVariant[]; chosen?: (variant: CircuitVariant) => void; buildDir: string },
    pollMs = 200,
    /** a job (training and index) is stopped after this long */
    deadlineMs = 30 * 60_000,
  ) {
    const adapters = new AdapterRegistryStore(db);
    const datanets = new DatanetStore(db);
    super(
      queue,
      async (job, progress) => {
        const p = job.payload as FineTuneJobPayload;
        const deadline = AbortSignal.timeout(deadlineMs);
        const overdue = () => new ZkpoaError('ZKPOA_ERR_FINETUNE_DEADLINE', `fine-tuning ${p.adapterId} took longer than its deadline of ${Math.round(deadlineMs / 1000)} s and was stopped`);
        // a job whose adapter id another host owns (a stale job on a shared queue) touches nothing
        if (adapters.ownerOf(p.adapterId) !== p.hostId) throw new ZkpoaError('ZKPOA_ERR_FORBIDDEN', `adapter ${p.adapterId} is not host ${p.hostId}'s`);
        try {
          const host = { id: p.hostId, name: '' };
          const records = datanets.snapshot(host, p.datanetId, p.version).map((r) => ({ text: r.text, label: r.label, contributor: r.contributor }));
          const root = datanets.version(host, p.datanetId, p.version).root;
          if (p.model === 'causal-lm') {
            const out = await factory
              .fineTuneLm(
                { adapterId: p.adapterId, datanet: { id: p.datanetId, versionRoot: root, texts: records.map((r) => r.text) }, ...(p.hyper ? { hyper: p.hyper as LmFineTuneSpec['hyper'] } : {}), ...(p.seed !== undefined ? { seed: p.seed } : {}) },
                (s) => progress(s.step / s.steps),
                deadline,
              )
              .catch((err: unknown) => {
                throw deadline.aborted ? overdue() : err;
              });
            adapters.setStatus(p.adapterId, 'ready');
            return { model: 'causal-lm', durationMs: out.durationMs };
          }
          const out = await factory.fineTune(
            { adapterId: p.adapterId, datanet: { id: p.datanetId, versionRoot: root, records }, ...(p.hyper ? { hyper: p.hyper as FineTuneSpec['hyper'] } : {}), ...(p.seed !== undefined ? { seed: p.seed } : {}) },
            (s) => progress(s.step / s.steps),
            deadline,
          ).catch((err: unknown) => {
            throw deadline.aborted ? overdue() : err;
          });
          // the attribution index: needed for proofs, not for answers, so its failure (say, more
          // contributors than the circuit holds) leaves the adapter serving and says why
          let index: { root: string; contributors: number; variant: string } | { error: string };
          try {
            const variant = variantForContributors(attribution.ladder, new Set(records.map((r) => r.contributor)).size);
            attribution.chosen?.(variant);
            const built = await buildAdapterIndex(db, {
              adapterId: p.adapterId,
              datanet: { id: p.datanetId, versionRoot: root },
              records,
              checkpoints: out.checkpoints.map((c) => ({ path: c.path, learningRate: c.learningRate })),
              variant,
              buildDir: attribution.buildDir,
              signal: deadline,
            });
            index = { root: '0x' + built.index.root.toString(16), contributors: built.index.contributors.length, variant: variant.name };
          } catch (err) {
            if (deadline.aborted) throw overdue();
            index = { error: (err as Error).message };
          }
          adapters.setStatus(p.adapterId, 'ready');
          return { checkpoints: out.checkpoints.map((c) => ({ epoch: c.epoch, learningRate: c.learningRate })), durationMs: out.durationMs, index };
        } catch (err) {
          adapters.setStatus(p.adapterId, 'failed');
          throw err;
        }
      },
      { kind: FINETUNE_JOB, leaseMs: 10 * 60_000, pollMs, retry: () => false },
    );
  }
}
