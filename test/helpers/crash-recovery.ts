import { spawn, type ChildProcess } from 'node:child_process';
import * as snarkjs from 'snarkjs';
import { expect } from 'vitest';
import { proveJobKind, type ProveJobResult } from '../../api/proof-worker.js';
import type { Job, JobQueue } from '../../api/store/jobs.js';
import { buildBatchWitness } from '../../prover/batch-witness.js';
import { loadVerificationKey } from '../../prover/prover.js';
import { TEST_VARIANT, getCommitments, sampleBatchClaim, testArtifacts } from './fixtures.js';

/** A real proof-worker process (scripts/proof-worker.ts) on a queue: `--db <file>` or `--queue <url>`. */
export function startProofWorker(queueArgs: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'scripts/proof-worker.ts', ...queueArgs, '--variant', TEST_VARIANT.name, '--lease', '1500', '--threads', '2'], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ZKPOA_QUEUE_URL: '' },
  });
}

export async function waitFor(what: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The crash scenario both queues must survive: 8 batch proof jobs, a worker killed with
 * SIGKILL while some are running, a second worker that finishes them all. Asserts
 * that every proof verifies and that each interrupted job ran exactly twice; returns
 * the job kind and the batches' keys for queue-specific checks (one record per batch).
 */
export async function killMidProofThenRecover(q: JobQueue, queueArgs: string[]): Promise<{ kind: string; keys: string[] }> {
  const commitments = await getCommitments();
  const vkey = await loadVerificationKey(testArtifacts().vkey);
  const kind = proveJobKind(vkey);
  const keys = Array.from({ length: 8 }, (_, i) => `batch-${i}`);
  for (const [i, key] of keys.entries()) await q.enqueue(kind, key, { variant: TEST_VARIANT.name, input: buildBatchWitness(commitments, TEST_VARIANT, { ...sampleBatchClaim(), first: BigInt(4 * i) }).input });
  const job = async (k: string): Promise<Job> => (await q.byKey(kind, k))!;
  const status = async () => Promise.all(keys.map(async (k) => (await job(k)).status));

  const first = startProofWorker(queueArgs);
  await waitFor(async () => {
    const s = await status();
    return s.includes('done') && s.includes('running');
  }, 60_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const interrupted: string[] = [];
  for (const k of keys) if ((await job(k)).status === 'running') interrupted.push(k);
  expect(interrupted.length).toBeGreaterThan(0);

  const second = startProofWorker(queueArgs);
  try {
    await waitFor(async () => (await status()).every((s) => s === 'done'), 60_000);
  } finally {
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }
  for (const k of keys) {
    const { proof, publicSignals } = (await job(k)).result as ProveJobResult;
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true);
  }
  for (const k of interrupted) expect((await job(k)).attempts).toBe(2);
  return { kind, keys };
}
