/**
 * npm run finetune -- <spec.json> [--adapters <dir>]
 * No-code fine-tuning: a JSON spec becomes a LoRA adapter in the adapter store
 * (default build/adapters) with its checkpoints (build/checkpoints/<id>/epoch-<k>.lora).
 *
 * Spec: { "adapterId": "...", "seed": 1,
 *         "datanet": { "id": "...", "versionRoot": "0x...", "records": [{ "text", "label", "contributor" }] }
 *                 or { "id": "...", "versionRoot": "0x...", "file": "records.jsonl" },
 *         "hyper": { "optimizer": "lbfgs", "iterations": 600, "weightDecay": 0.01, "rank": 8, "alpha": 16 } }
 *   optimizer "lbfgs" (default): full-batch to the regularized optimum, one checkpoint;
 *   optimizer "adam": minibatch, with "learningRate", "epochs", "batchSize", "checkpoints".
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../inference/backend.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { ModelFactory } from '../inference/factory.js';
import { AdapterStore } from '../inference/store.js';
import type { FineTuneSpec, TrainingRecord } from '../inference/train.js';
import { BUILD_DIR } from '../lib/config.js';
import { consoleProgress } from '../prover/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { adapters: { type: 'string' } } });
if (positionals.length !== 1) {
  console.error('usage: npm run finetune -- <spec.json> [--adapters <dir>]');
  process.exit(2);
}
const specPath = resolve(positionals[0]!);
let spec: FineTuneSpec & { datanet: FineTuneSpec['datanet'] & { file?: string } };
try {
  spec = JSON.parse(await readFile(specPath, 'utf8'));
  if (spec.datanet?.file) {
    const lines = (await readFile(resolve(dirname(specPath), spec.datanet.file), 'utf8')).split('\n').filter((l) => l.trim());
    spec.datanet.records = lines.map((l, i) => {
      try {
        return JSON.parse(l) as TrainingRecord;
      } catch {
        throw new Error(`${spec.datanet.file}:${i + 1} is not JSON`);
      }
    });
  }
} catch (err) {
  console.error(`cannot read the spec: ${(err as Error).message}`);
  process.exit(2);
}
const progress = consoleProgress();
await initBackend();
const model = await ensureBaseModel();
const store = await AdapterStore.open(values.adapters ?? join(BUILD_DIR, 'adapters'), model);
const factory = new ModelFactory({ baseDir: join(BUILD_DIR, 'models', 'base'), store, checkpointsDir: join(BUILD_DIR, 'checkpoints') });
const step = progress.step(`fine-tune ${spec.adapterId}`);
try {
  const out = await factory.fineTune(spec, (p) => step.update(p.step, p.steps, `step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}`));
  step.done(`${(out.durationMs / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({ adapter: out.meta.id, baseModel: out.meta.baseModel, checkpoints: out.checkpoints }, null, 2));
} catch (err) {
  console.error(`fine-tuning failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await factory.close();
  store.close();
}
