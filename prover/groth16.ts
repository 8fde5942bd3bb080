import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as binFileUtils from '@iden3/binfileutils';
import { WitnessCalculatorBuilder } from 'circom_runtime';
import { BigBuffer, Scalar, utils } from 'ffjavascript';
import type { Groth16Proof, PublicSignals } from 'snarkjs';
import { ZkpoaError } from '../attribution/errors.js';

/**
 * snarkjs's Groth16 prover (src/groth16_prove.js), restructured for a long-lived
 * worker: the proving key is parsed once, the witness generator is compiled once,
 * and the four witness MSMs (A, B1, B2, C) are computed as a cached reference plus a
 * sparse difference.
 *
 * Why the difference is cheap here: every batch of one adapter reuses that adapter's
 * index, so part of the witness (leaf hashes, the Merkle tree, the features' range
 * bits) is identical from one proof to the next. An MSM is linear in its scalars, so
 * MSM(w) = MSM(w_ref) + MSM(w − w_ref), and w − w_ref is zero wherever they agree.
 * The reference is the first witness seen for the same binding (public signal 0).
 * Proofs stay zero-knowledge: the blinding factors r, s are fresh for each proof,
 * exactly as in snarkjs; only exact partial sums are reused.
 */

// snarkjs does not export its zkey header reader; import it from the package's sources.
const require = createRequire(import.meta.url);
const snarkjsSrc = join(dirname(require.resolve('snarkjs')), '..', 'src');
const zkeyUtils = (await import(pathToFileURL(join(snarkjsSrc, 'zkey_utils.js')).href)) as {
  readHeader(fd: unknown, sections: unknown, toObject?: boolean): Promise<ZkeyHeader>;
};

/* eslint-disable @typescript-eslint/no-explicit-any */
type Point = Uint8Array;
interface Group {
  add(a: Point, b: Point): Point;
  neg(a: Point): Point;
  timesFr(a: Point, s: Uint8Array): Point;
  toAffine(a: Point): Point;
  toObject(a: Point): unknown;
  multiExpAffine(bases: Uint8Array, scalars: Uint8Array, logger?: unknown, text?: string): Promise<Point>;
  zero: Point;
  F: { n8: number };
}
interface ZkeyHeader {
  protocol: string;
  nVars: number;
  nPublic: number;
  domainSize: number;
  n8r: number;
  curve: any;
  vk_alpha_1: Point;
  vk_beta_1: Point;
  vk_beta_2: Point;
  vk_delta_1: Point;
  vk_delta_2: Point;
}

interface Reference {
  witness: Uint8Array;
  a: Point;
  b1: Point;
  b2: Point;
  c: Point;
}

const N8 = 32;
const MAX_REFERENCES = 16;

export class Groth16Engine {
  private readonly refs = new Map<string, Reference>();

  private constructor(
    private readonly zkey: ZkeyHeader,
    private readonly sections: { coeffs: Uint8Array; a: Uint8Array; b1: Uint8Array; b2: Uint8Array; c: Uint8Array; h: Uint8Array },
    private readonly wc: { calculateWTNSBin(input: unknown, sanityCheck: boolean): Promise<Uint8Array> },
  ) {}

  static async load(zkeyBytes: Uint8Array, wasmBytes: Uint8Array): Promise<Groth16Engine> {
    const corrupt = (what: string, cause?: unknown) => new ZkpoaError('ZKPOA_ERR_ARTIFACTS_CORRUPT', `the proving key ${what}: rebuild it (npm run setup -- --force)`, { cause });
    const { fd, sections, zkey } = await (async () => {
      const file = await binFileUtils.readBinFile({ type: 'mem', data: zkeyBytes }, 'zkey', 2, 1 << 25, 1 << 23);
      return { ...file, zkey: await zkeyUtils.readHeader(file.fd, file.sections) };
    })().catch((err: Error) => {
      throw corrupt(`is not a readable zkey (${err.message})`, err);
    });
    if (zkey.protocol !== 'groth16') throw new Error('zkey is not groth16');
    // views into the key's bytes, not copies (binfileutils would copy, and hand a section over 1 GiB back in pieces)
    const read = (id: number) => {
      const s = (sections as unknown as ({ p: number; size: number }[] | undefined)[])[id]?.[0];
      // a view past the end would be silently short, and its proofs wrong
      if (!s || s.p + s.size > zkeyBytes.length) {
        throw corrupt(s ? `ends at byte ${zkeyBytes.length}, inside section ${id} (bytes ${s.p} to ${s.p + s.size})` : `has no section ${id}`);
      }
      return zkeyBytes.subarray(s.p, s.p + s.size);
    };
    const loaded = { coeffs: read(4), a: read(5), b1: read(6), b2: read(7), c: read(8), h: read(9) };
    await fd.close();
    const wc = await WitnessCalculatorBuilder(wasmBytes);
    return new Groth16Engine(zkey, loaded, wc);
  }

  async prove(input: Record<string, unknown>): Promise<{ proof: Groth16Proof; publicSignals: PublicSignals }> {
    const { zkey } = this;
    const curve = zkey.curve;
    const Fr = curve.Fr;
    const G1: Group = curve.G1;
    const G2: Group = curve.G2;
    const wtnsBin = await this.wc.calculateWTNSBin(input, true);
    const witness = wtnsBin.subarray(wtnsBin.length - zkey.nVars * N8);

    // H: the quotient polynomial, as snarkjs computes it
    const [aT, bT, cT] = buildABC(curve, zkey, witness, this.sections.coeffs);
    const power = Math.log2(zkey.domainSize);
    const inc = power === Fr.s ? Fr.shift : Fr.w[power + 1];
    const odd = async (t: unknown, name: string) => Fr.fft(await Fr.batchApplyKey(await Fr.ifft(t, '', '', undefined, `IFFT_${name}`), Fr.e(1), inc), '', '', undefined, `FFT_${name}`);
    const [aOdd, bOdd, cOdd] = [await odd(aT, 'A'), await odd(bT, 'B'), await odd(cT, 'C')];
    const pOdd = await joinABC(curve, aOdd, bOdd, cOdd);

    const w = await this.witnessMsms(witness);
    const resH = await G1.multiExpAffine(this.sections.h, pOdd);

    const r = Fr.random();
    const s = Fr.random();
    let piA = G1.add(G1.add(w.a, zkey.vk_alpha_1), G1.timesFr(zkey.vk_delta_1, r));
    const piB = G2.add(G2.add(w.b2, zkey.vk_beta_2), G2.timesFr(zkey.vk_delta_2, s));
    const b1 = G1.add(G1.add(w.b1, zkey.vk_beta_1), G1.timesFr(zkey.vk_delta_1, s));
    let piC = G1.add(w.c, resH);
    piC = G1.add(piC, G1.timesFr(piA, s));
    piC = G1.add(piC, G1.timesFr(b1, r));
    piC = G1.add(piC, G1.timesFr(zkey.vk_delta_1, Fr.neg(Fr.mul(r, s))));
    piA = G1.toAffine(piA);

    const publicSignals: bigint[] = [];
    for (let i = 1; i <= zkey.nPublic; i++) publicSignals.push(Scalar.fromRprLE(witness.slice(i * N8, (i + 1) * N8)));
    const proof = {
      pi_a: G1.toObject(piA),
      pi_b: G2.toObject(G2.toAffine(piB)),
      pi_c: G1.toObject(G1.toAffine(piC)),
      protocol: 'groth16',
      curve: curve.name,
    };
    return { proof: utils.stringifyBigInts(proof) as Groth16Proof, publicSignals: utils.stringifyBigInts(publicSignals) as PublicSignals };
  }

  /** Σ w_i·P_i for A, B1, B2 (all wires) and C (private wires), through the cached reference when one fits. */
  private async witnessMsms(witness: Uint8Array): Promise<Omit<Reference, 'witness'>> {
    const { zkey, sections } = this;
    const G1: Group = zkey.curve.G1;
    const G2: Group = zkey.curve.G2;
    const privateFrom = zkey.nPublic + 1;
    const key = Buffer.from(witness.subarray(N8, 2 * N8)).toString('hex'); // public signal 0: the binding
    const ref = this.refs.get(key);
    if (!ref) {
      const full = {
        a: await G1.multiExpAffine(sections.a, witness),
        b1: await G1.multiExpAffine(sections.b1, witness),
        b2: await G2.multiExpAffine(sections.b2, witness),
        c: await G1.multiExpAffine(sections.c, witness.subarray(privateFrom * N8)),
      };
      if (this.refs.size >= MAX_REFERENCES) this.refs.delete(this.refs.keys().next().value!);
      this.refs.set(key, { witness: witness.slice(), ...full });
      return full;
    }
    const delta = sparseDelta(BigInt(zkey.curve.r.toString()), witness, ref.witness);
    const apply = async (G: Group, bases: Uint8Array, base: Point, from: number) => {
      const sG = G.F.n8 * 2; // affine point size
      const part = async (idx: number[], scalars: Uint8Array[]) => {
        const kept = idx.map((i, j) => [i, j] as const).filter(([i]) => i >= from);
        if (kept.length === 0) return G.zero;
        const b = new Uint8Array(kept.length * sG);
        const sc = new Uint8Array(kept.length * N8);
        kept.forEach(([i, j], k) => {
          b.set(bases.subarray((i - from) * sG, (i - from + 1) * sG), k * sG);
          sc.set(scalars[j]!, k * N8);
        });
        return G.multiExpAffine(b, sc);
      };
      return G.add(G.add(base, await part(delta.posIdx, delta.pos)), G.neg(await part(delta.negIdx, delta.neg)));
    };
    return {
      a: await apply(G1, sections.a, ref.a, 0),
      b1: await apply(G1, sections.b1, ref.b1, 0),
      b2: await apply(G2, sections.b2, ref.b2, 0),
      c: await apply(G1, sections.c, ref.c, privateFrom),
    };
  }
}

const toLE = (x: bigint) => {
  const out = new Uint8Array(N8);
  for (let i = 0; i < N8 && x > 0n; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
};
const fromLE = (b: Uint8Array) => {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
};

/** w − ref mod r, split into small positive and negative parts (a flipped bit is ±1, not a 254-bit scalar). */
function sparseDelta(mod: bigint, w: Uint8Array, ref: Uint8Array) {
  const posIdx: number[] = [];
  const pos: Uint8Array[] = [];
  const negIdx: number[] = [];
  const neg: Uint8Array[] = [];
  const n = w.length / N8;
  for (let i = 0; i < n; i++) {
    const a = w.subarray(i * N8, (i + 1) * N8);
    const b = ref.subarray(i * N8, (i + 1) * N8);
    if (Buffer.compare(a, b) === 0) continue;
    const d = (((fromLE(a) - fromLE(b)) % mod) + mod) % mod;
    if (d <= mod / 2n) {
      posIdx.push(i);
      pos.push(toLE(d));
    } else {
      negIdx.push(i);
      neg.push(toLE(mod - d));
    }
  }
  return { posIdx, pos, negIdx, neg };
}

/** snarkjs buildABC1: the constraint polynomials' evaluations at the witness. */
function buildABC(curve: any, zkey: ZkeyHeader, witness: Uint8Array, coeffs: Uint8Array) {
  const n8 = curve.Fr.n8;
  const sCoef = 4 * 3 + zkey.n8r;
  const nCoef = (coeffs.byteLength - 4) / sCoef;
  const outA = new BigBuffer(zkey.domainSize * n8);
  const outB = new BigBuffer(zkey.domainSize * n8);
  const outC = new BigBuffer(zkey.domainSize * n8);
  const out = [outA, outB];
  const view = new DataView(coeffs.buffer, coeffs.byteOffset, coeffs.byteLength);
  for (let i = 0; i < nCoef; i++) {
    const at = 4 + i * sCoef;
    const m = view.getUint32(at, true);
    const c = view.getUint32(at + 4, true);
    const s = view.getUint32(at + 8, true);
    const coef = coeffs.subarray(at + 12, at + 12 + n8);
    const target = out[m]!;
    target.set(curve.Fr.add(target.slice(c * n8, c * n8 + n8), curve.Fr.mul(coef, witness.subarray(s * n8, s * n8 + n8))), c * n8);
  }
  for (let i = 0; i < zkey.domainSize; i++) {
    outC.set(curve.Fr.mul(outA.slice(i * n8, i * n8 + n8), outB.slice(i * n8, i * n8 + n8)), i * n8);
  }
  return [outA, outB, outC];
}

/** snarkjs joinABC: (A·B − C) on the odd coset, out of Montgomery form, in the curve's wasm. */
async function joinABC(curve: any, a: any, b: any, c: any) {
  const n8 = curve.Fr.n8;
  const n = Math.floor(a.byteLength / n8);
  const task = [
    { cmd: 'ALLOCSET', var: 0, buff: a.slice(0, n * n8) },
    { cmd: 'ALLOCSET', var: 1, buff: b.slice(0, n * n8) },
    { cmd: 'ALLOCSET', var: 2, buff: c.slice(0, n * n8) },
    { cmd: 'ALLOC', var: 3, len: n * n8 },
    { cmd: 'CALL', fnName: 'qap_joinABC', params: [{ var: 0 }, { var: 1 }, { var: 2 }, { val: n }, { var: 3 }] },
    { cmd: 'CALL', fnName: 'frm_batchFromMontgomery', params: [{ var: 3 }, { val: n }, { var: 3 }] },
    { cmd: 'GET', out: 0, var: 3, len: n * n8 },
  ];
  const [result] = await curve.tm.queueAction(task);
  return result as Uint8Array;
}
