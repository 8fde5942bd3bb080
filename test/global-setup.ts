import { variantFor } from '../circuits/variants.js';
import { consoleProgress } from '../prover/progress.js';
import { ensureVariant } from '../prover/setup.js';

export default async function setup(): Promise<void> {
  await ensureVariant(variantFor('test'), { progress: consoleProgress() });
}
