/**
 * npm run train:lm
 * Trains (or reuses) the embedded causal language model into build/models/lm from the
 * SpamAssassin bodies, and prints its held-out loss and a greedy continuation.
 */
import { initBackend, tf } from '../inference/backend.js';
import { baseCorpus, ensureBaseLm, isHeldOut } from '../inference/datasets.js';
import { generate } from '../inference/generation.js';
import { LmVocabulary } from '../inference/lm-vocabulary.js';
import { consoleProgress } from '../prover/progress.js';

const progress = consoleProgress();
const backend = await initBackend();
progress.log(`tensor backend: ${backend.name}`);
const step = progress.step('language model');
const t0 = performance.now();
const model = await ensureBaseLm({ onProgress: (p) => step.update(p.step, p.steps, `loss ${p.loss.toFixed(3)}`) });
step.done(`${model.config.layers} layers × ${model.config.dim} wide, ${model.vocabulary.size} ids, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// held-out loss: the first window of each held-out text
const width = model.config.context + 1;
const windows = (await baseCorpus())
  .filter((r) => isHeldOut(r.id))
  .map((r) => [...model.vocabulary.encode(r.text), LmVocabulary.END])
  .filter((ids) => ids.length >= width)
  .slice(0, 64)
  .map((ids) => ids.slice(0, width));
const loss = tf.tidy(() => model.loss(tf.tensor2d(windows, undefined, 'int32')).dataSync()[0]!);
console.log(`held-out loss ${loss.toFixed(3)} nats a token over ${windows.length} windows (uniform over the vocabulary: ${Math.log(model.vocabulary.size).toFixed(3)})`);
console.log(`"Subject: " → ${JSON.stringify(generate(model, 'Subject: ', { maxTokens: 24 }).text)}`);
