import { join } from 'node:path';
import type { FastifyServerOptions } from 'fastify';
import type { CircuitVariant } from '../circuits/variants.js';
import { initBackend, type BackendInfo } from '../inference/backend.js';
import { Batcher } from '../inference/batcher.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { createTsPool } from '../lib/pool.js';
import { LmServing } from '../inference/lm-serving.js';
import { ModelFactory } from '../inference/factory.js';
import type { BaseModel } from '../inference/model.js';
import { AdapterStore } from '../inference/store.js';
import { ZkpoaError } from '../attribution/errors.js';
import { isLocalChain } from '../contracts/client/anvil.js';
import { createProver, loadProverKeys, type Prover } from '../prover/prover.js';
import { releaseSnarkjsThreads } from '../prover/snarkjs-threads.js';
import { Auditor } from './audit.js';
import { AdapterLocks } from './adapter-locks.js';
import { BatchPlanner } from './batching.js';
import type { ChainContext } from './chain.js';
import { FeaturePools } from './feature-pools.js';
import { FineTuneRunner } from './finetune-runner.js';
import { Ledgers } from './ledger.js';
import { buildDashboard } from './web/build.js';
import { tenantLimits, type TenantLimits } from './limits.js';
import { ProofWorker, proveJobKind } from './proof-worker.js';
import { Registrar } from './registration.js';
import { buildServer, type App } from './server.js';
import { ServiceKeys } from './service-keys.js';
import { Settler } from './settlement.js';
import type { Db } from './store/db.js';
import type { JobQueue } from './store/jobs.js';
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
  /**
   * the batch circuits indexes are built and proofs made for, smallest first (variantLadder):
   * an adapter gets the smallest that holds its datanet's contributors; the first one's keys
   * are built at start, a larger one's when an index first needs it
   */
  variants: readonly CircuitVariant[];
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
  /** the service's keys, per variant */
  keys: ServiceKeys;
  close(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const limits = tenantLimits(opts.limits);
  if (opts.variants.length === 0) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', 'a service needs at least one circuit variant');
  const ladder = [...opts.variants].sort((a, b) => a.params.contributors - b.params.contributors);
  const notBatch = ladder.filter((v) => v.params.answers === undefined);
  if (notBatch.length) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `${notBatch.map((v) => v.name).join(', ')}: not batch circuits`);
  const provers = new Map<string, { prover: Prover; worker: ProofWorker }>();
  let closing = false;
  let opened: (queue: JobQueue) => void = () => undefined;
  const jobs = new Promise<JobQueue>((resolve) => (opened = resolve));
  const starting: Promise<void>[] = [];
  const keys = new ServiceKeys(
    { variants: ladder, buildDir: opts.buildDir, proving: opts.proofWorker ?? true, ...(opts.chain ? { chain: opts.chain } : {}), ...(opts.allowDevelopmentKeys ? { allowDevelopmentKeys: true } : {}) },
    // an in-process proof worker per variant, once its keys are ready
    (variant, k) => {
      if (!k.artifacts) return;
      const artifacts = k.artifacts;
      starting.push(
        (async () => {
          const queue = await jobs;
          if (closing) return;
          const prover = createProver(await loadProverKeys(artifacts));
          if (closing) return void (await prover.close());
          const worker = new ProofWorker(queue, prover, { variant: variant.name, vkey: k.vkey, pollMs: opts.pollMs ?? 100 });
          provers.set(variant.name, { prover, worker });
          worker.start();
        })().catch((err: unknown) => console.error(`zkpoa: the ${variant.name} prover did not start: ${(err as Error).message}`)),
      );
    },
  );
  const wanted = (variant: CircuitVariant) => keys.want(variant).catch((err: unknown) => console.error(`zkpoa: the ${variant.name} keys are not usable: ${(err as Error).message}`));
  // on a chain that is not a local one every variant's keys and their ceremony are checked before anything is served;
  // on a local one they are built while the service already serves and fine-tunes (proofs wait for them)
  if (opts.chain && !isLocalChain(opts.chain.chainId)) {
    const missing = [];
    for (const v of ladder) if (BigInt(await opts.chain.client.verifierOf(v.id)) === 0n) missing.push(v.name);
    if (missing.length) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `no verifier for ${missing.join(', ')} on settlement ${opts.chain.settlement}: deploy them (npm run deploy -- --variant <name>) or serve without them (--variant)`);
    await Promise.all(ladder.map((v) => keys.want(v)));
  }
  // the smallest variant at once; the ones indexes already use (a restart); a larger one when an index first needs it
  void wanted(ladder[0]!);
  for (const name of usedVariants(opts.db)) {
    const v = ladder.find((x) => x.name === name);
    if (v) void wanted(v);
  }
  const backend = await initBackend();
  const model = await ensureBaseModel({ buildDir: opts.buildDir });
  const dataDir = opts.dataDir ?? opts.buildDir;
  const store = await AdapterStore.open(join(dataDir, 'adapters'), model, { maxResidentAdapters: opts.maxResidentAdapters ?? 64 });
  // the language model is made (the embedded default trained once) and loaded when first asked for
  const lm = new LmServing({
    modelDir: join(opts.buildDir, 'models', 'lm'),
    adaptersDir: join(dataDir, 'lm-adapters'),
    // in a worker thread: its first training takes minutes, which the event loop must not wait on
    prepare: async () => {
      const pool = createTsPool(new URL('../inference/lm-train-worker.ts', import.meta.url), null, 1);
      try {
        await pool.run({ buildDir: opts.buildDir });
      } finally {
        await pool.close();
      }
    },
  });
  const factory = new ModelFactory({ baseDir: join(opts.buildDir, 'models', 'base'), store, checkpointsDir: join(dataDir, 'checkpoints'), lm });
  const queue = await openJobQueue(opts.db, opts.queueUrl);
  opened(queue);
  const runner = new FineTuneRunner(opts.db, queue, factory, { ladder, chosen: (v) => void wanted(v), buildDir: opts.buildDir }, opts.pollMs ?? 100, limits.fineTuneDeadlineMs);
  const batcher = new Batcher(store, { maxWaitMs: 5 });
  const vkey = (variantName: string) => keys.vkey(variantName);
  const vkeyNow = (variantName: string) => keys.now(variantName)?.vkey;
  const pools = new FeaturePools(join(opts.buildDir, 'models', 'base'), { maxPools: limits.maxAttributionPools });
  // registration moves an adapter's version boundaries, planning cuts batches within them: one lock per adapter for both
  const locks = new AdapterLocks();
  const registrar = new Registrar(opts.db, opts.chain, locks);
  const planner = new BatchPlanner(opts.db, queue, pools, {
    vkey: vkeyNow,
    deadlineMs: opts.batchDeadlineMs ?? 30_000,
    locks,
    ...(opts.chain ? { chain: { chainId: opts.chain.chainId, settlement: opts.chain.settlement } } : {}),
  });
  const settler = new Settler(opts.db, queue, vkey, opts.chain);
  const auditor = new Auditor(opts.db, pools, settler, opts.chain);
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
    dashboard: await buildDashboard(opts.buildDir),
    spansDir: join(dataDir, 'spans'),
    inference: { batcher, queue, lm },
    attribution: { registrar, planner, settler, auditor, ledgers: new Ledgers(opts.db, opts.chain), vkey },
    limits,
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    health: () => ({
      backend: backend.name,
      servingKernel: batcher.kernel,
      baseModel: model.hash,
      adapters: store.size,
      residentAdapters: store.residentIds().length,
      provers: keys.describe().map(({ variant, status, keys: k }) => ({
        variant,
        status: provers.has(variant) ? 'proving' : status === 'ready' && !(opts.proofWorker ?? true) ? 'external workers' : status,
        ...(k ? { jobKind: proveJobKind(k.vkey), ceremony: k.manifest?.ceremony ?? 'unknown (no manifest beside the verification key)', development: k.development } : {}),
        ...(k?.development && opts.chain && !isLocalChain(opts.chain.chainId) ? { warning: 'development keys on a chain that is not a local one' } : {}),
        ...(provers.get(variant) ? { threads: provers.get(variant)!.prover.threads } : {}),
      })),
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
    keys,
    async close() {
      closing = true;
      await app.close();
      await loop.stop();
      await Promise.all(starting);
      for (const { worker } of provers.values()) await worker.stop();
      await runner.stop();
      for (const { prover } of provers.values()) await prover.close();
      await batcher.close();
      await lm.close();
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

/** The circuit variants the stored attribution indexes were built for. */
function usedVariants(db: Db): string[] {
  return (db.prepare('SELECT DISTINCT variant FROM attribution_indexes').all() as { variant: string }[]).map((r) => r.variant);
}
