import { variantFor } from '../circuits/variants.js';
import { initBackend } from '../inference/backend.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { consoleProgress } from '../prover/progress.js';
import { ensureVariant } from '../prover/setup.js';

/**
 * Builds what several test files share, once: the test circuits' keys (the first with the development
 * powers of tau of the same randomness, which the snarkjs cross-checks and the production-path
 * tests use) and the base model.
 */
export default async function setup(): Promise<void> {
  const progress = consoleProgress();
  await ensureVariant(variantFor('test'), { progress, devPtau: true });
  await ensureVariant(variantFor('test-scale'), { progress });
  const backend = await initBackend();
  const step = progress.step(`base model (${backend.name} backend)`);
  const model = await ensureBaseModel();
  step.done(model.hash.slice(0, 12));
  model.dispose();
}
