import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqJobQueue, bullmqJobId } from '../../api/store/bullmq-queue.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { describeJobQueue, openJobQueue } from '../../api/store/open-queue.js';
import { releaseSnarkjsThreads } from '../../prover/snarkjs-threads.js';
import { killMidProofThenRecover } from '../helpers/crash-recovery.js';
import { hasRedis, startRedis, type RedisServer } from '../helpers/redis.js';
import { jobQueueContract } from '../helpers/job-queue-contract.js';

/**
 * The same JobQueue contract on the embedded SQLite queue and on BullMQ with a real
 * redis-server (started here on a free port, without persistence, and stopped by its
 * pid). Without redis-server on PATH the BullMQ half is skipped and says why.
 */

const dirs: string[] = [];
afterAll(async () => {
  await releaseSnarkjsThreads();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

jobQueueContract('SQLite', {
  store: async () => {
    // a file, so that the two handles are two connections, as two processes would have
    const dir = await mkdtemp(join(tmpdir(), 'zkpoa-queue-'));
    dirs.push(dir);
    const dbs: Db[] = [];
    return {
      open: async () => {
        const db = openDatabase(join(dir, 'jobs.sqlite'));
        dbs.push(db);
        return new SqliteJobQueue(db);
      },
      close: async () => dbs.forEach((db) => db.close()),
    };
  },
});

let redis: RedisServer | undefined;
let redisUrl = '';

describe.skipIf(!hasRedis)('BullMQ on a real redis-server', () => {
  beforeAll(async () => {
    redis = await startRedis();
    redisUrl = redis.url;
  });

  afterAll(async () => {
    await redis?.stop();
  });

  let stores = 0;
  jobQueueContract('BullMQ', {
    // a fresh prefix is a fresh store on the same server
    store: async () => {
      const prefix = `t${process.pid}-${stores++}`;
      return { open: async () => new BullmqJobQueue({ url: redisUrl, prefix }) };
    },
  });

  describe('BullMQ specifics', () => {
    it('names a job by (kind, key) with an id BullMQ accepts and the API routes match', () => {
      const id = bullmqJobId('prove', 'rcp_1');
      expect(id).toBe(bullmqJobId('prove', 'rcp_1'));
      expect(id).not.toBe(bullmqJobId('finetune', 'rcp_1'));
      expect(id).not.toBe(bullmqJobId('prove', 'rcp_2'));
      expect(id).toMatch(/^job_[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(id).not.toContain(':');
    });

    it('keeps prefixes apart, refuses kinds BullMQ cannot name, and takes the prefix from the URL', async () => {
      const a = new BullmqJobQueue({ url: redisUrl, prefix: 'deploy-a' });
      const b = new BullmqJobQueue({ url: `${redisUrl}?prefix=deploy-b` });
      try {
        expect(b.prefix).toBe('deploy-b');
        const j = await a.enqueue('prove', 'same-key', { from: 'a' });
        expect(await b.get(j.id)).toBeUndefined();
        expect(await b.enqueue('prove', 'same-key', { from: 'b' })).toMatchObject({ id: j.id, payload: { from: 'b' } });
        expect(await a.get(j.id)).toMatchObject({ payload: { from: 'a' } });
        await expect(a.enqueue('pro:ve', 'k', {})).rejects.toMatchObject({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('openJobQueue picks BullMQ for redis:// and SQLite otherwise; /health never shows a password', async () => {
      const db = openDatabase(':memory:');
      const q = await openJobQueue(db, `${redisUrl}?prefix=factory`);
      try {
        expect(q).toBeInstanceOf(BullmqJobQueue);
        expect(await openJobQueue(db)).toBeInstanceOf(SqliteJobQueue);
        expect(await openJobQueue(db, 'sqlite')).toBeInstanceOf(SqliteJobQueue);
        await expect(openJobQueue(db, 'amqp://x')).rejects.toMatchObject({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' });
        await expect(openJobQueue(undefined)).rejects.toMatchObject({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' });
        await expect(openJobQueue(db, 'redis://[nope')).rejects.toMatchObject({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' });
        expect(describeJobQueue('redis://user:secret@10.0.0.5:6380/2?prefix=x')).toBe('bullmq redis://10.0.0.5:6380/2 (prefix x)');
        expect(describeJobQueue(undefined)).toBe('sqlite');
      } finally {
        await q.close();
        db.close();
      }
    });
  });
  describe('proof workers on two hosts (scripts/proof-worker.ts --queue)', () => {
    it('kill -9 mid-proof, another worker takes over: every job finishes, none is lost or stored twice', async () => {
      const url = `${redisUrl}?prefix=crash`;
      const q = new BullmqJobQueue({ url });
      try {
        const { kind, keys } = await killMidProofThenRecover(q, ['--queue', url]);
        // exactly one record per batch, each completed once
        const raw = new Queue(kind, { connection: { url: redisUrl }, prefix: 'crash' });
        try {
          expect(await raw.getJobCounts('completed', 'failed', 'active', 'wait')).toEqual({ completed: keys.length, failed: 0, active: 0, wait: 0 });
        } finally {
          await raw.close();
        }
      } finally {
        await q.close();
      }
    }, 180_000);
  });
});
