import { setImmediate as nextTurn } from 'node:timers/promises';
import { ZkpoaError } from '../attribution/errors.js';
import { mulberry32 } from '../lib/random.js';
import { tf } from './backend.js';
import { KvCache, type CausalLm } from './lm.js';
import { LmAdapterBank } from './lm-bank.js';
import type { LmAdapter } from './lm-lora.js';
import { LmVocabulary } from './lm-vocabulary.js';

/** How a request's tokens are drawn: greedy at temperature 0, else sampled (top-k, then top-p) with a seeded draw. */
export interface Sampling {
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface GenerationResult {
  tokens: number[];
  text: string;
  /** 'end': the model ended the text; 'length': maxTokens; 'cancelled': the caller let go */
  finish: 'end' | 'length' | 'cancelled';
  promptTokens: number;
}

/** Where a sequence's tokens go: each token with the text it completes (UTF-8 split across tokens comes out whole), then the result, or the error that ended it. */
export interface GenerationSink {
  onToken?(token: number, text: string): void;
  onDone(result: GenerationResult): void;
  onError(err: unknown): void;
}

export function checkSampling(s: Sampling): void {
  const bad = (what: string) => new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', what);
  if (!Number.isInteger(s.maxTokens) || s.maxTokens < 1 || s.maxTokens > 4096) throw bad('maxTokens must be an integer in [1, 4096]');
  if (s.temperature !== undefined && !(s.temperature >= 0 && s.temperature <= 10)) throw bad('temperature must be in [0, 10]');
  if (s.topK !== undefined && (!Number.isInteger(s.topK) || s.topK < 1)) throw bad('topK must be a positive integer');
  if (s.topP !== undefined && !(s.topP > 0 && s.topP <= 1)) throw bad('topP must be in (0, 1]');
  if (s.seed !== undefined && (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff)) throw bad('seed must be an integer in [0, 2^32)');
}

interface Row {
  sampling: Required<Omit<Sampling, 'topK'>> & { topK: number };
  sink: GenerationSink;
  /** the prompt's ids (the end id for an empty prompt, as a text's first token follows one in training) */
  prompt: number[];
  out: number[];
  slot: number;
  /** the batch cache's column where this row's tokens start */
  start: number;
  /** prefill again from the latest half of the window: the cache is full */
  restart: boolean;
  cancelled: boolean;
  /** its result or error has been given */
  done: boolean;
  rand: () => number;
  text: TextDecoder;
}

/**
 * Continuous batching of a causal LM's sequences: every step runs one token of each
 * running sequence as one batch (their caches right-aligned in one KvCache, each row's
 * padding masked) and prefills the sequences that joined since the last step as one
 * left-padded batch, whose rows then take the places of finished ones. Rows stay where
 * they are while they run: a finished row's place is masked out until a new sequence
 * takes it, so requests join and leave between steps without moving the others' caches.
 * Adapters mix freely in a batch through the bank. A full context restarts a sequence
 * from the latest half of its window, as a fresh run would see it. Synchronous:
 * GenerationEngine drives it from the event loop.
 */
export class BatchDecoder {
  /** the batch cache's rows: a running sequence, or null where none runs */
  private places: (Row | null)[] = [];
  private joining: Row[] = [];
  private readonly cache = new KvCache();

  constructor(
    readonly lm: CausalLm,
    readonly bank: LmAdapterBank,
    readonly maxBatch: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'maxBatch must be a positive integer');
    if (bank.capacity < maxBatch) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `a batch of ${maxBatch} needs a bank of at least ${maxBatch} adapters`);
  }

  /** Sequences running or about to join. */
  get size(): number {
    return this.running().length + this.joining.length;
  }

  /** Adds a sequence (it joins at the next step); returns its cancel. */
  add(prompt: string, adapter: LmAdapter | null, sampling: Sampling, sink: GenerationSink): () => void {
    checkSampling(sampling);
    if (this.size >= this.maxBatch) throw new ZkpoaError('ZKPOA_ERR_OVERLOADED', `${this.maxBatch} sequences are running`);
    const ids = this.lm.vocabulary.encode(prompt);
    const slot = this.bank.acquire(adapter); // pinned last: nothing after it throws
    const row: Row = {
      sampling: { maxTokens: sampling.maxTokens, temperature: sampling.temperature ?? 0, topK: sampling.topK ?? 0, topP: sampling.topP ?? 1, seed: sampling.seed ?? 0 },
      sink,
      prompt: ids.length ? ids : [LmVocabulary.END],
      out: [],
      slot,
      start: 0,
      restart: false,
      cancelled: false,
      done: false,
      rand: mulberry32(sampling.seed ?? 0),
      text: new TextDecoder(),
    };
    this.joining.push(row);
    return () => {
      row.cancelled = true;
    };
  }

  /** One decoding step: a token for every running sequence, and the first for every joining one. */
  step(): void {
    const context = this.lm.config.context;
    // sequences that let go, or whose window is full, leave their places (the full ones prefill again)
    this.places = this.places.map((row) => {
      if (!row) return null;
      if (row.cancelled) this.finish(row, 'cancelled');
      else if (this.cache.length - row.start + 1 > context) {
        row.restart = true;
        this.joining.push(row);
      } else return row;
      return null;
    });
    for (const row of this.joining) if (row.cancelled) this.finish(row, 'cancelled');
    this.joining = this.joining.filter((row) => !row.cancelled);
    this.fit();

    if (this.running().length) {
      const next = this.run(
        this.places.map((row) => [row ? row.out.at(-1)! : LmVocabulary.END]),
        this.places,
        this.cache,
      );
      this.places = this.places.map((row, i) => (row && !this.emit(row, next[i]!) ? row : null));
    }

    if (this.joining.length) {
      const joining = this.joining;
      this.joining = [];
      const windows = joining.map((row) => (row.restart ? [...row.prompt, ...row.out].slice(-Math.ceil(context / 2)) : row.prompt.slice(-context)));
      const width = Math.max(...windows.map((w) => w.length));
      joining.forEach((row, i) => {
        row.start = width - windows[i]!.length;
        row.restart = false;
      });
      const fresh = new KvCache();
      try {
        this.prefill(joining, windows, width, fresh);
      } catch (err) {
        // the rows not placed yet stay reachable, so that clear(err) ends them
        fresh.clear();
        this.joining.push(...joining.filter((row) => !row.done && !this.places.includes(row)));
        throw err;
      }
    }
    if (this.running().length === 0) {
      this.places = [];
      this.cache.clear();
    }
  }

  /** The joining rows' first tokens, from their windows (left-padded to `width`) through `fresh`; those that go on take places in the batch. */
  private prefill(joining: Row[], windows: number[][], width: number, fresh: KvCache): void {
    const next = this.run(
      windows.map((w) => [...new Array<number>(width - w.length).fill(LmVocabulary.END), ...w]),
      joining,
      fresh,
    );
    const stay = joining.filter((row, i) => !this.emit(row, next[i]!));
    if (stay.length) {
      if (stay.length < joining.length) fresh.select(stay.map((row) => joining.indexOf(row)));
      // free places first, then new ones at the end
      const free = this.places.flatMap((row, i) => (row ? [] : [i]));
      const at = stay.map((_, i) => free[i] ?? this.places.length + i - free.length);
      const { padSelf, padOther } = this.cache.place(fresh, at);
      for (const row of this.running()) row.start += padSelf;
      stay.forEach((row, i) => {
        row.start += padOther;
        this.places[at[i]!] = row;
      });
    } else fresh.clear();
  }

  /** Ends every sequence, cancelled or with `err` when given, and frees the cache. */
  clear(err?: unknown): void {
    for (const row of [...this.running(), ...this.joining]) {
      if (row.done) continue;
      if (err === undefined) this.finish(row, 'cancelled');
      else {
        row.done = true;
        this.bank.release(row.slot);
        row.slot = 0;
        row.sink.onError(err);
      }
    }
    this.places = [];
    this.joining = [];
    this.cache.clear();
  }

  private running(): Row[] {
    return this.places.filter((row): row is Row => row !== null);
  }

  /**
   * Keeps the cache within the context: the next token needs a free column, and the
   * columns no running row uses go. Half the places empty, the batch is compacted.
   */
  private fit(): void {
    const running = this.running();
    if (running.length === 0) return;
    const full = this.cache.length + 1 > this.lm.config.context;
    const sparse = 2 * running.length <= this.places.length && this.joining.length === 0;
    if (!full && !sparse) return;
    const trim = full ? Math.min(...running.map((row) => row.start)) : 0;
    const rows = sparse ? this.places.flatMap((row, i) => (row ? [i] : [])) : this.places.map((_, i) => i);
    this.cache.select(rows, trim);
    if (sparse) this.places = running;
    for (const row of running) row.start -= trim;
  }

  /** The next token of each row after `ids` (rows × new tokens, left-padded), through `cache`; an empty place's token is not read. */
  private run(ids: number[][], rows: readonly (Row | null)[], cache: KvCache): number[] {
    const vocab = this.lm.config.vocab;
    const time = ids[0]!.length;
    const width = cache.length + time;
    const last = tf.tidy(() => {
      const delta = this.bank.delta(rows.map((r) => r?.slot ?? 0));
      // an empty place attends to nothing of the cache (its own column only)
      const starts = rows.map((r) => r?.start ?? width - 1);
      return this.lm.forward(tf.tensor2d(ids, undefined, 'int32'), { ...(delta ? { delta } : {}), cache, starts, last: true });
    });
    // read outside the tidy: a tidy walks every element of an array it returns
    const logits = last.dataSync() as Float32Array;
    last.dispose();
    return rows.map((row, i) => (row ? pick(logits.subarray(i * vocab, (i + 1) * vocab), row.sampling, row.rand()) : LmVocabulary.END));
  }

  /** Takes a row's next token; true when the row is done. */
  private emit(row: Row, token: number): boolean {
    if (token === LmVocabulary.END) {
      this.finish(row, 'end');
      return true;
    }
    row.out.push(token);
    try {
      row.sink.onToken?.(token, row.text.decode(this.lm.vocabulary.bytes(token), { stream: true }));
    } catch {
      row.cancelled = true; // a sink that throws lets go of its own sequence, not of the batch
    }
    if (row.out.length < row.sampling.maxTokens) return false;
    this.finish(row, 'length');
    return true;
  }

  private finish(row: Row, finish: GenerationResult['finish']): void {
    row.done = true;
    this.bank.release(row.slot);
    row.slot = 0;
    const promptTokens = row.prompt[0] === LmVocabulary.END && row.prompt.length === 1 ? 0 : row.prompt.length;
    row.sink.onDone({ tokens: row.out, text: this.lm.vocabulary.decode(row.out), finish, promptTokens });
  }
}

/** The token to emit from a row's logits. */
function pick(logits: Float32Array, s: Row['sampling'], u: number): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (s.temperature === 0) return best;
  // the candidates, most likely first when top-k or top-p cut them
  let order: number[] | undefined;
  if (s.topK > 0 || s.topP < 1) {
    order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    if (s.topK > 0) order = order.slice(0, s.topK);
  }
  const n = order?.length ?? logits.length;
  const weights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i] = Math.exp((logits[order ? order[i]! : i]! - logits[best]!) / s.temperature);
  let count = n;
  if (s.topP < 1) {
    // the smallest set of most likely tokens whose mass reaches topP
    let mass = 0;
    count = 0;
    while (count < n && mass < s.topP * total) mass += weights[count++]!;
    total = mass;
  }
  let acc = 0;
  for (let i = 0; i < count; i++) {
    acc += weights[i]! / total;
    if (u < acc) return order ? order[i]! : i;
  }
  return order ? order[count - 1]! : count - 1;
}

/** One request through the decoder, alone: what a batch gives each of its rows. */
export function generate(lm: CausalLm, prompt: string, sampling: Sampling & { adapter?: LmAdapter | null }): GenerationResult {
  const bank = new LmAdapterBank(lm, 1);
  const decoder = new BatchDecoder(lm, bank, 1);
  let result: GenerationResult | undefined;
  try {
    decoder.add(prompt, sampling.adapter ?? null, sampling, {
      onDone: (r) => (result = r),
      onError: (err) => {
        throw err;
      },
    });
    while (!result) decoder.step();
    return result;
  } finally {
    decoder.clear();
    bank.dispose();
  }
}

export interface GenerationEngineOptions {
  /** sequences decoded together */
  maxBatch?: number;
  /** adapters resident in the bank */
  residentAdapters?: number;
  /** requests waiting for a place in the batch beyond this are refused */
  maxQueue?: number;
}

export interface GenerationStats {
  steps: number;
  tokens: number;
  /** the most sequences one step ran */
  widestBatch: number;
}

/**
 * Serves generation requests for any mix of adapters: a request waits for a place in the
 * batch (loading its adapter meanwhile), joins at the next step, streams its tokens, and
 * leaves when done. Steps run back to back while sequences are running, yielding to the
 * event loop between steps so requests can join and tokens can be sent.
 */
export class GenerationEngine {
  readonly stats: GenerationStats = { steps: 0, tokens: 0, widestBatch: 0 };
  private readonly bank: LmAdapterBank;
  private readonly decoder: BatchDecoder;
  private readonly maxQueue: number;
  private waiting: { start: () => void; drop: () => void }[] = [];
  private loading = 0;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly lm: CausalLm,
    private readonly loadAdapter: (id: string) => Promise<LmAdapter>,
    opts: GenerationEngineOptions = {},
  ) {
    const maxBatch = opts.maxBatch ?? 32;
    this.maxQueue = opts.maxQueue ?? 1024;
    lm.freeze(); // served from now on: its weights no longer change
    this.bank = new LmAdapterBank(lm, Math.max(maxBatch, opts.residentAdapters ?? 128));
    this.decoder = new BatchDecoder(lm, this.bank, maxBatch);
  }

  /** Generates for one request; `onToken` streams its tokens, `signal` lets go of it. */
  async generate(request: Sampling & { prompt: string; adapterId?: string | null }, opts: { onToken?: GenerationSink['onToken']; signal?: AbortSignal } = {}): Promise<GenerationResult> {
    if (this.closed) throw new ZkpoaError('ZKPOA_ERR_CLOSED', 'the generation engine is closed');
    if (typeof request.prompt !== 'string') throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'prompt must be a string');
    checkSampling(request);
    if (this.waiting.length + this.loading >= this.maxQueue) throw new ZkpoaError('ZKPOA_ERR_OVERLOADED', `more than ${this.maxQueue} generation requests are waiting`);
    this.loading++;
    let adapter: LmAdapter | null;
    try {
      adapter = request.adapterId ? await this.loadAdapter(request.adapterId) : null;
    } finally {
      this.loading--;
    }
    if (this.closed) throw new ZkpoaError('ZKPOA_ERR_CLOSED', 'the generation engine is closed');
    return new Promise<GenerationResult>((resolve, reject) => {
      const cancelled = (): GenerationResult => ({ tokens: [], text: '', finish: 'cancelled', promptTokens: 0 });
      if (opts.signal?.aborted) return resolve(cancelled());
      const entry = {
        drop: () => dequeue(),
        start: () => {
          opts.signal?.removeEventListener('abort', dequeue);
          try {
            const cancel = this.decoder.add(request.prompt, adapter, request, {
              onToken: (token, text) => {
                this.stats.tokens++;
                opts.onToken?.(token, text);
              },
              onDone: (result) => {
                opts.signal?.removeEventListener('abort', cancel);
                resolve(result);
              },
              onError: (err) => {
                opts.signal?.removeEventListener('abort', cancel);
                reject(err);
              },
            });
            opts.signal?.addEventListener('abort', cancel, { once: true });
          } catch (err) {
            reject(err);
          }
        },
      };
      const dequeue = () => {
        this.waiting = this.waiting.filter((w) => w !== entry);
        resolve(cancelled());
      };
      opts.signal?.addEventListener('abort', dequeue, { once: true });
      this.waiting.push(entry);
      this.kick();
    });
  }

  /** Runs the loop unless it runs; one that ends while requests wait (they came in as it ended) starts again. */
  private kick(): void {
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      if (this.waiting.length && !this.closed) this.kick();
    });
  }

  /** Sequences running in the batch, and requests waiting for a place. */
  get load(): { running: number; waiting: number } {
    return { running: this.decoder.size, waiting: this.waiting.length + this.loading };
  }

  /** Cancels what runs and waits, then frees the bank. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiting]) w.drop();
    await this.running;
    this.decoder.clear();
    this.bank.dispose();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      while (this.waiting.length && this.decoder.size < this.decoder.maxBatch) this.waiting.shift()!.start();
      if (this.decoder.size === 0) return;
      this.stats.widestBatch = Math.max(this.stats.widestBatch, this.decoder.size);
      try {
        this.decoder.step();
      } catch (err) {
        // a step that throws leaves the batch's cache unknown: its sequences end, the engine goes on
        this.decoder.clear(err);
      }
      this.stats.steps++;
      await nextTurn();
    }
    for (const w of [...this.waiting]) w.drop();
    this.decoder.clear();
  }
}
