import { JsonRpcProvider, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressToField, unpackAmounts, type Leaf } from '../../attribution/index.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type Deployment, type LocalChain } from '../../contracts/client/index.js';
import { buildWitness, createProver, ensureVariant, flattenProof, loadProverKeys, toSolidityCalldata, type Prover } from '../../prover/index.js';
import { TEST_VARIANT, getCommitments, sampleClaim } from '../helpers/fixtures.js';

/** A real proof from the prover settles on a real anvil chain, through ethers. */
let chain: LocalChain;
let provider: JsonRpcProvider;
let deployment: Deployment;
let prover: Prover;
let admin: SettlementClient;
let host: SettlementClient;
let hostAddress: string;
let contributor: Wallet;
let adapterId: bigint;
let leaves: Leaf[];
const PRICE = 10n ** 16n;

beforeAll(async () => {
  chain = await startAnvil();
  provider = rpcProvider(chain.rpcUrl);
  const [deployerKey, hostKey, contributorKey] = anvilAccountKeys();
  const deployer = new Wallet(deployerKey!, provider);
  deployment = await deployAll(deployer, { variants: [TEST_VARIANT] });
  prover = createProver(await loadProverKeys(await ensureVariant(TEST_VARIANT)), { threads: 1 });
  admin = await SettlementClient.connect(deployment, deployer);
  const hostWallet = new Wallet(hostKey!, provider);
  hostAddress = await hostWallet.getAddress();
  host = admin.connect(hostWallet);
  contributor = new Wallet(contributorKey!, provider);

  // the host gets OPEN, escrows it and registers an adapter whose first leaf pays a real account
  await (await admin.open.getFunction('transfer')(hostAddress, 100n * PRICE)).wait();
  await host.deposit(100n * PRICE);
  leaves = sampleClaim().leaves.map((l, c) => (c === 0 ? { ...l, payee: addressToField(contributor.address) } : l));
  const reg = await host.registerAdapter({
    host: hostAddress,
    variantId: TEST_VARIANT.id,
    price: PRICE,
    ownerBps: 2000,
    protocolBps: 1000,
    poolBps: 7000,
    leaves,
    datanetId: '0x' + '11'.repeat(32),
    datanetRoot: '0x' + '22'.repeat(32),
  });
  adapterId = reg.adapterId;
  const root = (await getCommitments()).indexRoot(leaves, TEST_VARIANT.params.contributors, TEST_VARIANT.params.features);
  expect(reg.indexRoot).toBe(root); // the contract's Poseidon root equals the TypeScript one
}, 600_000);

afterAll(async () => {
  await prover?.close();
  await chain?.stop();
});

async function proveAnswer(nonce: bigint) {
  const claim = { ...sampleClaim(), leaves, adapterId, chainId: chain.chainId, settlement: addressToField(deployment.settlement), fee: PRICE, pool: (PRICE * 7000n) / 10000n, nonce };
  const witness = buildWitness(await getCommitments(), TEST_VARIANT, claim);
  const { proof, publicSignals } = await prover.prove(witness.input);
  const cd = toSolidityCalldata(proof, publicSignals);
  return { witness, proof: flattenProof(cd), signals: cd.input };
}

describe('settlement on anvil', () => {
  it('settles a real proof, credits the proven payouts, and refuses the replay', async () => {
    const { witness, proof, signals } = await proveAnswer(1n);
    const escrowBefore = await host.escrowOf(hostAddress);
    const { event, tx } = await host.settle(adapterId, proof, signals);
    expect(event.receipt).toBe(witness.receipt);
    expect(event.fee).toBe(PRICE);
    expect(event.dust).toBe(witness.split.dust);
    expect(await host.escrowOf(hostAddress)).toBe(escrowBefore - PRICE);
    const { payouts } = unpackAmounts(signals.slice(2), TEST_VARIANT.params.contributors);
    for (let c = 0; c < leaves.length; c++) expect(await host.credit(adapterId, 1n, c)).toBe(payouts[c]);
    expect(payouts[0]).toBeGreaterThan(0n);
    expect(tx.gasUsed).toBeGreaterThan(200_000n);

    // the contributor finds its earnings on-chain, claims and withdraws real OPEN
    const mine = admin.connect(contributor);
    expect(await mine.earnings(contributor.address)).toEqual({ account: contributor.address, positions: [{ adapterId, version: 1n, leaf: 0, credit: payouts[0] }], balance: 0n });
    const paid = await mine.claimAll();
    expect(paid).toMatchObject({ claimed: payouts[0], withdrawn: payouts[0] });
    expect(paid.txs).toHaveLength(2);
    expect(await admin.open.getFunction('balanceOf')(contributor.address)).toBe(payouts[0]);
    expect(await mine.earnings(contributor.address)).toMatchObject({ positions: [{ leaf: 0, credit: 0n }], balance: 0n });
    // an account that earned nothing has nothing to claim, and no transaction is sent
    const stranger = admin.connect(new Wallet(anvilAccountKeys()[3]!, provider));
    expect(await stranger.claimAll()).toEqual({ claimed: 0n, withdrawn: 0n, txs: [] });

    // the auditor finds the settlement by receipt
    expect((await host.findSettlement(witness.receipt))?.txHash).toBe(tx.hash);

    await expect(host.settle(adapterId, proof, signals)).rejects.toSatisfy((e: unknown) => host.decodeError(e)?.name === 'ReceiptAlreadySettled');
  });

  it('refuses a tampered public signal and a claim by someone else', async () => {
    const { proof, signals } = await proveAnswer(2n);
    const tampered = [...signals];
    tampered[2] = tampered[2]! + (1n << 80n);
    await expect(host.settle(adapterId, proof, tampered)).rejects.toSatisfy((e: unknown) => host.decodeError(e)?.name === 'InvalidProof');
    await host.settle(adapterId, proof, signals);
    await expect(host.claim(adapterId, 1n, [0])).rejects.toSatisfy((e: unknown) => host.decodeError(e)?.name === 'NotPayee');
  });
});
