import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as binFileUtils from '@iden3/binfileutils';
import { buildBn128, ChaCha } from 'ffjavascript';
import { readLargeFile } from '../lib/large-file.js';
import { createTsPool } from '../lib/pool.js';
import { Bn128Wasm } from './bn128-wasm.js';
import { affineBytes, chooseWindow, SCALAR_BYTES, type GroupName } from './fixed-base.js';
import type { FixedBaseTask } from './dev-setup-worker.js';
import { silentProgress, type Progress } from './progress.js';
import { snarkjsInternals, type PtauContribution, type PtauKey, type PtauKeyPart, type SnarkjsInternals, type ZkeyContribution } from './snarkjs-internals.js';

/**
 * Development Groth16 keys computed directly from fresh randomness, in snarkjs's formats.
 *
 * snarkjs's development path is a one-party powers of tau, `powersoftau prepare phase2`
 * (group FFTs over every power up to 2^(p+1), the slow step), `zkey new` and one
 * `zkey contribute`. Its trust is "whoever kept the randomness can forge proofs". This
 * module draws the same secrets — τ, α, β for the powers of tau and δ for the one phase-2
 * contribution — from the operating system's CSPRNG, keeps them in memory only, and uses
 * them directly: every key element is a field element (the Lagrange basis at τ and the
 * circuit's polynomials evaluated there, computed in the field) times a generator, one
 * fixed-base multiplication each, in worker threads. Same trust, no group FFTs.
 *
 * The keys are what those snarkjs commands would write for the same secrets, byte for
 * byte wherever `snarkjs zkey verify` compares bytes (IC, coefficients, A, B1, B2, the
 * circuit hash), and the contribution record is snarkjs's own (its transcript hash and
 * hashToG2 proof of knowledge of δ). γ is the G2 generator, as snarkjs's `zkey new` makes
 * it and as `zkey verify` requires (it compares γ with the key it rebuilds from the ptau).
 * On request the prepared powers of tau of the same τ, α, β is written too — a one-party
 * ceremony file that `snarkjs powersoftau verify` accepts — so that `snarkjs zkey verify
 * <r1cs> <ptau> <zkey>` can check the keys with stock snarkjs.
 *
 * "Dropped" means: never written, sent only to this process's worker threads, and the
 * buffers that held the secrets or scalars derived from them are overwritten once used
 * (JavaScript gives no stronger guarantee for the copies its runtime may make).
 */

/** How development keys are made; part of their cache key, so a change here rebuilds them. */
export const DEV_SETUP_METHOD = 'zkpoa-direct-setup-1';

export interface DevSetupOptions {
  /**
   * The keys are made as from a prepared powers of tau of this power, or of the circuit's
   * own if that is larger (snarkjs's `zkey new` reads H from the ptau's 2n-point basis,
   * which at the ptau's own power lacks its last power of τ; see `keyPower`).
   */
  minPower?: number;
  /** also write the prepared powers of tau of the same τ, α, β here (for `snarkjs zkey verify`) */
  ptauPath?: string;
  /** worker threads for the group multiplications (default: every core) */
  threads?: number;
  progress?: Progress;
  /** the name recorded with the phase-2 contribution */
  name?: string;
}

export interface DevSetupResult {
  /** the power of the powers of tau the keys correspond to */
  power: number;
  domainSize: number;
  nConstraints: number;
  nVars: number;
  nPublic: number;
  /** snarkjs's circuit hash (blake2b-512, hex), as `zkey verify` prints it */
  circuitHash: string;
  /** G1 and G2 fixed-base multiplications done */
  products: { G1: number; G2: number };
  ptauPath?: string;
}

/* ------------------------------------------------------------------ curve access */

type Point = Uint8Array;
interface Group {
  g: Point;
  toAffine(p: Point): Point;
  timesFr(p: Point, s: Uint8Array): Point;
  fromRng(rng: unknown): Point;
  toUncompressed(p: Point): Uint8Array;
  batchLEMtoC(b: Uint8Array): Promise<Uint8Array>;
  batchLEMtoU(b: Uint8Array): Promise<Uint8Array>;
}
interface Curve {
  G1: Group;
  G2: Group;
  Fr: { w: Uint8Array[]; s: number };
  q: bigint;
  r: bigint;
  terminate(): Promise<void>;
}

const N8 = 32;
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
/** snarkjs's newZKey hashes the H points in chunks of this many */
const HASH_CHUNK = 1 << 14;
/** scalars per worker task */
const TASK_SCALARS = 1 << 13;

function leBytes(x: bigint, n = N8): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++, x >>= 8n) b[i] = Number(x & 0xffn);
  return b;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The number of bits of x ≥ 1 (snarkjs's `log2(x) + 1`, its domain power for x = constraints + public signals). */
function bitLength(x: number): number {
  return 32 - Math.clz32(x);
}

/**
 * The power of the prepared powers of tau the keys are made from. snarkjs's `zkey new`
 * reads the H points from the ptau's basis of 2n points, which at the ptau's own power
 * is built from τ^0..τ^(2n−2) only (the last is set to zero); this module reproduces that.
 * But above 2^14 points its circuit hash also reads one point past the end of the ptau's
 * τ section (a chunking quirk), so there the keys are made as from one power more,
 * whose τ section holds that point.
 */
export function keyPower(circuitPower: number, minPower = circuitPower): number {
  const p = Math.max(minPower, circuitPower);
  return p === circuitPower && 2 ** circuitPower > HASH_CHUNK ? p + 1 : p;
}

/* ------------------------------------------------------------------ r1cs */

interface R1cs {
  nVars: number;
  nPublic: number;
  nConstraints: number;
  /** section 2 as in the file: per constraint, A, B and C as (count, (wire u32, coefficient 32 bytes LE)…) */
  constraints: Uint8Array;
}

/** An r1cs file's header: wires, public signals, constraints (without reading the constraints, which run to gigabytes). */
export async function readR1csHeader(path: string): Promise<Omit<R1cs, 'constraints'>> {
  const { fd, sections } = await binFileUtils.readBinFile(path, 'r1cs', 1, 1 << 22, 1 << 24);
  try {
    return parseHeader(path, await binFileUtils.readSection(fd, sections, 1));
  } finally {
    await fd.close();
  }
}

function parseHeader(path: string, h: Uint8Array): Omit<R1cs, 'constraints'> {
  const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const n8 = v.getUint32(0, true);
  let prime = 0n;
  for (let i = n8 - 1; i >= 0; i--) prime = (prime << 8n) | BigInt(h[4 + i]!);
  if (n8 !== N8 || prime !== R) throw new Error(`${path}: not a bn128 constraint system`);
  let o = 4 + n8;
  const nVars = v.getUint32(o, true);
  const nOutputs = v.getUint32(o + 4, true);
  const nPubInputs = v.getUint32(o + 8, true);
  o += 16 + 8; // nPrvInputs, nLabels (u64)
  const nConstraints = v.getUint32(o, true);
  return { nVars, nPublic: nOutputs + nPubInputs, nConstraints };
}

async function readR1cs(path: string): Promise<R1cs> {
  const { fd, sections } = await binFileUtils.readBinFile(path, 'r1cs', 1, 1 << 22, 1 << 24);
  let header: Omit<R1cs, 'constraints'>;
  let at: { p: number; size: number };
  try {
    header = parseHeader(path, await binFileUtils.readSection(fd, sections, 1));
    at = (sections as unknown as { p: number; size: number }[][])[2]![0]!;
  } finally {
    await fd.close();
  }
  // one contiguous buffer (binfileutils hands a section over 1 GiB back in pieces)
  const constraints = await readLargeFile(path, { offset: at.p, size: at.size });
  return { ...header, constraints };
}

/* ------------------------------------------------------------------ field arithmetic in wasm */

/** Field vectors in a Bn128Wasm memory: 32-byte elements, Montgomery form unless named `Std`. */
class Field {
  readonly ex;
  /** 1 in standard form: frm_mul(x, oneStd) takes x out of Montgomery form, frm_mul(xStd, yMont) gives x·y in standard form */
  readonly oneStd: number;
  readonly one: number;
  readonly tmp: number;

  constructor(readonly w: Bn128Wasm) {
    this.ex = w.exports;
    this.oneStd = this.scalar(leBytes(1n));
    this.one = w.alloc(N8);
    this.ex.frm_one(this.one);
    this.tmp = w.alloc(N8);
  }

  /** a standard-form element copied in (not converted) */
  scalar(bytes: Uint8Array): number {
    const p = this.w.alloc(N8);
    this.w.set(p, bytes);
    return p;
  }

  /** `n` zeroed elements */
  zeros(n: number): number {
    const p = this.w.alloc(n * N8);
    this.w.wipe(p, n * N8);
    return p;
  }

  /** A uniformly random non-zero element from 64 bytes of the OS's CSPRNG (Montgomery form). */
  random(): number {
    const p = this.w.alloc(N8);
    const hi = this.w.alloc(N8);
    for (;;) {
      const bytes = randomBytes(64);
      // x = lo + hi·2^256 (mod r); in Montgomery form lo·R + hi·R² — the module's Montgomery
      // product reduces inputs up to 2^256 correctly, so the 512-bit value is reduced exactly.
      this.w.set(p, bytes.subarray(0, 32));
      this.w.set(hi, bytes.subarray(32));
      bytes.fill(0);
      this.ex.frm_toMontgomery(p, p);
      this.ex.frm_toMontgomery(hi, hi);
      this.ex.frm_toMontgomery(hi, hi);
      this.ex.frm_add(p, hi, p);
      this.w.wipe(hi, N8);
      if (!this.ex.frm_isZero(p)) return p;
    }
  }

  inverse(a: number): number {
    const p = this.w.alloc(N8);
    this.w.ensure(2 * N8);
    this.ex.frm_batchInverse(a, N8, 1, p, N8);
    return p;
  }

  /** a^(2^k) */
  pow2k(a: number, k: number): number {
    const p = this.w.alloc(N8);
    this.ex.frm_copy(a, p);
    for (let i = 0; i < k; i++) this.ex.frm_mul(p, p, p);
    return p;
  }

  /** standard-form copy of a Montgomery element */
  std(a: number): number {
    const p = this.w.alloc(N8);
    this.ex.frm_mul(a, this.oneStd, p);
    return p;
  }

  /**
   * The Lagrange basis of the 2^bits-point domain (ω = Fr.w[bits], as ffjavascript's iFFT)
   * at τ, in Montgomery form: L_j(τ) = (τ^N − 1)·ω^j / (N·(τ − ω^j)), for every j or the odd
   * j only. `truncated`: the basis snarkjs's prepare phase 2 writes at 2^(p+1) points, the
   * inverse FFT of (τ^0, …, τ^(N−2), 0), which is L_j(τ) − τ^(N−1)·ω^j/N.
   */
  lagrange(tau: number, bits: number, omega: Uint8Array, opts: { oddOnly?: boolean; truncated?: boolean } = {}): number {
    const { ex, w } = this;
    const N = 2 ** bits;
    const count = opts.oddOnly ? N / 2 : N;
    const out = w.alloc(count * N8);
    const mark = w.mark;
    const pOmega = this.w.alloc(N8);
    w.set(pOmega, omega);
    const step = w.alloc(N8);
    if (opts.oddOnly) ex.frm_mul(pOmega, pOmega, step);
    else ex.frm_copy(pOmega, step);
    // ω^j into out, τ − ω^j into den
    const den = w.alloc(count * N8);
    const cur = w.alloc(N8);
    if (opts.oddOnly) ex.frm_copy(pOmega, cur);
    else ex.frm_one(cur);
    for (let i = 0; i < count; i++) {
      ex.frm_copy(cur, out + i * N8);
      ex.frm_sub(tau, cur, den + i * N8);
      if (ex.frm_isZero(den + i * N8)) throw new Error('τ fell on the evaluation domain (probability below 2^-225): run the setup again');
      ex.frm_mul(cur, step, cur);
    }
    const inv = w.alloc(count * N8);
    w.ensure((count + 1) * N8);
    ex.frm_batchInverse(den, N8, count, inv, N8);
    // c = (τ^N − 1)/N
    const c = this.pow2k(tau, bits);
    ex.frm_sub(c, this.one, c);
    const nInv = this.inverse(this.fromInt(N));
    ex.frm_mul(c, nInv, c);
    let last = 0;
    if (opts.truncated) {
      // τ^(N−1)/N
      last = this.pow2k(tau, bits);
      const tauInv = this.inverse(tau);
      ex.frm_mul(last, tauInv, last);
      ex.frm_mul(last, nInv, last);
      w.wipe(tauInv, N8);
    }
    for (let i = 0; i < count; i++) {
      const o = out + i * N8;
      ex.frm_mul(inv + i * N8, c, this.tmp);
      if (opts.truncated) ex.frm_sub(this.tmp, last, this.tmp);
      ex.frm_mul(o, this.tmp, o);
    }
    w.wipe(mark, w.mark - mark);
    w.release(mark);
    return out;
  }

  fromInt(n: number): number {
    const p = this.scalar(leBytes(BigInt(n)));
    this.ex.frm_toMontgomery(p, p);
    return p;
  }

  /** out_i = a_i·k for a vector (same form as a_i when k is Montgomery; standard form when k is standard) */
  scale(a: number, n: number, k: number): number {
    const out = this.w.alloc(n * N8);
    for (let i = 0; i < n; i++) this.ex.frm_mul(a + i * N8, k, out + i * N8);
    return out;
  }

  /** k·x^i for i < n (Montgomery) */
  powers(x: number, n: number, k = this.one): number {
    const out = this.w.alloc(n * N8);
    if (n > 0) this.ex.frm_copy(k, out);
    for (let i = 1; i < n; i++) this.ex.frm_mul(out + (i - 1) * N8, x, out + i * N8);
    return out;
  }
}

/* ------------------------------------------------------------------ the worker pool */

interface Job {
  group: GroupName;
  format: FixedBaseTask['format'];
  /** standard-form scalars, 32 bytes each */
  scalars: Uint8Array;
}

/** Runs every job's fixed-base multiplications on the pool; per job, the points in the asked format(s). */
async function multiplyAll(jobs: Job[], threads: number, onProgress: (done: number, total: number) => void): Promise<Uint8Array[]> {
  const count = (g: GroupName) => jobs.filter((j) => j.group === g).reduce((s, j) => s + j.scalars.byteLength / SCALAR_BYTES, 0);
  const totals = { G1: count('G1'), G2: count('G2') };
  const window = { G1: chooseWindow(Math.ceil(totals.G1 / threads)), G2: chooseWindow(Math.ceil(totals.G2 / threads)) };
  const total = totals.G1 + totals.G2;
  const pool = createTsPool(new URL('./dev-setup-worker.ts', import.meta.url), null, threads);
  let done = 0;
  try {
    return await Promise.all(
      jobs.map(async (job) => {
        const n = job.scalars.byteLength / SCALAR_BYTES;
        const sA = affineBytes(job.group);
        const per = job.format === 'both' ? 2 * sA : sA;
        const out = new Uint8Array(n * per);
        const tasks: Promise<void>[] = [];
        for (let i = 0; i < n; i += TASK_SCALARS) {
          const k = Math.min(TASK_SCALARS, n - i);
          const scalars = job.scalars.slice(i * SCALAR_BYTES, (i + k) * SCALAR_BYTES);
          const task: FixedBaseTask = { group: job.group, window: window[job.group], scalars, format: job.format };
          tasks.push(
            (pool.run(task, { transferList: [scalars.buffer] }) as Promise<Uint8Array>).then((points) => {
              if (job.format === 'both') {
                out.set(points.subarray(0, k * sA), i * sA);
                out.set(points.subarray(k * sA), n * sA + i * sA);
              } else out.set(points, i * sA);
              done += k;
              onProgress(done, total);
            }),
          );
        }
        job.scalars.fill(0);
        await Promise.all(tasks);
        return out;
      }),
    );
  } finally {
    await pool.close();
  }
}

/* ------------------------------------------------------------------ the setup */

interface Secrets {
  tau: number;
  alpha: number;
  beta: number;
}

class Writer {
  constructor(readonly fd: binFileUtils.BinFileWriter) {}
  async section(id: number, ...parts: Uint8Array[]): Promise<void> {
    await binFileUtils.startWriteSection(this.fd, id);
    for (const p of parts) await this.fd.write(p);
    await binFileUtils.endWriteSection(this.fd);
  }
}

function u32le(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x, true);
  return b;
}
function u32be(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x, false);
  return b;
}

/** A ChaCha generator seeded from the OS's CSPRNG (for snarkjs's random points g1_s, which are public). */
function freshRng(): unknown {
  const seed = randomBytes(32);
  const words = Array.from({ length: 8 }, (_, i) => seed.readUInt32BE(i * 4));
  seed.fill(0);
  return new ChaCha(words);
}

/**
 * Write the development proving key of the circuit `r1csPath` to `zkeyPath` (and, if
 * asked, the prepared powers of tau of the same τ, α, β to `opts.ptauPath`).
 */
export async function devSetup(r1csPath: string, zkeyPath: string, opts: DevSetupOptions = {}): Promise<DevSetupResult> {
  const progress = opts.progress ?? silentProgress;
  const threads = opts.threads ?? availableParallelism();
  const r1cs = await readR1cs(r1csPath);
  const { nVars: m, nPublic, nConstraints } = r1cs;
  const cirPower = bitLength(nConstraints + nPublic);
  const n = 2 ** cirPower;
  const power = keyPower(cirPower, opts.minPower);
  if (power + 1 > 28) throw new Error(`circuit too big: 2^${cirPower} constraints need a domain of 2^${power + 1} points, more than bn128's 2^28`);
  const truncated = power === cirPower;

  const sj = await snarkjsInternals();
  const curve = (await buildBn128(true)) as unknown as Curve;
  const w = await Bn128Wasm.create();
  const F = new Field(w);
  const ex = w.exports;

  let step = progress.step(`development keys 2^${cirPower}: field arithmetic (${nConstraints} constraints, ${m} wires)`);
  const secrets: Secrets = { tau: F.random(), alpha: F.random(), beta: F.random() };
  const delta = F.random();
  const deltaInv = F.inverse(delta);
  const deltaInvStd = F.std(deltaInv);

  // Lagrange basis of the n-point domain at τ, and α·L, β·L
  const L = F.lagrange(secrets.tau, cirPower, curve.Fr.w[cirPower]!);
  const alphaL = F.scale(L, n, secrets.alpha);
  const betaL = F.scale(L, n, secrets.beta);

  // A_i(τ), B_i(τ) and β·A_i + α·B_i + C_i at τ, accumulated in standard form
  const a = F.zeros(m);
  const b = F.zeros(m);
  const u = F.zeros(m);
  const cons = r1cs.constraints;
  const cv = new DataView(cons.buffer, cons.byteOffset, cons.byteLength);
  const R3 = F.scalar(leBytes((1n << 768n) % R)); // x·R³·R⁻¹ = x·R²: the coefficient as snarkjs stores it
  // count the A and B entries first (section 4 holds them), and find the largest constraint:
  // each is copied into wasm memory on its own (the whole section runs to gigabytes at scale)
  let nCoefs = nPublic + 1;
  let largest = 0;
  for (let c = 0, pos = 0; c < nConstraints; c++) {
    const start = pos;
    for (let mat = 0; mat < 3; mat++) {
      const k = cv.getUint32(pos, true);
      if (mat < 2) nCoefs += k;
      pos += 4 + k * (4 + N8);
    }
    largest = Math.max(largest, pos - start);
  }
  const scratch = w.alloc(largest);
  const coefs = new Uint8Array(4 + nCoefs * (12 + N8));
  const coefsView = new DataView(coefs.buffer);
  coefsView.setUint32(0, nCoefs, true);
  let cPos = 4;
  const pushCoef = (matrix: number, constraint: number, signal: number, pCoefStd: number) => {
    coefsView.setUint32(cPos, matrix, true);
    coefsView.setUint32(cPos + 4, constraint, true);
    coefsView.setUint32(cPos + 8, signal, true);
    ex.frm_mul(pCoefStd, R3, F.tmp);
    coefs.set(w.u8.subarray(F.tmp, F.tmp + N8), cPos + 12);
    cPos += 12 + N8;
  };
  const accumulate = (acc: number, s: number, pCoefStd: number, pValue: number) => {
    if (s >= m) throw new Error(`${r1csPath}: wire ${s} of a constraint is not below the ${m} wires the header declares`);
    ex.frm_mul(pCoefStd, pValue, F.tmp);
    ex.frm_add(acc + s * N8, F.tmp, acc + s * N8);
  };
  for (let c = 0, pos = 0; c < nConstraints; c++) {
    const lc = L + c * N8;
    // the constraint's bytes at `scratch`: a coefficient at section offset q is at pCons + q
    let end = pos;
    for (let mat = 0; mat < 3; mat++) end += 4 + cv.getUint32(end, true) * (4 + N8);
    w.set(scratch, cons.subarray(pos, end));
    const pCons = scratch - pos;
    let k = cv.getUint32(pos, true);
    pos += 4;
    for (let e = 0; e < k; e++, pos += 4 + N8) {
      const s = cv.getUint32(pos, true);
      const coef = pCons + pos + 4;
      accumulate(a, s, coef, lc);
      accumulate(u, s, coef, betaL + c * N8);
      pushCoef(0, c, s, coef);
    }
    k = cv.getUint32(pos, true);
    pos += 4;
    for (let e = 0; e < k; e++, pos += 4 + N8) {
      const s = cv.getUint32(pos, true);
      const coef = pCons + pos + 4;
      accumulate(b, s, coef, lc);
      accumulate(u, s, coef, alphaL + c * N8);
      pushCoef(1, c, s, coef);
    }
    k = cv.getUint32(pos, true);
    pos += 4;
    for (let e = 0; e < k; e++, pos += 4 + N8) {
      const s = cv.getUint32(pos, true);
      accumulate(u, s, pCons + pos + 4, lc);
    }
  }
  // snarkjs's extra constraints binding the public inputs: A_s += L_{nConstraints+s}, s = 0..nPublic
  for (let s = 0; s <= nPublic; s++) {
    accumulate(a, s, F.oneStd, L + (nConstraints + s) * N8);
    accumulate(u, s, F.oneStd, betaL + (nConstraints + s) * N8);
    pushCoef(0, nConstraints + s, s, F.oneStd);
  }
  w.wipe(scratch, largest);

  // C (L in Groth16's notation) before and after 1/δ; IC keeps γ = 1
  const nPriv = m - nPublic - 1;
  const cAfter = F.scale(u + (nPublic + 1) * N8, nPriv, deltaInv); // standard × Montgomery = standard
  // H: the 2n-point basis at the odd points, over δ
  const hBasis = F.lagrange(secrets.tau, cirPower + 1, curve.Fr.w[cirPower + 1]!, { oddOnly: true, truncated });
  const hAfter = F.scale(hBasis, n, deltaInvStd); // Montgomery × standard = standard
  // what the circuit hash covers for H: (τ^(n+i) − τ^i)·G1 for the points snarkjs's chunked loop reads
  const hHashed = n - 1 <= HASH_CHUNK ? n - 1 : Math.ceil((n - 1) / HASH_CHUNK) * HASH_CHUNK;
  const tauN1 = F.pow2k(secrets.tau, cirPower);
  ex.frm_sub(tauN1, F.one, tauN1);
  const hHash = F.powers(secrets.tau, hHashed, tauN1);
  for (let i = 0; i < hHashed; i++) ex.frm_mul(hHash + i * N8, F.oneStd, hHash + i * N8);
  step.done();

  const take = (p: number, count: number) => {
    const out = w.get(p, count * N8);
    w.wipe(p, count * N8);
    return out;
  };
  const jobs: Job[] = [
    { group: 'G1', format: 'both', scalars: take(u, nPublic + 1) }, // 0 IC
    { group: 'G1', format: 'u', scalars: take(hHash, hHashed) }, // 1 H, hashed form
    { group: 'G1', format: 'u', scalars: take(u + (nPublic + 1) * N8, nPriv) }, // 2 C before δ (hashed)
    { group: 'G1', format: 'lem', scalars: take(cAfter, nPriv) }, // 3 C
    { group: 'G1', format: 'both', scalars: take(a, m) }, // 4 A
    { group: 'G1', format: 'both', scalars: w.get(b, m * N8) }, // 5 B1
    { group: 'G2', format: 'both', scalars: take(b, m) }, // 6 B2
    { group: 'G1', format: 'lem', scalars: take(hAfter, n) }, // 7 H
  ];
  const ptauScalars = opts.ptauPath ? ptauJobs(F, secrets, power, curve) : [];
  for (const p of [L, alphaL, betaL, hBasis]) w.wipe(p, n * N8);

  const products = { G1: 0, G2: 0 };
  for (const j of [...jobs, ...ptauScalars]) products[j.group] += j.scalars.byteLength / SCALAR_BYTES;
  step = progress.step(`development keys 2^${cirPower}: ${products.G1 + products.G2} fixed-base products on ${threads} threads`);
  const results = await multiplyAll([...jobs, ...ptauScalars], threads, (d, t) => step.update(d, t));
  step.done(`G1 ${products.G1}, G2 ${products.G2}`);

  step = progress.step(`development keys 2^${cirPower}: contribution and files`);
  const sA1 = affineBytes('G1');
  const sA2 = affineBytes('G2');
  const split = (r: Uint8Array, count: number, s: number) => ({ lem: r.subarray(0, count * s), u: r.subarray(count * s) });
  const ic = split(results[0]!, nPublic + 1, sA1);
  const A = split(results[4]!, m, sA1);
  const B1 = split(results[5]!, m, sA1);
  const B2 = split(results[6]!, m, sA2);

  // header points: α, β in G1, β in G2 (the ptau's first α·τ^0, β·τ^0 points, β·G2)
  const alphaM = w.get(secrets.alpha, N8);
  const betaM = w.get(secrets.beta, N8);
  const alpha1 = curve.G1.toAffine(curve.G1.timesFr(curve.G1.g, alphaM));
  const beta1 = curve.G1.toAffine(curve.G1.timesFr(curve.G1.g, betaM));
  const beta2 = curve.G2.toAffine(curve.G2.timesFr(curve.G2.g, betaM));
  const g1 = curve.G1.toAffine(curve.G1.g);
  const g2 = curve.G2.toAffine(curve.G2.g);

  // the circuit hash, as snarkjs's newZKey computes it (δ = 1 before any contribution)
  const cs = sj.blake2b();
  for (const [G, p] of [[curve.G1, alpha1], [curve.G1, beta1], [curve.G2, beta2], [curve.G2, g2], [curve.G1, g1], [curve.G2, g2]] as const) cs.update(G.toUncompressed(p));
  cs.update(u32be(nPublic + 1)).update(ic.u);
  cs.update(u32be(n - 1)).update(results[1]!);
  cs.update(u32be(nPriv)).update(results[2]!);
  cs.update(u32be(m)).update(A.u);
  cs.update(u32be(m)).update(B1.u);
  cs.update(u32be(m)).update(B2.u);
  const csHash = cs.digest();

  // the phase-2 contribution of δ, as snarkjs's zkey contribute makes it
  const deltaM = w.get(delta, N8);
  const contribution = contributeDelta(sj, curve, csHash, deltaM, opts.name ?? 'zkpoa development setup (single party)');
  const delta2 = curve.G2.toAffine(curve.G2.timesFr(curve.G2.g, deltaM));
  deltaM.fill(0);

  const fd = await binFileUtils.createBinFile(zkeyPath, 'zkey', 1, 10, 1 << 22, 1 << 24);
  const out = new Writer(fd);
  await out.section(1, u32le(1)); // Groth16
  await out.section(2, u32le(N8), leBytes(Q), u32le(N8), leBytes(R), u32le(m), u32le(nPublic), u32le(n), alpha1, beta1, beta2, g2, contribution.deltaAfter, delta2);
  await out.section(3, ic.lem);
  await out.section(4, coefs);
  await out.section(5, A.lem);
  await out.section(6, B1.lem);
  await out.section(7, B2.lem);
  await out.section(8, results[3]!);
  await out.section(9, results[7]!);
  await sj.zkeyUtils.writeMPCParams(fd, curve, { csHash, contributions: [contribution] });
  await fd.close();

  if (opts.ptauPath) await writePtau(sj, curve, opts.ptauPath, power, results.slice(jobs.length), w, secrets);
  for (const p of Object.values(secrets)) w.wipe(p, N8);
  w.wipe(delta, N8);
  w.wipe(deltaInv, N8);
  w.wipe(deltaInvStd, N8);
  alphaM.fill(0);
  betaM.fill(0);
  step.done();
  return { power, domainSize: n, nConstraints, nVars: m, nPublic, circuitHash: hex(csHash), products, ...(opts.ptauPath ? { ptauPath: opts.ptauPath } : {}) };
}

/** snarkjs's zkey_contribute.js for the first contribution, with δ given. */
function contributeDelta(sj: SnarkjsInternals, curve: Curve, csHash: Uint8Array, deltaM: Uint8Array, name: string): ZkeyContribution {
  const transcriptHasher = sj.blake2b();
  transcriptHasher.update(csHash);
  const g1_s = curve.G1.toAffine(curve.G1.fromRng(freshRng()));
  const g1_sx = curve.G1.toAffine(curve.G1.timesFr(g1_s, deltaM));
  sj.zkeyUtils.hashG1(transcriptHasher, curve, g1_s);
  sj.zkeyUtils.hashG1(transcriptHasher, curve, g1_sx);
  const transcript = transcriptHasher.digest();
  const g2_sp = sj.keypair.hashToG2(curve, transcript);
  const g2_spx = curve.G2.toAffine(curve.G2.timesFr(g2_sp, deltaM));
  const deltaAfter = curve.G1.toAffine(curve.G1.timesFr(curve.G1.g, deltaM));
  return { deltaAfter, delta: { g1_s, g1_sx, g2_spx }, transcript, type: 0, name };
}

/* ------------------------------------------------------------------ the prepared powers of tau */

/**
 * The scalars of a prepared powers of tau of `power` (snarkjs's sections 2–6 and 12–15):
 * τ^i in G1 (2^(p+1) − 1 of them) and G2, α·τ^i, β·τ^i, β in G2, and the Lagrange bases
 * of every domain 2^0 … 2^p (2^(p+1) for G1, truncated as snarkjs prepares it).
 */
function ptauJobs(F: Field, s: Secrets, power: number, curve: Curve): Job[] {
  const N = 2 ** power;
  const toStd = (p: number, count: number) => {
    for (let i = 0; i < count; i++) F.ex.frm_mul(p + i * N8, F.oneStd, p + i * N8);
    const out = F.w.get(p, count * N8);
    F.w.wipe(p, count * N8);
    return out;
  };
  const tauG1 = toStd(F.powers(s.tau, 2 * N - 1), 2 * N - 1);
  const tauG2 = tauG1.slice(0, N * N8);
  const alphaTau = toStd(F.powers(s.tau, N, s.alpha), N);
  const betaTau = toStd(F.powers(s.tau, N, s.beta), N);
  const betaG2 = toStd(F.powers(s.tau, 1, s.beta), 1);
  const levels: Uint8Array[] = [];
  const alphaLevels: Uint8Array[] = [];
  const betaLevels: Uint8Array[] = [];
  for (let k = 0; k <= power + 1; k++) {
    const Lk = F.lagrange(s.tau, k, curve.Fr.w[k]!, { truncated: k === power + 1 });
    if (k <= power) {
      alphaLevels.push(toStd(F.scale(Lk, 2 ** k, s.alpha), 2 ** k));
      betaLevels.push(toStd(F.scale(Lk, 2 ** k, s.beta), 2 ** k));
    }
    levels.push(toStd(Lk, 2 ** k));
  }
  const cat = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((t, p) => t + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
      p.fill(0);
    }
    return out;
  };
  const lagrangeG1 = cat(levels);
  const lagrangeG2 = lagrangeG1.slice(0, (2 * N - 1) * N8); // levels 0..p: 2^(p+1) − 1 points
  return [
    { group: 'G1', format: 'lem', scalars: tauG1 },
    { group: 'G2', format: 'lem', scalars: tauG2 },
    { group: 'G1', format: 'lem', scalars: alphaTau },
    { group: 'G1', format: 'lem', scalars: betaTau },
    { group: 'G2', format: 'lem', scalars: betaG2 },
    { group: 'G1', format: 'lem', scalars: lagrangeG1 },
    { group: 'G2', format: 'lem', scalars: lagrangeG2 },
    { group: 'G1', format: 'lem', scalars: cat(alphaLevels) },
    { group: 'G1', format: 'lem', scalars: cat(betaLevels) },
  ];
}

/**
 * Write the prepared powers of tau: a one-contribution ceremony file whose contributor's
 * keys are τ, α, β (snarkjs's contribute with the first challenge of this power), then
 * snarkjs's prepare phase 2 sections, all from the points computed above.
 */
async function writePtau(sj: SnarkjsInternals, curve: Curve, path: string, power: number, points: Uint8Array[], w: Bn128Wasm, s: Secrets): Promise<void> {
  const [tauG1, tauG2, alphaTau, betaTau, betaG2, lagG1, lagG2, lagAlpha, lagBeta] = points as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const sA1 = affineBytes('G1');
  const sA2 = affineBytes('G2');
  const challenge = sj.ptauUtils.calculateFirstChallengeHash(curve, power);
  const rng = freshRng();
  const keyPart = (secret: number, personalization: number): PtauKeyPart => {
    const prvKey = w.get(secret, N8);
    const g1_s = curve.G1.toAffine(curve.G1.fromRng(rng));
    const g1_sx = curve.G1.toAffine(curve.G1.timesFr(g1_s, prvKey));
    const g2_sp = curve.G2.toAffine(sj.keypair.getG2sp(curve, personalization, challenge, g1_s, g1_sx));
    const g2_spx = curve.G2.toAffine(curve.G2.timesFr(g2_sp, prvKey));
    prvKey.fill(0);
    return { prvKey: new Uint8Array(N8), g1_s, g1_sx, g2_sp, g2_spx };
  };
  const key: PtauKey = { tau: keyPart(s.tau, 0), alpha: keyPart(s.alpha, 1), beta: keyPart(s.beta, 2) };

  const response = sj.blake2b();
  response.update(challenge);
  const sections: [Uint8Array, Group][] = [[tauG1, curve.G1], [tauG2, curve.G2], [alphaTau, curve.G1], [betaTau, curve.G1], [betaG2, curve.G2]];
  for (const [pts, G] of sections) response.update(await G.batchLEMtoC(pts));
  const partialHash = sj.misc.toPartialHash(response);
  const pubKey = new Uint8Array(sA1 * 6 + sA2 * 3);
  sj.ptauUtils.toPtauPubKeyRpr(pubKey, 0, curve, key, false);
  response.update(pubKey);
  const responseHash = response.digest();
  const next = sj.blake2b();
  next.update(responseHash);
  for (const [pts, G] of sections) next.update(await G.batchLEMtoU(pts));
  const contribution: PtauContribution = {
    tauG1: tauG1.slice(sA1, 2 * sA1),
    tauG2: tauG2.slice(sA2, 2 * sA2),
    alphaG1: alphaTau.slice(0, sA1),
    betaG1: betaTau.slice(0, sA1),
    betaG2: betaG2.slice(0, sA2),
    key,
    partialHash,
    nextChallenge: next.digest(),
    type: 0,
    name: 'zkpoa development setup (single party)',
  };

  const fd = await binFileUtils.createBinFile(path, 'ptau', 1, 11, 1 << 22, 1 << 24);
  const out = new Writer(fd);
  await sj.ptauUtils.writePTauHeader(fd, curve, power);
  await out.section(2, tauG1);
  await out.section(3, tauG2);
  await out.section(4, alphaTau);
  await out.section(5, betaTau);
  await out.section(6, betaG2);
  await sj.ptauUtils.writeContributions(fd, curve, [contribution]);
  await out.section(12, lagG1);
  await out.section(13, lagG2);
  await out.section(14, lagAlpha);
  await out.section(15, lagBeta);
  await fd.close();
}

/**
 * A prepared powers of tau of `power` from fresh τ, α, β (a one-party ceremony file, like
 * snarkjs's `powersoftau new` + `contribute` + `prepare phase2`), for tests and tools that
 * want a ptau of their own: it is the ptau of a development setup of an empty circuit.
 */
export async function devPowersOfTau(power: number, ptauPath: string, opts: Omit<DevSetupOptions, 'ptauPath' | 'minPower'> = {}): Promise<void> {
  if (!Number.isInteger(power) || power < 1 || power > 27) throw new RangeError('power must be an integer in [1, 27]');
  const progress = opts.progress ?? silentProgress;
  const threads = opts.threads ?? availableParallelism();
  const sj = await snarkjsInternals();
  const curve = (await buildBn128(true)) as unknown as Curve;
  const w = await Bn128Wasm.create();
  const F = new Field(w);
  const secrets: Secrets = { tau: F.random(), alpha: F.random(), beta: F.random() };
  const jobs = ptauJobs(F, secrets, power, curve);
  const step = progress.step(`development powers of tau 2^${power}`);
  const points = await multiplyAll(jobs, threads, (d, t) => step.update(d, t));
  await writePtau(sj, curve, ptauPath, power, points, w, secrets);
  for (const p of Object.values(secrets)) w.wipe(p, N8);
  step.done();
}
