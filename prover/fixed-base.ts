import type { Bn128Exports, Bn128Wasm } from './bn128-wasm.js';

/**
 * Fixed-base scalar multiplication of a group's generator: k·G for many scalars k,
 * with a table of signed w-bit windows (Lim–Lee / "comb by windows"). The table holds
 * j·2^(w·i)·G for every window i and 1 ≤ j ≤ 2^(w−1); a scalar recoded into signed digits
 * d_i ∈ [−2^(w−1), 2^(w−1)] is then Σ d_i·2^(w·i)·G, one mixed addition (or subtraction)
 * per non-zero digit and no doubling. At w = 16 a G1 product is ~16 additions instead of
 * the ~380 group operations of a generic double-and-add.
 *
 * Points come out as snarkjs stores them: affine, coordinates little-endian in Montgomery
 * form (LEM), or uncompressed (big-endian, standard form) for hashing.
 */

export type GroupName = 'G1' | 'G2';

/** bytes of one base-field coordinate */
const FIELD_BYTES: Record<GroupName, number> = { G1: 32, G2: 64 };
/** scalars are 32 bytes, little-endian, standard form, < r < 2^254 */
export const SCALAR_BYTES = 32;
const SCALAR_BITS = 254;
/** the largest window: a G2 table at w = 16 is 16 × 2^15 × 128 bytes = 64 MiB per thread */
export const MAX_WINDOW = 16;

export function affineBytes(group: GroupName): number {
  return FIELD_BYTES[group] * 2;
}

/** Windows for a w-bit signed recoding of a 254-bit scalar (one more if the top window is full, for its carry). */
export function windowCount(w: number): number {
  return Math.floor(SCALAR_BITS / w) + 1;
}

/**
 * The window width that minimises a thread's work for `products` multiplications:
 * building the table costs one addition per entry, each product one per window.
 */
export function chooseWindow(products: number): number {
  let best = 2;
  let bestCost = Infinity;
  for (let w = 2; w <= MAX_WINDOW; w++) {
    const cost = windowCount(w) * (2 ** (w - 1) + products);
    if (cost < bestCost) [best, bestCost] = [w, cost];
  }
  return best;
}

type Op3 = (a: number, b: number, r: number) => void;

export class FixedBaseTable {
  readonly group: GroupName;
  readonly window: number;
  private readonly table: number;
  private readonly add: Op3;
  private readonly sub: Op3;
  private readonly zero: (r: number) => void;
  private readonly toAffine: (pIn: number, n: number, pOut: number) => void;
  private readonly toUncompressed: (pIn: number, n: number, pOut: number) => void;

  /** Builds the table of the group's generator in `wasm`'s memory (it stays allocated). */
  constructor(
    private readonly wasm: Bn128Wasm,
    group: GroupName,
    window: number,
  ) {
    if (!Number.isInteger(window) || window < 2 || window > MAX_WINDOW) throw new RangeError(`window must be an integer in [2, ${MAX_WINDOW}]`);
    this.group = group;
    this.window = window;
    const ex: Bn128Exports = wasm.exports;
    const g = group === 'G1' ? { add: ex.g1m_add, double: ex.g1m_double, copy: ex.g1m_copy, addMixed: ex.g1m_addMixed, subMixed: ex.g1m_subMixed, zero: ex.g1m_zero, toAffine: ex.g1m_batchToAffine, toU: ex.g1m_batchLEMtoU, gen: wasm.pG1gen }
      : { add: ex.g2m_add, double: ex.g2m_double, copy: ex.g2m_copy, addMixed: ex.g2m_addMixed, subMixed: ex.g2m_subMixed, zero: ex.g2m_zero, toAffine: ex.g2m_batchToAffine, toU: ex.g2m_batchLEMtoU, gen: wasm.pG2gen };
    this.add = g.addMixed;
    this.sub = g.subMixed;
    this.zero = g.zero;
    this.toAffine = g.toAffine;
    this.toUncompressed = g.toU;

    const sJ = FIELD_BYTES[group] * 3;
    const sA = affineBytes(group);
    const half = 2 ** (window - 1);
    const entries = windowCount(window) * half;
    this.table = wasm.alloc(entries * sA);
    const mark = wasm.mark;
    const jacobian = wasm.alloc(entries * sJ);
    const base = wasm.alloc(sJ);
    g.copy(g.gen, base);
    for (let i = 0; i < windowCount(window); i++) {
      const row = jacobian + i * half * sJ;
      g.copy(base, row);
      for (let j = 1; j < half; j++) g.add(row + (j - 1) * sJ, base, row + j * sJ);
      g.double(row + (half - 1) * sJ, base); // 2^w times this window's base
    }
    wasm.ensure(entries * sJ);
    g.toAffine(jacobian, entries, this.table);
    wasm.release(mark);
  }

  /**
   * k·G for each 32-byte scalar in `scalars` (standard form, little-endian, < 2^254):
   * affine points in snarkjs's LEM form, or uncompressed (`'u'`), or both.
   */
  multiply(scalars: Uint8Array, format: 'lem' | 'u'): Uint8Array;
  multiply(scalars: Uint8Array, format: 'both'): { lem: Uint8Array; u: Uint8Array };
  multiply(scalars: Uint8Array, format: 'lem' | 'u' | 'both'): Uint8Array | { lem: Uint8Array; u: Uint8Array } {
    if (scalars.byteLength % SCALAR_BYTES !== 0) throw new RangeError('scalars must be a whole number of 32-byte values');
    const n = scalars.byteLength / SCALAR_BYTES;
    const words = new Uint32Array(scalars.buffer.slice(scalars.byteOffset, scalars.byteOffset + scalars.byteLength));
    const { wasm, window: w } = this;
    const sJ = FIELD_BYTES[this.group] * 3;
    const sA = affineBytes(this.group);
    const half = 2 ** (w - 1);
    const full = 2 ** w;
    const mask = full - 1;
    const windows = windowCount(w);
    const mark = wasm.mark;
    try {
      const acc = wasm.alloc(n * sJ);
      const out = wasm.alloc(n * sA);
      for (let k = 0; k < n; k++) {
        const p = acc + k * sJ;
        const o = k * 8;
        if (words[o + 7]! >>> 30 !== 0) throw new RangeError(`scalar ${k} is not below 2^254 (not a reduced field element)`);
        this.zero(p);
        let carry = 0;
        for (let i = 0; i < windows; i++) {
          const bit = i * w;
          const word = bit >>> 5;
          const shift = bit & 31;
          let d = 0;
          if (word < 8) {
            d = words[o + word]! >>> shift;
            if (shift + w > 32 && word + 1 < 8) d |= words[o + word + 1]! << (32 - shift);
            d &= mask;
          }
          d += carry;
          if (d > half) {
            d -= full;
            carry = 1;
          } else carry = 0;
          if (d > 0) this.add(p, this.table + (i * half + d - 1) * sA, p);
          else if (d < 0) this.sub(p, this.table + (i * half - d - 1) * sA, p);
        }
      }
      wasm.ensure(n * sJ);
      this.toAffine(acc, n, out);
      const lem = format === 'u' ? undefined : wasm.get(out, n * sA);
      if (format === 'lem') return lem!;
      this.toUncompressed(out, n, out);
      const u = wasm.get(out, n * sA);
      return format === 'u' ? u : { lem: lem!, u };
    } finally {
      words.fill(0);
      wasm.release(mark);
    }
  }
}
