/**
 * npm run setup -- [--variant <name>|all] [--ptau <prepared ptau file>] [--force]
 * Builds circuit artifacts and keys into the build folder (default variant unless told).
 */
import { parseArgs } from 'node:util';
import { VARIANTS, variantByName, variantFor } from '../circuits/variants.js';
import { consoleProgress, ensureVariant } from '../prover/index.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    ptau: { type: 'string' },
    force: { type: 'boolean', default: false },
  },
});

const variants = values.variant === 'all' ? VARIANTS : [values.variant ? variantByName(values.variant) : variantFor('default')];
const progress = consoleProgress();
for (const v of variants) {
  const a = await ensureVariant(v, { progress, force: values.force, ...(values.ptau ? { ptauFile: values.ptau } : {}) });
  progress.log(`${v.name}: ${a.manifest.constraints} constraints, ${a.manifest.publicSignals} public signals → ${a.dir}`);
  progress.log(`  ceremony: ${a.manifest.ceremony}`);
}
