/**
 * npm run bench:generation -- [--adapters 100] [--streams 32] [--requests 512] [--baseline-requests 32] [--max-tokens 32]
 *
 * Generation throughput of the embedded language model with LoRA adapters: Zipf(1.1)
 * traffic over `adapters` adapters, `streams` clients each sending its next request
 * when its last one has streamed its final token, served (a) by the generation engine
 * (continuous batching: up to `streams` sequences a step, mixed adapters through the
 * adapter bank) and (b) one request at a time through the same engine (a batch of 1),
 * as a server without batching would, on the first `baseline-requests` of the same
 * requests, in the same run. Prompts are the first words of real messages, as many
 * whole words as fit in `prompt-tokens` tokens (the model's context is 64), and the
 * tokens are sampled (temperature 0.8, seeded per request), up to `max-tokens` each.
 *
 * Each adapter is fine-tuned for real on its own slice of the corpus, briefly (two
 * steps): the serving cost does not depend on what an adapter learned.
 * Last line: ratio=<batched tokens/s ÷ one-at-a-time tokens/s>.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../inference/backend.js';
import { baseCorpus, datanetCorpus, ensureBaseLm } from '../inference/datasets.js';
import { GenerationEngine, type GenerationResult } from '../inference/generation.js';
import { fineTuneLm, type LmAdapter } from '../inference/lm-lora.js';
import { mulberry32 } from '../lib/random.js';
import { quantile, zipfSampler } from '../lib/stats.js';
import { consoleProgress } from '../prover/progress.js';

const { values } = parseArgs({
  options: {
    adapters: { type: 'string', default: '100' },
    streams: { type: 'string', default: '32' },
    requests: { type: 'string', default: '512' },
    'baseline-requests': { type: 'string', default: '32' },
    'max-tokens': { type: 'string', default: '32' },
    'prompt-tokens': { type: 'string', default: '16' },
  },
});
const int = (name: keyof typeof values, min: number) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
};
const N_ADAPTERS = int('adapters', 1);
const STREAMS = int('streams', 1);
const N_REQUESTS = int('requests', 1);
const N_BASELINE = Math.min(int('baseline-requests', 1), N_REQUESTS);
const MAX_TOKENS = int('max-tokens', 1);
const PROMPT_TOKENS = int('prompt-tokens', 1);

const progress = consoleProgress();
const backend = await initBackend();
const lmStep = progress.step('language model');
const lm = await ensureBaseLm({ onProgress: (p) => lmStep.update(p.step, p.steps, `loss ${p.loss.toFixed(3)}`) });
lmStep.done(`${lm.config.layers} layers × ${lm.config.dim} wide, context ${lm.config.context}, ${lm.vocabulary.size} ids`);

const texts = (await datanetCorpus()).map((r) => r.text);
const adapters = new Map<string, LmAdapter>();
const tuning = progress.step(`${N_ADAPTERS} adapters`);
const t0 = performance.now();
for (let i = 0; i < N_ADAPTERS; i++) {
  const id = `lm-${String(i).padStart(3, '0')}`;
  const slice = Array.from({ length: 8 }, (_, k) => texts[(i * 8 + k) % texts.length]!);
  adapters.set(id, fineTuneLm(lm, { adapterId: id, datanet: { id: `dn-${i}`, versionRoot: '0x01', texts: slice }, hyper: { rank: 4, steps: 2, batchSize: 2, learningRate: 0.05 }, seed: i + 1 }).adapter);
  tuning.update(i + 1, N_ADAPTERS);
}
tuning.done(`rank 4, ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const rand = mulberry32(2026);
const zipf = zipfSampler(N_ADAPTERS, 1.1, rand);
const ids = [...adapters.keys()];
/** The longest run of a text's first words that fits in PROMPT_TOKENS tokens. */
const promptOf = (text: string) => {
  let prompt = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const longer = prompt ? `${prompt} ${word}` : word;
    if (lm.vocabulary.encode(longer).length > PROMPT_TOKENS) break;
    prompt = longer;
  }
  return prompt;
};
const prompts = (await baseCorpus()).map((r) => promptOf(r.text)).filter((p) => p.length > 0);
const requests = Array.from({ length: N_REQUESTS }, (_, i) => ({ prompt: prompts[i % prompts.length]!, adapterId: ids[zipf()]!, maxTokens: MAX_TOKENS, temperature: 0.8, seed: i }));

interface Run {
  tokens: number;
  seconds: number;
  firstTokenMs: number[];
  results: GenerationResult[];
  engine: GenerationEngine;
}

/** Serves `count` of the requests with `streams` clients through an engine of batch `maxBatch`. */
async function serve(count: number, streams: number, maxBatch: number, label: string): Promise<Run> {
  const engine = new GenerationEngine(lm, async (id) => adapters.get(id)!, { maxBatch, residentAdapters: N_ADAPTERS });
  const step = progress.step(label);
  const firstTokenMs: number[] = [];
  const results: GenerationResult[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (next < count) {
        const i = next++;
        const sent = performance.now();
        let first = true;
        results[i] = await engine.generate(requests[i]!, {
          onToken: () => {
            if (first) firstTokenMs.push(performance.now() - sent);
            first = false;
          },
        });
        step.update(results.filter(Boolean).length, count);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const tokens = results.reduce((n, r) => n + r.tokens.length, 0);
  step.done(`${tokens} tokens in ${seconds.toFixed(1)} s`);
  await engine.close();
  return { tokens, seconds, firstTokenMs, results, engine };
}

const batched = await serve(N_REQUESTS, STREAMS, STREAMS, `batched: ${N_REQUESTS} requests, ${STREAMS} streams`);
const alone = await serve(N_BASELINE, 1, 1, `one at a time: ${N_BASELINE} requests`);
// the same requests give the same tokens either way: batching changes the speed only
const same = alone.results.every((r, i) => r.text === batched.results[i]!.text);
const perSecond = (r: Run) => r.tokens / r.seconds;
const ms = (xs: number[], q: number) => quantile(xs, q).toFixed(1);

const promptTokens = batched.results.map((r) => r.promptTokens);
console.log(`backend=${backend.name} adapters=${N_ADAPTERS} zipf=1.1 streams=${STREAMS} requests=${N_REQUESTS} max_tokens=${MAX_TOKENS} prompt_tokens p50=${quantile(promptTokens, 0.5)} max=${Math.max(...promptTokens)}`);
console.log(`batched:       ${perSecond(batched).toFixed(1)} tokens/s (${batched.tokens} tokens in ${batched.seconds.toFixed(2)} s, ${batched.engine.stats.steps} steps, widest batch ${batched.engine.stats.widestBatch}), first token p50 ${ms(batched.firstTokenMs, 0.5)} ms p99 ${ms(batched.firstTokenMs, 0.99)} ms`);
console.log(`one at a time: ${perSecond(alone).toFixed(1)} tokens/s (${alone.tokens} tokens in ${alone.seconds.toFixed(2)} s), first token p50 ${ms(alone.firstTokenMs, 0.5)} ms`);
console.log(`distinct adapters requested: ${new Set(requests.map((r) => r.adapterId)).size}; the first ${N_BASELINE} answers are the same both ways: ${same ? 'yes' : 'NO'}`);
if (!same) process.exitCode = 1;
console.log(`ratio=${(perSecond(batched) / perSecond(alone)).toFixed(2)}`);
lm.dispose();
