import { buildPoseidon, type Poseidon } from 'circomlibjs';

/**
 * circomlib's Poseidon (same constants as circomlib/circuits/poseidon.circom), built
 * once per thread. circomlibjs builds it on a single-threaded curve, so it never
 * keeps worker threads alive.
 */
let instance: Promise<Poseidon> | undefined;

export function poseidon(): Promise<Poseidon> {
  instance ??= buildPoseidon();
  return instance;
}

/** Poseidon over 1..16 field elements, as a bigint. */
export type Hasher = (inputs: readonly bigint[]) => bigint;

export async function hasher(): Promise<Hasher> {
  const p = await poseidon();
  return (inputs) => p.F.toObject(p([...inputs]));
}
