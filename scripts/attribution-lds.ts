import { dot } from '../attribution/split.js';
import { buildSpanIndex, queryFeatures, spanOwners, type IndexRecord } from '../inference/attribution-index.js';
import { datanetCorpus, ensureBaseModel, isHeldOut } from '../inference/datasets.js';
import { hashFeatures } from '../inference/features.js';
import { InfluenceSpan, type Curvature } from '../inference/influence.js';
import { fineTune, LBFGS_DEFAULTS, type FineTuneSpec } from '../inference/train.js';
import { mulberry32, shuffled } from '../lib/random.js';
import { spearman, zipfSizes } from '../lib/stats.js';
import { queryLosses } from './query-losses.js';
import type { Progress } from '../prover/progress.js';

/**
 * The linear datamodeling score (LDS, as TRAK and dattri measure it) of the service's
 * estimator for datanets of many contributors: the SpamAssassin datanet split among C
 * contributors of Zipf-distributed sizes (one with flipped labels); for each of `subsets`
 * random halves S of the contributors, the adapter is retrained without them (same seed,
 * deterministic L-BFGS) and the actual effect on each answer, Δloss(S), is compared with the
 * predicted one, Σ_{c∈S} ⟨t, G_c⟩ (the scores the circuit pays on, from the quantized
 * K-dimensional features); the LDS is the Spearman correlation over the subsets, per answer,
 * averaged over the answers. With no subsets, only the index is built and timed (last line
 * index_s=).
 */
export interface LdsOptions {
  contributors: number;
  subsets: number;
  queries: number;
  /** records split among the contributors */
  records: number;
  dim: number;
  curvature: Curvature;
  progress: Progress;
}

export async function benchLds(o: LdsOptions): Promise<{ lds: number }> {
  const { progress } = o;
  const model = await ensureBaseModel();
  const corpus = await datanetCorpus();
  const seen = new Set<string>();
  const pool = shuffled(corpus.filter((r) => !isHeldOut(r.id)), mulberry32(41)).filter((r) => !seen.has(r.text.slice(0, 2000)) && seen.add(r.text.slice(0, 2000)));
  const total = Math.min(o.records, pool.length);
  if (o.contributors > total) throw new Error(`${o.contributors} contributors need at least as many records; the corpus has ${total}`);
  const sizes = zipfSizes(total, o.contributors);
  const FLIPPED = Math.min(5, o.contributors - 1);
  let at = 0;
  const contributors = sizes.map((n, c) => {
    const records = pool.slice(at, at + n).map((r) => ({ text: r.text.slice(0, 2000), label: c === FLIPPED ? 1 - r.label : r.label }));
    at += n;
    return { address: '0x' + (c + 1).toString(16).padStart(40, '0'), records };
  });
  const records = (removed: ReadonlySet<number> = new Set()): IndexRecord[] =>
    contributors.flatMap((c, ci) => (removed.has(ci) ? [] : c.records.map((r) => ({ ...r, contributor: c.address }))));
  const queries = shuffled(corpus.filter((r) => isHeldOut(r.id)), mulberry32(42)).slice(0, o.queries);
  const queryX = queries.map((q) => hashFeatures(q.text));
  const weightDecay = LBFGS_DEFAULTS.weightDecay;
  const spec = (recs: IndexRecord[]): FineTuneSpec => ({ adapterId: 'lds', datanet: { id: 'sa', versionRoot: '0x00', records: recs }, hyper: { optimizer: 'lbfgs', weightDecay, rank: 8, alpha: 16 }, seed: 5 });
  const losses = (adapter: Parameters<typeof queryLosses>[1], labels: number[] | null) => queryLosses(model, adapter, queryX, labels);

  let step = progress.step(`fine-tune on ${records().length} records of ${o.contributors} contributors (Zipf sizes ${sizes[0]}…${sizes.at(-1)}, contributor ${FLIPPED + 1} flipped)`);
  let t0 = performance.now();
  const full = fineTune(model, spec(records()));
  const answers = losses(full.adapter, null).predicted;
  const fullLoss = losses(full.adapter, answers).loss;
  step.done(`${((performance.now() - t0) / 1000).toFixed(1)} s`);

  step = progress.step(`index: influence in the contributors' top-${o.dim} subspace (${o.curvature})`);
  t0 = performance.now();
  const all = records();
  const { owner, contributors: count } = spanOwners(all);
  const span = InfluenceSpan.build(model, full.adapter, all.map((r, i) => ({ x: hashFeatures(r.text), label: r.label, owner: owner[i]! })), count, { weightDecay, dim: o.dim, curvature: o.curvature, onProgress: (d, t) => step.update(d, t) });
  const capacity = 2 ** Math.ceil(Math.log2(count));
  const index = await buildSpanIndex(all, span, { adapterId: 'lds', datanet: { id: 'sa', versionRoot: '0x00' }, capacity });
  const indexSeconds = (performance.now() - t0) / 1000;
  step.done(`${indexSeconds.toFixed(1)} s, solved with the ${span.curvature}`);
  if (o.subsets === 0) {
    // the index alone: how long a datanet of this many contributors takes to attribute
    console.log(`\ncontributors=${o.contributors} records=${all.length} K=${o.dim} curvature=${span.curvature}`);
    console.log(`index_s=${indexSeconds.toFixed(1)}`);
    return { lds: Number.NaN };
  }
  const g = contributors.map((c) => index.contributors.find((x) => x.address === c.address)!.g);
  const scores = queryX.map((x) => {
    const { t } = queryFeatures(index, span, x);
    return g.map((gc) => Number(dot(t, gc)));
  });

  step = progress.step(`ground truth: retrain without ${o.subsets} random halves of the contributors`);
  t0 = performance.now();
  const rand = mulberry32(43);
  const predicted: number[][] = queries.map(() => []);
  const actual: number[][] = queries.map(() => []);
  for (let s = 0; s < o.subsets; s++) {
    const removed = new Set(shuffled(contributors.map((_, c) => c), rand).slice(0, Math.floor(o.contributors / 2)));
    const { loss } = losses(fineTune(model, spec(records(removed))).adapter, answers);
    queries.forEach((_, q) => {
      actual[q]!.push(loss[q]! - fullLoss[q]!);
      predicted[q]!.push([...removed].reduce((a, c) => a + scores[q]![c]!, 0));
    });
    step.update(s + 1, o.subsets);
  }
  const truthSeconds = (performance.now() - t0) / 1000;
  step.done(`${truthSeconds.toFixed(1)} s`);

  const perQuery = queries.map((_, q) => spearman(predicted[q]!, actual[q]!));
  const lds = perQuery.reduce((a, b) => a + b, 0) / perQuery.length;
  // the flipped contributor's place among all by its total (L1-normalized per answer) score
  const aggregate = contributors.map((_, c) => scores.reduce((a, row) => a + row[c]! / (row.reduce((n, v) => n + Math.abs(v), 0) || 1), 0));
  const flippedRank = [...aggregate].sort((a, b) => a - b).indexOf(aggregate[FLIPPED]!) + 1;
  console.log(`\ncontributors=${o.contributors} records=${all.length} queries=${queries.length} subsets=${o.subsets} K=${o.dim} curvature=${span.curvature}`);
  console.log(`index ${indexSeconds.toFixed(1)} s; retraining truth ${truthSeconds.toFixed(1)} s`);
  console.log(`per answer LDS: median ${[...perQuery].sort((a, b) => a - b)[Math.floor(perQuery.length / 2)]!.toFixed(3)}, min ${Math.min(...perQuery).toFixed(3)}`);
  console.log(`flipped contributor ranks ${flippedRank} of ${o.contributors} by its total score (1 = lowest)`);
  console.log(`lds=${lds.toFixed(3)}`);
  return { lds };
}
