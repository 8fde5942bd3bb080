import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Commitments } from '../../attribution/index.js';
import { initBackend } from '../../inference/backend.js';
import { buildSpanIndex, indexLeaves, queryFeatures, spanOwners, type AttributionIndex, type IndexRecord } from '../../inference/attribution-index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { hashFeatures } from '../../inference/features.js';
import { GradientFeaturizer } from '../../inference/gradients.js';
import { conjugateGradients, DEFAULT_DAMPING, InfluenceSpan } from '../../inference/influence.js';
import { LoraObjective } from '../../inference/lora-objective.js';
import { minimizeLbfgs } from '../../lib/lbfgs.js';
import type { Adapter } from '../../inference/lora.js';
import { BaseModel, LAYERS, layerShape, type BaseModelSpec } from '../../inference/model.js';
import { fineTune, LBFGS_DEFAULTS } from '../../inference/train.js';
import { gaussian, mulberry32, shuffled } from '../../lib/random.js';
import { createProver, loadProverKeys, type Prover } from '../../prover/prover.js';
import { buildBatchWitness } from '../../prover/batch-witness.js';
import { TEST_VARIANT, testArtifacts } from '../helpers/fixtures.js';
import { base, expectSharesFollowTheData, fourContributors } from './helpers.js';

/** Solves A·x = b (dense, small) by Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/** A 6-input, 5-hidden, 3-label base model and a random rank-2 adapter on it (no minimum: the Fisher's ground). */
function tinyRandomAdapter(seed: number): { randn: () => number; model: BaseModel; adapter: Adapter } {
  const randn = gaussian(mulberry32(seed));
  const spec: BaseModelSpec = { format: 'zkpoa-base/1', inputDim: 6, hidden: 5, labels: ['a', 'b', 'c'], features: { kind: 'hashed-ngrams', dim: 6 } };
  const vec = (n: number, s = 0.7) => Float32Array.from({ length: n }, () => randn() * s);
  const model = BaseModel.fromWeights(spec, { dense1: { kernel: vec(30), bias: vec(5) }, dense2: { kernel: vec(15), bias: vec(3) } });
  const rank = 2;
  const adapter: Adapter = {
    meta: { format: 'zkpoa-lora/1', id: 't', baseModel: model.hash, rank, alpha: 3, datanet: { id: 'd', versionRoot: '0' }, training: {}, layers: LAYERS.map((name) => ({ name, ...layerShape(spec, name) })) },
    layers: Object.fromEntries(LAYERS.map((l) => [l, { a: vec(rank * layerShape(spec, l).inDim, 0.5), b: vec(layerShape(spec, l).outDim * rank, 0.5) }])) as Adapter['layers'],
  };
  return { randn, model, adapter };
}

describe('influence in the contributors’ span', () => {
  beforeAll(() => initBackend());

  it('with the Fisher: ⟨t, G_c⟩ is exactly gᵀ(F + 2·wd·I)⁻¹ Σ_{i∈c}(g_i − ḡ)/(n − n_c), the sum of per-record influences', () => {
    const { randn, model, adapter } = tinyRandomAdapter(8);
    const records = Array.from({ length: 14 }, (_, i) => ({ x: Array.from({ length: 6 }, (_, j) => ((i + j) % 4 === 0 ? 0 : randn())), label: i % 3, owner: i % 3 === 0 ? 0 : i < 8 ? 1 : 2 }));
    const wd = 0.05;
    const span = InfluenceSpan.build(model, adapter, records, 3, { weightDecay: wd, dim: 8, curvature: 'fisher' });
    expect(span.dim).toBe(8);
    expect(span.curvature).toBe('fisher');
    // a random adapter is no minimum: the exact Hessian (the default) is not used there, the Fisher is, and the span says so
    const fallback = InfluenceSpan.build(model, adapter, records, 3, { weightDecay: wd, dim: 8 });
    expect(fallback.curvature).toBe('fisher');
    expect(fallback.coordinates).toEqual(span.coordinates);

    // the same thing with explicit gradients and an explicit inverse
    const ref = new GradientFeaturizer(model, [{ learningRate: 1, adapter }], { k1: 1, k2: 1, seed: 1 });
    const flat = (x: number[], label: number) => ref.gradientBlocks(0, x, label).flatMap(({ u, v }) => Array.from(u).flatMap((a) => Array.from(v, (b) => a * b)));
    const g = records.map((r) => flat(r.x, r.label));
    const p = g[0]!.length;
    const n = records.length;
    const h = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => g.reduce((s, gi) => s + gi[i]! * gi[j]!, 0) / n + (i === j ? 2 * wd : 0)));
    const mean = Array.from({ length: p }, (_, j) => g.reduce((s, gi) => s + gi[j]!, 0) / n);
    const query = [0.4, 0, -1.1, 0.8, 0, 0.3];
    const { features: t, predicted } = span.features(query);
    const gq = flat(query, predicted);
    const hq = solve(h, gq); // H symmetric: gᵀH⁻¹v = (H⁻¹g)ᵀv
    for (let c = 0; c < 3; c++) {
      const mine = records.map((r, i) => [r, i] as const).filter(([r]) => r.owner === c);
      const perRecord = mine.map(([, i]) => hq.reduce((s, v, j) => s + v * (g[i]![j]! - mean[j]!), 0) / (n - mine.length));
      const expected = perRecord.reduce((s, v) => s + v, 0);
      const got = t.reduce((s, v, k) => s + v * span.coordinates[c]![k]!, 0);
      expect(Math.abs(got - expected)).toBeLessThan(1e-7 * Math.max(1e-3, Math.abs(expected)));
    }
    // t is bit-for-bit reproducible, also from the saved span
    expect(span.features(query).features).toEqual(t);
    const loaded = InfluenceSpan.load(model, adapter, span.serialize());
    expect(loaded.features(query).features).toEqual(t);
    expect(loaded.coordinates).toEqual(span.coordinates);
    expect(() => InfluenceSpan.load(model, adapter, span.serialize().subarray(0, 100))).toThrow(/does not fit/);
  });

  it('more contributors than features: their top-K subspace, exact when their directions span at most K', () => {
    const { randn, model, adapter } = tinyRandomAdapter(11);
    const base = Array.from({ length: 16 }, (_, i) => ({ x: Array.from({ length: 6 }, (_, j) => ((i + j) % 4 === 0 ? 0 : randn())), label: i % 3, owner: i % 4 }));
    // contributors 4..7 hold copies of 0..3's records: eight contributors; four centered
    // directions, which sum to zero (their records partition the datanet), so three dimensions
    const records = [...base, ...base.map((r) => ({ ...r, owner: r.owner + 4 }))];
    const opts = { weightDecay: 0.05, curvature: 'fisher' as const };
    const exact = InfluenceSpan.build(model, adapter, records, 8, { ...opts, dim: 8 });
    const three = InfluenceSpan.build(model, adapter, records, 8, { ...opts, dim: 3 });
    const two = InfluenceSpan.build(model, adapter, records, 8, { ...opts, dim: 2 });
    expect([three.basis.length, two.basis.length]).toEqual([3, 2]);
    const queries = [[0.4, 0, -1.1, 0.8, 0, 0.3], [1, 0.2, 0, -0.5, 0.9, 0], [0, -0.7, 0.6, 0, 0.2, 1.2]];
    const scores = (span: InfluenceSpan, q: number[]) => {
      const { features: t } = span.features(q);
      return span.coordinates.map((g) => t.reduce((acc, v, k) => acc + v * g[k]!, 0));
    };
    for (const q of queries) {
      const want = scores(exact, q);
      // (to conjugate gradients' tolerance: the two paths solve different right-hand sides)
      scores(three, q).forEach((got, c) => expect(Math.abs(got - want[c]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(want[c]!))));
      // three directions in two dimensions: an approximation, in which copies still score alike
      const approx = scores(two, q);
      approx.slice(0, 4).forEach((v, c) => expect(Math.abs(v - approx[c + 4]!)).toBeLessThan(1e-9 * Math.max(1, Math.abs(v))));
      expect(approx.some((v, c) => Math.abs(v - want[c]!) > 1e-3 * Math.max(1, Math.abs(want[c]!)))).toBe(true);
    }
  });

  it('with the exact Hessian at a minimum: ⟨t, G_c⟩ is gᵀ(H + λI)⁻¹ Σ_{i∈c}(g_i − ḡ)/(n − n_c), H the objective’s Hessian', () => {
    const randn = gaussian(mulberry32(3));
    const spec: BaseModelSpec = { format: 'zkpoa-base/1', inputDim: 6, hidden: 5, labels: ['a', 'b', 'c'], features: { kind: 'hashed-ngrams', dim: 6 } };
    const vec = (n: number, s = 0.7) => Float32Array.from({ length: n }, () => randn() * s);
    // hidden units biased well above 0: no ReLU kink near the optimum, so L-BFGS reaches it and H exists there
    const model = BaseModel.fromWeights(spec, { dense1: { kernel: vec(30), bias: new Float32Array(5).fill(8) }, dense2: { kernel: vec(15, 0.3), bias: vec(3) } });
    const rank = 2;
    const wd = 0.05;
    const records = Array.from({ length: 14 }, (_, i) => ({ x: Array.from({ length: 6 }, (_, j) => ((i + j) % 4 === 0 ? 0 : Math.fround(randn()))), label: i % 3, owner: i % 3 === 0 ? 0 : i < 8 ? 1 : 2 }));
    const objective = new LoraObjective(model, records.map((r) => ({ x: Float32Array.from(r.x), label: r.label })), rank, 3, wd);
    const optimum = minimizeLbfgs((th, g) => objective.value(th, g), Float64Array.from({ length: objective.size }, () => randn() * 0.3), { maxIterations: 2000, gradientTolerance: 1e-10, functionTolerance: 0 });
    expect(optimum.gradientNorm).toBeLessThan(1e-6);
    const adapter: Adapter = {
      meta: { format: 'zkpoa-lora/1', id: 't', baseModel: model.hash, rank, alpha: 3, datanet: { id: 'd', versionRoot: '0' }, training: {}, layers: LAYERS.map((name) => ({ name, ...layerShape(spec, name) })) },
      layers: objective.unpack(optimum.x),
    };
    const span = InfluenceSpan.build(model, adapter, records, 3, { weightDecay: wd, dim: 8, tolerance: 1e-10, hessianIterations: 200 });
    expect(span.curvature).toBe('hessian');

    // the Hessian column by column (central differences of the gradient, at the float32 adapter), then an explicit inverse
    const theta = objective.pack(adapter.layers);
    const p = objective.size;
    const columns = Array.from({ length: p }, (_, j) => {
      const e = 1e-5;
      const [plus, minus] = [Float64Array.from(theta), Float64Array.from(theta)];
      plus[j]! += e;
      minus[j]! -= e;
      const [gp, gm] = [new Float64Array(p), new Float64Array(p)];
      objective.value(plus, gp);
      objective.value(minus, gm);
      return Array.from(gp, (v, i) => (v - gm[i]!) / (2 * e));
    });
    const h = columns.map((col, i) => col.map((v, j) => (v + columns[j]![i]!) / 2 + (i === j ? DEFAULT_DAMPING : 0)));
    const ref = new GradientFeaturizer(model, [{ learningRate: 1, adapter }], { k1: 1, k2: 1, seed: 1 });
    const flat = (x: number[], label: number) => ref.gradientBlocks(0, x, label).flatMap(({ u, v }) => Array.from(u).flatMap((a) => Array.from(v, (b) => a * b)));
    const g = records.map((r) => flat(r.x, r.label));
    const n = records.length;
    const mean = Array.from({ length: p }, (_, j) => g.reduce((s, gi) => s + gi[j]!, 0) / n);
    const query = [0.4, 0, -1.1, 0.8, 0, 0.3];
    const { features: t, predicted } = span.features(query);
    const hq = solve(h, flat(query, predicted));
    for (let c = 0; c < 3; c++) {
      const mine = records.map((r, i) => [r, i] as const).filter(([r]) => r.owner === c);
      const expected = mine.reduce((acc, [, i]) => acc + hq.reduce((s, v, j) => s + v * (g[i]![j]! - mean[j]!), 0), 0) / (n - mine.length);
      const got = t.reduce((s, v, k) => s + v * span.coordinates[c]![k]!, 0);
      expect(Math.abs(got - expected)).toBeLessThan(1e-5 * Math.max(1e-3, Math.abs(expected)));
    }
  });

  it('conjugate gradients solve a positive definite system, and stop and say so on non-positive curvature', () => {
    const matrix = (m: number[][]) => (vs: Float64Array[]) => vs.map((v) => Float64Array.from(m, (row) => row.reduce((acc, a, j) => acc + a * v[j]!, 0)));
    const spd = conjugateGradients(matrix([[4, 1], [1, 3]]), [Float64Array.from([1, 2])], 50, 1e-12, () => undefined);
    expect(spd.positive).toBe(true);
    expect(Array.from(spd.x[0]!).map((v) => +v.toFixed(9))).toEqual([+(1 / 11).toFixed(9), +(7 / 11).toFixed(9)]);
    expect(conjugateGradients(matrix([[1, 0], [0, -1]]), [Float64Array.from([0, 1])], 50, 1e-12, () => undefined).positive).toBe(false);
  });

  it('refuses no regularization at all', () => {
    const randn = gaussian(mulberry32(1));
    const spec: BaseModelSpec = { format: 'zkpoa-base/1', inputDim: 3, hidden: 2, labels: ['a', 'b'], features: { kind: 'hashed-ngrams', dim: 3 } };
    const model = BaseModel.fromWeights(spec, { dense1: { kernel: Float32Array.from({ length: 6 }, randn), bias: new Float32Array(2) }, dense2: { kernel: Float32Array.from({ length: 4 }, randn), bias: new Float32Array(2) } });
    const adapter = { meta: { rank: 1, alpha: 1 }, layers: { dense1: { a: Float32Array.from([1, 0, 0]), b: new Float32Array(2) }, dense2: { a: Float32Array.from([1, 0]), b: new Float32Array(2) } } } as unknown as Adapter;
    const records = [0, 1, 2].map((owner) => ({ x: [1, 0, 1], label: owner % 2, owner }));
    expect(() => InfluenceSpan.build(model, adapter, records, 3, { weightDecay: 0, dim: 4 })).toThrow(/weight decay or damping/);
  });
});

describe('influence attribution on real mail', () => {
  let model: BaseModel;
  let prover: Prover;
  let pool: { text: string; label: number }[];
  let queries: { text: string; label: number }[];

  beforeAll(async () => {
    model = await base();
    const corpus = await datanetCorpus();
    pool = shuffled(corpus.filter((r) => !isHeldOut(r.id)), mulberry32(1));
    queries = shuffled(corpus.filter((r) => isHeldOut(r.id)), mulberry32(2)).slice(0, 60);
    prover = createProver(await loadProverKeys(testArtifacts()), { threads: 1 });
  });
  afterAll(() => prover?.close());

  const datanet = (opts?: { extraAlice?: number; flipCarol?: boolean }) => fourContributors(pool, opts);

  async function attribution(records: IndexRecord[], dim = 8): Promise<{ index: AttributionIndex; span: InfluenceSpan }> {
    const { adapter } = fineTune(model, { adapterId: 'poa', datanet: { id: 'dn', versionRoot: '0x01', records }, hyper: { iterations: 300, rank: 4, alpha: 8 }, seed: 2 });
    const { owner, contributors } = spanOwners(records);
    const span = InfluenceSpan.build(model, adapter, records.map((r, i) => ({ x: hashFeatures(r.text), label: r.label, owner: owner[i]! })), contributors, { weightDecay: LBFGS_DEFAULTS.weightDecay, dim });
    const index = await buildSpanIndex(records, span, { adapterId: 'poa', datanet: { id: 'dn', versionRoot: '0x01' }, capacity: 4 });
    return { index, span };
  }

  it('a contributor who adds helpful records gains share; one whose labels are flipped loses it', () =>
    expectSharesFollowTheData(async (records) => {
      const { index, span } = await attribution(records);
      return { index, featurizer: span };
    }, pool, queries));

  it('its index root is the circuit’s, and a witness from a real answer proves and verifies', async () => {
    const { index, span } = await attribution(datanet({ flipCarol: true }));
    expect(index.estimator).toBe('influence-span');
    expect(index.curvature).toBe('hessian'); // this adapter is at its minimum
    const { t } = queryFeatures(index, span, hashFeatures(queries[3]!.text));
    const commitments = await Commitments.create();
    const context = { adapterId: 1n, chainId: 31337n, settlement: 0x1234n };
    const w = buildBatchWitness(commitments, TEST_VARIANT, { ...context, leaves: indexLeaves(index), fee: 10n ** 16n, pool: 7n * 10n ** 15n, first: 0n, answers: [{ t, inputHash: 5n, outputHash: 6n }] });
    expect(w.binding).toBe(commitments.binding({ root: index.root, ...context }));
    expect(w.paid).toBeGreaterThan(0n);
    const { proof, publicSignals } = await prover.prove(w.input);
    expect(await prover.verify(proof, publicSignals)).toBe(true);
  });
});

describe('influence indexes in the attribution pool', () => {
  it('a query’s features from the saved span, and a span whose bytes are not the committed ones is refused', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createHash } = await import('node:crypto');
    const { AttributionPool } = await import('../../inference/attribution-pool.js');
    const { encodeAdapter } = await import('../../inference/lora.js');
    const { BUILD_DIR } = await import('../../lib/config.js');
    const model = await base();
    const corpus = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(5)).slice(0, 120);
    const records = corpus.map((r, i) => ({ text: r.text, label: r.label, owner: i % 3 }));
    const { adapter } = fineTune(model, { adapterId: 'p', datanet: { id: 'd', versionRoot: '0x01', records }, hyper: { iterations: 30, rank: 2, alpha: 4 }, seed: 1 });
    const span = InfluenceSpan.build(model, adapter, records.map((r) => ({ x: hashFeatures(r.text), label: r.label, owner: r.owner })), 3, { weightDecay: LBFGS_DEFAULTS.weightDecay, dim: 8 });
    const dir = await mkdtemp(join(tmpdir(), 'zkpoa-span-'));
    const path = join(dir, 'epoch-30.lora');
    await writeFile(path, encodeAdapter(adapter));
    const bytes = span.serialize();
    await writeFile(join(dir, 'span.bin'), bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const open = (hash: string) => AttributionPool.create({ baseDir: join(BUILD_DIR, 'models', 'base'), checkpoints: [{ path, learningRate: 1 }], projection: { k1: 0, k2: 0, seed: 0 }, basis: { path: join(dir, 'span.bin'), sha256: hash }, threads: 1 });
    const good = open(sha256);
    try {
      expect((await good.query(corpus[0]!.text)).features).toEqual(span.features(hashFeatures(corpus[0]!.text)).features);
    } finally {
      await good.close();
    }
    const bad = open('00'.repeat(32));
    try {
      await expect(bad.query(corpus[0]!.text)).rejects.toThrow(/not the influence span the index committed to/);
    } finally {
      await bad.close();
    }
  });
});
