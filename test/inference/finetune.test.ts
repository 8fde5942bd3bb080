import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR } from '../../lib/config.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { ModelFactory } from '../../inference/factory.js';
import { hashFeatures } from '../../inference/features.js';
import { LoraObjective } from '../../inference/lora-objective.js';
import { decodeAdapter, encodeAdapter, initAdapterLayers } from '../../inference/lora.js';
import { gaussian, mulberry32 } from '../../lib/random.js';
import type { BaseModel } from '../../inference/model.js';
import { AdapterStore } from '../../inference/store.js';
import { accuracy, fineTune, type Progress, type TrainingRecord } from '../../inference/train.js';
import { base, tempDir } from './helpers.js';

let model: BaseModel;
let store: AdapterStore;
let factory: ModelFactory;
let checkpointsDir: string;
let train: TrainingRecord[];
let heldOut: TrainingRecord[];

beforeAll(async () => {
  model = await base();
  store = await AdapterStore.open(await tempDir('zkpoa-ft-'), model);
  checkpointsDir = await tempDir('zkpoa-ckpt-');
  factory = new ModelFactory({ baseDir: join(BUILD_DIR, 'models', 'base'), store, checkpointsDir });
  const corpus = await datanetCorpus();
  // every 3rd training message keeps the test quick; held-out messages are never trained on
  train = corpus.filter((r, i) => !isHeldOut(r.id) && i % 3 === 0);
  heldOut = corpus.filter((r) => isHeldOut(r.id));
});

afterAll(async () => {
  await factory?.close();
  store?.close();
});

describe('ModelFactory fine-tuning', () => {
  it('trains an adapter off the main thread, reports progress, keeps checkpoints, and beats the base on its datanet', async () => {
    const progress: Progress[] = [];
    const out = await factory.fineTune(
      { adapterId: 'spam-2002-late', datanet: { id: 'sa-late', versionRoot: '0x01', records: train }, hyper: { optimizer: 'adam', epochs: 3 }, seed: 11 },
      (p) => progress.push(p),
    );
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)).toMatchObject({ epoch: 3, epochs: 3 });
    expect(progress.at(-1)!.step).toBe(progress.at(-1)!.steps);
    expect(out.checkpoints.map((c) => c.epoch)).toEqual([1, 2, 3]);
    for (const c of out.checkpoints) {
      const ck = decodeAdapter(await readFile(c.path), model);
      expect(ck.meta.training).toMatchObject({ checkpoint: { epoch: c.epoch, learningRate: c.learningRate } });
    }
    expect(store.has('spam-2002-late')).toBe(true);

    const adapter = await store.get('spam-2002-late');
    const before = accuracy(model, heldOut);
    const after = accuracy(model, heldOut, adapter);
    expect(after).toBeGreaterThan(before + 0.03);
  });

  it('is deterministic for a seed on one backend', () => {
    const spec = { adapterId: 'det', datanet: { id: 'd', versionRoot: '0x02', records: train.slice(0, 200) }, hyper: { optimizer: 'adam' as const, epochs: 2 }, seed: 5 };
    const a = encodeAdapter(fineTune(model, spec).adapter);
    const b = encodeAdapter(fineTune(model, spec).adapter);
    expect(Buffer.compare(a, b)).toBe(0);
    const c = encodeAdapter(fineTune(model, { ...spec, seed: 6 }).adapter);
    expect(Buffer.compare(a, c)).not.toBe(0);
  });

  it('with L-BFGS: trains full-batch to the regularized optimum, deterministically, and beats the base', () => {
    const records = train;
    const steps: Progress[] = [];
    const spec = { adapterId: 'lbfgs', datanet: { id: 'd', versionRoot: '0x04', records }, hyper: { optimizer: 'lbfgs' as const, rank: 4, alpha: 8, iterations: 100 }, seed: 3 };
    const out = fineTune(model, spec, (p) => steps.push(p));
    expect(steps.length).toBeGreaterThan(10);
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0]!.loss);
    // one checkpoint, the optimum, weighted 1
    expect(out.checkpoints).toHaveLength(1);
    expect(out.checkpoints[0]).toMatchObject({ learningRate: 1, epoch: steps.length });
    expect(out.adapter.meta.training).toMatchObject({ hyper: { optimizer: 'lbfgs', weightDecay: 0.05 }, backend: 'float64' });
    // the gradient at the result is small against where training started
    const objective = new LoraObjective(model, records.map((r) => ({ x: hashFeatures(r.text), label: r.label })), 4, 8, 0.05);
    const g0 = new Float64Array(objective.size);
    const g1 = new Float64Array(objective.size);
    objective.value(objective.pack(initAdapterLayers(model, 4, gaussian(mulberry32(3)))), g0);
    objective.value(objective.pack(out.adapter.layers), g1);
    expect(Math.hypot(...g1)).toBeLessThan(0.05 * Math.hypot(...g0));
    expect(accuracy(model, heldOut, out.adapter)).toBeGreaterThan(accuracy(model, heldOut) + 0.03);
    const small = { ...spec, datanet: { ...spec.datanet, records: train.slice(0, 200) }, hyper: { ...spec.hyper, iterations: 20 } };
    expect(Buffer.compare(encodeAdapter(fineTune(model, small).adapter), encodeAdapter(fineTune(model, small).adapter))).toBe(0);
  });

  it.each([
    [{ records: [] }, /no records/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { optimizer: 'sgd' } }, /hyper.optimizer/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { optimizer: 'lbfgs', weightDecay: 0 } }, /weightDecay must be > 0/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { optimizer: 'lbfgs', iterations: 0 } }, /hyper.iterations/],
    [{ records: [{ text: '', label: 0 }] }, /non-empty string/],
    [{ records: [{ text: 'x', label: 2 }] }, /label must be an integer/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { rank: 0 } }, /hyper.rank/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { epochs: 1000 } }, /hyper.epochs/],
  ])('refuses a bad spec %# with a training error', async (bad, message) => {
    const spec = { adapterId: 'bad', datanet: { id: 'd', versionRoot: '0x03', records: bad.records as TrainingRecord[] }, hyper: (bad as { hyper?: object }).hyper };
    await expect(factory.fineTune(spec as never)).rejects.toMatchObject({ code: 'ZKPOA_ERR_TRAINING', message: expect.stringMatching(message) });
  });
});
