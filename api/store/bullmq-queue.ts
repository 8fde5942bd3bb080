import { createHash } from 'node:crypto';
import { Job as BullJob, Queue, UnrecoverableError, Worker, type JobState } from 'bullmq';
import { Redis } from 'ioredis';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Job, JobQueue, JobStatus } from './jobs.js';

/**
 * The job queue on Redis with BullMQ, for many prover hosts sharing work (`zkpoa serve
 * --queue redis://…` and `zkpoa prover --queue redis://…`). Jobs are processed by hand
 * (a BullMQ Worker without a processor): `claim` is `worker.getNextJob(token)`, the
 * JobQueue's `worker` string is the lock token.
 *
 * - Kinds: one BullMQ queue per kind, under a key prefix (one prefix per zkpoa
 *   deployment, i.e. per database: the job keys are adapter and receipt ids).
 * - Keys: (kind, key) gives a deterministic job id, `job_` and a UUID-shaped SHA-256 of
 *   both (BullMQ refuses custom ids that look like integers or hold ':'), so enqueueing
 *   again returns the existing job, in whatever state, as long as Redis keeps it;
 *   finished jobs are kept (removeOnComplete/removeOnFail false). A hash
 *   `<prefix>:zkpoa:job-kinds` maps a job id to its kind for `get`.
 * - The lease is the job's BullMQ lock: `<prefix>:<kind>:<id>:lock`, holding the token,
 *   with a TTL of `leaseMs` (set by `extendLock` right after the claim, then by
 *   `renew`). A worker that dies stops extending; once the lock has expired, the
 *   stalled-job checker (run by every process that claims that kind, every
 *   `stalledIntervalMs`) moves the job back to wait, and the next claim gets it.
 *   Completing or failing checks the lock atomically in Redis, so a result is
 *   stored once and a second completion is refused (ZKPOA_ERR_LEASE_LOST).
 * - Attempts: `attempts` is BullMQ's attemptsStarted (one per claim, as in SQLite); a
 *   claim that finds a job started `maxAttempts` times already fails it ("too many
 *   attempts") and returns nothing, as SQLite does (BullMQ counts that refused start:
 *   such a job shows maxAttempts + 1 attempts, SQLite maxAttempts). A retried failure
 *   goes back to wait at once (no backoff); `fail` without retry is an
 *   UnrecoverableError.
 * - Status: waiting/prioritized/delayed/waiting-children → queued, active → running,
 *   completed → done (progress 1), failed → failed.
 *
 * What differs from SQLite:
 * - Expiry is not instant: a job whose lease lapsed is claimable after the next stalled
 *   check sees its lock missing (BullMQ marks active jobs on one check and moves the
 *   unlocked ones on the next), so within about two stalled intervals.
 * - A worker whose lease lapsed cannot renew or complete even if nobody took the job
 *   yet (the lock is gone); SQLite lets it until another worker claims.
 * - Order: jobs are claimed first in, first out; a job back from a lapsed lease goes
 *   to the front, a retried failure to the back (SQLite: always by creation time).
 * - Durability is Redis's: the job records, proofs included, live there, so give it
 *   persistence (appendonly yes). A job Redis lost is queued again when its receipt's
 *   proof is asked for again.
 */
export interface BullmqQueueOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`; `?prefix=name` sets the prefix */
  url: string;
  /** key prefix of every queue (default: the URL's `prefix` parameter, else `zkpoa`) */
  prefix?: string;
  /** claims of a job before it fails for good (SQLite's max_attempts; default 5) */
  maxAttempts?: number;
  /** how often a claiming process looks for jobs whose lock expired (default: half the lease, at most 30 s) */
  stalledIntervalMs?: number;
  /** a Redis connection error (ioredis reconnects by itself); default: a line on stderr */
  onError?: (err: Error) => void;
}

/** `job_` + a UUID-shaped digest of (kind, key): the same pair always names the same job. */
export function bullmqJobId(kind: string, key: string): string {
  const h = createHash('sha256').update(kind).update('\0').update(key).digest();
  h[6] = (h[6]! & 0x0f) | 0x50; // name-based, like a version-5 UUID
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `job_${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

interface Data {
  key: string;
  payload: unknown;
}

const KIND = /^[A-Za-z0-9_-]{1,64}$/;
/** BullMQ's "the job is not held with this token" codes: missing job, missing lock, wrong state, lock held by another token */
const NOT_HELD = new Set([-1, -2, -3, -6]);
const notHeld = (err: unknown) => NOT_HELD.has((err as { code?: unknown }).code as number);

const STATUS: Partial<Record<JobState | 'unknown', JobStatus>> = {
  waiting: 'queued',
  prioritized: 'queued',
  delayed: 'queued',
  'waiting-children': 'queued',
  active: 'running',
  completed: 'done',
  failed: 'failed',
};

export class BullmqJobQueue implements JobQueue {
  readonly prefix: string;
  private readonly url: string;
  private readonly maxAttempts: number;
  private readonly onError: (err: Error) => void;
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Promise<Worker>>();
  /** job id → kind, a cache of the Redis hash (bounded: cleared past 10,000 entries) */
  private readonly kinds = new Map<string, string>();
  private readonly redis: Redis;
  private readonly kindsKey: string;

  constructor(private readonly opts: BullmqQueueOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'the job queue URL is not a URL (redis://host:port)');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `a BullMQ queue needs a redis:// or rediss:// URL, not ${url.protocol}`);
    this.prefix = opts.prefix ?? url.searchParams.get('prefix') ?? 'zkpoa';
    if (!this.prefix) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'the job queue prefix is empty');
    url.searchParams.delete('prefix');
    this.url = url.toString();
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.onError = opts.onError ?? ((err) => console.error(`zkpoa job queue (redis): ${err.message}`));
    this.redis = new Redis(this.url, { lazyConnect: false });
    this.redis.on('error', this.onError);
    this.kindsKey = `${this.prefix}:zkpoa:job-kinds`;
  }

  private queue(kind: string): Queue {
    if (!KIND.test(kind)) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `a job kind is 1 to 64 letters, digits, '_' or '-', not ${JSON.stringify(kind)}`);
    let q = this.queues.get(kind);
    if (!q) {
      q = new Queue(kind, { connection: { url: this.url }, prefix: this.prefix });
      q.on('error', this.onError);
      this.queues.set(kind, q);
    }
    return q;
  }

  /** The kind's Worker (no processor), created at its first claim, with its stalled-job checker running. */
  private worker(kind: string, leaseMs = 30_000): Promise<Worker> {
    this.queue(kind); // validates the kind
    let w = this.workers.get(kind);
    if (!w) {
      const worker = new Worker(kind, null, {
        connection: { url: this.url },
        prefix: this.prefix,
        autorun: false,
        lockDuration: leaseMs,
        stalledInterval: this.opts.stalledIntervalMs ?? Math.min(30_000, Math.max(50, Math.floor(leaseMs / 2))),
        // stalls are attempts like any other (attemptsStarted); the claim enforces maxAttempts
        maxStalledCount: this.maxAttempts,
      });
      worker.on('error', this.onError);
      w = worker.startStalledCheckTimer().then(() => worker);
      this.workers.set(kind, w);
    }
    return w;
  }

  private async kindOf(id: string): Promise<string | undefined> {
    const known = this.kinds.get(id);
    if (known) return known;
    const kind = (await this.redis.hget(this.kindsKey, id)) ?? undefined;
    if (kind) this.remember(id, kind);
    return kind;
  }

  private remember(id: string, kind: string): void {
    if (this.kinds.size >= 10_000) this.kinds.clear();
    this.kinds.set(id, kind);
  }

  private async toJob(job: BullJob, state?: JobState | 'unknown'): Promise<Job | undefined> {
    const status = STATUS[state ?? (await job.getState())];
    if (!status) return undefined;
    const data = job.data as Data;
    const progress = status === 'done' ? 1 : typeof job.progress === 'number' && job.progress > 0 ? job.progress : undefined;
    const updated = Math.max(job.timestamp, job.processedOn ?? 0, job.finishedOn ?? 0);
    return {
      id: job.id!,
      kind: job.queueName,
      key: data.key,
      status,
      payload: data.payload,
      ...(status === 'done' && job.returnvalue != null ? { result: job.returnvalue } : {}),
      ...(job.failedReason ? { error: job.failedReason } : {}),
      attempts: job.attemptsStarted,
      ...(progress !== undefined ? { progress } : {}),
      createdAt: new Date(job.timestamp).toISOString(),
      updatedAt: new Date(updated).toISOString(),
    };
  }

  async enqueue<P>(kind: string, key: string, payload: P): Promise<Job<P>> {
    const q = this.queue(kind);
    const id = bullmqJobId(kind, key);
    await this.redis.hsetnx(this.kindsKey, id, kind);
    this.remember(id, kind);
    // an existing id is left as it is (BullMQ adds nothing): read back what is stored
    await q.add(kind, { key, payload } satisfies Data, { jobId: id, attempts: this.maxAttempts, removeOnComplete: false, removeOnFail: false });
    return (await this.byKey(kind, key)) as Job<P>;
  }

  async get(id: string): Promise<Job | undefined> {
    const kind = await this.kindOf(id);
    return kind ? this.byId(kind, id) : undefined;
  }

  async byKey(kind: string, key: string): Promise<Job | undefined> {
    return this.byId(kind, bullmqJobId(kind, key));
  }

  private async byId(kind: string, id: string): Promise<Job | undefined> {
    const job = await BullJob.fromId(this.queue(kind), id);
    return job ? this.toJob(job) : undefined;
  }

  async claim(kind: string, worker: string, leaseMs: number): Promise<Job | undefined> {
    const w = await this.worker(kind, leaseMs);
    const job = await w.getNextJob(worker, { block: false });
    if (!job) return undefined;
    this.remember(job.id!, kind);
    if (job.attemptsStarted > this.maxAttempts || job.deferredFailure) {
      await job.moveToFailed(new UnrecoverableError(job.failedReason || job.deferredFailure || 'too many attempts'), worker, false);
      return undefined;
    }
    if (leaseMs !== w.opts.lockDuration) await job.extendLock(worker, leaseMs);
    return this.toJob(job, 'active');
  }

  /** The job as its kind's Worker sees it (its lock settings), or undefined. */
  private async held(id: string): Promise<BullJob | undefined> {
    const kind = await this.kindOf(id);
    return kind ? BullJob.fromId(await this.worker(kind), id) : undefined;
  }

  async renew(id: string, worker: string, leaseMs: number, progress?: number): Promise<boolean> {
    const job = await this.held(id);
    if (!job || Number(await job.extendLock(worker, leaseMs)) !== 1) return false;
    if (progress !== undefined) await job.updateProgress(progress);
    return true;
  }

  async complete<R>(id: string, worker: string, result: R): Promise<void> {
    const refused = () => new ZkpoaError('ZKPOA_ERR_LEASE_LOST', `job ${id} is not held by ${worker} (its lease expired or it is finished)`);
    const job = await this.held(id);
    if (!job) throw refused();
    try {
      await job.moveToCompleted(result, worker, false);
    } catch (err) {
      if (notHeld(err)) throw refused();
      throw err;
    }
  }

  async fail(id: string, worker: string, error: string, retry: boolean): Promise<void> {
    const job = await this.held(id);
    if (!job) return;
    const err = retry ? new Error(error) : new UnrecoverableError(error);
    delete err.stack; // the message is the record; this stack would only point here
    try {
      await job.moveToFailed(err, worker, false);
    } catch (e) {
      if (!notHeld(e)) throw e;
    }
  }

  async requeue(id: string): Promise<Job | undefined> {
    const kind = await this.kindOf(id);
    if (!kind) return undefined;
    const job = await BullJob.fromId(this.queue(kind), id);
    if (!job) return undefined;
    if ((await job.getState()) === 'failed') {
      try {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      } catch (err) {
        if (!notHeld(err)) throw err; // someone else requeued it first
      }
    }
    return this.byId(kind, id);
  }

  async close(): Promise<void> {
    const workers = await Promise.all(this.workers.values());
    await Promise.all([...workers.map((w) => w.close()), ...[...this.queues.values()].map((q) => q.close())]);
    this.workers.clear();
    this.queues.clear();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
