/**
 * npm run bench:prover -- [--variant <name>] [--rounds 4] [--batch 4]
 * Proof throughput of the prover pool vs the stock `snarkjs groth16 fullprove` CLI on
 * the same inputs, alternating pool and CLI rounds in one run so both see the same
 * machine. The inputs are the service's workload: answers on two adapters, each
 * answer with its own features. The pool gets a batch of proofs at once (its workers
 * prove in parallel); the CLI proves them one process after another, as a script
 * around it would.
 * Last line: ratio=<pool throughput / CLI throughput>.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Commitments } from '../attribution/commitments.js';
import { variantByName, variantFor } from '../circuits/variants.js';
import { buildWitness, consoleProgress, createProver, ensureVariant, loadProverKeys } from '../prover/index.js';
import { exampleClaim } from './example-claim.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { variant: { type: 'string' }, rounds: { type: 'string', default: '4' }, batch: { type: 'string', default: '4' } },
});
const variant = values.variant ? variantByName(values.variant) : variantFor('default');
const rounds = Number(values.rounds);
const batch = Number(values.batch);
const progress = consoleProgress();
const artifacts = await ensureVariant(variant, { progress });
const snarkjsCli = join(dirname(createRequire(import.meta.url).resolve('snarkjs')), 'cli.cjs');

const commitments = await Commitments.create();
// The service's workload: many answers on a few adapters. Two adapters with full
// indexes; every answer has its own features t, nonce and hashes.
const adapters = [1, 2].map((seed) => exampleClaim(variant, seed, variant.params.contributors).claim);
const inputs = Array.from({ length: rounds * batch }, (_, i) => {
  const base = adapters[i % adapters.length]!;
  const own = exampleClaim(variant, 1000 + i, 1).claim; // a different answer direction
  const t = base.t.map((x, k) => (x + own.t[k]!) / 2n);
  return buildWitness(commitments, variant, { ...base, t, nonce: own.nonce, inputHash: own.inputHash, outputHash: own.outputHash }).input;
});
const dir = await mkdtemp(join(tmpdir(), 'zkpoa-bench-'));
const files = await Promise.all(
  inputs.map(async (input, i) => {
    const f = join(dir, `input${i}.json`);
    await writeFile(f, JSON.stringify(input));
    return f;
  }),
);

const prover = createProver(await loadProverKeys(artifacts));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pool = { ms: 0, n: 0, latencies: [] as number[] };
const cli = { ms: 0, n: 0, latencies: [] as number[] };
try {
  await prover.prove(inputs[0]!); // warm the workers (curve build, key copy) outside the timing
  for (let r = 0; r < rounds; r++) {
    const slice = inputs.slice(r * batch, (r + 1) * batch);
    let t0 = performance.now();
    await Promise.all(
      slice.map(async (input) => {
        const s = performance.now();
        await prover.prove(input);
        pool.latencies.push(performance.now() - s);
      }),
    );
    pool.ms += performance.now() - t0;
    pool.n += slice.length;

    t0 = performance.now();
    for (let i = r * batch; i < (r + 1) * batch; i++) {
      const s = performance.now();
      await run(process.execPath, [snarkjsCli, 'groth16', 'fullprove', files[i]!, artifacts.wasm, artifacts.zkey, join(dir, `proof${i}.json`), join(dir, `public${i}.json`)]);
      cli.latencies.push(performance.now() - s);
    }
    cli.ms += performance.now() - t0;
    cli.n += batch;
    progress.log(`round ${r + 1}/${rounds}: pool ${((pool.n / pool.ms) * 60000).toFixed(1)}/min, cli ${((cli.n / cli.ms) * 60000).toFixed(1)}/min so far`);
  }
} finally {
  await prover.close();
  await rm(dir, { recursive: true, force: true });
}

const poolRate = (pool.n / pool.ms) * 60000;
const cliRate = (cli.n / cli.ms) * 60000;
console.log(`variant=${variant.name} constraints=${artifacts.manifest.constraints} threads=${prover.threads} proofs=${pool.n}+${cli.n}`);
console.log(`pool: ${poolRate.toFixed(1)} proofs/min, p50 latency ${median(pool.latencies).toFixed(0)} ms (batch of ${batch} in flight)`);
console.log(`cli:  ${cliRate.toFixed(1)} proofs/min, p50 latency ${median(cli.latencies).toFixed(0)} ms (one process per proof)`);
console.log(`ratio=${(poolRate / cliRate).toFixed(2)}`);
