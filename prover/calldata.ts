import type { Groth16Proof, PublicSignals } from 'snarkjs';

/** Arguments of the generated Solidity verifier's verifyProof(a, b, c, input), as bigints. */
export interface SolidityCalldata {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
  input: bigint[];
}

/** Same encoding as `snarkjs zkey export soliditycalldata` (G2 coordinates swapped for the precompile). */
export function toSolidityCalldata(proof: Groth16Proof, publicSignals: PublicSignals): SolidityCalldata {
  const n = (x: string | undefined) => BigInt(x ?? 'x');
  return {
    a: [n(proof.pi_a[0]), n(proof.pi_a[1])],
    b: [
      [n(proof.pi_b[0]?.[1]), n(proof.pi_b[0]?.[0])],
      [n(proof.pi_b[1]?.[1]), n(proof.pi_b[1]?.[0])],
    ],
    c: [n(proof.pi_c[0]), n(proof.pi_c[1])],
    input: publicSignals.map((s) => BigInt(s)),
  };
}

/** The proof as the settlement contract takes it: [a0, a1, b00, b01, b10, b11, c0, c1]. */
export function flattenProof(cd: SolidityCalldata): bigint[] {
  return [...cd.a, ...cd.b[0], ...cd.b[1], ...cd.c];
}
