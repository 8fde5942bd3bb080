import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_MAX, FEATURE_MIN, ceilLog2, scoreBits, toField, unpackAmounts } from '../../attribution/index.js';
import { buildWitness, type AttributionClaim, type Witness } from '../../prover/witness.js';
import { TEST_VARIANT, getCommitments, sampleClaim, testArtifacts } from '../helpers/fixtures.js';
import { loadCircuit, type CircuitUnderTest } from '../helpers/r1cs.js';

/**
 * Soundness at the constraint level, in pairs: each cheat is a function that rewrites
 * the honest witness as a cheating prover would, recomputing every bit decomposition
 * it can. Applied with the honest values it must leave the witness valid (so the
 * rewrite itself is right); applied with the cheat it must violate a constraint.
 */
const { contributors: C, features: K } = TEST_VARIANT.params;
const SB = scoreBits(K);
const SUMB = SB + ceilLog2(C);
const AB = 80;

let circuit: CircuitUnderTest;
let claim: AttributionClaim;
let honest: Witness;
let w0: bigint[];

beforeAll(async () => {
  circuit = await loadCircuit(testArtifacts());
  claim = sampleClaim();
  honest = buildWitness(await getCommitments(), TEST_VARIANT, claim);
  w0 = await circuit.witness(honest.input);
});

const publicOf = (w: readonly bigint[]) => w.slice(1, 1 + circuit.nPublic);

function setBits(w: bigint[], prefix: string, value: bigint, n: number) {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}[${i}]`;
    if (circuit.has(name)) w[circuit.index(name)] = (value >> BigInt(i)) & 1n;
  }
}
const set = (w: bigint[], name: string, v: bigint) => {
  w[circuit.index(name)] = toField(v);
};
const get = (w: readonly bigint[], name: string) => w[circuit.index(name)]!;

/** Contributor 0's division p_0 = q, r_0 = r, with every dependent bit recomputed and the public word updated. */
function withDivision(q: bigint, r: bigint): bigint[] {
  const w = [...w0];
  const divisor = get(w, 'main.divisor');
  set(w, 'main.payout[0]', q);
  setBits(w, 'main.payoutBits[0].out', q, AB);
  set(w, 'main.rem[0]', r);
  setBits(w, 'main.remBits[0].out', toField(r), SUMB);
  // LessThan(SUMB+1): bits of r + 2^(SUMB+1) - D
  setBits(w, 'main.remLtDivisor[0].n2b.out', toField(r + (1n << BigInt(SUMB + 1)) - divisor), SUMB + 2);
  const { pool, payouts } = unpackAmounts(publicOf(w0).slice(2), C);
  payouts[0] = q;
  const word0 = pool + (payouts[0] << 80n) + (payouts[1]! << 160n);
  set(w, 'main.amounts[0]', word0);
  return w;
}

describe(`${TEST_VARIANT.name} constraints`, () => {
  it('a valid split satisfies every constraint and outputs what the TS reference computes', () => {
    expect(circuit.violated(w0)).toEqual([]);
    expect(publicOf(w0)).toEqual(honest.publicSignals);
    expect(honest.split.raw[2]! < 0n).toBe(true); // the sample has a negative-score contributor
  });

  describe('division p_c = floor(P·s_c/S)', () => {
    const q = () => honest.split.payouts[0]!;
    const r = () => (claim.pool * honest.split.scores[0]!) % honest.split.total;
    const D = () => honest.split.total;

    it('passes with the honest quotient and remainder', () => {
      expect(circuit.violated(withDivision(q(), r()))).toEqual([]);
    });
    it('fails with a wrong payout (quotient + 1, remainder kept)', () => {
      expect(circuit.violated(withDivision(q() + 1n, r())).length).toBeGreaterThan(0);
    });
    it('fails when payouts would sum above P (quotient + 1, remainder − D)', () => {
      expect(circuit.violated(withDivision(q() + 1n, r() - D())).length).toBeGreaterThan(0);
    });
    it('fails with remainder ≥ divisor (quotient − 1, remainder + D)', () => {
      expect(r() + D() < 1n << BigInt(SUMB)).toBe(true); // the remainder range check alone would not catch it
      expect(circuit.violated(withDivision(q() - 1n, r() + D())).length).toBeGreaterThan(0);
    });
  });

  describe('max(0, ·)', () => {
    // contributor 2 has a negative raw score; a cheat sets its sign bit and pays it.
    function withSign(c: number, nonNegative: bigint, score: bigint): bigint[] {
      const w = [...w0];
      const raw = honest.split.raw[c]!;
      const v = raw + (1n << BigInt(SB));
      setBits(w, `main.sign[${c}].out`, nonNegative ? v | (1n << BigInt(SB)) : v, SB + 1);
      set(w, `main.score[${c}]`, score);
      return w;
    }
    it('passes with the honest sign of a negative score', () => {
      expect(circuit.violated(withSign(2, 0n, 0n))).toEqual([]);
    });
    it('fails when a negative score is marked non-negative and counted', () => {
      expect(circuit.violated(withSign(2, 1n, honest.split.raw[2]!)).length).toBeGreaterThan(0);
    });
    it('fails when a negative score is counted without touching its sign', () => {
      expect(circuit.violated(withSign(2, 0n, honest.split.raw[2]!)).length).toBeGreaterThan(0);
    });
  });

  describe('index root', () => {
    // A cheat changes G_1[0] (and what follows from it in the scores) but keeps the honest leaf hash.
    function withLeafFeature(value: bigint): bigint[] {
      const w = [...w0];
      set(w, 'main.g[1][0]', value);
      setBits(w, 'main.gPack[1].off[0].bits.out', value + 32768n, 16);
      set(w, 'main.prod[1][0]', claim.t[0]! * value);
      return w;
    }
    it('passes with the leaf that is in the root', () => {
      expect(circuit.violated(withLeafFeature(claim.leaves[1]!.g[0]!))).toEqual([]);
    });
    it('fails with a leaf that is not in the root', () => {
      expect(circuit.violated(withLeafFeature(claim.leaves[1]!.g[0]! + 5000n)).length).toBeGreaterThan(0);
    });
    it('a different leaf set yields a different binding (so it cannot match the registered one)', async () => {
      const other = structuredClone(claim) as AttributionClaim;
      (other.leaves[1]!.g as bigint[])[0] = 1n;
      const w = await circuit.witness(buildWitness(await getCommitments(), TEST_VARIANT, other).input);
      expect(circuit.violated(w)).toEqual([]);
      expect(publicOf(w)[1]).not.toBe(honest.binding);
    });
  });

  describe('feature range', () => {
    function withT0(value: bigint): bigint[] {
      const w = [...w0];
      set(w, 'main.t[0]', value);
      setBits(w, 'main.tPack.off[0].bits.out', toField(value + 32768n), 16);
      return w;
    }
    it('passes with the honest value', () => {
      expect(circuit.violated(withT0(claim.t[0]!))).toEqual([]);
    });
    it.each([FEATURE_MAX + 1n, FEATURE_MIN - 1n, 1n << 200n])('fails with t[0] = %s', (v) => {
      expect(circuit.violated(withT0(v)).length).toBeGreaterThan(0);
    });
    it('the witness generator refuses an out-of-range feature', async () => {
      const input = { ...honest.input, t: [String(FEATURE_MAX + 1n), ...(honest.input.t as string[]).slice(1)] };
      await expect(circuit.witness(input)).rejects.toThrow(/Assert Failed/);
    });
  });

  it('pool above fee is refused', async () => {
    const input = { ...honest.input, pool: String(claim.fee + 1n) };
    await expect(circuit.witness(input)).rejects.toThrow(/Assert Failed/);
  });

  it('S = 0 pays nobody', async () => {
    const zero = { ...claim, t: new Array<bigint>(K).fill(0n) };
    const w = buildWitness(await getCommitments(), TEST_VARIANT, zero);
    const cw = await circuit.witness(w.input);
    expect(circuit.violated(cw)).toEqual([]);
    expect(unpackAmounts(publicOf(cw).slice(2), C)).toEqual({ pool: claim.pool, payouts: [0n, 0n, 0n, 0n] });
  });

  it('[fuzz] the circuit and the TS reference agree on random claims', async () => {
    const commitments = await getCommitments();
    const feature = fc.oneof(
      fc.bigInt({ min: FEATURE_MIN, max: FEATURE_MAX }),
      fc.constantFrom(FEATURE_MIN, FEATURE_MAX, 0n, -1n, 1n),
    );
    const vec = fc.array(feature, { minLength: K, maxLength: K });
    const amount = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 80n) - 1n }), fc.constantFrom(0n, 1n, (1n << 80n) - 1n));
    await fc.assert(
      fc.asyncProperty(
        vec,
        fc.array(fc.record({ payee: fc.bigInt({ min: 0n, max: (1n << 160n) - 1n }), g: vec }), { minLength: 0, maxLength: C }),
        amount,
        amount,
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        async (t, leaves, a, b, nonce) => {
          const [pool, fee] = a <= b ? [a, b] : [b, a];
          const w = buildWitness(commitments, TEST_VARIANT, { ...claim, t, leaves, pool, fee, nonce });
          const cw = await circuit.witness(w.input);
          expect(publicOf(cw)).toEqual(w.publicSignals);
        },
      ),
      { seed: 424242, numRuns: 100 },
    );
  });
});
