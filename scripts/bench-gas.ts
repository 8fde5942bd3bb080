/**
 * npm run bench:gas
 * Gas of batch settlement, claims and registration, measured by forge (contracts/test/Gas.t.sol)
 * on real batch proofs of the test and default variants. "Execution" is the settlement
 * contract's own gas from a cold state (the first call of a transaction); "transaction" adds
 * the 21,000 base and the calldata. Per answer: a full batch of M answers continuing a ledger,
 * the transaction's gas over M. Claims hash the ledger path with poseidon-solidity's PoseidonT3;
 * circomlibjs's generated Poseidon contract is measured on the same path for comparison.
 * Last line: per_answer_gas=<default variant>.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { variantFor, type CircuitVariant } from '../circuits/variants.js';
import { foundryBinary } from '../contracts/client/anvil.js';
import { ENV, REPO_ROOT } from '../lib/config.js';
import { generateContractArtifacts } from './contract-artifacts.js';

const run = promisify(execFile);
const variants = [variantFor('test'), variantFor('default')];
await generateContractArtifacts(variants);

async function measure(v: CircuitVariant): Promise<Record<string, number>> {
  const { stdout } = await run(foundryBinary('forge'), ['test', '--match-contract', 'GasTest', '-vv'], {
    cwd: REPO_ROOT,
    env: { ...process.env, [ENV.forgeVariant]: v.name },
    maxBuffer: 16 * 1024 * 1024,
  });
  return Object.fromEntries([...stdout.matchAll(/^\s+(\w+) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

const rows = new Map<CircuitVariant, Record<string, number>>();
for (const v of variants) rows.set(v, await measure(v));

const n = (x: number | undefined) => (x === undefined ? '—' : x.toLocaleString('en-US'));
const row = (label: string, cells: (number | undefined)[], widths: number[]) =>
  console.log(label.padEnd(46) + cells.map((c, i) => n(c).padStart(widths[i]!)).join(''));

const settleWidths = [8, 12, 13, 12];
console.log('settleBatch gas'.padEnd(46) + ['answers', 'execution', 'transaction', 'per answer'].map((h, i) => h.padStart(settleWidths[i]!)).join(''));
for (const [v, r] of rows) {
  const line = (what: string, answers: number | undefined, exec: number | undefined, tx: number | undefined) =>
    row(`  ${v.name} ${what}`, [answers, exec, tx, tx && answers ? Math.ceil(tx / answers) : undefined], settleWidths);
  line('first of a version', r.settle_first_answers, r.settle_first_gas, r.settle_first_tx_gas);
  line('short', r.settle_answers, r.settle_gas, r.settle_tx_gas);
  line('full', r.settle_full_answers, r.settle_full_gas, r.settle_full_tx_gas);
  row(`  ${v.name} verifyProof alone`, [undefined, r.verify_gas], settleWidths);
}

const claimWidths = [8, 13, 12, 18, 24];
console.log('\n' + 'claim gas'.padEnd(46) + ['depth', 'first claim', 'next claim', 'circomlibjs path', 'poseidon-solidity path'].map((h, i) => h.padStart(claimWidths[i]!)).join(''));
for (const [v, r] of rows) {
  row(`  ${v.name}`, [r.claim_depth, r.claim_gas, r.claim_again_gas, r.claim_path_variant_circomlibjs_gas, r.claim_path_variant_poseidon_solidity_gas], claimWidths);
}
const d = rows.get(variantFor('default'))!;
row('  largest declared variant', [d.claim_largest_depth, d.claim_largest_gas, undefined, d.claim_path_largest_circomlibjs_gas, d.claim_path_largest_poseidon_solidity_gas], claimWidths);

const regWidths = [8, 12, 13, 13, 10, 10];
console.log('\n' + 'registry gas'.padEnd(46) + ['payees', 'register', 'register tx', 'updateIndex', 'setTerms', 'withdraw'].map((h, i) => h.padStart(regWidths[i]!)).join(''));
for (const [v, r] of rows) {
  row(`  ${v.name}`, [r.register_payees, r.register_gas, r.register_tx_gas, r.update_index_gas, r.set_terms_gas, r.withdraw_gas], regWidths);
}
row('  a community datanet (leaves published off-chain)', [d.register_contributors_largest, d.register_gas_largest], regWidths);
console.log(`per_answer_gas=${Math.ceil(d.settle_full_tx_gas! / d.settle_full_answers!)}`);
