/**
 * npm run contracts:generate -- [--variant <name>]...
 * Writes what the Solidity side needs from the built circuit keys, into build/contracts/
 * (never committed): each variant's generated verifier renamed to
 * Groth16Verifier_<variant>, and for forge tests a fixture of real proofs made for a
 * known adapter, settlement address and chain.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { poseidonContract } from 'circomlibjs';
import { Commitments, addressToField, chunkCount, packFeatures, unpackAmounts, type Leaf } from '../attribution/index.js';
import { variantByName, variantFor, type CircuitVariant } from '../circuits/variants.js';
import {
  DEFAULT_BUILD_DIR,
  REPO_ROOT,
  buildWitness,
  consoleProgress,
  createProver,
  ensureVariant,
  loadProverKeys,
  toSolidityCalldata,
  type VariantArtifacts,
} from '../prover/index.js';
import { exampleClaim } from './example-claim.js';

export const CONTRACTS_BUILD_DIR = join(DEFAULT_BUILD_DIR, 'contracts');
/** Generated verifiers sit in forge's source tree (ignored by git) so forge compiles whichever exist. */
export const GENERATED_SOL_DIR = join(REPO_ROOT, 'contracts', 'src', 'generated');
/** Where forge tests deploy the settlement contract (deployCodeTo), so fixture bindings match. */
export const FIXTURE_SETTLEMENT = '0x00000000000000000000000000000000005e7713';
export const FIXTURE_CHAIN_ID = 31337n;
/** Poseidon arities the contracts need: tree nodes (2), binding (4), leaves (1 + ceil(K/15)). */
export function poseidonArities(variants: readonly CircuitVariant[]): number[] {
  return [...new Set([2, 4, ...variants.map((v) => 1 + chunkCount(v.params.features))])].sort((a, b) => a - b);
}

export function verifierContractName(variant: CircuitVariant): string {
  return `Groth16Verifier_${variant.name}`;
}

/** The snarkjs verifier with its contract renamed, so that several variants compile side by side. */
export async function writeVerifier(variant: CircuitVariant, artifacts: VariantArtifacts, outDir = GENERATED_SOL_DIR): Promise<string> {
  const src = await readFile(artifacts.verifier, 'utf8');
  if (!src.includes('contract Groth16Verifier {')) throw new Error(`unexpected verifier source in ${artifacts.verifier}`);
  const path = join(outDir, `${verifierContractName(variant)}.sol`);
  await mkdir(outDir, { recursive: true });
  await writeFile(path, src.replace('contract Groth16Verifier {', `contract ${verifierContractName(variant)} {`));
  return path;
}

const hex = (x: bigint) => '0x' + x.toString(16).padStart(64, '0');

/** Real proofs for forge tests: adapter 1 (and adapter 2 on the same index) at FIXTURE_SETTLEMENT. */
async function writeFixture(variant: CircuitVariant, artifacts: VariantArtifacts, receipts: number): Promise<string> {
  const commitments = await Commitments.create();
  const settlement = addressToField(FIXTURE_SETTLEMENT);
  const base = exampleClaim(variant, 1, Math.min(variant.params.contributors, 3));
  const leaves: Leaf[] = base.leaves;
  const price = base.claim.fee;
  const poolBps = 7000n;
  const pool = (price * poolBps) / 10000n;
  const prover = createProver(await loadProverKeys(artifacts));
  try {
    const claims = Array.from({ length: receipts + 1 }, (_, i) => {
      const { claim } = exampleClaim(variant, 100 + i, leaves.length);
      return { ...claim, leaves, fee: price, pool, chainId: FIXTURE_CHAIN_ID, settlement, adapterId: i === receipts ? 2n : 1n };
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
      poseidon: Object.fromEntries(poseidonArities([variant]).map((n) => [`t${n}`, poseidonContract.createCode(n)])),
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

async function main() {
  const { values } = parseArgs({ options: { variant: { type: 'string', multiple: true }, receipts: { type: 'string', default: '6' } } });
  const variants = values.variant?.length ? values.variant.map(variantByName) : [variantFor('test')];
  const progress = consoleProgress();
  for (const v of variants) {
    const artifacts = await ensureVariant(v, { progress });
    const step = progress.step(`${v.name}: verifier contract and proof fixture`);
    await writeVerifier(v, artifacts);
    const fixture = await writeFixture(v, artifacts, Number(values.receipts));
    step.done(fixture);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
