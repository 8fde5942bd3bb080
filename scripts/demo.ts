/**
 * npm run demo -- [--variant <name>] [--ptau <file>]
 * The main job, end to end on the embedded defaults: build (or reuse) the circuit's
 * keys, attribute one answer's fee among an adapter's contributors, prove the split
 * with the prover pool, verify it, and print who earned what.
 */
import { parseArgs } from 'node:util';
import { fieldToAddress } from '../attribution/index.js';
import { Commitments } from '../attribution/commitments.js';
import { variantByName, variantFor } from '../circuits/variants.js';
import { buildWitness, consoleProgress, createProver, ensureVariant, loadProverKeys } from '../prover/index.js';
import { exampleClaim } from './example-claim.js';

const { values } = parseArgs({ options: { variant: { type: 'string' }, ptau: { type: 'string' } } });
const variant = values.variant ? variantByName(values.variant) : variantFor('default');
const progress = consoleProgress();

const artifacts = await ensureVariant(variant, { progress, ...(values.ptau ? { ptauFile: values.ptau } : {}) });
progress.log(`circuit ${variant.name}: ${artifacts.manifest.constraints} constraints; ${artifacts.manifest.ceremony}`);

const { claim, leaves } = exampleClaim(variant);
const witness = buildWitness(await Commitments.create(), variant, claim);
const prover = createProver(await loadProverKeys(artifacts));
try {
  const step = progress.step(`prove (${prover.threads} worker threads)`);
  const started = performance.now();
  const { proof, publicSignals } = await prover.prove(witness.input);
  step.done(`${(performance.now() - started).toFixed(0)} ms`);
  const ok = await prover.verify(proof, publicSignals);
  const matches = publicSignals.every((s, i) => BigInt(s) === witness.publicSignals[i]);

  const fmt = (wei: bigint) => (Number(wei) / 1e18).toFixed(6);
  console.log(`\nanswer fee ${fmt(claim.fee)} OPEN, contributors' pool ${fmt(claim.pool)} OPEN`);
  console.log('contributor  payout address                               score          payout (OPEN)');
  leaves.forEach((l, c) => {
    console.log(`${l.name.padEnd(12)} ${fieldToAddress(l.payee)}  ${witness.split.scores[c]!.toString().padStart(13)}  ${fmt(witness.split.payouts[c]!)}`);
  });
  console.log(`dust returned ${witness.split.dust} wei`);
  console.log(`\nindex root   0x${witness.root.toString(16)}`);
  console.log(`binding      0x${witness.binding.toString(16)}`);
  console.log(`receipt      0x${witness.receipt.toString(16)}`);
  console.log(`proof verified: ${ok}; public signals match the TypeScript reference: ${matches}`);
  if (!ok || !matches) process.exitCode = 1;
} finally {
  await prover.close();
}
