/**
 * npm run contracts:generate -- [--variant <name>]... [--force]
 * Writes what the Solidity side needs from the built batch circuit keys (never committed):
 * each variant's generated verifier renamed to Groth16Verifier_<variant> (in
 * contracts/src/generated/), and for forge tests build/contracts/fixture_<variant>.json:
 * REAL batch proofs from the project's prover, for a settlement at FIXTURE_SETTLEMENT on
 * chain 31337 (forge deploys it there with deployCodeTo), with each batch's payouts and the
 * payout ledger after it (every leaf's cumulative amount and Merkle siblings).
 *
 * Batches (receipt numbers per adapter, as the contract settles them):
 *   A      adapter 1, version 1, receipts 0..2, a fresh ledger
 *   B      adapter 1, version 1, receipts 3..6, continuing A's ledger
 *   full   adapter 1, version 1, receipts 3..(3+M−1), continuing A's ledger: a full batch, for gas
 *          (B itself when M = 4)
 *   other  adapter 2 (same index, so another binding), version 1, receipts 0..1
 *   v2     adapter 1, version 2 (a new index from receipt 7), receipts 7..8
 * The test variant gets all of them; another variant (bench:gas) only A, B and full, each a
 * proof of its large circuit. A fixture is reused while the variant's key and this layout
 * are unchanged (--force proves again).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { poseidonContract } from 'circomlibjs';
import { Commitments, quantize, type Leaf } from '../attribution/index.js';
import { VARIANTS, variantByName, variantFor, type CircuitVariant } from '../circuits/variants.js';
import { REPO_BUILD_DIR } from '../lib/config.js';
import { gaussian, mulberry32 } from '../lib/random.js';
import { buildBatchWitness, type BatchAnswer, type BatchWitness } from '../prover/batch-witness.js';
import { consoleProgress, createProver, ensureVariant, flattenProof, loadProverKeys, toSolidityCalldata, type Progress, type Prover, type VariantArtifacts } from '../prover/index.js';
import { assertBatchVariant, writeVerifier } from '../contracts/client/artifacts.js';
import { publishLeaves } from '../contracts/client/published-leaves.js';

/** where forge's tests read their fixtures (build/contracts/ of the repository, as foundry.toml's fs_permissions allow) */
export const CONTRACTS_BUILD_DIR = join(REPO_BUILD_DIR, 'contracts');
/** Where forge tests deploy the settlement contract (deployCodeTo), so fixture bindings match. */
export const FIXTURE_SETTLEMENT = '0x00000000000000000000000000000000005e7713';
export const FIXTURE_CHAIN_ID = 31337n;
/** The fixture's terms: a price whose protocol share and pool round down. */
export const FIXTURE_TERMS = { price: 10n ** 16n + 7n, ownerBps: 2000, protocolBps: 1000, poolBps: 7000 } as const;
/** Bump when the fixture's layout or contents change, so cached fixtures are proven again. */
const FIXTURE_FORMAT = 2;

const hex = (x: bigint) => '0x' + x.toString(16).padStart(64, '0');
const address = (x: bigint) => '0x' + x.toString(16).padStart(40, '0');

/** A seeded index: leaves aligned with `direction` by decreasing amounts, the last one opposed. */
function makeIndex(direction: readonly number[], count: number, tag: number, seed: number): Leaf[] {
  const gauss = gaussian(mulberry32(seed));
  const scale = { scale: 8000, bits: 16 };
  return Array.from({ length: count }, (_, c) => {
    const align = c === count - 1 && count > 1 ? -0.6 : 1 - c / count;
    const g = direction.map((d) => Math.max(-3.9, Math.min(3.9, align * d + 0.5 * gauss())));
    return { payee: (BigInt(tag) << 152n) | BigInt(c + 1), g: quantize(g, scale) };
  });
}

/** `count` answers near `direction`, each nudged differently so the splits vary. */
function makeAnswers(direction: readonly number[], count: number, seed: number): BatchAnswer[] {
  const gauss = gaussian(mulberry32(seed));
  return Array.from({ length: count }, (_, i) => ({
    t: quantize(
      direction.map((d) => Math.max(-3.9, Math.min(3.9, d + 0.4 * gauss()))),
      { scale: 8000, bits: 16 },
    ),
    inputHash: BigInt(seed) * 1_000_003n + BigInt(i),
    outputHash: BigInt(seed) * 998_244_353n + BigInt(i),
  }));
}

interface BatchSpec {
  name: 'A' | 'B' | 'full' | 'other' | 'v2';
  adapterId: bigint;
  version: number;
  leaves: Leaf[];
  first: bigint;
  count: number;
  /** the batch whose ledger this one continues */
  after?: 'A';
}

/** The batch's witness (its ledger continuing `old`'s), proven; the JSON forge reads. */
async function proveBatch(commitments: Commitments, variant: CircuitVariant, prover: Prover, spec: BatchSpec, w: BatchWitness) {
  const C = variant.params.contributors;
  const { proof, publicSignals } = await prover.prove(w.input);
  const cd = toSolidityCalldata(proof, publicSignals);
  if (cd.input.some((s, i) => s !== w.publicSignals[i])) throw new Error(`batch ${spec.name}: the prover's public signals differ from the witness builder's`);
  const payees = [...spec.leaves.map((l) => l.payee), ...new Array<bigint>(C - spec.leaves.length).fill(0n)];
  const ledgerLeaves = payees.map((p, c) => commitments.ledgerLeaf(p, w.newCumulative[c]!));
  if (commitments.merkleRoot(ledgerLeaves) !== w.newRoot) throw new Error(`batch ${spec.name}: the ledger leaves do not hash to the new root`);
  return {
    adapterId: Number(spec.adapterId),
    version: spec.version,
    first: Number(spec.first),
    count: spec.count,
    proof: flattenProof(cd).map(hex),
    signals: cd.input.map(hex),
    payouts: w.split.payouts.map(hex),
    paid: hex(w.paid),
    ledger: {
      payees: payees.map(address),
      cumulative: w.newCumulative.map(hex),
      siblings: payees.map((_, c) => commitments.merkleProof(ledgerLeaves, c).map(hex)),
    },
  };
}

function batchWitness(commitments: Commitments, variant: CircuitVariant, spec: BatchSpec, old: BatchWitness | undefined, direction: readonly number[]): BatchWitness {
  return buildBatchWitness(commitments, variant, {
    leaves: spec.leaves,
    adapterId: spec.adapterId,
    chainId: FIXTURE_CHAIN_ID,
    settlement: BigInt(FIXTURE_SETTLEMENT),
    fee: FIXTURE_TERMS.price,
    pool: (FIXTURE_TERMS.price * BigInt(FIXTURE_TERMS.poolBps)) / 10_000n,
    first: spec.first,
    answers: makeAnswers(direction, spec.count, 1000 + Number(spec.first) * 7 + Number(spec.adapterId) * 131 + spec.version * 17 + spec.count),
    ...(old ? { oldCumulative: old.newCumulative } : {}),
  });
}

async function writeFixture(variant: CircuitVariant, artifacts: VariantArtifacts, progress: Progress, force: boolean): Promise<string> {
  assertBatchVariant(variant);
  const path = join(CONTRACTS_BUILD_DIR, `fixture_${variant.name}.json`);
  const { contributors: C, features: K, answers: M } = variant.params;
  const complete = variant.purpose === 'test';
  const commitments = await Commitments.create();
  const gauss = gaussian(mulberry32(20261202));
  const direction = Array.from({ length: K }, gauss);
  // the test variant keeps a padding leaf (payee 0) in its index; larger ones are full, for realistic gas
  const index1 = makeIndex(direction, C <= 4 ? C - 1 : C, 0x11, 1);
  const index2 = makeIndex(direction, C <= 4 ? C - 1 : C, 0x22, 2);
  const specs: BatchSpec[] = [
    { name: 'A', adapterId: 1n, version: 1, leaves: index1, first: 0n, count: 3 },
    { name: 'B', adapterId: 1n, version: 1, leaves: index1, first: 3n, count: 4, after: 'A' },
    ...(M !== 4 ? [{ name: 'full', adapterId: 1n, version: 1, leaves: index1, first: 3n, count: M, after: 'A' } satisfies BatchSpec] : []),
    ...(complete
      ? ([
          { name: 'other', adapterId: 2n, version: 1, leaves: index1, first: 0n, count: 2 },
          { name: 'v2', adapterId: 1n, version: 2, leaves: index2, first: 7n, count: 2 },
        ] satisfies BatchSpec[])
      : []),
  ];
  // the largest declared variant sets the deepest ledger the claim gas tests use: a new one makes a new fixture
  const largestContributors = Math.max(...VARIANTS.filter((v) => v.params.answers !== undefined).map((v) => v.params.contributors));
  const cacheKey = `${FIXTURE_FORMAT}:${artifacts.manifest.key}:${specs.map((s) => s.name).join(',')}:${largestContributors}`;
  try {
    const cached = JSON.parse(await readFile(path, 'utf8')) as { cacheKey?: string };
    if (cached.cacheKey === cacheKey && !force) return path;
  } catch {
    // no fixture yet
  }

  const prover = createProver(await loadProverKeys(artifacts));
  try {
    // witnesses in order (a batch continues an earlier one's ledger), proofs in parallel
    const witnesses: Record<string, BatchWitness> = {};
    for (const spec of specs) witnesses[spec.name] = batchWitness(commitments, variant, spec, spec.after ? witnesses[spec.after] : undefined, direction);
    const step = progress.step(`${variant.name}: prove ${specs.length} batches (${specs.map((s) => `${s.name}: ${s.count}`).join(', ')} answers)`);
    const proven = await Promise.all(specs.map((spec) => proveBatch(commitments, variant, prover, spec, witnesses[spec.name]!)));
    step.done();
    const batches: Record<string, unknown> = Object.fromEntries(specs.map((s, i) => [s.name, proven[i]]));
    if (M === 4) batches.full = batches.B;
    const indexJson = (leaves: Leaf[]) => {
      const published = publishLeaves(leaves);
      return { root: hex(commitments.indexRoot(leaves, C, K)), payees: published.payees, featureChunks: published.featureChunks.map(hex), leavesHash: published.leavesHash };
    };
    const bindingOf = (leaves: Leaf[], adapterId: bigint) =>
      hex(commitments.binding({ root: commitments.indexRoot(leaves, C, K), adapterId, chainId: FIXTURE_CHAIN_ID, settlement: BigInt(FIXTURE_SETTLEMENT) }));
    const fixture = {
      cacheKey,
      variant: variant.name,
      contributors: C,
      features: K,
      answers: M,
      depth: Math.log2(C),
      settlement: FIXTURE_SETTLEMENT,
      chainId: Number(FIXTURE_CHAIN_ID),
      price: hex(FIXTURE_TERMS.price),
      ownerBps: FIXTURE_TERMS.ownerBps,
      protocolBps: FIXTURE_TERMS.protocolBps,
      poolBps: FIXTURE_TERMS.poolBps,
      complete,
      index1: indexJson(index1),
      index2: indexJson(index2),
      bindings: { adapter1: bindingOf(index1, 1n), adapter2: bindingOf(index1, 2n), adapter1v2: bindingOf(index2, 1n) },
      batches,
      // circomlibjs's generated Poseidon(2) contract, for the claim-path gas comparison
      circomlibjsPoseidon2: poseidonContract.createCode(2),
      // the largest C of the declared batch variants, for claim gas at the deepest ledger
      largestContributors,
    };
    await mkdir(CONTRACTS_BUILD_DIR, { recursive: true });
    await writeFile(path, JSON.stringify(fixture, null, 1));
    return path;
  } finally {
    await prover.close();
  }
}

/** Verifier sources and proof fixtures for the given batch variants (keys built if missing). */
export async function generateContractArtifacts(variants: readonly CircuitVariant[], progress = consoleProgress(), opts: { force?: boolean } = {}): Promise<void> {
  for (const v of variants) {
    const artifacts = await ensureVariant(v, { progress });
    await writeVerifier(v, artifacts);
    progress.log(`${v.name}: proof fixture ${await writeFixture(v, artifacts, progress, opts.force ?? false)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { variant: { type: 'string', multiple: true }, force: { type: 'boolean', default: false } } });
  const variants = values.variant?.length ? values.variant.map(variantByName) : [variantFor('test')];
  await generateContractArtifacts(variants, consoleProgress(), { force: values.force });
}
