import { join } from 'node:path';
import type { FastifyServerOptions } from 'fastify';
import type { CircuitVariant } from '../circuits/variants.js';
import { initBackend, type BackendInfo } from '../inference/backend.js';
import { Batcher } from '../inference/batcher.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { ModelFactory } from '../inference/factory.js';
import type { BaseModel } from '../inference/model.js';
import { AdapterStore } from '../inference/store.js';
import { createProver, loadProverKeys, type Prover } from '../prover/prover.js';
import { ensureVariant } from '../prover/setup.js';
import { releaseSnarkjsThreads } from '../prover/snarkjs-threads.js';
import { FineTuneRunner } from './finetune-runner.js';
import { tenantLimits, type TenantLimits } from './limits.js';
import { ProofWorker } from './proof-worker.js';
import { ReceiptService, type ChainContext } from './receipts.js';
import { buildServer, type App } from './server.js';
import type { Db } from './store/db.js';
import { describeJobQueue, openJobQueue } from './store/open-queue.js';

/**
 * The service assembled in one place: base model and tensor backend, adapter store,
 * ModelFactory and its job runner, batcher, receipts (with a chain, if given), an
 * in-process proof worker (unless proofs run elsewhere), and the HTTP API over them.
 */
export interface ServiceOptions {
  db: Db;
  buildDir: string;
  /** where adapters and checkpoints live (default: <buildDir>/adapters, <buildDir>/checkpoints) */
  dataDir?: string;
  /** the circuit variant indexes are built and proofs made for */
  variant: CircuitVariant;
  chain?: ChainContext;
  /** run a proof worker in this process (default true) */
  proofWorker?: boolean;
  /**
   * where the job records live: unset for the SQLite queue in `db`, `redis://…` for BullMQ
   * on Redis so that `zkpoa prover` workers on other hosts share the proofs
   */
  queueUrl?: string;
  maxResidentAdapters?: number;
  /** what one tenant may take (api/limits.ts) */
  limits?: Partial<TenantLimits>;
  logger?: FastifyServerOptions['logger'];
  pollMs?: number;
}

export interface Service {
  app: App;
  backend: BackendInfo;
  model: BaseModel;
  store: AdapterStore;
  receipts: ReceiptService;
  prover?: Prover;
  close(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const limits = tenantLimits(opts.limits);
  const backend = await initBackend();
  const model = await ensureBaseModel({ buildDir: opts.buildDir });
  const dataDir = opts.dataDir ?? opts.buildDir;
  const store = await AdapterStore.open(join(dataDir, 'adapters'), model, { maxResidentAdapters: opts.maxResidentAdapters ?? 64 });
  const factory = new ModelFactory({ baseDir: join(opts.buildDir, 'models', 'base'), store, checkpointsDir: join(dataDir, 'checkpoints') });
  const queue = await openJobQueue(opts.db, opts.queueUrl);
  const runner = new FineTuneRunner(opts.db, queue, factory, { variant: opts.variant, buildDir: opts.buildDir }, opts.pollMs ?? 100, limits.fineTuneDeadlineMs);
  const batcher = new Batcher(store, { maxWaitMs: 5 });
  const receipts = new ReceiptService(opts.db, queue, join(opts.buildDir, 'models', 'base'), opts.chain, { maxAttributionPools: limits.maxAttributionPools });
  let prover: Prover | undefined;
  let worker: ProofWorker | undefined;
  if (opts.proofWorker ?? true) {
    prover = createProver(await loadProverKeys(await ensureVariant(opts.variant, { buildDir: opts.buildDir })));
    worker = new ProofWorker(queue, prover, { variant: opts.variant.name, pollMs: opts.pollMs ?? 100 });
    worker.start();
  }
  runner.start();
  const app = await buildServer({
    db: opts.db,
    buildDir: opts.buildDir,
    inference: { batcher, queue },
    receipts,
    limits,
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    health: () => ({
      backend: backend.name,
      servingKernel: batcher.kernel,
      baseModel: model.hash,
      adapters: store.size,
      residentAdapters: store.residentIds().length,
      prover: prover ? { variant: opts.variant.name, threads: prover.threads } : 'external workers',
      chain: opts.chain ? { chainId: opts.chain.chainId.toString(), settlement: opts.chain.settlement } : 'none',
      jobQueue: describeJobQueue(opts.queueUrl),
      attributionPools: { alive: receipts.attributionPools, max: limits.maxAttributionPools },
    }),
  });
  return {
    app,
    backend,
    model,
    store,
    receipts,
    ...(prover ? { prover } : {}),
    async close() {
      await app.close();
      await worker?.stop();
      await runner.stop();
      await prover?.close();
      await batcher.close();
      await receipts.close();
      await queue.close();
      await factory.close();
      store.close();
      await releaseSnarkjsThreads(); // audits verify on snarkjs's threaded curve
    },
  };
}
