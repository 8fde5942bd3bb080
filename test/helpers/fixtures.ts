import { Commitments, FEATURE_MAX, FEATURE_MIN, type Leaf } from '../../attribution/index.js';
import { variantByName, variantFor, type CircuitVariant } from '../../circuits/variants.js';
import type { BatchClaim } from '../../prover/batch-witness.js';
import { artifactPaths } from '../../prover/setup.js';
import type { AttributionClaim } from '../../prover/witness.js';

export const TEST_VARIANT: CircuitVariant = variantFor('test');
export const testArtifacts = () => artifactPaths(TEST_VARIANT);

let commitments: Promise<Commitments> | undefined;
export const getCommitments = () => (commitments ??= Commitments.create());

/** A deterministic claim: contributor 0 helps most, 1 a little, 2 hurts (negative score), 3 is empty padding. */
export function sampleClaim(variant: CircuitVariant = TEST_VARIANT): AttributionClaim {
  const K = variant.params.features;
  const vec = (f: (k: number) => number) => Array.from({ length: K }, (_, k) => BigInt(f(k)));
  const t = vec((k) => (k % 2 === 0 ? 1200 : -700) + 13 * k);
  const leaves: Leaf[] = [
    { payee: 0x1111111111111111111111111111111111111111n, g: vec((k) => (k % 2 === 0 ? 3000 : -2000) - k) },
    { payee: 0x2222222222222222222222222222222222222222n, g: vec((k) => (k % 3 === 0 ? 900 : 100)) },
    { payee: 0x3333333333333333333333333333333333333333n, g: vec((k) => (k % 2 === 0 ? -2500 : 1500)) },
  ];
  return {
    t,
    leaves,
    adapterId: 7n,
    chainId: 31337n,
    settlement: 0x5fbdb2315678afecb367f032d93f642f64180aa3n,
    fee: 10n ** 16n,
    pool: 7n * 10n ** 15n + 3n,
    nonce: 42n,
    inputHash: 0xabcdefn,
    outputHash: 0x123456n,
  };
}

export const BATCH_TEST_VARIANT: CircuitVariant = variantByName('AttributionBatch_4x8x4');

/** A short batch (three answers of a four-answer circuit) on the sample index: answer 0 scores contributor 2 negative. */
export function sampleBatchClaim(variant: CircuitVariant = BATCH_TEST_VARIANT): BatchClaim {
  const base = sampleClaim(variant);
  const K = variant.params.features;
  const shift = (t: readonly bigint[], by: number) => t.map((x, k) => clampFeature(x + BigInt(by * ((k % 3) - 1) * 400)));
  return {
    leaves: base.leaves,
    adapterId: base.adapterId,
    chainId: base.chainId,
    settlement: base.settlement,
    fee: base.fee,
    pool: base.pool,
    first: 1000n,
    answers: [0, 1, 2].map((i) => ({ t: i === 0 ? base.t : shift(base.t, i).slice(0, K), inputHash: 0xabc0n + BigInt(i), outputHash: 0xdef0n + BigInt(i) })),
  };
}

export function clampFeature(x: bigint): bigint {
  return x < FEATURE_MIN ? FEATURE_MIN : x > FEATURE_MAX ? FEATURE_MAX : x;
}
