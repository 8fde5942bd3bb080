/**
 * npm run bench:serving -- [--adapters 1000] [--requests 10000] [--concurrency 64] [--kernel host|tensor]
 *
 * 1. Throughput: Zipf(1.1)-distributed traffic over 1,000 adapters (all resident), served (a) by the
 *    batcher (mixed-adapter batches, base layers once per batch, batched low-rank
 *    deltas) with `concurrency` clients each sending its next request when the last
 *    one returns, and (b) one request at a time, applying the adapter per request
 *    (merge W + Aᵀ·Bᵀ, then a plain forward), as a server without multi-adapter
 *    batching would. Same requests, same machine, one run.
 * 2. Cliff: p99 latency when the working set is 4× the resident slots (uniform traffic
 *    over 4·S adapters, so most batches load adapters just in time) vs all warm (S).
 *
 * The adapters are random LoRA weights of rank 8 (the serving cost does not depend
 * on what they learned). Last two lines: ratio=<batched/sequential throughput>,
 * cliff=<p99 cold / p99 warm>.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, tf } from '../inference/backend.js';
import { Batcher } from '../inference/batcher.js';
import { datanetCorpus } from '../inference/datasets.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { hashFeatures } from '../inference/features.js';
import { forwardMerged } from '../inference/forward.js';
import { mulberry32 } from '../lib/random.js';
import { randomAdapter } from '../inference/synthetic.js';
import { type MixedKernel } from '../inference/sgmv.js';
import { AdapterStore } from '../inference/store.js';
import { adapterTensors, disposeAdapterTensors } from '../inference/train.js';
import { BUILD_DIR } from '../lib/config.js';
import { consoleProgress } from '../prover/index.js';
import { quantile, zipfSampler } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    adapters: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
    slots: { type: 'string', default: '32' },
    kernel: { type: 'string' },
  },
});
const N_ADAPTERS = Number(values.adapters);
const N_REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const SLOTS = Number(values.slots);
const KERNEL = values.kernel as MixedKernel | undefined;
const progress = consoleProgress();

const backend = await initBackend();
const model = await ensureBaseModel();
progress.log(`backend ${backend.name}, base ${model.hash.slice(0, 12)}`);

// 1,000 adapters on disk, made once per base model.
const dir = join(BUILD_DIR, 'bench', 'adapters');
const stamp = join(dir, 'base.txt');
const ids = Array.from({ length: N_ADAPTERS }, (_, i) => `bench-${i}`);
if (!existsSync(stamp) || (await readFile(stamp, 'utf8')) !== `${model.hash}:${N_ADAPTERS}`) {
  const step = progress.step(`writing ${N_ADAPTERS} adapters`);
  const s = await AdapterStore.open(dir, model);
  for (const [i, id] of ids.entries()) {
    await s.put(randomAdapter(model, id, i + 1));
    if (i % 50 === 0) step.update(i, N_ADAPTERS);
  }
  s.close();
  await mkdir(dir, { recursive: true });
  await writeFile(stamp, `${model.hash}:${N_ADAPTERS}`);
  step.done();
}

// Requests: real messages' features, adapters drawn from a Zipf(1.1) law.
const corpus = await datanetCorpus();
const rand = mulberry32(2026);
const zipfIndex = zipfSampler(ids.length, 1.1, rand);
const zipf = () => ids[zipfIndex()]!;
const features = corpus.slice(0, 500).map((r) => hashFeatures(r.text));
const requests = Array.from({ length: N_REQUESTS }, (_, i) => ({ adapterId: zipf(), features: features[i % features.length]! }));

const pct = (xs: number[], p: number) => quantile(xs, p / 100);

/** `concurrency` closed-loop clients over the request list; per-request latency in ms. */
async function closedLoop(batcher: Batcher, reqs: typeof requests): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < reqs.length) {
        const r = reqs[next++]!;
        const s = performance.now();
        await batcher.infer(r);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

// --- 1. throughput: batched vs one at a time -----------------------------------------
// A rank-8 adapter of this model is ~140 KB of tensors, so a server keeps all 1,000
// resident (140 MB); the cliff experiment below is where slots run short.
const store = await AdapterStore.open(dir, model, { maxResidentAdapters: N_ADAPTERS, maxHostAdapters: N_ADAPTERS });
await store.prefetch(ids);
const batcher = new Batcher(store, { maxBatchSize: 32, maxWaitMs: 2, kernel: KERNEL });
await closedLoop(batcher, requests.slice(0, 1000)); // warm-up: kernels compiled, code optimized
// steady state of a long-running server: every adapter resident (with its tensors, for the tensor kernel)
for (const r of await store.acquire(ids)) if (batcher.kernel === 'tensor') r.tensors();
const batched = await closedLoop(batcher, requests);
await batcher.close();

const sequentialLat: number[] = [];
const warm = requests.slice(0, 20);
const seqReqs = requests.slice(0, Math.min(N_REQUESTS, 500)); // the slow path: fewer requests, same traffic
for (const [i, r] of [...warm, ...seqReqs].entries()) {
  const s = performance.now();
  const adapter = await store.get(r.adapterId);
  const t = adapterTensors(adapter);
  const out = tf.tidy(() => forwardMerged(model, tf.tensor2d(r.features, [1, model.spec.inputDim]), t));
  await out.data();
  out.dispose();
  disposeAdapterTensors(t);
  if (i >= warm.length) sequentialLat.push(performance.now() - s);
}
const seqSeconds = sequentialLat.reduce((a, b) => a + b, 0) / 1000;
store.close();

// --- 2. cliff: working set 4× the resident slots vs all warm --------------------------
async function p99For(workingSet: number): Promise<number> {
  const s = await AdapterStore.open(dir, model, { maxResidentAdapters: SLOTS, maxHostAdapters: N_ADAPTERS });
  const set = ids.slice(0, workingSet);
  await s.prefetch(set);
  const b = new Batcher(s, { maxBatchSize: 32, maxWaitMs: 2, kernel: KERNEL });
  const r2 = mulberry32(workingSet);
  // Enough requests that p99 is a tail of ~100 samples, not of a handful of GC pauses.
  const reqs = Array.from({ length: 12_000 }, (_, i) => ({ adapterId: set[Math.floor(r2() * set.length)]!, features: features[i % features.length]! }));
  await closedLoop(b, reqs.slice(0, 1000));
  const { latencies } = await closedLoop(b, reqs);
  await b.close();
  s.close();
  return pct(latencies, 99);
}
const p99Warm = await p99For(SLOTS);
const p99Cold = await p99For(4 * SLOTS);

const batchedRps = requests.length / batched.seconds;
const seqRps = sequentialLat.length / seqSeconds;
console.log(`backend=${backend.name} kernel=${batcher.kernel} adapters=${N_ADAPTERS} zipf=1.1 concurrency=${CONCURRENCY} batch<=32 wait<=2ms`);
console.log('mode                         req/s      p50 ms     p99 ms');
console.log(`batched (mixed adapters) ${batchedRps.toFixed(1).padStart(9)} ${pct(batched.latencies, 50).toFixed(2).padStart(11)} ${pct(batched.latencies, 99).toFixed(2).padStart(10)}`);
console.log(`one at a time (merge)    ${seqRps.toFixed(1).padStart(9)} ${pct(sequentialLat, 50).toFixed(2).padStart(11)} ${pct(sequentialLat, 99).toFixed(2).padStart(10)}`);
console.log(`p99 with ${SLOTS} slots: working set ${SLOTS} (warm) ${p99Warm.toFixed(2)} ms, working set ${4 * SLOTS} (4x) ${p99Cold.toFixed(2)} ms`);
console.log(`ratio=${(batchedRps / seqRps).toFixed(2)}`);
console.log(`cliff=${(p99Cold / p99Warm).toFixed(2)}`);
