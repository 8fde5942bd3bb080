// The writing side of @iden3/binfileutils (the reading side is declared with ffjavascript's types).
declare module '@iden3/binfileutils' {
  export interface BinFileWriter {
    write(buff: Uint8Array, pos?: number): Promise<void>;
    writeULE32(v: number, pos?: number): Promise<void>;
    close(): Promise<void>;
  }
  export function createBinFile(file: string, type: string, version: number, nSections: number, cacheSize?: number, pageSize?: number): Promise<BinFileWriter>;
  export function startWriteSection(fd: BinFileWriter, idSection: number): Promise<void>;
  export function endWriteSection(fd: BinFileWriter): Promise<void>;
}
declare module 'ffjavascript' {
  /** ffjavascript's ChaCha20 generator (what snarkjs seeds its random points with) */
  export class ChaCha {
    constructor(seed?: number[]);
  }
}
