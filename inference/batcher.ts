import { ZkpoaError } from '../attribution/errors.js';
import { tf } from './backend.js';
import { hashFeatures } from './features.js';
import { forwardMixed } from './forward.js';
import { defaultKernel, forwardMixedHost, sparseRow, type MixedKernel } from './sgmv.js';
import type { AdapterStore, ResidentAdapter } from './store.js';

/**
 * Collects inference requests for any mix of adapters and runs them together: at most
 * `maxBatchSize` requests, waiting at most `maxWaitMs` for a batch to fill. The base
 * layers run once per batch, the adapters' low-rank deltas as segmented products: the
 * host SGMV kernel on the wasm/cpu backends, tensor products (forwardMixed) on native
 * and GPU ones. A bad request fails alone, with a typed error; the batch goes on.
 */
export interface InferRequest {
  adapterId: string;
  /** raw text (features are computed here), or... */
  text?: string;
  /** ...a precomputed feature vector of the base model's input size */
  features?: ArrayLike<number>;
}

export interface InferResult {
  adapterId: string;
  label: string;
  labelIndex: number;
  probabilities: number[];
  logits: number[];
  /** size of the batch this request ran in */
  batchSize: number;
}

export interface BatcherOptions {
  maxBatchSize?: number;
  maxWaitMs?: number;
  /** requests waiting beyond this are refused (backpressure) */
  maxQueue?: number;
  maxTextLength?: number;
  /** how mixed batches are computed; by default the one suited to the backend (sgmv.ts) */
  kernel?: MixedKernel;
}

interface Pending {
  adapterId: string;
  features: Float32Array;
  resolve: (r: InferResult) => void;
  reject: (e: unknown) => void;
}

export interface BatcherStats {
  batches: number;
  requests: number;
}

export class Batcher {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly maxQueue: number;
  readonly maxTextLength: number;
  readonly kernel: MixedKernel;
  readonly stats: BatcherStats = { batches: 0, requests: 0 };
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly store: AdapterStore,
    opts: BatcherOptions = {},
  ) {
    this.maxBatchSize = opts.maxBatchSize ?? 32;
    this.maxWaitMs = opts.maxWaitMs ?? 2;
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.maxTextLength = opts.maxTextLength ?? 100_000;
    this.kernel = opts.kernel ?? defaultKernel();
    if (this.kernel !== 'host' && this.kernel !== 'tensor') throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', "kernel must be 'host' or 'tensor'");
    if (!Number.isInteger(this.maxBatchSize) || this.maxBatchSize < 1) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'maxBatchSize must be a positive integer');
    if (!(this.maxWaitMs >= 0)) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'maxWaitMs must be ≥ 0');
  }

  /** One answer. Rejects with a ZkpoaError for an unknown adapter or a malformed input. */
  infer(req: InferRequest): Promise<InferResult> {
    try {
      const p = this.validate(req);
      return new Promise<InferResult>((resolve, reject) => {
        this.queue.push({ ...p, resolve, reject });
        this.schedule();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Many answers on any mix of adapters, each settled on its own. */
  inferMany(reqs: readonly InferRequest[]): Promise<PromiseSettledResult<InferResult>[]> {
    return Promise.allSettled(reqs.map((r) => this.infer(r)));
  }

  /** Serves what is queued, then refuses new work. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length || this.running) await (this.running ?? this.drain());
  }

  private validate(req: InferRequest): { adapterId: string; features: Float32Array } {
    if (this.closed) throw new ZkpoaError('ZKPOA_ERR_CLOSED', 'the batcher is closed');
    if (this.queue.length >= this.maxQueue) throw new ZkpoaError('ZKPOA_ERR_OVERLOADED', `more than ${this.maxQueue} requests are waiting`);
    if (req === null || typeof req !== 'object') throw new ZkpoaError('ZKPOA_ERR_INPUT', 'a request must be an object');
    const { adapterId, text, features } = req;
    if (typeof adapterId !== 'string' || !this.store.has(adapterId)) {
      throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_ADAPTER', `unknown adapter ${JSON.stringify(adapterId)}`);
    }
    if ((text === undefined) === (features === undefined)) throw new ZkpoaError('ZKPOA_ERR_INPUT', 'give exactly one of text or features');
    if (text !== undefined) {
      if (typeof text !== 'string') throw new ZkpoaError('ZKPOA_ERR_INPUT', 'text must be a string');
      if (text.trim().length === 0) throw new ZkpoaError('ZKPOA_ERR_INPUT', 'text is empty');
      if (text.length > this.maxTextLength) throw new ZkpoaError('ZKPOA_ERR_INPUT', `text is longer than ${this.maxTextLength} characters`);
      return { adapterId, features: hashFeatures(text, this.store.base.spec.inputDim) };
    }
    const dim = this.store.base.spec.inputDim;
    if (features === null || typeof features !== 'object' || typeof (features as ArrayLike<number>).length !== 'number') {
      throw new ZkpoaError('ZKPOA_ERR_INPUT', 'features must be an array of numbers');
    }
    const f = features as ArrayLike<number>;
    if (f.length !== dim) throw new ZkpoaError('ZKPOA_ERR_INPUT', `features must have ${dim} values, got ${f.length}`);
    const out = new Float32Array(dim);
    for (let i = 0; i < dim; i++) {
      const v = f[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ZkpoaError('ZKPOA_ERR_INPUT', `features[${i}] is not a finite number`);
      out[i] = v;
    }
    return { adapterId, features: out };
  }

  private schedule(): void {
    if (this.running) return; // the running loop picks new requests up
    if (this.queue.length >= this.maxBatchSize || this.maxWaitMs === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.drain();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.drain();
      }, this.maxWaitMs);
    }
  }

  private drain(): Promise<void> {
    this.running ??= (async () => {
      try {
        while (this.queue.length) await this.runBatch(this.takeBatch());
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /**
   * The next batch: the oldest half-batch of requests first (so nothing waits long), then
   * waiting requests for adapters already in the batch (each distinct adapter costs its
   * own low-rank products), then the oldest of the rest; never more distinct adapters
   * than there are resident slots.
   */
  private takeBatch(): Pending[] {
    const taken = new Array<boolean>(this.queue.length).fill(false);
    const adapters = new Set<string>();
    let size = 0;
    const take = (i: number) => {
      taken[i] = true;
      adapters.add(this.queue[i]!.adapterId);
      size++;
    };
    const fits = (p: Pending) => adapters.has(p.adapterId) || adapters.size < this.store.maxResident;
    const pass = (limit: number, want: (p: Pending) => boolean) => {
      for (let i = 0; i < this.queue.length && size < limit; i++) if (!taken[i] && want(this.queue[i]!) && fits(this.queue[i]!)) take(i);
    };
    pass(Math.ceil(this.maxBatchSize / 2), () => true);
    pass(this.maxBatchSize, (p) => adapters.has(p.adapterId));
    pass(this.maxBatchSize, () => true);
    const batch = this.queue.filter((_, i) => taken[i]);
    this.queue = this.queue.filter((_, i) => !taken[i]);
    return batch;
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    // Load each non-resident adapter on its own so that one bad adapter fails only its requests.
    const ids = [...new Set(batch.map((p) => p.adapterId))];
    const failed = new Set<string>();
    await Promise.all(
      ids
        .filter((id) => !this.store.isResident(id))
        .map((id) =>
          this.store.get(id).catch((err: unknown) => {
            failed.add(id);
            batch.filter((p) => p.adapterId === id).forEach((p) => p.reject(err));
          }),
        ),
    );
    const ok = failed.size ? ids.filter((id) => !failed.has(id)) : ids;
    const live = failed.size ? batch.filter((p) => !failed.has(p.adapterId)) : batch;
    if (live.length === 0) return;
    try {
      const resident = await this.store.acquire(ok);
      const slot = new Map(ok.map((id, i) => [id, i]));
      const dim = this.store.base.spec.inputDim;
      const flat = new Float32Array(live.length * dim);
      live.forEach((p, i) => flat.set(p.features, i * dim));
      const rows = Int32Array.from(live, (p) => slot.get(p.adapterId)!);
      const values = await this.logits(flat, live, resident, rows);
      const labels = this.store.base.spec.labels;
      const k = labels.length;
      this.stats.batches++;
      this.stats.requests += live.length;
      live.forEach((p, i) => {
        const l = Array.from(values.subarray(i * k, (i + 1) * k));
        const m = Math.max(...l);
        const e = l.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        const best = l.indexOf(m);
        p.resolve({ adapterId: p.adapterId, label: labels[best]!, labelIndex: best, probabilities: e.map((v) => v / z), logits: l, batchSize: live.length });
      });
    } catch (err) {
      live.forEach((p) => p.reject(err));
    }
  }

  private async logits(flat: Float32Array, live: Pending[], resident: ResidentAdapter[], rows: Int32Array): Promise<Float32Array> {
    const base = this.store.base;
    if (this.kernel === 'host') {
      const sparse = live.map((p) => sparseRow(p.features));
      return forwardMixedHost(base, flat, sparse, resident.map((r) => r.weights), rows);
    }
    const tensors = resident.map((r) => r.tensors()); // made outside tidy: they live in their slots
    const logits = tf.tidy(() => forwardMixed(base, tf.tensor2d(flat, [live.length, base.spec.inputDim]), tensors, rows));
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  }
}
