import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_MAX, FEATURE_MIN, ceilLog2, rateBits, scoreBits, toField, unpackHeader, type Leaf } from '../../attribution/index.js';
import { buildBatchWitness, type BatchClaim, type BatchWitness } from '../../prover/batch-witness.js';
import { artifactPaths, ensureVariant } from '../../prover/setup.js';
import { TEST_VARIANT, getCommitments, sampleBatchClaim } from '../helpers/fixtures.js';
import { loadCircuit, type CircuitUnderTest } from '../helpers/r1cs.js';

/**
 * The batch circuit at the constraint level: it agrees with the TypeScript reference on
 * random batches, and each cheat, applied as a cheating prover would (recomputing every
 * bit decomposition it can), violates a constraint, while the same rewrite with honest
 * values does not.
 */
const V = TEST_VARIANT;
const { contributors: C, features: K } = V.params;
const M = V.params.answers!;
const SB = scoreBits(K);
const Q = rateBits(K, M);
const SUMB = SB + ceilLog2(C);

let circuit: CircuitUnderTest;
let claim: BatchClaim;
let honest: BatchWitness;
let w0: bigint[];

beforeAll(async () => {
  await ensureVariant(V);
  circuit = await loadCircuit(artifactPaths(V));
  claim = sampleBatchClaim();
  honest = buildBatchWitness(await getCommitments(), V, claim);
  w0 = await circuit.witness(honest.input);
}, 600_000);

const publicOf = (w: readonly bigint[]) => w.slice(1, 1 + circuit.nPublic);
const set = (w: bigint[], name: string, v: bigint) => {
  w[circuit.index(name)] = toField(v);
};
/** Sets a signal unless the optimizer replaced it by a linear combination of others. */
const setIfKept = (w: bigint[], name: string, v: bigint) => {
  if (circuit.has(name) && circuit.index(name) >= 0) set(w, name, v);
};
const get = (w: readonly bigint[], name: string) => w[circuit.index(name)]!;
function setBits(w: bigint[], prefix: string, value: bigint, n: number) {
  for (let i = 0; i < n; i++) if (circuit.has(`${prefix}[${i}]`)) w[circuit.index(`${prefix}[${i}]`)] = (toField(value) >> BigInt(i)) & 1n;
}

describe(`${V.name} constraints`, () => {
  it('an honest batch satisfies every constraint and outputs what the TS reference computes', () => {
    expect(circuit.violated(w0)).toEqual([]);
    expect(publicOf(w0)).toEqual(honest.publicSignals);
    expect(unpackHeader(honest.header)).toEqual({ fee: claim.fee, pool: claim.pool, first: claim.first, count: claim.answers.length });
    expect(claim.answers.length).toBeLessThan(M); // the sample is a short batch: it pads
    expect(honest.split.scores.flat().some((s) => s === 0n)).toBe(true);
  });

  describe('the rate r_i = floor(P·2^Q / S_i)', () => {
    function withRate(i: number, q: bigint, r: bigint): bigint[] {
      const w = [...w0];
      const d = get(w, `main.rate[${i}].d`);
      set(w, `main.rate[${i}].q`, q);
      setBits(w, `main.rate[${i}].qBits.out`, q, Q + 80);
      set(w, `main.rate[${i}].r`, r);
      setBits(w, `main.rate[${i}].rBits.out`, r, SUMB + 1);
      setBits(w, `main.rate[${i}].rLtD.n2b.out`, r + (1n << BigInt(SUMB + 1)) - d, SUMB + 2);
      for (let c = 0; c < C; c++) set(w, `main.share[${i}][${c}]`, honest.split.scores[i]![c]! * q);
      return w;
    }
    const n = () => claim.pool << BigInt(Q);
    const d = () => honest.split.scores[0]!.reduce((a, b) => a + b, 0n);
    it('passes with the honest quotient and remainder', () => {
      expect(circuit.violated(withRate(0, n() / d(), n() % d()))).toEqual([]);
    });
    it('fails with a larger rate (quotient + 1, remainder − S)', () => {
      expect(circuit.violated(withRate(0, n() / d() + 1n, n() % d() - d())).length).toBeGreaterThan(0);
    });
    it('fails with a remainder ≥ S (quotient − 1, remainder + S)', () => {
      expect(circuit.violated(withRate(0, n() / d() - 1n, n() % d() + d())).length).toBeGreaterThan(0);
    });
  });

  describe('the payout floor(Σ_i s_ic·r_i / 2^Q)', () => {
    // the optimizer keeps q and r only as their bits
    function withPayout(c: number, delta: bigint): bigint[] {
      const w = [...w0];
      const sum = honest.split.scores.reduce((a, s, i) => a + s[c]! * honest.split.rates[i]!, 0n);
      const q = (sum >> BigInt(Q)) + delta;
      const r = sum - (q << BigInt(Q));
      setBits(w, `main.payout[${c}].qBits.out`, q, SB + 80 + ceilLog2(M) + 1);
      setBits(w, `main.payout[${c}].rBits.out`, r, Q);
      return w;
    }
    it('passes with the honest split of the sum', () => {
      expect(circuit.violated(withPayout(0, 0n))).toEqual([]);
    });
    it('fails when a contributor is paid one wei more', () => {
      expect(circuit.violated(withPayout(0, 1n)).length).toBeGreaterThan(0);
    });
  });

  describe('max(0, ·)', () => {
    // answer 0, contributor 2 scores negative; a cheat sets its sign bit and counts it
    const raw = () => claim.answers[0]!.t.reduce((a, t, k) => a + t * claim.leaves[2]!.g[k]!, 0n);
    function withSign(nonNegative: boolean, score: bigint): bigint[] {
      const w = [...w0];
      const v = raw() + (1n << BigInt(SB));
      setBits(w, 'main.sign[0][2].out', nonNegative ? v | (1n << BigInt(SB)) : v, SB + 1);
      set(w, 'main.score[0][2]', score);
      return w;
    }
    it('the sample has a negative score there', () => {
      expect(raw() < 0n).toBe(true);
    });
    it('passes with the honest sign', () => {
      expect(circuit.violated(withSign(false, 0n))).toEqual([]);
    });
    it('fails when the negative score is marked non-negative and counted', () => {
      expect(circuit.violated(withSign(true, raw())).length).toBeGreaterThan(0);
    });
  });

  describe('answers and padding', () => {
    // the optimizer expresses the last slot's flag through the header's count: moving
    // answer 2's flag to 0 with the same header makes slot 3 an answer after padding
    const withLastAnswer = (flag: bigint) => {
      const w = [...w0];
      setIfKept(w, `main.active[${claim.answers.length - 1}]`, flag);
      return w;
    };
    it('passes with the honest flags', () => {
      expect(circuit.violated(withLastAnswer(1n))).toEqual([]);
    });
    it('fails when padding sits between answers (active not a prefix)', () => {
      expect(circuit.violated(withLastAnswer(0n)).length).toBeGreaterThan(0);
    });
    it('fails when an answer counts twice (active = 2)', () => {
      const w = [...w0];
      set(w, 'main.active[0]', 2n);
      expect(circuit.violated(w).length).toBeGreaterThan(0);
    });
    it('a padding slot pays nothing, whatever its features', async () => {
      const input = { ...honest.input, t: (honest.input.t as string[][]).map((t, i) => (i >= claim.answers.length ? t.map(() => '1000') : t)) };
      const w = await circuit.witness(input);
      expect(circuit.violated(w)).toEqual([]);
      expect(publicOf(w)).toEqual(honest.publicSignals);
    });
  });

  describe('the payout ledger', () => {
    it('fails when a fresh ledger starts from a non-zero amount', async () => {
      const input = { ...honest.input, oldCumulative: ['5', ...(honest.input.oldCumulative as string[]).slice(1)] };
      await expect(circuit.witness(input)).rejects.toThrow(/Assert Failed/);
    });
    it('a continuing ledger proves its old root and adds the batch to it', async () => {
      const commitments = await getCommitments();
      const next = buildBatchWitness(commitments, V, { ...claim, first: claim.first + BigInt(claim.answers.length), oldCumulative: honest.newCumulative });
      expect(next.oldRoot).toBe(honest.newRoot);
      const w = await circuit.witness(next.input);
      expect(circuit.violated(w)).toEqual([]);
      expect(publicOf(w)).toEqual(next.publicSignals);
      expect(next.newCumulative).toEqual(honest.newCumulative.map((x, c) => x + next.split.payouts[c]!));
    });
    it('fails when an old amount is lowered (the old root no longer matches the public one)', async () => {
      const continuing = buildBatchWitness(await getCommitments(), V, { ...claim, oldCumulative: honest.newCumulative });
      const w = await circuit.witness({ ...continuing.input, oldCumulative: (continuing.input.oldCumulative as string[]).map((x, c) => (c === 0 ? String(BigInt(x) - 1n) : x)) });
      expect(publicOf(w)[4]).not.toBe(continuing.oldRoot);
    });
  });

  it('pool above fee is refused', async () => {
    await expect(circuit.witness({ ...honest.input, pool: String(claim.fee + 1n) })).rejects.toThrow(/Assert Failed/);
  });

  it('[fuzz] the circuit and the TS reference agree on random batches', async () => {
    const commitments = await getCommitments();
    const feature = fc.oneof(fc.bigInt({ min: FEATURE_MIN, max: FEATURE_MAX }), fc.constantFrom(FEATURE_MIN, FEATURE_MAX, 0n, -1n, 1n));
    const vec = fc.array(feature, { minLength: K, maxLength: K });
    const amount = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 80n) - 1n }), fc.constantFrom(0n, 1n, (1n << 80n) - 1n));
    const answer = fc.record({ t: vec, inputHash: fc.bigInt({ min: 0n, max: (1n << 248n) - 1n }), outputHash: fc.bigInt({ min: 0n, max: (1n << 248n) - 1n }) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ payee: fc.bigInt({ min: 1n, max: (1n << 160n) - 1n }), g: vec }), { minLength: 1, maxLength: C }),
        fc.array(answer, { minLength: 1, maxLength: M }),
        amount,
        amount,
        fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
        fc.option(fc.array(fc.bigInt({ min: 0n, max: 1n << 90n }), { minLength: C, maxLength: C })),
        async (leaves, answers, a, b, first, old) => {
          const [pool, fee] = a <= b ? [a, b] : [b, a];
          const w = buildBatchWitness(commitments, V, { ...claim, leaves: leaves as Leaf[], answers, pool, fee, first, ...(old ? { oldCumulative: old } : {}) });
          const cw = await circuit.witness(w.input);
          expect(publicOf(cw)).toEqual(w.publicSignals);
        },
      ),
      { seed: 20261202, numRuns: 60 },
    );
  }, 300_000);
});
