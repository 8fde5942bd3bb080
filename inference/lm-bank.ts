import { ZkpoaError } from '../attribution/errors.js';
import { tf } from './backend.js';
import type { CausalLm, LmDelta } from './lm.js';
import { lmLoraLayers, type LmAdapter } from './lm-lora.js';

/**
 * The adapters a generation batch may use, resident in slots of one host array per
 * adapted projection: Aᵀ as [slots, in, r] and (α/r)·Bᵀ as [slots, r, out], every adapter
 * padded to the bank's largest rank with zeros (which add nothing). A mixed batch takes
 * each row's own slot into one tensor per projection and runs two batched products,
 * whatever the number of distinct adapters in it: the SGMV idea (Punica's BGMV for one
 * token a row), so a step costs the same tensor ops for 1 adapter or 32. The rows' weights
 * are copied on the host because a tensor gather is slow on the wasm backend; the copy is
 * what a device gather would move anyway. Slot 0 is the base model (all zeros).
 * Slots in use by a running sequence are pinned; the least recently used unpinned slot
 * makes room for a new adapter.
 */
export class LmAdapterBank {
  private rank = 1;
  private readonly layers: { name: string; inDim: number; outDim: number }[];
  /** per projection, host copies of the stacked weights: what the tensors are made from */
  private host = new Map<string, { a: Float32Array; b: Float32Array }>();
  private readonly ids: (string | null)[];
  private readonly pins: number[];
  private readonly lastUse: number[];
  private clock = 0;
  private readonly baseHash: string;

  constructor(
    lm: CausalLm,
    /** adapters resident at once (slot 0, the base, comes on top) */
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'the adapter bank holds a positive whole number of adapters');
    this.layers = lmLoraLayers(lm.config);
    this.baseHash = lm.hash();
    this.ids = new Array<string | null>(capacity + 1).fill(null);
    this.pins = new Array<number>(capacity + 1).fill(0);
    this.lastUse = new Array<number>(capacity + 1).fill(0);
    this.layout(1);
  }

  /** A slot holding `adapter` (0 for none), pinned until released. */
  acquire(adapter: LmAdapter | null): number {
    if (!adapter) return 0;
    let slot = this.ids.indexOf(adapter.meta.id, 1);
    if (slot < 0) {
      if (adapter.meta.baseModel !== this.baseHash) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${adapter.meta.id} was trained on another language model`);
      slot = this.freeSlot();
      this.load(slot, adapter);
    }
    this.pins[slot]!++;
    this.lastUse[slot] = ++this.clock;
    return slot;
  }

  release(slot: number): void {
    if (slot > 0 && this.pins[slot]! > 0) this.pins[slot]!--;
  }

  /** The delta of a batch whose row i uses slot `slots[i]` (each row's tokens contiguous in x); undefined when every row is the base. Call within a tidy. */
  delta(slots: readonly number[]): LmDelta | undefined {
    if (slots.every((s) => s === 0)) return undefined;
    const batch = slots.length;
    const r = this.rank;
    const rows = new Map(
      this.layers.map((l) => {
        const h = this.host.get(l.name)!;
        const [sa, sb] = [l.inDim * r, r * l.outDim];
        const a = new Float32Array(batch * sa);
        const b = new Float32Array(batch * sb);
        slots.forEach((slot, i) => {
          if (slot === 0) return;
          a.set(h.a.subarray(slot * sa, (slot + 1) * sa), i * sa);
          b.set(h.b.subarray(slot * sb, (slot + 1) * sb), i * sb);
        });
        return [l.name, { a: tf.tensor3d(a, [batch, l.inDim, r]), b: tf.tensor3d(b, [batch, r, l.outDim]) }];
      }),
    );
    return (x, name) => {
      const t = rows.get(name);
      if (!t) return undefined;
      const [n, inDim] = x.shape;
      return x.reshape([batch, n / batch, inDim]).matMul(t.a).matMul(t.b).reshape([n, t.b.shape[2]]) as tf.Tensor2D;
    };
  }

  /** Adapters resident now. */
  get resident(): number {
    return this.ids.filter((id) => id !== null).length;
  }

  /** Frees the host arrays; the bank is not used after. */
  dispose(): void {
    this.host.clear();
    this.ids.fill(null);
  }

  private freeSlot(): number {
    let best = -1;
    for (let s = 1; s <= this.capacity; s++) {
      if (this.ids[s] === null) return s;
      if (this.pins[s] === 0 && (best < 0 || this.lastUse[s]! < this.lastUse[best]!)) best = s;
    }
    if (best < 0) throw new ZkpoaError('ZKPOA_ERR_OVERLOADED', `all ${this.capacity} resident adapters are in use`);
    return best;
  }

  private load(slot: number, adapter: LmAdapter): void {
    const { rank, alpha } = adapter.meta;
    if (rank > this.rank) this.layout(rank);
    const r = this.rank;
    for (const l of this.layers) {
      const h = this.host.get(l.name)!;
      const w = adapter.layers.get(l.name);
      const a = h.a.subarray(slot * l.inDim * r, (slot + 1) * l.inDim * r).fill(0);
      const b = h.b.subarray(slot * r * l.outDim, (slot + 1) * r * l.outDim).fill(0);
      if (!w) continue; // a projection this adapter leaves alone
      // A is [rank, in] and B [out, rank], row-major; the bank holds Aᵀ and (α/r)·Bᵀ
      for (let k = 0; k < rank; k++) {
        for (let i = 0; i < l.inDim; i++) a[i * r + k] = w.a[k * l.inDim + i]!;
        for (let o = 0; o < l.outDim; o++) b[k * l.outDim + o] = (alpha / rank) * w.b[o * rank + k]!;
      }
    }
    this.ids[slot] = adapter.meta.id;
  }

  /** Host arrays at rank `rank`, keeping what the slots hold. */
  private layout(rank: number): void {
    const slots = this.capacity + 1;
    const old = this.host;
    const was = this.rank;
    this.host = new Map(
      this.layers.map((l) => {
        const a = new Float32Array(slots * l.inDim * rank);
        const b = new Float32Array(slots * rank * l.outDim);
        const prev = old.get(l.name);
        if (prev) {
          for (let s = 0; s < slots; s++) {
            for (let i = 0; i < l.inDim; i++) for (let k = 0; k < was; k++) a[(s * l.inDim + i) * rank + k] = prev.a[(s * l.inDim + i) * was + k]!;
            b.set(prev.b.subarray(s * was * l.outDim, (s + 1) * was * l.outDim), s * rank * l.outDim);
          }
        }
        return [l.name, { a, b }];
      }),
    );
    this.rank = rank;
  }
}
