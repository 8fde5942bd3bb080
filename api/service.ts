import { join } from 'node:path';
import type { FastifyServerOptions } from 'fastify';
import type { CircuitVariant } from '../circuits/variants.js';
import { initBackend, type BackendInfo } from '../inference/backend.js';
import { Batcher } from '../inference/batcher.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { ModelFactory } from '../inference/factory.js';
import type { BaseModel } from '../inference/model.js';
import { AdapterStore } from '../inference/store.js';
import { ZkpoaError } from '../attribution/errors.js';
import { isLocalChain } from '../contracts/client/anvil.js';
import { createProver, loadProverKeys, loadVerificationKey, type Prover } from '../prover/prover.js';
import { artifactPaths, ensureVariant, readVariantManifest, type VariantArtifacts, type VariantManifest } from '../prover/setup.js';
import type { VerificationKey } from 'snarkjs';
import { releaseSnarkjsThreads } from '../prover/snarkjs-threads.js';
import { Auditor } from './audit.js';
import { AdapterLocks } from './adapter-locks.js';
import { BatchPlanner } from './batching.js';
import type { ChainContext } from './chain.js';
import { FeaturePools } from './feature-pools.js';
import { FineTuneRunner } from './finetune-runner.js';
import { Ledgers } from './ledger.js';
import { tenantLimits, type TenantLimits } from './limits.js';
import { ProofWorker, proveJobKind } from './proof-worker.js';
import { Registrar } from './registration.js';
import { buildServer, type App } from './server.js';
import { Settler } from './settlement.js';
import type { Db } from './store/db.js';
import { describeJobQueue, openJobQueue } from './store/open-queue.js';

/**
 * The service assembled in one place: base model and tensor backend, adapter store,
 * ModelFactory and its job runner, batcher, registration, batch planning and settlement
 * (with a chain, if given), an in-process proof worker (unless proofs run elsewhere), a
 * background loop that plans due batches (and settles proven ones with `autoSettle`),
 * and the HTTP API over them.
 */
export interface ServiceOptions {
  db: Db;
  buildDir: string;
  /** where adapters and checkpoints live (default: <buildDir>/adapters, <buildDir>/checkpoints) */
  dataDir?: string;
  /** the batch circuit variant indexes are built and proofs made for */
  variant: CircuitVariant;
  /** a short batch is proven once its oldest answer has waited this long (default 30 s) */
  batchDeadlineMs?: number;
  /** settle proven batches in the background (default false: POST /v1/adapters/:id/settle) */
  autoSettle?: boolean;
  /** keys from the development setup on a chain that is not a local one (refused otherwise) */
  allowDevelopmentKeys?: boolean;
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
  registrar: Registrar;
  planner: BatchPlanner;
  settler: Settler;
  /** the in-process prover, once its keys are ready */
  readonly prover?: Prover | undefined;
  /** resolves once the in-process prover runs (at once with external provers) */
  proverReady: Promise<void>;
  close(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const limits = tenantLimits(opts.limits);
  const keys = serviceKeys(opts);
  // on a chain that is not a local one the keys and their ceremony are checked before anything is served;
  // on a local one they are built while the service already serves and fine-tunes (proofs wait for them)
  if (opts.chain && !isLocalChain(opts.chain.chainId)) await keys.ready;
  const backend = await initBackend();
  const model = await ensureBaseModel({ buildDir: opts.buildDir });
  const dataDir = opts.dataDir ?? opts.buildDir;
  const store = await AdapterStore.open(join(dataDir, 'adapters'), model, { maxResidentAdapters: opts.maxResidentAdapters ?? 64 });
  const factory = new ModelFactory({ baseDir: join(opts.buildDir, 'models', 'base'), store, checkpointsDir: join(dataDir, 'checkpoints') });
  const queue = await openJobQueue(opts.db, opts.queueUrl);
  const runner = new FineTuneRunner(opts.db, queue, factory, { variant: opts.variant, buildDir: opts.buildDir }, opts.pollMs ?? 100, limits.fineTuneDeadlineMs);
  const batcher = new Batcher(store, { maxWaitMs: 5 });
  const vkey = async () => (await keys.ready).vkey;
  const pools = new FeaturePools(join(opts.buildDir, 'models', 'base'), { maxPools: limits.maxAttributionPools });
  // registration moves an adapter's version boundaries, planning cuts batches within them: one lock per adapter for both
  const locks = new AdapterLocks();
  const registrar = new Registrar(opts.db, opts.chain, locks);
  const planner = new BatchPlanner(opts.db, queue, pools, {
    variant: opts.variant,
    vkey,
    deadlineMs: opts.batchDeadlineMs ?? 30_000,
    locks,
    ...(opts.chain ? { chain: { chainId: opts.chain.chainId, settlement: opts.chain.settlement } } : {}),
  });
  const settler = new Settler(opts.db, queue, vkey, opts.chain);
  const auditor = new Auditor(opts.db, pools, settler, opts.chain);
  let prover: Prover | undefined;
  let worker: ProofWorker | undefined;
  let closing = false;
  const proving = keys.ready.then(async (k) => {
    if (!k.artifacts || closing) return;
    prover = createProver(await loadProverKeys(k.artifacts));
    worker = new ProofWorker(queue, prover, { variant: opts.variant.name, vkey: k.vkey, pollMs: opts.pollMs ?? 100 });
    worker.start();
  });
  proving.catch((err: unknown) => console.error(`zkpoa: the ${opts.variant.name} keys are not usable: ${(err as Error).message}`));
  runner.start();
  // versions that landed on-chain while this service was down are recorded before batches are planned across them
  const reconciled = opts.chain ? registrar.reconcileAll() : Promise.resolve();
  const loop = backgroundLoop(opts.pollMs ?? 100, async () => {
    if (!opts.chain) return;
    await reconciled;
    await planner.planDue();
    if (opts.autoSettle) await settler.settleAll();
  });
  const app = await buildServer({
    db: opts.db,
    inference: { batcher, queue },
    attribution: { registrar, planner, settler, auditor, ledgers: new Ledgers(opts.db), vkey },
    limits,
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    health: () => ({
      backend: backend.name,
      servingKernel: batcher.kernel,
      baseModel: model.hash,
      adapters: store.size,
      residentAdapters: store.residentIds().length,
      prover: { variant: opts.variant.name, ...(keys.state ? { jobKind: proveJobKind(keys.state.vkey) } : {}), ...(prover ? { threads: prover.threads } : (opts.proofWorker ?? true) ? { status: keys.error ? 'failed' : 'building keys' } : { workers: 'external' }) },
      keys: keys.state
        ? { ceremony: keys.state.manifest?.ceremony ?? 'unknown (no manifest beside the verification key)', development: keys.state.development, ...(keys.state.development && opts.chain && !isLocalChain(opts.chain.chainId) ? { warning: 'development keys on a chain that is not a local one' } : {}) }
        : { status: keys.error ? `failed: ${keys.error.message}` : 'building' },
      chain: opts.chain ? { chainId: opts.chain.chainId.toString(), settlement: opts.chain.settlement, autoSettle: opts.autoSettle ?? false } : 'none',
      jobQueue: describeJobQueue(opts.queueUrl),
      attributionPools: { alive: pools.alive, max: limits.maxAttributionPools },
    }),
  });
  return {
    app,
    backend,
    model,
    store,
    registrar,
    planner,
    settler,
    get prover() {
      return prover;
    },
    proverReady: proving,
    async close() {
      closing = true;
      await app.close();
      await loop.stop();
      await proving.catch(() => undefined);
      await worker?.stop();
      await runner.stop();
      await prover?.close();
      await batcher.close();
      await pools.close();
      await queue.close();
      await factory.close();
      store.close();
      await releaseSnarkjsThreads(); // audits verify on snarkjs's threaded curve
    },
  };
}

/** Runs `tick` every `ms` (never two at once); a failed tick is logged and the loop goes on. */
function backgroundLoop(ms: number, tick: () => Promise<void>): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    while (running) {
      await tick().catch((err: unknown) => console.error(`zkpoa background: ${(err as Error).message}`));
      await new Promise((r) => setTimeout(r, ms));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * The service's circuit keys: built (or reused) when it proves in-process; with provers
 * elsewhere, their verification key copied beside an optional manifest, never keys of its
 * own (theirs would differ). Refuses development keys on a chain that is not a local one.
 */
function serviceKeys(opts: ServiceOptions) {
  const holder: {
    ready: Promise<{ artifacts?: VariantArtifacts; manifest?: VariantManifest; vkey: VerificationKey; development: boolean }>;
    state?: Awaited<typeof holder.ready>;
    error?: Error;
  } = {
    ready: (async () => {
      const artifacts = (opts.proofWorker ?? true) ? await ensureVariant(opts.variant, { buildDir: opts.buildDir }) : undefined;
      const manifest = artifacts?.manifest ?? (await readVariantManifest(opts.variant, opts.buildDir));
      const development = manifest?.ptau.origin === 'development';
      if (opts.chain && development && !isLocalChain(opts.chain.chainId) && !opts.allowDevelopmentKeys) {
        throw new ZkpoaError('ZKPOA_ERR_DEV_KEYS', `${opts.variant.name}'s keys come from the development setup, whose randomness this machine held: on chain ${opts.chain.chainId} anyone who kept it could forge proofs. Build production keys (npm run setup -- --ptau <public file>) or pass --allow-development-keys`);
      }
      const vkey = await loadVerificationKey(artifactPaths(opts.variant, opts.buildDir).vkey);
      return { ...(artifacts ? { artifacts } : {}), ...(manifest ? { manifest } : {}), vkey, development };
    })(),
  };
  holder.ready.then(
    (k) => (holder.state = k),
    (err: Error) => (holder.error = err),
  );
  return holder;
}
