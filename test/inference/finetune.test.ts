import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUILD_DIR } from '../../prover/setup.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { ModelFactory } from '../../inference/factory.js';
import { decodeAdapter, encodeAdapter } from '../../inference/lora.js';
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
  factory = new ModelFactory({ baseDir: join(DEFAULT_BUILD_DIR, 'models', 'base'), store, checkpointsDir });
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
      { adapterId: 'spam-2002-late', datanet: { id: 'sa-late', versionRoot: '0x01', records: train }, hyper: { epochs: 3 }, seed: 11 },
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
    const spec = { adapterId: 'det', datanet: { id: 'd', versionRoot: '0x02', records: train.slice(0, 200) }, hyper: { epochs: 2 }, seed: 5 };
    const a = encodeAdapter(fineTune(model, spec).adapter);
    const b = encodeAdapter(fineTune(model, spec).adapter);
    expect(Buffer.compare(a, b)).toBe(0);
    const c = encodeAdapter(fineTune(model, { ...spec, seed: 6 }).adapter);
    expect(Buffer.compare(a, c)).not.toBe(0);
  });

  it.each([
    [{ records: [] }, /no records/],
    [{ records: [{ text: '', label: 0 }] }, /non-empty string/],
    [{ records: [{ text: 'x', label: 2 }] }, /label must be an integer/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { rank: 0 } }, /hyper.rank/],
    [{ records: [{ text: 'x', label: 0 }], hyper: { epochs: 1000 } }, /hyper.epochs/],
  ])('refuses a bad spec %# with a training error', async (bad, message) => {
    const spec = { adapterId: 'bad', datanet: { id: 'd', versionRoot: '0x03', records: bad.records as TrainingRecord[] }, hyper: (bad as { hyper?: object }).hyper };
    await expect(factory.fineTune(spec as never)).rejects.toMatchObject({ code: 'ZKPOA_ERR_TRAINING', message: expect.stringMatching(message) });
  });
});
