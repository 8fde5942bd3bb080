import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';
import { SqliteJobQueue, type JobQueue } from './jobs.js';

/**
 * The job queue a process uses: SQLite in its database by default (no server), or
 * BullMQ on Redis when given `redis://…` / `rediss://…` (`--queue`, `ZKPOA_QUEUE_URL`),
 * so that proof workers on many hosts share one queue. BullMQ is loaded only then.
 */
const isRedis = (url: string) => /^rediss?:\/\//i.test(url);

export async function openJobQueue(db: Db | undefined, url?: string): Promise<JobQueue> {
  if (!url || url === 'sqlite') {
    if (!db) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'the SQLite job queue needs a database');
    return new SqliteJobQueue(db);
  }
  if (!isRedis(url)) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'a job queue URL is redis://… or rediss://… (or sqlite for the embedded queue)');
  const { BullmqJobQueue } = await import('./bullmq-queue.js');
  return new BullmqJobQueue({ url });
}

/** What /health and logs show: the kind of queue and where, never a password. */
export function describeJobQueue(url?: string): string {
  if (!url || url === 'sqlite') return 'sqlite';
  if (!isRedis(url)) return 'invalid';
  const u = new URL(url);
  return `bullmq ${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname} (prefix ${u.searchParams.get('prefix') ?? 'zkpoa'})`;
}
