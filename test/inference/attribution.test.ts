import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Commitments } from '../../attribution/index.js';
import { buildIndex, indexLeaves, queryFeatures, recordFeatures, type AttributionIndex, type IndexRecord } from '../../inference/attribution-index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { hashFeatures } from '../../inference/features.js';
import { GradientFeaturizer } from '../../inference/gradients.js';
import type { BaseModel } from '../../inference/model.js';
import { fineTune } from '../../inference/train.js';
import { createProver, loadProverKeys, type Prover } from '../../prover/prover.js';
import { buildBatchWitness } from '../../prover/batch-witness.js';
import { TEST_VARIANT, testArtifacts } from '../helpers/fixtures.js';
import { ALICE, base, expectSharesFollowTheData, fourContributors } from './helpers.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributionPool, keptCheckpoints } from '../../inference/attribution-pool.js';
import { encodeAdapter } from '../../inference/lora.js';
import { LAYERS, layerShape } from '../../inference/model.js';
import { BUILD_DIR } from '../../lib/config.js';
import { mulberry32, shuffled } from '../../lib/random.js';

const K_TEST_CIRCUIT = { k1: 2, k2: 4, seed: 17 }; // K = 8, what the test circuit takes
const K_DEFAULT = { k1: 4, k2: 8, seed: 17 }; // K = 32, the default circuit's width (K = 8 is too coarse to rank well)

let model: BaseModel;
let prover: Prover;
let pool: IndexRecord[];
let queries: { text: string; label: number }[];

const datanet = (opts?: { extraAlice?: number; flipCarol?: boolean }) => fourContributors(pool, opts);

async function attribution(records: IndexRecord[], K = K_DEFAULT): Promise<{ index: AttributionIndex; featurizer: GradientFeaturizer; features: Float64Array[] }> {
  const { checkpoints } = fineTune(model, { adapterId: 'poa', datanet: { id: 'dn', versionRoot: '0x01', records }, hyper: { optimizer: 'adam', epochs: 3, rank: 4, alpha: 8 }, seed: 2 });
  const featurizer = new GradientFeaturizer(model, checkpoints.map((c) => ({ learningRate: c.learningRate, adapter: { meta: { format: 'zkpoa-lora/1', id: 'poa', baseModel: model.hash, rank: 4, alpha: 8, datanet: { id: 'dn', versionRoot: '0x01' }, training: {}, layers: [] }, layers: c.layers } })), K);
  const features = recordFeatures(featurizer, records);
  const index = await buildIndex(records, features, K, { adapterId: 'poa', datanet: { id: 'dn', versionRoot: '0x01' }, capacity: 4 });
  return { index, featurizer, features };
}

beforeAll(async () => {
  model = await base();
  const corpus = await datanetCorpus();
  // the corpus is ordered by collection: shuffle so every contributor holds ham and spam
  pool = shuffled(corpus.filter((r) => !isHeldOut(r.id)), mulberry32(1)).map((r) => ({ text: r.text, label: r.label, contributor: '' }));
  queries = shuffled(corpus.filter((r) => isHeldOut(r.id)), mulberry32(2)).slice(0, 60);
  prover = createProver(await loadProverKeys(testArtifacts()), { threads: 1 });
});

afterAll(() => prover?.close());

describe('proof of attribution', () => {
  it('scores are linear: a contributor’s score is the sum of their records’ scores', async () => {
    const records = datanet();
    const { index, featurizer, features } = await attribution(records);
    const { features: q } = featurizer.features(hashFeatures(queries[0]!.text));
    const alice = records.map((r, i) => [r, features[i]!] as const).filter(([r]) => r.contributor === ALICE);
    const summed = new Float64Array(q.length);
    alice.forEach(([, f]) => f.forEach((v, j) => (summed[j]! += v)));
    const whole = q.reduce((a, v, j) => a + v * summed[j]!, 0);
    const parts = alice.reduce((a, [, f]) => a + q.reduce((b, v, j) => b + v * f[j]!, 0), 0);
    expect(Math.abs(whole - parts)).toBeLessThan(1e-9 * Math.max(1, Math.abs(whole)));
    expect(index.contributors.find((c) => c.address === ALICE)!.records).toBe(alice.length);
  });

  it('a contributor who adds helpful records gains share; one whose labels are flipped loses it', () => expectSharesFollowTheData(attribution, pool, queries));

  it('the worker pool gives the same features as the featurizer, bit for bit, with progress', async () => {
    const records = datanet().slice(0, 150);
    const { checkpoints } = fineTune(model, { adapterId: 'poa', datanet: { id: 'dn', versionRoot: '0x01', records }, hyper: { optimizer: 'adam', epochs: 2, rank: 4, alpha: 8 }, seed: 2 });
    const dir = await mkdtemp(join(tmpdir(), 'zkpoa-ckpt-'));
    const meta = { format: 'zkpoa-lora/1' as const, id: 'poa', baseModel: model.hash, rank: 4, alpha: 8, datanet: { id: 'dn', versionRoot: '0x01' }, layers: LAYERS.map((name) => ({ name, ...layerShape(model.spec, name) })) };
    for (const c of checkpoints) {
      await writeFile(join(dir, `epoch-${c.epoch}.lora`), encodeAdapter({ meta: { ...meta, training: { checkpoint: { epoch: c.epoch, learningRate: c.learningRate } } }, layers: c.layers }));
    }
    const kept = await keptCheckpoints(dir);
    expect(kept.map((k) => k.epoch)).toEqual([1, 2]);
    const pool = AttributionPool.create({ baseDir: join(BUILD_DIR, 'models', 'base'), checkpoints: kept, projection: K_DEFAULT, threads: 2 });
    try {
      const progress: number[] = [];
      const viaPool = await pool.recordFeatures(records, (done) => progress.push(done), 32);
      const local = new GradientFeaturizer(model, checkpoints.map((c) => ({ learningRate: c.learningRate, adapter: { meta: { ...meta, training: {} }, layers: c.layers } })), K_DEFAULT);
      expect(viaPool).toEqual(recordFeatures(local, records));
      expect(progress.at(-1)).toBe(records.length);
      expect((await pool.query(queries[0]!.text)).features).toEqual(local.features(hashFeatures(queries[0]!.text)).features);
    } finally {
      await pool.close();
    }
  });

  it('the index root is the circuit’s, and a witness from a real answer proves and verifies', async () => {
    const { index, featurizer } = await attribution(datanet({ flipCarol: true }), K_TEST_CIRCUIT);
    const answer = queries[3]!;
    const { t } = queryFeatures(index, featurizer, hashFeatures(answer.text));
    const commitments = await Commitments.create();
    const context = { adapterId: 1n, chainId: 31337n, settlement: 0x1234n };
    const w = buildBatchWitness(commitments, TEST_VARIANT, { ...context, leaves: indexLeaves(index), fee: 10n ** 16n, pool: 7n * 10n ** 15n, first: 0n, answers: [{ t, inputHash: 5n, outputHash: 6n }] });
    expect(w.binding).toBe(commitments.binding({ root: index.root, ...context }));
    expect(w.paid).toBeGreaterThan(0n);
    const { proof, publicSignals } = await prover.prove(w.input);
    expect(publicSignals).toEqual(w.publicSignals.map(String));
    expect(await prover.verify(proof, publicSignals)).toBe(true);
  });
});
