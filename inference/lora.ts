import { createHash } from 'node:crypto';
import { ZkpoaError } from '../attribution/errors.js';
import { LAYERS, layerShape, type BaseModel, type LayerName } from './model.js';

/**
 * LoRA adapters on the base model's dense layers: W' = W + (α/r)·Aᵀ·Bᵀ applied as
 * x·W + (α/r)·(x·Aᵀ)·Bᵀ, with A: r×in and B: out×r.
 *
 * File format (`.lora`), all little-endian:
 *   "ZKLORA01" | u32 header length | header (JSON AdapterMeta) |
 *   float32 payload: dense1.A, dense1.B, dense2.A, dense2.B |
 *   SHA-256 of everything before it (32 bytes)
 */
export interface LoraWeights {
  /** r × in, row-major */
  a: Float32Array;
  /** out × r, row-major */
  b: Float32Array;
}

export interface AdapterMeta<Layer extends string = LayerName> {
  format: 'zkpoa-lora/1';
  /** absent for the classifier's adapters; 'causal-lm' for the language model's */
  model?: 'causal-lm';
  id: string;
  /** SHA-256 version of the base model it was trained on */
  baseModel: string;
  rank: number;
  alpha: number;
  datanet: { id: string; versionRoot: string };
  /** the fine-tuning spec it came from (no-code ModelFactory spec) */
  training: Record<string, unknown>;
  layers: { name: Layer; inDim: number; outDim: number }[];
}

export interface Adapter {
  meta: AdapterMeta;
  layers: Record<LayerName, LoraWeights>;
}

const MAGIC = Buffer.from('ZKLORA01');
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertAdapterId(id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `adapter id must match ${ID_RE}: ${JSON.stringify(id)}`);
  }
}

/** The file every adapter shares (this classifier's and the language model's): magic, JSON header, float32 payload in the header's order, SHA-256 trailer. */
export function encodeLoraFile(meta: { id: string }, payload: readonly Float32Array[]): Buffer {
  assertAdapterId(meta.id);
  const header = Buffer.from(JSON.stringify(meta));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const body = Buffer.concat([MAGIC, len, header, ...payload.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength))]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

const corrupt = (why: string) => new ZkpoaError('ZKPOA_ERR_ADAPTER_CORRUPT', `adapter file is corrupt: ${why}`);

/** The header and payload of an adapter file, its magic, checksum and header checked; what they mean is the caller's to check. */
function decodeLoraFile(bytes: Uint8Array): { meta: Record<string, unknown>; floats: Float32Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + 4 + 32 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('not a zkpoa LoRA file');
  const body = buf.subarray(0, buf.length - 32);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - 32))) throw corrupt('checksum mismatch');
  const headerLen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLen > body.length) throw corrupt('header length out of bounds');
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(body.subarray(start, start + headerLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw corrupt('header is not JSON');
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw corrupt('header is not an object');
  if (meta.format !== 'zkpoa-lora/1') throw corrupt(`unknown format ${JSON.stringify(meta.format)}`);
  if (typeof meta.id !== 'string') throw corrupt('id is not a string');
  assertAdapterId(meta.id);
  const payload = body.subarray(start + headerLen);
  if (payload.length % 4 !== 0) throw corrupt('payload is not float32');
  return { meta, floats: new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength)) };
}

export function encodeAdapter(adapter: Adapter): Buffer {
  return encodeLoraFile(adapter.meta, LAYERS.flatMap((l) => [adapter.layers[l].a, adapter.layers[l].b]));
}

/**
 * An adapter file's header and weights checked against what it declares: the kind of model, a base version,
 * rank and alpha in range, each layer once with a positive shape (`isLayer` says which
 * names a model has), and for each of `order`'s layers A then B, finite, filling the payload.
 */
export function readAdapterLayers<Layer extends string>(
  bytes: Uint8Array,
  model: 'classifier' | 'causal-lm',
  isLayer: (name: string) => name is Layer,
  order?: readonly Layer[],
): { meta: AdapterMeta<Layer>; layers: Map<Layer, LoraWeights> } {
  const file = decodeLoraFile(bytes);
  const meta = file.meta as unknown as AdapterMeta<Layer>;
  const kind = (m: string) => (m === 'causal-lm' ? 'a language model' : 'the classifier');
  if ((meta.model ?? 'classifier') !== model) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${meta.id} is ${kind(meta.model ?? 'classifier')}'s, not ${kind(model)}'s`);
  if (typeof meta.baseModel !== 'string') throw corrupt('baseModel is not a string');
  // alpha/rank scales every delta: a huge or infinite alpha would turn answers into NaN
  if (!Number.isInteger(meta.rank) || meta.rank < 1 || meta.rank > 256 || !(meta.alpha > 0) || !(meta.alpha <= 65536)) throw corrupt('rank or alpha out of range');
  if (!Array.isArray(meta.layers) || !meta.layers.every((l) => l !== null && typeof l === 'object' && isLayer(l.name) && Number.isInteger(l.inDim) && l.inDim >= 1 && Number.isInteger(l.outDim) && l.outDim >= 1)) {
    throw corrupt('layers must list the adapted layers with positive integer shapes');
  }
  if (new Set(meta.layers.map((l) => l.name)).size !== meta.layers.length) throw corrupt('a layer is listed twice');
  const { floats } = file;
  let at = 0;
  const take = (n: number) => {
    if (at + n > floats.length) throw corrupt('payload shorter than the declared shapes');
    return floats.slice(at, (at += n));
  };
  const layers = new Map<Layer, LoraWeights>();
  for (const name of order ?? meta.layers.map((l) => l.name)) {
    const decl = meta.layers.find((l) => l.name === name);
    if (!decl) throw corrupt(`layer ${name} missing`);
    const w = { a: take(meta.rank * decl.inDim), b: take(decl.outDim * meta.rank) };
    if (!w.a.every(Number.isFinite) || !w.b.every(Number.isFinite)) throw corrupt(`layer ${name} has non-finite weights`);
    layers.set(name, w);
  }
  if (at !== floats.length) throw corrupt('payload longer than the declared shapes');
  return { meta, layers };
}

const isDenseLayer = (name: string): name is LayerName => (LAYERS as readonly string[]).includes(name);

/** Decodes and validates an adapter file; with `base`, also its shapes and base model version. */
export function decodeAdapter(bytes: Uint8Array, base?: Pick<BaseModel, 'hash' | 'spec'>): Adapter {
  const { meta, layers } = readAdapterLayers(bytes, 'classifier', isDenseLayer, LAYERS);
  if (base) assertFitsBase(meta, base);
  return { meta, layers: Object.fromEntries(layers) as Record<LayerName, LoraWeights> };
}

export function assertFitsBase(meta: AdapterMeta, base: Pick<BaseModel, 'hash' | 'spec'>): void {
  if (meta.baseModel !== base.hash) {
    throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${meta.id} was trained on base ${meta.baseModel.slice(0, 12)}…, this server runs ${base.hash.slice(0, 12)}…`);
  }
  for (const l of meta.layers) {
    const want = layerShape(base.spec, l.name);
    if (l.inDim !== want.inDim || l.outDim !== want.outDim) {
      throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${meta.id} layer ${l.name} is ${l.inDim}×${l.outDim}, the base has ${want.inDim}×${want.outDim}`);
    }
  }
}

/** A zero-effect adapter skeleton for the base (B = 0), with A from `randn` (LoRA's initialisation). */
export function initAdapterLayers(base: Pick<BaseModel, 'spec'>, rank: number, randn: () => number): Record<LayerName, LoraWeights> {
  const layers = {} as Record<LayerName, LoraWeights>;
  for (const name of LAYERS) {
    const { inDim, outDim } = layerShape(base.spec, name);
    const a = new Float32Array(rank * inDim);
    const std = 1 / Math.sqrt(inDim);
    for (let i = 0; i < a.length; i++) a[i] = randn() * std;
    layers[name] = { a, b: new Float32Array(outDim * rank) };
  }
  return layers;
}
