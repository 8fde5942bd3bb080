import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AMOUNT_MAX,
  FEATURE_MAX,
  FEATURE_MIN,
  ZkpoaError,
  packAmounts,
  packFeatures,
  quantize,
  fitScale,
  split,
  unpackAmounts,
  unpackFeatures,
} from '../../attribution/index.js';

const feature = fc.bigInt({ min: FEATURE_MIN, max: FEATURE_MAX });
const vector = (k: number) => fc.array(feature, { minLength: k, maxLength: k });

describe('split rule', () => {
  it('pays by positive score, floors, and returns the dust', () => {
    const s = split([1n, 2n], [[3n, 1n], [1n, 0n], [-5n, 0n]], 100n);
    expect(s.raw).toEqual([5n, 1n, -5n]);
    expect(s.scores).toEqual([5n, 1n, 0n]);
    expect(s.total).toBe(6n);
    expect(s.payouts).toEqual([83n, 16n, 0n]); // floor(500/6), floor(100/6)
    expect(s.dust).toBe(1n);
  });

  it('pays nobody when no score is positive', () => {
    const s = split([1n, -1n], [[-1n, 1n], [0n, 0n]], 1000n);
    expect(s.total).toBe(0n);
    expect(s.payouts).toEqual([0n, 0n]);
    expect(s.dust).toBe(1000n);
  });

  it('rejects out-of-range features and amounts with codes', () => {
    expect(() => split([FEATURE_MAX + 1n], [[0n]], 1n)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_FEATURE_RANGE' }));
    expect(() => split([0n], [[FEATURE_MIN - 1n]], 1n)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_FEATURE_RANGE' }));
    expect(() => split([0n], [[0n]], AMOUNT_MAX + 1n)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_AMOUNT_RANGE' }));
    expect(() => split([0n], [[0n]], -1n)).toThrow(ZkpoaError);
    expect(() => split([0n, 0n], [[0n]], 1n)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_SHAPE' }));
  });

  it('[fuzz] never pays more than the pool, dust below the contributor count, proportional to score', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }).chain((k) => fc.tuple(vector(k), fc.array(vector(k), { minLength: 1, maxLength: 8 }))), fc.bigInt({ min: 0n, max: AMOUNT_MAX }), ([t, index], pool) => {
        const s = split(t, index, pool);
        const paid = s.payouts.reduce((a, b) => a + b, 0n);
        expect(paid + s.dust).toBe(pool);
        expect(s.dust >= 0n).toBe(true);
        if (s.total > 0n) expect(s.dust < BigInt(index.length)).toBe(true);
        else expect(paid).toBe(0n);
        s.payouts.forEach((p, c) => {
          expect(p <= pool).toBe(true);
          if (s.scores[c] === 0n) expect(p).toBe(0n);
        });
      }),
      { seed: 20261124, numRuns: 300 },
    );
  });
});

describe('fixed point', () => {
  it('rounds half away from zero symmetrically', () => {
    expect(quantize([0.5, -0.5, 1.49, -1.5], { scale: 1, bits: 16 })).toEqual([1n, -1n, 1n, -2n]);
  });

  it('rejects values outside the declared bounds and non-finite input', () => {
    expect(() => quantize([32767.6], { scale: 1, bits: 16 })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_FEATURE_RANGE' }));
    expect(() => quantize([Number.NaN])).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_FEATURE_RANGE' }));
    // finite values whose scaled form overflows, and a subnormal maximum, are typed errors too
    expect(() => quantize([1e300], { scale: 1e300, bits: 16 })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_FEATURE_RANGE' }));
    expect(() => fitScale([[5e-324]])).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_FEATURE_RANGE' }));
    expect(() => quantize([1], { scale: 0, bits: 16 })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' }));
  });

  it('fitScale puts the largest magnitude at the edge of the range', () => {
    const vs = [[0.25, -2], [1.5, 0.1]];
    const scale = fitScale(vs);
    const q = vs.map((v) => quantize(v, { scale, bits: 16 }));
    expect(q[0]![1]).toBe(-32767n);
  });
});

describe('packing', () => {
  it('[fuzz] amounts round-trip through the public words', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: AMOUNT_MAX }), fc.array(fc.bigInt({ min: 0n, max: AMOUNT_MAX }), { minLength: 1, maxLength: 40 }), (pool, payouts) => {
        const words = packAmounts(pool, payouts);
        words.forEach((w) => expect(w < 1n << 240n).toBe(true));
        expect(unpackAmounts(words, payouts.length)).toEqual({ pool, payouts });
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('packs 15 offset features per chunk', () => {
    expect(packFeatures([FEATURE_MIN])).toEqual([0n]);
    expect(packFeatures([0n, FEATURE_MAX])).toEqual([32768n + (65535n << 16n)]);
    expect(packFeatures(new Array(16).fill(0n))).toHaveLength(2);
  });

  it('unpacks what it packs, and refuses a chunk wider than its lanes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 48 }).chain((k) => vector(k)), (t) => {
        expect(unpackFeatures(packFeatures(t), t.length)).toEqual(t);
      }),
    );
    // K = 17: the second chunk holds 2 lanes, so bit 32 is out of it
    const chunks = packFeatures(new Array(17).fill(0n));
    expect(() => unpackFeatures([chunks[0]!, chunks[1]! + (1n << 32n)], 17)).toThrow(ZkpoaError);
    expect(() => unpackFeatures(chunks, 31)).toThrow(/expected 3 feature chunks/);
  });
});
