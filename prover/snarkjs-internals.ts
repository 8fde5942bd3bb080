import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * snarkjs's own functions for the parts of its file formats that a key must reproduce
 * exactly: the phase-2 contribution transcript (hashToG2, the public key hash), the
 * powers-of-tau contribution record and challenge hashes, the MPC section writer.
 * snarkjs's package entry does not export them, so they are imported from its sources
 * (as prover/groth16.ts does for the zkey header reader): using them, rather than
 * copies, keeps the keys in step with the snarkjs that checks them.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
type Point = Uint8Array;

export interface Blake2b {
  update(data: Uint8Array): Blake2b;
  digest(): Uint8Array;
}

/** A phase-2 contribution as snarkjs's zkey_utils writes it. */
export interface ZkeyContribution {
  deltaAfter: Point;
  delta: { g1_s: Point; g1_sx: Point; g2_spx: Point };
  transcript: Uint8Array;
  type: number;
  name?: string;
}

export interface PtauKeyPart {
  prvKey: Uint8Array;
  g1_s: Point;
  g1_sx: Point;
  g2_sp: Point;
  g2_spx: Point;
}
export interface PtauKey {
  tau: PtauKeyPart;
  alpha: PtauKeyPart;
  beta: PtauKeyPart;
}

/** A powers-of-tau contribution record (section 7). */
export interface PtauContribution {
  tauG1: Point;
  tauG2: Point;
  alphaG1: Point;
  betaG1: Point;
  betaG2: Point;
  key: PtauKey;
  partialHash: Uint8Array;
  nextChallenge: Uint8Array;
  type: number;
  name?: string;
}

export interface SnarkjsInternals {
  /** blake2b-512 as snarkjs uses it (its own @noble/hashes) */
  blake2b(): Blake2b;
  keypair: {
    hashToG2(curve: any, hash: Uint8Array): Point;
    getG2sp(curve: any, personalization: number, challenge: Uint8Array, g1s: Point, g1sx: Point): Point;
  };
  zkeyUtils: {
    hashG1(hasher: Blake2b, curve: any, p: Point): void;
    hashPubKey(hasher: Blake2b, curve: any, c: ZkeyContribution): void;
    writeMPCParams(fd: any, curve: any, params: { csHash: Uint8Array; contributions: ZkeyContribution[] }): Promise<void>;
  };
  ptauUtils: {
    writePTauHeader(fd: any, curve: any, power: number, ceremonyPower?: number): Promise<void>;
    calculateFirstChallengeHash(curve: any, power: number): Uint8Array;
    toPtauPubKeyRpr(buff: Uint8Array, pos: number, curve: any, key: PtauKey, montgomery: boolean): Uint8Array;
    writeContributions(fd: any, curve: any, contributions: PtauContribution[]): Promise<void>;
  };
  misc: {
    toPartialHash(hasher: Blake2b): Uint8Array;
  };
}

let loaded: Promise<SnarkjsInternals> | undefined;

export function snarkjsInternals(): Promise<SnarkjsInternals> {
  loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const main = require.resolve('snarkjs');
    const src = join(dirname(main), '..', 'src');
    const load = async (file: string) => (await import(pathToFileURL(join(src, file)).href)) as Record<string, unknown>;
    const noble = (await import(pathToFileURL(createRequire(main).resolve('@noble/hashes/blake2b')).href)) as { blake2b: { create(opts: { dkLen: number }): Blake2b } };
    return {
      blake2b: () => noble.blake2b.create({ dkLen: 64 }),
      keypair: (await load('keypair.js')) as unknown as SnarkjsInternals['keypair'],
      zkeyUtils: (await load('zkey_utils.js')) as unknown as SnarkjsInternals['zkeyUtils'],
      ptauUtils: (await load('powersoftau_utils.js')) as unknown as SnarkjsInternals['ptauUtils'],
      misc: (await load('misc.js')) as unknown as SnarkjsInternals['misc'],
    };
  })();
  return loaded;
}
