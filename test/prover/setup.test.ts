import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProofWorker, proveJobKind } from '../../api/proof-worker.js';
import { openDatabase } from '../../api/store/db.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { createProver, loadProverKeys } from '../../prover/prover.js';
import { artifactPaths, ensureVariant } from '../../prover/setup.js';
import { buildBatchWitness } from '../../prover/batch-witness.js';
import { releaseSnarkjsThreads } from '../../prover/snarkjs-threads.js';
import { TEST_VARIANT, getCommitments, sampleBatchClaim } from '../helpers/fixtures.js';

/**
 * The development ptau that the global setup wrote beside the test variant's keys (a valid
 * one-party ceremony file), standing in for a public one passed with --ptau.
 */
const PUBLIC_PTAU = join(artifactPaths(TEST_VARIANT).dir, `dev_pot${TEST_VARIANT.ptauPower}.ptau`);

const dirs: string[] = [];
afterAll(async () => {
  await releaseSnarkjsThreads();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function buildDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'zkpoa-setup-'));
  dirs.push(d);
  return d;
}

describe('circuit setup', () => {
  it('keys made from a public ptau are reused by callers that pass none (never replaced by a development ceremony)', async () => {
    const dir = await buildDir();
    const built = await ensureVariant(TEST_VARIANT, { buildDir: dir, ptauFile: PUBLIC_PTAU });
    expect(built.manifest.ptau.origin).toBe('file');
    const reused = await ensureVariant(TEST_VARIANT, { buildDir: dir }); // as `serve` and `zkpoa prover` call it
    expect(reused.manifest).toEqual(built.manifest);
    // with a file missing, it refuses to fall back to a development ceremony over production keys
    await rm(reused.verifier);
    await expect(ensureVariant(TEST_VARIANT, { buildDir: dir })).rejects.toMatchObject({ code: 'ZKPOA_ERR_PTAU' });
    expect(existsSync(reused.zkey)).toBe(true); // the production keys are left as they were
  }, 180_000);

  it('a proof job names its verification key: a worker holding other keys never claims it, and one whose keys disagree stores no proof', async () => {
    // two setups of one circuit: same wasm, different keys (development keys of other randomness)
    const other = await ensureVariant(TEST_VARIANT, { buildDir: await buildDir() });
    const mine = artifactPaths(TEST_VARIANT);
    const [myKeys, otherKeys] = await Promise.all([loadProverKeys(mine), loadProverKeys(other)]);
    const queue = new SqliteJobQueue(openDatabase(':memory:'));
    const input = buildBatchWitness(await getCommitments(), TEST_VARIANT, sampleBatchClaim()).input;
    const waitFor = async (id: string, done: (s: string | undefined) => boolean, ms: number) => {
      const end = Date.now() + ms;
      let state = await queue.get(id);
      while (!done(state?.status) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
        state = await queue.get(id);
      }
      return state;
    };
    // a worker with the other keys leaves a job made for mine in the queue
    const otherProver = createProver(otherKeys, { threads: 1 });
    const otherWorker = new ProofWorker(queue, otherProver, { variant: TEST_VARIANT.name, vkey: otherKeys.vkey, leaseMs: 60_000, pollMs: 20 });
    // a misconfigured one: my proving key, the other verification key (it claims the other's jobs)
    const mixed = createProver({ ...myKeys, vkey: otherKeys.vkey }, { threads: 1 });
    const mixedWorker = new ProofWorker(queue, mixed, { variant: TEST_VARIANT.name, vkey: otherKeys.vkey, leaseMs: 60_000, pollMs: 20 });
    try {
      const forMine = await queue.enqueue(proveJobKind(myKeys.vkey), 'batch-mine', { variant: TEST_VARIANT.name, input });
      otherWorker.start();
      expect(await waitFor(forMine.id, (s) => s !== 'queued', 1_500)).toMatchObject({ status: 'queued', attempts: 0 });
      await otherWorker.stop();

      const forOther = await queue.enqueue(proveJobKind(otherKeys.vkey), 'batch-other', { variant: TEST_VARIANT.name, input });
      mixedWorker.start();
      const state = await waitFor(forOther.id, (s) => s === 'failed', 60_000);
      expect(state).toMatchObject({ status: 'failed', error: expect.stringMatching(/does not verify/) });
      expect(state?.result).toBeUndefined();
    } finally {
      await otherWorker.stop();
      await mixedWorker.stop();
      await otherProver.close();
      await mixed.close();
    }
  }, 180_000);

  it('a build lock left by a process that died is broken, not waited on', async () => {
    const dir = await buildDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a pid whose process has exited
    await mkdir(join(dir, 'circuits', `.lock-${TEST_VARIANT.name}`), { recursive: true });
    await writeFile(join(dir, 'circuits', `.lock-${TEST_VARIANT.name}`, 'pid'), String(dead));
    const built = await ensureVariant(TEST_VARIANT, { buildDir: dir });
    expect(built.manifest.ptau.origin).toBe('development');
    expect(existsSync(join(dir, 'circuits', `.lock-${TEST_VARIANT.name}`))).toBe(false);
  }, 180_000);

  it('concurrent builds of one variant give one consistent set of keys', async () => {
    const dir = await buildDir();
    const [a, b] = await Promise.all([ensureVariant(TEST_VARIANT, { buildDir: dir }), ensureVariant(TEST_VARIANT, { buildDir: dir })]);
    expect(a.manifest).toEqual(b.manifest);
    // the verification key on disk is the one exported from the zkey on disk
    const snarkjs = await import('snarkjs');
    expect(await snarkjs.zKey.exportVerificationKey(a.zkey)).toEqual(JSON.parse(await readFile(a.vkey, 'utf8')));
  }, 180_000);
});
