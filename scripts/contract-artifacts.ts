/**
 * npm run contracts:generate -- [--variant <name>]...
 * Writes what the Solidity side needs from the built circuit keys, into build/contracts/
 * (never committed): each variant's generated verifier renamed to
 * Groth16Verifier_<variant>, and for forge tests a fixture of real proofs made for a
 * known adapter, settlement address and chain.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { poseidonContract } from 'circomlibjs';
import { Commitments, FEATURE_MAX, FEATURE_MIN, addressToField, packFeatures, unpackAmounts, type Leaf } from '../attribution/index.js';
import { variantByName, variantFor, type CircuitVariant } from '../circuits/variants.js';
import { BUILD_DIR } from '../lib/config.js';
import {
  buildWitness,
  consoleProgress,
  createProver,
  ensureVariant,
  loadProverKeys,
  toSolidityCalldata,
  type VariantArtifacts,
} from '../prover/index.js';
import { poseidonArities, writeVerifier } from '../contracts/client/artifacts.js';
import { exampleClaim } from './example-claim.js';

export const CONTRACTS_BUILD_DIR = join(BUILD_DIR, 'contracts');
/** Where forge tests deploy the settlement contract (deployCodeTo), so fixture bindings match. */
export const FIXTURE_SETTLEMENT = '0x00000000000000000000000000000000005e7713';
export const FIXTURE_CHAIN_ID = 31337n;

const clampFeature = (x: bigint) => (x < FEATURE_MIN ? FEATURE_MIN : x > FEATURE_MAX ? FEATURE_MAX : x);
const hex = (x: bigint) => '0x' + x.toString(16).padStart(64, '0');

/** Real proofs for forge tests: adapter 1 (and adapter 2 on the same index) at FIXTURE_SETTLEMENT. */
async function writeFixture(variant: CircuitVariant, artifacts: VariantArtifacts, receipts: number): Promise<string> {
  const commitments = await Commitments.create();
  const settlement = addressToField(FIXTURE_SETTLEMENT);
  // a full index for realistic gas, except the smallest variant keeps a padding leaf
  const C = variant.params.contributors;
  const base = exampleClaim(variant, 1, C <= 4 ? C - 1 : C);
  const leaves: Leaf[] = base.leaves;
  const price = base.claim.fee;
  const poolBps = 7000n;
  const pool = (price * poolBps) / 10000n;
  const prover = createProver(await loadProverKeys(artifacts));
  try {
    // answers near the example's direction, each nudged differently so the payouts vary
    const claims = Array.from({ length: receipts + 1 }, (_, i) => {
      const t = base.claim.t.map((x, k) => clampFeature(x + BigInt(((i * 7919 + k * 104729) % 4001) - 2000)));
      return { ...base.claim, t, nonce: BigInt(100 + i), fee: price, pool, chainId: FIXTURE_CHAIN_ID, settlement, adapterId: i === receipts ? 2n : 1n };
    });
    const proven = await Promise.all(
      claims.map(async (claim) => {
        const w = buildWitness(commitments, variant, claim);
        const { proof, publicSignals } = await prover.prove(w.input);
        const cd = toSolidityCalldata(proof, publicSignals);
        const { payouts } = unpackAmounts(w.publicSignals.slice(2), variant.params.contributors);
        return {
          adapterId: Number(claim.adapterId),
          proof: [...cd.a, ...cd.b[0], ...cd.b[1], ...cd.c].map(hex),
          publicSignals: cd.input.map(hex),
          payouts: payouts.map(hex),
          dust: hex(w.split.dust),
        };
      }),
    );
    const fixture = {
      variant: variant.name,
      contributors: variant.params.contributors,
      features: variant.params.features,
      settlement: FIXTURE_SETTLEMENT,
      chainId: Number(FIXTURE_CHAIN_ID),
      price: hex(price),
      poolBps: Number(poolBps),
      payees: leaves.map((l) => '0x' + l.payee.toString(16).padStart(40, '0')),
      featureChunks: leaves.flatMap((l) => packFeatures(l.g)).map(hex),
      indexRoot: hex(commitments.indexRoot(leaves, variant.params.contributors, variant.params.features)),
      poseidon: Object.fromEntries(poseidonArities([variant]).map((n) => [`n${n}`, poseidonContract.createCode(n)])),
      receiptCount: receipts,
      receipts: proven.filter((p) => p.adapterId === 1),
      otherAdapterReceipt: proven.find((p) => p.adapterId === 2),
    };
    await mkdir(CONTRACTS_BUILD_DIR, { recursive: true });
    const path = join(CONTRACTS_BUILD_DIR, `fixture_${variant.name}.json`);
    await writeFile(path, JSON.stringify(fixture, null, 1));
    return path;
  } finally {
    await prover.close();
  }
}

/** Verifier sources and proof fixtures for the given variants (keys built if missing). */
export async function generateContractArtifacts(variants: readonly CircuitVariant[], progress = consoleProgress(), receipts = 6): Promise<void> {
  for (const v of variants) {
    const artifacts = await ensureVariant(v, { progress });
    const step = progress.step(`${v.name}: verifier contract and proof fixture`);
    await writeVerifier(v, artifacts);
    const fixture = await writeFixture(v, artifacts, receipts);
    step.done(fixture);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { variant: { type: 'string', multiple: true }, receipts: { type: 'string', default: '6' } } });
  const variants = values.variant?.length ? values.variant.map(variantByName) : [variantFor('test')];
  await generateContractArtifacts(variants, consoleProgress(), Number(values.receipts));
}
