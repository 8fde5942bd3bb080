// Minimal types for the parts of circomlibjs zkpoa uses.
declare module 'circomlibjs' {
  export interface Field {
    toObject(a: Uint8Array): bigint;
    e(a: bigint | number | string): Uint8Array;
  }
  export interface Poseidon {
    (inputs: (bigint | number | string)[], initState?: bigint, nOut?: number): Uint8Array;
    F: Field;
  }
  export function buildPoseidon(): Promise<Poseidon>;
  export const poseidonContract: {
    createCode(nInputs: number): string;
    generateABI(nInputs: number): unknown[];
  };
}
