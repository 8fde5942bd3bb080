import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as snarkjs from 'snarkjs';
import { afterAll, describe, expect, it } from 'vitest';
import { PROVE_JOB, type ProveJobResult } from '../../api/proof-worker.js';
import { openDatabase } from '../../api/store/db.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { loadProverKeys } from '../../prover/prover.js';
import { releaseSnarkjsThreads } from '../../prover/snarkjs-threads.js';
import { buildWitness } from '../../prover/witness.js';
import { TEST_VARIANT, getCommitments, sampleClaim, testArtifacts } from '../helpers/fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  await releaseSnarkjsThreads();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('durable job queue', () => {
  it('leases, reclaims after a lease expires, de-duplicates by key, and refuses a stale completion', async () => {
    let now = 1_000;
    const q = new SqliteJobQueue(openDatabase(':memory:'), () => now);
    const a = await q.enqueue('k', 'receipt-1', { n: 1 });
    expect((await q.enqueue('k', 'receipt-1', { n: 2 })).id).toBe(a.id); // same key, same job
    expect((await q.claim('k', 'w1', 100))?.id).toBe(a.id);
    expect(await q.claim('k', 'w2', 100)).toBeUndefined(); // leased
    now += 101;
    const again = (await q.claim('k', 'w2', 100))!;
    expect(again).toMatchObject({ id: a.id, attempts: 2 });
    await expect(q.complete(a.id, 'w1', 'late')).rejects.toMatchObject({ code: 'ZKPOA_ERR_CONFLICT' });
    await q.complete(a.id, 'w2', 'proof');
    expect(await q.get(a.id)).toMatchObject({ status: 'done', result: 'proof' });
    await expect(q.complete(a.id, 'w2', 'twice')).rejects.toMatchObject({ code: 'ZKPOA_ERR_CONFLICT' });
  });

  it('gives up after the attempt limit and keeps failed jobs visible', async () => {
    let now = 0;
    const q = new SqliteJobQueue(openDatabase(':memory:'), () => now);
    const j = await q.enqueue('k', 'x', {});
    for (let i = 0; i < 5; i++) {
      expect(await q.claim('k', `w${i}`, 10)).toBeTruthy();
      now += 11;
    }
    expect(await q.claim('k', 'w9', 10)).toBeUndefined();
    expect(await q.get(j.id)).toMatchObject({ status: 'failed' });
    expect(await q.requeue(j.id)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await q.claim('k', 'w10', 10)).toMatchObject({ id: j.id, attempts: 1 });
  });
});

function startWorker(dbPath: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'scripts/proof-worker.ts', '--db', dbPath, '--variant', TEST_VARIANT.name, '--lease', '1500', '--threads', '2'], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const waitFor = async (what: () => Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('proof jobs survive a crash', () => {
  it('kill -9 mid-proof, restart: every job finishes, none is lost or stored twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zkpoa-jobs-'));
    dirs.push(dir);
    const dbPath = join(dir, 'zkpoa.sqlite');
    const db = openDatabase(dbPath);
    const q = new SqliteJobQueue(db);
    const commitments = await getCommitments();
    const keys = Array.from({ length: 8 }, (_, i) => `receipt-${i}`);
    for (const [i, key] of keys.entries()) await q.enqueue(PROVE_JOB, key, { variant: TEST_VARIANT.name, input: buildWitness(commitments, TEST_VARIANT, { ...sampleClaim(), nonce: BigInt(i + 1) }).input });
    const job = async (k: string) => (await q.byKey(PROVE_JOB, k))!;
    const status = async () => Promise.all(keys.map(async (k) => (await job(k)).status));

    const first = startWorker(dbPath);
    await waitFor(async () => {
      const s = await status();
      return s.includes('done') && s.includes('running');
    }, 60_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const interrupted: string[] = [];
    for (const k of keys) if ((await job(k)).status === 'running') interrupted.push(k);
    expect(interrupted.length).toBeGreaterThan(0);

    const second = startWorker(dbPath);
    try {
      await waitFor(async () => (await status()).every((s) => s === 'done'), 60_000);
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    const vkey = (await loadProverKeys(testArtifacts())).vkey;
    for (const k of keys) {
      const { proof, publicSignals } = (await job(k)).result as ProveJobResult;
      expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true);
    }
    for (const k of interrupted) expect((await job(k)).attempts).toBe(2);
    expect((db.prepare('SELECT COUNT(*) n FROM jobs').get() as { n: number }).n).toBe(keys.length);
    db.close();
  }, 180_000);
});
