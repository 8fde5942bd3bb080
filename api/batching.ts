import { randomUUID } from 'node:crypto';
import { Commitments, ZkpoaError, addressToField, hashToField } from '../attribution/index.js';
import type { CircuitVariant } from '../circuits/variants.js';
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

/**
 * Batching and proof jobs: an adapter's answers are proven M at a time (a batch job), or
 * fewer once its oldest unbatched answer has waited `deadlineMs`. Batches are planned in
 * receipt order within one version; each batch's payout ledger continues the previous
 * one's, so its old and new roots are known before any proof and batches prove in
 * parallel. Planning is deterministic (the answers' features are replayed from their
 * stored inputs), so a plan interrupted between its job and its row is planned again
 * identically, and the queue returns the job it already holds for that batch.
 */
export interface ProveBatchPayload extends ProveJobPayload {
  batchId: string;
}

export interface PlannerOptions {
  /** the batch circuit the service proves with */
  variant: CircuitVariant;
  /** its verification key (names the job kind: only workers with these keys prove the batches); it may still be being built */
  vkey: () => Promise<VerificationKey>;
  /** a short batch is planned once its oldest answer has waited this long */
  deadlineMs: number;
}

export class BatchPlanner {
  private readonly batches: BatchStore;
  private readonly receipts: ReceiptStore;
  private readonly registrations: RegistrationStore;
  private readonly planning = new Map<string, Promise<Batch[]>>();
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
    if (opts.variant.params.answers === undefined) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `${opts.variant.name} is not a batch circuit`);
  }

  /** The proof jobs' kind (once the keys exist). */
  async kind(): Promise<string> {
    return proveJobKind(await this.opts.vkey());
  }

  /** Plans the batches that are due for every registered adapter. */
  async planDue(): Promise<Batch[]> {
    const keys = (this.db.prepare('SELECT adapter_id FROM onchain_adapters').all() as { adapter_id: string }[]).map((r) => r.adapter_id);
    const planned: Batch[] = [];
    for (const key of keys) planned.push(...(await this.plan(key, { flush: false })));
    return planned;
  }

  /** Plans the adapter's batches: full ones, and with `flush` (or past the deadline) the short rest. One plan per adapter at a time. */
  plan(adapterKey: string, opts: { flush: boolean }): Promise<Batch[]> {
    const running = this.planning.get(adapterKey);
    const next = (running ?? Promise.resolve([])).catch(() => []).then(() => this.planNow(adapterKey, opts.flush));
    const tracked = next.finally(() => {
      if (this.planning.get(adapterKey) === tracked) this.planning.delete(adapterKey);
    });
    this.planning.set(adapterKey, tracked);
    return tracked;
  }

  private async planNow(adapterKey: string, flush: boolean): Promise<Batch[]> {
    const reg = this.registrations.get(adapterKey);
    if (!reg) return [];
    const M = this.opts.variant.params.answers!;
    const served = this.receipts.nextNumber(adapterKey);
    const last = this.batches.last(adapterKey);
    let next = last ? last.first + last.count : 0;
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
      planned.push(await this.planOne(reg.adapterKey, at.version.version, next, count));
      next = end;
    }
    return planned;
  }

  private async planOne(adapterKey: string, version: number, first: number, count: number): Promise<Batch> {
    const reg = this.registrations.get(adapterKey)!;
    const v = reg.versions.find((x) => x.version === version)!;
    const stored = indexOf(this.db, adapterKey);
    if (stored.index.root !== v.indexRoot) throw new ZkpoaError('ZKPOA_ERR_NO_INDEX', `adapter ${adapterKey} version ${version} was registered with another index root`);
    const answers = this.receipts.range(adapterKey, first, first + count);
    if (answers.length !== count) throw new Error(`unreachable: receipts ${first}..${first + count} of ${adapterKey} are not all stored`);
    const t: bigint[][] = [];
    for (const r of answers) t.push(await this.pools.testFeatures(adapterKey, stored, r.input));
    const previous = this.batches.last(adapterKey);
    const continuing = previous && previous.version === version ? previous.ledger : undefined;
    this.commitments ??= Commitments.create();
    const witness = buildBatchWitness(await this.commitments, this.opts.variant, {
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
    const payload: ProveBatchPayload = { variant: this.opts.variant.name, input: witness.input, batchId: id };
    const kind = await this.kind();
    const job = await this.queue.enqueue(kind, `${adapterKey}:${first}`, payload);
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
