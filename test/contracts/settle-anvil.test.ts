import { type JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressToField, padLeaves, type Leaf } from '../../attribution/index.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type Deployment, type LocalChain, type Terms } from '../../contracts/client/index.js';
import { buildBatchWitness, type BatchAnswer, type BatchWitness } from '../../prover/batch-witness.js';
import { createProver, ensureVariant, flattenProof, loadProverKeys, toSolidityCalldata, type Prover } from '../../prover/index.js';
import { TEST_VARIANT, getCommitments, sampleBatchClaim } from '../helpers/fixtures.js';

/**
 * Batch settlement on a real anvil chain through the ethers client: the settlement is
 * deployed linked to poseidon-solidity's libraries, an operator registers an adapter for its
 * host and settles two batches of real proofs in order, a replay and a tampered proof are
 * refused, and a contributor claims from the payout ledger with a Merkle proof built by
 * Commitments.merkleProof, then withdraws OPEN.
 */
const { contributors: C, features: K } = TEST_VARIANT.params;
const TERMS: Terms = { price: 10n ** 16n, ownerBps: 2000, protocolBps: 1000, poolBps: 7000 };
const POOL = (TERMS.price * BigInt(TERMS.poolBps)) / 10_000n;

let chain: LocalChain;
let provider: JsonRpcProvider;
let deployment: Deployment;
let prover: Prover;
let admin: SettlementClient;
let host: SettlementClient;
let operator: SettlementClient;
let hostAddress: string;
let contributor: Wallet;
let adapterId: bigint;
let leaves: Leaf[];
let answers: readonly BatchAnswer[];

beforeAll(async () => {
  chain = await startAnvil();
  provider = rpcProvider(chain.rpcUrl);
  const [deployerKey, hostKey, operatorKey, contributorKey] = anvilAccountKeys();
  const deployer = new Wallet(deployerKey!, provider);
  deployment = await deployAll(deployer, { variants: [TEST_VARIANT] });
  prover = createProver(await loadProverKeys(await ensureVariant(TEST_VARIANT)), { threads: 1 });
  admin = await SettlementClient.connect(deployment, deployer);
  const hostWallet = new Wallet(hostKey!, provider);
  hostAddress = hostWallet.address;
  host = admin.connect(hostWallet);
  operator = admin.connect(new Wallet(operatorKey!, provider));
  contributor = new Wallet(contributorKey!, provider);

  // the host escrows OPEN
  await (await admin.open.getFunction('transfer')(hostAddress, 100n * TERMS.price)).wait();
  await host.deposit(100n * TERMS.price);
}, 600_000);

afterAll(async () => {
  await prover?.close();
  await chain?.stop();
});

async function proveBatch(first: bigint, batch: readonly BatchAnswer[], old?: BatchWitness) {
  const w = buildBatchWitness(await getCommitments(), TEST_VARIANT, {
    leaves,
    adapterId,
    chainId: chain.chainId,
    settlement: addressToField(deployment.settlement),
    fee: TERMS.price,
    pool: POOL,
    first,
    answers: batch,
    ...(old ? { oldCumulative: old.newCumulative } : {}),
  });
  const { proof, publicSignals } = await prover.prove(w.input);
  const cd = toSolidityCalldata(proof, publicSignals);
  return { witness: w, proof: flattenProof(cd), signals: cd.input };
}

const errorName = (e: unknown) => host.decodeError(e)?.name;

describe('batch settlement on anvil', () => {
  it('deploys the settlement linked to the Poseidon libraries, with the batch verifier', async () => {
    expect(Object.keys(deployment.libraries).sort()).toEqual(['PoseidonT3', 'PoseidonT5']);
    for (const address of Object.values(deployment.libraries)) expect(await provider.getCode(address)).not.toBe('0x');
    expect(deployment.verifiers).toEqual([expect.objectContaining({ variantId: TEST_VARIANT.id, contributors: C, features: K, answers: TEST_VARIANT.params.answers })]);
  });

  it('a refused transaction does not hold up the next one through a NonceManager', async () => {
    const [, , operatorKey] = anvilAccountKeys();
    const managed = admin.connect(new NonceManager(new Wallet(operatorKey!, provider)));
    // refused by the gas estimate, after the manager took its nonce
    await expect(managed.setTerms(999n, TERMS, 0n)).rejects.toThrow();
    const landed = await Promise.race([managed.setOperator(contributor.address, false), new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 20_000))]);
    expect(landed).not.toBe('stuck');
  });

  it('an approved operator registers the host’s adapter; the binding is the TypeScript one', async () => {
    const operatorAddress = await (operator.settlement.runner as Wallet).getAddress();
    await host.setOperator(operatorAddress, true);
    expect(await host.isOperator(hostAddress, operatorAddress)).toBe(true);

    const sample = sampleBatchClaim();
    leaves = sample.leaves.map((l, c) => (c === 0 ? { ...l, payee: addressToField(contributor.address) } : l));
    answers = [...sample.answers, ...sample.answers.map((a) => ({ ...a, inputHash: a.inputHash + 100n }))];
    const commitments = await getCommitments();
    const root = commitments.indexRoot(leaves, C, K);
    const index = { root, leaves, datanetId: '0x' + '11'.repeat(32), datanetRoot: '0x' + '22'.repeat(32) };

    // a root that is not the leaves' is refused before anything is sent
    await expect(operator.registerAdapter({ host: hostAddress, variantId: TEST_VARIANT.id, terms: TERMS, index: { ...index, root: root + 1n } })).rejects.toMatchObject({
      code: 'ZKPOA_ERR_INVALID_ARGUMENT',
    });

    const reg = await operator.registerAdapter({ host: hostAddress, variantId: TEST_VARIANT.id, terms: TERMS, index });
    adapterId = reg.adapterId;
    expect(reg.version).toBe(1n);
    expect(reg.binding).toBe(commitments.binding({ root, adapterId, chainId: chain.chainId, settlement: addressToField(deployment.settlement) }));
    expect(await host.adapter(adapterId)).toEqual({ host: hostAddress, variantId: TEST_VARIANT.id, version: 1n, nextReceipt: 0n });
    expect(await host.version(adapterId, 1n)).toEqual({ indexRoot: root, binding: reg.binding, ledgerRoot: 0n, firstReceipt: 0n, ...TERMS });
  });

  it('settles two batches in order, refuses a replay and a tampered proof, and pays a claim from the ledger', async () => {
    const escrow = await host.escrowOf(hostAddress);
    const one = await proveBatch(0n, answers.slice(0, 3));
    const first = await operator.settleBatch(adapterId, 1n, one.proof, one.signals);
    expect(first.event).toMatchObject({ adapterId, version: 1n, host: hostAddress, first: 0n, count: 3, fee: TERMS.price, paid: one.witness.paid, oldRoot: 0n, newRoot: one.witness.newRoot });
    expect(first.event.receiptsRoot).toBe(one.witness.receiptsRoot);
    expect(await host.escrowOf(hostAddress)).toBe(escrow - 3n * TERMS.price);

    const two = await proveBatch(3n, answers.slice(3, 5), one.witness);
    const tampered = [...two.signals];
    tampered[3] = tampered[3]! ^ 1n; // another receipts root
    await expect(operator.settleBatch(adapterId, 1n, two.proof, tampered)).rejects.toSatisfy((e: unknown) => errorName(e) === 'InvalidProof');
    const second = await operator.settleBatch(adapterId, 1n, two.proof, two.signals);
    expect(second.event).toMatchObject({ first: 3n, count: 2, oldRoot: one.witness.newRoot, newRoot: two.witness.newRoot });
    expect(second.tx.gasUsed).toBeGreaterThan(200_000n);
    expect((await host.adapter(adapterId)).nextReceipt).toBe(5n);
    expect((await host.version(adapterId, 1n)).ledgerRoot).toBe(two.witness.newRoot);
    expect(await host.owed()).toBe(one.witness.paid + two.witness.paid);

    // a replay repeats receipt numbers
    await expect(operator.settleBatch(adapterId, 1n, two.proof, two.signals)).rejects.toSatisfy((e: unknown) => errorName(e) === 'ReceiptOutOfOrder');
    // auditors find a batch by its first receipt number
    expect((await host.findBatch(adapterId, 3n, deployment.deployedAtBlock))?.txHash).toBe(second.tx.hash);
    expect(await host.findBatch(adapterId, 1n)).toBeUndefined();

    // the contributor (leaf 0) claims its cumulative amount with a Merkle proof of the ledger
    const commitments = await getCommitments();
    const ledger = padLeaves(leaves, C, K).map((l, c) => commitments.ledgerLeaf(l.payee, two.witness.newCumulative[c]!));
    expect(commitments.merkleRoot(ledger)).toBe(two.witness.newRoot);
    const cumulative = two.witness.newCumulative[0]!;
    expect(cumulative).toBeGreaterThan(0n);
    const mine = admin.connect(contributor);
    const claim = { adapterId, version: 1n, leaf: 0, payee: contributor.address, cumulative, siblings: commitments.merkleProof(ledger, 0) };
    expect((await mine.claim(claim)).amount).toBe(cumulative);
    expect(await mine.claimed(adapterId, 1n, 0)).toBe(cumulative);
    expect(await mine.owed()).toBe(one.witness.paid + two.witness.paid - cumulative);
    await expect(mine.claim(claim)).rejects.toSatisfy((e: unknown) => errorName(e) === 'NothingToClaim');
    await expect(mine.claim({ ...claim, cumulative: cumulative + 1n })).rejects.toSatisfy((e: unknown) => errorName(e) === 'NotInLedger');

    await mine.withdraw();
    expect(await admin.open.getFunction('balanceOf')(contributor.address)).toBe(cumulative);
    expect(await mine.balanceOf(contributor.address)).toBe(0n);
  });
});
