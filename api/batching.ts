import { randomUUID } from 'node:crypto';
import { Commitments, ZkpoaError, addressToField, hashToField } from '../attribution/index.js';
import { variantByName, type CircuitVariant } from '../circuits/variants.js';
import { indexLeaves } from '../inference/attribution-index.js';
import { buildBatchWitness } from '../prover/batch-witness.js';
import type { VerificationKey } from 'snarkjs';
import type { FeaturePools } from './feature-pools.js';
import { proveJobKind, type ProveJobPayload } from './proof-worker.js';
import { indexOf } from './registration.js';
import { BatchStore, type Batch } from './store/batches.js';
import type { Db } from './store/db.js';
import type { JobQueue } from './store/jobs.js';
import { ReceiptStore } from './store/receipts.js';
import { RegistrationStore, poolOf, versionOfReceipt } from './store/registrations.js';
import { AdapterLocks } from './adapter-locks.js';

/**
 * Batching and proof jobs: an adapter's answers are proven M at a time (a batch job), or
 * fewer once its oldest unbatched answer has waited `deadlineMs`. Batches are planned in
 * receipt order within one version; each batch's payout ledger continues the previous
 * one's, so its old and new roots are known before any proof and batches prove in
 * parallel. Planning is deterministic (the answers' features are replayed from their
 * stored inputs), so a plan interrupted between its job and its row is planned again
 * identically, and the queue returns the job it already holds for that batch.
 */
/** After a failure, an adapter's background planning waits this long before trying again. */
const RETRY_MS = 30_000;

export interface ProveBatchPayload extends ProveJobPayload {
  batchId: string;
}

export interface PlannerOptions {
  /**
   * a variant's verification key (it names the job kind: only workers with these keys prove
   * the batches), or undefined while it is being built: the adapter's batches wait, the others go on
   */
  vkey: (variantName: string) => VerificationKey | undefined;
  /** a short batch is planned once its oldest answer has waited this long */
  deadlineMs: number;
  /** the chain the service settles on: registrations on another are left alone */
  chain?: { chainId: bigint; settlement: string };
  /** shared with registration, which moves version boundaries */
  locks?: AdapterLocks;
}

export class BatchPlanner {
  private readonly batches: BatchStore;
  private readonly receipts: ReceiptStore;
  private readonly registrations: RegistrationStore;
  private readonly locks: AdapterLocks;
  /** adapters whose planning failed, and when to try again */
  private readonly backoff = new Map<string, number>();
  private commitments: Promise<Commitments> | undefined;

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly pools: FeaturePools,
    private readonly opts: PlannerOptions,
  ) {
    this.batches = new BatchStore(db);
    this.receipts = new ReceiptStore(db);
    this.registrations = new RegistrationStore(db);
    this.locks = opts.locks ?? new AdapterLocks();
  }

  /** Plans the batches that are due for every adapter registered on this chain; one adapter's failure is logged, not the others'. */
  async planDue(): Promise<Batch[]> {
    const keys = this.opts.chain ? this.registrations.onDeployment(this.opts.chain) : (this.db.prepare('SELECT adapter_id FROM onchain_adapters').all() as { adapter_id: string }[]).map((r) => r.adapter_id);
    const planned: Batch[] = [];
    for (const key of keys) {
      if ((this.backoff.get(key) ?? 0) > Date.now()) continue;
      try {
        planned.push(...(await this.plan(key, { flush: false })));
        this.backoff.delete(key);
      } catch (err) {
        if ((err as ZkpoaError).code === 'ZKPOA_ERR_KEYS_NOT_READY') continue; // planned once they are
        this.backoff.set(key, Date.now() + RETRY_MS);
        console.error(`zkpoa: planning batches of ${key} (again in ${RETRY_MS / 1000} s): ${(err as Error).message}`);
      }
    }
    return planned;
  }

  /** Plans the adapter's batches: full ones, and with `flush` (or past the deadline) the short rest. One plan per adapter at a time. */
  plan(adapterKey: string, opts: { flush: boolean }): Promise<Batch[]> {
    return this.locks.run(adapterKey, () => this.planNow(adapterKey, opts.flush));
  }

  /** Puts the adapter's batches whose proof job failed back in the queue (a fresh attempt budget). */
  async retryFailed(adapterKey: string): Promise<number> {
    let n = 0;
    for (const b of this.batches.unsettled(adapterKey)) {
      if ((await this.queue.get(b.jobId))?.status === 'failed' && (await this.queue.requeue(b.jobId))) n++;
    }
    return n;
  }

  private async planNow(adapterKey: string, flush: boolean): Promise<Batch[]> {
    const reg = this.registrations.get(adapterKey);
    if (!reg || reg.versions.length === 0) return [];
    // the circuit the adapter's index was built for
    const variant = variantByName(indexOf(this.db, adapterKey).variant);
    const M = variant.params.answers;
    if (M === undefined) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `${variant.name} is not a batch circuit`);
    const vkey = this.opts.vkey(variant.name);
    if (!vkey) throw new ZkpoaError('ZKPOA_ERR_KEYS_NOT_READY', `the keys of ${variant.name}, which adapter ${adapterKey}'s index was built for, are being built: its batches are planned once they exist`);
    const served = this.receipts.nextNumber(adapterKey);
    let next = this.batches.end(adapterKey);
    const planned: Batch[] = [];
    while (next < served) {
      const at = versionOfReceipt(reg, next);
      if (!at) throw new ZkpoaError('ZKPOA_ERR_NOT_REGISTERED', `receipt ${next} of ${adapterKey} precedes its first version`);
      const end = Math.min(served, at.end ?? Infinity, next + M);
      const count = end - next;
      const oldest = this.receipts.servedAt(adapterKey, next);
      const waited = oldest ? Date.now() - Date.parse(oldest) : 0;
      // a short batch waits for more answers, unless flushed, past its deadline, or cut short by the next version
      if (count < M && !flush && waited < this.opts.deadlineMs && (at.end === undefined || end < at.end)) break;
      planned.push(await this.planOne(reg.adapterKey, variant, vkey, at.version.version, next, count));
      next = end;
    }
    return planned;
  }

  private async planOne(adapterKey: string, variant: CircuitVariant, vkey: VerificationKey, version: number, first: number, count: number): Promise<Batch> {
    const reg = this.registrations.get(adapterKey)!;
    const v = reg.versions.find((x) => x.version === version)!;
    const stored = indexOf(this.db, adapterKey);
    if (stored.index.root !== v.indexRoot) throw new ZkpoaError('ZKPOA_ERR_INDEX_MISMATCH', `adapter ${adapterKey} version ${version} was registered with another index root`);
    const answers = this.receipts.range(adapterKey, first, first + count);
    if (answers.length !== count) throw new Error(`unreachable: receipts ${first}..${first + count} of ${adapterKey} are not all stored`);
    const t: bigint[][] = [];
    for (const r of answers) t.push(await this.pools.testFeatures(adapterKey, stored, r.input));
    const previous = this.batches.last(adapterKey); // its ledger: the one this batch continues
    const continuing = previous && previous.version === version ? previous.ledger : undefined;
    this.commitments ??= Commitments.create();
    const witness = buildBatchWitness(await this.commitments, variant, {
      leaves: indexLeaves(stored.index),
      adapterId: reg.onchainId,
      chainId: reg.chainId,
      settlement: addressToField(reg.settlement),
      fee: v.price,
      pool: poolOf(v),
      first: BigInt(first),
      answers: answers.map((r, i) => ({ t: t[i]!, inputHash: hashToField(r.input), outputHash: outputHashOf(r.output) })),
      ...(continuing ? { oldCumulative: continuing } : {}),
    });
    const id = `bt_${randomUUID()}`;
    const payload: ProveBatchPayload = { variant: variant.name, input: witness.input, batchId: id };
    const kind = proveJobKind(vkey);
    // the key names the answers the job proves: a plan interrupted before its row and planned again with more answers is another job
    const job = await this.queue.enqueue(kind, `${adapterKey}:${first}:${count}`, payload);
    const batch: Batch = {
      // a job that survived a crash before its row keeps the id it was made with
      id: (job.payload as ProveBatchPayload).batchId,
      adapterKey,
      version,
      first,
      count,
      jobId: job.id,
      jobKind: kind,
      publicSignals: witness.publicSignals,
      receipts: witness.receipts,
      features: t,
      ledger: witness.newCumulative,
      payouts: witness.split.payouts,
      createdAt: new Date().toISOString(),
    };
    this.batches.add(batch);
    return batch;
  }
}

/** The output a receipt commits to, as a field element: the hash of the stored output's JSON. */
export const outputHashOf = (output: unknown): bigint => hashToField(JSON.stringify(output));
