import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from './backend.js';
import { LmVocabulary } from './lm-vocabulary.js';
import { mulberry32 } from '../lib/random.js';
import { ZkpoaError } from '../attribution/errors.js';

/** A decoder-only transformer's shape (pre-norm blocks, tied input and output embeddings). */
export interface LmConfig {
  vocab: number;
  /** tokens of context */
  context: number;
  dim: number;
  heads: number;
  layers: number;
  /** the MLP's hidden width */
  mlp: number;
}

/** Every weight's name and shape, in file order: what a checkpoint of this architecture holds. */
export function lmWeightShapes(c: LmConfig): [string, number[]][] {
  const shapes: [string, number[]][] = [
    ['embed', [c.vocab, c.dim]],
    ['position', [c.context, c.dim]],
  ];
  for (let l = 0; l < c.layers; l++) {
    shapes.push(
      [`${l}.norm1.scale`, [c.dim]],
      [`${l}.norm1.shift`, [c.dim]],
      // the projections LoRA adapts: attention (q, k, v, o) and the MLP (up, down)
      [`${l}.q`, [c.dim, c.dim]],
      [`${l}.k`, [c.dim, c.dim]],
      [`${l}.v`, [c.dim, c.dim]],
      [`${l}.o`, [c.dim, c.dim]],
      [`${l}.norm2.scale`, [c.dim]],
      [`${l}.norm2.shift`, [c.dim]],
      [`${l}.up`, [c.dim, c.mlp]],
      [`${l}.up.bias`, [c.mlp]],
      [`${l}.down`, [c.mlp, c.dim]],
      [`${l}.down.bias`, [c.dim]],
    );
  }
  shapes.push(['norm.scale', [c.dim]], ['norm.shift', [c.dim]]);
  return shapes;
}

function checkConfig(c: LmConfig): void {
  if (c === null || typeof c !== 'object') throw new ZkpoaError('ZKPOA_ERR_MODEL', 'language model config: not an object');
  for (const k of ['vocab', 'context', 'dim', 'heads', 'layers', 'mlp'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new ZkpoaError('ZKPOA_ERR_MODEL', `language model config: ${k} must be a positive integer`);
  }
  if (c.dim % c.heads !== 0) throw new ZkpoaError('ZKPOA_ERR_MODEL', `language model config: dim ${c.dim} is not a multiple of heads ${c.heads}`);
}

/**
 * A causal language model in TensorFlow.js: token and position embeddings, pre-norm
 * blocks of causal multi-head attention and a GELU MLP, and logits through the tied
 * embedding. Saved as a directory: config.json, vocabulary.json and weights.bin
 * (float32, little-endian, in lmWeightShapes order), which is also how a host brings its
 * own checkpoint of this architecture.
 */
export class CausalLm {
  /** Eᵀ, kept once the weights are frozen */
  private frozenEmbedT: tf.Tensor2D | undefined;

  private constructor(
    readonly config: LmConfig,
    readonly vocabulary: LmVocabulary,
    readonly weights: Map<string, tf.Variable>,
  ) {}

  /**
   * Declares the weights fixed from now on (serving; an adapter's fine-tuning leaves them
   * alone too): the forward pass then reads a kept copy of the transposed embedding instead
   * of transposing it each time. A model still being trained must not be frozen.
   */
  freeze(): void {
    this.frozenEmbedT ??= tf.keep(this.weights.get('embed')!.transpose() as tf.Tensor2D);
  }

  static create(config: LmConfig, vocabulary: LmVocabulary, seed: number): CausalLm {
    checkConfig(config);
    if (vocabulary.size !== config.vocab) throw new ZkpoaError('ZKPOA_ERR_MODEL', `the vocabulary holds ${vocabulary.size} ids and the config ${config.vocab}`);
    const weights = new Map<string, tf.Variable>();
    lmWeightShapes(config).forEach(([name, shape], i) => {
      const init = name.endsWith('.scale')
        ? tf.ones(shape)
        : name.endsWith('.shift') || name.endsWith('.bias')
          ? tf.zeros(shape)
          : tf.randomNormal(shape, 0, name === 'embed' || name === 'position' ? 0.02 : 1 / Math.sqrt(shape[0]!), 'float32', seed + i);
      weights.set(name, tf.variable(init, true)); // (tf's variable names are global: two models would clash)
      init.dispose();
    });
    return new CausalLm(config, vocabulary, weights);
  }

  /** Reads a checkpoint directory; says what does not fit this architecture. */
  static async load(dir: string): Promise<CausalLm> {
    const read = async (file: string) =>
      readFile(join(dir, file)).catch((err: Error) => {
        throw new ZkpoaError('ZKPOA_ERR_MODEL', `language model checkpoint ${dir}: cannot read ${file} (${err.message})`);
      });
    const json = async <T>(file: string): Promise<T> => {
      const text = (await read(file)).toString('utf8');
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ZkpoaError('ZKPOA_ERR_MODEL', `language model checkpoint ${dir}: ${file} is not JSON`);
      }
    };
    const config = await json<LmConfig>('config.json');
    checkConfig(config);
    let vocabulary: LmVocabulary;
    try {
      vocabulary = LmVocabulary.fromJson(await json<{ base: string; kept: number[] }>('vocabulary.json'));
    } catch (err) {
      throw err instanceof ZkpoaError ? err : new ZkpoaError('ZKPOA_ERR_MODEL', `language model checkpoint ${dir}: vocabulary.json: ${(err as Error).message}`);
    }
    if (vocabulary.size !== config.vocab) throw new ZkpoaError('ZKPOA_ERR_MODEL', `language model checkpoint ${dir}: the vocabulary holds ${vocabulary.size} ids and config.json says ${config.vocab}`);
    const bytes = await read('weights.bin');
    const shapes = lmWeightShapes(config);
    const floats = shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
    if (bytes.length !== 4 * floats) throw new ZkpoaError('ZKPOA_ERR_MODEL', `language model checkpoint ${dir}: weights.bin holds ${bytes.length} bytes; this architecture needs ${4 * floats}`);
    const all = new Float32Array(new Uint8Array(bytes).buffer);
    const weights = new Map<string, tf.Variable>();
    let at = 0;
    for (const [name, shape] of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const value = tf.tensor(all.subarray(at, at + n), shape);
      weights.set(name, tf.variable(value, true));
      value.dispose();
      at += n;
    }
    return new CausalLm(config, vocabulary, weights);
  }

  async save(dir: string): Promise<void> {
    const aside = `${dir}.tmp-${process.pid}`;
    await rm(aside, { recursive: true, force: true });
    await mkdir(aside, { recursive: true });
    const parts = await Promise.all(lmWeightShapes(this.config).map(([name]) => this.weights.get(name)!.data() as Promise<Float32Array>));
    await writeFile(join(aside, 'weights.bin'), Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    await writeFile(join(aside, 'config.json'), JSON.stringify(this.config, null, 2));
    await writeFile(join(aside, 'vocabulary.json'), JSON.stringify(this.vocabulary.toJson()));
    await rm(dir, { recursive: true, force: true });
    await rename(aside, dir);
  }

  /** Logits [batch, time, vocab] of token ids [batch, time] (time ≤ context), through `lora`'s deltas when given, after the `cache`'s positions when given. */
  logits(ids: tf.Tensor2D, lora?: LmLoraTensors, cache?: KvCache): tf.Tensor3D {
    return tf.tidy(() => this.forward(ids, { ...(lora ? { delta: loraDelta(lora) } : {}), ...(cache ? { cache } : {}) }));
  }

  /**
   * The blocks over `ids` [batch, time], which follow the `cache`'s columns when given:
   * the new tokens attend to the cached keys and values and to each other causally, and
   * their keys and values are appended to the cache (kept out of the caller's tidy).
   * Row i's tokens start at column `starts[i]` (0 by default): the columns before it are
   * padding that no token of the row attends to, and positions count from it, so rows of
   * different lengths run as one batch, right-aligned. With `last`, only the last
   * position's logits are computed ([batch, 1, vocab]): what a decoding step reads.
   */
  forward(ids: tf.Tensor2D, opts: { delta?: LmDelta; cache?: KvCache; starts?: readonly number[]; last?: boolean } = {}): tf.Tensor3D {
    const { dim, heads, layers, context } = this.config;
    const [batch, time] = ids.shape;
    const { delta, cache } = opts;
    const past = cache?.length ?? 0;
    const width = past + time;
    if (width > context) throw new RangeError(`${width} positions: the model's context holds ${context}`);
    const starts = opts.starts ?? new Array<number>(batch).fill(0);
    if (starts.length !== batch) throw new RangeError(`${starts.length} row starts for ${batch} rows`);
    const w = (name: string) => this.weights.get(name)!;
    // x·W, plus the adapter's low-rank delta where one adapts W
    const project = (x: tf.Tensor2D, name: string) => {
      const y = x.matMul(w(name));
      const d = delta?.(x, name);
      return d ? y.add(d) : y;
    };
    const norm = (x: tf.Tensor, name: string) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return x.sub(mean).div(variance.add(1e-5).sqrt()).mul(w(`${name}.scale`)).add(w(`${name}.shift`));
    };
    const headDim = dim / heads;
    const split = (x: tf.Tensor) => x.reshape([batch, time, heads, headDim]).transpose([0, 2, 1, 3]);
    // row i's new token t (column past + t) sees columns starts[i] … past + t, and sits at position past + t − starts[i]
    const positions = new Int32Array(batch * time);
    const blocked = new Float32Array(batch * time * width);
    for (let i = 0; i < batch; i++) {
      for (let t = 0; t < time; t++) {
        positions[i * time + t] = Math.max(0, past + t - starts[i]!); // (a padding token's own position is never read)
        const row = (i * time + t) * width;
        for (let j = 0; j < width; j++) if (j < starts[i]! || j > past + t) blocked[row + j] = -1e9;
      }
    }
    const mask = tf.tensor4d(blocked, [batch, 1, time, width]);
    // one-hot products, not gathers: a gather's gradient (UnsortedSegmentSum) has no wasm kernel
    const embedded = tf.oneHot(ids.reshape([-1]) as tf.Tensor1D, this.config.vocab).matMul(w('embed'));
    const placed = tf.oneHot(tf.tensor1d(positions, 'int32'), context).matMul(w('position'));
    let x: tf.Tensor = embedded.add(placed).reshape([batch, time, dim]);
    for (let l = 0; l < layers; l++) {
      const h = norm(x, `${l}.norm1`).reshape([batch * time, dim]) as tf.Tensor2D;
      let [q, k, v] = (['q', 'k', 'v'] as const).map((p) => split(project(h, `${l}.${p}`))) as [tf.Tensor, tf.Tensor, tf.Tensor];
      if (cache) [k, v] = cache.append(l, k, v);
      const attention = tf.softmax(q.matMul(k, false, true).div(Math.sqrt(headDim)).add(mask));
      const mixed = attention.matMul(v).transpose([0, 2, 1, 3]).reshape([batch * time, dim]) as tf.Tensor2D;
      x = x.add(project(mixed, `${l}.o`).reshape([batch, time, dim]));
      const h2 = norm(x, `${l}.norm2`).reshape([batch * time, dim]) as tf.Tensor2D;
      const up = gelu(project(h2, `${l}.up`).add(w(`${l}.up.bias`))) as tf.Tensor2D;
      x = x.add(project(up, `${l}.down`).add(w(`${l}.down.bias`)).reshape([batch, time, dim]));
    }
    cache?.advance(time);
    const out = opts.last ? x.slice([0, time - 1, 0], [batch, 1, dim]) : x;
    const rows = opts.last ? batch : batch * time;
    // against Eᵀ as its own tensor: a product with a transposed operand is several times slower on the wasm backend
    const embedT = this.frozenEmbedT ?? w('embed').transpose();
    return norm(out, 'norm').reshape([rows, dim]).matMul(embedT).reshape([batch, rows / batch, this.config.vocab]) as tf.Tensor3D;
  }

  /** Mean cross-entropy of predicting each next token of `windows` [batch, context + 1]. */
  loss(windows: tf.Tensor2D, lora?: LmLoraTensors): tf.Scalar {
    return tf.tidy(() => {
      const [batch, width] = windows.shape;
      const inputs = windows.slice([0, 0], [batch, width - 1]);
      const targets = windows.slice([0, 1], [batch, width - 1]);
      const logits = this.logits(inputs as tf.Tensor2D, lora).reshape([batch * (width - 1), this.config.vocab]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(targets.reshape([-1]) as tf.Tensor1D, this.config.vocab), logits) as tf.Scalar;
    });
  }

  /** The model's version: SHA-256 of its config, vocabulary and weights (what an adapter names as its base). */
  hash(): string {
    const h = createHash('sha256').update(JSON.stringify(this.config)).update(JSON.stringify(this.vocabulary.toJson()));
    for (const [name] of lmWeightShapes(this.config)) {
      const f = this.weights.get(name)!.dataSync() as Float32Array;
      h.update(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
    }
    return h.digest('hex');
  }

  dispose(): void {
    this.frozenEmbedT?.dispose();
    for (const v of this.weights.values()) v.dispose();
  }
}

/** The keys and values of one batch's past positions, per layer ([batch, heads, positions, head dim]). */
export class KvCache {
  private keys: tf.Tensor[] = [];
  private values: tf.Tensor[] = [];
  private positions = 0;

  get length(): number {
    return this.positions;
  }

  /** Appends a layer's new keys and values and returns all of them; the cache keeps its own copies. */
  append(layer: number, k: tf.Tensor, v: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const [pk, pv] = [this.keys[layer], this.values[layer]];
    const [ak, av] = [pk ? tf.concat([pk, k], 2) : k, pv ? tf.concat([pv, v], 2) : v];
    pk?.dispose();
    pv?.dispose();
    this.keys[layer] = tf.keep(ak.clone());
    this.values[layer] = tf.keep(av.clone());
    return [ak, av];
  }

  advance(positions: number): void {
    this.positions += positions;
  }

  /** Rows of the batch. */
  get rows(): number {
    return this.keys[0]?.shape[0] ?? 0;
  }

  /**
   * Writes `other`'s rows into rows `at` of this cache (rows past its end are added) and
   * empties `other`; the narrower cache is padded on the left with zero columns. Returns
   * the columns added before this cache's rows and before the other's. A one-hot product
   * places the rows (exact: each entry is 1·x plus zeros), as gathers and scatters are slow
   * on the wasm backend while products and broadcasts are fast everywhere.
   */
  place(other: KvCache, at: readonly number[]): { padSelf: number; padOther: number } {
    const n = other.rows;
    if (at.length !== n) throw new RangeError(`${at.length} rows to place ${n} rows in`);
    const width = Math.max(this.positions, other.positions);
    const padSelf = this.keys.length ? width - this.positions : 0;
    const padOther = width - other.positions;
    const rows = Math.max(this.rows, ...at.map((r) => r + 1));
    const into = (mine: tf.Tensor | undefined, theirs: tf.Tensor) => {
      const placed = tf.tidy(() => {
        const [, heads, , headDim] = theirs.shape as [number, number, number, number];
        const fresh = padOther ? tf.pad(theirs, [[0, 0], [0, 0], [padOther, 0], [0, 0]]) : theirs;
        const onto = new Float32Array(rows * n);
        at.forEach((r, i) => (onto[r * n + i] = 1));
        const moved = tf.tensor2d(onto, [rows, n]).matMul(fresh.reshape([n, -1])).reshape([rows, heads, width, headDim]);
        if (!mine) return moved;
        const keep = new Float32Array(rows).fill(1);
        for (const r of at) keep[r] = 0;
        const grown = padSelf || rows > mine.shape[0]! ? tf.pad(mine, [[0, rows - mine.shape[0]!], [0, 0], [padSelf, 0], [0, 0]]) : mine;
        return grown.mul(tf.tensor4d(keep, [rows, 1, 1, 1])).add(moved);
      });
      mine?.dispose();
      theirs.dispose();
      return tf.keep(placed);
    };
    this.keys = other.keys.map((k, l) => into(this.keys[l], k));
    this.values = other.values.map((v, l) => into(this.values[l], v));
    this.positions = width;
    other.keys = [];
    other.values = [];
    other.positions = 0;
    return { padSelf, padOther };
  }

  /** Keeps the rows `rows` (in that order) and drops the first `columns` columns of all of them. */
  select(rows: readonly number[], columns = 0): void {
    if (rows.length === 0) return this.clear();
    const identity = rows.length === this.rows && rows.every((r, i) => r === i);
    const cut = (t: tf.Tensor) => {
      const kept = tf.tidy(() => {
        const r = identity ? t : tf.gather(t, tf.tensor1d(Int32Array.from(rows), 'int32'), 0);
        return columns ? r.slice([0, 0, columns, 0], [-1, -1, -1, -1]) : r.clone();
      });
      t.dispose();
      return tf.keep(kept);
    };
    this.keys = this.keys.map(cut);
    this.values = this.values.map(cut);
    this.positions -= columns;
  }

  clear(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
    this.keys = [];
    this.values = [];
    this.positions = 0;
  }
}

/** An adapter's deltas as tensors: A [rank, in] and B [out, rank] per adapted projection, scaled by α/r. */
export interface LmLoraTensors {
  scale: number;
  layers: Map<string, { a: tf.Tensor2D; b: tf.Tensor2D }>;
}

/** The low-rank delta an adapter adds to projection `name` of x [rows, in], or undefined where nothing adapts it. */
export type LmDelta = (x: tf.Tensor2D, name: string) => tf.Tensor2D | undefined;

/** One adapter's delta for every row: (α/r)·(x·Aᵀ)·Bᵀ. */
export function loraDelta(lora: LmLoraTensors): LmDelta {
  return (x, name) => {
    const d = lora.layers.get(name);
    return d ? (x.matMul(d.a, false, true).matMul(d.b, false, true).mul(lora.scale) as tf.Tensor2D) : undefined;
  };
}

function gelu(x: tf.Tensor): tf.Tensor {
  // the tanh approximation (GPT-2's)
  return x.mul(0.5).mul(tf.tanh(x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
}



/**
 * Trains a causal LM on `texts` (each ended by the end id) with Adam on random windows of
 * context + 1 tokens, seeded: the same texts, config and seed give the same model on one
 * backend. Stops after `steps`, or earlier when `seconds` have passed.
 */
export function trainCausalLm(
  texts: readonly string[],
  opts: { config: Omit<LmConfig, 'vocab'>; vocabularySize: number; steps: number; seconds?: number; batchSize: number; learningRate: number; seed: number; onProgress?: (p: { step: number; steps: number; loss: number }) => void },
): { model: CausalLm; losses: number[] } {
  const vocabulary = LmVocabulary.fromCorpus(texts, opts.vocabularySize);
  const model = CausalLm.create({ ...opts.config, vocab: vocabulary.size }, vocabulary, opts.seed);
  const stream = texts.flatMap((t) => [...vocabulary.encode(t), LmVocabulary.END]);
  const width = opts.config.context + 1;
  if (stream.length <= width) throw new ZkpoaError('ZKPOA_ERR_TRAINING', `the texts hold ${stream.length} tokens: fewer than one window of ${width}`);
  const rand = mulberry32(opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const losses: number[] = [];
  const end = opts.seconds ? performance.now() + 1000 * opts.seconds : Infinity;
  for (let step = 0; step < opts.steps && performance.now() < end; step++) {
    const batch = Array.from({ length: opts.batchSize }, () => {
      const from = Math.floor(rand() * (stream.length - width));
      return stream.slice(from, from + width);
    });
    const windows = tf.tensor2d(batch, undefined, 'int32');
    const loss = optimizer.minimize(() => model.loss(windows), true) as tf.Scalar;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    windows.dispose();
    opts.onProgress?.({ step: step + 1, steps: opts.steps, loss: losses.at(-1)! });
  }
  optimizer.dispose();
  return { model, losses };
}
