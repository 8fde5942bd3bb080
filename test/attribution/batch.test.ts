import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AMOUNT_MAX, FEATURE_MAX, FEATURE_MIN, batchSplit, packHeader, split, unpackHeader } from '../../attribution/index.js';

const feature = fc.oneof(fc.bigInt({ min: FEATURE_MIN, max: FEATURE_MAX }), fc.constantFrom(FEATURE_MIN, FEATURE_MAX, 0n));
const vector = (k: number) => fc.array(feature, { minLength: k, maxLength: k });
const amount = fc.oneof(fc.bigInt({ min: 0n, max: AMOUNT_MAX }), fc.constantFrom(0n, 1n, 7n, AMOUNT_MAX));

/** A batch of up to M answers on an index of C leaves with K features. */
const batch = (C: number, K: number, M: number) =>
  fc.record({
    index: fc.array(vector(K), { minLength: C, maxLength: C }),
    t: fc.array(vector(K), { minLength: 1, maxLength: M }),
    pool: amount,
  });

describe('the batch split rule', () => {
  it('equals the per-answer rule when the division is exact', () => {
    // scores 3 and 1 of S = 4 with P = 100: 75 and 25 per answer, whatever the batch
    const index = [[3n], [1n], [-2n]];
    const s = batchSplit([[1n], [1n]], index, 100n, 4);
    expect(s.payouts).toEqual([150n, 50n, 0n]);
    expect(s.paid).toBe(200n);
  });

  it('pays nobody for an answer with no positive score', () => {
    const s = batchSplit([[-1n], [0n]], [[1n], [2n]], 1000n, 2);
    expect(s.rates).toEqual([0n, 0n]);
    expect(s.payouts).toEqual([0n, 0n]);
  });

  it('refuses a batch larger than the circuit', () => {
    expect(() => batchSplit([[1n], [1n], [1n]], [[1n]], 1n, 2)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_SHAPE' }));
  });

  it('[fuzz] never pays more than the pools, and is within one wei per answer of the per-answer floors', () => {
    for (const [C, K, M] of [
      [4, 8, 4],
      [16, 32, 64],
    ] as const) {
      fc.assert(
        fc.property(batch(C, K, M), ({ index, t, pool }) => {
          const b = batchSplit(t, index, pool, M);
          const perAnswer = t.map((ti) => split(ti, index, pool));
          const pools = perAnswer.reduce((a, s) => a + (s.total === 0n ? 0n : pool), 0n);
          expect(b.paid).toBeLessThanOrEqual(pools);
          for (let c = 0; c < C; c++) {
            const floors = perAnswer.reduce((a, s) => a + s.payouts[c]!, 0n);
            const diff = b.payouts[c]! - floors;
            expect(diff <= BigInt(t.length) && diff >= -BigInt(t.length)).toBe(true);
          }
        }),
        { seed: 7, numRuns: C === 4 ? 500 : 60 },
      );
    }
  });

  it('[fuzz] packs and unpacks its header', () => {
    fc.assert(
      fc.property(amount, amount, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 65535 }), (a, b, first, count) => {
        const [pool, fee] = a <= b ? [a, b] : [b, a];
        expect(unpackHeader(packHeader({ fee, pool, first, count }))).toEqual({ fee, pool, first, count });
      }),
      { seed: 8 },
    );
    expect(() => packHeader({ fee: 1n, pool: 2n, first: 0n, count: 1 })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_AMOUNT_RANGE' }));
    expect(() => packHeader({ fee: 1n, pool: 1n, first: 1n << 64n, count: 1 })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' }));
  });
});
