/**
 * npm run prover -- [--db build/zkpoa.sqlite] [--variant <name>] [--lease 30000]
 * A proof worker: takes `prove` jobs from the store's queue until stopped (SIGINT or
 * SIGTERM finish the proofs in flight). Start several to share the work.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProofWorker } from '../api/proof-worker.js';
import { openDatabase } from '../api/store/db.js';
import { SqliteJobQueue } from '../api/store/jobs.js';
import { variantByName, variantFor } from '../circuits/variants.js';
import { DEFAULT_BUILD_DIR, createProver, ensureVariant, loadProverKeys } from '../prover/index.js';

const { values } = parseArgs({
  options: { db: { type: 'string', default: join(DEFAULT_BUILD_DIR, 'zkpoa.sqlite') }, variant: { type: 'string' }, lease: { type: 'string', default: '30000' }, threads: { type: 'string' } },
});
const variant = values.variant ? variantByName(values.variant) : variantFor('default');
const db = openDatabase(values.db);
const prover = createProver(await loadProverKeys(await ensureVariant(variant)), values.threads ? { threads: Number(values.threads) } : {});
const worker = new ProofWorker(new SqliteJobQueue(db), prover, { variant: variant.name, leaseMs: Number(values.lease), pollMs: 50 });
worker.start();
console.log(`proof worker ${worker.workerId} on ${values.db} (${variant.name}, ${prover.threads} threads)`);
const stop = async () => {
  await worker.stop();
  await prover.close();
  db.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
