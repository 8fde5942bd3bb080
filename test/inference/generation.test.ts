import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../inference/backend.js';
import { datanetCorpus } from '../../inference/datasets.js';
import { BatchDecoder, generate, GenerationEngine, type GenerationResult, type Sampling } from '../../inference/generation.js';
import { trainCausalLm, type CausalLm } from '../../inference/lm.js';
import { LmAdapterBank } from '../../inference/lm-bank.js';
import { fineTuneLm, type LmAdapter } from '../../inference/lm-lora.js';

const TINY = { context: 32, dim: 32, heads: 4, layers: 2, mlp: 64 };
let model: CausalLm;
let adapters: LmAdapter[];
let texts: string[];

beforeAll(async () => {
  await initBackend();
  texts = (await datanetCorpus()).slice(0, 200).map((r) => r.text.slice(0, 800));
  model = trainCausalLm(texts, { config: TINY, vocabularySize: 512, steps: 30, batchSize: 8, learningRate: 0.01, seed: 5 }).model;
  // adapters of two ranks, trained on different slices (a few steps: they must change the logits, not be good)
  adapters = [2, 4, 4].map((rank, i) => fineTuneLm(model, { adapterId: `lm-${i}`, datanet: { id: `dn-${i}`, versionRoot: '0x01', texts: texts.slice(50 * i, 50 * i + 50) }, hyper: { rank, steps: 3, learningRate: 0.05 }, seed: i + 1 }).adapter);
});
afterAll(() => model?.dispose());

type Request = Sampling & { prompt: string; adapter: LmAdapter | null };

function requests(): Request[] {
  const prompts = ['Subject: ', 'Hello, this is', '', 'Dear friend, we are pleased to inform you that your account', 'Re: meeting', 'Buy now!'];
  return prompts.flatMap((prompt, i) => [
    { prompt, adapter: adapters[i % 3]!, maxTokens: 6 + 7 * i, temperature: 0 },
    // longer than the context: the window restarts mid-batch
    { prompt, adapter: i % 2 ? null : adapters[(i + 1) % 3]!, maxTokens: 40 + i, temperature: 0.9, topK: 50, topP: 0.95, seed: 100 + i },
  ]);
}

describe('batched generation', () => {
  it('gives every sequence of a mixed batch, joining and leaving between steps, what it gets alone, and streams its text', () => {
    const alone = requests().map((r) => generate(model, r.prompt, r));
    expect(alone.some((r) => r.tokens.length > TINY.context)).toBe(true);
    const before = tf.memory().numTensors;
    const bank = new LmAdapterBank(model, 4); // fewer slots than requests × adapters: slots are reused
    const decoder = new BatchDecoder(model, bank, 4);
    const queue = requests().map((r, i) => ({ r, i }));
    const results: GenerationResult[] = [];
    const streamed: string[] = [];
    let widest = 0;
    while (queue.length || decoder.size) {
      while (queue.length && decoder.size < decoder.maxBatch) {
        const { r, i } = queue.shift()!;
        streamed[i] = '';
        decoder.add(r.prompt, r.adapter, r, {
          onToken: (_, text) => (streamed[i] += text),
          onDone: (result) => (results[i] = result),
          onError: (err) => {
            throw err;
          },
        });
      }
      widest = Math.max(widest, decoder.size);
      decoder.step();
    }
    expect(widest).toBe(4);
    expect(results).toEqual(alone);
    expect(streamed).toEqual(alone.map((r) => r.text));
    bank.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('samples as asked: top-k 1 and a tiny top-p are greedy, a seed repeats, and bad parameters are refused', () => {
    const greedy = generate(model, 'Subject: ', { maxTokens: 10 });
    expect(generate(model, 'Subject: ', { maxTokens: 10, temperature: 1.5, topK: 1, seed: 3 }).tokens).toEqual(greedy.tokens);
    expect(generate(model, 'Subject: ', { maxTokens: 10, temperature: 1.5, topP: 1e-6, seed: 3 }).tokens).toEqual(greedy.tokens);
    const hot = generate(model, 'Subject: ', { maxTokens: 10, temperature: 2, seed: 3 });
    expect(generate(model, 'Subject: ', { maxTokens: 10, temperature: 2, seed: 3 })).toEqual(hot);
    expect(generate(model, 'Subject: ', { maxTokens: 10, temperature: 2, seed: 4 }).tokens).not.toEqual(hot.tokens);
    for (const bad of [{ maxTokens: 0 }, { maxTokens: 1.5 }, { maxTokens: 5, temperature: -1 }, { maxTokens: 5, topK: 0 }, { maxTokens: 5, topP: 0 }, { maxTokens: 5, seed: -2 }]) {
      expect(() => generate(model, 'x', bad)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' }));
    }
    const foreign = { ...adapters[0]!, meta: { ...adapters[0]!.meta, baseModel: '00'.repeat(32) } };
    expect(() => generate(model, 'x', { maxTokens: 2, adapter: foreign })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_MISMATCH' }));
  });
});

describe('generation engine', () => {
  it('serves concurrent requests in shared steps, streams them, lets a caller go mid-stream, and refuses what it cannot serve', async () => {
    const byId = new Map(adapters.map((a) => [a.meta.id, a]));
    const engine = new GenerationEngine(
      model,
      async (id) => {
        const a = byId.get(id);
        if (!a) throw Object.assign(new Error(`no adapter ${id}`), { code: 'ZKPOA_ERR_UNKNOWN_ADAPTER' });
        return a;
      },
      { maxBatch: 4, residentAdapters: 4, maxQueue: 8 },
    );
    const asked = requests().slice(0, 8);
    const pieces: string[][] = asked.map(() => []);
    const results = await Promise.all(asked.map((r, i) => engine.generate({ ...r, adapterId: r.adapter?.meta.id ?? null }, { onToken: (_, text) => pieces[i]!.push(text) })));
    expect(results).toEqual(asked.map((r) => generate(model, r.prompt, r)));
    expect(pieces.map((p) => p.join(''))).toEqual(results.map((r) => r.text));
    expect(engine.stats.widestBatch).toBe(4);
    expect(engine.stats.steps).toBeLessThan(results.reduce((n, r) => n + r.tokens.length, 0));

    // a caller that lets go mid-stream ends with what it had
    const abort = new AbortController();
    let seen = 0;
    const long = await engine.generate(
      { prompt: 'Subject: ', maxTokens: 100, temperature: 1, seed: 9 },
      {
        signal: abort.signal,
        onToken: () => {
          if (++seen === 5) abort.abort();
        },
      },
    );
    expect(long.finish).toBe('cancelled');
    expect(long.tokens.length).toBe(5);

    await expect(engine.generate({ prompt: 'x', maxTokens: 3, adapterId: 'nope' })).rejects.toMatchObject({ code: 'ZKPOA_ERR_UNKNOWN_ADAPTER' });
    await expect(engine.generate({ prompt: 'x', maxTokens: 0 })).rejects.toMatchObject({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' });
    // more waiting than the queue holds is refused; close lets the waiting go as cancelled
    const flood = Array.from({ length: 16 }, (_, i) => engine.generate({ prompt: `${i}`, maxTokens: 30 }).catch((err: { code: string }) => err.code));
    await engine.close();
    const outcomes = await Promise.all(flood);
    expect(outcomes).toContain('ZKPOA_ERR_OVERLOADED');
    expect(outcomes.filter((o) => typeof o === 'object').every((o) => (o as GenerationResult).finish !== undefined)).toBe(true);
    await expect(engine.generate({ prompt: 'x', maxTokens: 3 })).rejects.toMatchObject({ code: 'ZKPOA_ERR_CLOSED' });
  });

  it('fails the requests of a step that throws (none hang, their adapters are let go), and refuses one whose adapter loaded after close', async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    const engine = new GenerationEngine(
      model,
      async (id) => {
        if (id === 'slow') await slow;
        return adapters.find((a) => a.meta.id === id) ?? adapters[0]!;
      },
      { maxBatch: 2, residentAdapters: 2 },
    );
    const forward = model.forward.bind(model);
    model.forward = () => {
      throw new Error('device lost');
    };
    try {
      const failing = ['lm-0', 'lm-1'].map((adapterId) => engine.generate({ prompt: 'Hello', adapterId, maxTokens: 5 }));
      for (const f of failing) await expect(f).rejects.toThrow('device lost');
    } finally {
      model.forward = forward;
    }
    // both slots were let go: two other adapters fit in the bank of two
    const ok = await Promise.all(['lm-2', 'lm-1'].map((adapterId) => engine.generate({ prompt: 'Hello', adapterId, maxTokens: 3 })));
    expect(ok.map((r) => r.finish)).not.toContain('cancelled');
    const late = engine.generate({ prompt: 'x', adapterId: 'slow', maxTokens: 3 });
    const closing = engine.close();
    release();
    await expect(late).rejects.toMatchObject({ code: 'ZKPOA_ERR_CLOSED' });
    await closing;
  });
});
