declare module 'ffjavascript' {
  export interface Curve {
    terminate(): Promise<void>;
  }
  export function buildBn128(singleThread?: boolean): Promise<Curve>;
}
declare module 'ffjavascript' {
  export class BigBuffer {
    constructor(size: number);
    byteLength: number;
    set(buff: Uint8Array, offset: number): void;
    slice(start: number, end?: number): Uint8Array;
  }
  export const Scalar: { fromRprLE(b: Uint8Array, offset?: number, n8?: number): bigint };
  export const utils: { stringifyBigInts(x: unknown): unknown; unstringifyBigInts(x: unknown): unknown };
}
declare module 'circom_runtime' {
  export function WitnessCalculatorBuilder(code: Uint8Array, options?: Record<string, unknown>): Promise<{
    calculateWTNSBin(input: unknown, sanityCheck: boolean): Promise<Uint8Array>;
  }>;
}
declare module '@iden3/binfileutils' {
  export function readBinFile(file: unknown, type: string, maxVersion: number, cacheSize?: number, pageSize?: number): Promise<{ fd: { close(): Promise<void> }; sections: unknown }>;
  export function readSection(fd: unknown, sections: unknown, id: number, offset?: number, length?: number): Promise<Uint8Array>;
}
