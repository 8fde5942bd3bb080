import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../api/store/db.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { releaseSnarkjsThreads } from '../../prover/snarkjs-threads.js';
import { killMidProofThenRecover } from '../helpers/crash-recovery.js';

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
    await expect(q.complete(a.id, 'w1', 'late')).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
    await q.complete(a.id, 'w2', 'proof');
    expect(await q.get(a.id)).toMatchObject({ status: 'done', result: 'proof' });
    await expect(q.complete(a.id, 'w2', 'twice')).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
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

describe('proof jobs survive a crash', () => {
  it('kill -9 mid-proof, restart: every job finishes, none is lost or stored twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zkpoa-jobs-'));
    dirs.push(dir);
    const dbPath = join(dir, 'zkpoa.sqlite');
    const db = openDatabase(dbPath);
    const q = new SqliteJobQueue(db);
    const { keys } = await killMidProofThenRecover(q, ['--db', dbPath]);
    expect((db.prepare('SELECT COUNT(*) n FROM jobs').get() as { n: number }).n).toBe(keys.length); // one record per batch
    db.close();
  }, 180_000);
});
