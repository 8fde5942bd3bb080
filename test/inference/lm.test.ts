import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../inference/backend.js';
import { CausalLm, KvCache, trainCausalLm } from '../../inference/lm.js';
import { generate } from '../../inference/generation.js';
import { LmVocabulary } from '../../inference/lm-vocabulary.js';
import { datanetCorpus } from '../../inference/datasets.js';

const TINY = { context: 32, dim: 32, heads: 4, layers: 2, mlp: 64 };
const argmaxOf = (xs: ArrayLike<number>) => Array.from(xs).reduce((best, x, i, all) => (x > all[best]! ? i : best), 0);
let dir: string;
let texts: string[];

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'zkpoa-lm-'));
  texts = (await datanetCorpus()).slice(0, 200).map((r) => r.text.slice(0, 800));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('LM vocabulary', () => {
  it('round-trips any text, spelling what it does not keep in bytes', () => {
    const v = LmVocabulary.fromCorpus(texts, 600);
    expect(v.size).toBe(600);
    for (const s of [...texts.slice(0, 20), 'héllo wörld 日本語 🙂 \u0000 tabs\tand\r\nnewlines', '']) expect(v.decode(v.encode(s))).toBe(s);
    // kept tokens make text shorter than its bytes
    expect(v.encode(texts[0]!).length).toBeLessThan(new TextEncoder().encode(texts[0]!).length);
    expect(LmVocabulary.fromJson(v.toJson()).encode(texts[1]!)).toEqual(v.encode(texts[1]!));
    expect(() => LmVocabulary.fromCorpus(texts, 100)).toThrow(RangeError);
  });
});

describe('causal LM', () => {
  it('learns (loss falls), and reads back from its checkpoint the same logits and the same generation', async () => {
    const { model, losses } = trainCausalLm(texts, { config: TINY, vocabularySize: 512, steps: 60, batchSize: 8, learningRate: 0.01, seed: 3 });
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(first - 1);
    const ids = tf.tensor2d([model.vocabulary.encode(texts[0]!).slice(0, TINY.context)], undefined, 'int32');
    // causal: the logits at a position do not depend on later tokens
    const full = model.logits(ids);
    const prefix = model.logits(ids.slice([0, 0], [1, 10]) as tf.Tensor2D);
    expect(Array.from(full.slice([0, 0, 0], [1, 10, -1]).dataSync())).toEqual(Array.from(prefix.dataSync()).map((x) => expect.closeTo(x, 4) as unknown as number));
    const generated = generate(model, 'Subject: ', { maxTokens: 12 });
    expect(generated.tokens.length).toBeGreaterThan(0);
    await model.save(join(dir, 'lm'));
    const loaded = await CausalLm.load(join(dir, 'lm'));
    expect(Array.from(loaded.logits(ids).dataSync())).toEqual(Array.from(full.dataSync()));
    expect(generate(loaded, 'Subject: ', { maxTokens: 12 })).toEqual(generated);
    expect(generate(loaded, 'Subject: ', { maxTokens: 12, temperature: 1, seed: 5 })).toEqual(generate(model, 'Subject: ', { maxTokens: 12, temperature: 1, seed: 5 }));
    for (const t of [ids, full, prefix]) t.dispose();
    model.dispose();
    loaded.dispose();
  });

  it('generates through its key-value cache what running the whole window each step gives, past the context too, and leaks no tensors', () => {
    const { model } = trainCausalLm(texts, { config: TINY, vocabularySize: 512, steps: 30, batchSize: 8, learningRate: 0.01, seed: 5 });
    const prompt = 'Subject: your account';
    const ids = model.vocabulary.encode(prompt);
    // the reference: every step runs the whole sequence so far
    const reference: number[] = [];
    while (ids.length + reference.length < TINY.context) {
      const next = tf.tidy(() => {
        const seq = [...ids, ...reference];
        return argmaxOf(model.logits(tf.tensor2d([seq], undefined, 'int32')).slice([0, seq.length - 1, 0], [1, 1, -1]).dataSync());
      });
      if (next === LmVocabulary.END) break;
      reference.push(next);
    }
    expect(reference.length).toBeGreaterThan(5);
    // the cache's mask and positions when several new tokens follow cached ones: 10 tokens, then 6 more, as all 16 at once
    const seq = model.vocabulary.encode(texts[3]!).slice(0, 16);
    const whole = model.logits(tf.tensor2d([seq], undefined, 'int32'));
    const cache = new KvCache();
    const first = model.logits(tf.tensor2d([seq.slice(0, 10)], undefined, 'int32'), undefined, cache);
    const rest = model.logits(tf.tensor2d([seq.slice(10)], undefined, 'int32'), undefined, cache);
    expect(Array.from(tf.concat([first, rest], 1).dataSync())).toEqual(Array.from(whole.dataSync()).map((x) => expect.closeTo(x, 4) as unknown as number));
    for (const t of [whole, first, rest]) t.dispose();
    cache.clear();
    model.freeze(); // generation freezes the model: its kept transposed embedding is the model's, freed by dispose
    const before = tf.memory().numTensors;
    expect(generate(model, prompt, { maxTokens: reference.length }).tokens).toEqual(reference);
    const long = generate(model, prompt, { maxTokens: 3 * TINY.context, temperature: 1, seed: 2 });
    expect(long.tokens.length).toBeGreaterThan(TINY.context); // (sampled: the end id is unlikely to come first)
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('says what is wrong with a checkpoint that does not fit the architecture', async () => {
    const bad = join(dir, 'bad');
    await CausalLm.create({ ...TINY, vocab: 300 }, LmVocabulary.fromCorpus(texts, 300), 1).save(bad);
    await writeFile(join(bad, 'weights.bin'), Buffer.alloc(12));
    await expect(CausalLm.load(bad)).rejects.toMatchObject({ code: 'ZKPOA_ERR_MODEL', message: expect.stringContaining('weights.bin holds 12 bytes') });
    await writeFile(join(bad, 'config.json'), JSON.stringify({ ...TINY, vocab: 300, heads: 5 }));
    await expect(CausalLm.load(bad)).rejects.toMatchObject({ code: 'ZKPOA_ERR_MODEL', message: expect.stringContaining('not a multiple of heads') });
    await writeFile(join(bad, 'config.json'), '{ not json');
    await expect(CausalLm.load(bad)).rejects.toMatchObject({ code: 'ZKPOA_ERR_MODEL', message: expect.stringContaining('config.json is not JSON') });
    await writeFile(join(bad, 'config.json'), JSON.stringify({ ...TINY, vocab: 300 }));
    await writeFile(join(bad, 'vocabulary.json'), JSON.stringify({ base: 'cl100k_base', kept: [100257, ...Array.from({ length: 42 }, (_, i) => i)] }));
    await expect(CausalLm.load(bad)).rejects.toMatchObject({ code: 'ZKPOA_ERR_MODEL', message: expect.stringContaining('100257 is not a whole-character cl100k_base token') });
    await expect(CausalLm.load(join(dir, 'none'))).rejects.toMatchObject({ code: 'ZKPOA_ERR_MODEL', message: expect.stringContaining('cannot read config.json') });
  });
});
