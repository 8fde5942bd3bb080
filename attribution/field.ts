import { FIELD_MODULUS } from './constants.js';

/** A signed integer as a field element (negatives wrap to p - |x|). */
export function toField(x: bigint): bigint {
  const r = x % FIELD_MODULUS;
  return r < 0n ? r + FIELD_MODULUS : r;
}

/** Field element back to a signed integer, taking the upper half as negative. */
export function fromField(x: bigint): bigint {
  return x > FIELD_MODULUS / 2n ? x - FIELD_MODULUS : x;
}

export function isFieldElement(x: bigint): boolean {
  return x >= 0n && x < FIELD_MODULUS;
}
