import { ZkpoaError } from '../attribution/errors.js';
import * as snarkjs from 'snarkjs';
import type { VerificationKey } from 'snarkjs';
import { Commitments, addressToField, hashToField, unpackHeader } from '../attribution/index.js';
import { variantByName } from '../circuits/variants.js';
import { indexLeaves } from '../inference/attribution-index.js';
import type { Batcher } from '../inference/batcher.js';
import { leavesOfPublished } from '../contracts/client/published-leaves.js';
import { buildBatchWitness } from '../prover/batch-witness.js';
import { registrationBlock, type ChainContext } from './chain.js';
import { outputHashOf } from './batching.js';
import type { FeaturePools } from './feature-pools.js';
import { indexOf } from './registration.js';
import type { Settler } from './settlement.js';
import { BatchStore, SIGNAL } from './store/batches.js';
import type { Db } from './store/db.js';
import type { Host } from './store/hosts.js';
import { PublishedLeavesStore } from './store/published-leaves.js';
import { ReceiptStore } from './store/receipts.js';
import { RegistrationStore, poolOf } from './store/registrations.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * An auditor's replay of one receipt: the answer (re-run on the served adapter, within a
 * tolerance on probabilities), the test features (bit for bit), the receipt commitment
 * and its place in its batch (a Merkle path to the proven receipts root), the batch's split
 * and ledger transition rebuilt from the batch's features and the index, the batch proof
 * (the server's verification key), the index leaves published under the hash the version's
 * IndexPublished event names (they give its registered root), and the chain's BatchSettled event.
 */
export class Auditor {
  private readonly receipts: ReceiptStore;
  private readonly batches: BatchStore;
  private readonly registrations: RegistrationStore;
  private readonly published: PublishedLeavesStore;
  private commitments: Promise<Commitments> | undefined;

  constructor(
    private readonly db: Db,
    private readonly pools: FeaturePools,
    private readonly settler: Settler,
    private readonly chain?: ChainContext,
  ) {
    this.receipts = new ReceiptStore(db);
    this.batches = new BatchStore(db);
    this.registrations = new RegistrationStore(db);
    this.published = new PublishedLeavesStore(db);
  }

  async audit(host: Host, receiptId: string, deps: { batcher: Batcher; vkey: (variantName: string) => Promise<VerificationKey>; tolerance?: number }): Promise<{ ok: boolean; checks: Check[] }> {
    const checks: Check[] = [];
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
    const rc = this.receipts.get(host, receiptId);
    const output = rc.output;
    if (!('label' in output)) throw new ZkpoaError('ZKPOA_ERR_NO_INDEX', `receipt ${receiptId} is a generated answer: it is attributed by its spans, returned with it, and not proven yet`);
    const stored = indexOf(this.db, rc.adapterKey);
    this.commitments ??= Commitments.create();
    const commitments = await this.commitments;

    const answer = await deps.batcher.infer({ adapterId: rc.adapterKey, text: rc.input });
    const drift = Math.max(...answer.probabilities.map((p, i) => Math.abs(p - (output.probabilities[i] ?? Number.NaN))));
    check('answer', answer.label === output.label && drift <= (deps.tolerance ?? 1e-4), `label ${answer.label} (recorded ${output.label}), max probability drift ${drift.toExponential(2)}`);

    const batch = this.batches.containing(rc.adapterKey, rc.number);
    const reg = this.registrations.get(rc.adapterKey);
    if (!batch || !reg) {
      check('batch', false, `receipt ${rc.number} is in no batch yet`);
      return { ok: false, checks };
    }
    const i = rc.number - batch.first;
    const version = reg.versions.find((v) => v.version === batch.version)!;

    const t = await this.pools.testFeatures(rc.adapterKey, stored, rc.input);
    const tOk = t.length === batch.features[i]!.length && t.every((v, k) => v === batch.features[i]![k]);
    check('test features', tOk, tOk ? `t replayed bit for bit (K = ${t.length})` : 't differs from the features the batch proved');

    const commitment = commitments.numberedReceipt({ binding: version.binding, number: BigInt(rc.number), fee: version.price, pool: poolOf(version), inputHash: hashToField(rc.input), outputHash: outputHashOf(rc.output), t });
    const M = variantByName(stored.variant).params.answers!;
    const leaves = [...batch.receipts, ...new Array<bigint>(M - batch.count).fill(0n)];
    const path = commitments.merkleProof(leaves, i);
    let node = commitment;
    path.forEach((sibling, d) => (node = ((i >> d) & 1) === 1 ? commitments.hash([sibling, node]) : commitments.hash([node, sibling])));
    const placed = commitment === batch.receipts[i] && node === batch.publicSignals[SIGNAL.receiptsRoot];
    check('receipt in its batch', placed, placed ? `receipt ${rc.number} is answer ${i} of ${batch.first}..${batch.first + batch.count - 1}: its commitment 0x${commitment.toString(16).slice(0, 16)}… has a ${path.length}-level path to the proven receipts root` : 'the replayed receipt commitment is not the one the batch proved');

    // the split and ledger transition, rebuilt from the batch's own features and the previous batch's ledger
    const previous = this.batches.list(rc.adapterKey).filter((b) => b.version === batch.version && b.first < batch.first).at(-1);
    const answers = this.receipts.range(rc.adapterKey, batch.first, batch.first + batch.count);
    const rebuilt = buildBatchWitness(commitments, variantByName(stored.variant), {
      leaves: indexLeaves(stored.index),
      adapterId: reg.onchainId,
      chainId: reg.chainId,
      settlement: addressToField(reg.settlement),
      fee: version.price,
      pool: poolOf(version),
      first: BigInt(batch.first),
      answers: answers.map((r, j) => ({ t: batch.features[j]!, inputHash: hashToField(r.input), outputHash: outputHashOf(r.output) })),
      ...(previous ? { oldCumulative: previous.ledger } : {}),
    });
    const splitOk = rebuilt.publicSignals.every((s, k) => s === batch.publicSignals[k]);
    const header = unpackHeader(batch.publicSignals[SIGNAL.header]!);
    check('batch split and ledger', splitOk, splitOk ? `${header.count} answers × fee ${header.fee}, pool ${header.pool} each; paid ${rebuilt.paid} to ${rebuilt.split.payouts.filter((p) => p > 0n).length} contributors; ledger 0x${rebuilt.oldRoot.toString(16).slice(0, 12)}… → 0x${rebuilt.newRoot.toString(16).slice(0, 12)}…` : 'the rebuilt split or ledger does not give the batch’s public signals');

    const state = await this.settler.state(batch);
    const proof = state.proof;
    const proofOk = !!proof && proof.publicSignals.every((s, k) => BigInt(s) === batch.publicSignals[k]) && (await snarkjs.groth16.verify(await deps.vkey(stored.variant), proof.publicSignals, proof.proof).catch(() => false));
    check('batch proof', proofOk, proofOk ? 'verifies with the exported verification key over the batch’s public signals' : `no valid proof (${state.status})`);

    if (this.chain) {
      // the leaves the version's IndexPublished event names, as published here: their hash, and the root they give
      const event = await this.chain.client.publishedIndex(reg.onchainId, batch.version, await registrationBlock(this.chain, reg.tx));
      const published = event && this.published.get(event.leavesHash);
      let detail = event ? `no leaves published under ${event.leavesHash}` : `no IndexPublished event at or before version ${batch.version}`;
      let ok = false;
      if (event && published) {
        try {
          const { contributors: C, features: K } = variantByName(stored.variant).params;
          const leaves = leavesOfPublished(published, K);
          const root = commitments.indexRoot(leaves, C, K);
          ok = root === event.indexRoot && root === version.indexRoot && leaves.length === event.contributors;
          detail = ok ? `${leaves.length} leaves published under ${event.leavesHash.slice(0, 18)}… hash to it and give the registered index root` : `the published leaves give root 0x${root.toString(16)}, the chain registered 0x${event.indexRoot.toString(16)}`;
        } catch (err) {
          detail = (err as Error).message;
        }
      }
      check('published index', ok, detail);
    }

    if (this.chain && batch.settleTx) {
      const ev = await this.chain.client.findBatch(reg.onchainId, BigInt(batch.first), await registrationBlock(this.chain, reg.tx));
      const ok = !!ev && ev.txHash === batch.settleTx && ev.count === batch.count && ev.receiptsRoot === batch.publicSignals[SIGNAL.receiptsRoot] && ev.newRoot === batch.publicSignals[SIGNAL.newRoot] && ev.paid === batch.publicSignals[SIGNAL.paid];
      check('settlement', ok, ev ? `BatchSettled in ${ev.txHash} (block ${ev.blockNumber}): receipts ${batch.first}..${batch.first + batch.count - 1}, paid ${ev.paid}` : 'no BatchSettled event for this batch');
    } else {
      check('settlement', false, 'not settled on-chain');
    }
    return { ok: checks.every((c) => c.ok), checks };
  }
}
