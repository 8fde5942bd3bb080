/**
 * Numeric layout shared by the TypeScript reference and circuits/attribution.circom.
 * Change one, change both: test/attribution/constants.test.ts reads the circuit.
 */

/** BN254 scalar field order: every circuit value lives mod this prime. */
export const FIELD_MODULUS =
  21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Features are signed integers of this many bits: [-2^15, 2^15). */
export const FEATURE_BITS = 16;
export const FEATURE_MIN = -(1n << BigInt(FEATURE_BITS - 1));
export const FEATURE_MAX = (1n << BigInt(FEATURE_BITS - 1)) - 1n;

/** Features packed per field element (15 × 16 = 240 bits < 253). */
export const FEATURES_PER_CHUNK = 15;

/** Fee, pool and payouts are unsigned integers below 2^80 (≈ 1.2M OPEN at 18 decimals). */
export const AMOUNT_BITS = 80;
export const AMOUNT_MAX = (1n << BigInt(AMOUNT_BITS)) - 1n;

/** Receipt numbers (per adapter, from 0) are below 2^64. */
export const RECEIPT_NUMBER_BITS = 64;

/** A contributor's cumulative amount in a payout ledger is below 2^96 (more than all OPEN there is). */
export const LEDGER_BITS = 96;

/** Amounts packed per public signal (3 × 80 = 240 bits < 253). */
export const AMOUNTS_PER_WORD = 3;

export function ceilLog2(n: number): number {
  let r = 0;
  while (2 ** r < n) r++;
  return r;
}

/** Number of packed field elements for K features. */
export function chunkCount(features: number): number {
  return Math.ceil(features / FEATURES_PER_CHUNK);
}

/** Public amount words for C contributors: [pool, payout_0..payout_{C-1}]. */
export function amountWordCount(contributors: number): number {
  return Math.ceil((contributors + 1) / AMOUNTS_PER_WORD);
}

/** |<t, G_c>| < 2^scoreBits(K). */
export function scoreBits(features: number): number {
  return 2 * (FEATURE_BITS - 1) + ceilLog2(features) + 1;
}
