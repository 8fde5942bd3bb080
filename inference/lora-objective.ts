import { addOuter, exampleGradient, forwardPrepared, layerParams, parameterLayout, prepareInput, type LayerParams, type PreparedInput } from './gradients.js';
import type { LoraWeights } from './lora.js';
import { LAYERS, type BaseModel, type LayerName } from './model.js';

/**
 * The fine-tuning objective of a LoRA adapter over a whole datanet, in float64:
 * mean softmax cross-entropy + weightDecay·‖θ‖², with θ the adapter's factors in its
 * file layout (per layer A: r×in, then B: out×r). The forward and backward passes are
 * the ones the attribution features use, so training and attribution see one model.
 */
export class LoraObjective {
  readonly size: number;
  private readonly offsets: { layer: LayerName; a: number; b: number; end: number }[];
  /** the base's weights in float64, converted once */
  private readonly frozen: Record<LayerName, LayerParams>;
  private readonly layout: { off: number; m: number; n: number }[];
  private readonly inputs: { prepared: PreparedInput; label: number }[];

  constructor(
    base: BaseModel,
    examples: readonly { x: Float32Array; label: number }[],
    readonly rank: number,
    readonly alpha: number,
    readonly weightDecay: number,
  ) {
    this.layout = parameterLayout(base, rank);
    this.offsets = LAYERS.map((layer, i) => {
      const b = this.layout[2 * i + 1]!;
      return { layer, a: this.layout[2 * i]!.off, b: b.off, end: b.off + b.m * b.n };
    });
    this.size = this.offsets.at(-1)!.end;
    this.frozen = layerParams(base, Object.fromEntries(LAYERS.map((l) => [l, { a: new Float64Array(0), b: new Float64Array(0) }])) as Record<LayerName, { a: Float64Array; b: Float64Array }>, rank, alpha);
    // only what depends on the input is kept: ~5 kB per record instead of its dense 16 kB
    this.inputs = examples.map((e) => ({ label: e.label, prepared: prepareInput(this.frozen, e.x) }));
  }

  /** θ from per-layer factors (float32 files or float64). */
  pack(layers: Record<LayerName, { a: ArrayLike<number>; b: ArrayLike<number> }>): Float64Array {
    const theta = new Float64Array(this.size);
    for (const o of this.offsets) {
      theta.set(layers[o.layer].a, o.a);
      theta.set(layers[o.layer].b, o.b);
    }
    return theta;
  }

  /** Per-layer factors of θ as an adapter file holds them (float32). */
  unpack(theta: Float64Array): Record<LayerName, LoraWeights> {
    return Object.fromEntries(this.offsets.map((o) => [o.layer, { a: Float32Array.from(theta.subarray(o.a, o.b)), b: Float32Array.from(theta.subarray(o.b, o.end)) }])) as Record<LayerName, LoraWeights>;
  }

  /** Layer parameters that share θ's memory and the base's converted weights (no copy per evaluation). */
  params(theta: Float64Array): Record<LayerName, LayerParams> {
    return Object.fromEntries(this.offsets.map((o) => [o.layer, { ...this.frozen[o.layer], a: theta.subarray(o.a, o.b), b: theta.subarray(o.b, o.end) }])) as Record<LayerName, LayerParams>;
  }

  /** f(θ), writing ∇f(θ) into `grad`. */
  value(theta: Float64Array, grad: Float64Array): number {
    grad.fill(0);
    const p = this.params(theta);
    const w = 1 / this.inputs.length;
    let f = 0;
    for (const e of this.inputs) {
      const fwd = forwardPrepared(p, e.prepared);
      // with the compact input, dense1.A's gradient block comes out compact too (v = values)
      const { blocks } = exampleGradient(p, e.prepared.values, fwd, e.label);
      const max = Math.max(...fwd.logits);
      f += (max + Math.log(fwd.logits.reduce((acc, l) => acc + Math.exp(l - max), 0)) - fwd.logits[e.label]!) * w;
      blocks.forEach(({ u, v }, bi) => addOuter(grad, this.layout[bi]!.off, this.layout[bi]!.n, u, v, w, bi === 0 ? e.prepared.nonZero : null));
    }
    for (let j = 0; j < theta.length; j++) {
      f += this.weightDecay * theta[j]! * theta[j]!;
      grad[j]! += 2 * this.weightDecay * theta[j]!;
    }
    return f;
  }
}
