import { ZkpoaError } from '../attribution/errors.js';
import { tf } from './backend.js';
import type { CausalLm, LmDelta } from './lm.js';
import { lmLoraLayers, type LmAdapter } from './lm-lora.js';

/**
 * The adapters a generation batch may use, resident as one stacked tensor per adapted
 * projection: Aᵀ as [slots, in, r] and (α/r)·Bᵀ as [slots, r, out], every adapter padded
 * to the bank's largest rank with zeros (which add nothing). A mixed batch gathers each
 * row's own slot and runs two batched products per projection, whatever the number of
 * distinct adapters in it: the SGMV idea (Punica's BGMV for one token a row), so a step
 * costs the same tensor ops for 1 adapter or 32. Slot 0 is the base model (all zeros).
 * Slots in use by a running sequence are pinned; the least recently used unpinned slot
 * makes room for a new adapter.
 */
export class LmAdapterBank {
  private rank = 1;
  private readonly layers: { name: string; inDim: number; outDim: number }[];
  /** per projection, host copies of the stacked weights: what the tensors are made from */
  private host = new Map<string, { a: Float32Array; b: Float32Array }>();
  private tensors: Map<string, { a: tf.Tensor3D; b: tf.Tensor3D }> | undefined;
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

  /** The delta of a batch whose row i uses slot `slots[i]` (each row's tokens contiguous in x); undefined when every row is the base. */
  delta(slots: readonly number[]): LmDelta | undefined {
    if (slots.every((s) => s === 0)) return undefined;
    const tensors = this.stacked();
    const index = tf.tensor1d(Int32Array.from(slots), 'int32');
    return (x, name) => {
      const t = tensors.get(name);
      if (!t) return undefined;
      const [rows, inDim] = x.shape;
      const batch = slots.length;
      const a = tf.gather(t.a, index); // [batch, in, r]
      const b = tf.gather(t.b, index); // [batch, r, out]
      return x.reshape([batch, rows / batch, inDim]).matMul(a).matMul(b).reshape([rows, b.shape[2]!]) as tf.Tensor2D;
    };
  }

  /** Adapters resident now. */
  get resident(): number {
    return this.ids.filter((id) => id !== null).length;
  }

  dispose(): void {
    this.dropTensors();
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
    this.dropTensors();
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
    this.dropTensors();
  }

  private stacked(): Map<string, { a: tf.Tensor3D; b: tf.Tensor3D }> {
    if (!this.tensors) {
      const slots = this.capacity + 1;
      this.tensors = new Map(
        this.layers.map((l) => {
          const h = this.host.get(l.name)!;
          // kept: made inside the caller's tidy, they live until the bank changes
          return [l.name, { a: tf.keep(tf.tensor3d(h.a, [slots, l.inDim, this.rank])), b: tf.keep(tf.tensor3d(h.b, [slots, this.rank, l.outDim])) }];
        }),
      );
    }
    return this.tensors;
  }

  private dropTensors(): void {
    for (const t of this.tensors?.values() ?? []) {
      t.a.dispose();
      t.b.dispose();
    }
    this.tensors = undefined;
  }
}
