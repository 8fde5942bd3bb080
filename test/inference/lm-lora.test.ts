import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../inference/backend.js';
import { datanetCorpus } from '../../inference/datasets.js';
import { CausalLm, trainCausalLm } from '../../inference/lm.js';
import { generate } from '../../inference/generation.js';
import { decodeLmAdapter, disposeLmLora, encodeLmAdapter, fineTuneLm, lmLoraTensors } from '../../inference/lm-lora.js';
import { decodeAdapter, encodeAdapter } from '../../inference/lora.js';
import { base, randomAdapter } from './helpers.js';

const TINY = { context: 32, dim: 32, heads: 4, layers: 2, mlp: 64 };
let model: CausalLm;
let general: string[];
let datanet: string[];

beforeAll(async () => {
  await initBackend();
  const corpus = await datanetCorpus();
  general = corpus.slice(0, 150).map((r) => r.text.slice(0, 600));
  // a datanet whose text the base has not seen and an adapter can pick up in a few steps
  datanet = Array.from({ length: 12 }, (_, i) => `Record ${i}: ` + 'the payable model remembers every contributor of this datanet. '.repeat(4));
  model = trainCausalLm(general, { config: TINY, vocabularySize: 512, steps: 20, batchSize: 8, learningRate: 0.01, seed: 2 }).model;
});

const lossOn = (texts: string[], lora?: ReturnType<typeof lmLoraTensors>) =>
  tf.tidy(() => {
    const w = TINY.context + 1;
    const windows = texts.map((t) => model.vocabulary.encode(t).slice(0, w));
    return model.loss(tf.tensor2d(windows, undefined, 'int32'), lora).dataSync()[0]!;
  });

describe('LoRA on the language model', () => {
  it('fine-tunes on a datanet’s texts: their loss falls through the adapter, and the base is untouched', () => {
    const before = model.hash();
    const { adapter, losses } = fineTuneLm(model, { adapterId: 'lm-mail', datanet: { id: 'dn', versionRoot: '0x01', texts: datanet }, hyper: { steps: 40, learningRate: 0.02 }, seed: 4 });
    expect(model.hash()).toBe(before);
    expect(adapter.meta).toMatchObject({ model: 'causal-lm', baseModel: before, rank: 4, layers: expect.arrayContaining([{ name: '1.up', inDim: 32, outDim: 64 }, { name: '0.down', inDim: 64, outDim: 32 }]) });
    expect(losses.slice(-5).reduce((a, b) => a + b)).toBeLessThan(losses.slice(0, 5).reduce((a, b) => a + b));
    const lora = lmLoraTensors(adapter);
    expect(lossOn(datanet, lora)).toBeLessThan(lossOn(datanet) - 0.1);
    // seeded: the same spec gives the same file
    const again = fineTuneLm(model, { adapterId: 'lm-mail', datanet: { id: 'dn', versionRoot: '0x01', texts: datanet }, hyper: { steps: 40, learningRate: 0.02 }, seed: 4 });
    expect(encodeLmAdapter(again.adapter).equals(encodeLmAdapter(adapter))).toBe(true);
    disposeLmLora(lora);
  });

  it('reads back from its .lora file the same deltas, and refuses files for another model or tampered with', async () => {
    const { adapter } = fineTuneLm(model, { adapterId: 'lm-rt', datanet: { id: 'dn', versionRoot: '0x01', texts: datanet }, hyper: { steps: 5 }, seed: 1 });
    const bytes = encodeLmAdapter(adapter);
    const read = decodeLmAdapter(bytes, model);
    const [x, y] = [lmLoraTensors(adapter), lmLoraTensors(read)];
    const ids = tf.tensor2d([model.vocabulary.encode(datanet[0]!).slice(0, TINY.context)], undefined, 'int32');
    expect(Array.from(model.logits(ids, y).dataSync())).toEqual(Array.from(model.logits(ids, x).dataSync()));
    expect(Array.from(model.logits(ids, y).dataSync())).not.toEqual(Array.from(model.logits(ids).dataSync())); // the adapter does something
    expect(generate(model, 'Hello', { maxTokens: 8, adapter: read })).toEqual(generate(model, 'Hello', { maxTokens: 8, adapter }));
    [x, y].forEach(disposeLmLora);
    ids.dispose();
    const other = trainCausalLm(general, { config: TINY, vocabularySize: 512, steps: 1, batchSize: 2, learningRate: 0.01, seed: 9 }).model;
    expect(() => decodeLmAdapter(bytes, other)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_MISMATCH' }));
    other.dispose();
    const twice = { ...adapter, meta: { ...adapter.meta, layers: [...adapter.meta.layers, adapter.meta.layers[0]!] } };
    expect(() => decodeLmAdapter(encodeLmAdapter(twice))).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_CORRUPT', message: expect.stringContaining('listed twice') }));
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 40]! ^= 1;
    expect(() => decodeLmAdapter(tampered)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_CORRUPT' }));
    // one file format, two kinds of model: neither takes the other's adapter
    expect(() => decodeAdapter(bytes)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_MISMATCH' }));
    const classifier = await base();
    expect(() => decodeLmAdapter(encodeAdapter(randomAdapter(classifier, 'c', 1)))).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_MISMATCH' }));
  });

  it('refuses a spec it cannot train', () => {
    const spec = { adapterId: 'x', datanet: { id: 'dn', versionRoot: '0x01', texts: datanet } };
    expect(() => fineTuneLm(model, { ...spec, hyper: { rank: 0 } })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_TRAINING' }));
    expect(() => fineTuneLm(model, { ...spec, hyper: { steps: 1.5 } })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_TRAINING' }));
    expect(() => fineTuneLm(model, { ...spec, hyper: { alpha: Infinity } })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_TRAINING' }));
    const before = tf.memory().numTensors;
    fineTuneLm(model, { ...spec, hyper: { steps: 2 } });
    expect(tf.memory().numTensors).toBe(before); // nothing of the training is left behind
    expect(() => fineTuneLm(model, { ...spec, datanet: { ...spec.datanet, texts: ['too short'] } })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_TRAINING' }));
    expect(() => fineTuneLm(model, { ...spec, adapterId: '../x' })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' }));
  });
});
