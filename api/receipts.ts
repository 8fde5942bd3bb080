import { AMOUNT_BITS, AMOUNT_MAX, Commitments, addressToField, hashToField } from '../attribution/index.js';
import { ZkpoaError } from '../attribution/errors.js';
import { variantByName } from '../circuits/variants.js';
import type { SettlementClient } from '../contracts/client/settlement.js';
import { indexLeaves } from '../inference/attribution-index.js';
import { flattenProof, toSolidityCalldata } from '../prover/calldata.js';
import { buildWitness } from '../prover/witness.js';
import * as snarkjs from 'snarkjs';
import type { VerificationKey } from 'snarkjs';
import type { Batcher } from '../inference/batcher.js';
import { loadAdapterIndex, type StoredIndex } from './attribution-service.js';
import { FeaturePools } from './feature-pools.js';
import { PROVE_JOB, type ProveJobPayload, type ProveJobResult } from './proof-worker.js';
import { AdapterRegistryStore } from './store/adapters.js';
import type { Db } from './store/db.js';
import type { Host } from './store/hosts.js';
import type { Job, JobQueue } from './store/jobs.js';

/**
 * From an answer to money: register an adapter's index on-chain, prove a receipt's
 * split (a durable job for the proof workers), settle it. The witness is built here,
 * from the stored input and the adapter's index and checkpoints, so it is exactly what
 * an auditor can rebuild.
 */
export interface ChainContext {
  /** signs as the server's operator wallet, which hosts approve on-chain */
  client: SettlementClient;
  chainId: bigint;
  settlement: string;
}

export interface Registration {
  /** the adapter's service-wide key */
  adapterId: string;
  /** the host wallet whose escrow pays the adapter's fees */
  hostWallet: string;
  chainId: string;
  settlement: string;
  onchainId: string;
  version: number;
  binding: string;
  price: string;
  poolBps: number;
  tx: string;
}

type Row = Record<string, unknown>;

/** A receipt's claim as stored beside its proof: everything but the index leaves, numbers as decimal strings. */
interface StoredClaim {
  t: string[];
  fee: string;
  pool: string;
  nonce: string;
  inputHash: string;
  outputHash: string;
  adapterId: string;
  chainId: string;
  settlement: string;
}

export class ReceiptService {
  private readonly pools: FeaturePools;
  private readonly adapters: AdapterRegistryStore;
  private commitments: Promise<Commitments> | undefined;
  /** registrations and settlements in flight, so that a concurrent second request is refused, not raced */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    /** folder of the base model the attribution workers load */
    baseDir: string,
    private readonly chain?: ChainContext,
    opts: { maxAttributionPools?: number } = {},
  ) {
    this.adapters = new AdapterRegistryStore(db);
    this.pools = new FeaturePools(baseDir, { maxPools: opts.maxAttributionPools ?? 6 });
  }

  /** The chain this server settles on, with its operator's address (for /v1/host and wallet links). */
  async chainInfo(): Promise<{ chainId: string; settlement: string; operator: string } | undefined> {
    if (!this.chain) return undefined;
    return { chainId: this.chain.chainId.toString(), settlement: this.chain.settlement, operator: await this.operator(this.chain) };
  }

  private async operator(chain: ChainContext): Promise<string> {
    const runner = chain.client.settlement.runner as { getAddress?: () => Promise<string> } | null;
    if (!runner?.getAddress) throw new ZkpoaError('ZKPOA_ERR_NO_CHAIN', 'the chain client has no signer');
    return runner.getAddress();
  }

  /** A host wallet's escrow, and whether it has approved this server's operator. */
  async escrowOf(wallet: string): Promise<{ balance: string; operatorApproved: boolean }> {
    const chain = this.needChain();
    const [balance, operatorApproved] = await Promise.all([chain.client.escrowOf(wallet), chain.client.isOperator(wallet, await this.operator(chain))]);
    return { balance: balance.toString(), operatorApproved };
  }

  /** Feature pools alive now (for /health). */
  get attributionPools(): number {
    return this.pools.alive;
  }

  private needChain(): ChainContext {
    if (!this.chain) throw new ZkpoaError('ZKPOA_ERR_NO_CHAIN', 'this server has no chain configured');
    return this.chain;
  }

  private index(adapterId: string): StoredIndex {
    const s = loadAdapterIndex(this.db, adapterId);
    if (!s) throw new ZkpoaError('ZKPOA_ERR_NO_INDEX', `adapter ${adapterId} has no attribution index (see its fine-tuning job)`);
    return s;
  }

  registration(adapterId: string): Registration | undefined {
    const r = this.db.prepare('SELECT * FROM onchain_adapters WHERE adapter_id = ?').get(adapterId) as Row | undefined;
    return r
      ? {
          adapterId,
          hostWallet: r.host_wallet as string,
          chainId: r.chain_id as string,
          settlement: r.settlement as string,
          onchainId: r.onchain_id as string,
          version: r.version as number,
          binding: r.binding as string,
          price: r.price as string,
          poolBps: r.pool_bps as number,
          tx: r.tx as string,
        }
      : undefined;
  }

  /**
   * Registers the host's adapter and its index on-chain with the host's price and fee
   * shares. The adapter's on-chain host is the host's linked wallet: its escrow pays the
   * fees, its balance gets the owner share, and it must have approved this server's
   * operator wallet; no host can register an adapter that another's money pays for.
   */
  async register(host: Host, name: string, terms: { price: bigint; ownerBps: number; protocolBps: number; poolBps: number }): Promise<Registration> {
    const chain = this.needChain();
    if (terms.ownerBps + terms.protocolBps + terms.poolBps !== 10_000) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'ownerBps + protocolBps + poolBps must be 10000');
    if (terms.price <= 0n || terms.price > AMOUNT_MAX) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `price must be in [1, 2^${AMOUNT_BITS} − 1] wei`);
    const adapter = this.adapters.get(host, name);
    if (adapter.status !== 'ready') throw new ZkpoaError('ZKPOA_ERR_ADAPTER_NOT_READY', `adapter ${name} is ${adapter.status}`);
    if (this.registration(adapter.key)) throw new ZkpoaError('ZKPOA_ERR_ALREADY_REGISTERED', `adapter ${name} is already registered`);
    const wallet = await this.hostWallet(chain, host);
    return this.once(`register:${adapter.key}`, () => this.registerOnChain(chain, adapter.key, wallet, terms));
  }

  /** The host's linked wallet, once it has approved this server's operator on-chain. */
  private async hostWallet(chain: ChainContext, host: Host): Promise<string> {
    if (!host.wallet) throw new ZkpoaError('ZKPOA_ERR_NO_WALLET', `host ${host.id} has no linked wallet: link one whose escrow pays its fees (zkpoa host link-wallet, or PUT /v1/host/wallet)`);
    const operator = await this.operator(chain);
    if (!(await chain.client.isOperator(host.wallet, operator))) {
      throw new ZkpoaError('ZKPOA_ERR_OPERATOR_NOT_APPROVED', `wallet ${host.wallet} has not approved this server's operator ${operator} on-chain (zkpoa escrow approve ${operator})`);
    }
    return host.wallet;
  }

  private async registerOnChain(chain: ChainContext, adapterId: string, hostWallet: string, terms: { price: bigint; ownerBps: number; protocolBps: number; poolBps: number }): Promise<Registration> {
    const stored = this.index(adapterId);
    const reg = await this.refusals(chain, () => chain.client.registerAdapter({
      host: hostWallet,
      variantId: variantByName(stored.variant).id,
      ...terms,
      leaves: indexLeaves(stored.index),
      datanetId: '0x' + hashToField(stored.index.datanet.id).toString(16).padStart(64, '0'),
      datanetRoot: '0x' + BigInt(stored.index.datanet.versionRoot).toString(16).padStart(64, '0'),
    }));
    const r: Registration = {
      adapterId,
      hostWallet,
      chainId: chain.chainId.toString(),
      settlement: chain.settlement,
      onchainId: reg.adapterId.toString(),
      version: Number(reg.version),
      binding: '0x' + reg.binding.toString(16),
      price: terms.price.toString(),
      poolBps: terms.poolBps,
      tx: reg.tx.hash,
    };
    this.db
      .prepare('INSERT INTO onchain_adapters (adapter_id, host_wallet, chain_id, settlement, onchain_id, version, binding, price, pool_bps, tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(adapterId, hostWallet, r.chainId, r.settlement, r.onchainId, r.version, r.binding, r.price, r.poolBps, r.tx, new Date().toISOString());
    return r;
  }

  private testFeatures(adapterId: string, stored: StoredIndex, input: string): Promise<bigint[]> {
    return this.pools.testFeatures(adapterId, stored, input);
  }

  async close(): Promise<void> {
    await this.pools.close();
  }

  private receipt(host: Host, receiptId: string): { id: string; adapterId: string; input: string; output: string } {
    const r = this.db.prepare('SELECT * FROM receipts WHERE id = ? AND host = ?').get(receiptId, host.id) as Row | undefined;
    if (!r) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no receipt ${receiptId}`);
    return { id: r.id as string, adapterId: r.adapter_id as string, input: r.input as string, output: r.output as string };
  }

  /** The circuit variant a receipt is proven with. */
  variantOfReceipt(host: Host, receiptId: string): string {
    return this.index(this.receipt(host, receiptId).adapterId).variant;
  }

  /** A receipt's proof job; the job records live in the queue (SQLite, or Redis with BullMQ). */
  private async jobOf(jobId: string): Promise<Job> {
    const job = await this.queue.get(jobId);
    if (!job) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `proof job ${jobId} is no longer in the job queue`);
    return job;
  }

  /** Builds the receipt's witness and queues its proof (once per receipt). */
  async requestProof(host: Host, receiptId: string): Promise<Job> {
    const rc = this.receipt(host, receiptId);
    const existing = this.db.prepare('SELECT job_id FROM receipt_proofs WHERE receipt_id = ?').get(receiptId) as { job_id: string } | undefined;
    // one proof per receipt; asking again after a failure retries the same job
    if (existing) {
      const job = await this.queue.get(existing.job_id);
      if (job) return job.status === 'failed' ? (await this.queue.requeue(job.id))! : job;
      // the queue no longer has the job (a Redis that lost its data): queue the proof again below
    }
    const reg = this.registration(rc.adapterId);
    if (!reg) throw new ZkpoaError('ZKPOA_ERR_NOT_REGISTERED', `adapter ${rc.adapterId} is not registered on-chain`);
    const stored = this.index(rc.adapterId);
    const variant = variantByName(stored.variant);
    const t = await this.testFeatures(rc.adapterId, stored, rc.input);
    const fee = BigInt(reg.price);
    const claim = {
      t,
      leaves: indexLeaves(stored.index),
      adapterId: BigInt(reg.onchainId),
      chainId: BigInt(reg.chainId),
      settlement: addressToField(reg.settlement),
      fee,
      pool: (fee * BigInt(reg.poolBps)) / 10_000n,
      nonce: hashToField(rc.id),
      inputHash: hashToField(rc.input),
      outputHash: hashToField(rc.output),
    };
    this.commitments ??= Commitments.create();
    const witness = buildWitness(await this.commitments, variant, claim);
    const payload: ProveJobPayload & { hostId: number; receiptId: string } = { variant: variant.name, input: witness.input, hostId: host.id, receiptId };
    const job = await this.queue.enqueue(PROVE_JOB, receiptId, payload);
    const replayable = JSON.stringify({ ...claim, leaves: undefined, t: t.map(String) }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    this.db
      .prepare('INSERT INTO receipt_proofs (receipt_id, job_id, commitment, claim, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (receipt_id) DO UPDATE SET job_id = excluded.job_id')
      .run(receiptId, job.id, '0x' + witness.receipt.toString(16), replayable, new Date().toISOString());
    return job;
  }

  /** A receipt's proof state: the job, and once proven the proof, public signals and settle calldata. */
  async proofOf(host: Host, receiptId: string) {
    this.receipt(host, receiptId);
    const row = this.db.prepare('SELECT * FROM receipt_proofs WHERE receipt_id = ?').get(receiptId) as Row | undefined;
    if (!row) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no proof was requested for receipt ${receiptId}`);
    const job = await this.jobOf(row.job_id as string);
    const result = job.status === 'done' ? (job.result as ProveJobResult) : undefined;
    const calldata = result ? toSolidityCalldata(result.proof, result.publicSignals) : undefined;
    return {
      receipt: receiptId,
      commitment: row.commitment as string,
      job: { id: job.id, status: job.status, attempts: job.attempts, ...(job.error ? { error: job.error } : {}) },
      ...(result ? { proof: result.proof, publicSignals: result.publicSignals, calldata: { proof: flattenProof(calldata!).map(String), publicSignals: calldata!.input.map(String) } } : {}),
      ...(row.settle_tx ? { settleTx: row.settle_tx as string } : {}),
    };
  }

  /**
   * Replays a receipt and reports each check: the answer (re-run on the served adapter,
   * within `tolerance` on probabilities), the test features (bit for bit), the split and
   * public signals (rebuilt witness), the proof (the exported verification key), and
   * the on-chain settlement event.
   */
  async audit(host: Host, receiptId: string, deps: { batcher: Batcher; vkey: VerificationKey; tolerance?: number }): Promise<{ ok: boolean; checks: { name: string; ok: boolean; detail: string }[] }> {
    const checks: { name: string; ok: boolean; detail: string }[] = [];
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
    const rc = this.receipt(host, receiptId);
    const state = await this.proofOf(host, receiptId);
    const stored = this.index(rc.adapterId);
    const reg = this.registration(rc.adapterId);
    const claimRow = this.db.prepare('SELECT claim FROM receipt_proofs WHERE receipt_id = ?').get(receiptId) as { claim: string };
    const claim = JSON.parse(claimRow.claim) as StoredClaim;

    const answer = await deps.batcher.infer({ adapterId: rc.adapterId, text: rc.input });
    const recorded = JSON.parse(rc.output) as { label: string; probabilities: number[] };
    const drift = Math.max(...answer.probabilities.map((p, i) => Math.abs(p - (recorded.probabilities[i] ?? Number.NaN))));
    check('answer', answer.label === recorded.label && drift <= (deps.tolerance ?? 1e-4), `label ${answer.label} (recorded ${recorded.label}), max probability drift ${drift.toExponential(2)}`);

    const inputHashOk = hashToField(rc.input).toString() === claim.inputHash && hashToField(rc.output).toString() === claim.outputHash;
    check('input and output hashes', inputHashOk, inputHashOk ? 'the proven hashes are those of the stored input and output' : 'the stored input or output differs from what was proven');

    const t = await this.testFeatures(rc.adapterId, stored, rc.input);
    const tOk = t.length === claim.t.length && t.every((v, i) => v.toString() === claim.t[i]);
    check('test features', tOk, tOk ? `t replayed bit for bit (K = ${t.length})` : 't differs from the proven features');

    const witness = await this.claimWitness(claim, t, stored, rc);
    const signals = state.publicSignals?.map(String) ?? [];
    const signalsOk = signals.length === witness.publicSignals.length && witness.publicSignals.every((v, i) => v.toString() === signals[i]);
    // the claim's context is this receipt's and this registration's, not another's
    const contextOk =
      claim.nonce === hashToField(rc.id).toString() &&
      (!reg || (claim.fee === reg.price && claim.pool === ((BigInt(reg.price) * BigInt(reg.poolBps)) / 10_000n).toString() && claim.adapterId === reg.onchainId && claim.chainId === reg.chainId && claim.settlement === addressToField(reg.settlement).toString()));
    check(
      'split and public signals',
      signalsOk && contextOk,
      !contextOk
        ? "the proven claim's nonce, fee or on-chain context is not this receipt's"
        : signalsOk
          ? `receipt 0x${witness.receipt.toString(16).slice(0, 16)}…, payouts ${witness.split.payouts.join(', ')}, dust ${witness.split.dust}`
          : 'the replayed split does not give the proven public signals',
    );

    const proofOk = state.proof && signals.length === witness.publicSignals.length ? await snarkjs.groth16.verify(deps.vkey, state.publicSignals!, state.proof).catch(() => false) : false;
    check('proof', proofOk, proofOk ? 'verifies with the exported verification key' : 'no valid proof');

    if (this.chain && reg && state.settleTx) {
      const ev = await this.chain.client.findSettlement(witness.receipt, await this.registrationBlock(reg));
      const chainOk = !!ev && ev.txHash === state.settleTx && ev.fee === BigInt(claim.fee) && ev.pool === BigInt(claim.pool) && ev.adapterId === BigInt(reg.onchainId);
      check('settlement', chainOk, ev ? `Settled in ${ev.txHash} (block ${ev.blockNumber}), fee ${ev.fee}, pool ${ev.pool}, dust ${ev.dust}` : 'no Settled event for this receipt');
    } else {
      check('settlement', false, 'not settled on-chain');
    }
    return { ok: checks.every((c) => c.ok), checks };
  }

  /**
   * Settles a proven receipt on-chain (once). The stored proof's public signals must be
   * exactly those of the receipt's own claim (a prover on a shared queue could store a
   * valid proof of another split); a receipt found already settled on-chain (a crash
   * after the transaction) gets its transaction recorded instead of failing forever.
   */
  async settle(host: Host, receiptId: string, opts: { vkey?: VerificationKey } = {}): Promise<{ tx: string; gasUsed: string }> {
    const chain = this.needChain();
    const state = await this.proofOf(host, receiptId);
    if (state.settleTx) throw new ZkpoaError('ZKPOA_ERR_ALREADY_SETTLED', `receipt ${receiptId} was settled in ${state.settleTx}`);
    if (!state.calldata) throw new ZkpoaError('ZKPOA_ERR_NOT_PROVEN', `receipt ${receiptId} is not proven yet (job ${state.job.status})`);
    const rc = this.receipt(host, receiptId);
    const reg = this.registration(rc.adapterId)!;
    const expected = await this.claimedSignals(rc.id, rc.adapterId, rc.input, rc.output);
    const stored = state.publicSignals!.map(String);
    if (stored.length !== expected.length || expected.some((v, i) => v !== stored[i])) {
      throw new ZkpoaError('ZKPOA_ERR_PROOF_MISMATCH', `the stored proof of receipt ${receiptId} is not for its own claim (a prover with other inputs?); it is not sent`);
    }
    if (opts.vkey && !(await snarkjs.groth16.verify(opts.vkey, state.publicSignals!, state.proof!).catch(() => false))) {
      throw new ZkpoaError('ZKPOA_ERR_PROOF_INVALID', `the stored proof of receipt ${receiptId} does not verify with this server's verification key (a prover holding other keys?); it is not sent`);
    }
    // clear refusals before a transaction: the host's wallet must still approve this operator and cover the fee
    await this.hostWallet(chain, { id: host.id, name: host.name, wallet: reg.hostWallet });
    const escrow = await chain.client.escrowOf(reg.hostWallet);
    if (escrow < BigInt(reg.price)) throw new ZkpoaError('ZKPOA_ERR_INSUFFICIENT_ESCROW', `the escrow of ${reg.hostWallet} holds ${escrow} wei; an answer costs ${reg.price} (zkpoa escrow deposit)`);
    return this.once(`settle:${receiptId}`, async () => {
      try {
        const { tx } = await this.refusals(chain, () => chain.client.settle(BigInt(reg.onchainId), state.calldata!.proof.map(BigInt), state.calldata!.publicSignals.map(BigInt)));
        this.db.prepare('UPDATE receipt_proofs SET settle_tx = ? WHERE receipt_id = ?').run(tx.hash, receiptId);
        return { tx: tx.hash, gasUsed: tx.gasUsed.toString() };
      } catch (err) {
        const alreadySettled = chain.client.decodeError((err as Error).cause ?? err)?.name === 'ReceiptAlreadySettled';
        const ev = alreadySettled ? await chain.client.findSettlement(BigInt(expected[0]!), await this.registrationBlock(reg)) : undefined;
        if (ev) {
          this.db.prepare('UPDATE receipt_proofs SET settle_tx = ? WHERE receipt_id = ?').run(ev.txHash, receiptId);
          throw new ZkpoaError('ZKPOA_ERR_ALREADY_SETTLED', `receipt ${receiptId} was already settled in ${ev.txHash} (now recorded)`);
        }
        throw err;
      }
    });
  }

  /** The public signals of a receipt's stored claim (its own t, fee, pool and context). */
  private async claimedSignals(receiptId: string, adapterId: string, input: string, output: string): Promise<string[]> {
    const row = this.db.prepare('SELECT claim FROM receipt_proofs WHERE receipt_id = ?').get(receiptId) as { claim: string };
    const claim = JSON.parse(row.claim) as StoredClaim;
    return (await this.claimWitness(claim, claim.t.map(BigInt), this.index(adapterId), { input, output })).publicSignals.map(String);
  }

  /** The witness of a stored claim with features `t` (the stored ones, or an audit's replayed ones). */
  private async claimWitness(claim: StoredClaim, t: readonly bigint[], stored: StoredIndex, rc: { input: string; output: string }) {
    this.commitments ??= Commitments.create();
    return buildWitness(await this.commitments, variantByName(stored.variant), {
      t: [...t],
      leaves: indexLeaves(stored.index),
      adapterId: BigInt(claim.adapterId),
      chainId: BigInt(claim.chainId),
      settlement: BigInt(claim.settlement),
      fee: BigInt(claim.fee),
      pool: BigInt(claim.pool),
      nonce: BigInt(claim.nonce),
      inputHash: hashToField(rc.input),
      outputHash: hashToField(rc.output),
    });
  }

  /** The block of an adapter's registration: settlements are searched from there (hosted RPCs cap log ranges). */
  private async registrationBlock(reg: Registration): Promise<number> {
    const provider = this.chain?.client.settlement.runner?.provider;
    return (await provider?.getTransactionReceipt(reg.tx).catch(() => null))?.blockNumber ?? 0;
  }

  /** Runs `f` unless the same operation is already in flight (ZKPOA_ERR_IN_PROGRESS). */
  private async once<T>(key: string, f: () => Promise<T>): Promise<T> {
    if (this.inFlight.has(key)) throw new ZkpoaError('ZKPOA_ERR_IN_PROGRESS', `${key.replace(':', ' ')} is already in progress`);
    this.inFlight.add(key);
    try {
      return await f();
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** A transaction the contracts refuse becomes ZKPOA_ERR_CHAIN_REFUSED naming the contract's error. */
  private async refusals<T>(chain: ChainContext, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      const decoded = chain.client.decodeError(err);
      if (decoded) throw new ZkpoaError('ZKPOA_ERR_CHAIN_REFUSED', `the settlement contract refused: ${decoded.name}(${decoded.args.map(String).join(', ')})`, { cause: err });
      throw err;
    }
  }
}
