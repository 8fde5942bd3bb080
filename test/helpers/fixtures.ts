import { Commitments, FEATURE_MAX, FEATURE_MIN, type Leaf } from '../../attribution/index.js';
import { variantFor, type CircuitVariant } from '../../circuits/variants.js';
import type { BatchClaim } from '../../prover/batch-witness.js';
import { artifactPaths } from '../../prover/setup.js';

/** The small batch circuit every test proves with (4 contributors, 8 features, 4 answers). */
export const TEST_VARIANT: CircuitVariant = variantFor('test');
/** the next circuit of the tests' ladder (variantLadder('test')): where a datanet goes that outgrows TEST_VARIANT */
export const TEST_SCALE_VARIANT: CircuitVariant = variantFor('test-scale');
export const testArtifacts = () => artifactPaths(TEST_VARIANT);

let commitments: Promise<Commitments> | undefined;
export const getCommitments = () => (commitments ??= Commitments.create());

export function clampFeature(x: bigint): bigint {
  return x < FEATURE_MIN ? FEATURE_MIN : x > FEATURE_MAX ? FEATURE_MAX : x;
}

/**
 * A deterministic short batch (three answers of a four-answer circuit) on an index where
 * contributor 0 helps most, 1 a little, 2 hurts (a negative score on answer 0), and leaf 3
 * is empty padding.
 */
export function sampleBatchClaim(variant: CircuitVariant = TEST_VARIANT): BatchClaim {
  const K = variant.params.features;
  const vec = (f: (k: number) => number) => Array.from({ length: K }, (_, k) => BigInt(f(k)));
  const t = vec((k) => (k % 2 === 0 ? 1200 : -700) + 13 * k);
  const leaves: Leaf[] = [
    { payee: 0x1111111111111111111111111111111111111111n, g: vec((k) => (k % 2 === 0 ? 3000 : -2000) - k) },
    { payee: 0x2222222222222222222222222222222222222222n, g: vec((k) => (k % 3 === 0 ? 900 : 100)) },
    { payee: 0x3333333333333333333333333333333333333333n, g: vec((k) => (k % 2 === 0 ? -2500 : 1500)) },
  ];
  const shift = (by: number) => t.map((x, k) => clampFeature(x + BigInt(by * ((k % 3) - 1) * 400)));
  return {
    leaves,
    adapterId: 7n,
    chainId: 31337n,
    settlement: 0x5fbdb2315678afecb367f032d93f642f64180aa3n,
    fee: 10n ** 16n,
    pool: 7n * 10n ** 15n + 3n,
    first: 1000n,
    answers: [0, 1, 2].map((i) => ({ t: i === 0 ? t : shift(i), inputHash: 0xabc0n + BigInt(i), outputHash: 0xdef0n + BigInt(i) })),
  };
}
