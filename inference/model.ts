import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZkpoaError } from '../attribution/errors.js';
import { tf } from './backend.js';

/**
 * The base model: hashed n-gram features → Dense(hidden, relu) → Dense(classes).
 * Saved as `model.json` (spec and weight layout) beside `weights.bin` (float32,
 * little-endian, in layout order). Its version is the SHA-256 of both, so an adapter
 * can name exactly the base it was trained on.
 */
export interface BaseModelSpec {
  format: 'zkpoa-base/1';
  inputDim: number;
  hidden: number;
  labels: string[];
  features: { kind: 'hashed-ngrams'; dim: number };
  /** how it was trained (informative) */
  training?: Record<string, unknown>;
}

export interface DenseWeights {
  /** [in × out], row-major */
  kernel: Float32Array;
  bias: Float32Array;
}

/** The two dense layers LoRA adapts, in order. */
export const LAYERS = ['dense1', 'dense2'] as const;
export type LayerName = (typeof LAYERS)[number];

export function layerShape(spec: BaseModelSpec, layer: LayerName): { inDim: number; outDim: number } {
  return layer === 'dense1' ? { inDim: spec.inputDim, outDim: spec.hidden } : { inDim: spec.hidden, outDim: spec.labels.length };
}

export class BaseModel {
  readonly tensors: Record<LayerName, { kernel: tf.Tensor2D; bias: tf.Tensor1D }>;

  private constructor(
    readonly spec: BaseModelSpec,
    readonly weights: Record<LayerName, DenseWeights>,
    readonly hash: string,
  ) {
    this.tensors = Object.fromEntries(
      LAYERS.map((l) => {
        const { inDim, outDim } = layerShape(spec, l);
        return [l, { kernel: tf.tensor2d(weights[l].kernel, [inDim, outDim]), bias: tf.tensor1d(weights[l].bias) }];
      }),
    ) as BaseModel['tensors'];
  }

  static fromWeights(spec: BaseModelSpec, weights: Record<LayerName, DenseWeights>): BaseModel {
    for (const l of LAYERS) {
      const { inDim, outDim } = layerShape(spec, l);
      if (weights[l].kernel.length !== inDim * outDim || weights[l].bias.length !== outDim) {
        throw new ZkpoaError('ZKPOA_ERR_MODEL', `${l} weights do not match the spec (${inDim}×${outDim})`);
      }
    }
    return new BaseModel(spec, weights, hashModel(spec, weights));
  }

  static async load(dir: string): Promise<BaseModel> {
    let spec: BaseModelSpec;
    let bin: Buffer;
    try {
      spec = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as BaseModelSpec;
      bin = await readFile(join(dir, 'weights.bin'));
    } catch (err) {
      throw new ZkpoaError('ZKPOA_ERR_MODEL', `cannot read the base model in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    if (spec.format !== 'zkpoa-base/1') throw new ZkpoaError('ZKPOA_ERR_MODEL', `unknown base model format ${JSON.stringify(spec.format)}`);
    const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    let at = 0;
    const take = (n: number) => {
      if (at + n > floats.length) throw new ZkpoaError('ZKPOA_ERR_MODEL', `weights.bin is too short for the spec in ${dir}`);
      return floats.slice(at, (at += n));
    };
    const weights = Object.fromEntries(
      LAYERS.map((l) => {
        const { inDim, outDim } = layerShape(spec, l);
        return [l, { kernel: take(inDim * outDim), bias: take(outDim) }];
      }),
    ) as Record<LayerName, DenseWeights>;
    if (at !== floats.length) throw new ZkpoaError('ZKPOA_ERR_MODEL', `weights.bin is longer than the spec in ${dir}`);
    return BaseModel.fromWeights(spec, weights);
  }

  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const parts = LAYERS.flatMap((l) => [this.weights[l].kernel, this.weights[l].bias]);
    await writeFile(join(dir, 'weights.bin.tmp'), Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    await writeFile(join(dir, 'model.json.tmp'), JSON.stringify(this.spec, null, 2));
    await rename(join(dir, 'weights.bin.tmp'), join(dir, 'weights.bin'));
    await rename(join(dir, 'model.json.tmp'), join(dir, 'model.json'));
  }

  dispose(): void {
    for (const l of LAYERS) {
      this.tensors[l].kernel.dispose();
      this.tensors[l].bias.dispose();
    }
  }
}

function hashModel(spec: BaseModelSpec, weights: Record<LayerName, DenseWeights>): string {
  const h = createHash('sha256').update(JSON.stringify({ ...spec, training: undefined }));
  for (const l of LAYERS) {
    h.update(Buffer.from(weights[l].kernel.buffer, weights[l].kernel.byteOffset, weights[l].kernel.byteLength));
    h.update(Buffer.from(weights[l].bias.buffer, weights[l].bias.byteOffset, weights[l].bias.byteLength));
  }
  return h.digest('hex');
}
