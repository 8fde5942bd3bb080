/**
 * npm run setup -- [--variant <name>|all] [--ptau <prepared ptau file>] [--force] [--dev-ptau]
 * Builds circuit artifacts and keys into the build folder (default variant unless told):
 * development keys unless --ptau. --dev-ptau also writes the development keys' powers of
 * tau (same randomness) beside them, for `snarkjs zkey verify`.
 */
import { parseArgs } from 'node:util';
import { VARIANTS, variantByName, variantFor } from '../circuits/variants.js';
import { consoleProgress, ensureVariant } from '../prover/index.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    ptau: { type: 'string' },
    force: { type: 'boolean', default: false },
    'dev-ptau': { type: 'boolean', default: false },
  },
});

const variants = values.variant === 'all' ? VARIANTS : [values.variant ? variantByName(values.variant) : variantFor('default')];
const progress = consoleProgress();
for (const v of variants) {
  const a = await ensureVariant(v, { progress, force: values.force, devPtau: values['dev-ptau'], ...(values.ptau ? { ptauFile: values.ptau } : {}) });
  progress.log(`${v.name}: ${a.manifest.constraints} constraints, ${a.manifest.publicSignals} public signals → ${a.dir}`);
  progress.log(`  ceremony: ${a.manifest.ceremony}`);
  if (a.manifest.ptau.origin === 'development' && a.manifest.ptau.path) {
    progress.log(`  check with stock snarkjs: npx snarkjs zkey verify ${a.r1cs} ${a.manifest.ptau.path} ${a.zkey}`);
  }
}
