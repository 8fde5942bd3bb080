/**
 * npm run bench:prover -- [--variant <batch variant>] [--rounds 3] [--batches 2] [--cli 6]
 *
 * Attributions proven per minute: the batch prover (the service's prover pool, a batch of
 * M answers per proof, several batches in flight) against the stock
 * `snarkjs groth16 fullprove` CLI proving the same answers one per call on the per-answer
 * circuit (the baseline variant), one process after another as a script around it would.
 * Rounds alternate the two in one run, so both see the same machine. The workload is the
 * service's: answers on two adapters (two indexes), each answer with its own features.
 * Also prints the constraints per answer of every variant built here.
 * Last line: ratio=<batch prover attributions per minute / CLI attributions per minute>; for a
 * scale variant, whose index the per-answer circuit cannot hold, attributions_per_min=.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Commitments } from '../attribution/commitments.js';
import { VARIANTS, variantByName, variantFor } from '../circuits/variants.js';
import { buildBatchWitness } from '../prover/batch-witness.js';
import { buildWitness, consoleProgress, createProver, ensureVariant, loadProverKeys } from '../prover/index.js';
import { readVariantManifest } from '../prover/setup.js';
import { exampleClaim } from './example-claim.js';
import { quantile } from '../lib/stats.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { variant: { type: 'string' }, rounds: { type: 'string', default: '3' }, batches: { type: 'string', default: '2' }, cli: { type: 'string', default: '6' } },
});
const variant = values.variant ? variantByName(values.variant) : variantFor('default');
const baseline = variantFor('baseline');
const M = variant.params.answers;
if (M === undefined) throw new Error(`${variant.name} is not a batch variant`);
if (baseline.params.contributors !== variant.params.contributors || baseline.params.features !== variant.params.features) {
  console.warn(`note: the baseline ${baseline.name} is not the same C×K as ${variant.name}`);
}
const rounds = Number(values.rounds);
const batchesPerRound = Number(values.batches);
const cliPerRound = Number(values.cli);
const progress = consoleProgress();

const artifacts = await ensureVariant(variant, { progress });
const baseArtifacts = await ensureVariant(baseline, { progress });
// constraints per answer of every variant built here (a batch circuit's over its M answers); the others are not built for this
for (const v of VARIANTS) {
  const m = await readVariantManifest(v);
  if (!m) {
    progress.log(`constraints ${v.name}: not built (npm run setup -- --variant ${v.name})`);
    continue;
  }
  const perAnswer = m.constraints / (v.params.answers ?? 1);
  progress.log(`constraints ${v.name}: ${m.constraints} total, ${perAnswer.toFixed(0)} per answer (${v.params.answers ? `${v.params.answers} answers per proof` : 'one answer per proof'})`);
}
const snarkjsCli = join(dirname(createRequire(import.meta.url).resolve('snarkjs')), 'cli.cjs');

// two adapters, each a full index; every answer has its own direction and hashes
const commitments = await Commitments.create();
const adapters = [1, 2].map((seed, i) => ({ ...exampleClaim(variant, seed, variant.params.contributors).claim, adapterId: BigInt(i + 1) }));
const answerOf = (adapter: number, n: number) => {
  const base = adapters[adapter]!;
  const own = exampleClaim(variant, 1000 + 2 * n + adapter, 1).claim;
  return { t: base.t.map((x, k) => (x + own.t[k]!) / 2n), inputHash: own.inputHash, outputHash: own.outputHash };
};
const totalBatches = rounds * batchesPerRound;
const batchInputs = Array.from({ length: totalBatches }, (_, b) => {
  const adapter = b % 2;
  const first = Math.floor(b / 2) * M;
  const base = adapters[adapter]!;
  return buildBatchWitness(commitments, variant, {
    leaves: base.leaves,
    adapterId: base.adapterId,
    chainId: base.chainId,
    settlement: base.settlement,
    fee: base.fee,
    pool: base.pool,
    first: BigInt(first),
    answers: Array.from({ length: M }, (_, i) => answerOf(adapter, first + i)),
  }).input;
});
// the CLI proves answers of the same workload, on the per-answer circuit; an index larger
// than that circuit holds (a scale variant) has no CLI baseline: only its own rate is printed
const compare = variant.params.contributors <= baseline.params.contributors;
const dir = await mkdtemp(join(tmpdir(), 'zkpoa-bench-'));
const cliFiles = await Promise.all(
  Array.from({ length: compare ? rounds * cliPerRound : 0 }, async (_, i) => {
    const adapter = i % 2;
    const a = answerOf(adapter, Math.floor(i / 2));
    const input = buildWitness(commitments, baseline, { ...adapters[adapter]!, t: a.t, nonce: BigInt(i + 1), inputHash: a.inputHash, outputHash: a.outputHash }).input;
    const f = join(dir, `input${i}.json`);
    await writeFile(f, JSON.stringify(input));
    return f;
  }),
);

const prover = createProver(await loadProverKeys(artifacts));
const median = (xs: number[]) => quantile(xs, 0.5);
const pool = { ms: 0, answers: 0, latencies: [] as number[] };
const cli = { ms: 0, answers: 0, latencies: [] as number[] };
try {
  const warm = performance.now();
  await prover.prove(batchInputs[0]!); // warm the workers (curve build, key copy) outside the timing
  progress.log(`warm-up batch: ${((performance.now() - warm) / 1000).toFixed(1)} s`);
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    await Promise.all(
      batchInputs.slice(r * batchesPerRound, (r + 1) * batchesPerRound).map(async (input) => {
        const s = performance.now();
        await prover.prove(input);
        pool.latencies.push(performance.now() - s);
      }),
    );
    pool.ms += performance.now() - t0;
    pool.answers += batchesPerRound * M;

    if (!compare) {
      progress.log(`round ${r + 1}/${rounds}: batch prover ${((pool.answers / pool.ms) * 60000).toFixed(1)}/min so far`);
      continue;
    }
    t0 = performance.now();
    for (let i = r * cliPerRound; i < (r + 1) * cliPerRound; i++) {
      const s = performance.now();
      await run(process.execPath, [snarkjsCli, 'groth16', 'fullprove', cliFiles[i]!, baseArtifacts.wasm, baseArtifacts.zkey, join(dir, `proof${i}.json`), join(dir, `public${i}.json`)]);
      cli.latencies.push(performance.now() - s);
    }
    cli.ms += performance.now() - t0;
    cli.answers += cliPerRound;
    progress.log(`round ${r + 1}/${rounds}: batch prover ${((pool.answers / pool.ms) * 60000).toFixed(0)}/min, cli ${((cli.answers / cli.ms) * 60000).toFixed(1)}/min so far`);
  }
} finally {
  await prover.close();
  await rm(dir, { recursive: true, force: true });
}

const poolRate = (pool.answers / pool.ms) * 60000;
const cliRate = (cli.answers / cli.ms) * 60000;
console.log(`batch prover: ${variant.name}, ${artifacts.manifest.constraints} constraints (${(artifacts.manifest.constraints / M).toFixed(0)} per answer), ${prover.threads} threads`);
console.log(`  ${pool.answers} attributions in ${batchesPerRound * rounds} proofs: ${poolRate.toFixed(1)} attributions/min, p50 ${(median(pool.latencies) / 1000).toFixed(1)} s per batch proof (${batchesPerRound} in flight)`);
if (!compare) {
  console.log(`(no CLI baseline: ${variant.name}'s ${variant.params.contributors} contributors do not fit ${baseline.name})`);
  console.log(`attributions_per_min=${poolRate.toFixed(1)}`);
  process.exit(0);
}
console.log(`snarkjs CLI: ${baseline.name}, ${baseArtifacts.manifest.constraints} constraints per answer`);
console.log(`  ${cli.answers} attributions in ${cli.answers} processes: ${cliRate.toFixed(1)} attributions/min, p50 ${(median(cli.latencies) / 1000).toFixed(2)} s per proof`);
console.log(`ratio=${(poolRate / cliRate).toFixed(2)}`);
