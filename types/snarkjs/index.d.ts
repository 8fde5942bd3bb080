// Minimal types for the parts of snarkjs zkpoa uses.
declare module 'snarkjs' {
  export type MemFile = { type: 'mem'; data?: Uint8Array };
  export type FileLike = string | MemFile | Uint8Array;
  export interface Logger {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  }
  export interface Groth16Proof {
    pi_a: string[];
    pi_b: string[][];
    pi_c: string[];
    protocol: string;
    curve: string;
  }
  export type PublicSignals = string[];
  export interface VerificationKey {
    protocol: string;
    curve: string;
    nPublic: number;
    [k: string]: unknown;
  }
  export const groth16: {
    fullProve(
      input: Record<string, unknown>,
      wasm: FileLike,
      zkey: FileLike,
      logger?: Logger,
      wtnsCalcOptions?: Record<string, unknown>,
      proverOptions?: Record<string, unknown>,
    ): Promise<{ proof: Groth16Proof; publicSignals: PublicSignals }>;
    verify(vk: VerificationKey, publicSignals: PublicSignals, proof: Groth16Proof, logger?: Logger): Promise<boolean>;
    exportSolidityCallData(proof: Groth16Proof, publicSignals: PublicSignals): Promise<string>;
  };
  export const powersOfTau: {
    newAccumulator(curve: unknown, power: number, fileName: FileLike, logger?: Logger): Promise<unknown>;
    contribute(oldPtau: FileLike, newPtau: FileLike, name: string, entropy: string, logger?: Logger): Promise<unknown>;
    preparePhase2(oldPtau: FileLike, newPtau: FileLike, logger?: Logger): Promise<unknown>;
  };
  export const zKey: {
    newZKey(r1cs: FileLike, ptau: FileLike, zkey: FileLike, logger?: Logger): Promise<unknown>;
    contribute(oldZkey: FileLike, newZkey: FileLike, name: string, entropy: string, logger?: Logger): Promise<unknown>;
    exportVerificationKey(zkey: FileLike, logger?: Logger): Promise<VerificationKey>;
    exportSolidityVerifier(zkey: FileLike, templates: Record<string, string>, logger?: Logger): Promise<string>;
  };
  export const curves: {
    getCurveFromName(name: string, options?: { singleThread?: boolean }): Promise<{ terminate(): Promise<void> }>;
  };
  export const r1cs: {
    info(r1cs: FileLike, logger?: Logger): Promise<{ nConstraints: number; nOutputs: number; nPubInputs: number; nPrvInputs: number; nVars: number }>;
  };
}
