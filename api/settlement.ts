import * as snarkjs from 'snarkjs';
import type { VerificationKey } from 'snarkjs';
import { ZkpoaError } from '../attribution/errors.js';
import { flattenProof, toSolidityCalldata } from '../prover/calldata.js';
import type { ProofResult } from '../prover/prover.js';
import { InFlight, approvedWallet, chainRefusals, needChain, registrationBlock, type ChainContext } from './chain.js';
import { indexOf } from './registration.js';
import { AdapterRegistryStore } from './store/adapters.js';
import { BatchStore, type Batch } from './store/batches.js';
import type { Db } from './store/db.js';
import type { Host } from './store/hosts.js';
import type { Job, JobQueue } from './store/jobs.js';
import { RegistrationStore } from './store/registrations.js';

/** A batch as its host sees it: where its proof and settlement stand. */
export type BatchStatus = 'proving' | 'proven' | 'settled' | 'failed';

export interface SettledBatch {
  batch: string;
  first: number;
  count: number;
  tx: string;
  gasUsed: bigint;
}

/** What settlement did for an adapter, and the batch that holds the rest back (receipts settle in order). */
export interface Settlement {
  settled: SettledBatch[];
  blocked?: { batch: string; first: number; count: number; status: BatchStatus; error?: string };
}

/** After a failure, an adapter's background settlement waits this long before trying again. */
const RETRY_MS = 30_000;

/**
 * Settlement of an adapter's proven batches, in receipt order, one transaction each: the
 * contract takes the answers' fees from the host's escrow and stores the new ledger root.
 * A batch is sent only if its stored proof proves exactly the batch's planned public
 * signals and verifies with this server's key. A batch the chain already settled (a crash
 * after the transaction) gets that transaction recorded; settling never sends one twice.
 */
export class Settler {
  private readonly adapters: AdapterRegistryStore;
  private readonly batches: BatchStore;
  private readonly registrations: RegistrationStore;
  private readonly inFlight = new InFlight();
  /** adapters whose background settlement failed, and when to try again */
  private readonly backoff = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    /** a variant's verification key */
    private readonly vkey: (variantName: string) => Promise<VerificationKey>,
    private readonly chain?: ChainContext,
  ) {
    this.adapters = new AdapterRegistryStore(db);
    this.batches = new BatchStore(db);
    this.registrations = new RegistrationStore(db);
  }

  /** A batch's status and, once proven, its proof. */
  async state(batch: Pick<Batch, 'jobId' | 'settleTx'>): Promise<{ status: BatchStatus; job?: Job; proof?: ProofResult }> {
    const job = await this.queue.get(batch.jobId);
    const proof = job?.status === 'done' ? (job.result as ProofResult) : undefined;
    const status: BatchStatus = batch.settleTx ? 'settled' : proof ? 'proven' : !job || job.status === 'failed' ? 'failed' : 'proving';
    return { status, ...(job ? { job } : {}), ...(proof ? { proof } : {}) };
  }

  /** Settles the host adapter's proven batches in order, stopping at the first that is not proven yet (and saying which). */
  settle(host: Host, name: string): Promise<Settlement> {
    const adapter = this.adapters.get(host, name);
    return this.inFlight.once(`settle:${adapter.key}`, () => this.settleAdapter(adapter.key));
  }

  /**
   * Settles every adapter's proven batches (the service's background loop). One adapter's
   * failure (its host's escrow ran out, it revoked the operator, …) is logged and that
   * adapter waits a while; the others go on.
   */
  async settleAll(): Promise<SettledBatch[]> {
    const done: SettledBatch[] = [];
    // registrations on another deployment (an earlier contract, another chain) are not this chain's to settle
    const here = new Set(this.registrations.onDeployment(needChain(this.chain)));
    for (const key of this.batches.adaptersWithUnsettled()) {
      if (!here.has(key)) continue;
      if ((this.backoff.get(key) ?? 0) > Date.now()) continue;
      try {
        done.push(...(await this.inFlight.once(`settle:${key}`, () => this.settleAdapter(key))).settled);
        this.backoff.delete(key);
      } catch (err) {
        if ((err as ZkpoaError).code === 'ZKPOA_ERR_IN_PROGRESS') continue;
        this.backoff.set(key, Date.now() + RETRY_MS);
        console.error(`zkpoa: settling ${key} (again in ${RETRY_MS / 1000} s): ${(err as Error).message}`);
      }
    }
    return done;
  }

  private async settleAdapter(adapterKey: string): Promise<Settlement> {
    const chain = needChain(this.chain);
    const reg = this.registrations.get(adapterKey);
    if (!reg?.versions.length) throw new ZkpoaError('ZKPOA_ERR_NOT_REGISTERED', `adapter ${adapterKey} is not registered on-chain`);
    const settled: SettledBatch[] = [];
    for (const batch of this.batches.unsettled(adapterKey)) {
      const state = await this.state(batch);
      // later batches wait: receipts settle in order
      if (state.status !== 'proven') return { settled, blocked: { batch: batch.id, first: batch.first, count: batch.count, status: state.status, ...(state.job?.error ? { error: state.job.error } : {}) } };
      const proof = state.proof!;
      const signals = proof.publicSignals.map(BigInt);
      if (signals.length !== batch.publicSignals.length || signals.some((s, i) => s !== batch.publicSignals[i])) {
        throw new ZkpoaError('ZKPOA_ERR_PROOF_MISMATCH', `the stored proof of batch ${batch.id} does not prove its planned public signals (a prover with other inputs?); it is not sent`);
      }
      if (!(await snarkjs.groth16.verify(await this.vkey(indexOf(this.db, adapterKey).variant), proof.publicSignals, proof.proof).catch(() => false))) {
        throw new ZkpoaError('ZKPOA_ERR_PROOF_INVALID', `the stored proof of batch ${batch.id} does not verify with this server's verification key; it is not sent`);
      }
      const recorded = await this.recordIfSettled(chain, reg.onchainId, reg.tx, batch);
      if (recorded) {
        settled.push(recorded);
        continue;
      }
      await approvedWallet(chain, { id: this.adapters.byKey(adapterKey)?.ownerHost ?? 0, wallet: reg.hostWallet });
      const price = reg.versions.find((v) => v.version === batch.version)!.price;
      const escrow = await chain.client.escrowOf(reg.hostWallet);
      if (escrow < price * BigInt(batch.count)) {
        throw new ZkpoaError('ZKPOA_ERR_INSUFFICIENT_ESCROW', `the escrow of ${reg.hostWallet} holds ${escrow} wei; batch ${batch.first}..${batch.first + batch.count - 1} costs ${price * BigInt(batch.count)} (zkpoa escrow deposit)`);
      }
      const calldata = toSolidityCalldata(proof.proof, proof.publicSignals);
      try {
        const { tx } = await chainRefusals(chain, () => chain.client.settleBatch(reg.onchainId, batch.version, flattenProof(calldata), signals));
        this.batches.setSettled(batch.id, tx.hash, tx.gasUsed);
        settled.push({ batch: batch.id, first: batch.first, count: batch.count, tx: tx.hash, gasUsed: tx.gasUsed });
      } catch (err) {
        // settled meanwhile by a transaction this process did not see land (a crash, a second server)
        const late = await this.recordIfSettled(chain, reg.onchainId, reg.tx, batch);
        if (!late) throw err;
        settled.push(late);
      }
    }
    return { settled };
  }

  /** The chain's settlement of this batch, recorded here if the chain has one. */
  private async recordIfSettled(chain: ChainContext, onchainId: bigint, registrationTx: string, batch: Batch): Promise<SettledBatch | undefined> {
    const { nextReceipt } = await chain.client.adapter(onchainId);
    if (BigInt(batch.first) >= nextReceipt) return undefined;
    const ev = await chain.client.findBatch(onchainId, BigInt(batch.first), await registrationBlock(chain, registrationTx));
    if (!ev || ev.count !== batch.count || ev.newRoot !== batch.publicSignals[5]) {
      throw new ZkpoaError('ZKPOA_ERR_ALREADY_SETTLED', `receipts from ${batch.first} of adapter ${onchainId} were settled on-chain by another batch than ${batch.id}`);
    }
    const receipt = await chain.client.settlement.runner?.provider?.getTransactionReceipt(ev.txHash).catch(() => null);
    this.batches.setSettled(batch.id, ev.txHash, receipt?.gasUsed);
    return { batch: batch.id, first: batch.first, count: batch.count, tx: ev.txHash, gasUsed: receipt?.gasUsed ?? 0n };
  }
}
