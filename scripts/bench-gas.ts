/**
 * npm run bench:gas
 * Execution gas (no 21k base, no calldata) of the bare generated verifyProof and of
 * settle, for the test and default variants, measured by forge on real proofs.
 * "settle" is the steady state (the index version's credit words already non-zero);
 * "first settle" also pays the first write of each credit word. Last line:
 * settle_gas=<default variant, steady state>.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { variantFor } from '../circuits/variants.js';
import { amountWordCount } from '../attribution/constants.js';
import { foundryBinary } from '../contracts/client/anvil.js';
import { ENV, REPO_ROOT } from '../lib/config.js';
import { generateContractArtifacts } from './contract-artifacts.js';

const run = promisify(execFile);
const variants = [variantFor('test'), variantFor('default')];
await generateContractArtifacts(variants);

const rows: Record<string, Record<string, number>> = {};
for (const v of variants) {
  const { stdout } = await run(foundryBinary('forge'), ['test', '--match-contract', 'GasTest', '-vv'], {
    cwd: REPO_ROOT,
    env: { ...process.env, [ENV.forgeVariant]: v.name },
    maxBuffer: 16 * 1024 * 1024,
  });
  rows[v.name] = Object.fromEntries([...stdout.matchAll(/^\s+(\w+_gas) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

const fmt = (n: number | undefined) => (n === undefined ? '—' : n.toLocaleString('en-US')).padStart(12);
console.log('variant              signals   verifyProof        settle  first settle      register');
for (const v of variants) {
  const r = rows[v.name]!;
  console.log(`${v.name.padEnd(20)} ${String(2 + amountWordCount(v.params.contributors)).padStart(7)} ${fmt(r.verify_gas)} ${fmt(r.settle_gas)} ${fmt(r.settle_first_gas)} ${fmt(r.register_gas)}`);
}
console.log(`settle_gas=${rows[variantFor('default').name]!.settle_gas}`);
