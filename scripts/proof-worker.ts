/**
 * npm run prover -- [--db build/zkpoa.sqlite | --queue redis://host:6379] [--variant <name>] [--lease 30000] [--threads N]
 * A proof worker: takes `prove` jobs from the queue until stopped (SIGINT or SIGTERM
 * finish the proofs in flight). Start several to share the work: on one machine with
 * the SQLite queue in --db, on many with BullMQ on Redis (--queue or ZKPOA_QUEUE_URL,
 * the same URL `zkpoa serve --queue` uses; no database is needed then).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProofWorker } from '../api/proof-worker.js';
import { openDatabase } from '../api/store/db.js';
import { describeJobQueue, openJobQueue } from '../api/store/open-queue.js';
import { variantByName, variantFor } from '../circuits/variants.js';
import { BUILD_DIR, env } from '../lib/config.js';
import { createProver, ensureVariant, loadProverKeys } from '../prover/index.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: join(BUILD_DIR, 'zkpoa.sqlite') },
    queue: { type: 'string' },
    variant: { type: 'string' },
    lease: { type: 'string', default: '30000' },
    threads: { type: 'string' },
  },
});
const variant = values.variant ? variantByName(values.variant) : variantFor('default');
// a URL with a password belongs in the environment, not in argv
const queueUrl = values.queue || env('queueUrl');
const sqlite = !queueUrl || queueUrl === 'sqlite';
const db = sqlite ? openDatabase(values.db) : undefined;
const queue = await openJobQueue(db, queueUrl);
const keys = await loadProverKeys(await ensureVariant(variant));
const prover = createProver(keys, values.threads ? { threads: Number(values.threads) } : {});
const worker = new ProofWorker(queue, prover, { variant: variant.name, vkey: keys.vkey, leaseMs: Number(values.lease), pollMs: 50 });
worker.start();
console.log(`proof worker ${worker.workerId} on ${sqlite ? values.db : describeJobQueue(queueUrl)} (${variant.name}, ${prover.threads} threads)`);
const stop = async () => {
  await worker.stop();
  await queue.close();
  await prover.close();
  db?.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
