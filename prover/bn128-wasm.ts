import { buildBn128 } from 'ffjavascript';

/**
 * ffjavascript's bn128 WebAssembly module (the arithmetic snarkjs runs on), instantiated
 * with a memory of our own that grows as needed. ffjavascript's single-threaded curve
 * keeps a fixed 1.6 MB memory for its own instance, too small for the tables and
 * vectors of a key setup; the module's code and its constants (generators, moduli)
 * are the same, so results are bit for bit the ones snarkjs computes.
 *
 * Memory layout: word 0 is the module's free-space pointer. `alloc` moves it up;
 * functions such as batchToAffine and batchInverse take scratch space above it, so
 * `ensure(bytes)` must be called before them with room for that scratch.
 */

/** The module's exports zkpoa calls (pointers are byte offsets into the memory). */
export interface Bn128Exports {
  frm_mul(a: number, b: number, r: number): void;
  frm_add(a: number, b: number, r: number): void;
  frm_sub(a: number, b: number, r: number): void;
  frm_neg(a: number, r: number): void;
  frm_copy(a: number, r: number): void;
  frm_isZero(a: number): number;
  frm_one(r: number): void;
  frm_toMontgomery(a: number, r: number): void;
  frm_fromMontgomery(a: number, r: number): void;
  frm_batchInverse(pIn: number, inStep: number, n: number, pOut: number, outStep: number): void;
  g1m_zero(r: number): void;
  g1m_copy(a: number, r: number): void;
  g1m_add(a: number, b: number, r: number): void;
  g1m_double(a: number, r: number): void;
  g1m_addMixed(a: number, b: number, r: number): void;
  g1m_subMixed(a: number, b: number, r: number): void;
  g1m_batchToAffine(pIn: number, n: number, pOut: number): void;
  g1m_batchLEMtoU(pIn: number, n: number, pOut: number): void;
  g2m_zero(r: number): void;
  g2m_copy(a: number, r: number): void;
  g2m_add(a: number, b: number, r: number): void;
  g2m_double(a: number, r: number): void;
  g2m_addMixed(a: number, b: number, r: number): void;
  g2m_subMixed(a: number, b: number, r: number): void;
  g2m_batchToAffine(pIn: number, n: number, pOut: number): void;
  g2m_batchLEMtoU(pIn: number, n: number, pOut: number): void;
}

/** The parts of ffjavascript's single-threaded curve object this module reads. */
interface CurveInternals {
  tm: { code: Uint8Array<ArrayBuffer>; pG1gen: number; pG2gen: number };
  terminate(): Promise<void>;
}

const PAGE = 0x10000;
/** bytes always kept free above the free pointer (the module's own temporaries) */
const SLACK = 1 << 20;

export class Bn128Wasm {
  /** byte offsets of the G1 and G2 generators (Jacobian, Montgomery form) */
  readonly pG1gen: number;
  readonly pG2gen: number;
  private view: Uint8Array;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    readonly exports: Bn128Exports,
    gens: { pG1gen: number; pG2gen: number },
  ) {
    this.pG1gen = gens.pG1gen;
    this.pG2gen = gens.pG2gen;
    this.view = new Uint8Array(memory.buffer);
  }

  static async create(): Promise<Bn128Wasm> {
    const curve = (await buildBn128(true)) as unknown as CurveInternals;
    const { code, pG1gen, pG2gen } = curve.tm;
    await curve.terminate();
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536 });
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(code), { env: { memory } });
    return new Bn128Wasm(memory, instance.exports as unknown as Bn128Exports, { pG1gen, pG2gen });
  }

  /** The memory's bytes (a fresh view after any growth). */
  get u8(): Uint8Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Uint8Array(this.memory.buffer);
    return this.view;
  }

  /** The free pointer: everything below it is allocated. */
  get mark(): number {
    return new Uint32Array(this.memory.buffer, 0, 1)[0]!;
  }

  /** Free everything allocated after `mark` (a value of `this.mark`). */
  release(mark: number): void {
    new Uint32Array(this.memory.buffer, 0, 1)[0] = mark;
  }

  /** `bytes` of memory, 8-byte aligned; its contents are whatever was there. */
  alloc(bytes: number): number {
    const free = new Uint32Array(this.memory.buffer, 0, 1);
    const p = (free[0]! + 7) & ~7;
    free[0] = p + bytes;
    this.ensure(0);
    return p;
  }

  /** Room for `scratch` bytes above the free pointer (for batch functions' working space). */
  ensure(scratch: number): void {
    const need = this.mark + scratch + SLACK;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
  }

  set(p: number, bytes: Uint8Array): void {
    this.u8.set(bytes, p);
  }

  /** A copy of `length` bytes at `p`. */
  get(p: number, length: number): Uint8Array {
    return this.u8.slice(p, p + length);
  }

  /** Overwrite `length` bytes at `p` with zeros (secrets, once used). */
  wipe(p: number, length: number): void {
    this.u8.fill(0, p, p + length);
  }
}
