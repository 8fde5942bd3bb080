import { randomBytes } from 'node:crypto';
import { buildBn128 } from 'ffjavascript';
import { describe, expect, it } from 'vitest';
import { FIELD_MODULUS } from '../../attribution/index.js';
import { Bn128Wasm } from '../../prover/bn128-wasm.js';
import { chooseWindow, FixedBaseTable, windowCount, type GroupName } from '../../prover/fixed-base.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const le = (x: bigint) => {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++, x >>= 8n) b[i] = Number(x & 0xffn);
  return b;
};

/** scalars where windows and their carries are at their edges, and random ones */
const SCALARS = [
  0n,
  1n,
  2n,
  FIELD_MODULUS - 1n,
  FIELD_MODULUS - 2n,
  (1n << 253n) + 1n,
  (1n << 16n) - 1n,
  (1n << 15n) + 1n,
  0x8000800080008000800080008000800080008000800080008000800080008000n % FIELD_MODULUS,
  0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffn % FIELD_MODULUS,
  ...Array.from({ length: 6 }, () => BigInt('0x' + randomBytes(40).toString('hex')) % FIELD_MODULUS),
];

describe('fixed-base multiplication', () => {
  it.each([
    ['G1', 2],
    ['G1', 5],
    ['G1', 8],
    ['G1', 13],
    ['G2', 3],
    ['G2', 8],
    ['G2', 11],
  ] as [GroupName, number][])('%s at window %i gives the same points as generic scalar multiplication, in both formats', async (group, w) => {
    const wasm = await Bn128Wasm.create();
    const curve = (await buildBn128(true)) as any;
    const G = curve[group];
    const table = new FixedBaseTable(wasm, group, w);
    const scalars = new Uint8Array(SCALARS.length * 32);
    SCALARS.forEach((s, i) => scalars.set(le(s), i * 32));
    const { lem, u } = table.multiply(scalars, 'both');
    const size = group === 'G1' ? 64 : 128;
    SCALARS.forEach((s, i) => {
      const expected = G.toAffine(G.timesScalar(G.g, le(s)));
      expect(Buffer.from(lem.subarray(i * size, (i + 1) * size)).equals(Buffer.from(expected))).toBe(true);
      expect(Buffer.from(u.subarray(i * size, (i + 1) * size)).equals(Buffer.from(G.toUncompressed(expected)))).toBe(true);
    });
    // the caller's scalars are left as they were; a second call reuses the table
    expect(table.multiply(scalars.slice(32, 64), 'lem')).toEqual(lem.slice(size, 2 * size));
  });

  it('refuses a scalar that is not a reduced field element, and a window out of range', async () => {
    const wasm = await Bn128Wasm.create();
    const table = new FixedBaseTable(wasm, 'G1', 4);
    expect(() => table.multiply(le(1n << 254n), 'lem')).toThrow(/not below 2\^254/);
    expect(() => table.multiply(new Uint8Array(31), 'lem')).toThrow(/32-byte/);
    expect(() => new FixedBaseTable(wasm, 'G1', 17)).toThrow(RangeError);
  });

  it('chooses wider windows for more products, within the memory cap', () => {
    expect(chooseWindow(100)).toBeLessThan(chooseWindow(100_000));
    expect(chooseWindow(10_000_000)).toBe(16);
    expect(windowCount(16)).toBe(16); // 254 bits in 16-bit signed digits: the top digit never carries
    expect(windowCount(2)).toBe(128);
  });
});
